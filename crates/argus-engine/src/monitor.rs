//! The monitor (scheduler role): ends scans that ran past `max_duration`.
//!
//! A scan whose deadline passes is failed with reason `max_duration`; its queued tasks are
//! purged and running ones are cancelled by the workers when they see the state change.
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
            if let Err(e) = enforce_deadlines(&engine).await {
                tracing::warn!(error = %e, "deadline check failed");
            }
        }
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
            if let Err(e) = engine.queue().purge_scan(scan.id).await {
                tracing::warn!(scan = %scan.id, error = %e, "purge after max_duration failed");
            }
        }
    }
    Ok(ended)
}
