//! Request and response bodies that are not domain types.
//!
//! Every request body rejects unknown fields (`deny_unknown_fields`): a misspelt option is a 422
//! naming it, not a silently ignored setting. Query parameters are taken as strings and parsed by
//! the handlers, so a bad value is a 422 naming the parameter.
//!
//! Invariant: the OpenAPI schema of every field and parameter says exactly what the server
//! accepts (checked by schemathesis in CI). Query parameters are documented with their real
//! types (`integer`, `boolean`, an enum) while parsed from strings here; an empty value is not
//! a value of those types and is a 422, never silently "absent". Names are 1-200 characters
//! with one that is not whitespace ([`NAME_PATTERN`]), as the engine checks them.

use serde::{Deserialize, Serialize};

use argus_core::finding::{FindingSort, Severity, Triage};
use argus_core::ids::{FindingId, TemplateId};
use argus_core::scan::{Progress, Scan, ScanConfig, ScanState};
use argus_core::target::Target;

use crate::problem::Problem;

/// The pattern of a name: at least one character outside Unicode's `White_Space` (the set Rust's
/// `str::trim` removes, listed explicitly so that every regex dialect reads it the same way).
pub const NAME_PATTERN: &str = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]";

/// `POST /api/v1/scans`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScanRequest {
    /// Display name (1-200 characters, not blank); derived from the scanners and the first
    /// target when absent.
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub name: Option<String>,
    pub config: ScanConfig,
    /// The template this scan was made from (must exist in the caller's org).
    #[serde(default)]
    pub template_id: Option<TemplateId>,
    /// Start right away (`created → queued`).
    #[serde(default)]
    pub start: bool,
}

/// `POST /api/v1/scans/plan`: a scan config, or a template of the caller's org with optional
/// targets replacing its own.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanScanRequest {
    #[serde(default)]
    pub config: Option<ScanConfig>,
    #[serde(default)]
    pub template_id: Option<TemplateId>,
    /// With `template_id`: the targets to plan for instead of the template's.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub targets: Option<Vec<argus_core::target::Target>>,
}

/// `PUT /api/v1/scans/{id}` (only while the scan is `created`).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateScanRequest {
    /// Display name (1-200 characters, not blank); derived when absent.
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
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
    /// The scan completed with secret findings that still wait for a decision: some are `open`
    /// and none is `selected` yet. The next step is `POST /scans/{id}/findings/select`. Turns
    /// false once a finding of the scan is selected, or when none is left open.
    pub awaiting_selection: bool,
}

/// `GET /api/v1/scans/{id}`: the scan and whether it awaits a selection of its secret findings.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ScanView {
    #[serde(flatten)]
    pub scan: Scan,
    /// As in `GET /scans/{id}/status`: the scan completed with secret findings of which some
    /// are `open` and none is `selected` yet.
    pub awaiting_selection: bool,
}

/// `POST /api/v1/scans/{id}/findings/select`: triage of many findings of one scan at once.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectRequest {
    /// Findings to mark `selected` (the real secrets to act on).
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub select: Vec<FindingId>,
    /// Findings to mark `false_positive` (remembered for later scans of the same target).
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub false_positives: Vec<FindingId>,
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
    /// 1-200 characters, not blank.
    #[schema(
        max_length = 200,
        pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub config: ScanConfig,
}

/// `POST /api/v1/templates/{id}/scans`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanFromTemplateRequest {
    /// Defaults to the template's name. 1-200 characters, not blank.
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub name: Option<String>,
    /// Replaces the template's targets when given (1-100000 of them).
    #[serde(default)]
    #[schema(min_items = 1, max_items = 100000)]
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
    /// Only scans in this state.
    #[param(value_type = Option<ScanState>)]
    pub state: Option<String>,
    /// Only the scans derived from this one (its clean and push scans).
    #[param(value_type = Option<uuid::Uuid>, format = Uuid)]
    pub source_scan_id: Option<String>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1-1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

/// Query of `GET /api/v1/templates`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateListParams {
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1-1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

/// Query of `GET /api/v1/sinks/{name}/dead-letters`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterListParams {
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1-1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

/// Query of `GET /api/v1/scans/{id}/findings`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindingListParams {
    /// Only findings of this kind.
    pub kind: Option<String>,
    /// Only findings of exactly this severity.
    #[param(value_type = Option<Severity>)]
    pub severity: Option<String>,
    /// Only findings at or above this severity.
    #[param(value_type = Option<Severity>)]
    pub min_severity: Option<String>,
    /// Only findings of this scanner (registry name).
    pub scanner: Option<String>,
    /// Only findings in this triage state.
    #[param(value_type = Option<Triage>)]
    pub triage: Option<String>,
    /// `created` (default, oldest first), `created_desc` or `severity` (most severe first).
    #[param(value_type = Option<FindingSort>)]
    pub sort: Option<String>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1-1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

/// Query of `GET /api/v1/scans/{id}/verdicts`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerdictListParams {
    /// Only verdicts of this kind.
    #[param(value_type = Option<argus_core::detector::VerdictKind>)]
    pub verdict: Option<String>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1-1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

/// Query of the SSE endpoints.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Resume after this event id (fallback for clients that cannot set `Last-Event-ID`; the
    /// header wins when both are present). Without either, a scan stream starts at the scan's
    /// first event and the org stream at the next event committed.
    #[param(value_type = Option<i64>, minimum = 0)]
    pub last_event_id: Option<String>,
    /// `true`: end the stream after the scan's terminal `state` event (scan streams only).
    #[param(value_type = Option<bool>)]
    pub until_terminal: Option<String>,
}

/// Whether `s` is a non-negative decimal integer as a client writes one (digits only: no sign,
/// no spaces, no exponent).
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses an optional page size: 1-1000, default 100.
pub(crate) fn parse_limit(raw: Option<&str>) -> Result<u32, Problem> {
    match raw {
        None => Ok(100),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if is_digits(s) && (1..=1000).contains(&n) => Ok(n),
            _ => Err(Problem::invalid(
                "/limit",
                "limit must be an integer between 1 and 1000",
            )),
        },
    }
}

/// Parses an optional enum-valued query parameter with its wire parser. An empty value is not
/// one of the allowed values: 422, like any other.
pub(crate) fn parse_opt<T>(
    raw: Option<&str>,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Option<T>, Problem> {
    match raw {
        None => Ok(None),
        Some(s) => parse(s).map(Some).ok_or_else(|| {
            Problem::invalid(
                format!("/{name}"),
                format!("{name} must be one of {allowed}"),
            )
        }),
    }
}

/// Parses a boolean query flag: `true` or `false` (absent = false).
pub(crate) fn parse_flag(raw: Option<&str>, name: &str) -> Result<bool, Problem> {
    match raw {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(Problem::invalid(
            format!("/{name}"),
            format!("{name} must be true or false"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_typed_and_empty_is_not_absent() {
        assert_eq!(parse_limit(None).unwrap(), 100);
        assert_eq!(parse_limit(Some("1000")).unwrap(), 1000);
        for bad in ["", "0", "1001", "+5", " 5", "5.0", "-1", "x"] {
            assert_eq!(parse_limit(Some(bad)).unwrap_err().status, 422, "{bad:?}");
        }
        let parse = |s: &str| (s == "a").then_some(1);
        assert_eq!(parse_opt(None, "x", parse, "a").unwrap(), None);
        assert_eq!(parse_opt(Some("a"), "x", parse, "a").unwrap(), Some(1));
        assert_eq!(
            parse_opt(Some(""), "x", parse, "a").unwrap_err().status,
            422
        );
        assert!(!parse_flag(None, "f").unwrap());
        assert!(parse_flag(Some("true"), "f").unwrap());
        for bad in ["", "1", "0", "yes", "TRUE"] {
            assert_eq!(
                parse_flag(Some(bad), "f").unwrap_err().status,
                422,
                "{bad:?}"
            );
        }
    }
}
