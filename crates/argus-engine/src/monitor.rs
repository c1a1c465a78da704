//! The monitor (scheduler role): ends scans that ran past `max_duration`, fires due schedules
//! (`crate::scheduler`), flags stuck scans ([`crate::stuck`]), and runs the janitor.
//!
//! A scan whose deadline passes is failed with reason `max_duration`; running tasks are
//! cancelled by the workers when they see the state change, queued ones are dropped when
//! claimed.
//!
//! The janitor clears what ended and deleted scans leave behind ([`Store::pending_cleanups`]):
//! queued deliveries (`Queue::purge_scan`), ledger rows still pending, and a deleted scan's
//! tasks, findings, events and artifact records — in batches of [`CLEANUP_BATCH`] rows, each its
//! own short transaction with a pause after it, so other writers never wait long behind it and
//! stopping or deleting a scan of three million tasks costs its caller no more than one of ten.
//!
//! Once a deleted scan's rows are gone its artifact blobs are deleted too (an API delete has
//! already removed them; an expired scan's go here). Every `retention_interval` the leader also
//! starts a retention sweep ([`crate::retention`]).
//!
//! [`Store::pending_cleanups`]: argus_core::store::Store::pending_cleanups
//!
//! Every process (API replicas, workers) starts a monitor, but only the one holding the
//! `scheduler` leadership lease in the store does the periodic work, so N replicas never
//! double-fire it. The lease is renewed on every tick and lasts several ticks; when its holder
//! dies another process takes over once it expires, and a graceful shutdown resigns at once.

use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use argus_core::scan::ScanState;
use argus_core::store::Cleanup;

use crate::Engine;

/// The leadership role the monitor runs under.
pub const SCHEDULER_ROLE: &str = "scheduler";

/// Starts the monitor; it runs until `shutdown` fires.
pub fn spawn(engine: Arc<Engine>, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let interval = engine.config().monitor_interval;
        // Long enough to survive a slow tick or two, short enough for a quick take-over.
        let ttl = (interval * 6).max(Duration::from_secs(3));
        let holder = engine.config().worker_id.clone();
        let mut tick = tokio::time::interval(interval);
        let mut leading = false;
        let mut sweeper = crate::retention::Sweeper::default();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            match engine.store().try_lead(SCHEDULER_ROLE, &holder, ttl).await {
                Ok(now_leading) => {
                    if now_leading != leading {
                        tracing::info!(holder = %holder, leading = now_leading, "scheduler role");
                    }
                    leading = now_leading;
                }
                Err(e) => {
                    // Without the store we cannot know; stop acting until it answers again.
                    leading = false;
                    tracing::warn!(error = %e, "scheduler lease check failed");
                }
            }
            if !leading {
                continue;
            }
            sweeper.tick(&engine);
            if let Err(e) = enforce_deadlines(&engine).await {
                tracing::warn!(error = %e, "deadline check failed");
            }
            if let Err(e) = crate::scheduler::tick(&engine, chrono::Utc::now()).await {
                tracing::warn!(error = %e, "schedule tick failed; will retry");
            }
            crate::stuck::check_logged(&engine).await;
            // Bounded per tick, so the lease is renewed on time however much is left.
            let budget = tokio::time::Instant::now() + interval.max(Duration::from_millis(200));
            if let Err(e) = clean_up(&engine, Some(budget), &shutdown).await {
                tracing::warn!(error = %e, "clean-up pass failed; will retry");
            }
        }
        sweeper.stop();
        if leading {
            if let Err(e) = engine.store().resign(SCHEDULER_ROLE, &holder).await {
                tracing::warn!(error = %e, "resigning the scheduler role failed");
            }
        }
    })
}

/// Fails every active scan past its `max_duration`; returns how many were ended.
pub async fn enforce_deadlines(engine: &Engine) -> argus_core::Result<usize> {
    let now = chrono::Utc::now();
    let mut ended = 0;
    for scan in engine.store().active_scans().await? {
        let (Some(limit), Some(started)) = (scan.config.max_duration, scan.started_at) else {
            continue;
        };
        let limit = chrono::Duration::seconds(i64::try_from(limit).unwrap_or(i64::MAX / 1000));
        if now - started < limit {
            continue;
        }
        if let Some(t) = engine
            .store()
            .finish_scan(scan.id, ScanState::Failed, "max_duration")
            .await?
        {
            engine.publish(&t.events);
            ended += 1;
        }
    }
    Ok(ended)
}

/// Rows cleared per clean-up transaction.
pub const CLEANUP_BATCH: u32 = 5000;
/// Pause between two clean-up batches: other writers go first.
const CLEANUP_PAUSE: Duration = Duration::from_millis(10);

/// Clears ended and deleted scans' leftovers in batches until nothing is left, `deadline`
/// passes, or `stop` fires; returns the rows and deliveries cleared.
pub async fn clean_up(
    engine: &Engine,
    deadline: Option<tokio::time::Instant>,
    stop: &CancellationToken,
) -> argus_core::Result<u64> {
    let mut cleared = 0u64;
    loop {
        let cleanups = engine.store().pending_cleanups(16).await?;
        if cleanups.is_empty() {
            return Ok(cleared);
        }
        for c in cleanups {
            loop {
                if stop.is_cancelled() || deadline.is_some_and(|d| tokio::time::Instant::now() >= d)
                {
                    return Ok(cleared);
                }
                let n = step(engine, &c).await?;
                cleared += n;
                if n == 0 {
                    if c.deleted {
                        // The blobs go after their records (retention expires through here):
                        // a crash in between leaves a folder the retention sweep removes.
                        engine.artifacts().delete_scan(c.scan_id).await?;
                    }
                    engine.store().cleanup_done(&c).await?;
                    break;
                }
                tokio::time::sleep(CLEANUP_PAUSE).await;
            }
        }
    }
}

/// One batch of one scan's clean-up: queued deliveries first (so workers stop claiming them),
/// then store rows.
async fn step(engine: &Engine, c: &Cleanup) -> argus_core::Result<u64> {
    let purged = match engine.queue().purge_scan(c.scan_id, CLEANUP_BATCH).await {
        Ok(n) => n,
        Err(e) => {
            // Workers drop these deliveries when they claim them anyway.
            tracing::debug!(scan = %c.scan_id, error = %e, "could not purge queued tasks");
            0
        }
    };
    if purged > 0 {
        return Ok(purged);
    }
    engine.store().cleanup_step(c, CLEANUP_BATCH).await
}
