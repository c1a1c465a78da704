//! Route handlers, grouped by resource. Each handler carries its `#[utoipa::path]`, and
//! [`api`] registers handlers only through `utoipa_axum::routes!`, so a route cannot be served
//! without being documented.

pub(crate) mod apikeys;
pub(crate) mod audit;
pub(crate) mod connectors;
pub(crate) mod findings;
pub(crate) mod remediation;
pub(crate) mod runs;
pub(crate) mod scans;
pub(crate) mod schedules;
pub(crate) mod sinks;
pub(crate) mod system;
pub(crate) mod templates;
pub(crate) mod uploads;
pub(crate) mod v2;

use argus_core::artifact::ByteStream;
use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::live;
use crate::AppState;

/// Operations whose axum path cannot be written in OpenAPI syntax: the artifact download's
/// `{*name}` wildcard (names may contain `/`) is documented as `{name}` and routed by hand below.
#[derive(utoipa::OpenApi)]
#[openapi(paths(scans::get_artifact))]
struct HandRouted;

/// A download: `bytes` as `content_type` (never sniffed by a browser), saved as `file_name`.
pub(crate) fn attachment(bytes: ByteStream, file_name: &str, content_type: &str) -> Response {
    let mut res = Body::from_stream(bytes).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// Everything under `/api/v1`.
pub(crate) fn api() -> OpenApiRouter<AppState> {
    use utoipa::OpenApi as _;
    OpenApiRouter::with_openapi(HandRouted::openapi())
        .route(
            "/scans/{id}/artifacts/{*name}",
            axum::routing::get(scans::get_artifact),
        )
        .routes(routes!(scans::list_scans, scans::create_scan))
        .routes(routes!(scans::plan_scan))
        .routes(routes!(
            scans::get_scan,
            scans::update_scan,
            scans::delete_scan
        ))
        .routes(routes!(scans::start_scan))
        .routes(routes!(scans::stop_scan))
        .routes(routes!(scans::pause_scan))
        .routes(routes!(scans::resume_scan))
        .routes(routes!(scans::scan_status))
        .routes(routes!(scans::list_findings))
        .routes(routes!(scans::select_findings))
        .routes(routes!(scans::list_verdicts))
        .routes(routes!(remediation::clean_scan))
        .routes(routes!(remediation::download))
        .routes(routes!(remediation::push_scan))
        .routes(routes!(uploads::scan_binary))
        .routes(routes!(scans::list_artifacts))
        .routes(routes!(live::scan_events))
        .routes(routes!(live::org_events))
        .routes(routes!(live::websocket))
        .routes(routes!(findings::get_finding, findings::triage_finding))
        .routes(routes!(
            templates::list_templates,
            templates::create_template
        ))
        .routes(routes!(
            templates::get_template,
            templates::update_template,
            templates::delete_template
        ))
        .routes(routes!(templates::scan_from_template))
        .routes(routes!(
            schedules::list_schedules,
            schedules::create_schedule
        ))
        .routes(routes!(
            schedules::get_schedule,
            schedules::update_schedule,
            schedules::delete_schedule
        ))
        .routes(routes!(
            connectors::list_connectors,
            connectors::create_connector
        ))
        .routes(routes!(
            connectors::get_connector,
            connectors::update_connector,
            connectors::delete_connector
        ))
        .routes(routes!(connectors::full_scan))
        .routes(routes!(audit::list_audit))
        .routes(routes!(apikeys::list_api_keys, apikeys::create_api_key))
        .routes(routes!(apikeys::revoke_api_key))
        .routes(routes!(sinks::list_sinks))
        .routes(routes!(sinks::get_sink))
        .routes(routes!(sinks::list_dead_letters))
        .routes(routes!(system::list_scanners))
        .routes(routes!(system::meta))
        .routes(routes!(system::whoami))
        .routes(routes!(system::openapi_json))
}
