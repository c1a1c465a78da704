//! `argus admin backup <FILE>` and `argus admin restore <FILE>`: a consistent copy of the
//! embedded SQLite database, taken while the server runs, and its atomic restore.
//!
//! Backup: `VACUUM INTO` on a plain connection to the live database (WAL mode). It reads one
//! snapshot in one read transaction, so the copy is consistent however much the server writes
//! meanwhile (writers go on: WAL readers never block them); it takes no part in the server's
//! owner lock. The copy is written beside the destination as `<FILE>.partial`, checked, synced
//! and renamed into place, so `<FILE>` is either absent or complete. The embedded queue lives in
//! the same database, so queued tasks are part of the copy.
//!
//! Restore (invariants):
//! - Never while a process has the database open: the database's owner lock
//!   (`SqliteDb::lock_exclusive`) must be free, and it is held until the restore is done, so a
//!   server starting meanwhile waits for it.
//! - Only an Argus database: `PRAGMA integrity_check` is `ok`, the `_sqlx_migrations` table
//!   lists this store's first migration and a `scans` table exists.
//! - Atomic replacement: the file is copied beside the database, synced, the old database's
//!   `-wal`/`-shm` files are removed (a stale log must never be replayed onto another
//!   database), the copy is renamed over the database and the folder synced. An existing
//!   database is replaced only with `--force`.
//!
//! Artifacts (`artifacts.url`, by default `<data dir>/artifacts`) are files, not rows: they are
//! copied with the tools of their storage, not by these commands (docs/operations.md).
//!
//! With a PostgreSQL `store.url` both commands print how to use `pg_dump -Fc` / `pg_restore`
//! and exit with status 2: the database server's own tools are the right ones there.

use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

use argus_store::sqlite::backup as sqlite_backup;
use argus_store::SqliteDb;

use crate::admin_cmd::StoreArgs;
use crate::config::{Config, StoreBackend};

/// Exit status of a command that does not apply to the configured store.
const NOT_APPLICABLE: u8 = 2;

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Where to write the copy; must not exist yet.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// A copy made by `argus admin backup`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Replace an existing database (without it, restore only fills an empty data dir).
    #[arg(long)]
    pub force: bool,
}

fn load(file: Option<&Path>, store: &StoreArgs) -> anyhow::Result<Config> {
    let overrides = match &store.data_dir {
        Some(d) => serde_json::json!({ "server": { "data_dir": d } }),
        None => serde_json::json!({}),
    };
    Config::load(file, overrides)
}

/// `argus admin backup`; returns the exit code.
pub async fn backup(file: Option<&Path>, args: BackupArgs) -> anyhow::Result<u8> {
    let cfg = load(file, &args.store)?;
    let db = match cfg.store_backend()? {
        StoreBackend::Sqlite(path) => path,
        StoreBackend::Postgres(_) => {
            eprintln!("{}", POSTGRES_BACKUP);
            return Ok(NOT_APPLICABLE);
        }
    };
    if !db.is_file() {
        anyhow::bail!(
            "no database at {} (is --data-dir or store.url right?)",
            db.display()
        );
    }
    let dest = absolute(&args.file)?;
    if dest.exists() {
        anyhow::bail!(
            "{} exists; a backup never overwrites a file, choose a new name",
            dest.display()
        );
    }
    let partial = with_suffix(&dest, ".partial");
    remove_if_present(&partial)?;

    if let Err(e) = sqlite_backup::vacuum_into(&db, &partial).await {
        let _ = std::fs::remove_file(&partial);
        return Err(e.into());
    }
    let summary = match check_argus_db(&partial).await {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.context("the copy failed its check"));
        }
    };
    sync_file(&partial)?;
    std::fs::rename(&partial, &dest)
        .with_context(|| format!("renaming {} to {}", partial.display(), dest.display()))?;
    sync_parent(&dest)?;
    eprintln!(
        "backed up {} to {} ({} bytes, {} scans)",
        db.display(),
        dest.display(),
        std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0),
        summary.scans
    );
    Ok(0)
}

/// `argus admin restore`; returns the exit code.
pub async fn restore(file: Option<&Path>, args: RestoreArgs) -> anyhow::Result<u8> {
    let cfg = load(file, &args.store)?;
    let db = match cfg.store_backend()? {
        StoreBackend::Sqlite(path) => path,
        StoreBackend::Postgres(_) => {
            eprintln!("{}", POSTGRES_RESTORE);
            return Ok(NOT_APPLICABLE);
        }
    };
    let src = absolute(&args.file)?;
    if !src.is_file() {
        anyhow::bail!("{} is not a file", src.display());
    }
    let summary = check_argus_db(&src)
        .await
        .with_context(|| format!("{} is not a usable Argus backup", src.display()))?;
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Held to the end: a server starting meanwhile waits for the restore.
    let Some(_lock) = SqliteDb::lock_exclusive(&db)? else {
        anyhow::bail!(
            "{} is open in a running Argus process (serve, worker or admin); stop it first",
            db.display()
        );
    };
    if db.exists() && !args.force {
        anyhow::bail!(
            "{} exists; add --force to replace it with {}",
            db.display(),
            src.display()
        );
    }
    let staged = with_suffix(&db, ".restore");
    std::fs::copy(&src, &staged)
        .with_context(|| format!("copying {} to {}", src.display(), staged.display()))?;
    sync_file(&staged)?;
    // A stale log must never meet another database: remove it before the new file takes the
    // old one's name.
    for sidecar in ["-wal", "-shm", "-journal"] {
        remove_if_present(&with_suffix(&db, sidecar))?;
    }
    std::fs::rename(&staged, &db)
        .with_context(|| format!("renaming {} to {}", staged.display(), db.display()))?;
    sync_parent(&db)?;
    eprintln!(
        "restored {} from {} ({} scans)",
        db.display(),
        src.display(),
        summary.scans
    );
    Ok(0)
}

/// What the check of a database file found.
struct Summary {
    scans: i64,
}

/// Checks that `path` is an intact Argus database (read-only: nothing is written beside it).
async fn check_argus_db(path: &Path) -> anyhow::Result<Summary> {
    let scans = sqlite_backup::check_file(path).await?;
    Ok(Summary { scans })
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("reading the current directory")?
        .join(p))
}

/// `path` with `suffix` appended to its file name (`argus.db` → `argus.db-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

fn sync_file(path: &Path) -> anyhow::Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", path.display()))
}

/// Makes a rename in `path`'s folder durable.
fn sync_parent(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing {}", dir.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

const POSTGRES_BACKUP: &str = "\
store.url names a PostgreSQL database: back it up with PostgreSQL's own tools, which take a
consistent snapshot while Argus keeps running, e.g.

    pg_dump --format=custom --file=argus.dump \"$ARGUS_STORE__URL\"

(argus admin backup copies the embedded SQLite database only.)";

const POSTGRES_RESTORE: &str = "\
store.url names a PostgreSQL database: restore it with PostgreSQL's own tools, with every
Argus process stopped, into an empty database (or add --clean), e.g.

    pg_restore --no-owner --dbname=\"$ARGUS_STORE__URL\" argus.dump

(argus admin restore replaces the embedded SQLite database only.)";
