//! The relay: moves pending tasks from the store's ledger onto the queue.
//!
//! The ledger is an outbox: tasks are committed there together with whatever produced them
//! (a scan start, a parent task's results), and only then published. A crash between the two
//! leaves them pending, and the relay publishes them on the next pass, so no accepted task is
//! lost. Publishing twice is harmless: the embedded queue dedups on task id, and workers skip
//! deliveries whose task is already recorded as finished.
//!
//! A store whose queue lives in its own database publishes new tasks in the ledger's transaction
//! (`argus_store::sqlite::InlineQueue`); for it the relay only handles rows that still go through
//! `pending` (a paused scan's spawned tasks, a resume's parked rows), and the worker wakes it only
//! when a commit left such rows (`RecordOutcome::published < spawned`).

use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use argus_core::ids::TaskId;

use crate::Engine;

/// Tasks moved per round trip.
const RELAY_BATCH: u32 = 1000;
/// A pass runs at least this often even without a wake-up (crash recovery, other processes).
const RELAY_INTERVAL: Duration = Duration::from_secs(1);

/// Starts the relay; it runs until `shutdown` fires.
pub fn spawn(engine: Arc<Engine>, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = drain(&engine).await {
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

/// Publishes every pending task; returns how many were moved.
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
