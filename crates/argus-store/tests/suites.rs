//! Runs the shared conformance suites against the embedded backends: `SqliteStore` on a real
//! SQLite file in a temporary folder, and `LocalArtifactStore` on a temporary folder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};

use argus_store::LocalArtifactStore;

/// The store suite, one test per case, each on its own SQLite file.
mod sqlite_store {
    use argus_core::testkit::store_suite::{StoreFixture, StoreHarness};
    use argus_store::{SqliteDb, SqliteStore};

    struct Sqlite;

    #[async_trait::async_trait]
    impl StoreHarness for Sqlite {
        type Store = SqliteStore;

        async fn fresh(&self) -> Option<StoreFixture<SqliteStore>> {
            let dir = tempfile::tempdir().unwrap();
            let db = SqliteDb::open(&dir.path().join("store.db")).await.unwrap();
            let store = SqliteStore::new(db).await.unwrap();
            Some(StoreFixture::new(store, dir))
        }
    }

    argus_core::store_suite_tests!(Sqlite);
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
