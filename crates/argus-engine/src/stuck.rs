//! Stuck scans: a queued or running scan whose tasks make no progress for
//! [`EngineConfig::stuck_after`](crate::EngineConfig::stuck_after) (`scan.stuck_after`) is
//! flagged — `stuck_since` on the scan, a `stuck: no task progress since …` reason and one
//! `stuck` event — and unflagged with one `unstuck` event when a task finishes again or the
//! scan changes state.
//!
//! Invariants:
//! - The check runs in the monitor, only while it holds the scheduler lease, so N processes
//!   never flag a scan twice; the store does flag and unflag in one transaction
//!   ([`ScanStore::check_stuck`](argus_core::store::ScanStore::check_stuck)), so each stuck
//!   period has exactly one `stuck` event and at most one `unstuck` event.
//! - "Progress" is the scan row's `updated_at`, which `record` moves whenever it first counts a
//!   task's terminal status and every lifecycle change moves; the check itself never moves it.
//!   A flag is therefore cleared within one monitor tick of the progress, not in `record`'s
//!   transaction, which keeps the hot path free of it.
//! - A paused scan is never stuck (it makes no progress by request); resuming starts its clock
//!   over.
//! - The flag is a signal for people and sinks-to-be, never an action: a stuck scan keeps
//!   running. Ending it is `POST /scans/{id}/stop` (or `?force=true`).

use std::time::Duration;

use argus_core::event::EventData;

use crate::Engine;

/// `scan.stuck_after` when the config does not say.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(30 * 60);

/// Flags and unflags stuck scans and publishes the events; returns how many events there were.
/// Does nothing when `stuck_after` is zero.
pub async fn check(engine: &Engine) -> argus_core::Result<usize> {
    let after = engine.config().stuck_after;
    if after.is_zero() {
        return Ok(0);
    }
    let events = engine.store().check_stuck(after).await?;
    for e in &events {
        match &e.data {
            EventData::Stuck { since } => {
                tracing::warn!(scan = %e.scan_id, org = %e.org_id, %since, "scan is stuck: no task progress");
            }
            _ => tracing::info!(scan = %e.scan_id, org = %e.org_id, "scan is no longer stuck"),
        }
    }
    engine.publish(&events);
    Ok(events.len())
}

/// [`check`] for the monitor's loop: a failure is logged and retried next tick.
pub async fn check_logged(engine: &Engine) {
    if let Err(e) = check(engine).await {
        tracing::warn!(error = %e, "stuck scan check failed; will retry");
    }
}
