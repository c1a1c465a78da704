//! A local webhook receiver (feature `testkit`): takes POSTs on any path the way a careful
//! receiver of the `webhook` destination would, so the sink is tested against the signature
//! scheme rather than against itself.
//!
//! With a secret it verifies `X-Argus-Signature` over the raw body
//! ([`verify_signature`], five minutes' tolerance) and answers `401` when the header is
//! missing, malformed, stale or does not match; without one it takes any request. The next
//! answers can be scripted ([`WebhookReceiver::fail_next`], [`WebhookReceiver::fail_always`])
//! for retry and dead-letter tests. Only requests answered `2xx` are recorded as received;
//! every request is counted.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

use crate::webhook::{verify_signature, EVENT_ID_HEADER, SIGNATURE_HEADER};

/// How far a signature's time may be from the receiver's clock.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// One request the receiver took.
#[derive(Clone, Debug)]
pub struct WebhookRequest {
    /// The path it was POSTed to.
    pub path: String,
    /// The raw body, as signed.
    pub body: Bytes,
    /// Every header.
    pub headers: HeaderMap,
}

impl WebhookRequest {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `X-Argus-Signature`, when sent.
    pub fn signature(&self) -> Option<&str> {
        self.header(SIGNATURE_HEADER)
    }

    /// `X-Argus-Event-Id`, when sent.
    pub fn event_id(&self) -> Option<&str> {
        self.header(EVENT_ID_HEADER)
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What the receiver answers next.
#[derive(Clone, Copy, Debug, Default)]
enum Script {
    #[default]
    Accept,
    /// `status` for the next `left` requests, then accept.
    FailNext { status: StatusCode, left: u32 },
    /// `status` to every request.
    FailAlways(StatusCode),
}

#[derive(Debug, Default)]
struct Seen {
    taken: Vec<WebhookRequest>,
    /// Every request that reached the handler, answered whatever.
    attempts: usize,
    /// Requests refused with `401`.
    unauthorized: usize,
    script: Script,
}

struct Shared {
    secret: Option<Vec<u8>>,
    seen: Mutex<Seen>,
}

impl Shared {
    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running receiver on `127.0.0.1`; stops when dropped.
pub struct WebhookReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WebhookReceiver {
    /// Starts a receiver verifying signatures with `secret`, or taking unsigned requests when
    /// `None`.
    pub async fn start(secret: Option<&str>) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            secret: secret.map(|s| s.as_bytes().to_vec()),
            seen: Mutex::new(Seen::default()),
        });
        let app = Router::new()
            .fallback(take)
            .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(WebhookReceiver { addr, shared, task })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A URL on it (`http://127.0.0.1:<port>/hook`), the sink's `url`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Every request answered `2xx`, in arrival order.
    pub fn requests(&self) -> Vec<WebhookRequest> {
        self.shared.seen().taken.clone()
    }

    /// The events of every request answered `2xx`, in order: a `{"events":[…]}` body gives its
    /// items, any other body is one event.
    pub fn events(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .flat_map(|r| match r.json() {
                Value::Object(mut o)
                    if o.len() == 1 && o.get("events").is_some_and(Value::is_array) =>
                {
                    match o.remove("events") {
                        Some(Value::Array(items)) => items,
                        _ => Vec::new(),
                    }
                }
                other => vec![other],
            })
            .collect()
    }

    /// Every request that arrived, whatever it was answered.
    pub fn attempts(&self) -> usize {
        self.shared.seen().attempts
    }

    /// Requests refused for their signature.
    pub fn unauthorized(&self) -> usize {
        self.shared.seen().unauthorized
    }

    /// Answers `status` to the next `n` requests (that pass the signature check), then
    /// accepts again.
    pub fn fail_next(&self, n: u32, status: u16) {
        self.shared.seen().script = Script::FailNext {
            status: code(status),
            left: n,
        };
    }

    /// Answers `status` to every request until [`Self::accept`].
    pub fn fail_always(&self, status: u16) {
        self.shared.seen().script = Script::FailAlways(code(status));
    }

    /// Accepts every (correctly signed) request again.
    pub fn accept(&self) {
        self.shared.seen().script = Script::Accept;
    }
}

fn code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn take(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut seen = shared.seen();
    seen.attempts += 1;
    if let Some(secret) = &shared.secret {
        let signed = headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|h| verify_signature(secret, h, &body, chrono::Utc::now(), TOLERANCE));
        if !signed {
            seen.unauthorized += 1;
            return (StatusCode::UNAUTHORIZED, "bad or missing signature").into_response();
        }
    }
    match seen.script {
        Script::Accept => {}
        Script::FailAlways(status) => return (status, "scripted failure").into_response(),
        Script::FailNext { status, left } => {
            seen.script = if left > 1 {
                Script::FailNext {
                    status,
                    left: left - 1,
                }
            } else {
                Script::Accept
            };
            if left > 0 {
                return (status, "scripted failure").into_response();
            }
        }
    }
    seen.taken.push(WebhookRequest {
        path: uri.path().to_owned(),
        body,
        headers,
    });
    StatusCode::NO_CONTENT.into_response()
}
