//! Per-org quotas checked by the engine (`[quotas]`, `argus_core::quota::Quotas`).
//!
//! - Running scans: starting a scan (or creating one with `start`) is refused with
//!   `CoreError::QuotaExceeded` (HTTP 429, code `quota_exceeded`, `Retry-After`) while the org
//!   already has `max_running_scans` scans queued, running or paused. A paused scan keeps its
//!   slot, so resuming it is never refused. The check reads the active scans and then starts:
//!   two starts of one org racing each other may both pass it (the limit can be exceeded by the
//!   number of concurrent starts); it is a fairness bound, not a security boundary.
//! - Running tasks: enforced at dispatch, not here — by the relay for tasks it hands to a
//!   broker (`crate::relay`) and by the embedded queue's claim (`EmbeddedQueueOptions::quotas`).

use argus_core::scan::ScanState;
use argus_core::{CoreError, OrgId, Result};

use crate::Engine;

/// Seconds a refused start is told to wait before trying again.
pub const RETRY_AFTER_SECS: u32 = 30;

/// Refuses a start when `org` already has its quota of running scans.
pub async fn check_running_scans(engine: &Engine, org: &OrgId) -> Result<()> {
    let Some(limit) = engine.config().quotas.running_scans(org.as_str()) else {
        return Ok(());
    };
    let running = engine
        .store()
        .active_scans()
        .await?
        .iter()
        .filter(|s| &s.org_id == org)
        .filter(|s| {
            matches!(
                s.state,
                ScanState::Queued | ScanState::Running | ScanState::Paused
            )
        })
        .count();
    if running >= limit as usize {
        return Err(CoreError::QuotaExceeded {
            message: format!(
                "organisation {org} already has {running} running scans, its quota \
                 (quotas.max_running_scans) is {limit}; start this scan once one of them ends"
            ),
            retry_after_secs: RETRY_AFTER_SECS,
        });
    }
    Ok(())
}
