//! `/api/v1/schedules`: cron schedules that start scans of a template or a config
//! (`argus_core::schedule`; fired by `argus_engine::scheduler` in the process holding the
//! scheduler lease).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use argus_core::finding::Page;
use argus_core::ids::{ScheduleId, TemplateId};
use argus_core::scan::ScanConfig;
use argus_core::schedule::{Concurrency, MissedRuns, Schedule, ScheduleDef, ScheduleQuery};
use argus_core::target::Target;

use crate::auth::Caller;
use crate::dto::{parse_limit, TemplateListParams};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// `POST /api/v1/schedules` and `PUT /api/v1/schedules/{id}`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// 1-200 characters, not blank. Scans are named `<name> @ <slot>`.
    #[schema(
        max_length = 200,
        pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub name: String,
    /// Cron expression: 5 fields (minute hour day-of-month month day-of-week), or 6 with
    /// seconds first. `0 2 * * *` is 02:00 every day; `*/15 * * * *` every quarter hour.
    #[schema(example = "0 2 * * *")]
    pub cron: String,
    /// IANA time zone the expression is read in (default `UTC`).
    #[serde(default)]
    #[schema(example = "Europe/Paris")]
    pub timezone: Option<String>,
    /// Start scans of this template of the org…
    #[serde(default)]
    pub template_id: Option<TemplateId>,
    /// …with these targets instead of the template's.
    #[serde(default)]
    pub targets: Option<Vec<Target>>,
    /// Or start scans of this config (exactly one of `template_id` and `config`).
    #[serde(default)]
    pub config: Option<ScanConfig>,
    /// When a slot comes while the schedule's previous scan still runs: `forbid` (default:
    /// skip the slot), `replace` (stop the previous scan) or `allow` (run both).
    #[serde(default)]
    pub concurrency: Concurrency,
    /// Slots missed while no scheduler ran (more than a minute late): `skip` (default) or
    /// `run_once` (fire the newest of them once).
    #[serde(default)]
    pub missed_runs: MissedRuns,
    /// Default true; a disabled schedule keeps its definition and fires nothing.
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl ScheduleRequest {
    fn into_parts(self) -> (String, ScheduleDef) {
        (
            self.name,
            ScheduleDef {
                cron: self.cron,
                timezone: self.timezone.unwrap_or_else(|| "UTC".to_owned()),
                template_id: self.template_id,
                targets: self.targets,
                config: self.config,
                concurrency: self.concurrency,
                missed_runs: self.missed_runs,
                enabled: self.enabled.unwrap_or(true),
            },
        )
    }
}

/// The org's schedules, by name, paginated by cursor.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/schedules",
    tag = "schedules",
    params(TemplateListParams),
    responses(
        (status = 200, description = "One page of schedules", body = Page<Schedule>),
        (status = 422, description = "Bad query parameter or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_schedules(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TemplateListParams>,
) -> ApiResult<Json<Page<Schedule>>> {
    let query = ScheduleQuery {
        cursor: q.cursor.filter(|c| !c.is_empty()),
        limit: parse_limit(q.limit.as_deref())?,
    };
    Ok(Json(state.engine.schedules().list(&caller, &query).await?))
}

/// Creates a schedule. The expression, the zone and the template or config are validated now
/// (a config like a scan's); `next_fire_at` is the first slot after now.
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/schedules",
    tag = "schedules",
    request_body = ScheduleRequest,
    responses(
        (status = 201, description = "The new schedule", body = Schedule),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid schedule (see `path`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ScheduleRequest>,
) -> ApiResult<(StatusCode, Json<Schedule>)> {
    let (name, def) = req.into_parts();
    let s = state.engine.schedules().create(&caller, &name, def).await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// One schedule, with its next slot and what its last slot did. A path id that is not a UUID
/// answers 404.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/schedules/{id}",
    tag = "schedules",
    params(("id" = String, Path, format = Uuid, description = "Schedule id")),
    responses(
        (status = 200, description = "The schedule", body = Schedule),
        (status = 404, description = "No such schedule", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScheduleId>,
) -> ApiResult<Json<Schedule>> {
    Ok(Json(state.engine.schedules().get(&caller, id).await?))
}

/// Replaces a schedule's definition; its fire history stays and its next slot is planned from
/// now.
#[utoipa::path(
    put,
    security(("bearer" = ["write"])),
    path = "/schedules/{id}",
    tag = "schedules",
    params(("id" = String, Path, format = Uuid, description = "Schedule id")),
    request_body = ScheduleRequest,
    responses(
        (status = 200, description = "The updated schedule", body = Schedule),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such schedule", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid schedule (see `path`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn update_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScheduleId>,
    ApiJson(req): ApiJson<ScheduleRequest>,
) -> ApiResult<Json<Schedule>> {
    let (name, def) = req.into_parts();
    Ok(Json(
        state
            .engine
            .schedules()
            .update(&caller, id, &name, def)
            .await?,
    ))
}

/// Deletes a schedule; the scans it started stay.
#[utoipa::path(
    delete,
    security(("bearer" = ["write"])),
    path = "/schedules/{id}",
    tag = "schedules",
    params(("id" = String, Path, format = Uuid, description = "Schedule id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such schedule", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn delete_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScheduleId>,
) -> ApiResult<StatusCode> {
    state.engine.schedules().delete(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
