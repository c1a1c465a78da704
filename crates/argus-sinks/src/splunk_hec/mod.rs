//! The `splunk_hec` destination: events to a Splunk HTTP Event Collector.
//!
//! Wire, as Splunk documents it: `POST {url}/services/collector/event` with
//! `Authorization: Splunk <token>` and a body of concatenated JSON objects, one per event
//! (the envelope is [`crate::encoding::hec`]). HEC answers `{"text":"Success","code":0}`; its
//! errors are `{"text":…,"code":…}` with an HTTP status that [`crate::transport::http`]
//! classifies: `503` (code 9, server busy) and other `5xx` are retryable, `401`/`403` (codes
//! 2-4, token missing or invalid) and `400` (codes 5-6 and 12-13, bad data) are rejected.
//!
//! With `acks = true` (indexer acknowledgement, which the token must have enabled) every
//! request carries `X-Splunk-Request-Channel: <uuid>` (one channel per sink instance) and the
//! answer an `ackId`; `send` then polls `POST {url}/services/collector/ack?channel=<uuid>`
//! with `{"acks":[ids…]}` every `ack_poll_ms` until each id is answered `true` (the events
//! are indexed), or fails as retryable after `ack_timeout_ms`. A collector that answers
//! without an `ackId` although `acks` is on has indexer acknowledgement switched off for the
//! token: the events were taken (HEC's ordinary guarantee), so the batch counts as sent and
//! a warning says so; resending it would only duplicate it.
//!
//! Invariants:
//! - one `send` is one batch of at most `max_events` events, sent as one or more sequential
//!   requests so that no request body exceeds `batch_bytes`; an event that alone exceeds
//!   `batch_bytes` rejects the batch before anything is sent;
//! - `send` returns `Ok` only after every request was answered `2xx` and, with acks, every
//!   ack id was answered `true`; an error part-way leaves earlier requests delivered, which
//!   the forwarder's at-least-once resend duplicates (events carry `event_id` for that);
//! - the token is read from the variable `token_env` names, once, when the sink is built; it
//!   lives only in the `Authorization` header value (redacted, marked sensitive) and never in
//!   `endpoint()`, errors or logs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::redacted::Redacted;
use argus_core::sink::{Outgoing, Sink, SinkError};
use async_trait::async_trait;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::{Deserialize, Serialize};

use crate::encoding::hec::HecEnvelope;
use crate::transport::http;

/// Where errors and logs name this destination.
const WHAT: &str = "splunk_hec";
/// Where build errors point.
const SECTION: &str = "sinks.splunk_hec";
/// HEC's channel header.
pub const CHANNEL_HEADER: &str = "X-Splunk-Request-Channel";

/// Settings of a `type = "splunk_hec"` entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The collector's base URL (`https://splunk.example.com:8088`); required.
    pub url: String,
    /// The environment variable holding the HEC token; required.
    pub token_env: Option<String>,
    /// The index to write to; the token's default index when unset.
    pub index: Option<String>,
    pub sourcetype: String,
    pub source: String,
    /// The `host` field; HEC records the sender's address when unset.
    pub host: Option<String>,
    /// Most events per request (and per batch the forwarder hands over; the entry's
    /// `batch_max` may only lower it).
    pub max_events: usize,
    /// Most bytes per request body; a batch larger than this goes as several requests.
    pub batch_bytes: usize,
    /// Wait for indexer acknowledgement of every request.
    pub acks: bool,
    /// How long to wait for acknowledgements before the batch is retried.
    pub ack_timeout_ms: u64,
    /// How often to ask for acknowledgements.
    pub ack_poll_ms: u64,
    /// Per-request timeout ([`http::DEFAULT_TIMEOUT`] when unset).
    pub timeout_ms: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            url: String::new(),
            token_env: None,
            index: None,
            sourcetype: "argus:event".into(),
            source: "argus".into(),
            host: None,
            max_events: 100,
            batch_bytes: 1024 * 1024,
            acks: false,
            ack_timeout_ms: 30_000,
            ack_poll_ms: 500,
            timeout_ms: None,
        }
    }
}

impl ComponentConfig for Config {}

/// Builds `splunk_hec` sinks.
#[derive(Debug)]
pub struct SplunkHecFactory;

impl Factory for SplunkHecFactory {
    type Built = dyn Sink;
    type Config = Config;

    fn name(&self) -> &'static str {
        "splunk_hec"
    }

    fn build(&self, config: Config, doors: &Doors) -> Result<Vec<Arc<dyn Sink>>, BuildError> {
        Ok(vec![Arc::new(SplunkHecSink::build(config, doors)?)])
    }
}

/// A sink delivering to one HTTP Event Collector.
#[derive(Debug)]
pub struct SplunkHecSink {
    client: reqwest::Client,
    event_url: String,
    ack_url: String,
    shown: String,
    auth: Redacted<HeaderValue>,
    envelope: HecEnvelope,
    /// The channel of this instance, when acks are on.
    channel: Option<String>,
    batch_max: usize,
    batch_bytes: usize,
    timeout: Duration,
    ack_timeout: Duration,
    ack_poll: Duration,
}

impl SplunkHecSink {
    /// Checks `config`, reads the token and takes the shared HTTP client.
    pub fn build(config: Config, doors: &Doors) -> Result<Self, BuildError> {
        let base = parse_base(&config.url)?;
        let Some(token_env) = config.token_env.as_deref().filter(|v| !v.is_empty()) else {
            return Err(BuildError::config(
                format!("{SECTION}.token_env"),
                "required: the environment variable holding the HEC token",
            ));
        };
        let token = crate::settings::secret(doors.env().as_ref(), SECTION, "token_env", token_env)?;
        let mut auth = HeaderValue::from_str(&format!("Splunk {token}")).map_err(|_| {
            BuildError::Failed(format!(
                "{SECTION}: the value of {token_env} is not usable in an HTTP header"
            ))
        })?;
        auth.set_sensitive(true);
        for (key, value) in [
            ("max_events", config.max_events as u64),
            ("batch_bytes", config.batch_bytes as u64),
            ("ack_timeout_ms", config.ack_timeout_ms),
            ("ack_poll_ms", config.ack_poll_ms),
        ] {
            if value == 0 {
                return Err(BuildError::config(
                    format!("{SECTION}.{key}"),
                    "must be at least 1",
                ));
            }
        }
        let client = doors.http_client::<reqwest::Client>(SECTION)?;
        let channel = config.acks.then(|| uuid::Uuid::now_v7().to_string());
        let mut ack_url = under(&base, "services/collector/ack");
        if let Some(channel) = &channel {
            ack_url.query_pairs_mut().append_pair("channel", channel);
        }
        Ok(SplunkHecSink {
            client,
            event_url: under(&base, "services/collector/event").to_string(),
            ack_url: ack_url.to_string(),
            shown: shown_url(&under(&base, "services/collector/event")),
            auth: Redacted::new(auth),
            envelope: HecEnvelope {
                host: config.host,
                source: config.source,
                sourcetype: config.sourcetype,
                index: config.index,
            },
            channel,
            batch_max: config.max_events,
            batch_bytes: config.batch_bytes,
            timeout: config
                .timeout_ms
                .map_or(http::DEFAULT_TIMEOUT, Duration::from_millis),
            ack_timeout: Duration::from_millis(config.ack_timeout_ms),
            ack_poll: Duration::from_millis(config.ack_poll_ms),
        })
    }

    /// The batch's request bodies: events in order, a new body whenever the next event would
    /// pass `max_events` events or `batch_bytes` bytes.
    fn bodies(&self, batch: &[Outgoing]) -> Result<Vec<Vec<u8>>, SinkError> {
        let mut bodies = Vec::new();
        let mut body = Vec::new();
        let mut count = 0;
        for item in batch {
            let encoded = self.envelope.encode(item).map_err(|e| {
                SinkError::Rejected(format!(
                    "{WHAT}: event {} cannot be encoded: {e}",
                    item.event.event_id
                ))
            })?;
            if encoded.len() > self.batch_bytes {
                return Err(SinkError::Rejected(format!(
                    "{WHAT}: event {} is {} bytes, more than batch_bytes ({})",
                    item.event.event_id,
                    encoded.len(),
                    self.batch_bytes
                )));
            }
            if count > 0
                && (count == self.batch_max || body.len() + encoded.len() > self.batch_bytes)
            {
                bodies.push(std::mem::take(&mut body));
                count = 0;
            }
            body.extend_from_slice(&encoded);
            count += 1;
        }
        if count > 0 {
            bodies.push(body);
        }
        Ok(bodies)
    }

    /// A POST with the token (and the channel, with acks).
    fn post(&self, url: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .post(url)
            .header(AUTHORIZATION, self.auth.expose().clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(channel) = &self.channel {
            request = request.header(CHANNEL_HEADER, channel.as_str());
        }
        request
    }

    /// Polls the ack endpoint until every id in `pending` is answered `true`, or
    /// `ack_timeout` passes (retryable: the batch is sent again).
    async fn wait_for_acks(&self, mut pending: Vec<u64>) -> Result<(), SinkError> {
        let deadline = tokio::time::Instant::now() + self.ack_timeout;
        loop {
            let body = serde_json::to_vec(&AckQuery { acks: &pending })
                .map_err(|e| SinkError::Retryable(format!("{WHAT}: ack query: {e}")))?;
            let answer = http::send(WHAT, self.post(&self.ack_url, body), self.timeout).await?;
            let status: AckStatus = serde_json::from_slice(&answer.body).map_err(|e| {
                SinkError::Retryable(format!(
                    "{WHAT}: unreadable ack answer ({e}): {}",
                    http::excerpt(&answer.body)
                ))
            })?;
            // Splunk forgets an id once it has answered `true` for it: ask only for the rest.
            pending.retain(|id| !status.acks.get(&id.to_string()).copied().unwrap_or(false));
            if pending.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() + self.ack_poll > deadline {
                return Err(SinkError::Retryable(format!(
                    "{WHAT}: {} request(s) not acknowledged within {} ms (ack ids {pending:?})",
                    pending.len(),
                    self.ack_timeout.as_millis()
                )));
            }
            tokio::time::sleep(self.ack_poll).await;
        }
    }
}

#[async_trait]
impl Sink for SplunkHecSink {
    fn kind(&self) -> &'static str {
        "splunk_hec"
    }

    fn endpoint(&self) -> String {
        self.shown.clone()
    }

    fn max_batch(&self) -> usize {
        self.batch_max
    }

    async fn send(&self, batch: &[Outgoing]) -> Result<(), SinkError> {
        let bodies = self.bodies(batch)?;
        let mut pending = Vec::new();
        for body in bodies {
            let answer = http::send(WHAT, self.post(&self.event_url, body), self.timeout).await?;
            if self.channel.is_none() {
                continue;
            }
            let taken: EventAnswer = serde_json::from_slice(&answer.body).map_err(|e| {
                SinkError::Retryable(format!(
                    "{WHAT}: unreadable answer ({e}): {}",
                    http::excerpt(&answer.body)
                ))
            })?;
            match taken.ack_id {
                Some(id) => pending.push(id),
                None => tracing::warn!(
                    endpoint = %self.shown,
                    "splunk_hec: acks are on but the collector gave no ackId (indexer \
                     acknowledgement is off for this token); counting the events as sent"
                ),
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        self.wait_for_acks(pending).await
    }
}

/// HEC's answer to an event request (only what acks need).
#[derive(Debug, Deserialize)]
struct EventAnswer {
    #[serde(rename = "ackId")]
    ack_id: Option<u64>,
}

/// The ack endpoint's request.
#[derive(Serialize)]
struct AckQuery<'a> {
    acks: &'a [u64],
}

/// The ack endpoint's answer: `{"acks":{"0":true,"1":false}}`.
#[derive(Debug, Deserialize)]
struct AckStatus {
    acks: BTreeMap<String, bool>,
}

/// The base URL, checked: `http` or `https`, with a host.
fn parse_base(raw: &str) -> Result<url::Url, BuildError> {
    if raw.is_empty() {
        return Err(BuildError::config(
            format!("{SECTION}.url"),
            "required: the collector's base URL (https://splunk.example.com:8088)",
        ));
    }
    let url = url::Url::parse(raw)
        .map_err(|e| BuildError::config(format!("{SECTION}.url"), format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(BuildError::config(
            format!("{SECTION}.url"),
            "must be an http:// or https:// URL with a host",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // The token travels in its own header; a user in the URL would be a second,
        // unredacted credential.
        return Err(BuildError::config(
            format!("{SECTION}.url"),
            "must not carry a user or password (the token comes from token_env)",
        ));
    }
    Ok(url)
}

/// `path` under the base URL's own path (a collector behind a path prefix keeps it), without
/// query or fragment.
fn under(base: &url::Url, path: &str) -> url::Url {
    let mut url = base.clone();
    let joined = format!("{}/{path}", base.path().trim_end_matches('/'));
    url.set_path(&joined);
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// `url` as operators see it: without user, password, query or fragment (any of which could
/// hold a credential someone put there).
fn shown_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    // Setting these on an http(s) URL with a host cannot fail.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.as_str().trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_url_drops_credentials_and_queries() {
        let url = url::Url::parse("https://user:pw@splunk.example.com:8088/base/?t=x").unwrap();
        assert_eq!(shown_url(&url), "https://splunk.example.com:8088/base");
    }

    #[test]
    fn paths_go_under_the_base_path() {
        let base = url::Url::parse("https://h:8088/splunk/?x=1").unwrap();
        assert_eq!(
            under(&base, "services/collector/ack").as_str(),
            "https://h:8088/splunk/services/collector/ack"
        );
        let base = url::Url::parse("http://h:8088").unwrap();
        assert_eq!(
            under(&base, "services/collector/event").as_str(),
            "http://h:8088/services/collector/event"
        );
    }

    #[test]
    fn base_url_must_be_http() {
        assert!(parse_base("").is_err());
        assert!(parse_base("ftp://x").is_err());
        assert!(parse_base("not a url").is_err());
        assert!(parse_base("http://u:p@127.0.0.1:8088").is_err());
        assert!(parse_base("http://127.0.0.1:8088").is_ok());
    }
}
