//! The `webhook` destination: events POSTed as JSON to a URL of the operator's choosing,
//! signed so the receiver can tell they come from this server.
//!
//! Requests: `POST {url}` with `Content-Type: application/json`, `User-Agent:
//! argus/<version>`, `X-Argus-Event-Id: <event_id>` (the first event's id in batch mode), the
//! entry's static `headers`, and, when `secret_env` names a secret, the signature header.
//! The body is the event's outgoing body as it is (one request per event), or with
//! `batch = true` one request per batch: `{"events":[body, …]}`.
//!
//! # Signature
//!
//! Stripe-like: `X-Argus-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<raw body>")>`, where `<raw body>` is the request body byte for byte. A receiver
//! recomputes the HMAC over the bytes it got (before any JSON parsing), compares it in
//! constant time, and refuses a `t` too far from its clock (five minutes is usual) so a
//! captured request cannot be replayed later; it may accept any of several `v1` entries.
//! [`verify_signature`] does all that. Without `secret_env` no signature header is sent.
//!
//! Answers are classified by [`crate::transport::http`]: `5xx`, `408`, `429` and connection
//! failures are retryable, other `4xx` rejected. A webhook gives up after
//! [`DEFAULT_MAX_ATTEMPTS`] tries unless its `[[sinks]]` entry sets `max_attempts` (an
//! endpoint that is gone should not hold the forwarder for ever); the batch is then a dead
//! letter.
//!
//! Invariants:
//! - the signature covers exactly the bytes sent; the secret is read from the variable
//!   `secret_env` names, once, when the sink is built, held redacted, and never appears in
//!   `endpoint()`, errors or logs;
//! - in single mode the events of a batch are sent one by one, in order; an error stops the
//!   batch there (the events before it were delivered, and are sent again with the batch:
//!   receivers deduplicate on `X-Argus-Event-Id` / `event_id`);
//! - the static `headers` may not replace the headers this module sets.

mod signature;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::redacted::Redacted;
use argus_core::sink::{Outgoing, Sink, SinkError};
use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::transport::http;

pub use signature::{signature_header, verify_signature, EVENT_ID_HEADER, SIGNATURE_HEADER};

/// Where errors and logs name this destination.
const WHAT: &str = "webhook";
/// Where build errors point.
const SECTION: &str = "sinks.webhook";

/// Tries of a failing batch before it is dead-lettered, unless the entry's `max_attempts` says.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// The `User-Agent` of every request.
pub const USER_AGENT_VALUE: &str = concat!("argus/", env!("CARGO_PKG_VERSION"));
/// Most events per `send` in batch mode.
const BATCH_MAX: usize = 500;
/// Most events per `send` in single mode: each is its own request, and an error part-way
/// resends the whole batch, so batches stay small.
const SINGLE_MAX: usize = 100;
/// Headers this module sets, which `headers` may not name.
const RESERVED: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "transfer-encoding",
    "x-argus-signature",
    "x-argus-event-id",
];

/// Settings of a `type = "webhook"` entry.
#[derive(Default, Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where to POST (`https://hooks.example.com/argus`); required.
    pub url: String,
    /// The environment variable holding the HMAC secret; no signature without it.
    pub secret_env: Option<String>,
    /// Static headers added to every request. They are configuration, shown by
    /// `argus config show`: a credential belongs in `secret_env`, not here.
    pub headers: BTreeMap<String, String>,
    /// One request per batch (`{"events":[…]}`) instead of one per event.
    pub batch: bool,
    /// Per-request timeout ([`http::DEFAULT_TIMEOUT`] when unset).
    pub timeout_ms: Option<u64>,
}

impl ComponentConfig for Config {}

/// Builds `webhook` sinks.
#[derive(Debug)]
pub struct WebhookFactory;

impl Factory for WebhookFactory {
    type Built = dyn Sink;
    type Config = Config;

    fn name(&self) -> &'static str {
        "webhook"
    }

    fn build(&self, config: Config, doors: &Doors) -> Result<Vec<Arc<dyn Sink>>, BuildError> {
        Ok(vec![Arc::new(WebhookSink::build(config, doors)?)])
    }
}

/// A sink POSTing to one URL.
#[derive(Debug)]
pub struct WebhookSink {
    client: reqwest::Client,
    url: url::Url,
    shown: String,
    secret: Option<Redacted<Vec<u8>>>,
    /// The static headers, values marked sensitive (they may be someone's API key).
    headers: HeaderMap,
    batch: bool,
    timeout: Duration,
}

impl WebhookSink {
    /// Checks `config`, reads the secret and takes the shared HTTP client.
    pub fn build(config: Config, doors: &Doors) -> Result<Self, BuildError> {
        let url = parse_url(&config.url)?;
        let secret = match config.secret_env.as_deref() {
            None => None,
            Some("") => {
                return Err(BuildError::config(
                    format!("{SECTION}.secret_env"),
                    "must name an environment variable (or be left out: no signature)",
                ))
            }
            Some(name) => {
                let value =
                    crate::settings::secret(doors.env().as_ref(), SECTION, "secret_env", name)?;
                Some(Redacted::new(value.into_bytes()))
            }
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let what = format!("{SECTION}.headers.{name}");
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| BuildError::config(&what, "not a valid header name"))?;
            if RESERVED.contains(&header.as_str()) {
                return Err(BuildError::config(&what, "set by the webhook itself"));
            }
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| BuildError::config(&what, "not a valid header value"))?;
            value.set_sensitive(true);
            headers.insert(header, value);
        }
        let client = doors.http_client::<reqwest::Client>(SECTION)?;
        Ok(WebhookSink {
            client,
            shown: shown_url(&url),
            url,
            secret,
            headers,
            batch: config.batch,
            timeout: config
                .timeout_ms
                .map_or(http::DEFAULT_TIMEOUT, Duration::from_millis),
        })
    }

    /// POSTs `body` (signed, when there is a secret) for the event `event_id`.
    async fn post(&self, event_id: i64, body: Vec<u8>) -> Result<(), SinkError> {
        let mut request = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(EVENT_ID_HEADER, event_id.to_string());
        if let Some(secret) = &self.secret {
            let signed = signature_header(secret.expose(), chrono::Utc::now().timestamp(), &body);
            request = request.header(SIGNATURE_HEADER, signed);
        }
        http::send(WHAT, request.body(body), self.timeout)
            .await
            .map(drop)
    }
}

#[async_trait]
impl Sink for WebhookSink {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn endpoint(&self) -> String {
        self.shown.clone()
    }

    fn max_batch(&self) -> usize {
        if self.batch {
            BATCH_MAX
        } else {
            SINGLE_MAX
        }
    }

    fn default_max_attempts(&self) -> Option<u32> {
        Some(DEFAULT_MAX_ATTEMPTS)
    }

    async fn send(&self, batch: &[Outgoing]) -> Result<(), SinkError> {
        let Some(first) = batch.first() else {
            return Ok(());
        };
        if self.batch {
            let bodies: Vec<&Value> = batch.iter().map(|o| &o.body).collect();
            let body = serde_json::to_vec(&serde_json::json!({ "events": bodies }))
                .map_err(|e| SinkError::Rejected(format!("{WHAT}: encoding the batch: {e}")))?;
            return self.post(first.event.event_id, body).await;
        }
        for item in batch {
            let body = serde_json::to_vec(&item.body).map_err(|e| {
                SinkError::Rejected(format!(
                    "{WHAT}: encoding event {}: {e}",
                    item.event.event_id
                ))
            })?;
            self.post(item.event.event_id, body).await?;
        }
        Ok(())
    }
}

/// The URL, checked: `http` or `https`, with a host, without a user or password.
fn parse_url(raw: &str) -> Result<url::Url, BuildError> {
    let what = format!("{SECTION}.url");
    if raw.is_empty() {
        return Err(BuildError::config(
            what,
            "required: where to POST (https://hooks.example.com/argus)",
        ));
    }
    let url =
        url::Url::parse(raw).map_err(|e| BuildError::config(&what, format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(BuildError::config(
            what,
            "must be an http:// or https:// URL with a host",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(BuildError::config(
            what,
            "must not carry a user or password (put credentials in secret_env)",
        ));
    }
    Ok(url)
}

/// The URL as operators see it: without query or fragment (a hook URL's query often holds
/// its token).
fn shown_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_shown_without_queries() {
        assert!(parse_url("").is_err());
        assert!(parse_url("file:///tmp/x").is_err());
        assert!(parse_url("https://u:p@hooks.example.com/").is_err());
        let url = parse_url("https://hooks.example.com/in?token=abc#x").unwrap();
        assert_eq!(shown_url(&url), "https://hooks.example.com/in");
    }
}
