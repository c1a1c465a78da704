//! [`InlineQueue`]: a queue that lives in the store's own SQLite database.
//!
//! The task ledger is an outbox because, in general, the queue is another system (RabbitMQ): a
//! task is committed to the ledger first and the relay publishes it afterwards. When the queue is
//! a table of the same database (the embedded queue), that second hop buys nothing: the store
//! can put a new task on the queue inside the very transaction that adds it to the ledger,
//! marking the ledger row `published` at once. Either both rows commit or neither does, so no
//! task can be lost or published twice, and the relay is left with the rare rows that do go
//! through `pending` (spawned by a paused scan, moved back by a resume).
//!
//! The store calls [`InlineQueue::enqueue_in`] on its open write transaction and
//! [`InlineQueue::committed`] once that transaction has committed.

use async_trait::async_trait;
use sqlx::SqliteConnection;

use argus_core::task::Task;
use argus_core::Result;

/// A queue whose tasks are rows of the store's SQLite database (see the module docs).
#[async_trait]
pub trait InlineQueue: Send + Sync + std::fmt::Debug {
    /// Adds `tasks` to the queue through `conn`, inside the caller's open write transaction;
    /// returns how many were added (a task already on the queue is not added again).
    async fn enqueue_in(&self, conn: &mut SqliteConnection, tasks: &[&Task]) -> Result<u64>;

    /// Told after the transaction that called [`InlineQueue::enqueue_in`] has committed, so the
    /// queue can wake idle claimers.
    fn committed(&self);
}
