//! Request and response bodies that are not domain types.
//!
//! Every request body rejects unknown fields (`deny_unknown_fields`): a misspelt option is a 422
//! naming it, not a silently ignored setting. Query parameters are taken as strings and parsed by
//! the handlers, so a bad value is a 422 naming the parameter.

use serde::{Deserialize, Serialize};

use argus_core::finding::Triage;
use argus_core::ids::TemplateId;
use argus_core::scan::{Progress, ScanConfig, ScanState};
use argus_core::target::Target;

use crate::problem::Problem;

/// `POST /api/v1/scans`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScanRequest {
    /// Display name; derived from the scanners and the first target when absent.
    #[serde(default)]
    pub name: Option<String>,
    pub config: ScanConfig,
    /// The template this scan was made from (must exist in the caller's org).
    #[serde(default)]
    pub template_id: Option<TemplateId>,
    /// Start right away (`created → queued`).
    #[serde(default)]
    pub start: bool,
}

/// `PUT /api/v1/scans/{id}` (only while the scan is `created`).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateScanRequest {
    #[serde(default)]
    pub name: Option<String>,
    pub config: ScanConfig,
}

/// `GET /api/v1/scans/{id}/status`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ScanStatus {
    pub state: ScanState,
    pub reason: Option<String>,
    pub progress: Progress,
    /// `(done + failed) / max(enqueued, expected_total)`, in `[0, 1]`.
    pub fraction: f64,
}

/// `PATCH /api/v1/findings/{id}`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageRequest {
    pub triage: Triage,
}

/// `POST /api/v1/templates` and `PUT /api/v1/templates/{id}`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub config: ScanConfig,
}

/// `POST /api/v1/templates/{id}/scans`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanFromTemplateRequest {
    /// Defaults to the template's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Replaces the template's targets when given.
    #[serde(default)]
    pub targets: Option<Vec<Target>>,
    #[serde(default)]
    pub start: bool,
}

/// `GET /healthz`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok` while the process serves.
    pub status: &'static str,
}

/// `GET /readyz`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ok` when every dependency is reachable, else `unavailable`.
    pub status: &'static str,
    pub dependencies: Vec<Dependency>,
}

/// One dependency's health.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Dependency {
    /// `store`, `queue` or `artifacts`.
    pub name: String,
    /// Backend in use, e.g. `sqlite`.
    pub backend: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Query of `GET /api/v1/scans`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScanListParams {
    /// Only scans in this state (`created`, `queued`, `running`, `paused`, `completed`,
    /// `failed`, `cancelled`).
    pub state: Option<String>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1-1000 (default 100).
    pub limit: Option<String>,
}

/// Query of `GET /api/v1/scans/{id}/findings`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindingListParams {
    /// Only findings of this kind.
    pub kind: Option<String>,
    /// Only findings of exactly this severity (`info`, `low`, `medium`, `high`, `critical`).
    pub severity: Option<String>,
    /// Only findings at or above this severity.
    pub min_severity: Option<String>,
    /// Only findings of this scanner (registry name).
    pub scanner: Option<String>,
    /// Only findings in this triage state (`open`, `selected`, `false_positive`, `accepted`,
    /// `fixed`).
    pub triage: Option<String>,
    /// `created` (default, oldest first), `created_desc` or `severity` (most severe first).
    pub sort: Option<String>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1-1000 (default 100).
    pub limit: Option<String>,
}

/// Query of the SSE endpoints.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Resume after this event id (fallback for clients that cannot set `Last-Event-ID`; the
    /// header wins when both are present). Without either, a scan stream starts at the scan's
    /// first event and the org stream at the next event committed.
    pub last_event_id: Option<String>,
    /// `true`: end the stream after the scan's terminal `state` event (scan streams only).
    pub until_terminal: Option<String>,
}

/// Parses an optional page size: 1-1000, default 100.
pub(crate) fn parse_limit(raw: Option<&str>) -> Result<u32, Problem> {
    match raw {
        None => Ok(100),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(n),
            _ => Err(Problem::invalid(
                "/limit",
                "limit must be an integer between 1 and 1000",
            )),
        },
    }
}

/// Parses an optional enum-valued query parameter with its wire parser.
pub(crate) fn parse_opt<T>(
    raw: Option<&str>,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Option<T>, Problem> {
    match raw {
        None | Some("") => Ok(None),
        Some(s) => parse(s).map(Some).ok_or_else(|| {
            Problem::invalid(
                format!("/{name}"),
                format!("{name} must be one of {allowed}"),
            )
        }),
    }
}

/// Parses a boolean query flag (`true`/`false`/`1`/`0`, absent = false).
pub(crate) fn parse_flag(raw: Option<&str>, name: &str) -> Result<bool, Problem> {
    match raw {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(Problem::invalid(
            format!("/{name}"),
            format!("{name} must be true or false"),
        )),
    }
}
