//! The findings service: a scan's findings (filtered, sorted, paginated), one finding, and its
//! triage (one finding, or a scan's selection in one go); a file scan's verdicts (one per
//! object); whether a scan awaits a selection.
//!
//! Invariant: every call is scoped by `who.org`. Existence and tenancy are answered by the one
//! scoped store call that does the work (the `Store` contract, checked by the store suite's
//! `org_scoping`: listing the findings of a scan that is not the org's is `NotFound`, not an
//! empty page), so no read of the scan goes before it.

use argus_core::detector::{Verdict, VerdictQuery};
use argus_core::error::CoreError;
use argus_core::error::Result;
use argus_core::finding::{Finding, FindingQuery, Page, Triage, TriageCounts};
use argus_core::ids::{FindingId, Principal, ScanId};
use argus_core::scan::{Scan, ScanState};
use std::collections::HashSet;

use crate::Engine;

/// Most ids per list of one selection (bounds one transaction; the API schema says the same).
pub const MAX_SELECT: usize = 1_000;

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

    /// Marks the findings in `select` as `selected` and those in `false_positives` as
    /// `false_positive`, all or none, and returns the scan's counts by triage afterwards.
    ///
    /// `Invalid` when both lists are empty, when an id is in both lists, or when an id is not a
    /// finding of this scan (the message names them); `NotFound` when the scan is not one of the
    /// caller's org; `Invalid` too for more than [`MAX_SELECT`] ids in a list. An id listed
    /// twice in one list counts once.
    pub async fn select(
        &self,
        who: &Principal,
        scan: ScanId,
        select: &[FindingId],
        false_positives: &[FindingId],
    ) -> Result<TriageCounts> {
        if select.is_empty() && false_positives.is_empty() {
            return Err(CoreError::invalid(
                "",
                "`select` and `false_positives` are both empty: name at least one finding",
            ));
        }
        for (path, ids) in [("/select", select), ("/false_positives", false_positives)] {
            if ids.len() > MAX_SELECT {
                return Err(CoreError::invalid(
                    path,
                    format!("at most {MAX_SELECT} ids per list"),
                ));
            }
        }
        let dedup = |ids: &[FindingId]| {
            let mut seen = HashSet::new();
            ids.iter()
                .copied()
                .filter(|id| seen.insert(*id))
                .collect::<Vec<_>>()
        };
        let (select, false_positives) = (dedup(select), dedup(false_positives));
        let fp: HashSet<FindingId> = false_positives.iter().copied().collect();
        let both: Vec<String> = select
            .iter()
            .filter(|id| fp.contains(id))
            .map(ToString::to_string)
            .collect();
        if !both.is_empty() {
            return Err(CoreError::invalid(
                "/false_positives",
                format!(
                    "listed in both `select` and `false_positives`: {}",
                    both.join(", ")
                ),
            ));
        }
        self.engine
            .store()
            .select_findings(&who.org, scan, &select, &false_positives)
            .await
    }

    /// A scan's findings counted by triage; `NotFound` when the scan is not one of the caller's
    /// org.
    pub async fn counts(&self, who: &Principal, scan: ScanId) -> Result<TriageCounts> {
        self.engine
            .store()
            .triage_counts(&who.org, scan, false)
            .await
    }

    /// Whether `scan` (of the caller's org) awaits a selection: it completed, some of its
    /// findings carry a secret, some of those are still `open`, and none is `selected` yet.
    /// Computed from the counts on every call, so it cannot go stale.
    pub async fn awaiting_selection(&self, who: &Principal, scan: &Scan) -> Result<bool> {
        if scan.state != ScanState::Completed || scan.progress.findings == 0 {
            return Ok(false);
        }
        let c = self
            .engine
            .store()
            .triage_counts(&who.org, scan.id, true)
            .await?;
        Ok(awaits(&c))
    }
}

/// The rule of [`Findings::awaiting_selection`] on a completed scan's secret counts.
fn awaits(secrets: &TriageCounts) -> bool {
    secrets.open > 0 && secrets.selected == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awaiting_selection_needs_open_secrets_and_no_selection() {
        let mut c = TriageCounts::default();
        assert!(!awaits(&c), "no findings");
        c.add(Triage::Open, 2);
        assert!(awaits(&c));
        c.add(Triage::FalsePositive, 1);
        assert!(awaits(&c), "a false positive is not a selection");
        c.add(Triage::Selected, 1);
        assert!(!awaits(&c), "a selection was made");
        let only_fp = TriageCounts {
            false_positive: 3,
            ..TriageCounts::default()
        };
        assert!(!awaits(&only_fp), "nothing open");
    }
}
