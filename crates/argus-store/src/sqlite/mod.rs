//! SQLite backend: the shared database handle and the embedded [`Store`](argus_core::store::Store).

mod artifacts;
mod batch;
mod coordination;
mod db;
mod events;
mod findings;
mod inline;
mod ledger;
mod rows;
mod scans;
mod store;
mod templates;

pub use batch::Pow2Sql;
pub use db::SqliteDb;
pub use inline::InlineQueue;
pub use store::SqliteStore;
