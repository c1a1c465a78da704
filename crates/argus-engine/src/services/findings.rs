//! The findings service: a scan's findings (filtered, sorted, paginated), one finding, and its
//! triage; a file scan's verdicts (one per object).
//!
//! Invariant: every call is scoped by `who.org`. Existence and tenancy are answered by the one
//! scoped store call that does the work (the `Store` contract, checked by the store suite's
//! `org_scoping`: listing the findings of a scan that is not the org's is `NotFound`, not an
//! empty page), so no read of the scan goes before it.

use argus_core::detector::{Verdict, VerdictQuery};
use argus_core::error::Result;
use argus_core::finding::{Finding, FindingQuery, Page, Triage};
use argus_core::ids::{FindingId, Principal, ScanId};

use crate::Engine;

/// The findings service (see the module docs); [`Engine::findings`] hands it out.
#[derive(Clone, Copy, Debug)]
pub struct Findings<'e> {
    pub(crate) engine: &'e Engine,
}

impl Findings<'_> {
    /// One page of a scan's findings; `NotFound` when the scan is not one of the caller's org.
    pub async fn list(
        &self,
        who: &Principal,
        scan: ScanId,
        query: &FindingQuery,
    ) -> Result<Page<Finding>> {
        self.engine
            .store()
            .list_findings(&who.org, scan, query)
            .await
    }

    /// One page of a file scan's verdicts (one per object, in key order); `NotFound` when the
    /// scan is not one of the caller's org.
    pub async fn verdicts(
        &self,
        who: &Principal,
        scan: ScanId,
        query: &VerdictQuery,
    ) -> Result<Page<Verdict>> {
        self.engine
            .store()
            .list_verdicts(&who.org, scan, query)
            .await
    }

    /// One finding of the caller's org.
    pub async fn get(&self, who: &Principal, id: FindingId) -> Result<Finding> {
        self.engine.store().get_finding(&who.org, id).await
    }

    /// Sets a finding's triage state and returns the finding.
    pub async fn set_triage(
        &self,
        who: &Principal,
        id: FindingId,
        triage: Triage,
    ) -> Result<Finding> {
        self.engine.store().set_triage(&who.org, id, triage).await
    }
}
