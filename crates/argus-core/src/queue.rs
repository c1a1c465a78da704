//! The `Queue` trait: at-least-once delivery of tasks to workers, with leases.
//!
//! Semantics every implementation keeps (checked by `testkit::queue_suite`):
//! - `enqueue` is durable when it returns, and idempotent on task id where the backend can
//!   dedup (the embedded queue does; the engine tolerates duplicates anyway).
//! - `claim` hands out up to `max` tasks, higher priority first, FIFO within a priority and
//!   scan, each under a lease. It waits up to `wait` for work and wakes early when work
//!   arrives. Between scans of one priority a queue may interleave (the embedded queue shares
//!   fairly, see `argus_store::sqlite::EmbeddedQueue`); a FIFO broker is made fair by the
//!   engine's relay, which publishes a window of each scan at a time.
//! - A lease that is neither acked, retried nor renewed before it expires is re-delivered with
//!   `attempt + 1`. Acks, retries and renewals with a stale token are no-ops.
//! - The queue is mechanism, not policy: the engine decides when to retry and when to
//!   dead-letter (attempt > max_attempts).

use async_trait::async_trait;
use std::time::Duration;

use crate::error::Result;
use crate::ids::ScanId;
use crate::task::{Delivery, LeaseToken, Task};

/// Counts for metrics and `/readyz`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub ready: u64,
    pub leased: u64,
    pub dead: u64,
}

/// A durable task queue.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Short backend name (`embedded`, `rabbitmq`).
    fn backend(&self) -> &'static str;

    /// Adds tasks; durable on return.
    async fn enqueue(&self, tasks: &[Task]) -> Result<()>;

    /// Leases up to `max` tasks for `lease`, waiting up to `wait` for at least one.
    async fn claim(&self, max: usize, lease: Duration, wait: Duration) -> Result<Vec<Delivery>>;

    /// Extends leases still held.
    async fn renew(&self, leases: &[LeaseToken], lease: Duration) -> Result<()>;

    /// Removes finished tasks (call only after their results are committed).
    async fn ack(&self, leases: &[LeaseToken]) -> Result<()>;

    /// Releases a task to be delivered again after `delay` (attempt counts up on delivery).
    async fn retry(&self, lease: &LeaseToken, delay: Duration) -> Result<()>;

    /// Moves a task to the dead-letter area with its last error.
    async fn dead_letter(&self, lease: &LeaseToken, error: &str) -> Result<()>;

    /// Best-effort removal of up to `limit` of a scan's queued (not leased) tasks; returns how
    /// many were removed (call again until it returns 0). The janitor calls it in bounded
    /// batches after a scan ends; workers drop any delivery of an ended scan anyway.
    async fn purge_scan(&self, scan: ScanId, limit: u32) -> Result<u64>;

    /// Counts of ready, leased and dead tasks.
    async fn depth(&self) -> Result<QueueDepth>;

    /// Cheap reachability check for `/readyz`.
    async fn ping(&self) -> Result<()>;

    /// Called once when the process shuts down, after the workers settled their last
    /// deliveries: flushes what is still in flight to the backend (a broker connection must be
    /// closed cleanly, or acks written just before exit may never reach it and their tasks are
    /// delivered again). Later calls may fail with `Unavailable`. The default does nothing.
    async fn shutdown(&self) {}
}
