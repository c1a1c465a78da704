//! `/runs`: the Discovery API's runs, a thin layer over Argus scans, so Discovery clients keep
//! working against Argus (issue #14).
//!
//! The design followed is the Discovery API of `0bytes-security/discovery-ce` (`apps/api`, a
//! FastAPI app that ran ProjectDiscovery tools in containers as Celery tasks): its `Run` model
//! (`discovery/db/models.py`: `id`, `name`, `parent_id`, `owner_id`, `parameters`, `status` in
//! `PENDING | RUNNING | SUCCESS | FAILED`, `result`, `files`, `errors`, `started_at`,
//! `failed_at`, `completed_at`, `created_at`, `updated_at`), its run request (`TaskRequest`:
//! `task` and `params`, later `id` and `parameters` with `owner_id` and `parent_id`), its list
//! (`GET /runs`, a `fastapi_pagination` page `{items, total, page, size, pages}` with `page` and
//! `size`; `POST /runs/filters`), `GET /runs/{run_id}`, and its socket `/runs/ws` (client
//! messages `{"action": "QUERY" | "RUN_TASK", "data"}`, answers `{"success", "data"}`; status
//! changes went out through Pusher as `RUN_CREATED` / `RUN_STATUS_CHANGED` with `status` as
//! `[previous, new]`, which this socket pushes itself). Argus's additions are marked "Argus:" in
//! [`model`].
//!
//! A run is an Argus scan with one scanner that is not derived from another scan; the run id is
//! the scan id, and the same record is `/api/v1/scans/{id}`. Its results are the scan's findings
//! (`GET /runs/{run_id}/results`, the v1 finding page).
//!
//! Status mapping (`status`; the scan's own `state` is in the answer too):
//!
//! | Argus scan state      | Discovery `status` |
//! |-----------------------|--------------------|
//! | `created`, `queued`   | `PENDING`          |
//! | `running`, `paused`   | `RUNNING`          |
//! | `completed`           | `SUCCESS`          |
//! | `failed`, `cancelled` | `FAILED` (`errors` says which and why) |
//!
//! Creating a run: the task names a scanner: a built-in one by its name (`noop`, `secrets`), an
//! external tool by its bare name (`subfinder` → `tool:subfinder`) or its full one. The targets
//! are `target`/`targets` (plain strings, their kind guessed from what the scanner accepts, most
//! specific first as the CLI's direct mode does, or `{"kind", "value"}`), else the Discovery-style
//! target parameters (`domain`, `url`, `host`, …, see [`model::TARGET_PARAMS`]), which are then
//! taken out of the parameters. The scan is created and started through the scans service as the
//! caller, so every engine rule holds (params checked against the scanner's schema, targets
//! against the scanner, the network guard, roles); its 422s point at this API's fields (`/task`,
//! `/parameters/…`, `/targets/…`).
//!
//! Differences from the Discovery API, on purpose:
//! - Errors are the v1 problem details (`application/problem+json`); a run of another org is a
//!   404; a path id that is not a UUID is a 404 (Discovery said 400); an unknown task is a 422
//!   naming `/task` (Discovery said 404).
//! - `POST /runs` answers 201 with the whole run (Discovery's `/tasks/run` answered `{"id"}`,
//!   which the run contains).
//! - `owner_id` is recorded and answered, and the list and `QUERY` filter by it, but tenancy is
//!   the caller's org (trusted headers: `X-User-ID`, `X-Org-ID`), never `owner_id`.
//! - `result` holds the finding count and where the findings are (Argus keeps findings, not a
//!   tool's raw output); `files` is always empty (the scan's artifacts are under `/api/v1`).
//! - Runs are not deleted here (`DELETE /api/v1/scans/{id}` does it).
//!
//! Cost: the list walks the org's scans newest first and keeps the runs among them (runs are not
//! stored apart from other scans), so every list call reads every scan of the org once.
//!
//! Invariant: handlers only call engine services with the caller's principal (tenancy is
//! theirs); every run route first loads the run through the org-scoped scans service.

pub(crate) mod model;
mod ws;

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use argus_core::finding::{Finding, FindingQuery, Page};
use argus_core::ids::ScanId;
use argus_core::scan::{Scan, ScanConfig};
use argus_core::store::ScanQuery;
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use argus_engine::services::CreateScan;

use crate::auth::Caller;
use crate::dto::{is_digits, parse_limit};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiResult, Code, Problem};
use crate::AppState;

use model::{
    guess_target, is_run, run_of, Run, RunFilters, RunPage, RunRequest, RunStatus, TargetInput,
    LABEL_OWNER, LABEL_PARENT, LABEL_TASK, TARGET_PARAMS,
};

/// Everything under `/runs` (mounted at the server root, where Discovery clients call it).
pub(crate) fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runs, create_run))
        .routes(routes!(filter_runs))
        .routes(routes!(ws::runs_ws))
        .routes(routes!(get_run))
        .routes(routes!(run_results))
}

/// Page size when walking scans.
const WALK_PAGE: u32 = 1000;
/// Longest task name.
const MAX_TASK: usize = 200;
/// Longest `owner_id`.
const MAX_OWNER: usize = 255;
/// Most targets of one run.
const MAX_TARGETS: usize = 1000;
/// Largest `size` of a page of runs.
const MAX_SIZE: u64 = 100;
/// Largest `page` number.
const MAX_PAGE: u64 = 1_000_000;
/// Longest scan name (the engine's limit).
const MAX_NAME: usize = 200;

/// The run `id` of the caller's org: 404 when there is no such scan in the org, or it is not a
/// run.
pub(crate) async fn load_run(state: &AppState, caller: &Caller, id: ScanId) -> ApiResult<Scan> {
    let scan = state.engine.scans().get(caller, id).await?;
    if !is_run(&scan) {
        return Err(Problem::not_found(format!("run {id} not found")));
    }
    Ok(scan)
}

/// Every run of the caller's org that passes `filters`, newest first.
async fn runs_matching(
    state: &AppState,
    caller: &Caller,
    filters: &RunFilters,
) -> ApiResult<Vec<Run>> {
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
                    source_scan_id: None,
                },
            )
            .await?;
        for scan in page.items.iter().filter(|s| is_run(s)) {
            let run = run_of(scan);
            if filters.admits(&run, run.parent_id) {
                out.push(run);
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// The scanner a task names: a scanner of this server by that name, else the external tool of
/// that name (`subfinder` → `tool:subfinder`). A name the server does not know is left for the
/// engine to refuse (a 422 at `/task`): with workers elsewhere, only they know their tools.
fn scanner_for(state: &AppState, task: &str) -> String {
    let registry = state.engine.registry();
    if registry.get(task).is_some() || task.contains(':') {
        return task.to_owned();
    }
    format!("tool:{task}")
}

/// Points an engine validation error at the field of this API it came from: `(engine prefix,
/// our field, keep the rest of the path)`.
fn runs_path(problem: Problem, fields: &[(&str, &str, bool)]) -> Problem {
    let Some(path) = problem.path.clone() else {
        return problem;
    };
    match fields.iter().find(|(v1, _, _)| path.starts_with(v1)) {
        Some((v1, ours, keep)) => {
            let rest = if *keep { &path[v1.len()..] } else { "" };
            let mut p = problem;
            p.path = Some(format!("{ours}{rest}"));
            p
        }
        None => problem,
    }
}

/// One target as the client wrote it, at `path`.
fn target_of(
    state: &AppState,
    scanner: &str,
    input: &TargetInput,
    path: &str,
) -> ApiResult<Target> {
    match input {
        TargetInput::Typed(raw) => Target::parse(raw.kind, &raw.value).map_err(|e| match e {
            CoreError::Invalid { message, .. } => Problem::invalid(path, message),
            other => Problem::from(other),
        }),
        TargetInput::Plain(value) => {
            let registry = state.engine.registry();
            // A scanner this server does not know (a remote worker's tool): any kind may do, the
            // engine checks what the workers accept.
            let known = registry.get(scanner).is_some();
            guess_target(value, |k: TargetKind| {
                !known || registry.accepts(scanner, k)
            })
            .map_err(|m| Problem::invalid(path, m))
        }
    }
}

/// The targets of a run request and the parameters left once Discovery-style target parameters
/// are taken out (`params_path`: where the client gave the parameters).
fn targets_of(
    state: &AppState,
    scanner: &str,
    req: &RunRequest,
    mut params: Map<String, Value>,
    params_path: &str,
) -> ApiResult<(Vec<Target>, Map<String, Value>)> {
    let mut out = Vec::new();
    if let Some(t) = &req.target {
        out.push(target_of(state, scanner, t, "/target")?);
    }
    for (i, t) in req.targets.iter().flatten().enumerate() {
        out.push(target_of(state, scanner, t, &format!("/targets/{i}"))?);
    }
    if out.is_empty() {
        for key in TARGET_PARAMS {
            let Some(v) = params.remove(key) else {
                continue;
            };
            let path = format!("{params_path}/{key}");
            let (values, many) = match v {
                Value::Array(items) => (items, true),
                other => (vec![other], false),
            };
            for (i, v) in values.into_iter().enumerate() {
                let at = if many {
                    format!("{path}/{i}")
                } else {
                    path.clone()
                };
                let input: TargetInput = serde_json::from_value(v).map_err(|_| {
                    Problem::invalid(
                        at.clone(),
                        "a target must be a string or {\"kind\", \"value\"}",
                    )
                })?;
                out.push(target_of(state, scanner, &input, &at)?);
            }
        }
    }
    if out.is_empty() {
        return Err(Problem::invalid(
            "/targets",
            format!(
                "a run needs a target: `target`, `targets`, or a target parameter ({})",
                TARGET_PARAMS.join(", ")
            ),
        ));
    }
    if out.len() > MAX_TARGETS {
        return Err(Problem::invalid(
            "/targets",
            format!("at most {MAX_TARGETS} targets per run"),
        ));
    }
    Ok((out, params))
}

/// A 422 for a string field outside `1..=max` characters, blank, or with control characters.
fn check_text(value: &str, path: &str, max: usize) -> ApiResult<()> {
    if value.trim().is_empty() || value.chars().count() > max || value.chars().any(char::is_control)
    {
        return Err(Problem::invalid(
            path,
            format!("must be 1-{max} characters, not blank, without control characters"),
        ));
    }
    Ok(())
}

/// Validates a run request and creates and starts its scan as the caller (shared by `POST /runs`
/// and the socket's `RUN_TASK`).
pub(crate) async fn start_run(
    state: &AppState,
    caller: &Caller,
    req: RunRequest,
) -> ApiResult<Scan> {
    let (task, task_path) = req.task().map_err(|(p, m)| Problem::invalid(p, m))?;
    check_text(task, task_path, MAX_TASK)?;
    let task = task.trim();
    let (params, params_path) = req.parameters().map_err(|(p, m)| Problem::invalid(p, m))?;
    if let Some(o) = &req.owner_id {
        check_text(o, "/owner_id", MAX_OWNER)?;
    }
    let parent = match req.parent_id.as_deref() {
        None => None,
        Some(p) => {
            let id = p
                .parse::<ScanId>()
                .map_err(|_| Problem::invalid("/parent_id", "must be a run id (a UUID)"))?;
            // The parent must be a run of the caller's org: another org's is as absent as none.
            match load_run(state, caller, id).await {
                Ok(_) => Some(id),
                Err(p) if p.code == Code::NotFound => {
                    return Err(Problem::invalid("/parent_id", format!("no run {id}")))
                }
                Err(p) => return Err(p),
            }
        }
    };
    let scanner = scanner_for(state, task);
    let (targets, params) = targets_of(state, &scanner, &req, params, params_path)?;
    let mut labels = BTreeMap::new();
    labels.insert(LABEL_TASK.to_owned(), task.to_owned());
    if let Some(o) = &req.owner_id {
        labels.insert(LABEL_OWNER.to_owned(), o.clone());
    }
    if let Some(p) = parent {
        labels.insert(LABEL_PARENT.to_owned(), p.to_string());
    }
    let config: ScanConfig = serde_json::from_value(json!({
        "scanners": [{"name": scanner, "params": params}],
        "targets": targets,
        "labels": labels,
    }))
    .map_err(|e| CoreError::Backend(format!("cannot build a run's scan config: {e}")))?;
    let name: String = format!("Discovery run: {task} on {}", targets[0].value())
        .chars()
        .take(MAX_NAME)
        .collect();
    let scan = state
        .engine
        .scans()
        .create(
            caller,
            CreateScan {
                name: Some(name),
                config,
                template_id: None,
                start: true,
            },
        )
        .await
        .map_err(|e| {
            runs_path(
                e.into(),
                &[
                    ("/config/scanners/0/params", params_path, true),
                    ("/config/scanners", task_path, false),
                    ("/config/targets", "/targets", true),
                ],
            )
        })?;
    Ok(scan)
}

/// Query of `GET /runs`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunListParams {
    /// Page number, from 1 (default 1).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000000)]
    page: Option<String>,
    /// Page size, 1-100 (default 50).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    size: Option<String>,
    /// Only runs in this status (`PENDING`, `RUNNING`, `SUCCESS`, `FAILED`; lower case too).
    #[param(value_type = Option<RunStatus>)]
    status: Option<String>,
    /// Only runs of this task (`name`).
    name: Option<String>,
    /// Only runs of this task (`name`); the same as `name`.
    tool: Option<String>,
    /// Only runs with this `owner_id`.
    owner_id: Option<String>,
}

/// Query of `POST /runs/filters`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageParams {
    /// Page number, from 1 (default 1).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000000)]
    page: Option<String>,
    /// Page size, 1-100 (default 50).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    size: Option<String>,
}

/// `page` and `size` of a query.
fn paging(page: Option<&str>, size: Option<&str>) -> ApiResult<(u64, u64)> {
    let number = |raw: Option<&str>, name: &str, default: u64, max: u64| match raw {
        None => Ok(default),
        Some(s) => match s.parse::<u64>() {
            Ok(n) if is_digits(s) && (1..=max).contains(&n) => Ok(n),
            _ => Err(Problem::invalid(
                format!("/{name}"),
                format!("{name} must be an integer between 1 and {max}"),
            )),
        },
    };
    Ok((
        number(page, "page", 1, MAX_PAGE)?,
        number(size, "size", 50, MAX_SIZE)?,
    ))
}

/// Lists the caller's org's runs, newest first, a page at a time (`page` from 1, `size`).
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/runs",
    tag = "discovery",
    params(RunListParams),
    responses(
        (status = 200, description = "One page of runs, newest first", body = RunPage),
        (status = 422, description = "Bad query parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_runs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RunListParams>,
) -> ApiResult<Json<RunPage>> {
    let (page, size) = paging(q.page.as_deref(), q.size.as_deref())?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(RunStatus::parse(s).ok_or_else(|| {
            Problem::invalid(
                "/status",
                "status must be one of PENDING, RUNNING, SUCCESS, FAILED",
            )
        })?),
    };
    // `name` and `tool` are the same filter; both given, a run must pass both.
    let tool = q.tool.clone();
    let filters = RunFilters {
        name: q.name.or(q.tool),
        status,
        owner_id: q.owner_id,
        parent_id: None,
    };
    let mut all = runs_matching(&state, &caller, &filters).await?;
    if let Some(t) = tool {
        all.retain(|r| r.name == t);
    }
    Ok(Json(RunPage::of(all, page, size)))
}

/// Lists the caller's org's runs that pass every filter of the body, newest first, a page at a
/// time (the Discovery API's `POST /runs/filters`).
#[utoipa::path(
    post,
    security(("bearer" = ["read"])),
    path = "/runs/filters",
    tag = "discovery",
    params(PageParams),
    request_body = RunFilters,
    responses(
        (status = 200, description = "One page of matching runs, newest first", body = RunPage),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown filter or bad value (see `path`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn filter_runs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageParams>,
    ApiJson(filters): ApiJson<RunFilters>,
) -> ApiResult<Json<RunPage>> {
    let (page, size) = paging(q.page.as_deref(), q.size.as_deref())?;
    if let Some(p) = &filters.parent_id {
        if p.parse::<ScanId>().is_err() {
            return Err(Problem::invalid("/parent_id", "must be a run id (a UUID)"));
        }
    }
    let all = runs_matching(&state, &caller, &filters).await?;
    Ok(Json(RunPage::of(all, page, size)))
}

/// Creates a run and starts it: a scan of `task` on the targets (see the module docs).
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/runs",
    tag = "discovery",
    request_body = RunRequest,
    responses(
        (status = 201, description = "The new run (`PENDING`)", body = Run),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not create runs", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field (see `path`): an unknown task, a target it does not accept, parameters its schema refuses, …", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Queue unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<RunRequest>,
) -> ApiResult<(StatusCode, Json<Run>)> {
    let scan = start_run(&state, &caller, req).await?;
    Ok((StatusCode::CREATED, Json(run_of(&scan))))
}

/// One run.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/runs/{run_id}",
    tag = "discovery",
    params(("run_id" = String, Path, format = Uuid, description = "Run id (the scan id)")),
    responses(
        (status = 200, description = "The run", body = Run),
        (status = 404, description = "No such run in the caller's org", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
) -> ApiResult<Json<Run>> {
    let scan = load_run(&state, &caller, id).await?;
    Ok(Json(run_of(&scan)))
}

/// Query of `GET /runs/{run_id}/results`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ResultParams {
    /// Opaque cursor from the previous page's `next_cursor`.
    cursor: Option<String>,
    /// Page size, 1-1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// Argus: the run's results, i.e. its scan's findings (oldest first, paginated by cursor; the
/// finding format of `/api/v1`).
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/runs/{run_id}/results",
    tag = "discovery",
    params(("run_id" = String, Path, format = Uuid, description = "Run id (the scan id)"), ResultParams),
    responses(
        (status = 200, description = "One page of findings", body = Page<Finding>),
        (status = 404, description = "No such run in the caller's org", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad query parameter (a cursor this API did not hand out, a limit out of range)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn run_results(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
    ApiQuery(q): ApiQuery<ResultParams>,
) -> ApiResult<Json<Page<Finding>>> {
    let query = FindingQuery {
        cursor: q.cursor.filter(|c| !c.is_empty()),
        limit: parse_limit(q.limit.as_deref())?,
        ..FindingQuery::default()
    };
    load_run(&state, &caller, id).await?;
    Ok(Json(
        state.engine.findings().list(&caller, id, &query).await?,
    ))
}
