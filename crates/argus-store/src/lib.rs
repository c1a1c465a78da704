//! `Store` implementations and the local-disk `ArtifactStore`.

pub mod sqlite;

pub use sqlite::SqliteDb;
