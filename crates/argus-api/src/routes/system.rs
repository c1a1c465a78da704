//! Scanners registry, metadata, the caller's identity (`/whoami`), health, readiness, Prometheus
//! metrics (`/metrics`), the OpenAPI document (at `/api/v1/openapi.json` and `/openapi.json`)
//! and the 404 fallback.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;

use argus_core::finding::Page;
use argus_core::scanner::ScannerInfo;

use crate::auth::Caller;
use crate::dto::{Dependency, Health, Readiness};
use crate::problem::Problem;
use crate::{AppState, Meta};

/// Liveness: 200 while the process serves requests.
#[utoipa::path(
    get,
    security(()),
    path = "/healthz",
    tag = "system",
    responses((status = 200, description = "The process is serving", body = Health))
)]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: pings every dependency; 503 when one is down.
#[utoipa::path(
    get,
    security(()),
    path = "/readyz",
    tag = "system",
    responses(
        (status = 200, description = "Every dependency is reachable", body = Readiness),
        (status = 503, description = "At least one dependency is down", body = Readiness),
    )
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let dependencies: Vec<Dependency> = state
        .engine
        .readiness()
        .await
        .into_iter()
        .map(|d| Dependency {
            name: d.name.to_owned(),
            backend: d.backend.to_owned(),
            ok: d.ok,
            error: d.error,
        })
        .collect();
    let ok = dependencies.iter().all(|d| d.ok);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: if ok { "ok" } else { "unavailable" },
            dependencies,
        }),
    )
}

/// Prometheus metrics of this process, in the OpenMetrics text format: task runs and their
/// durations, scan durations, HTTP requests by route template, the queue's depth and the sinks'
/// lag and totals (every series is listed in docs/operations.md).
///
/// Admins only: in `apikey` mode give Prometheus an admin key as its bearer token
/// (`authorization.credentials`); in the default `local` mode every caller is an admin. 404
/// when `metrics.enabled = false`.
#[utoipa::path(
    get,
    security(("bearer" = ["admin"])),
    path = "/metrics",
    tag = "system",
    responses(
        (status = 200, description = "Every metric, OpenMetrics text (ends with `# EOF`)", body = String, content_type = "application/openmetrics-text"),
        (status = 404, description = "Metrics are turned off (`metrics.enabled = false`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn metrics(State(state): State<AppState>, _caller: Caller) -> Response {
    if !state.metrics {
        return Problem::not_found("metrics are turned off on this server (metrics.enabled)")
            .into_response();
    }
    let text = state.engine.metrics_exposition().await;
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(argus_engine::metrics::CONTENT_TYPE),
        )],
        text,
    )
        .into_response()
}

/// Every scanner: name, description, accepted target kinds, params schema, availability.
///
/// Like every `/api/v1` route it needs a caller (401 otherwise in trusted-headers mode), and it
/// never shows where a scanner's executable lives: `detail` only says why a scanner is not
/// available, and only when that reason names no server path.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/scanners",
    tag = "system",
    responses((status = 200, description = "The scanner registry", body = Page<ScannerInfo>))
)]
pub(crate) async fn list_scanners(
    State(state): State<AppState>,
    _caller: Caller,
) -> Json<Page<ScannerInfo>> {
    let items = state
        .engine
        .registry()
        .infos()
        .into_iter()
        .map(|mut info| {
            info.detail = public_detail(info.available, info.detail.take());
            info
        })
        .collect();
    Json(Page {
        items,
        next_cursor: None,
    })
}

/// What a client may read of a scanner's `detail`: nothing when it is available (the detail is
/// then where its executable is), the reason otherwise unless it contains a path.
fn public_detail(available: bool, detail: Option<String>) -> Option<String> {
    if available {
        return None;
    }
    match detail {
        Some(d) if d.contains('/') || d.contains('\\') => {
            Some("not available on this server (`argus scanners` there says why)".to_owned())
        }
        other => other,
    }
}

/// Version, build and the backends in use.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/meta",
    tag = "system",
    responses((status = 200, description = "Server metadata", body = Meta))
)]
pub(crate) async fn meta(State(state): State<AppState>) -> Json<Meta> {
    Json(state.meta.clone())
}

/// Who the request acts as, as the server identified it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Identity {
    /// The user id (`sub` of a token, the key's creator, `X-User-ID`, or the local user).
    user: String,
    /// The organisation every record the caller sees belongs to.
    org: String,
    /// `viewer`, `analyst` or `admin`.
    role: String,
    /// How the server identifies callers (`auth.mode`): `local`, `trusted-headers` or `apikey`.
    auth_mode: &'static str,
}

/// The caller's identity: user, organisation, role and the server's identification mode (what
/// a client shows as "signed in as", and checks a key with).
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/whoami",
    tag = "system",
    responses((status = 200, description = "The caller", body = Identity))
)]
pub(crate) async fn whoami(State(state): State<AppState>, caller: Caller) -> Json<Identity> {
    Json(Identity {
        user: caller.user.to_string(),
        org: caller.org.to_string(),
        role: caller.role.to_string(),
        auth_mode: state.auth.mode_name(),
    })
}

/// This document (OpenAPI 3.1).
#[utoipa::path(
    get,
    security(()),
    path = "/openapi.json",
    tag = "system",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
pub(crate) async fn openapi_json(State(state): State<AppState>) -> Response {
    let mut res = state.openapi_json.clone().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// The OpenAPI document again at the root, where tools look for it by default.
#[utoipa::path(
    get,
    security(()),
    path = "/openapi.json",
    tag = "system",
    responses((status = 200, description = "The OpenAPI document (same as `/api/v1/openapi.json`)", body = Object))
)]
pub(crate) async fn openapi_json_root(state: State<AppState>) -> Response {
    openapi_json(state).await
}

/// 404 for every path no route matches.
pub(crate) async fn no_route(uri: Uri) -> Problem {
    Problem::not_found(format!("no route for {}", uri.path()))
}
