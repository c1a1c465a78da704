//! The shared `Queue` conformance suite against the embedded queue, each check on its own fresh
//! SQLite file.

// Test helpers outside #[test] fns: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use argus_core::testkit::queue_suite::{Fixture, QueueHarness};
use argus_store::sqlite::EmbeddedQueue;
use argus_store::SqliteDb;

struct Embedded;

#[async_trait::async_trait]
impl QueueHarness for Embedded {
    async fn fresh(&self) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("argus.db")).await.unwrap();
        let queue = EmbeddedQueue::new(db).await.unwrap();
        Fixture::new(Arc::new(queue), dir)
    }

    fn dedups_task_ids(&self) -> bool {
        true
    }
}

argus_core::queue_suite_tests!(Embedded);
