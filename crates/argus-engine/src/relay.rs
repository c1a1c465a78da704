//! The relay: moves pending tasks from the store's ledger onto the queue, fairly between scans
//! and within each org's running-tasks quota.
//!
//! The ledger is an outbox: tasks are committed there together with whatever produced them
//! (a scan start, a parent task's results), and only then published. A crash between the two
//! leaves them pending, and the relay publishes them on the next pass, so no accepted task is
//! lost. Publishing twice is harmless: the embedded queue dedups on task id, and workers skip
//! deliveries whose task is already recorded as finished.
//!
//! **Fair dispatch.** A broker queue (RabbitMQ) is FIFO within a priority: whatever is
//! published first runs first, so a 100,000-task scan published at once would make a later
//! 10-task scan wait for all of it. The relay therefore keeps at most `scan_window` tasks of
//! each scan in flight (handed to the queue and not finished) and publishes more of a scan only
//! as its tasks finish; every pass serves every scan with pending work (rotating the order, so
//! no scan is always first when an org's quota is the limit). A new scan's first window
//! thus lands on the broker behind at most one window of each other scan, whatever their
//! backlogs. Priority is kept: each scan's tasks carry it and the broker orders by it.
//! - **Running-tasks quota.** An org's in-flight tasks (over all its scans) stay within
//!   `quotas.max_running_tasks`; its tasks wait in the ledger while others' go.
//! - **Accounting.** In-flight tasks are the ids this relay published; each pass asks the store
//!   which of them are still in flight (`LedgerStore::in_flight_tasks`: published, not finished,
//!   not parked, scan live) and forgets the rest, so the count never drifts (a re-published,
//!   parked, dropped or deleted task frees its slot). The set lives in memory: after a restart
//!   a relay starts empty and may publish one more window per scan than the limit, and with
//!   several processes each relay keeps its own window (the limits are per relay process);
//!   nothing is lost either way, since pending rows stay in the ledger until published.
//! - **Wake-ups.** While the relay holds work back, workers wake it after every commit (tasks
//!   finished: room freed), besides the wake-ups for new pending tasks and the 1 s poll.
//!
//! A store whose queue lives in its own database publishes new tasks in the ledger's transaction
//! (`argus_store::sqlite::InlineQueue`), and the embedded queue is itself fair between scans and
//! applies the org quota at claim; for it the relay only handles rows that still go through
//! `pending` (a paused scan's spawned tasks, a resume's parked rows), under the same rules.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use argus_core::ids::TaskId;
use argus_core::{OrgId, ScanId};

use crate::Engine;

/// Tasks moved per round trip.
const RELAY_BATCH: u32 = 1000;
/// In-flight ids checked per store call.
const CHECK_BATCH: usize = 1000;
/// A pass runs at least this often even without a wake-up (crash recovery, other processes).
const RELAY_INTERVAL: Duration = Duration::from_secs(1);

/// Starts the relay; it runs until `shutdown` fires.
pub fn spawn(engine: Arc<Engine>, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut dispatch = Dispatcher::default();
        loop {
            if let Err(e) = dispatch.pass(&engine).await {
                tracing::warn!(error = %e, "relay pass failed; will retry");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = engine.relay_wake.notified() => {}
                _ = tokio::time::sleep(RELAY_INTERVAL) => {}
            }
        }
    })
}

/// Publishes every pending task at once, without windows or quotas; returns how many were
/// moved. For tests and tools that want the whole ledger on the queue now.
pub async fn drain(engine: &Engine) -> argus_core::Result<u64> {
    let mut moved = 0u64;
    loop {
        let tasks = engine.store().pending_tasks(RELAY_BATCH).await?;
        if tasks.is_empty() {
            return Ok(moved);
        }
        engine.queue().enqueue(&tasks).await?;
        let ids: Vec<TaskId> = tasks.iter().map(|t| t.id).collect();
        engine.store().mark_published(&ids).await?;
        moved += ids.len() as u64;
    }
}

/// One scan's tasks this relay published and that may still be in flight.
#[derive(Debug)]
struct Flight {
    org: OrgId,
    ids: HashSet<TaskId>,
}

/// The relay's state between passes (see the module docs).
#[derive(Debug, Default)]
pub struct Dispatcher {
    flights: HashMap<ScanId, Flight>,
    /// Rotates the order scans are served in.
    turn: usize,
}

impl Dispatcher {
    /// Tasks currently counted in flight (for tests and metrics).
    pub fn in_flight(&self) -> usize {
        self.flights.values().map(|f| f.ids.len()).sum()
    }

    /// One pass: forget finished tasks, then publish what every scan's window and its org's
    /// quota allow. Returns how many tasks were published.
    pub async fn pass(&mut self, engine: &Engine) -> argus_core::Result<u64> {
        let config = engine.config();
        let window = config.scan_window;
        let quotas = &config.quotas;
        let tracking = window > 0 || quotas.limits_tasks();
        if tracking {
            self.refresh(engine).await?;
        } else {
            self.flights.clear();
        }

        let mut scans = engine.store().pending_scans().await?;
        if scans.is_empty() {
            engine
                .relay_holding
                .store(tracking && !self.flights.is_empty(), Ordering::Relaxed);
            return Ok(0);
        }
        let n = scans.len();
        scans.rotate_left(self.turn % n);
        self.turn = self.turn.wrapping_add(1);

        let mut org_used: HashMap<OrgId, u64> = HashMap::new();
        for f in self.flights.values() {
            *org_used.entry(f.org.clone()).or_default() += f.ids.len() as u64;
        }
        let mut moved = 0u64;
        let mut held = false;
        for (scan, org) in scans {
            loop {
                let used = self.flights.get(&scan).map_or(0, |f| f.ids.len() as u64);
                let mut room = if window == 0 {
                    u64::from(RELAY_BATCH)
                } else {
                    u64::from(window).saturating_sub(used)
                };
                if let Some(limit) = quotas.running_tasks(org.as_str()) {
                    let taken = org_used.get(&org).copied().unwrap_or(0);
                    room = room.min(u64::from(limit).saturating_sub(taken));
                }
                if room == 0 {
                    held = true;
                    break;
                }
                let want = u32::try_from(room.min(u64::from(RELAY_BATCH))).unwrap_or(RELAY_BATCH);
                let tasks = engine.store().pending_tasks_of(scan, want).await?;
                if tasks.is_empty() {
                    break;
                }
                engine.queue().enqueue(&tasks).await?;
                let ids: Vec<TaskId> = tasks.iter().map(|t| t.id).collect();
                engine.store().mark_published(&ids).await?;
                let got = ids.len() as u64;
                moved += got;
                if tracking {
                    *org_used.entry(org.clone()).or_default() += got;
                    self.flights
                        .entry(scan)
                        .or_insert_with(|| Flight {
                            org: org.clone(),
                            ids: HashSet::new(),
                        })
                        .ids
                        .extend(ids);
                }
                if got < u64::from(want) {
                    break;
                }
            }
        }
        engine.relay_holding.store(
            tracking && (held || !self.flights.is_empty()),
            Ordering::Relaxed,
        );
        Ok(moved)
    }

    /// Forgets the tasks that are no longer in flight (finished, parked, pending again, of an
    /// ended or deleted scan).
    async fn refresh(&mut self, engine: &Engine) -> argus_core::Result<()> {
        let all: Vec<TaskId> = self
            .flights
            .values()
            .flat_map(|f| f.ids.iter().copied())
            .collect();
        if all.is_empty() {
            return Ok(());
        }
        let mut live: HashSet<TaskId> = HashSet::with_capacity(all.len());
        for chunk in all.chunks(CHECK_BATCH) {
            live.extend(engine.store().in_flight_tasks(chunk).await?);
        }
        self.flights.retain(|_, f| {
            f.ids.retain(|id| live.contains(id));
            !f.ids.is_empty()
        });
        Ok(())
    }
}
