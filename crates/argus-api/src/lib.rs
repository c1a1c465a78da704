//! The Argus HTTP API: axum routes over the engine, identity, live events (SSE and WebSocket),
//! the OpenAPI document and problem-details errors.
//!
//! Shape: everything lives under `/api/v1`, except `/healthz`, `/readyz`, `/metrics`
//! (Prometheus, admins only, see [`observe`]), the interactive docs
//! at `/docs`, a second copy of the OpenAPI document at `/openapi.json`, and the
//! DeployGuard-compatible jobs API under `/api/v2` (a thin layer over the same services, see
//! `routes::v2`), and the Discovery-API-compatible runs at `/runs` and `/runs/ws`, where its
//! clients call them (likewise, see `routes::runs`). Routes and their OpenAPI operations are
//! declared together (`#[utoipa::path]` + `utoipa_axum::routes!`), so the document at
//! `/api/v1/openapi.json` lists exactly the routes the router serves.
//!
//! Invariants:
//! - Only this crate knows HTTP. Handlers are thin: identify the caller, parse input with the
//!   problem-returning extractors in [`extract`], call an engine service (`engine.scans()`,
//!   `findings()`, `templates()`, `events()`) with the caller's principal, serialize. Handlers
//!   never reach the store: the engine keeps its store handle to itself, so they cannot.
//! - Every error answer is an RFC 9457 problem with a stable `code` ([`problem`]); a safety-net
//!   layer turns any other error answer (axum's own 405, a panic) into one, so no input yields a
//!   plain-text error, and only backend failures yield a 500.
//! - Ids in the URL path that do not parse are 404 (they name nothing); ids inside request bodies
//!   that do not parse are 422 (the request is invalid).
//! - `GET /api/v1/scans/{id}` may answer from a small cache of `created` and finished scans; every
//!   mutation through the API and every bus event invalidates it (see [`cache`]), so a client
//!   never reads a scan older than its own last write or the last event it saw.

pub mod audit;
pub mod auth;
mod cache;
pub mod dto;
pub mod edge;
pub mod extract;
pub mod http_span;
mod live;
mod observe;
pub mod problem;
mod routes;
pub mod ui;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use argus_engine::Engine;

pub use auth::{AuthConfig, Caller};
pub use problem::{Code, Problem};

/// What the API needs besides the engine.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    pub auth: AuthConfig,
    /// Largest accepted request body in bytes; larger ones are answered 413.
    pub body_limit: usize,
    /// Served at `/api/v1/meta`.
    pub meta: Meta,
    /// Largest file `POST /api/v1/scan/binary` takes, in bytes (413 past it).
    pub upload_limit: usize,
    /// Where the web UI's files come from (embedded unless developing it).
    pub ui: ui::UiSource,
    /// Serve `GET /metrics` (`metrics.enabled`); when off it answers 404.
    pub metrics: bool,
}

/// The default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// The default upload limit of `POST /api/v1/scan/binary`: 32 MiB.
pub const DEFAULT_UPLOAD_LIMIT: usize = 32 << 20;

impl ApiConfig {
    /// A config with the default body limit.
    pub fn new(auth: AuthConfig, meta: Meta) -> Self {
        ApiConfig {
            auth,
            body_limit: DEFAULT_BODY_LIMIT,
            meta,
            upload_limit: DEFAULT_UPLOAD_LIMIT,
            ui: ui::UiSource::Embedded,
            metrics: true,
        }
    }
}

/// Version, build and the backends in use (`GET /api/v1/meta`).
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Meta {
    pub version: String,
    pub build: String,
    /// Backend in use per dependency, e.g. `store → sqlite`, `queue → embedded`.
    pub backends: BTreeMap<String, String>,
    /// Random id of this server process (a UUID), new at every start: a client that sees it
    /// change knows the server restarted under it. Filled in by [`router`] when empty.
    #[serde(default)]
    pub instance: String,
}

/// Shared state of every handler.
#[derive(Clone)]
pub(crate) struct AppState(Arc<StateInner>);

pub(crate) struct StateInner {
    pub(crate) engine: Arc<Engine>,
    pub(crate) auth: auth::Auth,
    pub(crate) meta: Meta,
    /// Serialized scans for the polling hot path (see [`cache`]).
    pub(crate) scans: Arc<cache::ScanCache>,
    /// The OpenAPI document, serialized once.
    pub(crate) openapi_json: Bytes,
    /// Largest upload of `POST /api/v1/scan/binary`.
    pub(crate) upload_limit: usize,
    /// Where the web UI's files come from.
    pub(crate) ui: ui::UiSource,
    /// Whether `GET /metrics` answers.
    pub(crate) metrics: bool,
}

impl std::ops::Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Argus API",
        description = "Self-hosted security scan orchestrator. Errors are RFC 9457 problem \
            details (`application/problem+json`) with a stable `code`. Ids in the URL path that \
            are not UUIDs answer 404; malformed ids inside request bodies answer 422. Request \
            bodies are JSON objects. In trusted-headers mode every request for records, and the \
            scanner list, needs `X-User-ID` and `X-Org-ID` from a trusted proxy (401 otherwise; 400 when one is sent \
            twice)."
    ),
    // Schemas referenced only by `value_type` of query parameters are not collected by
    // utoipa: list them here (FindingSort for `sort`).
    components(schemas(Problem, Code, live::WsSubscribe, argus_core::finding::FindingSort)),
    modifiers(&BearerScheme),
    tags(
        (name = "scans", description = "Scans, their lifecycle, findings and artifacts"),
        (name = "findings", description = "Findings and triage"),
        (name = "remediation", description = "Clean a secrets scan's repository history, download or push the result"),
        (name = "templates", description = "Reusable scan configurations"),
        (name = "schedules", description = "Cron schedules that start scans of a template or a config"),
        (name = "connectors", description = "Registered storage locations and their full scans"),
        (name = "events", description = "Live events (SSE and WebSocket)"),
        (name = "audit", description = "The audit log: every mutating request and every download, allowed or denied"),
        (name = "apikeys", description = "The organisation's API keys (admins only)"),
        (name = "sinks", description = "Result forwarding: configured sinks, their state and dead letters"),
        (name = "system", description = "Scanners, metadata, health"),
        (name = "deployguard", description = "DeployGuard-compatible jobs (`/api/v2`): a job is a secrets scan of one repository, cleaned and pushed through derived scans"),
        (name = "discovery", description = "Discovery-API-compatible runs (`/runs`, `/runs/ws`): a run is a scan of one task (scanner or external tool)")
    )
)]
struct ApiDoc;

/// The `bearer` security scheme every operation's requirement names; its scopes are the
/// permission the operation needs (`read`, `write`, `admin`), enforced by [`auth`].
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An Argus API key (`argus_…`) or, with `[auth.oidc]`, a JWT of the \
                         configured issuer; in `auth.mode = \"apikey\"`. The requirement's \
                         scope is the permission the operation needs: `read` (every role), \
                         `write` (analyst, admin) or `admin`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every route with its OpenAPI operation (state is supplied by [`router`]).
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(utoipa_axum::routes!(routes::system::healthz))
        .routes(utoipa_axum::routes!(routes::system::readyz))
        .routes(utoipa_axum::routes!(routes::system::metrics))
        .routes(utoipa_axum::routes!(routes::system::openapi_json_root))
        .nest("/api/v1", routes::api())
        .nest("/api/v2", routes::v2::api())
        .merge(routes::runs::api())
}

/// The OpenAPI 3.1 document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut spec = routes().split_for_parts().1;
    auth::document(&mut spec);
    spec
}

/// The full router: API, health, OpenAPI document, `/docs` and the web UI (`/`, `/ui/…`).
pub fn router(engine: Arc<Engine>, config: ApiConfig) -> Router {
    let (api, mut spec) = routes().split_for_parts();
    auth::document(&mut spec);
    let openapi_json = match serde_json::to_vec(&spec) {
        Ok(v) => Bytes::from(v),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize the OpenAPI document");
            Bytes::from_static(b"{}")
        }
    };
    let scans = cache::ScanCache::new(engine.bus().as_ref());
    let spec_value = serde_json::to_value(&spec).unwrap_or_default();
    let auth = match auth::Auth::new(config.auth, &spec_value) {
        Ok(a) => a,
        Err(e) => {
            // `argus serve` checks the config before it gets here; refuse every bearer token
            // rather than serve with a broken verifier.
            tracing::error!(error = %e, "auth config unusable; every bearer token is refused");
            auth::Auth::refusing(&spec_value)
        }
    };
    let mut meta = config.meta;
    if meta.instance.is_empty() {
        meta.instance = uuid::Uuid::now_v7().to_string();
    }
    let state = AppState(Arc::new(StateInner {
        engine,
        scans,
        auth,
        meta,
        openapi_json,
        upload_limit: config.upload_limit,
        ui: config.ui,
        metrics: config.metrics,
    }));
    let docs = utoipa_swagger_ui::SwaggerUi::new("/docs")
        .config(utoipa_swagger_ui::Config::from("/api/v1/openapi.json"));
    // The web UI: public files (like the docs), answered by one handler per path shape.
    let ui_routes = Router::new()
        .route("/", axum::routing::get(ui::index))
        .route("/ui", axum::routing::get(ui::index))
        .route("/ui/", axum::routing::get(ui::index))
        .route("/ui/{*rest}", axum::routing::get(ui::page_or_asset));
    api.merge(Router::from(docs))
        .merge(ui_routes)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        // Outside the auth layer, so its own 403s carry the route too.
        .route_layer(middleware::from_fn(audit::route_marker))
        .fallback(routes::system::no_route)
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn(problem_safety_net))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(http_span::make_span)
                .on_response(http_span::on_response),
        )
        .layer(middleware::from_fn_with_state(state.clone(), audit::record))
        // Outermost: counts every answer as the client gets it, the audit write included.
        .layer(middleware::from_fn_with_state(state, observe::http_metrics))
}

/// Turns any error answer that is not already a problem (axum's 405, a caught panic, a docs
/// asset that does not exist) into one, keeping its status and headers (e.g. `Allow`).
async fn problem_safety_net(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == problem::PROBLEM_JSON.as_bytes());
    if is_problem {
        return res;
    }
    let code = Code::for_status(status);
    let detail = match code {
        Code::MethodNotAllowed => "method not allowed on this resource".to_owned(),
        Code::Internal => "internal error; see the server log".to_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let mut problem = Problem::new(code, detail);
    problem.status = status.as_u16();
    problem.title = status.canonical_reason().unwrap_or("Error").to_owned();
    let (mut parts, _) = res.into_parts();
    let fresh = problem.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(problem::PROBLEM_JSON),
    );
    Response::from_parts(parts, fresh.into_body())
}

/// Serves the router on `listener` until `shutdown` resolves, in plain HTTP with the default
/// connection limits, with the peer address available to handlers (trusted-proxy checks) and
/// Nagle off (latency). `argus serve` uses [`edge::serve`] with its configured transport.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    edge::serve(listener, router, edge::Transport::default(), shutdown).await
}
