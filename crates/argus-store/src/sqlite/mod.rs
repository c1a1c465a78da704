//! SQLite backend: the shared database handle and the embedded [`Store`](argus_core::store::Store).

mod batch;
mod db;
mod inline;
mod rows;
mod store;

pub use batch::Pow2Sql;
pub use db::SqliteDb;
pub use inline::InlineQueue;
pub use store::SqliteStore;
