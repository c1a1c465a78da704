//! The `cloudwatch_logs` destination: events as log events of one CloudWatch Logs stream,
//! through the AWS JSON 1.1 API (`PutLogEvents`) signed with Signature Version 4
//! ([`crate::transport::sigv4`]); the encoding (timestamps, order, request limits) is
//! [`crate::encoding::cloudwatch`].
//!
//! ```toml
//! [[sinks]]
//! name = "cw"
//! type = "cloudwatch_logs"
//! region = "eu-west-1"
//! log_group = "/argus/events"
//! log_stream = "argus"
//! create = true            # create the group and stream on the first send
//! ```
//!
//! Answers: `ThrottlingException` and every 5xx are retryable; `ResourceNotFoundException` is
//! a rejection telling to create the group and stream or set `create = true` (with `create`,
//! a stream that vanished is created again on the next try, so it is retryable);
//! events CloudWatch names in `rejectedLogEventsInfo` (too old, expired, too new) make the
//! send a rejection naming their event ids, after every request of the batch was sent.
//!
//! Credentials are read once at build time from the variables the entry names (by default
//! the standard `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).

use std::sync::Arc;
use std::time::Duration;

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::redacted::Redacted;
use argus_core::sink::{Outgoing, Sink, SinkError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

use crate::encoding::cloudwatch as encoding;
use crate::transport::http::{self, DEFAULT_TIMEOUT};
use crate::transport::sigv4::{self, Credentials, Scope};

const WHAT: &str = "cloudwatch_logs";
const COMPONENT: &str = "sinks.cloudwatch_logs";
/// The API version prefix of every `X-Amz-Target`.
const TARGET_PREFIX: &str = "Logs_20140328.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Settings of a `type = "cloudwatch_logs"` entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The AWS region (`eu-west-1`); required.
    pub region: Option<String>,
    /// The API's URL when not `https://logs.<region>.amazonaws.com/` (a VPC endpoint, moto).
    pub endpoint: Option<String>,
    /// Required.
    pub log_group: Option<String>,
    /// Required.
    pub log_stream: Option<String>,
    /// Create the group and the stream (once, on the first send; "already exists" is fine).
    pub create: bool,
    /// Names of the environment variables holding the credentials.
    pub access_key_id_env: String,
    pub secret_access_key_env: String,
    /// Optional: unset means long-term credentials.
    pub session_token_env: String,
    /// Per-request timeout (default 10 s).
    pub timeout_ms: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            region: None,
            endpoint: None,
            log_group: None,
            log_stream: None,
            create: false,
            access_key_id_env: "AWS_ACCESS_KEY_ID".into(),
            secret_access_key_env: "AWS_SECRET_ACCESS_KEY".into(),
            session_token_env: "AWS_SESSION_TOKEN".into(),
            timeout_ms: None,
        }
    }
}

impl ComponentConfig for Config {}

/// Builds `cloudwatch_logs` sinks.
#[derive(Debug)]
pub struct CloudWatchLogsFactory;

impl Factory for CloudWatchLogsFactory {
    type Built = dyn Sink;
    type Config = Config;

    fn name(&self) -> &'static str {
        "cloudwatch_logs"
    }

    fn build(&self, config: Config, doors: &Doors) -> Result<Vec<Arc<dyn Sink>>, BuildError> {
        Ok(vec![Arc::new(CloudWatchLogsSink::new(config, doors)?)])
    }
}

fn required(value: Option<String>, key: &str) -> Result<String, BuildError> {
    crate::settings::required(value, COMPONENT, key)
}

/// A CloudWatch Logs stream as a sink.
pub struct CloudWatchLogsSink {
    client: reqwest::Client,
    url: Url,
    region: String,
    group: String,
    stream: String,
    credentials: Credentials,
    create: bool,
    /// Whether the group and stream are known to exist (set after creating them).
    created: tokio::sync::Mutex<bool>,
    timeout: Duration,
}

impl std::fmt::Debug for CloudWatchLogsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudWatchLogsSink")
            .field("endpoint", &self.endpoint())
            .finish_non_exhaustive()
    }
}

impl CloudWatchLogsSink {
    /// The sink an entry describes, with its credentials read from the environment.
    pub fn new(config: Config, doors: &Doors) -> Result<Self, BuildError> {
        let region = required(config.region, "region")?;
        let group = required(config.log_group, "log_group")?;
        let stream = required(config.log_stream, "log_stream")?;
        let endpoint = config
            .endpoint
            .unwrap_or_else(|| format!("https://logs.{region}.amazonaws.com/"));
        let url = Url::parse(&endpoint)
            .map_err(|e| BuildError::config(format!("{COMPONENT}.endpoint"), e))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(BuildError::config(
                format!("{COMPONENT}.endpoint"),
                "must be an http(s) URL with a host",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(BuildError::config(
                format!("{COMPONENT}.endpoint"),
                "must not carry credentials (use access_key_id_env / secret_access_key_env)",
            ));
        }
        let env = doors.env();
        let var =
            |name: &str, key: &str| crate::settings::secret(env.as_ref(), COMPONENT, key, name);
        let credentials = Credentials {
            access_key_id: var(&config.access_key_id_env, "access_key_id_env")?,
            secret_access_key: Redacted::new(var(
                &config.secret_access_key_env,
                "secret_access_key_env",
            )?),
            session_token: env
                .var(&config.session_token_env)
                .filter(|v| !v.is_empty())
                .map(Redacted::new),
        };
        Ok(CloudWatchLogsSink {
            client: doors.http_client::<reqwest::Client>(COMPONENT)?,
            url,
            region,
            group,
            stream,
            credentials,
            create: config.create,
            created: tokio::sync::Mutex::new(false),
            timeout: config
                .timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_TIMEOUT),
        })
    }

    /// Calls one API action (`PutLogEvents`) with a JSON body, signed; the answer's JSON.
    async fn call(&self, action: &str, body: Vec<u8>) -> Result<Value, SinkError> {
        let target = format!("{TARGET_PREFIX}{action}");
        let headers = [
            ("Content-Type", CONTENT_TYPE),
            ("X-Amz-Target", target.as_str()),
        ];
        let signed = sigv4::sign(
            &self.credentials,
            Scope {
                region: &self.region,
                service: "logs",
            },
            sigv4::Request {
                method: "POST",
                url: &self.url,
                headers: &headers,
                body: &body,
            },
            chrono::Utc::now(),
        );
        let mut request = self.client.post(self.url.clone());
        for (k, v) in headers {
            request = request.header(k, v);
        }
        for (k, v) in &signed.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let answer = http::send(WHAT, request.body(body), self.timeout)
            .await
            .map_err(classify)?;
        if answer.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&answer.body).map_err(|e| {
            SinkError::Retryable(format!("{WHAT}: {action} answered with invalid JSON: {e}"))
        })
    }

    /// Creates the group and the stream once (with `create`), treating "already exists" as
    /// done.
    async fn ensure_created(&self) -> Result<(), SinkError> {
        if !self.create {
            return Ok(());
        }
        let mut created = self.created.lock().await;
        if *created {
            return Ok(());
        }
        let group = json!({ "logGroupName": self.group }).to_string();
        already_exists_is_fine(self.call("CreateLogGroup", group.into_bytes()).await)?;
        let stream =
            json!({ "logGroupName": self.group, "logStreamName": self.stream }).to_string();
        already_exists_is_fine(self.call("CreateLogStream", stream.into_bytes()).await)?;
        *created = true;
        Ok(())
    }
}

fn already_exists_is_fine(r: Result<Value, SinkError>) -> Result<(), SinkError> {
    match r {
        Err(e) if e.to_string().contains("ResourceAlreadyExistsException") => Ok(()),
        Err(e) => Err(e),
        Ok(_) => Ok(()),
    }
}

/// Refines the transport's classification with the AWS error type. The shared transport
/// gives the answer's first 300 characters; AWS JSON error answers start with
/// `{"__type":"<Exception>"`, so the type is in that excerpt.
fn classify(e: SinkError) -> SinkError {
    let text = e.to_string();
    if text.contains("ThrottlingException") || text.contains("ServiceUnavailableException") {
        SinkError::Retryable(text)
    } else if text.contains("ResourceNotFoundException") {
        SinkError::Rejected(format!(
            "{text} (create the log group and stream, or set create = true on this sink)"
        ))
    } else {
        e
    }
}

#[async_trait]
impl Sink for CloudWatchLogsSink {
    fn kind(&self) -> &'static str {
        "cloudwatch_logs"
    }

    fn endpoint(&self) -> String {
        format!("{} {}:{}", self.url, self.group, self.stream)
    }

    fn max_batch(&self) -> usize {
        encoding::MAX_EVENTS
    }

    async fn send(&self, batch: &[Outgoing]) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.ensure_created().await?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut refused = Vec::new();
        for events in encoding::requests(encoding::log_events(batch, now_ms)) {
            let body = encoding::put_log_events_body(&self.group, &self.stream, &events);
            let answer = match self.call("PutLogEvents", body).await {
                Ok(answer) => answer,
                Err(SinkError::Rejected(m))
                    if self.create && m.contains("ResourceNotFoundException") =>
                {
                    // Deleted since it was created: create it again on the next try.
                    *self.created.lock().await = false;
                    return Err(SinkError::Retryable(m));
                }
                Err(e) => return Err(e),
            };
            if let Some(info) = answer.get("rejectedLogEventsInfo") {
                refused.extend(encoding::rejected(info, &events));
            }
        }
        if refused.is_empty() {
            return Ok(());
        }
        let list = refused
            .iter()
            .map(|(id, why)| format!("{id} ({why})"))
            .collect::<Vec<_>>()
            .join(", ");
        Err(SinkError::Rejected(format!(
            "{WHAT}: CloudWatch refused {} of {} events: {list}",
            refused.len(),
            batch.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_error_types_refine_the_classification() {
        let throttled = SinkError::Rejected(
            r#"cloudwatch_logs: HTTP 400 Bad Request: {"__type":"ThrottlingException"}"#.into(),
        );
        assert!(matches!(classify(throttled), SinkError::Retryable(_)));
        let missing = SinkError::Rejected(
            r#"cloudwatch_logs: HTTP 400 Bad Request: {"__type":"ResourceNotFoundException"}"#
                .into(),
        );
        match classify(missing) {
            SinkError::Rejected(m) => assert!(m.contains("create = true"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
