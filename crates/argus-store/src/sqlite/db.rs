//! The SQLite database shared by the embedded `Store` and the embedded `Queue`.
//!
//! SQLite allows one writer at a time. Rather than let several pooled connections race for the
//! write lock (and spin on `SQLITE_BUSY`), all writes go through `writer`, a pool of exactly one
//! connection, so writers queue fairly in-process; reads use `reader`, a pool of several
//! connections that WAL mode lets run beside the writer.
//!
//! Durability: WAL with `synchronous = NORMAL` survives a process crash (SIGKILL) without losing
//! a committed transaction; only an OS crash or power loss can drop the last transactions.
//!
//! Checkpoints (copying the WAL back into the database file, with an `fsync`) run on a
//! connection of their own, every [`CHECKPOINT_EVERY`], in `PASSIVE` mode: they never block the
//! writer or readers. The writer's automatic checkpoint is off, because it runs inside whichever
//! commit crosses the threshold and stalls the single writer — every write of the process —
//! for the copy and the `fsync`. When the last handle of a [`SqliteDb`] is dropped the
//! checkpointer stops; SQLite checkpoints the rest when the last connection closes.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use argus_core::CoreError;

/// How often the background checkpointer copies the WAL into the database file.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Rows buffered between a connection's worker thread and its caller (see `open`).
const ROW_BUFFER: usize = 2048;

/// A SQLite database opened for the embedded backends.
#[derive(Clone, Debug)]
pub struct SqliteDb {
    /// One connection: every write transaction goes through it.
    pub writer: SqlitePool,
    /// Several connections for reads.
    pub reader: SqlitePool,
    /// Stops the background checkpointer when the last handle goes.
    _checkpointer: Arc<StopOnDrop>,
}

#[derive(Debug)]
struct StopOnDrop(CancellationToken);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
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
            // Checkpoints run on their own connection (module docs), never inside a commit.
            .pragma("wal_autocheckpoint", "0")
            .pragma("temp_store", "memory")
            // Rows a statement's worker thread may hand over before it waits for the caller to
            // read them. At sqlx's default (50) a claim returning 256 rows makes the worker thread
            // and the caller take turns sleeping and waking several times per statement; the
            // largest batches we fetch (claims, ledger inserts, relay reads) fit in this.
            .row_buffer_size(ROW_BUFFER);
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
            .connect_with(opts.clone().read_only(true))
            .await
            .map_err(unavailable)?;
        let stop = CancellationToken::new();
        let checkpointer = opts.connect().await.map_err(unavailable)?;
        tokio::spawn(checkpoint_loop(checkpointer, stop.clone()));
        Ok(SqliteDb {
            writer,
            reader,
            _checkpointer: Arc::new(StopOnDrop(stop)),
        })
    }

    /// Closes both pools (waits for connections to be returned).
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// Copies committed WAL frames into the database file every [`CHECKPOINT_EVERY`] until `stop`.
async fn checkpoint_loop(mut conn: sqlx::SqliteConnection, stop: CancellationToken) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        // PASSIVE: copies what no reader still needs, waits for nobody. A failure (disk full,
        // say) is retried on the next tick; the WAL keeps every frame meanwhile.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            tracing::warn!(error = %e, "sqlite checkpoint failed; will retry");
        }
    }
    let _ = conn.close().await;
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
