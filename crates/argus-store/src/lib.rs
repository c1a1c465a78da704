//! `Store` implementations and the local-disk `ArtifactStore`.
//!
//! - [`sqlite::SqliteStore`]: the embedded store (one SQLite file shared with the embedded queue).
//! - [`local::LocalArtifactStore`]: artifacts as files under `{root}/scans/{scan_id}/{name}`.

pub mod local;
pub mod sqlite;

pub use local::LocalArtifactStore;
pub use sqlite::{SqliteDb, SqliteStore};
