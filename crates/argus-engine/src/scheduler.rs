//! The scheduler: fires due schedules (`argus_core::schedule`) into scans. It runs in the
//! monitor, only in the process holding the `scheduler` lease, once per monitor tick.
//!
//! Exactly once per slot, across replicas and restarts, rests on two things:
//! - The scan a slot starts has an id derived from the schedule and the slot
//!   (`slot_scan_id`). Creating it twice is a `Conflict` on the primary key, so a slot fired
//!   again — by a process that crashed after creating the scan and before recording the tick,
//!   or by two schedulers across a lease hand-over — finds its scan instead of making another.
//!   A scan created but not started (a crash between the two) is started then.
//! - The tick is recorded by compare-and-set on `next_fire_at` (`ScheduleStore::schedule_ticked`),
//!   never moving `last_slot` backwards, so a stale scheduler records nothing.
//!
//! A slot is on time while it is at most [`ON_TIME`] old; older slots (the server was down)
//! follow the schedule's missed-run policy: skipped, or the newest of them fired once.
//! Concurrency: with `forbid` a slot whose previous scan is still live is skipped (recorded as
//! `skipped_overlap`), with `replace` the previous scan is stopped first, with `allow` both run.

use chrono::{DateTime, Utc};

use argus_core::error::{CoreError, Result};
use argus_core::ids::{Principal, Role, ScanId};
use argus_core::scan::{ScanAction, ScanState};
use argus_core::schedule::{due, slot_scan_id, Concurrency, FireOutcome, Schedule, TickRecord};

use crate::services::CreateScan;
use crate::Engine;

/// How late a slot may be fired and still count as on time (a slow tick, a lease hand-over).
pub const ON_TIME: chrono::Duration = chrono::Duration::seconds(60);
/// Schedules handled per tick (the rest wait for the next tick).
const PER_TICK: u32 = 100;
/// The label every scheduled scan carries: the id of its schedule.
pub const SCHEDULE_LABEL: &str = "argus.schedule";

/// Fires every schedule due at `now`; returns how many slots started a scan.
pub async fn tick(engine: &Engine, now: DateTime<Utc>) -> Result<usize> {
    let mut started = 0;
    for schedule in engine.store().due_schedules(now, PER_TICK).await? {
        let Some(expected_next) = schedule.next_fire_at else {
            continue;
        };
        let record = match schedule.def.check() {
            Ok(spec) => {
                let tick = due(
                    &spec,
                    expected_next,
                    schedule.last_slot,
                    now,
                    ON_TIME,
                    schedule.def.missed_runs,
                );
                let fired = match tick.fire {
                    Some(slot) => {
                        let (scan, outcome) = fire(engine, &schedule, slot).await;
                        if outcome == FireOutcome::Started {
                            started += 1;
                        }
                        Some((slot, scan, outcome))
                    }
                    None => None,
                };
                TickRecord {
                    expected_next,
                    next_fire_at: tick.next,
                    fired,
                }
            }
            // Stored schedules were checked when written; one that no longer parses (a time
            // zone removed from the database) stops, with the reason recorded.
            Err(e) => TickRecord {
                expected_next,
                next_fire_at: None,
                fired: Some((expected_next, None, FireOutcome::Failed(e.to_string()))),
            },
        };
        match engine.store().schedule_ticked(schedule.id, &record).await {
            Ok(true) => {
                if let Some((slot, scan, outcome)) = &record.fired {
                    tracing::info!(schedule = %schedule.id, %slot, scan = ?scan, outcome = ?outcome, "schedule fired");
                }
            }
            Ok(false) => {
                tracing::debug!(schedule = %schedule.id, "schedule changed during its tick; left as is")
            }
            Err(e) => {
                tracing::warn!(schedule = %schedule.id, error = %e, "recording a schedule tick")
            }
        }
    }
    Ok(started)
}

/// Starts the scan of one slot (see the module docs); returns the scan and what happened.
async fn fire(
    engine: &Engine,
    schedule: &Schedule,
    slot: DateTime<Utc>,
) -> (Option<ScanId>, FireOutcome) {
    let who = Principal {
        org: schedule.org_id.clone(),
        user: schedule.user_id.clone(),
        role: Role::Analyst,
    };
    let id = slot_scan_id(schedule.id, slot);
    match engine.scans().get(&who, id).await {
        Ok(scan) if scan.state == ScanState::Created => return start(engine, &who, id).await,
        Ok(_) => return (Some(id), FireOutcome::Started),
        Err(CoreError::NotFound { .. }) => {}
        Err(e) => return (None, FireOutcome::Failed(e.to_string())),
    }
    if let Some(previous) = schedule.last_scan_id {
        let live = match engine.scans().get(&who, previous).await {
            Ok(scan) => !scan.state.is_terminal(),
            Err(_) => false, // deleted since
        };
        if live {
            match schedule.def.concurrency {
                // The live scan stays the one the next slot waits for.
                Concurrency::Forbid => return (Some(previous), FireOutcome::SkippedOverlap),
                Concurrency::Replace => {
                    if let Err(e) = engine.scans().act(&who, previous, ScanAction::Stop).await {
                        // It may have ended meanwhile; anything else is worth a line.
                        tracing::debug!(schedule = %schedule.id, scan = %previous, error = %e, "stopping the previous scan");
                    }
                }
                Concurrency::Allow => {}
            }
        }
    }
    let (mut config, template_id) = match (schedule.def.template_id, &schedule.def.config) {
        (Some(template), _) => match engine.templates().get(&who, template).await {
            Ok(t) => {
                let mut config = t.config;
                if let Some(targets) = &schedule.def.targets {
                    config.targets = targets.clone();
                }
                (config, Some(template))
            }
            Err(e) => {
                return (
                    None,
                    FireOutcome::Failed(format!("template {template}: {e}")),
                )
            }
        },
        (None, Some(config)) => (config.clone(), None),
        (None, None) => {
            return (
                None,
                FireOutcome::Failed("the schedule names neither a template nor a config".into()),
            )
        }
    };
    config
        .labels
        .insert(SCHEDULE_LABEL.to_owned(), schedule.id.to_string());
    let req = CreateScan {
        name: Some(scan_name(&schedule.name, slot)),
        config,
        template_id,
        start: true,
    };
    match engine.scans().create_with_id(&who, req, id).await {
        Ok(_) => (Some(id), FireOutcome::Started),
        // Another scheduler created it first: the slot has its scan.
        Err(CoreError::Conflict { .. }) => (Some(id), FireOutcome::Started),
        Err(e) => (None, FireOutcome::Failed(e.to_string())),
    }
}

async fn start(engine: &Engine, who: &Principal, id: ScanId) -> (Option<ScanId>, FireOutcome) {
    match engine.scans().start(who, id).await {
        Ok(_) => (Some(id), FireOutcome::Started),
        Err(e) => (Some(id), FireOutcome::Failed(e.to_string())),
    }
}

/// `<schedule name> @ <slot>`, within the 200 characters a scan name may have.
fn scan_name(schedule: &str, slot: DateTime<Utc>) -> String {
    let suffix = format!(" @ {}", slot.format("%Y-%m-%d %H:%M:%S UTC"));
    let keep = 200usize.saturating_sub(suffix.chars().count());
    let mut name: String = schedule.chars().take(keep).collect();
    name.push_str(&suffix);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_names_fit_and_carry_the_slot() {
        let slot = DateTime::parse_from_rfc3339("2026-03-01T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            scan_name("nightly", slot),
            "nightly @ 2026-03-01 02:00:00 UTC"
        );
        let long = "x".repeat(300);
        let name = scan_name(&long, slot);
        assert_eq!(name.chars().count(), 200);
        assert!(name.ends_with("@ 2026-03-01 02:00:00 UTC"));
    }
}
