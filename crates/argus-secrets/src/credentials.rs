//! Git credentials by name, for pushing (and later cloning) on someone's behalf.
//!
//! Two sources:
//! - the operator's config: `[secrets.credentials.<name>]` ([`crate::scanner::SecretsConfig`]),
//!   a token for one host read from the environment variable the entry names
//!   ([`config_credential`]);
//! - an external credentials service, as the DeployGuard design describes
//!   ([`CredentialsService`]): `GET {url}/api/credentials/{id}` with the header
//!   `X-User-ID: <user>`, answering `{"username": "...", "token": "..."}`.
//!
//! Invariants:
//! - A credential is fetched at the moment of use and lives only in the returned [`GitAuth`],
//!   whose `Debug` hides the token; nothing here stores, caches or logs it. Errors name the
//!   credential and the service's status, never the answer's body (which holds the token).
//! - The credential id is one path segment (percent-encoded), so an id cannot walk to another
//!   path of the service.
//! - The service is reached through the process's one HTTP client (the HTTP door), with an
//!   overall timeout per request and a cap on the answer's size.
//! - A config credential is bound to a host and is used only for URLs of that host.

use crate::finding::SecretValue;
use crate::remote;
use crate::scanner::SecretsConfig;
use argus_core::component::Doors;
use argus_core::door::EnvDoor;
use std::fmt;
use std::time::Duration;

/// Username sent with a token that came without one (accepted by GitHub, GitLab, Bitbucket).
pub const DEFAULT_TOKEN_USERNAME: &str = "x-access-token";

/// Default overall limit of one request to the credentials service.
pub const DEFAULT_SERVICE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest answer read from the credentials service.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// HTTP basic credentials for a git remote: a username and a token.
#[derive(Clone)]
pub struct GitAuth {
    /// The username (`x-access-token` when the source gave none).
    pub username: String,
    /// The token; `Debug`/`Display` print `[REDACTED]`.
    pub token: SecretValue,
}

impl fmt::Debug for GitAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitAuth")
            .field("username", &self.username)
            .field("token", &self.token)
            .finish()
    }
}

/// Why a credential could not be had.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// No credential of that name (config) or id (service, 404).
    #[error("no such credential '{0}'")]
    NotFound(String),
    /// The credentials service refused the user (401/403).
    #[error("the credentials service refused credential '{name}' to user '{user}' (HTTP {status}): the user may not use it")]
    Refused {
        name: String,
        user: String,
        status: u16,
    },
    /// The credential exists but cannot be used for this URL.
    #[error("credential '{name}' cannot be used here: {reason}")]
    NotUsable { name: String, reason: String },
    /// The config names an environment variable that is not set.
    #[error("credential '{name}': environment variable {var} is not set (it must hold the token for {host})")]
    MissingEnv {
        name: String,
        var: String,
        host: String,
    },
    /// The credentials service could not be reached or answered an unexpected status.
    #[error("credentials service: {0}")]
    Service(String),
    /// The credentials service answered something that is not `{"username", "token"}`.
    #[error("credentials service: the answer for credential '{0}' is not {{\"username\", \"token\"}} JSON")]
    BadAnswer(String),
}

/// The token credential `name` of the `[secrets]` config, for pushing to `url`: its token is read
/// now from the environment variable the entry names (through `env`).
pub fn config_credential(
    cfg: &SecretsConfig,
    name: &str,
    url: &str,
    env: &dyn EnvDoor,
) -> Result<GitAuth, CredentialError> {
    let c = cfg
        .credentials
        .get(name)
        .ok_or_else(|| CredentialError::NotFound(name.to_owned()))?;
    let not_usable = |reason: String| CredentialError::NotUsable {
        name: name.to_owned(),
        reason,
    };
    let Some(var) = &c.token_env else {
        return Err(not_usable(
            "it is an ssh key; pushing supports token credentials (http(s) URLs) only".into(),
        ));
    };
    let host = remote::http_host(url).ok_or_else(|| {
        not_usable("it is a token for http(s) URLs; the target is not one".into())
    })?;
    if !host.eq_ignore_ascii_case(&c.host) {
        return Err(not_usable(format!(
            "it is for host '{}', not '{host}'",
            c.host
        )));
    }
    let token =
        env.var(var)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| CredentialError::MissingEnv {
                name: name.to_owned(),
                var: var.clone(),
                host: c.host.clone(),
            })?;
    Ok(GitAuth {
        username: DEFAULT_TOKEN_USERNAME.to_owned(),
        token: SecretValue::new(token),
    })
}

/// Client of an external credentials service (see the module docs).
#[derive(Clone)]
pub struct CredentialsService {
    base: url::Url,
    client: reqwest::Client,
    timeout: Duration,
}

impl fmt::Debug for CredentialsService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsService")
            .field("base", &self.base.as_str())
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct Answer {
    #[serde(default)]
    username: Option<String>,
    token: String,
}

impl CredentialsService {
    /// The service at `base_url` (`http(s)://host[:port][/prefix]`), reached through the HTTP
    /// door of `doors`.
    pub fn new(base_url: &str, doors: &Doors) -> Result<Self, CredentialError> {
        let client = doors
            .http_client::<reqwest::Client>("credentials service")
            .map_err(|e| CredentialError::Service(e.to_string()))?;
        Self::with_client(base_url, client)
    }

    /// The service at `base_url`, reached with `client` (the process's shared client).
    pub fn with_client(base_url: &str, client: reqwest::Client) -> Result<Self, CredentialError> {
        let base = url::Url::parse(base_url)
            .map_err(|e| CredentialError::Service(format!("invalid URL {base_url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(CredentialError::Service(format!(
                "invalid URL {base_url:?}: expected http(s)://host[:port][/prefix]"
            )));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(CredentialError::Service(
                "the service URL must not hold credentials".into(),
            ));
        }
        Ok(CredentialsService {
            base,
            client,
            timeout: DEFAULT_SERVICE_TIMEOUT,
        })
    }

    /// Sets the overall limit of one request.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// The URL of credential `id` (`{base}/api/credentials/{id}`, `id` one encoded segment).
    pub fn url_of(&self, id: &str) -> Result<url::Url, CredentialError> {
        let mut u = self.base.clone();
        {
            let mut segs = u
                .path_segments_mut()
                .map_err(|_| CredentialError::Service("invalid service URL".into()))?;
            segs.pop_if_empty().extend(["api", "credentials", id]);
        }
        Ok(u)
    }

    /// Fetches credential `id` for `user`, now. Nothing is kept.
    pub async fn fetch(&self, id: &str, user: &str) -> Result<GitAuth, CredentialError> {
        if id.is_empty() {
            return Err(CredentialError::NotFound(id.to_owned()));
        }
        let url = self.url_of(id)?;
        let mut resp = self
            .client
            .get(url.clone())
            .header("X-User-ID", user)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| {
                CredentialError::Service(format!("cannot reach {}: {}", self.base, error_chain(&e)))
            })?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => {}
            404 => return Err(CredentialError::NotFound(id.to_owned())),
            401 | 403 => {
                return Err(CredentialError::Refused {
                    name: id.to_owned(),
                    user: user.to_owned(),
                    status,
                })
            }
            other => {
                return Err(CredentialError::Service(format!(
                    "credential '{id}': unexpected HTTP status {other} from {}",
                    self.base
                )))
            }
        }
        // Read at most MAX_ANSWER_BYTES; the body holds the token, so it is never echoed.
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| {
            CredentialError::Service(format!("reading the answer: {}", error_chain(&e)))
        })? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(CredentialError::BadAnswer(id.to_owned()));
            }
            body.extend_from_slice(&chunk);
        }
        let answer: Answer =
            serde_json::from_slice(&body).map_err(|_| CredentialError::BadAnswer(id.to_owned()))?;
        if answer.token.is_empty() {
            return Err(CredentialError::BadAnswer(id.to_owned()));
        }
        Ok(GitAuth {
            username: answer
                .username
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| DEFAULT_TOKEN_USERNAME.to_owned()),
            token: SecretValue::new(answer.token),
        })
    }
}

/// An error and its sources, `: `-joined (reqwest's own message is only the outermost one).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::GitCredentialConfig;
    use argus_core::door::FixedEnv;
    use std::collections::BTreeMap;

    fn cfg() -> SecretsConfig {
        let mut c = SecretsConfig::default();
        c.credentials.insert(
            "gh".into(),
            GitCredentialConfig {
                host: "github.com".into(),
                token_env: Some("GH_TOK".into()),
                ..Default::default()
            },
        );
        c.credentials.insert(
            "key".into(),
            GitCredentialConfig {
                host: "github.com".into(),
                ssh_key_env: Some("K".into()),
                ..Default::default()
            },
        );
        c
    }

    #[test]
    fn config_credentials_are_bound_to_their_host_and_read_at_use() {
        let env = FixedEnv(BTreeMap::from([("GH_TOK".into(), "tok-123".into())]));
        let a = config_credential(&cfg(), "gh", "https://GitHub.com/o/r.git", &env).unwrap();
        assert_eq!(a.username, DEFAULT_TOKEN_USERNAME);
        assert_eq!(a.token.expose(), "tok-123");
        assert!(!format!("{a:?}").contains("tok-123"));
        let err = |name: &str, url: &str, env: &FixedEnv| {
            config_credential(&cfg(), name, url, env)
                .unwrap_err()
                .to_string()
        };
        assert!(err("nope", "https://github.com/o/r", &env).contains("no such credential 'nope'"));
        assert!(err("gh", "https://gitlab.com/o/r", &env).contains("not 'gitlab.com'"));
        assert!(err("gh", "git@github.com:o/r.git", &env).contains("not one"));
        assert!(err("key", "https://github.com/o/r", &env).contains("ssh key"));
        let m = err("gh", "https://github.com/o/r", &FixedEnv::default());
        assert!(m.contains("GH_TOK is not set"), "{m}");
    }

    #[test]
    fn credential_ids_stay_one_path_segment() {
        #[allow(clippy::disallowed_methods)] // a client that sends nothing, to build URLs
        let client = reqwest::Client::new();
        let s =
            CredentialsService::with_client("http://127.0.0.1:9/base/", client.clone()).unwrap();
        assert_eq!(
            s.url_of("a/../b").unwrap().as_str(),
            "http://127.0.0.1:9/base/api/credentials/a%2F..%2Fb"
        );
        assert!(CredentialsService::with_client("http://u:p@h/", client.clone()).is_err());
        assert!(CredentialsService::with_client("file:///x", client).is_err());
    }
}
