//! The monitor (scheduler role): ends scans that ran past `max_duration`.
//!
//! A scan whose deadline passes is failed with reason `max_duration`; its queued tasks are
//! purged and running ones are cancelled by the workers when they see the state change.

use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use argus_core::scan::ScanState;

use crate::Engine;

/// Starts the monitor; it runs until `shutdown` fires.
pub fn spawn(engine: Arc<Engine>, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(engine.config().monitor_interval);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = enforce_deadlines(&engine).await {
                tracing::warn!(error = %e, "deadline check failed");
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
