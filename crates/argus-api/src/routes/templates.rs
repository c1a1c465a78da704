//! `/api/v1/templates`: named, reusable scan configurations, and scans made from them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use argus_core::finding::Page;
use argus_core::ids::TemplateId;
use argus_core::scan::Scan;
use argus_core::store::TemplateQuery;
use argus_core::template::Template;
use argus_engine::services::FromTemplate;

use crate::auth::Caller;
use crate::dto::{parse_limit, ScanFromTemplateRequest, TemplateListParams, TemplateRequest};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// The org's templates, by name, paginated by cursor.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/templates",
    tag = "templates",
    params(TemplateListParams),
    responses(
        (status = 200, description = "One page of templates", body = Page<Template>),
        (status = 422, description = "Bad query parameter or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_templates(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TemplateListParams>,
) -> ApiResult<Json<Page<Template>>> {
    let query = TemplateQuery {
        cursor: q.cursor.filter(|c| !c.is_empty()),
        limit: parse_limit(q.limit.as_deref())?,
    };
    Ok(Json(state.engine.templates().list(&caller, &query).await?))
}

/// Creates a template; its config is validated like a scan's.
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/templates",
    tag = "templates",
    request_body = TemplateRequest,
    responses(
        (status = 201, description = "The new template", body = Template),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid config (see `path`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_template(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<TemplateRequest>,
) -> ApiResult<(StatusCode, Json<Template>)> {
    let t = state
        .engine
        .templates()
        .create(&caller, req.name, req.description, req.config)
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// One template. A path id that is not a UUID answers 404.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/templates/{id}",
    tag = "templates",
    params(("id" = String, Path, format = Uuid, description = "Template id")),
    responses(
        (status = 200, description = "The template", body = Template),
        (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_template(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<TemplateId>,
) -> ApiResult<Json<Template>> {
    Ok(Json(state.engine.templates().get(&caller, id).await?))
}

/// Replaces a template's name, description and config.
#[utoipa::path(
    put,
    security(("bearer" = ["write"])),
    path = "/templates/{id}",
    tag = "templates",
    params(("id" = String, Path, format = Uuid, description = "Template id")),
    request_body = TemplateRequest,
    responses(
        (status = 200, description = "The updated template", body = Template),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid config (see `path`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn update_template(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<TemplateId>,
    ApiJson(req): ApiJson<TemplateRequest>,
) -> ApiResult<Json<Template>> {
    let t = state
        .engine
        .templates()
        .update(&caller, id, req.name, req.description, req.config)
        .await?;
    Ok(Json(t))
}

/// Deletes a template (scans made from it are kept).
#[utoipa::path(
    delete,
    security(("bearer" = ["write"])),
    path = "/templates/{id}",
    tag = "templates",
    params(("id" = String, Path, format = Uuid, description = "Template id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn delete_template(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<TemplateId>,
) -> ApiResult<StatusCode> {
    state.engine.templates().delete(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates a scan from a template, optionally renaming it and replacing its targets.
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/templates/{id}/scans",
    tag = "templates",
    params(("id" = String, Path, format = Uuid, description = "Template id")),
    request_body = ScanFromTemplateRequest,
    responses(
        (status = 201, description = "The new scan", body = Scan),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid overrides (see `path`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Queue unavailable (with `start`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn scan_from_template(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<TemplateId>,
    ApiJson(req): ApiJson<ScanFromTemplateRequest>,
) -> ApiResult<(StatusCode, Json<Scan>)> {
    let scan = state
        .engine
        .templates()
        .scan_from(
            &caller,
            id,
            FromTemplate {
                name: req.name,
                targets: req.targets,
                start: req.start,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(scan)))
}
