//! `/api/v1/findings/{id}`: one finding and its triage.

use axum::extract::State;
use axum::Json;

use argus_core::finding::Finding;
use argus_core::ids::FindingId;

use crate::auth::Caller;
use crate::dto::TriageRequest;
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// One finding. A path id that is not a UUID answers 404.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/findings/{id}",
    tag = "findings",
    params(("id" = String, Path, format = Uuid, description = "Finding id")),
    responses(
        (status = 200, description = "The finding", body = Finding),
        (status = 404, description = "No such finding in the caller's org", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_finding(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<FindingId>,
) -> ApiResult<Json<Finding>> {
    Ok(Json(state.engine.findings().get(&caller, id).await?))
}

/// Sets a finding's triage state (`open`, `selected`, `false_positive`, `accepted`, `fixed`).
/// The state is remembered for later scans of the same target (see `previous_triage`).
#[utoipa::path(
    patch,
    security(("bearer" = ["write"])),
    path = "/findings/{id}",
    tag = "findings",
    params(("id" = String, Path, format = Uuid, description = "Finding id")),
    request_body = TriageRequest,
    responses(
        (status = 200, description = "The updated finding", body = Finding),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such finding", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),

        (status = 422, description = "Unknown triage state or field", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn triage_finding(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<FindingId>,
    ApiJson(req): ApiJson<TriageRequest>,
) -> ApiResult<Json<Finding>> {
    let finding = state
        .engine
        .findings()
        .set_triage(&caller, id, req.triage)
        .await?;
    // `awaiting_selection` of the finding's cached scan may have changed.
    state.scans.invalidate(finding.scan_id);
    Ok(Json(finding))
}
