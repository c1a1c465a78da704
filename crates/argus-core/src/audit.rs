//! The audit log: who did what to which resource, with what outcome, from where and when.
//!
//! The API records every mutating request (every method but `GET`/`HEAD`/`OPTIONS`) and every
//! download or export, allowed or denied, of a caller it identified ([`NewAuditRecord`]); the
//! store keeps them in one append-only table per backend ([`AuditStore`]), listed per org at
//! `GET /api/v1/audit` and forwarded to sinks as `audit` events.
//!
//! Invariants every backend keeps (checked by `testkit::store_suite`):
//! - Append-only: the trait has no update or delete, and the tables refuse both (triggers), so
//!   a record once written stays as written. Retention is the operator's business (an export
//!   through a sink), never a side effect of the API.
//! - Ids come from the store-wide sequence of event ids (an audit record's id is never an
//!   event's, so forwarded events of both kinds are keyed by id), strictly increasing, and
//!   become visible in id order
//!   ([`AuditStore::audit_since`] never returns id N+1 while N may still appear), so a
//!   forwarder's audit cursor never skips a record.
//! - Lists are scoped by org: another org's records are never visible.
//! - A record holds no request body, no query string and no credential: `resource` is the
//!   request's path only, `client` an address.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::finding::Page;
use crate::ids::{OrgId, Role, UserId};

/// How an audited request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// Answered 1xx, 2xx or 3xx.
    Success,
    /// Refused for the caller's role (403).
    Denied,
    /// Any other error answer (invalid input, not found, conflict, backend failure).
    Failed,
}

impl AuditOutcome {
    /// The outcome of an answer with HTTP status `status`.
    pub fn of_status(status: u16) -> Self {
        match status {
            401 | 403 => AuditOutcome::Denied,
            s if s >= 400 => AuditOutcome::Failed,
            _ => AuditOutcome::Success,
        }
    }

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Denied => "denied",
            AuditOutcome::Failed => "failed",
        }
    }

    /// The outcome named `s` (`success`, `denied`, `failed`).
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "success" => Ok(AuditOutcome::Success),
            "denied" => Ok(AuditOutcome::Denied),
            "failed" => Ok(AuditOutcome::Failed),
            _ => Err(CoreError::invalid(
                "/outcome",
                "outcome must be one of success, denied, failed",
            )),
        }
    }
}

/// The role named `s` as [`Role::as_str`] writes it (stored records read back with it).
pub fn role_named(s: &str) -> Option<Role> {
    [Role::Admin, Role::Analyst, Role::Viewer]
        .into_iter()
        .find(|r| r.as_str() == s)
}

/// An audit record to append.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAuditRecord {
    /// When the request arrived.
    pub at: DateTime<Utc>,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub role: Role,
    /// What was done, as a dotted name (`scan.create`, `finding.triage`, `artifact.download`).
    pub action: String,
    /// The HTTP method.
    pub method: String,
    /// The matched route template (`/api/v1/scans/{id}/start`).
    pub route: String,
    /// The request's path (`/api/v1/scans/0191…/start`), never its query string.
    pub resource: String,
    pub outcome: AuditOutcome,
    /// The answer's HTTP status.
    pub status: u16,
    /// The client's address (the peer, or the address a trusted proxy reports).
    pub client: Option<String>,
    /// The request id (the client's valid `X-Request-Id`, or one made up), echoed in the answer.
    pub request_id: String,
}

/// A stored audit record (`GET /api/v1/audit`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Strictly increasing store-wide (the `event_id` of the forwarded `audit` event).
    pub id: i64,
    /// When the request arrived (millisecond precision).
    pub at: DateTime<Utc>,
    pub org_id: OrgId,
    /// Who: the caller's user id.
    pub user_id: UserId,
    /// The caller's role when it made the request (`admin`, `analyst`, `viewer`).
    #[schema(value_type = String)]
    pub role: Role,
    /// What was done (`scan.create`, `finding.triage`, `artifact.download`, …).
    pub action: String,
    pub method: String,
    /// The matched route template.
    pub route: String,
    /// The request's path, naming the resource acted on.
    pub resource: String,
    pub outcome: AuditOutcome,
    /// The answer's HTTP status.
    pub status: u16,
    /// The client's address.
    pub client: Option<String>,
    pub request_id: String,
}

impl AuditRecord {
    /// The stored form of `r` under `id`, with `at` cut to the millisecond every backend keeps.
    pub fn stored(id: i64, r: NewAuditRecord) -> Self {
        let at = DateTime::from_timestamp_millis(r.at.timestamp_millis()).unwrap_or(r.at);
        AuditRecord {
            id,
            at,
            org_id: r.org_id,
            user_id: r.user_id,
            role: r.role,
            action: r.action,
            method: r.method,
            route: r.route,
            resource: r.resource,
            outcome: r.outcome,
            status: r.status,
            client: r.client,
            request_id: r.request_id,
        }
    }
}

/// Filters and paging of [`AuditStore::list_audit`] (newest first; every filter optional).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditQuery {
    /// Only this user's records.
    pub user: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    pub outcome: Option<AuditOutcome>,
    /// Only records on this resource or below it (`/api/v1/scans/X` matches the scan and
    /// `/api/v1/scans/X/start`, not `/api/v1/scans/XY`).
    pub resource: Option<String>,
    /// Only records at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only records before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only records with a smaller id (the previous page's `next_cursor`).
    pub before: Option<i64>,
    /// Page size, clamped to 1..=1000 by the store (0: the default of 100).
    pub limit: u32,
}

/// The append-only audit log. See the module docs for the semantics every backend keeps.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one record and returns it as stored (with its id).
    async fn append_audit(&self, record: NewAuditRecord) -> Result<AuditRecord>;

    /// One page of `org`'s records matching `query`, newest first; `next_cursor` is the last
    /// item's id in decimal (pass it back as `before`).
    async fn list_audit(&self, org: &OrgId, query: &AuditQuery) -> Result<Page<AuditRecord>>;

    /// Records of every org with an id above `after`, oldest first, at most `limit` (the
    /// forwarder's audit feed).
    async fn audit_since(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>>;

    /// The highest committed record id (0 when there is none).
    async fn last_audit_id(&self) -> Result<i64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_the_status() {
        assert_eq!(AuditOutcome::of_status(201), AuditOutcome::Success);
        assert_eq!(AuditOutcome::of_status(304), AuditOutcome::Success);
        assert_eq!(AuditOutcome::of_status(403), AuditOutcome::Denied);
        assert_eq!(AuditOutcome::of_status(404), AuditOutcome::Failed);
        assert_eq!(AuditOutcome::of_status(503), AuditOutcome::Failed);
        for o in [
            AuditOutcome::Success,
            AuditOutcome::Denied,
            AuditOutcome::Failed,
        ] {
            assert_eq!(AuditOutcome::parse(o.as_str()).unwrap(), o);
        }
        assert!(AuditOutcome::parse("ok").is_err());
    }
}
