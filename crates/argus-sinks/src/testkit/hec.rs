//! A local Splunk HTTP Event Collector (feature `testkit`): answers `/services/collector/event`
//! and `/services/collector/ack` the way HEC does, so the `splunk_hec` sink is tested against
//! the wire protocol rather than against itself.
//!
//! What it checks, in HEC's order and with HEC's answers:
//! - `Authorization: Splunk <token>`: missing → `401 {"text":"Token is required","code":2}`,
//!   not of that form → `401 {"text":"Invalid authorization","code":3}`, wrong → `403
//!   {"text":"Invalid token","code":4}`;
//! - with acks on, a channel (`X-Splunk-Request-Channel` or `?channel=`): missing → `400
//!   {"text":"Data channel is missing","code":10}`;
//! - the body: concatenated JSON objects; empty → `400 {"text":"No data","code":5}`, a
//!   malformed one → `400 {"text":"Invalid data format","code":6,"invalid-event-number":i}`,
//!   one without `event` → `400 {"text":"Event field is required","code":12,…}`; a body longer
//!   than the configured maximum → `413`. A refused request records none of its events.
//!
//! It can be switched down (`503 {"text":"Server is busy","code":9}` to every request) and up
//! again, and with acks it can hold acknowledgements back: each ack id is answered `false` for
//! a set number of polls (or until released) before `true`; like Splunk, an id answered `true`
//! is forgotten (asked again, it is `false`).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// How the collector behaves.
#[derive(Clone, Debug)]
pub struct HecOptions {
    /// The token it accepts.
    pub token: String,
    /// Indexer acknowledgement on (channels required, `ackId`s answered).
    pub acks: bool,
    /// How many polls each ack id is answered `false` before `true`.
    pub ack_after_polls: u32,
    /// Largest request body taken (`413` above).
    pub max_content_length: usize,
}

impl HecOptions {
    /// A collector accepting `token`, acks off, bodies up to 64 MiB.
    pub fn new(token: &str) -> Self {
        HecOptions {
            token: token.to_owned(),
            acks: false,
            ack_after_polls: 0,
            max_content_length: 64 * 1024 * 1024,
        }
    }
}

/// One event as the collector took it.
#[derive(Clone, Debug, PartialEq)]
pub struct HecEvent {
    /// The `event` field.
    pub event: Value,
    pub time: Option<f64>,
    pub host: Option<String>,
    pub source: Option<String>,
    pub sourcetype: Option<String>,
    pub index: Option<String>,
    /// The channel of its request.
    pub channel: Option<String>,
}

/// What the collector saw.
#[derive(Debug, Default)]
struct Seen {
    events: Vec<HecEvent>,
    /// Length of every event request's body that was taken.
    request_sizes: Vec<usize>,
    /// Every request to the ack endpoint that was answered.
    ack_polls: usize,
    /// Per channel: the next ack id, and the pending ids with the `false` answers left.
    channels: BTreeMap<String, Channel>,
    /// Ack ids answered `true`, per channel, in order.
    acked: BTreeMap<String, Vec<u64>>,
    down: bool,
    /// Acks held back until released, whatever `ack_after_polls` says.
    holding: bool,
}

#[derive(Debug, Default)]
struct Channel {
    next: u64,
    pending: BTreeMap<u64, u32>,
}

struct Shared {
    options: HecOptions,
    seen: Mutex<Seen>,
}

impl Shared {
    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running collector on `127.0.0.1`; stops when dropped.
pub struct HecReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HecReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HecReceiver {
    /// Starts a collector accepting `token`, acks off.
    pub async fn start(token: &str) -> std::io::Result<Self> {
        Self::start_with(HecOptions::new(token)).await
    }

    /// Starts a collector with `options`.
    pub async fn start_with(options: HecOptions) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            options,
            seen: Mutex::new(Seen::default()),
        });
        let app = Router::new()
            .route("/services/collector/event", post(event))
            .route("/services/collector/event/1.0", post(event))
            .route("/services/collector", post(event))
            .route("/services/collector/ack", post(ack))
            // HEC's own limit is `max_content_length`, answered below; axum's must not come
            // first.
            .layer(DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(HecReceiver { addr, shared, task })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Its base URL (`http://127.0.0.1:<port>`), the sink's `url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every event taken, in arrival order.
    pub fn events(&self) -> Vec<HecEvent> {
        self.shared.seen().events.clone()
    }

    /// The body length of every event request taken, in order.
    pub fn request_sizes(&self) -> Vec<usize> {
        self.shared.seen().request_sizes.clone()
    }

    /// How many ack polls were answered.
    pub fn ack_polls(&self) -> usize {
        self.shared.seen().ack_polls
    }

    /// Ack ids answered `true`, over all channels, in order.
    pub fn acked(&self) -> Vec<u64> {
        self.shared
            .seen()
            .acked
            .values()
            .flatten()
            .copied()
            .collect()
    }

    /// Ack ids handed out and not yet answered `true`, over all channels.
    pub fn unacked(&self) -> Vec<u64> {
        let seen = self.shared.seen();
        seen.channels
            .values()
            .flat_map(|c| c.pending.keys().copied())
            .collect()
    }

    /// Switches the collector down (`503`, code 9, to everything) or up.
    pub fn set_down(&self, down: bool) {
        self.shared.seen().down = down;
    }

    /// Holds every acknowledgement back (answered `false`) until called with `false`.
    pub fn hold_acks(&self, hold: bool) {
        self.shared.seen().holding = hold;
    }
}

/// An answer: status and JSON body (small enough to travel in `Result`s).
struct Answer(StatusCode, Value);

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn answer(status: StatusCode, body: Value) -> Answer {
    Answer(status, body)
}

fn busy() -> Answer {
    answer(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"text": "Server is busy", "code": 9}),
    )
}

/// The token check every endpoint does first.
fn authorize(options: &HecOptions, headers: &HeaderMap) -> Result<(), Answer> {
    let Some(value) = headers.get("authorization") else {
        return Err(answer(
            StatusCode::UNAUTHORIZED,
            json!({"text": "Token is required", "code": 2}),
        ));
    };
    let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Splunk ")) else {
        return Err(answer(
            StatusCode::UNAUTHORIZED,
            json!({"text": "Invalid authorization", "code": 3}),
        ));
    };
    if token != options.token {
        return Err(answer(
            StatusCode::FORBIDDEN,
            json!({"text": "Invalid token", "code": 4}),
        ));
    }
    Ok(())
}

/// The request's channel (header first, then `?channel=`); required with acks.
fn channel(
    options: &HecOptions,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Option<String>, Answer> {
    let found = headers
        .get("x-splunk-request-channel")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query.get("channel").cloned())
        .filter(|c| !c.is_empty());
    if options.acks && found.is_none() {
        return Err(no_channel());
    }
    Ok(found)
}

fn no_channel() -> Answer {
    answer(
        StatusCode::BAD_REQUEST,
        json!({"text": "Data channel is missing", "code": 10}),
    )
}

/// The body's events, or HEC's answer refusing it.
fn parse_events(body: &[u8], channel: Option<&str>) -> Result<Vec<HecEvent>, Answer> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(answer(
            StatusCode::BAD_REQUEST,
            json!({"text": "No data", "code": 5}),
        ));
    }
    let mut events = Vec::new();
    for (i, item) in serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .enumerate()
    {
        let invalid = |text: &str, code: u32| {
            answer(
                StatusCode::BAD_REQUEST,
                json!({"text": text, "code": code, "invalid-event-number": i}),
            )
        };
        let Ok(Value::Object(mut object)) = item else {
            return Err(invalid("Invalid data format", 6));
        };
        let event = match object.remove("event") {
            None => return Err(invalid("Event field is required", 12)),
            Some(Value::String(s)) if s.is_empty() => {
                return Err(invalid("Event field cannot be blank", 13))
            }
            Some(event) => event,
        };
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        let time = match object.get("time") {
            None => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => match s.parse::<f64>() {
                Ok(t) => Some(t),
                Err(_) => return Err(invalid("Invalid data format", 6)),
            },
            Some(_) => return Err(invalid("Invalid data format", 6)),
        };
        events.push(HecEvent {
            event,
            time,
            host: text("host"),
            source: text("source"),
            sourcetype: text("sourcetype"),
            index: text("index"),
            channel: channel.map(str::to_owned),
        });
    }
    Ok(events)
}

async fn event(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let options = &shared.options;
    if shared.seen().down {
        return busy();
    }
    if let Err(refused) = authorize(options, &headers) {
        return refused;
    }
    let channel = match channel(options, &headers, &query) {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    if body.len() > options.max_content_length {
        return answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"text": format!(
                "Content-Length of {} too large (maximum is {})",
                body.len(),
                options.max_content_length
            ), "code": 27}),
        );
    }
    let events = match parse_events(&body, channel.as_deref()) {
        Ok(events) => events,
        Err(refused) => return refused,
    };
    let mut seen = shared.seen();
    seen.events.extend(events);
    seen.request_sizes.push(body.len());
    match channel.filter(|_| options.acks) {
        Some(channel) => {
            let c = seen.channels.entry(channel).or_default();
            let id = c.next;
            c.next += 1;
            c.pending.insert(id, options.ack_after_polls);
            answer(
                StatusCode::OK,
                json!({"text": "Success", "code": 0, "ackId": id}),
            )
        }
        None => answer(StatusCode::OK, json!({"text": "Success", "code": 0})),
    }
}

async fn ack(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let options = &shared.options;
    if shared.seen().down {
        return busy();
    }
    if let Err(refused) = authorize(options, &headers) {
        return refused;
    }
    if !options.acks {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"text": "ACK is disabled", "code": 14}),
        );
    }
    let channel = match channel(options, &headers, &query) {
        Ok(Some(c)) => c,
        // With acks on, `channel` already refused a request without one.
        Ok(None) => return no_channel(),
        Err(refused) => return refused,
    };
    let ids: Vec<u64> = match serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| serde_json::from_value(v.get("acks")?.clone()).ok())
    {
        Some(ids) => ids,
        None => {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"text": "Invalid data format", "code": 6}),
            )
        }
    };
    let mut seen = shared.seen();
    seen.ack_polls += 1;
    let holding = seen.holding;
    let mut status = serde_json::Map::new();
    let mut done = Vec::new();
    let c = seen.channels.entry(channel.clone()).or_default();
    for id in ids {
        let ready = match c.pending.get_mut(&id) {
            None => false,
            Some(_) if holding => false,
            Some(0) => true,
            Some(left) => {
                *left -= 1;
                false
            }
        };
        if ready {
            c.pending.remove(&id);
            done.push(id);
        }
        status.insert(id.to_string(), Value::Bool(ready));
    }
    seen.acked.entry(channel).or_default().extend(done);
    answer(StatusCode::OK, json!({ "acks": status }))
}
