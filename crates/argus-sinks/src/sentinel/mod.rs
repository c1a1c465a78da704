//! The `sentinel` destination: Microsoft Sentinel through the Azure Monitor Logs Ingestion
//! API. Records go to a data collection endpoint (DCE), for a data collection rule (DCR) and
//! one of its streams; the encoding (records with `TimeGenerated`, 1 MB calls) is
//! [`crate::encoding::sentinel`].
//!
//! ```toml
//! [[sinks]]
//! name = "sentinel"
//! type = "sentinel"
//! endpoint = "https://argus-dce-abcd.westeurope-1.ingest.monitor.azure.com"
//! dcr_immutable_id = "dcr-00000000000000000000000000000000"
//! stream = "Custom-ArgusEvents_CL"
//! tenant_id = "00000000-0000-0000-0000-000000000000"
//! client_id = "00000000-0000-0000-0000-000000000000"
//! client_secret_env = "ARGUS_SENTINEL_SECRET"
//! ```
//!
//! Authentication is Microsoft Entra ID's client credentials flow: the sink asks the token
//! endpoint for a bearer token, keeps it until 60 s before it expires, and on a `401` from the
//! ingestion API fetches a new one and tries that call once more. A token request the
//! identity platform refuses (wrong tenant, client or secret) is a rejection naming the
//! settings to check.
//!
//! Invariants: one token request at a time (the cache is held while fetching); the secret
//! and the token live in `Redacted` and never appear in errors or `endpoint()`; `send` is `Ok`
//! only when every call of the batch was answered `2xx` (the API answers `204`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::redacted::Redacted;
use argus_core::sink::{Outgoing, Sink, SinkError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::encoding::sentinel as encoding;
use crate::transport::http::{self, DEFAULT_TIMEOUT};

const WHAT: &str = "sentinel";
const COMPONENT: &str = "sinks.sentinel";
/// A token is renewed this long before the identity platform says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// Settings of a `type = "sentinel"` entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The data collection endpoint's logs ingestion URL; required.
    pub endpoint: Option<String>,
    /// The data collection rule's immutable id (`dcr-…`); required.
    pub dcr_immutable_id: Option<String>,
    /// The rule's input stream (`Custom-ArgusEvents_CL`); required.
    pub stream: Option<String>,
    /// The Entra ID tenant, and the app registration's client id; required.
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    /// Name of the environment variable holding the client secret; required.
    pub client_secret_env: Option<String>,
    /// Default `https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token`.
    pub token_url: Option<String>,
    pub scope: String,
    pub api_version: String,
    /// Per-request timeout (default 10 s).
    pub timeout_ms: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            endpoint: None,
            dcr_immutable_id: None,
            stream: None,
            tenant_id: None,
            client_id: None,
            client_secret_env: None,
            token_url: None,
            scope: "https://monitor.azure.com//.default".into(),
            api_version: "2023-01-01".into(),
            timeout_ms: None,
        }
    }
}

impl ComponentConfig for Config {}

/// Builds `sentinel` sinks.
#[derive(Debug)]
pub struct SentinelFactory;

impl Factory for SentinelFactory {
    type Built = dyn Sink;
    type Config = Config;

    fn name(&self) -> &'static str {
        "sentinel"
    }

    fn build(&self, config: Config, doors: &Doors) -> Result<Vec<Arc<dyn Sink>>, BuildError> {
        Ok(vec![Arc::new(SentinelSink::new(config, doors)?)])
    }
}

fn required(value: Option<String>, key: &str) -> Result<String, BuildError> {
    crate::settings::required(value, COMPONENT, key)
}

fn http_url(s: &str, key: &str) -> Result<Url, BuildError> {
    let url = Url::parse(s).map_err(|e| BuildError::config(format!("{COMPONENT}.{key}"), e))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(BuildError::config(
            format!("{COMPONENT}.{key}"),
            "must be an http(s) URL with a host and no credentials",
        ));
    }
    Ok(url)
}

/// A bearer token and when to stop using it.
struct Token {
    value: Redacted<String>,
    renew_at: Instant,
}

/// A DCR stream as a sink.
pub struct SentinelSink {
    client: reqwest::Client,
    upload_url: Url,
    token_url: Url,
    client_id: String,
    client_secret: Redacted<String>,
    secret_env: String,
    scope: String,
    token: tokio::sync::Mutex<Option<Token>>,
    timeout: Duration,
}

impl std::fmt::Debug for SentinelSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelSink")
            .field("endpoint", &self.endpoint())
            .finish_non_exhaustive()
    }
}

impl SentinelSink {
    /// The sink an entry describes, with its client secret read from the environment.
    pub fn new(config: Config, doors: &Doors) -> Result<Self, BuildError> {
        let endpoint = required(config.endpoint, "endpoint")?;
        let dcr = required(config.dcr_immutable_id, "dcr_immutable_id")?;
        let stream = required(config.stream, "stream")?;
        let tenant = required(config.tenant_id, "tenant_id")?;
        let client_id = required(config.client_id, "client_id")?;
        let secret_env = required(config.client_secret_env, "client_secret_env")?;
        let client_secret = crate::settings::secret(
            doors.env().as_ref(),
            COMPONENT,
            "client_secret_env",
            &secret_env,
        )?;

        let mut upload_url = http_url(&endpoint, "endpoint")?;
        upload_url
            .path_segments_mut()
            .map_err(|()| BuildError::config(format!("{COMPONENT}.endpoint"), "cannot be a base"))?
            .pop_if_empty()
            .extend(["dataCollectionRules", &dcr, "streams", &stream]);
        upload_url
            .query_pairs_mut()
            .append_pair("api-version", &config.api_version);
        let token_url = match config.token_url {
            Some(u) => http_url(&u, "token_url")?,
            None => {
                let mut u = http_url("https://login.microsoftonline.com/", "token_url")?;
                u.path_segments_mut()
                    .map_err(|()| {
                        BuildError::config(format!("{COMPONENT}.token_url"), "cannot be a base")
                    })?
                    .clear()
                    .extend([tenant.as_str(), "oauth2", "v2.0", "token"]);
                u
            }
        };
        Ok(SentinelSink {
            client: doors.http_client::<reqwest::Client>(COMPONENT)?,
            upload_url,
            token_url,
            client_id,
            client_secret: Redacted::new(client_secret),
            secret_env,
            scope: config.scope,
            token: tokio::sync::Mutex::new(None),
            timeout: config
                .timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_TIMEOUT),
        })
    }

    /// A token to use: the cached one while it is fresh and is not `failed` (the token a
    /// `401` just refused), else a new one.
    async fn token(&self, failed: Option<&str>) -> Result<Redacted<String>, SinkError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref() {
            let refused = failed.is_some_and(|f| f == t.value.expose());
            if !refused && Instant::now() < t.renew_at {
                return Ok(t.value.clone());
            }
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    async fn fetch_token(&self) -> Result<Token, SinkError> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose())
            .append_pair("scope", &self.scope)
            .append_pair("grant_type", "client_credentials")
            .finish();
        let request = self
            .client
            .post(self.token_url.clone())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form);
        let answer = http::send(WHAT, request, self.timeout)
            .await
            .map_err(|e| match e {
                SinkError::Rejected(m) => SinkError::Rejected(format!(
                    "{WHAT}: the token request was refused (check tenant_id, client_id and the \
                     secret in {}): {m}",
                    self.secret_env
                )),
                SinkError::Retryable(m) => {
                    SinkError::Retryable(format!("{WHAT}: getting a token: {m}"))
                }
            })?;
        let v: Value = serde_json::from_slice(&answer.body).map_err(|e| {
            SinkError::Retryable(format!("{WHAT}: the token answer is not JSON: {e}"))
        })?;
        let value = v["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                SinkError::Retryable(format!("{WHAT}: the token answer has no access_token"))
            })?;
        // `expires_in` is a number in v2.0 answers, a string in some older ones.
        let expires_in = v["expires_in"]
            .as_u64()
            .or_else(|| v["expires_in"].as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(0);
        Ok(Token {
            value: Redacted::new(value.to_owned()),
            renew_at: Instant::now() + Duration::from_secs(expires_in).saturating_sub(TOKEN_MARGIN),
        })
    }

    async fn upload(&self, body: &[u8], token: &Redacted<String>) -> Result<(), SinkError> {
        let request = self
            .client
            .post(self.upload_url.clone())
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Bearer {}", token.expose()))
            .body(body.to_vec());
        http::send(WHAT, request, self.timeout).await.map(|_| ())
    }
}

/// Whether the transport's error is a `401` (its text is `sentinel: HTTP 401 Unauthorized: …`).
fn is_unauthorized(e: &SinkError) -> bool {
    matches!(e, SinkError::Rejected(m) if m.starts_with(&format!("{WHAT}: HTTP 401 ")))
}

#[async_trait]
impl Sink for SentinelSink {
    fn kind(&self) -> &'static str {
        "sentinel"
    }

    fn endpoint(&self) -> String {
        self.upload_url.to_string()
    }

    fn max_batch(&self) -> usize {
        1000
    }

    async fn send(&self, batch: &[Outgoing]) -> Result<(), SinkError> {
        let (calls, too_large) = encoding::calls(batch, encoding::MAX_CALL_BYTES);
        for call in calls {
            let token = self.token(None).await?;
            match self.upload(&call.body, &token).await {
                Err(e) if is_unauthorized(&e) => {
                    // Revoked or expired early: one more try with a new token.
                    let token = self.token(Some(token.expose())).await?;
                    self.upload(&call.body, &token).await?;
                }
                other => other?,
            }
        }
        if too_large.is_empty() {
            return Ok(());
        }
        let list = too_large
            .iter()
            .map(|(id, size)| format!("{id} ({size} bytes)"))
            .collect::<Vec<_>>()
            .join(", ");
        Err(SinkError::Rejected(format!(
            "{WHAT}: events larger than one upload ({} bytes) cannot be sent: {list}",
            encoding::MAX_CALL_BYTES
        )))
    }
}
