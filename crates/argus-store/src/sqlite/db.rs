//! The SQLite database shared by the embedded `Store` and the embedded `Queue`.
//!
//! SQLite allows one writer at a time. Rather than let several pooled connections race for the
//! write lock (and spin on `SQLITE_BUSY`), all writes go through `writer`, a pool of exactly one
//! connection, so writers queue fairly in-process; reads use `reader`, a pool of several
//! connections that WAL mode lets run beside the writer.
//!
//! Durability: WAL with `synchronous = NORMAL` survives a process crash (SIGKILL) without losing
//! a committed transaction; only an OS crash or power loss can drop the last transactions.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use argus_core::CoreError;

/// A SQLite database opened for the embedded backends.
#[derive(Clone, Debug)]
pub struct SqliteDb {
    /// One connection: every write transaction goes through it.
    pub writer: SqlitePool,
    /// Several connections for reads.
    pub reader: SqlitePool,
}

impl SqliteDb {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self, CoreError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    CoreError::Backend(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let opts = SqliteConnectOptions::from_str("sqlite://")
            .map_err(backend)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536")
            // Fewer, larger checkpoints: the auto-checkpoint runs on the single writer connection.
            .pragma("wal_autocheckpoint", "8192")
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // A local file connection does not go stale; the default ping before every acquire
            // would add a round trip to each query on the hot paths.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.clone())
            .await
            .map_err(unavailable)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.read_only(true))
            .await
            .map_err(unavailable)?;
        Ok(SqliteDb { writer, reader })
    }

    /// Closes both pools (waits for connections to be returned).
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

fn backend(e: sqlx::Error) -> CoreError {
    CoreError::Backend(e.to_string())
}

fn unavailable(e: sqlx::Error) -> CoreError {
    CoreError::Unavailable {
        what: "database",
        message: e.to_string(),
    }
}
