//! `GET /api/v1/audit`: the caller's org's audit log (every mutating request and every
//! download or export, allowed or denied; see [`crate::audit`]), newest first, with filters
//! and paging. Admins only; the records are never another org's.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use argus_core::audit::{AuditOutcome, AuditQuery, AuditRecord};
use argus_core::finding::Page;

use crate::auth::Caller;
use crate::dto::parse_limit;
use crate::extract::ApiQuery;
use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// Query of `GET /api/v1/audit` (every filter optional; all given must hold).
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditListParams {
    /// Only records of this user (the actor).
    pub user: Option<String>,
    /// Only this action (`scan.create`, `finding.triage`, `artifact.download`, …).
    pub action: Option<String>,
    /// Only this outcome.
    #[param(value_type = Option<AuditOutcome>)]
    pub outcome: Option<String>,
    /// Only records on this resource (a request path such as `/api/v1/scans/{id}`) or below it.
    pub resource: Option<String>,
    /// Only records at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<String>,
    /// Only records before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<String>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1-1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

fn time(raw: Option<&str>, name: &str) -> Result<Option<DateTime<Utc>>, Problem> {
    raw.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                Problem::invalid(
                    format!("/{name}"),
                    format!("{name} must be an RFC 3339 time"),
                )
            })
    })
    .transpose()
}

/// A text filter: present and non-empty, at most 1024 characters.
fn text(raw: Option<String>, name: &str) -> Result<Option<String>, Problem> {
    match raw {
        None => Ok(None),
        Some(s) if s.is_empty() || s.chars().count() > 1024 || s.contains('\0') => {
            Err(Problem::invalid(
                format!("/{name}"),
                format!("{name} must be 1-1024 characters"),
            ))
        }
        Some(s) => Ok(Some(s)),
    }
}

/// The caller's org's audit records, newest first.
#[utoipa::path(
    get,
    path = "/audit",
    tag = "audit",
    params(AuditListParams),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "One page of audit records", body = Page<AuditRecord>),
        (status = 422, description = "Bad query parameter or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditListParams>,
) -> ApiResult<Json<Page<AuditRecord>>> {
    let limit = parse_limit(q.limit.as_deref())?;
    let before = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .ok()
                .filter(|n| *n > 0 && c.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    Problem::invalid("/cursor", "cursor must be a next_cursor of this list")
                })?,
        ),
    };
    let outcome = match q.outcome.as_deref() {
        None => None,
        Some(s) => Some(AuditOutcome::parse(s).map_err(|_| {
            Problem::invalid("/outcome", "outcome must be one of success, denied, failed")
        })?),
    };
    let query = AuditQuery {
        user: text(q.user, "user")?,
        action: text(q.action, "action")?,
        outcome,
        resource: text(q.resource, "resource")?,
        since: time(q.since.as_deref(), "since")?,
        until: time(q.until.as_deref(), "until")?,
        before,
        limit,
    };
    Ok(Json(state.engine.audit().list(&caller, query).await?))
}
