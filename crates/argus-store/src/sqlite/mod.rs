//! SQLite backend: the shared database handle, the embedded [`Store`](argus_core::store::Store)
//! and the embedded [`Queue`](argus_core::queue::Queue) that lives in the same database.

mod batch;
mod db;
mod inline;
mod queue;
mod rows;
mod store;

pub use db::SqliteDb;
pub use inline::InlineQueue;
pub use queue::{EmbeddedQueue, EmbeddedQueueOptions};
pub use store::SqliteStore;
