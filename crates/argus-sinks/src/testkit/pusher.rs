//! A local stand-in for Pusher Channels' HTTP API (`POST /apps/{app_id}/events`), checking a
//! request the way Pusher's server does before accepting it.
//!
//! Checks, each written here independently of the sink's signing code: the app id (`404`);
//! `auth_key`, `auth_version` `1.0`, a timestamp within 600 s of now, `body_md5` equal to the
//! MD5 of the body received, and `auth_signature` equal to the hex HMAC-SHA256 with the app
//! secret of `POST\n<path>\n<every other parameter, key lower-cased, sorted, k=v joined by
//! &, unescaped>` (`401` otherwise); a JSON body with a `name`, 1 to 100 valid channel names
//! and a string `data` (`400`) of at most 10 KB (`413`). An accepted trigger is recorded once
//! per channel and answered `200 {}`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::encoding::pusher::{is_channel_char, MAX_CHANNEL_CHARS, MAX_DATA_BYTES};

/// How far a request's `auth_timestamp` may be from the server's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 600;

/// The app the receiver serves.
#[derive(Clone, Debug)]
pub struct PusherReceiverConfig {
    pub app_id: String,
    pub key: String,
    pub secret: String,
}

impl Default for PusherReceiverConfig {
    fn default() -> Self {
        PusherReceiverConfig {
            app_id: "1234567".into(),
            key: "278d425bdf160c739803".into(),
            secret: super::SUITE_SECRET.into(),
        }
    }
}

/// One event as a subscriber of `channel` gets it.
#[derive(Clone, Debug, PartialEq)]
pub struct PusherEvent {
    pub channel: String,
    pub name: String,
    /// `data` parsed as JSON (a string when it is not JSON).
    pub data: Value,
}

struct Shared {
    config: PusherReceiverConfig,
    events: Mutex<Vec<PusherEvent>>,
    refusals: Mutex<Vec<(u16, String)>>,
}

/// The running receiver; stops when dropped.
pub struct PusherReceiver {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PusherReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PusherReceiver {
    /// Starts a receiver on a free loopback port.
    pub async fn start(config: PusherReceiverConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            config,
            events: Mutex::new(Vec::new()),
            refusals: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/apps/{app_id}/events", post(trigger))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(PusherReceiver { addr, shared, task })
    }

    /// The API's base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The app it serves.
    pub fn config(&self) -> &PusherReceiverConfig {
        &self.shared.config
    }

    /// Every event delivered so far, one per channel, in arrival order.
    pub fn events(&self) -> Vec<PusherEvent> {
        lock(&self.shared.events).clone()
    }

    /// The requests refused so far: status and reason.
    pub fn refusals(&self) -> Vec<(u16, String)> {
        lock(&self.shared.refusals).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn refuse(s: &Shared, status: StatusCode, reason: String) -> Response {
    lock(&s.refusals).push((status.as_u16(), reason.clone()));
    (status, reason).into_response()
}

async fn trigger(
    State(s): State<Arc<Shared>>,
    Path(app_id): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let c = &s.config;
    if app_id != c.app_id {
        return refuse(&s, StatusCode::NOT_FOUND, format!("Unknown app {app_id}"));
    }
    let params: BTreeMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.to_lowercase(), v.into_owned()))
            .collect();
    let param = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    if param("auth_key") != c.key {
        return refuse(&s, StatusCode::UNAUTHORIZED, "Unknown auth_key".into());
    }
    if param("auth_version") != "1.0" {
        return refuse(
            &s,
            StatusCode::UNAUTHORIZED,
            "Unsupported auth_version".into(),
        );
    }
    let now = chrono::Utc::now().timestamp();
    match param("auth_timestamp").parse::<i64>() {
        Ok(t) if (now - t).abs() <= MAX_CLOCK_SKEW_SECS => {}
        _ => {
            return refuse(
                &s,
                StatusCode::UNAUTHORIZED,
                format!(
                    "Timestamp expired: Given timestamp ({}) not within {MAX_CLOCK_SKEW_SECS}s of server time ({now})",
                    param("auth_timestamp")
                ),
            )
        }
    }
    if !body.is_empty() && param("body_md5") != hex::encode(Md5::digest(&body)) {
        return refuse(
            &s,
            StatusCode::UNAUTHORIZED,
            "MD5 of body does not match the body_md5 parameter".into(),
        );
    }
    let signed: Vec<String> = params
        .iter()
        .filter(|(k, _)| k.as_str() != "auth_signature")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let to_sign = format!("POST\n/apps/{app_id}/events\n{}", signed.join("&"));
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(c.secret.as_bytes()) else {
        return refuse(&s, StatusCode::INTERNAL_SERVER_ERROR, "hmac".into());
    };
    mac.update(to_sign.as_bytes());
    let Ok(given) = hex::decode(param("auth_signature")) else {
        return refuse(&s, StatusCode::UNAUTHORIZED, "Invalid signature".into());
    };
    if mac.verify_slice(&given).is_err() {
        return refuse(
            &s,
            StatusCode::UNAUTHORIZED,
            "Invalid signature: you should have sent HmacSHA256Hex(string_to_sign, secret)".into(),
        );
    }

    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return refuse(&s, StatusCode::BAD_REQUEST, "Body is not JSON".into());
    };
    let Some(name) = request["name"].as_str().filter(|n| !n.is_empty()) else {
        return refuse(&s, StatusCode::BAD_REQUEST, "Missing event name".into());
    };
    let channels: Vec<String> = match (&request["channels"], &request["channel"]) {
        (Value::Array(list), _) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        (_, Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let valid = |ch: &String| {
        !ch.is_empty() && ch.chars().count() <= MAX_CHANNEL_CHARS && ch.chars().all(is_channel_char)
    };
    if channels.is_empty() || channels.len() > 100 || !channels.iter().all(valid) {
        return refuse(
            &s,
            StatusCode::BAD_REQUEST,
            format!("Invalid channels: {channels:?}"),
        );
    }
    let Some(data) = request["data"].as_str() else {
        return refuse(&s, StatusCode::BAD_REQUEST, "data must be a string".into());
    };
    if data.len() > MAX_DATA_BYTES {
        return refuse(
            &s,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Event data is {} bytes, over 10 KB", data.len()),
        );
    }
    let parsed = serde_json::from_str(data).unwrap_or_else(|_| Value::from(data));
    lock(&s.events).extend(channels.into_iter().map(|channel| PusherEvent {
        channel,
        name: name.to_owned(),
        data: parsed.clone(),
    }));
    Json(json!({})).into_response()
}
