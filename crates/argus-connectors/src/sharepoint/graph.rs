//! The Microsoft Graph client of the SharePoint connector: tokens, requests with bounded
//! retries, and Graph's answers mapped to [`ConnectorError`]s.
//!
//! Invariants:
//! - Requests go through the process's one HTTP client (the HTTP door); none is built here.
//! - A token is either a ready bearer token from the credential, or obtained with the OAuth2
//!   client-credentials grant and cached until a minute before it expires; one token request at
//!   a time per credential (the cache is behind an async lock). A 401 on a cached token renews
//!   it once. Tokens and secrets are held in
//!   [`Redacted`] and never logged.
//! - Throttling (429) and unavailability (503) are retried, honouring `Retry-After` (seconds),
//!   at most [`MAX_ATTEMPTS`] times and never waiting longer than [`MAX_RETRY_AFTER`] at once;
//!   then the call fails as a backend error saying it was throttled.
//! - 401 and 403 are [`ConnectorError::PermissionDenied`], 404 is
//!   [`ConnectorError::NotFound`]; every other failure is a backend error carrying Graph's
//!   `error.code` and `error.message`.

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use argus_core::connector::ConnectorError;
use argus_core::redacted::Redacted;

/// Attempts of one request when Graph throttles it.
pub const MAX_ATTEMPTS: u32 = 5;
/// The longest single wait a `Retry-After` may ask for before the call gives up.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Timeout of one Graph request that returns JSON (content downloads are streamed and have no
/// overall timeout: a large file may take long).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// A cached token is renewed this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// The scope of an application token for Graph.
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// How requests are authorised.
#[derive(Debug)]
pub enum Auth {
    /// A ready bearer token.
    Token(Redacted<String>),
    /// The OAuth2 client-credentials grant at `token_url`.
    ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: Redacted<String>,
    },
}

/// One credential's Graph client (shared by every connector opened with that credential, so
/// they share its token).
#[derive(Debug)]
pub struct Graph {
    http: reqwest::Client,
    base: url::Url,
    auth: Auth,
    cached: tokio::sync::Mutex<Option<(Redacted<String>, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize, Default)]
struct GraphErrorBody {
    #[serde(default)]
    error: Option<GraphErrorDetail>,
    // The token endpoint's OAuth2 error shape.
    #[serde(default, rename = "error_description")]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum GraphErrorDetail {
    Graph {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    },
    OAuth(String),
}

/// Graph's own words for a failed response, as far as its body says.
fn explain(status: reqwest::StatusCode, body: &str) -> String {
    let parsed: GraphErrorBody = serde_json::from_str(body).unwrap_or_default();
    match (parsed.error, parsed.description) {
        (Some(GraphErrorDetail::Graph { code, message }), _) => {
            format!("{status}: {code}: {message}")
        }
        (Some(GraphErrorDetail::OAuth(code)), d) => {
            format!("{status}: {code}: {}", d.unwrap_or_default())
        }
        (None, _) => format!("{status}"),
    }
}

/// How long a throttled response asks to wait (`Retry-After` in seconds), else a growing pause.
fn retry_after(resp: &reqwest::Response, attempt: u32) -> Duration {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(u64::from(attempt)), Duration::from_secs)
}

impl Graph {
    /// A client for the Graph API at `base` (`https://graph.microsoft.com/v1.0`).
    pub fn new(http: reqwest::Client, base: url::Url, auth: Auth) -> Self {
        Graph {
            http,
            base,
            auth,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// `base` with `segments` appended, each percent-encoded as one path segment.
    pub fn url<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> url::Url {
        let mut u = self.base.clone();
        if let Ok(mut s) = u.path_segments_mut() {
            s.pop_if_empty();
            s.extend(segments);
        }
        u
    }

    async fn token(&self) -> Result<Redacted<String>, ConnectorError> {
        let (token_url, client_id, client_secret) = match &self.auth {
            Auth::Token(t) => return Ok(t.clone()),
            Auth::ClientCredentials {
                token_url,
                client_id,
                client_secret,
            } => (token_url, client_id, client_secret),
        };
        let mut cached = self.cached.lock().await;
        if let Some((t, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(t.clone());
            }
        }
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.expose().as_str()),
            ("scope", GRAPH_SCOPE),
        ];
        let resp = self
            .send("token", || {
                self.http
                    .post(token_url)
                    .form(&form)
                    .timeout(REQUEST_TIMEOUT)
            })
            .await?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            let why = explain(status, &body);
            // A refused grant (wrong secret, unknown client) is a credential problem.
            return Err(if status.is_client_error() {
                ConnectorError::PermissionDenied(format!("token request refused: {why}"))
            } else {
                ConnectorError::Backend(format!("token request failed: {why}"))
            });
        }
        let t: TokenResponse = resp
            .json()
            .await
            .map_err(|e| ConnectorError::Backend(format!("token response: {e}")))?;
        let lifetime = Duration::from_secs(t.expires_in.unwrap_or(3600));
        let token = Redacted::new(t.access_token);
        *cached = Some((
            token.clone(),
            Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN),
        ));
        Ok(token)
    }

    /// Sends the request `make` builds, again while Graph throttles it (see the module docs).
    /// Returns the last response, whatever its status.
    async fn send(
        &self,
        what: &str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        let mut attempt = 1;
        loop {
            let resp = make()
                .send()
                .await
                .map_err(|e| ConnectorError::Backend(format!("{what}: {e}")))?;
            let status = resp.status();
            let throttled = status == reqwest::StatusCode::TOO_MANY_REQUESTS
                || status == reqwest::StatusCode::SERVICE_UNAVAILABLE;
            if !throttled {
                return Ok(resp);
            }
            let wait = retry_after(&resp, attempt);
            if attempt >= MAX_ATTEMPTS || wait > MAX_RETRY_AFTER {
                return Err(ConnectorError::Backend(format!(
                    "{what}: throttled by Graph ({status}) after {attempt} attempts"
                )));
            }
            tracing::debug!(what, %status, wait_s = wait.as_secs(), attempt, "graph throttled");
            // Backoff asked for by the service, not synchronisation.
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Sends an authorised request as `make` builds it, retried while throttled.
    async fn authorised(
        &self,
        what: &str,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        let token = self.token().await?;
        let resp = self
            .send(what, || make(&self.http).bearer_auth(token.expose()))
            .await?;
        if resp.status() != reqwest::StatusCode::UNAUTHORIZED
            || !matches!(self.auth, Auth::ClientCredentials { .. })
        {
            return Ok(resp);
        }
        // A cached token the service no longer takes (revoked, or expired early): fetch a new
        // one and try once more; a second 401 is the answer.
        self.forget(&token).await;
        let token = self.token().await?;
        self.send(what, || make(&self.http).bearer_auth(token.expose()))
            .await
    }

    /// Drops the cached token if it is still `stale` (another call may have renewed it).
    async fn forget(&self, stale: &Redacted<String>) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|(t, _)| t == stale) {
            *cached = None;
        }
    }

    /// Sends an authorised request; a failed status becomes an error (see the module docs),
    /// `what` naming the object in it.
    pub async fn call(
        &self,
        what: &str,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        checked(what, self.authorised(what, make).await?).await
    }

    /// As [`Graph::call`], but a 409 Conflict is handed back as `Err(409)` for the caller to
    /// handle (a folder that already exists).
    pub async fn call_or_conflict(
        &self,
        what: &str,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Result<reqwest::Response, reqwest::StatusCode>, ConnectorError> {
        let resp = self.authorised(what, make).await?;
        if resp.status() == reqwest::StatusCode::CONFLICT {
            return Ok(Err(resp.status()));
        }
        checked(what, resp).await.map(Ok)
    }

    /// GETs a pre-authenticated download URL (no bearer token: it is for Graph only).
    pub async fn download(
        &self,
        what: &str,
        to: &str,
    ) -> Result<reqwest::Response, ConnectorError> {
        let resp = self.send(what, || self.http.get(to)).await?;
        checked(what, resp).await
    }

    /// GETs `url` and decodes its JSON.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        what: &str,
        url: &url::Url,
    ) -> Result<T, ConnectorError> {
        let resp = self
            .call(what, |h| h.get(url.clone()).timeout(REQUEST_TIMEOUT))
            .await?;
        resp.json()
            .await
            .map_err(|e| ConnectorError::Backend(format!("{what}: unexpected answer: {e}")))
    }
}

/// The response if it succeeded (or redirects), else its status as an error.
async fn checked(what: &str, resp: reqwest::Response) -> Result<reqwest::Response, ConnectorError> {
    let status = resp.status();
    if status.is_success() || status.is_redirection() {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
    let why = explain(status, &body);
    Err(match status {
        reqwest::StatusCode::NOT_FOUND => ConnectorError::NotFound(what.to_owned()),
        reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN => {
            ConnectorError::PermissionDenied(format!("{what}: {why}"))
        }
        _ => ConnectorError::Backend(format!("{what}: {why}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_and_oauth_errors_are_explained() {
        let s = reqwest::StatusCode::FORBIDDEN;
        assert_eq!(
            explain(s, r#"{"error":{"code":"accessDenied","message":"nope"}}"#),
            "403 Forbidden: accessDenied: nope"
        );
        assert_eq!(
            explain(
                reqwest::StatusCode::UNAUTHORIZED,
                r#"{"error":"invalid_client","error_description":"bad secret"}"#
            ),
            "401 Unauthorized: invalid_client: bad secret"
        );
        assert_eq!(explain(s, "<html>"), "403 Forbidden");
    }
}
