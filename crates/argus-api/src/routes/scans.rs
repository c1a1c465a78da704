//! `/api/v1/scans`: CRUD, lifecycle actions, status, findings and artifacts.
//!
//! `GET /scans/{id}` is the hot path (polling clients, the API benchmark): it does one store
//! read and one serialization, nothing else, except for a completed scan with findings, whose
//! `awaiting_selection` takes one count of its findings by triage (then cached like the scan).
//! Triage changes (`POST /scans/{id}/findings/select`, `PATCH /findings/{id}`) invalidate the
//! cached scan.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;

use argus_core::artifact::{ArtifactMeta, ArtifactName};
use argus_core::detector::{Verdict, VerdictKind, VerdictQuery};
use argus_core::finding::{
    Finding, FindingQuery, FindingSort, Page, Severity, Triage, TriageCounts,
};
use argus_core::ids::ScanId;
use argus_core::scan::{Scan, ScanAction, ScanState};
use argus_core::store::ScanQuery;
use argus_core::CoreError;
use argus_engine::services::CreateScan;

use crate::auth::Caller;
use crate::dto::{
    parse_limit, parse_opt, CreateScanRequest, FindingListParams, PlanScanRequest, ScanListParams,
    ScanStatus, ScanView, SelectRequest, UpdateScanRequest, VerdictListParams,
};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiResult, Problem};
use crate::AppState;

const STATES: &str = "created, queued, running, paused, completed, failed, cancelled";
const SEVERITIES: &str = "info, low, medium, high, critical";
const TRIAGES: &str = "open, selected, false_positive, accepted, fixed";

/// Lists the org's scans, newest first.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/scans",
    tag = "scans",
    params(ScanListParams),
    responses(
        (status = 200, description = "One page of scans", body = Page<Scan>),
        (status = 422, description = "Bad query parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_scans(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ScanListParams>,
) -> ApiResult<Json<Page<Scan>>> {
    let query = ScanQuery {
        state: parse_opt(q.state.as_deref(), "state", ScanState::parse, STATES)?,
        source_scan_id: q
            .source_scan_id
            .as_deref()
            .map(|s| {
                s.parse::<ScanId>().map_err(|_| {
                    Problem::invalid("/source_scan_id", "source_scan_id must be a scan id (UUID)")
                })
            })
            .transpose()?,
        cursor: q.cursor.filter(|c| !c.is_empty()),
        limit: parse_limit(q.limit.as_deref())?,
    };
    Ok(Json(state.engine.scans().list(&caller, &query).await?))
}

/// Creates a scan (and starts it when `start` is true).
///
/// The config is validated here, not at run time: unknown scanners, params failing a scanner's
/// schema, targets no scanner accepts and unknown fields all answer 422 with the failing `path`.
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/scans",
    tag = "scans",
    request_body = CreateScanRequest,
    responses(
        (status = 201, description = "The new scan", body = Scan),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`template_id` names no template of the caller's org", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid config (see `path`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Queue unavailable (with `start`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_scan(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateScanRequest>,
) -> ApiResult<(StatusCode, Json<Scan>)> {
    // A well-formed `template_id` that names no template of the caller's org is a 404 from the
    // service, as for any other reference to a missing record (a malformed one is a 422 from
    // the extractor).
    let scan = state
        .engine
        .scans()
        .create(
            &caller,
            CreateScan {
                name: req.name,
                config: req.config,
                template_id: req.template_id,
                start: req.start,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(scan)))
}

/// Plans a scan without creating or running anything: the tasks its first wave would run,
/// the chaining graph that may follow (which scanner's discoveries start which scanners, by the
/// server's chaining rules), the recursion depth and the scope chained targets must pass.
/// Validated as `POST /scans` validates (422 naming the field).
#[utoipa::path(
    post,
    security(("bearer" = ["read"])),
    path = "/scans/plan",
    tag = "scans",
    request_body = PlanScanRequest,
    responses(
        (status = 200, description = "The plan", body = argus_core::chain::ScanPlan),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`template_id` names no template of the caller's org", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid config (see `path`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn plan_scan(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<PlanScanRequest>,
) -> ApiResult<Json<argus_core::chain::ScanPlan>> {
    let plan = state
        .engine
        .scans()
        .preview(&caller, req.config, req.template_id, req.targets)
        .await?;
    Ok(Json(plan))
}

/// One scan. A path id that is not a UUID answers 404.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/scans/{id}",
    tag = "scans",
    params(("id" = String, Path, format = Uuid, description = "Scan id")),
    responses(
        (status = 200, description = "The scan, with `awaiting_selection`", body = ScanView),
        (status = 404, description = "No such scan in the caller's org", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_scan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
) -> ApiResult<Response> {
    if let Some(body) = state.scans.get(&caller.org, id) {
        return Ok(json_body(body));
    }
    let epoch = state.scans.epoch();
    let scan = state.engine.scans().get(&caller, id).await?;
    let awaiting_selection = state
        .engine
        .findings()
        .awaiting_selection(&caller, &scan)
        .await?;
    let view = ScanView {
        scan,
        awaiting_selection,
    };
    let body = match serde_json::to_vec(&view) {
        Ok(v) => Bytes::from(v),
        Err(e) => return Err(CoreError::Backend(format!("cannot serialize scan: {e}")).into()),
    };
    state.scans.insert(epoch, &view.scan, &body);
    Ok(json_body(body))
}

fn json_body(body: Bytes) -> Response {
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// Replaces the name and config of a scan that has not started (409 otherwise).
#[utoipa::path(
    put,
    security(("bearer" = ["write"])),
    path = "/scans/{id}",
    tag = "scans",
    params(("id" = String, Path, format = Uuid, description = "Scan id")),
    request_body = UpdateScanRequest,
    responses(
        (status = 200, description = "The updated scan", body = Scan),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such scan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The scan has started (`state` says where it is)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid config (see `path`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn update_scan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
    ApiJson(req): ApiJson<UpdateScanRequest>,
) -> ApiResult<Json<Scan>> {
    Ok(Json(
        state
            .engine
            .scans()
            .update(&caller, id, req.name, req.config)
            .await?,
    ))
}

/// Deletes a scan that never started or has finished, with its findings, events and artifacts.
#[utoipa::path(
    delete,
    security(("bearer" = ["write"])),
    path = "/scans/{id}",
    tag = "scans",
    params(("id" = String, Path, format = Uuid, description = "Scan id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such scan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The scan is still active; stop it first", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn delete_scan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
) -> ApiResult<StatusCode> {
    let r = state.engine.scans().delete(&caller, id).await;
    state.scans.invalidate(id);
    r?;
    Ok(StatusCode::NO_CONTENT)
}

async fn act(
    state: &AppState,
    caller: &Caller,
    id: ScanId,
    action: ScanAction,
) -> ApiResult<Json<Scan>> {
    let r = state.engine.scans().act(caller, id, action).await;
    // Even a failed action may have committed part of its work: forget the cached scan.
    state.scans.invalidate(id);
    Ok(Json(r?))
}

/// `created → queued`: plans the tasks and queues them.
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/scans/{id}/start",
    tag = "scans",
    params(("id" = String, Path, format = Uuid, description = "Scan id")),
    responses(
        (status = 200, description = "The scan, now queued", body = Scan),
        (status = 404, description = "No such scan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Illegal transition; `state` is the current state", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Queue unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn start_scan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
) -> ApiResult<Json<Scan>> {
    act(&state, &caller, id, ScanAction::Start).await
}

/// Query of `POST /api/v1/scans/{id}/stop`.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StopParams {
    /// `true`: end any scan that has not ended, a `created` one included, with reason
    /// `force_stopped` (a plain stop refuses a scan that never started). Neither waits for a
    /// worker; what a gone or late worker reports afterwards is not counted.
    #[param(value_type = Option<bool>)]
    force: Option<String>,
}

/// Cancels a queued, running or paused scan at once (reason `stopped`): running scanners are
/// cancelled, queued tasks dropped, and nothing waits for a worker — one that is gone changes
/// nothing. With `force=true` a scan still `created` is ended too (reason `force_stopped`).
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/scans/{id}/stop",
    tag = "scans",
    params(("id" = String, Path, format = Uuid, description = "Scan id"), StopParams),
    responses(
        (status = 200, description = "The scan, now cancelled", body = Scan),
        (status = 404, description = "No such scan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Illegal transition; `state` is the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad query parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn stop_scan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
    ApiQuery(q): ApiQuery<StopParams>,
) -> ApiResult<Json<Scan>> {
    let action = if crate::dto::parse_flag(q.force.as_deref(), "force")? {
        ScanAction::ForceStop
    } else {
        ScanAction::Stop
    };
    act(&state, &caller, id, action).await
}

/// Pauses a queued or running scan: queued tasks are parked, running ones finish.
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/scans/{id}/pause",
    tag = "scans",
    params(("id" = String, Path, format = Uuid, description = "Scan id")),
    responses(
        (status = 200, description = "The scan, now paused", body = Scan),
        (status = 404, description = "No such scan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Illegal transition; `state` is the current state", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn pause_scan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
) -> ApiResult<Json<Scan>> {
    act(&state, &caller, id, ScanAction::Pause).await
}

/// Resumes a paused scan: parked tasks are released.
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/scans/{id}/resume",
    tag = "scans",
    params(("id" = String, Path, format = Uuid, description = "Scan id")),
    responses(
        (status = 200, description = "The scan, running again", body = Scan),
        (status = 404, description = "No such scan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Illegal transition; `state` is the current state", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Queue unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn resume_scan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
) -> ApiResult<Json<Scan>> {
    act(&state, &caller, id, ScanAction::Resume).await
}

/// State, reason and progress of a scan.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/scans/{id}/status",
    tag = "scans",
    params(("id" = String, Path, format = Uuid, description = "Scan id")),
    responses(
        (status = 200, description = "Status", body = ScanStatus),
        (status = 404, description = "No such scan", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn scan_status(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
) -> ApiResult<Json<ScanStatus>> {
    let scan = state.engine.scans().get(&caller, id).await?;
    let awaiting_selection = state
        .engine
        .findings()
        .awaiting_selection(&caller, &scan)
        .await?;
    let fraction = scan.progress.fraction();
    Ok(Json(ScanStatus {
        state: scan.state,
        reason: scan.reason,
        progress: scan.progress,
        fraction,
        awaiting_selection,
    }))
}

/// Triage of many findings of the scan at once: `select` become `selected`, `false_positives`
/// become `false_positive`, all of them or none. Answers the scan's findings counted by triage
/// state afterwards. A false positive stays one on later scans of the same target (matched by
/// fingerprint); the per-finding `PATCH /findings/{id}` stays for single changes.
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/scans/{id}/findings/select",
    tag = "scans",
    params(("id" = String, Path, format = Uuid, description = "Scan id")),
    request_body = SelectRequest,
    responses(
        (status = 200, description = "The scan's findings counted by triage state, after the change", body = TriageCounts),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such scan in the caller's org", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Both lists empty, an id in both lists, an id that is not a finding of this scan (`detail` names them), or a malformed id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn select_findings(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
    ApiJson(req): ApiJson<SelectRequest>,
) -> ApiResult<Json<TriageCounts>> {
    let r = state
        .engine
        .findings()
        .select(&caller, id, &req.select, &req.false_positives)
        .await;
    // `awaiting_selection` of the cached scan may have changed.
    state.scans.invalidate(id);
    Ok(Json(r?))
}

/// Findings of a scan, filtered, sorted and paginated by cursor.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/scans/{id}/findings",
    tag = "scans",
    params(("id" = String, Path, format = Uuid, description = "Scan id"), FindingListParams),
    responses(
        (status = 200, description = "One page of findings", body = Page<Finding>),
        (status = 404, description = "No such scan", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad query parameter or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_findings(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
    ApiQuery(q): ApiQuery<FindingListParams>,
) -> ApiResult<Json<Page<Finding>>> {
    let parse_sort = |s: &str| match s {
        "created" => Some(FindingSort::Created),
        "created_desc" => Some(FindingSort::CreatedDesc),
        "severity" => Some(FindingSort::Severity),
        _ => None,
    };
    let severity = |s: &str| Severity::ALL.into_iter().find(|v| v.as_str() == s);
    let query = FindingQuery {
        kind: q.kind.filter(|s| !s.is_empty()),
        severity: parse_opt(q.severity.as_deref(), "severity", severity, SEVERITIES)?,
        min_severity: parse_opt(
            q.min_severity.as_deref(),
            "min_severity",
            severity,
            SEVERITIES,
        )?,
        scanner: q.scanner.filter(|s| !s.is_empty()),
        triage: parse_opt(q.triage.as_deref(), "triage", Triage::parse, TRIAGES)?,
        sort: parse_opt(
            q.sort.as_deref(),
            "sort",
            parse_sort,
            "created, created_desc, severity",
        )?
        .unwrap_or_default(),
        cursor: q.cursor.filter(|c| !c.is_empty()),
        limit: parse_limit(q.limit.as_deref())?,
    };
    // The service answers an unknown scan (or another org's) with a 404, not an empty page.
    Ok(Json(
        state.engine.findings().list(&caller, id, &query).await?,
    ))
}

/// Verdicts of a file scan (one per object: `clean`, `malicious`, `suspicious`, `error`,
/// `skipped`, with engine, hits and the action taken), in key order, paginated by cursor.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/scans/{id}/verdicts",
    tag = "scans",
    params(("id" = String, Path, format = Uuid, description = "Scan id"), VerdictListParams),
    responses(
        (status = 200, description = "One page of verdicts", body = Page<Verdict>),
        (status = 404, description = "No such scan", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad query parameter or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_verdicts(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
    ApiQuery(q): ApiQuery<VerdictListParams>,
) -> ApiResult<Json<Page<Verdict>>> {
    let query = VerdictQuery {
        verdict: parse_opt(
            q.verdict.as_deref(),
            "verdict",
            VerdictKind::parse,
            "clean, malicious, suspicious, error, skipped",
        )?,
        cursor: q.cursor.filter(|c| !c.is_empty()),
        limit: parse_limit(q.limit.as_deref())?,
    };
    Ok(Json(
        state
            .engine
            .findings()
            .verdicts(&caller, id, &query)
            .await?,
    ))
}

/// Artifacts a scan produced (tool output, reports), by name.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/scans/{id}/artifacts",
    tag = "scans",
    params(("id" = String, Path, format = Uuid, description = "Scan id")),
    responses(
        (status = 200, description = "Artifacts of the scan", body = Page<ArtifactMeta>),
        (status = 404, description = "No such scan", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_artifacts(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
) -> ApiResult<Json<Page<ArtifactMeta>>> {
    // An unknown scan (or another org's) is a 404; private files are never listed.
    let items = state.engine.scans().artifacts(&caller, id).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// Downloads one artifact (streamed). `name` may contain `/`; an invalid name answers 422.
///
/// The body is always `application/octet-stream` (as documented), whatever the artifact holds:
/// its recorded type is in the artifact list, and a download is never rendered by a browser.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/scans/{id}/artifacts/{name}",
    tag = "scans",
    params(
        ("id" = String, Path, format = Uuid, description = "Scan id"),
        ("name" = String, Path, max_length = 255, pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$", description = "Artifact name: a relative path of letters, digits, '.', '_', '-' (may contain '/'; no segment starts with '.')"),
    ),
    responses(
        (status = 200, description = "The artifact's bytes (its own type is `content_type` in the artifact list)", body = String, content_type = "application/octet-stream"),
        (status = 404, description = "No such scan or artifact", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid artifact name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_artifact(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, name)): ApiPath<(ScanId, String)>,
) -> ApiResult<Response> {
    let name = ArtifactName::parse(&name)?;
    // The service refuses private files (a sealed repository copy: the platform's own, never
    // served, indistinguishable from a missing artifact) and reads the org-scoped metadata
    // before any bytes, so another org's artifact is a 404.
    let (meta, stream) = state.engine.scans().artifact(&caller, id, name).await?;
    let file_name = meta.name.as_str().rsplit('/').next().unwrap_or("artifact");
    Ok(super::attachment(
        stream,
        file_name,
        "application/octet-stream",
    ))
}
