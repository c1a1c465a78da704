//! SQLite backend.

mod db;

pub use db::SqliteDb;
