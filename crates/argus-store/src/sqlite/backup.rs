//! Copies and checks of the embedded database file, for `argus admin backup` / `restore`
//! (the files, locks and renames around them are the CLI's).
//!
//! [`vacuum_into`] reads one snapshot of the live database in one read transaction on a plain
//! connection of its own (no owner lock, no checkpointer): WAL readers never block the writer,
//! so the server keeps writing, and the copy is consistent. [`check_file`] opens a file
//! read-only and immutable (nothing is written beside it) and checks that it is an intact
//! Argus database.

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::path::Path;
use std::time::Duration;

use argus_core::CoreError;

fn backend(what: &str, e: sqlx::Error) -> CoreError {
    CoreError::Backend(format!("{what}: {e}"))
}

/// Writes a consistent copy of the database at `db` to `dest`, which must not exist (or be
/// empty). `db` must exist; it is never created.
pub async fn vacuum_into(db: &Path, dest: &Path) -> Result<(), CoreError> {
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await
        .map_err(|e| backend(&format!("opening {}", db.display()), e))?;
    let r = sqlx::query("VACUUM INTO ?1")
        .bind(dest.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .map_err(|e| {
            backend(
                &format!("copying {} to {}", db.display(), dest.display()),
                e,
            )
        });
    let _ = conn.close().await;
    r.map(|_| ())
}

/// Checks that `path` is an intact Argus database (`PRAGMA integrity_check` is `ok`, the
/// `_sqlx_migrations` table lists this store's first migration, a `scans` table exists) and
/// returns how many scans it holds.
pub async fn check_file(path: &Path) -> Result<i64, CoreError> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true)
        .create_if_missing(false)
        .connect()
        .await
        .map_err(|e| backend(&format!("opening {} as SQLite", path.display()), e))?;
    let r = check_conn(&mut conn).await;
    let _ = conn.close().await;
    r
}

async fn check_conn(conn: &mut sqlx::SqliteConnection) -> Result<i64, CoreError> {
    let integrity: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| backend("not a SQLite database", e))?;
    if integrity.len() != 1 || integrity[0].0 != "ok" {
        let first: Vec<String> = integrity.into_iter().take(5).map(|(m,)| m).collect();
        return Err(CoreError::Backend(format!(
            "integrity check failed: {}",
            first.join("; ")
        )));
    }
    let (tables,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
         AND name IN ('_sqlx_migrations', 'scans')",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| backend("reading the schema", e))?;
    if tables != 2 {
        return Err(CoreError::Backend(
            "no Argus tables (_sqlx_migrations, scans) in it".into(),
        ));
    }
    let (first,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM _sqlx_migrations WHERE version = 1 AND success = 1")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| backend("reading the migrations", e))?;
    if first != 1 {
        return Err(CoreError::Backend(
            "its migrations table does not list Argus's first migration".into(),
        ));
    }
    let (scans,): (i64,) = sqlx::query_as("SELECT count(*) FROM scans")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| backend("counting scans", e))?;
    Ok(scans)
}
