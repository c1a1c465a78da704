//! A local stand-in for Microsoft Sentinel's two services, on one loopback port: the Entra ID
//! token endpoint (client credentials flow) and the Logs Ingestion API of one data collection
//! rule stream.
//!
//! It checks what the real services check: the token request's grant type, client id, secret
//! and scope (`401 invalid_client` for a wrong secret); on upload, the path (rule and stream),
//! `api-version`, a bearer token it issued and that has not expired (`401`), the size (`413`
//! over 1 MB), the content type and a JSON array of objects each with a `TimeGenerated`
//! (`400`). Accepted uploads answer `204`, like the API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde_json::{json, Value};

use crate::encoding::sentinel::{MAX_CALL_BYTES, TIME_GENERATED};

/// What the receiver accepts.
#[derive(Clone, Debug)]
pub struct SentinelReceiverConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub dcr_immutable_id: String,
    pub stream: String,
    pub api_version: String,
    pub scope: String,
}

impl Default for SentinelReceiverConfig {
    fn default() -> Self {
        SentinelReceiverConfig {
            tenant_id: "72f988bf-0000-4000-8000-00000000cafe".into(),
            client_id: "argus-test-client".into(),
            client_secret: super::SUITE_SECRET.into(),
            dcr_immutable_id: "dcr-0123456789abcdef0123456789abcdef".into(),
            stream: "Custom-ArgusEvents_CL".into(),
            api_version: "2023-01-01".into(),
            scope: "https://monitor.azure.com//.default".into(),
        }
    }
}

struct Shared {
    config: SentinelReceiverConfig,
    /// Issued tokens and when each expires.
    tokens: Mutex<HashMap<String, Instant>>,
    expires_in: AtomicU64,
    token_requests: AtomicUsize,
    uploads: AtomicUsize,
    records: Mutex<Vec<Value>>,
}

/// The running receiver; stops when dropped.
pub struct SentinelReceiver {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SentinelReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SentinelReceiver {
    /// Starts a receiver on a free loopback port.
    pub async fn start(config: SentinelReceiverConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            config,
            tokens: Mutex::new(HashMap::new()),
            expires_in: AtomicU64::new(3599),
            token_requests: AtomicUsize::new(0),
            uploads: AtomicUsize::new(0),
            records: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/dataCollectionRules/{dcr}/streams/{stream}", post(upload))
            // Bodies over the API's limit must reach the handler to be answered 413.
            .layer(DefaultBodyLimit::max(16 * MAX_CALL_BYTES))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(SentinelReceiver { addr, shared, task })
    }

    /// The data collection endpoint's URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token endpoint's URL for the configured tenant.
    pub fn token_url(&self) -> String {
        format!(
            "http://{}/{}/oauth2/v2.0/token",
            self.addr, self.shared.config.tenant_id
        )
    }

    /// The configuration it checks against.
    pub fn config(&self) -> &SentinelReceiverConfig {
        &self.shared.config
    }

    /// Every record accepted so far, in arrival order, as sent (with `TimeGenerated`).
    pub fn records(&self) -> Vec<Value> {
        lock(&self.shared.records).clone()
    }

    /// How many token requests it answered with a token.
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// How many uploads it accepted.
    pub fn uploads(&self) -> usize {
        self.shared.uploads.load(Ordering::SeqCst)
    }

    /// Expires every token issued so far (the sink's next upload gets a 401).
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for at in lock(&self.shared.tokens).values_mut() {
            *at = now;
        }
    }

    /// The lifetime (`expires_in`) of tokens issued from now on.
    pub fn set_expires_in(&self, secs: u64) {
        self.shared.expires_in.store(secs, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn aad_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn token(
    State(s): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let c = &s.config;
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if tenant != c.tenant_id {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS90002: Tenant not found.",
        );
    }
    if field("grant_type") != "client_credentials" {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    if field("client_id") != c.client_id {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "AADSTS700016: Application not found in the directory.",
        );
    }
    if field("client_secret") != c.client_secret {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    if field("scope") != c.scope {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS70011: The provided value for the input parameter 'scope' is not valid.",
        );
    }
    let expires_in = s.expires_in.load(Ordering::SeqCst);
    let value = format!("eyJ0-{}", uuid::Uuid::now_v7().simple());
    lock(&s.tokens).insert(
        value.clone(),
        Instant::now() + Duration::from_secs(expires_in),
    );
    s.token_requests.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "token_type": "Bearer",
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": value,
    }))
    .into_response()
}

fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

async fn upload(
    State(s): State<Arc<Shared>>,
    Path((dcr, stream)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let c = &s.config;
    if query.get("api-version") != Some(&c.api_version) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersion",
            "missing or unsupported api-version",
        );
    }
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let token = header("authorization").strip_prefix("Bearer ");
    let valid = token.is_some_and(|t| {
        lock(&s.tokens)
            .get(t)
            .is_some_and(|expires| Instant::now() < *expires)
    });
    if !valid {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "InvalidToken",
            "The provided access token is missing, invalid or expired.",
        );
    }
    if dcr != c.dcr_immutable_id || stream != c.stream {
        return api_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "Data collection rule or stream not found.",
        );
    }
    if body.len() > MAX_CALL_BYTES {
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ContentLengthLimitExceeded",
            "Maximum allowed content length: 1048576 bytes.",
        );
    }
    if !header("content-type").starts_with("application/json") {
        return api_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            "Content-Type must be application/json.",
        );
    }
    let Ok(Value::Array(records)) = serde_json::from_slice::<Value>(&body) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "InvalidPayload",
            "The body must be a JSON array.",
        );
    };
    for r in &records {
        let time = r.get(TIME_GENERATED).and_then(Value::as_str);
        if !r.is_object() || time.is_none_or(|t| chrono::DateTime::parse_from_rfc3339(t).is_err()) {
            return api_error(
                StatusCode::BAD_REQUEST,
                "InvalidPayload",
                "Every record must be an object with a TimeGenerated date.",
            );
        }
    }
    lock(&s.records).extend(records);
    s.uploads.fetch_add(1, Ordering::SeqCst);
    StatusCode::NO_CONTENT.into_response()
}
