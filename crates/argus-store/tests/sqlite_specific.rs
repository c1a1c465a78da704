//! SQLite-specific behaviour the shared suite cannot express: migrations coexist with another
//! crate's migrations in the same table, re-opening a database keeps its data, and event ids are
//! never reused after a scan's events are deleted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use argus_core::finding::FindingQuery;
use argus_core::store::Store;
use argus_core::testkit::store_suite::{config, org, started};
use argus_store::{SqliteDb, SqliteStore};

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
