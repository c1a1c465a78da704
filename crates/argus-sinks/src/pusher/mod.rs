//! The `pusher` destination: each event triggered on Pusher Channels, on its organisation's
//! channel and its scan's (`argus-org-acme`, `argus-scan-<id>`), for live dashboards. The
//! encoding (channel names, the 10 KB `data` limit) is [`crate::encoding::pusher`].
//!
//! ```toml
//! [[sinks]]
//! name = "live"
//! type = "pusher"
//! app_id = "1234567"
//! key = "278d425bdf160c739803"
//! secret_env = "ARGUS_PUSHER_SECRET"
//! cluster = "eu"
//! ```
//!
//! Wire: one `POST /apps/{app_id}/events` per event (two channels each), signed as Pusher's
//! HTTP API requires: query parameters `auth_key`, `auth_timestamp`, `auth_version=1.0`,
//! `body_md5` and `auth_signature`, the hex HMAC-SHA256 with the app secret of
//! `POST\n<path>\n<the other parameters sorted by key, joined k=v&…>` ([`signed_query`]).
//! One request per event rather than `/batch_events` keeps each event's two channels in one
//! trigger (a batch item names one channel); a batch is sent in order and stops at the first
//! failure (the forwarder sends the whole batch again: at least once).
//!
//! The app key is public (browsers use it); the secret is read from `secret_env` at build
//! time, kept in `Redacted` and never shown.

use std::sync::Arc;
use std::time::Duration;

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::redacted::Redacted;
use argus_core::sink::{Outgoing, Sink, SinkError};
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use url::Url;

use crate::encoding::pusher as encoding;
use crate::transport::http::{self, DEFAULT_TIMEOUT};

const WHAT: &str = "pusher";
const COMPONENT: &str = "sinks.pusher";

/// Settings of a `type = "pusher"` entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Required.
    pub app_id: Option<String>,
    /// The app key; required.
    pub key: Option<String>,
    /// Name of the environment variable holding the app secret; required.
    pub secret_env: Option<String>,
    /// The app's cluster (`eu`, `mt1`): the API is `https://api-{cluster}.pusher.com`.
    pub cluster: Option<String>,
    /// The API host, instead of the cluster's (`https://{host}`).
    pub host: Option<String>,
    /// The API's base URL, instead of host and cluster (a self-hosted compatible server,
    /// tests: `http://127.0.0.1:PORT`).
    pub url: Option<String>,
    pub channel_prefix: String,
    /// The event name (default: the event's kind, `scan_result` / `scan_lifecycle`).
    pub event_name: Option<String>,
    /// Per-request timeout (default 10 s).
    pub timeout_ms: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            app_id: None,
            key: None,
            secret_env: None,
            cluster: None,
            host: None,
            url: None,
            channel_prefix: "argus".into(),
            event_name: None,
            timeout_ms: None,
        }
    }
}

impl ComponentConfig for Config {}

/// Builds `pusher` sinks.
#[derive(Debug)]
pub struct PusherFactory;

impl Factory for PusherFactory {
    type Built = dyn Sink;
    type Config = Config;

    fn name(&self) -> &'static str {
        "pusher"
    }

    fn build(&self, config: Config, doors: &Doors) -> Result<Vec<Arc<dyn Sink>>, BuildError> {
        Ok(vec![Arc::new(PusherSink::new(config, doors)?)])
    }
}

fn required(value: Option<String>, key: &str) -> Result<String, BuildError> {
    crate::settings::required(value, COMPONENT, key)
}

/// A Pusher Channels app as a sink.
pub struct PusherSink {
    client: reqwest::Client,
    /// `…/apps/{app_id}/events`.
    events_url: Url,
    key: String,
    secret: Redacted<String>,
    prefix: String,
    event_name: Option<String>,
    timeout: Duration,
}

impl std::fmt::Debug for PusherSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PusherSink")
            .field("endpoint", &self.endpoint())
            .finish_non_exhaustive()
    }
}

impl PusherSink {
    /// The sink an entry describes, with its secret read from the environment.
    pub fn new(config: Config, doors: &Doors) -> Result<Self, BuildError> {
        let app_id = required(config.app_id, "app_id")?;
        let key = required(config.key, "key")?;
        let secret_env = required(config.secret_env, "secret_env")?;
        let secret =
            crate::settings::secret(doors.env().as_ref(), COMPONENT, "secret_env", &secret_env)?;
        let base = match (config.url, config.host, config.cluster) {
            (Some(url), _, _) => url,
            (None, Some(host), _) => format!("https://{host}"),
            (None, None, Some(cluster)) => format!("https://api-{cluster}.pusher.com"),
            (None, None, None) => {
                return Err(BuildError::config(
                    COMPONENT,
                    "one of cluster, host or url is required",
                ))
            }
        };
        let mut events_url =
            Url::parse(&base).map_err(|e| BuildError::config(format!("{COMPONENT}.url"), e))?;
        if !matches!(events_url.scheme(), "http" | "https")
            || events_url.host_str().is_none()
            || !events_url.username().is_empty()
            || events_url.password().is_some()
        {
            return Err(BuildError::config(
                format!("{COMPONENT}.url"),
                "must be an http(s) URL with a host and no credentials",
            ));
        }
        events_url.set_query(None);
        events_url
            .path_segments_mut()
            .map_err(|()| BuildError::config(format!("{COMPONENT}.url"), "cannot be a base"))?
            .pop_if_empty()
            .extend(["apps", &app_id, "events"]);
        Ok(PusherSink {
            client: doors.http_client::<reqwest::Client>(COMPONENT)?,
            events_url,
            key,
            secret: Redacted::new(secret),
            prefix: config.channel_prefix,
            event_name: config.event_name,
            timeout: config
                .timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_TIMEOUT),
        })
    }

    async fn trigger(&self, o: &Outgoing) -> Result<(), SinkError> {
        let channels =
            encoding::channels(&self.prefix, &o.event.org_id, &o.event.scan_id.to_string());
        let name = self
            .event_name
            .clone()
            .unwrap_or_else(|| o.event.kind().as_str().to_owned());
        let body = encoding::trigger_body(&name, &channels, &encoding::data(&o.body));
        let query = signed_query(
            &self.key,
            self.secret.expose(),
            self.events_url.path(),
            &body,
            chrono::Utc::now().timestamp(),
        );
        let mut url = self.events_url.clone();
        url.set_query(Some(&query));
        let request = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .body(body);
        http::send(WHAT, request, self.timeout).await.map(|_| ())
    }
}

/// The query string of a signed `POST` to `path` with `body` at `timestamp` (seconds), as
/// Pusher's HTTP API requires: `auth_key`, `auth_timestamp`, `auth_version`, `body_md5` and
/// their `auth_signature`. (Every value is hex, digits or the key, so none needs escaping.)
pub fn signed_query(key: &str, secret: &str, path: &str, body: &[u8], timestamp: i64) -> String {
    let body_md5 = hex::encode(Md5::digest(body));
    // Already sorted by key.
    let params =
        format!("auth_key={key}&auth_timestamp={timestamp}&auth_version=1.0&body_md5={body_md5}");
    let to_sign = format!("POST\n{path}\n{params}");
    let signature = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(to_sign.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; this cannot happen.
        Err(_) => String::new(),
    };
    format!("{params}&auth_signature={signature}")
}

#[async_trait]
impl Sink for PusherSink {
    fn kind(&self) -> &'static str {
        "pusher"
    }

    fn endpoint(&self) -> String {
        self.events_url.to_string()
    }

    fn max_batch(&self) -> usize {
        100
    }

    async fn send(&self, batch: &[Outgoing]) -> Result<(), SinkError> {
        for o in batch {
            self.trigger(o).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Pusher's HTTP API reference (app 3, key `278d…`, secret
    /// `7ad3…`, timestamp 1353088179).
    #[test]
    fn signing_matches_pushers_worked_example() {
        let body = br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
        let q = signed_query(
            "278d425bdf160c739803",
            "7ad3773142a6692b25b8",
            "/apps/3/events",
            body,
            1_353_088_179,
        );
        assert_eq!(
            q,
            "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0\
             &body_md5=ec365a775a4cd0599faeb73354201b6f\
             &auth_signature=da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
        );
    }
}
