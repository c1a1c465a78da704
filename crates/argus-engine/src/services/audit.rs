//! The audit service: appends the API's audit records and lists them for an org's admins
//! (`GET /api/v1/audit`).
//!
//! Invariants:
//! - Records are only ever appended (`argus_core::audit`); nothing here edits or removes one.
//! - A list is scoped by the caller's org: another org's records are never visible. Who may
//!   list is the API's permission check (`admin`), declared on the route.
//! - The forwarder reads the same log as its `audit` feed (`forward`), polling it: an audit
//!   record reaches a sink within a poll interval, never through the event bus.

use argus_core::audit::{AuditQuery, AuditRecord, NewAuditRecord};
use argus_core::error::Result;
use argus_core::finding::Page;
use argus_core::ids::Principal;

use crate::Engine;

/// Largest page of `list`.
pub const MAX_PAGE: u32 = 1000;

/// The audit service.
pub struct Audit<'a> {
    pub(crate) engine: &'a Engine,
}

impl Engine {
    /// The audit service.
    pub fn audit(&self) -> Audit<'_> {
        Audit { engine: self }
    }
}

impl Audit<'_> {
    /// Appends one record (the API's audit layer calls it once per audited request).
    pub async fn record(&self, record: NewAuditRecord) -> Result<AuditRecord> {
        self.engine.store().append_audit(record).await
    }

    /// One page of the caller's org's records matching `query`, newest first (page size
    /// 1..=[`MAX_PAGE`], 100 by default).
    pub async fn list(&self, who: &Principal, mut query: AuditQuery) -> Result<Page<AuditRecord>> {
        query.limit = match query.limit {
            0 => 100,
            n => n.min(MAX_PAGE),
        };
        self.engine.store().list_audit(&who.org, &query).await
    }
}
