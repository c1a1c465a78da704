//! SQLite backend: the shared database handle and the embedded [`Store`](argus_core::store::Store).

mod db;
mod rows;
mod store;

pub use db::SqliteDb;
pub use store::SqliteStore;
