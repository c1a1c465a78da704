//! SQLite-specific behaviour the shared suite cannot express: migrations coexist with another
//! crate's migrations in the same table, re-opening a database keeps its data, event ids are
//! never reused after a scan's events are deleted, the WAL is emptied once the writer is idle and
//! at a clean shutdown, and the owner lock tells a handle whether it opened the database alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use argus_core::finding::FindingQuery;
use argus_core::store::prelude::*;
use argus_core::testkit::store_suite::{config, org, started};
use argus_store::{SqliteDb, SqliteStore};
use std::path::Path;
use std::time::{Duration, Instant};

fn wal_len(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

/// Writes about 16 MB through the writer in a few transactions: the WAL grows by as much.
async fn grow_wal(db: &SqliteDb) {
    sqlx::query("CREATE TABLE IF NOT EXISTS filler (b BLOB)")
        .execute(&db.writer)
        .await
        .unwrap();
    for _ in 0..16 {
        sqlx::query("INSERT INTO filler (b) VALUES (randomblob(1048576))")
            .execute(&db.writer)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn reopen_keeps_data_and_tolerates_foreign_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("argus.db");
    let o = org("org-a");
    let scan = {
        let store = SqliteStore::new(SqliteDb::open(&path).await.unwrap())
            .await
            .unwrap();
        // Another crate (the embedded queue) records its own migration, version >= 1000.
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (1000, 'queue init', 1, x'00', 0)",
        )
        .execute(&store.db().writer)
        .await
        .unwrap();
        let (scan, _) = started(&store, &o, config(), &["a"]).await;
        store.db().close().await;
        scan
    };
    let store = SqliteStore::new(SqliteDb::open(&path).await.unwrap())
        .await
        .unwrap();
    let s = store.get_scan(&o, scan).await.unwrap();
    assert_eq!(s.progress.enqueued, 1);
    assert_eq!(store.pending_tasks(10).await.unwrap().len(), 1);
    assert!(store
        .list_findings(&o, scan, &FindingQuery::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test]
async fn event_ids_are_not_reused_after_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::new(SqliteDb::open(&dir.path().join("e.db")).await.unwrap())
        .await
        .unwrap();
    let o = org("org-a");
    let (scan, _) = started(&store, &o, config(), &["a"]).await;
    let t = store
        .finish_scan(scan, argus_core::scan::ScanState::Failed, "test")
        .await
        .unwrap()
        .unwrap();
    let last = t.events.last().unwrap().id;
    store.delete_scan(&o, scan).await.unwrap();
    assert!(store
        .events_after(&o, None, 0, 100)
        .await
        .unwrap()
        .is_empty());
    let (scan2, _) = started(&store, &o, config(), &["a"]).await;
    let evs = store.events_after(&o, Some(scan2), 0, 100).await.unwrap();
    assert!(
        evs.iter().all(|e| e.id > last),
        "ids continue after deleted events"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_truncated_once_the_writer_is_idle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("argus.db");
    let store = SqliteStore::new(SqliteDb::open(&path).await.unwrap())
        .await
        .unwrap();
    // A reader keeps reading throughout, as the API does: it must not keep the WAL alive.
    let reader = store.db().reader.clone();
    let reads = tokio::spawn(async move {
        loop {
            let _ = sqlx::query("SELECT count(*) FROM sqlite_master")
                .fetch_one(&reader)
                .await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    grow_wal(store.db()).await;
    // The checkpointer needs two quiet ticks (≥ 250 ms) to call the writer idle.
    let grown = wal_len(&path);
    assert!(grown > 8 << 20, "the WAL did not grow: {grown} bytes");

    let deadline = Instant::now() + Duration::from_secs(10);
    while wal_len(&path) > 0 {
        assert!(
            Instant::now() < deadline,
            "the WAL still holds {} bytes 10 s after the last write",
            wal_len(&path)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reads.abort();
    // Emptied, not lost: the rows are in the database file.
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM filler")
        .fetch_one(&store.db().reader)
        .await
        .unwrap();
    assert_eq!(n, 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_leaves_no_wal_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("argus.db");
    let o = org("org-a");
    let store = SqliteStore::new(SqliteDb::open(&path).await.unwrap())
        .await
        .unwrap();
    let (scan, _) = started(&store, &o, config(), &["a", "b"]).await;
    grow_wal(store.db()).await;
    assert!(wal_len(&path) > 8 << 20);

    // Straight after the writes: the idle checkpointer has had no chance to empty it.
    store.shutdown().await;
    assert_eq!(wal_len(&path), 0, "WAL content left after shutdown");
    assert!(
        store.get_scan(&o, scan).await.is_err(),
        "the store is closed after shutdown"
    );

    let store = SqliteStore::new(SqliteDb::open(&path).await.unwrap())
        .await
        .unwrap();
    assert_eq!(store.get_scan(&o, scan).await.unwrap().progress.enqueued, 2);
}

#[tokio::test]
async fn only_a_handle_that_opens_alone_starts_sole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("argus.db");
    let first = SqliteDb::open(&path).await.unwrap();
    let second = SqliteDb::open(&path).await.unwrap();
    assert!(!second.take_sole_start(), "opened beside another handle");
    assert!(first.take_sole_start(), "the first handle opened alone");
    assert!(!first.take_sole_start(), "told once");

    // The first goes (as a crashed process would); the second is still there.
    first.close().await;
    drop(first);
    let third = SqliteDb::open(&path).await.unwrap();
    assert!(!third.take_sole_start());

    second.close().await;
    third.close().await;
    let fourth = SqliteDb::open(&path).await.unwrap();
    assert!(fourth.take_sole_start(), "every other handle is gone");
}
