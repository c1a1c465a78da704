//! SQLite backend: the shared database handle, the embedded [`Store`](argus_core::store::Store)
//! and the embedded [`Queue`](argus_core::queue::Queue) that lives in the same database.

mod api_keys;
mod artifacts;
mod audit;
pub mod backup;
mod batch;
mod connectors;
mod coordination;
mod db;
mod events;
mod findings;
mod inline;
mod ledger;
mod queue;
mod retention;
mod rows;
mod scans;
mod schedules;
mod sinks;
mod store;
mod templates;
mod verdicts;

pub use db::SqliteDb;
pub use inline::InlineQueue;
pub use queue::{EmbeddedQueue, EmbeddedQueueOptions};
pub use store::SqliteStore;
