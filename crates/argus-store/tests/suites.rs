//! Runs the shared conformance suites against the embedded backends: `SqliteStore` on a real
//! SQLite file in a temporary folder, and `LocalArtifactStore` on a temporary folder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};

use argus_store::{LocalArtifactStore, SqliteDb, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_suite() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicU32::new(0);
    argus_core::testkit::store_suite::run_all(|| {
        let path = dir
            .path()
            .join(format!("store-{}.db", n.fetch_add(1, Ordering::SeqCst)));
        async move {
            let db = SqliteDb::open(&path).await.unwrap();
            SqliteStore::new(db).await.unwrap()
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_artifact_suite() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicU32::new(0);
    argus_core::testkit::artifact_suite::run_all(|| {
        let root = dir
            .path()
            .join(format!("artifacts-{}", n.fetch_add(1, Ordering::SeqCst)));
        async move { LocalArtifactStore::new(root).unwrap() }
    })
    .await;
}
