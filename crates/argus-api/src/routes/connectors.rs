//! `/api/v1/connectors`: registered storage locations (issue #12) and their full scans.
//!
//! A connector is a location (`file://`, `s3://`, `az://`, `gs://`, `sharepoint://`), the
//! *name* of the server credential that reaches it, the scanners to run and an action policy.
//! The engine's connectors service validates it as the scan it would start, so an unusable
//! connector is a 422 at registration. `POST /connectors/{id}/full-scan` creates and starts
//! that scan and answers **201** with it (like `POST /scans` with `start`: the scan record
//! exists when the answer is sent, and the work itself is followed on the scan); the scan then
//! shows as the connector's `last_full_scan`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use argus_core::connector_config::{ActionPolicy, ConnectorView as Connector};
use argus_core::finding::Page;
use argus_core::ids::ConnectorId;
use argus_core::scan::{Scan, ScannerSpec};
use argus_core::store::ConnectorQuery;
use argus_core::target::Target;
use argus_engine::services::ConnectorSpec;

use crate::auth::Caller;
use crate::dto::parse_limit;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// `POST /api/v1/connectors` and `PUT /api/v1/connectors/{id}`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorRequest {
    /// Unique within the organisation; 1-200 characters, not blank.
    #[schema(
        max_length = 200,
        pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub name: String,
    /// A target of kind `location`: `file:///srv/share/`, `s3://bucket/prefix`, `az://…`,
    /// `gs://…`, `sharepoint://site/drive/path`.
    pub location: Target,
    /// The name of a server credential (`[connectors.credentials]`), never the secret itself.
    /// Cloud and SharePoint locations need one.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._-]+$")]
    pub credential: Option<String>,
    /// The scanners a full scan runs (e.g. `yara`, `clamav`, `http-scanner`), with their
    /// params; `credential`, `action`, `quarantine_prefix` and `act_on_suspicious` are set on
    /// the connector, not here. 1-16 of them.
    #[schema(min_items = 1, max_items = 16)]
    pub scanners: Vec<ScannerSpec>,
    /// What a full scan does with a malicious (or, with `act_on_suspicious`, suspicious)
    /// object; default `{"action": "none"}`.
    #[serde(default)]
    pub action: ActionPolicy,
}

/// Query of `GET /api/v1/connectors`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConnectorListParams {
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1-1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

impl From<ConnectorRequest> for ConnectorSpec {
    fn from(r: ConnectorRequest) -> Self {
        ConnectorSpec {
            name: r.name,
            location: r.location,
            credential: r.credential,
            scanners: r.scanners,
            action: r.action,
        }
    }
}

/// The org's connectors, by name, paginated by cursor.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/connectors",
    tag = "connectors",
    params(ConnectorListParams),
    responses(
        (status = 200, description = "One page of connectors", body = Page<Connector>),
        (status = 422, description = "Bad query parameter or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_connectors(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ConnectorListParams>,
) -> ApiResult<Json<Page<Connector>>> {
    let query = ConnectorQuery {
        cursor: q.cursor.filter(|c| !c.is_empty()),
        limit: parse_limit(q.limit.as_deref())?,
    };
    let page = state.engine.connectors().list(&caller, &query).await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(Connector::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Registers a connector; it is validated as the full scan it would start.
#[utoipa::path(
    post,
    security(("bearer" = ["admin"])),
    path = "/connectors",
    tag = "connectors",
    request_body = ConnectorRequest,
    responses(
        (status = 201, description = "The new connector", body = Connector),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The org already has a connector of this name", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid connector (see `path`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_connector(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ConnectorRequest>,
) -> ApiResult<(StatusCode, Json<Connector>)> {
    let c = state
        .engine
        .connectors()
        .create(&caller, req.into())
        .await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// One connector, with its last full scan. A path id that is not a UUID answers 404.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/connectors/{id}",
    tag = "connectors",
    params(("id" = String, Path, format = Uuid, description = "Connector id")),
    responses(
        (status = 200, description = "The connector", body = Connector),
        (status = 404, description = "No such connector", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_connector(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ConnectorId>,
) -> ApiResult<Json<Connector>> {
    Ok(Json(
        state.engine.connectors().get(&caller, id).await?.into(),
    ))
}

/// Replaces a connector's name, location, credential, scanners and action policy (its last
/// full scan is kept).
#[utoipa::path(
    put,
    security(("bearer" = ["admin"])),
    path = "/connectors/{id}",
    tag = "connectors",
    params(("id" = String, Path, format = Uuid, description = "Connector id")),
    request_body = ConnectorRequest,
    responses(
        (status = 200, description = "The updated connector", body = Connector),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such connector", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The org already has another connector of this name", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid connector (see `path`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn update_connector(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ConnectorId>,
    ApiJson(req): ApiJson<ConnectorRequest>,
) -> ApiResult<Json<Connector>> {
    let c = state
        .engine
        .connectors()
        .update(&caller, id, req.into())
        .await?;
    Ok(Json(c.into()))
}

/// Deletes a connector (the scans it started are kept).
#[utoipa::path(
    delete,
    security(("bearer" = ["admin"])),
    path = "/connectors/{id}",
    tag = "connectors",
    params(("id" = String, Path, format = Uuid, description = "Connector id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such connector", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn delete_connector(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ConnectorId>,
) -> ApiResult<StatusCode> {
    state.engine.connectors().delete(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates and starts a scan of the whole location with the connector's scanners and policy
/// (named `full scan of <name>`, labelled `connector=<id>`), records it as the connector's last
/// full scan and answers 201 with it. Follow it as any scan (`/scans/{id}`, its events, its
/// verdicts).
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/connectors/{id}/full-scan",
    tag = "connectors",
    params(("id" = String, Path, format = Uuid, description = "Connector id")),
    responses(
        (status = 201, description = "The started scan", body = Scan),
        (status = 404, description = "No such connector", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The connector cannot be scanned as it stands (a scanner gone or unavailable; see `path`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Queue unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn full_scan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ConnectorId>,
) -> ApiResult<(StatusCode, Json<Scan>)> {
    let scan = state.engine.connectors().full_scan(&caller, id).await?;
    Ok((StatusCode::CREATED, Json(scan)))
}
