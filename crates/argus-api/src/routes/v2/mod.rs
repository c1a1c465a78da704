//! `/api/v2`: the DeployGuard-compatible jobs API, a thin layer over the `/api/v1` services
//! (scans, findings, remediation), so DeployGuard clients keep working against Argus.
//!
//! A job is an Argus scan running the `secrets` scanner on one `repo` target, created here or
//! through `/api/v1`; the job id is the scan id, and the same record is `/api/v1/scans/{id}`.
//! Clean and push scans derived from it (their `source_scan_id`) are not jobs themselves: they
//! are the job's later phases. A job's secrets are the scan's `secret` findings, with the
//! preview and SHA-256 only: Argus never stores a secret's value, and DeployGuard's schema has
//! no value field either (only `secret_value_preview`, kept, and `secret_value_hash`, filled).
//!
//! Status mapping (`status`, with `status_message` saying more):
//!
//! | Argus                                                        | DeployGuard `status`  |
//! |--------------------------------------------------------------|-----------------------|
//! | scan `created`, `queued`                                     | `pending`             |
//! | scan `running`, `paused` (message `paused`)                  | `scanning`            |
//! | scan `failed` / `cancelled` (message: the reason)            | `failed` / `cancelled`|
//! | scan `completed`, secrets `open` or `selected`, no clean yet | `awaiting_selection`  |
//! | scan `completed`, nothing left to clean                      | `scan_complete`       |
//! | newest clean scan queued / running / paused                  | `cleaning`            |
//! | newest clean scan `completed`                                | `clean_complete`      |
//! | newest clean scan `failed` (message `clean failed: …`)       | `failed`              |
//! | newest clean scan `cancelled`                                | `awaiting_selection`  |
//! | newest push scan queued / running / paused                   | `pushing`             |
//! | newest push scan `completed`                                 | `completed`           |
//! | newest push scan `failed` (message `push failed: …`)         | `failed`              |
//! | newest push scan `cancelled`                                 | `clean_complete`      |
//!
//! The newest of the clean and push scans decides (a clean started after a push makes the push
//! stale). `cloning` and `uploading` are never reported (Argus clones inside the scan and
//! stores the cleaned repository inside the clean). `progress_percent` is the current phase's
//! progress. A failed clean or push is not the end: cleaning or pushing again is accepted.
//!
//! Differences from DeployGuard, on purpose:
//! - Errors are the v1 problem details (`application/problem+json`, with `detail` as
//!   DeployGuard's were): a job of another org is a 404 on every route; a path id that is not a
//!   UUID is a 404; bad bodies are 400/415/422; cleaning with nothing selected, selecting before
//!   the scan completed, and downloading or pushing before a completed clean are 409 (DeployGuard
//!   said 400).
//! - `POST /jobs/{id}/secrets/select` replaces the selection as DeployGuard's did, through the
//!   v1 selection (all or nothing: an id that is not a secret of the job is a 422 naming it),
//!   then puts every other selected secret of the job back to `open`. A secret is cleaned only
//!   once selected (DeployGuard selected everything by default).
//! - `GET /jobs/{id}/download` streams the repository (`format=zip` by default, `tar.gz`,
//!   `bundle`) instead of redirecting to a presigned URL.
//! - `DELETE /jobs/{id}` stops what still runs and deletes the job with its clean and push scans
//!   (DeployGuard kept a `cancelled` row).
//! - The caller is the v1 caller (trusted headers: `X-User-ID` and `X-Org-ID`).
//! - `source_credentials_id` is recorded on the job (label `deployguard.source_credentials_id`)
//!   but the scan clones with the `secrets` scanner's own credentials: cloning with a credential
//!   of the external service is not supported by the scanner yet. `target_credentials_id` is
//!   fetched from the credentials service (`secrets.credentials_service_url`; without one it is
//!   a 422) by the push when it runs, for the caller's user.
//! - `POST /jobs/{id}/clean` and `/push` answer 200 as DeployGuard's did (v1 answers 202).
//! - `source_branch` absent scans every branch and tag (DeployGuard defaulted to `main`).
//!
//! Cost: a job's view takes a few store reads (the scan, its triage counts, its derived scans);
//! `GET /jobs` walks the org's scans newest first and views the jobs among them until the page is
//! full (jobs are not stored apart from other scans), so a status filter that matches few jobs
//! reads more.
//!
//! Invariant: handlers only call engine services with the caller's principal (tenancy is theirs);
//! every job route first loads the job through the org-scoped scans service.

pub(crate) mod model;

use std::collections::{BTreeMap, HashSet};

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use argus_core::finding::{Finding, FindingQuery, Triage};
use argus_core::ids::{FindingId, ScanId};
use argus_core::remediation::{CLEAN_SCANNER, PUSH_SCANNER};
use argus_core::scan::{Scan, ScanAction, ScanConfig, ScanState};
use argus_core::store::ScanQuery;
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use argus_engine::services::{CleanRequest, CreateScan, ExportFormat, PushRequest as EnginePush};

use crate::auth::Caller;
use crate::dto::{is_digits, parse_flag};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiResult, Code, Problem, PROBLEM_JSON};
use crate::AppState;

use model::{
    ActionResponse, Derived, HealthResponse, JobCreateRequest, JobDetailResponse, JobResponse,
    JobStatus, PushRequest, ReadyResponse, SecretFoundResponse, SecretSelectionRequest,
    SelectionResponse, LABEL_CREDENTIALS, LABEL_PLATFORM, PLATFORMS, SECRETS_SCANNER, SECRET_KIND,
};

/// Everything under `/api/v2`.
pub(crate) fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(list_jobs, create_job))
        .routes(routes!(get_job, delete_job))
        .routes(routes!(list_secrets))
        .routes(routes!(select_secrets))
        .routes(routes!(clean_job))
        .routes(routes!(download_job))
        .routes(routes!(push_job))
}

/// Longest `source_url` / `target_url`.
const MAX_URL: usize = 4096;
/// Longest branch name or credentials id.
const MAX_SHORT: usize = 255;
/// Largest `offset` of the job list.
const MAX_OFFSET: usize = 1_000_000;
/// Page size when walking scans and findings.
const WALK_PAGE: u32 = 1000;
/// Longest scan name (the engine's limit).
const MAX_NAME: usize = 200;
/// `format` values of the download.
const FORMATS: &str = "zip, tar.gz (or tgz), bundle";

/// Whether a scan is a job: `secrets` on one `repo` target, not derived from another scan.
fn is_job(scan: &Scan) -> bool {
    scan.source_scan_id.is_none()
        && scan.config.scanners.len() == 1
        && scan.config.scanners[0].name == SECRETS_SCANNER
        && scan.config.targets.len() == 1
        && scan.config.targets[0].kind() == TargetKind::Repo
}

/// The job `id` of the caller's org: 404 when there is no such scan in the org, or it is not a
/// job.
async fn load_job(state: &AppState, caller: &Caller, id: ScanId) -> ApiResult<Scan> {
    let scan = state.engine.scans().get(caller, id).await?;
    if !is_job(&scan) {
        return Err(Problem::not_found(format!("job {id} not found")));
    }
    Ok(scan)
}

/// What a derived scan does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Clean,
    Push,
}

/// The phase of a scan derived from a job (or from its clean).
fn phase_of(scan: &Scan) -> Option<Phase> {
    let has = |name: &str| scan.config.scanners.iter().any(|s| s.name == name);
    if has(CLEAN_SCANNER) {
        Some(Phase::Clean)
    } else if has(PUSH_SCANNER) {
        Some(Phase::Push)
    } else {
        None
    }
}

/// Every scan derived from `id`, newest first.
async fn derived_of(state: &AppState, caller: &Caller, id: ScanId) -> ApiResult<Vec<Scan>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = state
            .engine
            .scans()
            .list(
                caller,
                &ScanQuery {
                    state: None,
                    cursor,
                    limit: WALK_PAGE,
                    source_scan_id: Some(id),
                },
            )
            .await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// The newest clean scan of a job and the newest push scan (of the job or of any of its cleans).
async fn phases(
    state: &AppState,
    caller: &Caller,
    job: &Scan,
) -> ApiResult<(Option<Scan>, Option<Scan>)> {
    let derived = derived_of(state, caller, job.id).await?;
    let clean = derived
        .iter()
        .find(|s| phase_of(s) == Some(Phase::Clean))
        .cloned();
    let mut pushes: Vec<Scan> = derived
        .into_iter()
        .filter(|s| phase_of(s) == Some(Phase::Push))
        .collect();
    if let Some(c) = &clean {
        pushes.extend(
            derived_of(state, caller, c.id)
                .await?
                .into_iter()
                .filter(|s| phase_of(s) == Some(Phase::Push)),
        );
    }
    let push = pushes.into_iter().max_by_key(|s| (s.created_at, s.id));
    Ok((clean, push))
}

/// The DeployGuard view of a job.
async fn view(state: &AppState, caller: &Caller, job: &Scan) -> ApiResult<JobResponse> {
    let secrets = state.engine.findings().counts(caller, job.id).await?;
    let (clean, push) = phases(state, caller, job).await?;
    let derived = Derived {
        clean: clean.as_ref(),
        push: push.as_ref(),
    };
    let (status, status_message, progress_percent) = model::job_status(job, &secrets, derived);
    let finished = |s: &Option<Scan>| {
        s.as_ref()
            .filter(|s| s.state == ScanState::Completed)
            .and_then(|s| s.finished_at)
    };
    let total =
        secrets.open + secrets.selected + secrets.false_positive + secrets.accepted + secrets.fixed;
    let spec = &job.config.scanners[0];
    Ok(JobResponse {
        id: job.id,
        status,
        status_message,
        progress_percent,
        total_secrets_found: total,
        secrets_selected_for_cleaning: secrets.selected,
        created_at: job.created_at,
        scan_completed_at: (job.state == ScanState::Completed)
            .then_some(job.finished_at)
            .flatten(),
        clean_completed_at: finished(&clean),
        completed_at: finished(&push),
        source_platform: job.config.labels.get(LABEL_PLATFORM).cloned(),
        source_url: job.config.targets[0].value().to_owned(),
        source_branch: spec
            .params
            .get("branch")
            .and_then(Value::as_str)
            .map(str::to_owned),
        source_credentials_id: job.config.labels.get(LABEL_CREDENTIALS).cloned(),
        clean_scan_id: clean.as_ref().map(|s| s.id),
        push_scan_id: push.as_ref().map(|s| s.id),
    })
}

/// Every secret finding of a job, oldest first.
async fn secrets_of(state: &AppState, caller: &Caller, id: ScanId) -> ApiResult<Vec<Finding>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = state
            .engine
            .findings()
            .list(
                caller,
                id,
                &FindingQuery {
                    kind: Some(SECRET_KIND.to_owned()),
                    cursor,
                    limit: WALK_PAGE,
                    ..FindingQuery::default()
                },
            )
            .await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// A 422 for a string field outside `1..=max` characters.
fn check_len(value: Option<&str>, path: &str, max: usize) -> ApiResult<()> {
    match value {
        Some(v) if v.trim().is_empty() || v.chars().count() > max => Err(Problem::invalid(
            path,
            format!("must be 1-{max} characters, not blank"),
        )),
        _ => Ok(()),
    }
}

/// A 422 unless `platform` is absent or one of DeployGuard's (exactly, as the schema says).
fn check_platform(platform: Option<&str>, path: &str) -> ApiResult<Option<String>> {
    match platform {
        None => Ok(None),
        Some(p) => {
            if PLATFORMS.contains(&p) {
                Ok(Some(p.to_owned()))
            } else {
                Err(Problem::invalid(
                    path,
                    format!("must be one of {}", PLATFORMS.join(", ")),
                ))
            }
        }
    }
}

/// Points a v1 validation error at the v2 field it came from.
fn v2_path(problem: Problem, fields: &[(&str, &str)]) -> Problem {
    let Some(path) = problem.path.clone() else {
        return problem;
    };
    match fields.iter().find(|(v1, _)| path.starts_with(v1)) {
        Some((_, v2)) => {
            let mut p = problem;
            p.path = Some((*v2).to_owned());
            p
        }
        None => problem,
    }
}

/// Basic health: the process serves.
#[utoipa::path(
    get,
    security(()),
    path = "/health",
    tag = "deployguard",
    responses((status = 200, description = "Serving", body = HealthResponse))
)]
pub(crate) async fn health(State(state): State<AppState>) -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "healthy",
        service: "argus",
        version: state.meta.version.clone(),
    })
}

/// Readiness: every dependency (store, queue, artifacts) is reachable. The 503 answer is a
/// problem (`code` `unavailable`) that carries `services` too.
#[utoipa::path(
    get,
    security(()),
    path = "/health/ready",
    tag = "deployguard",
    responses(
        (status = 200, description = "Every dependency is reachable", body = ReadyResponse),
        (status = 503, description = "A dependency is down (a problem with `services`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let deps = state.engine.readiness().await;
    let services: BTreeMap<String, bool> = deps.iter().map(|d| (d.name.to_owned(), d.ok)).collect();
    if deps.iter().all(|d| d.ok) {
        return Json(ReadyResponse {
            status: "ready",
            services,
        })
        .into_response();
    }
    let down: Vec<&str> = deps.iter().filter(|d| !d.ok).map(|d| d.name).collect();
    let problem = Problem::new(
        Code::Unavailable,
        format!("not ready: {} unavailable", down.join(", ")),
    );
    let mut body = serde_json::to_value(&problem).unwrap_or_else(|_| json!({}));
    body["services"] = json!(services);
    let mut res = (StatusCode::SERVICE_UNAVAILABLE, body.to_string()).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    res
}

/// Creates a job: a `secrets` scan of `source_url`, started right away.
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/jobs",
    tag = "deployguard",
    request_body = JobCreateRequest,
    responses(
        (status = 201, description = "The new job (`pending`)", body = JobResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field (see `path`): an unsupported platform or URL, a path outside `scan.local_roots`, …", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Queue unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_job(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<JobCreateRequest>,
) -> ApiResult<(StatusCode, Json<JobResponse>)> {
    let platform = check_platform(req.source_platform.as_deref(), "/source_platform")?;
    check_len(Some(&req.source_url), "/source_url", MAX_URL)?;
    check_len(req.source_branch.as_deref(), "/source_branch", MAX_SHORT)?;
    check_len(
        req.source_credentials_id.as_deref(),
        "/source_credentials_id",
        MAX_SHORT,
    )?;
    let source_url = req.source_url.trim();
    let target = Target::parse(TargetKind::Repo, source_url).map_err(|e| match e {
        CoreError::Invalid { message, .. } => Problem::invalid("/source_url", message),
        other => Problem::from(other),
    })?;
    let mut params = serde_json::Map::new();
    if let Some(b) = &req.source_branch {
        params.insert("branch".into(), json!(b));
    }
    let mut labels = BTreeMap::new();
    if let Some(p) = platform {
        labels.insert(LABEL_PLATFORM.to_owned(), p);
    }
    if let Some(c) = &req.source_credentials_id {
        labels.insert(LABEL_CREDENTIALS.to_owned(), c.clone());
    }
    let config: ScanConfig = serde_json::from_value(json!({
        "scanners": [{"name": SECRETS_SCANNER, "params": params}],
        "targets": [target],
        "labels": labels,
    }))
    .map_err(|e| CoreError::Backend(format!("cannot build a job's scan config: {e}")))?;
    let name: String = format!("DeployGuard job: {}", target.value())
        .chars()
        .take(MAX_NAME)
        .collect();
    let scan = state
        .engine
        .scans()
        .create(
            &caller,
            CreateScan {
                name: Some(name),
                config,
                template_id: None,
                start: true,
            },
        )
        .await
        .map_err(|e| {
            v2_path(
                e.into(),
                &[
                    ("/config/targets", "/source_url"),
                    ("/config/scanners/0/params/branch", "/source_branch"),
                ],
            )
        })?;
    let job = view(&state, &caller, &scan).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

/// Query of `GET /api/v2/jobs`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct JobListParams {
    /// Only jobs in this status.
    #[param(value_type = Option<JobStatus>)]
    status: Option<String>,
    /// Page size, 1-100 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// Jobs to skip, 0-1000000 (default 0).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 1000000)]
    offset: Option<String>,
}

/// The caller's org's jobs, newest first (DeployGuard's plain array, paged by `offset`).
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/jobs",
    tag = "deployguard",
    params(JobListParams),
    responses(
        (status = 200, description = "Jobs, newest first", body = Vec<JobResponse>),
        (status = 422, description = "Bad query parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_jobs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<JobListParams>,
) -> ApiResult<Json<Vec<JobResponse>>> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
            let all: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
            Problem::invalid(
                "/status",
                format!("status must be one of {}", all.join(", ")),
            )
        })?),
    };
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if is_digits(s) && (1..=100).contains(&n) => n,
            _ => {
                return Err(Problem::invalid(
                    "/limit",
                    "limit must be an integer between 1 and 100",
                ))
            }
        },
    };
    let offset = match q.offset.as_deref() {
        None => 0,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if is_digits(s) && n <= MAX_OFFSET => n,
            _ => {
                return Err(Problem::invalid(
                    "/offset",
                    format!("offset must be an integer between 0 and {MAX_OFFSET}"),
                ))
            }
        },
    };
    let mut out = Vec::new();
    let mut skipped = 0usize;
    let mut cursor = None;
    loop {
        let page = state
            .engine
            .scans()
            .list(
                &caller,
                &ScanQuery {
                    state: None,
                    cursor,
                    limit: WALK_PAGE,
                    source_scan_id: None,
                },
            )
            .await?;
        for scan in page.items.iter().filter(|s| is_job(s)) {
            // Without a status filter a skipped job needs no view.
            if status.is_none() && skipped < offset {
                skipped += 1;
                continue;
            }
            let job = match view(&state, &caller, scan).await {
                Ok(j) => j,
                // Deleted since the page was read.
                Err(p) if p.code == Code::NotFound => continue,
                Err(p) => return Err(p),
            };
            if status.is_some_and(|s| s != job.status) {
                continue;
            }
            if skipped < offset {
                skipped += 1;
                continue;
            }
            out.push(job);
            if out.len() == limit {
                return Ok(Json(out));
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(Json(out)),
        }
    }
}

/// One job with every secret it found (false positives included).
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/jobs/{id}",
    tag = "deployguard",
    params(("id" = String, Path, format = Uuid, description = "Job id (the scan id)")),
    responses(
        (status = 200, description = "The job and its secrets", body = JobDetailResponse),
        (status = 404, description = "No such job in the caller's org", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_job(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
) -> ApiResult<Json<JobDetailResponse>> {
    let scan = load_job(&state, &caller, id).await?;
    let job = view(&state, &caller, &scan).await?;
    let secrets = secrets_of(&state, &caller, id)
        .await?
        .iter()
        .map(model::secret_of)
        .collect();
    // The newest clean completed: its repository downloads, whatever a push did since.
    let cleaned = job.clean_completed_at.is_some();
    Ok(Json(JobDetailResponse {
        download_url: cleaned.then(|| format!("/api/v2/jobs/{id}/download")),
        report_url: (scan.state == ScanState::Completed)
            .then(|| format!("/api/v1/scans/{id}/findings")),
        job,
        secrets,
    }))
}

/// Stops whatever of the job still runs and deletes it with its clean and push scans.
#[utoipa::path(
    delete,
    security(("bearer" = ["write"])),
    path = "/jobs/{id}",
    tag = "deployguard",
    params(("id" = String, Path, format = Uuid, description = "Job id (the scan id)")),
    responses(
        (status = 204, description = "Cancelled and deleted"),
        (status = 404, description = "No such job in the caller's org", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn delete_job(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
) -> ApiResult<StatusCode> {
    let scan = load_job(&state, &caller, id).await?;
    // Derived scans first (a push of a clean before the clean), so none is left pointing at a
    // deleted source.
    let mut doomed = Vec::new();
    for d in derived_of(&state, &caller, id).await? {
        doomed.extend(derived_of(&state, &caller, d.id).await?);
        doomed.push(d);
    }
    doomed.push(scan);
    for s in doomed {
        stop_and_delete(&state, &caller, s).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn stop_and_delete(state: &AppState, caller: &Caller, scan: Scan) -> ApiResult<()> {
    if !scan.state.can_delete() {
        match state
            .engine
            .scans()
            .act(caller, scan.id, ScanAction::Stop)
            .await
        {
            // It ended by itself meanwhile: deletable now.
            Ok(_) | Err(CoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let r = state.engine.scans().delete(caller, scan.id).await;
    state.scans.invalidate(scan.id);
    match r {
        Ok(()) | Err(CoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Query of `GET /api/v2/jobs/{id}/secrets`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SecretListParams {
    /// Include secrets marked false positive (default false).
    #[param(value_type = Option<bool>)]
    include_false_positives: Option<String>,
}

/// The job's secrets (without false positives unless asked).
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/jobs/{id}/secrets",
    tag = "deployguard",
    params(("id" = String, Path, format = Uuid, description = "Job id (the scan id)"), SecretListParams),
    responses(
        (status = 200, description = "The secrets, oldest first", body = Vec<SecretFoundResponse>),
        (status = 404, description = "No such job in the caller's org", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad query parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_secrets(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
    ApiQuery(q): ApiQuery<SecretListParams>,
) -> ApiResult<Json<Vec<SecretFoundResponse>>> {
    let with_fp = parse_flag(
        q.include_false_positives.as_deref(),
        "include_false_positives",
    )?;
    load_job(&state, &caller, id).await?;
    Ok(Json(
        secrets_of(&state, &caller, id)
            .await?
            .iter()
            .filter(|f| with_fp || f.triage != Triage::FalsePositive)
            .map(model::secret_of)
            .collect(),
    ))
}

/// Replaces the selection of secrets to clean (see the module docs).
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/jobs/{id}/secrets/select",
    tag = "deployguard",
    params(("id" = String, Path, format = Uuid, description = "Job id (the scan id)")),
    request_body = SecretSelectionRequest,
    responses(
        (status = 200, description = "How many secrets are now selected", body = SelectionResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job in the caller's org", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The scan has not completed (`state` says where it is)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An id in both lists, an id that is not a secret of this job (`detail` names them), or a malformed id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn select_secrets(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
    ApiJson(req): ApiJson<SecretSelectionRequest>,
) -> ApiResult<Json<SelectionResponse>> {
    let scan = load_job(&state, &caller, id).await?;
    if scan.state != ScanState::Completed {
        return Err(CoreError::Conflict {
            message: format!(
                "job {id} is not awaiting selection: its scan is {}",
                scan.state
            ),
            state: Some(scan.state),
        }
        .into());
    }
    let fields = [
        ("/select", "/secret_ids"),
        ("/false_positives", "/mark_false_positives"),
    ];
    if !(req.secret_ids.is_empty() && req.mark_false_positives.is_empty()) {
        let r = state
            .engine
            .findings()
            .select(&caller, id, &req.secret_ids, &req.mark_false_positives)
            .await;
        state.scans.invalidate(id);
        r.map_err(|e| v2_path(e.into(), &fields))?;
    }
    // Replace, not add: every other selected secret goes back to open.
    let keep: HashSet<FindingId> = req.secret_ids.iter().copied().collect();
    for f in secrets_of(&state, &caller, id).await? {
        if f.triage == Triage::Selected && !keep.contains(&f.id) {
            state
                .engine
                .findings()
                .set_triage(&caller, f.id, Triage::Open)
                .await?;
        }
    }
    state.scans.invalidate(id);
    let selected = state.engine.findings().counts(&caller, id).await?.selected;
    Ok(Json(SelectionResponse {
        message: format!("Selected {selected} secrets for cleaning"),
        selected_count: selected,
    }))
}

/// Starts cleaning the job's selected secrets out of the repository's history (a clean scan).
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/jobs/{id}/clean",
    tag = "deployguard",
    params(("id" = String, Path, format = Uuid, description = "Job id (the scan id)")),
    responses(
        (status = 200, description = "Cleaning started (`cleaning`)", body = ActionResponse),
        (status = 404, description = "No such job in the caller's org", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing selected, or the scan has not completed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Queue unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn clean_job(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
) -> ApiResult<Json<ActionResponse>> {
    load_job(&state, &caller, id).await?;
    let selected = state.engine.findings().counts(&caller, id).await?.selected;
    let clean = state
        .engine
        .remediation()
        .clean(
            &caller,
            id,
            CleanRequest {
                replacement: None,
                messages: false,
                replace_rules: BTreeMap::new(),
                // The job has one repository.
                target: None,
            },
        )
        .await;
    state.scans.invalidate(id);
    let clean = clean?;
    Ok(Json(ActionResponse {
        message: format!("Cleaning started for {selected} secrets"),
        job_id: id,
        status: JobStatus::Cleaning,
        target_url: None,
        scan_id: clean.id,
    }))
}

/// Query of `GET /api/v2/jobs/{id}/download`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DownloadParams {
    /// `zip` (default: a bare mirror of every ref), `tar.gz` (the same) or `bundle` (a git bundle of
    /// every ref).
    #[param(value_type = Option<String>, pattern = "^(zip|tar\\.gz|tgz|bundle)$")]
    format: Option<String>,
}

/// The cleaned repository of the job's newest completed clean, streamed.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/jobs/{id}/download",
    tag = "deployguard",
    params(("id" = String, Path, format = Uuid, description = "Job id (the scan id)"), DownloadParams),
    responses(
        (status = 200, description = "The cleaned repository", body = String, content_type = "application/octet-stream"),
        (status = 404, description = "No such job in the caller's org", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No completed clean yet", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown format", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn download_job(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
    ApiQuery(q): ApiQuery<DownloadParams>,
) -> ApiResult<Response> {
    let format = match q.format.as_deref() {
        None => ExportFormat::Zip,
        Some(s) => match ExportFormat::parse(s) {
            Some(f) => f,
            None => {
                return Err(Problem::invalid(
                    "/format",
                    format!("format must be one of {FORMATS}"),
                ))
            }
        },
    };
    load_job(&state, &caller, id).await?;
    let (file_name, content_type, stream) = state
        .engine
        .remediation()
        .download(&caller, id, format)
        .await?;
    // The engine's file name is already of safe characters only (the repository's stem).
    Ok(super::attachment(stream, &file_name, &content_type))
}

/// Pushes the job's cleaned repository to `target_url` (a push scan).
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/jobs/{id}/push",
    tag = "deployguard",
    params(("id" = String, Path, format = Uuid, description = "Job id (the scan id)")),
    request_body = PushRequest,
    responses(
        (status = 200, description = "Push started (`pushing`)", body = ActionResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job in the caller's org", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No completed clean yet", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field (see `path`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Queue unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn push_job(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
    ApiJson(req): ApiJson<PushRequest>,
) -> ApiResult<Json<ActionResponse>> {
    check_platform(req.target_platform.as_deref(), "/target_platform")?;
    check_len(Some(&req.target_url), "/target_url", MAX_URL)?;
    check_len(req.target_branch.as_deref(), "/target_branch", MAX_SHORT)?;
    check_len(
        req.target_credentials_id.as_deref(),
        "/target_credentials_id",
        MAX_SHORT,
    )?;
    load_job(&state, &caller, id).await?;
    let refs = if req.push_all_branches {
        Vec::new()
    } else {
        vec![format!(
            "refs/heads/{}",
            req.target_branch.as_deref().unwrap_or("main")
        )]
    };
    let target_url = req.target_url.trim().to_owned();
    let push = state
        .engine
        .remediation()
        .push(
            &caller,
            id,
            EnginePush {
                target_url: target_url.clone(),
                credential: None,
                credentials_id: req.target_credentials_id.clone(),
                refs,
                mirror: false,
                force: req.force_push,
            },
        )
        .await;
    state.scans.invalidate(id);
    let push = push.map_err(|e| {
        v2_path(
            e.into(),
            &[
                ("/target_url", "/target_url"),
                ("/credentials_id", "/target_credentials_id"),
                ("/refs", "/target_branch"),
                ("/force", "/force_push"),
            ],
        )
    })?;
    Ok(Json(ActionResponse {
        message: "Push started".into(),
        job_id: id,
        status: JobStatus::Pushing,
        target_url: Some(target_url),
        scan_id: push.id,
    }))
}
