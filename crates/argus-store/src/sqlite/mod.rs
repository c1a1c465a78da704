//! SQLite backend: the shared database handle and the embedded [`Store`](argus_core::store::Store).

mod db;
mod inline;
mod rows;
mod store;

pub use db::SqliteDb;
pub use inline::InlineQueue;
pub use store::SqliteStore;
