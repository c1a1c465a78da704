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
//! for the copy and the `fsync`.
//!
//! The WAL stays bounded (invariants):
//! - A `PASSIVE` checkpoint copies frames but never shortens the file, and while reads and
//!   writes keep overlapping the writer cannot start the log over, so under load the file grows.
//!   Once everything is copied, the next write starts the log over from its beginning, and
//!   `journal_size_limit` ([`JOURNAL_SIZE_LIMIT`]) then cuts the file down to that size.
//! - When the writer is idle — the log's frame count has not moved since the previous tick and
//!   every frame is copied — the checkpointer runs one `TRUNCATE` checkpoint, which empties the
//!   file. It waits at most [`IDLE_TRUNCATE_WAIT`] for readers or a writer (its own short busy
//!   timeout), so it never holds up a write for longer; a busy attempt is retried next tick.
//! - [`SqliteDb::close`] (called on a clean shutdown, `Store::shutdown`) stops the checkpointer,
//!   closes the readers, runs a `TRUNCATE` checkpoint on the writer and closes it: no `-wal`
//!   content is left behind.
//!
//! The owner lock (embedded mode's crash recovery): every handle holds `flock` on
//! `<database>.lock` for its whole life. At open it first tries the lock exclusively: success
//! means no other handle, in this process or another, has the database open, so every lease in
//! the queue belongs to an earlier incarnation that is gone ([`SqliteDb::take_sole_start`]; the
//! embedded queue then releases them at once instead of waiting for them to expire). It then
//! holds the lock shared, so later handles open beside it and see that they are not alone. The
//! kernel drops the lock when the process dies, however it dies. Caveat: Linux converts an
//! exclusive `flock` to a shared one by dropping and re-taking it, so two handles opening in the
//! same instant may both believe they started alone; the cost is a task delivered twice, which
//! at-least-once delivery (and the idempotent ledger) already absorbs.
//!
//! When the last handle of a [`SqliteDb`] is dropped without [`SqliteDb::close`] the checkpointer
//! stops and the lock is released; SQLite checkpoints the rest when the last connection closes.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqlitePool};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use argus_core::CoreError;

/// How often the background checkpointer copies the WAL into the database file.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// `PRAGMA journal_size_limit`: the size the WAL file is cut back to whenever the log starts over
/// (module docs). Large enough that a busy writer does not regrow it on every restart of the log.
pub const JOURNAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// Longest the idle-time `TRUNCATE` checkpoint waits for readers and a writer before giving up
/// until the next tick (its connection's busy timeout).
pub const IDLE_TRUNCATE_WAIT: Duration = Duration::from_millis(100);

/// Rows buffered between a connection's worker thread and its caller (see `open`).
const ROW_BUFFER: usize = 2048;

/// A SQLite database opened for the embedded backends.
#[derive(Clone, Debug)]
pub struct SqliteDb {
    /// One connection: every write transaction goes through it.
    pub writer: SqlitePool,
    /// Several connections for reads.
    pub reader: SqlitePool,
    /// The checkpointer and the owner lock, shared by every clone of this handle.
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Stops the background checkpointer.
    stop: CancellationToken,
    /// The checkpointer task, until `close` has waited for it.
    checkpointer: Mutex<Option<JoinHandle<()>>>,
    /// The open `<database>.lock`, holding the shared owner lock (module docs) until `close` or
    /// the last drop.
    lock: Mutex<Option<std::fs::File>>,
    /// This handle found no other handle at open, and nobody has asked yet.
    sole_start: AtomicBool,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl SqliteDb {
    /// Takes the owner lock of the database at `path` (module docs) exclusively, without
    /// waiting, for work that must have the database to itself (`argus admin restore`):
    /// `Some(lock)` — hold it for the work; dropping it releases the lock — when no handle in
    /// any process has the database open, `None` when one has. Meanwhile a handle opening the
    /// database waits at its shared lock until the lock is dropped.
    pub fn lock_exclusive(path: &Path) -> Result<Option<std::fs::File>, CoreError> {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let lock_path = PathBuf::from(name);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| CoreError::Backend(format!("cannot open {}: {e}", lock_path.display())))?;
        match try_exclusive(&file) {
            Ok(true) => Ok(Some(file)),
            Ok(false) => Ok(None),
            Err(e) => Err(CoreError::Backend(format!(
                "cannot lock {}: {e}",
                lock_path.display()
            ))),
        }
    }

    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self, CoreError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    CoreError::Backend(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let (lock, sole) = owner_lock(path).await?;
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
            // Cut the WAL back to this size whenever the log starts over (module docs).
            .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT.to_string())
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
        // Its busy timeout bounds how long the idle-time TRUNCATE may hold up anyone (module
        // docs); PASSIVE checkpoints never wait at all.
        let checkpointer = opts
            .busy_timeout(IDLE_TRUNCATE_WAIT)
            .connect()
            .await
            .map_err(unavailable)?;
        let task = tokio::spawn(checkpoint_loop(checkpointer, stop.clone()));
        Ok(SqliteDb {
            writer,
            reader,
            shared: Arc::new(Shared {
                stop,
                checkpointer: Mutex::new(Some(task)),
                lock: Mutex::new(Some(lock)),
                sole_start: AtomicBool::new(sole),
            }),
        })
    }

    /// `true` once — to the first caller — if no other handle (in this process or another) had
    /// the database open when this one opened it: leases recorded in the database then belong
    /// to an earlier incarnation that is gone (module docs). `false` afterwards and for a handle
    /// that opened beside another.
    pub fn take_sole_start(&self) -> bool {
        self.shared.sole_start.swap(false, Ordering::SeqCst)
    }

    /// Closes the database cleanly: stops the checkpointer, closes the readers, empties the WAL
    /// with a `TRUNCATE` checkpoint, closes the writer and releases the owner lock. Every clone
    /// of this handle is closed with it; later queries fail with `PoolClosed`. Calling it again
    /// does nothing more.
    pub async fn close(&self) {
        self.shared.stop.cancel();
        let task = lock(&self.shared.checkpointer).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        self.reader.close().await;
        if !self.writer.is_closed() {
            // Waits (the writer's busy timeout) for readers of other handles or processes to
            // finish; if they outlast it, the WAL stays for the last connection to clean up.
            match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.writer)
                .await
            {
                Ok((0, _, _)) => {}
                Ok(_) => tracing::warn!("sqlite: the closing checkpoint was blocked by readers"),
                Err(e) => tracing::warn!(error = %e, "sqlite: the closing checkpoint failed"),
            }
        }
        self.writer.close().await;
        // Dropping the file releases the owner lock.
        drop(lock(&self.shared.lock).take());
    }
}

/// Locks a mutex, taking over a poisoned one (the data are an `Option` moved out whole).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Opens `<path>.lock` and takes the owner lock (module docs): exclusively if nobody holds it
/// (returns `true`), then shared for the life of the handle.
async fn owner_lock(path: &Path) -> Result<(std::fs::File, bool), CoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let cannot = |what: &str, e: std::io::Error| {
        CoreError::Backend(format!("cannot {what} {}: {e}", lock_path.display()))
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| cannot("open", e))?;
    // Taking the shared lock may wait for another handle between its exclusive attempt and its
    // downgrade (a moment): off the async runtime.
    let taken = tokio::task::spawn_blocking(move || flock_owner(&file).map(|sole| (file, sole)))
        .await
        .map_err(|e| CoreError::Backend(format!("owner lock: {e}")))?;
    taken.map_err(|e| cannot("lock", e))
}

/// The exclusive attempt, then the shared hold; `true` when the exclusive attempt succeeded.
#[cfg(unix)]
fn flock_owner(file: &std::fs::File) -> std::io::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    let sole = match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => true,
        Err(rustix::io::Errno::WOULDBLOCK) => false,
        Err(e) => return Err(e.into()),
    };
    // From exclusive this is a downgrade; otherwise it waits only for a handle that is between
    // its own two steps.
    flock(file, FlockOperation::LockShared)?;
    Ok(sole)
}

/// The exclusive attempt alone: `true` when taken (kept until the file is closed).
#[cfg(unix)]
fn try_exclusive(file: &std::fs::File) -> std::io::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Without `flock` nothing can tell whether a server has the database open: refuse.
#[cfg(not(unix))]
fn try_exclusive(_file: &std::fs::File) -> std::io::Result<bool> {
    Ok(false)
}

/// Without `flock`, no handle can know it is alone: leases always run out on their own.
#[cfg(not(unix))]
fn flock_owner(_file: &std::fs::File) -> std::io::Result<bool> {
    Ok(false)
}

/// Copies committed WAL frames into the database file every [`CHECKPOINT_EVERY`] until `stop`,
/// and empties the WAL once the writer is idle (module docs).
async fn checkpoint_loop(mut conn: sqlx::SqliteConnection, stop: CancellationToken) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Frames in the log at the previous tick.
    let mut last_frames = -1;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        // PASSIVE: copies what no reader still needs, waits for nobody. A failure (disk full,
        // say) is retried on the next tick; the WAL keeps every frame meanwhile.
        let (frames, copied) = match checkpoint(&mut conn, "PASSIVE").await {
            Ok((_, frames, copied)) => (frames, copied),
            Err(e) => {
                tracing::warn!(error = %e, "sqlite checkpoint failed; will retry");
                continue;
            }
        };
        // Idle: nothing was written since the last tick and everything is in the database
        // file. TRUNCATE then only waits (at most IDLE_TRUNCATE_WAIT) for readers to leave the
        // log and empties the file; busy is fine, the next idle tick tries again.
        if frames > 0 && frames == copied && frames == last_frames {
            match checkpoint(&mut conn, "TRUNCATE").await {
                Ok((0, _, _)) => {
                    tracing::debug!(frames, "sqlite: writer idle, WAL truncated");
                    last_frames = 0;
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "sqlite: idle WAL truncation deferred"),
            }
        }
        last_frames = frames;
    }
    let _ = conn.close().await;
}

/// `PRAGMA wal_checkpoint(MODE)`: (busy, frames in the log, frames copied).
async fn checkpoint(
    conn: &mut sqlx::SqliteConnection,
    mode: &str,
) -> Result<(i64, i64, i64), sqlx::Error> {
    sqlx::query_as(&format!("PRAGMA wal_checkpoint({mode})"))
        .fetch_one(conn)
        .await
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
