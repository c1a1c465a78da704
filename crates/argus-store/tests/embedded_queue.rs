//! Embedded-queue specifics beyond the shared suite: durability across reopen, leases released at
//! a sole restart and kept beside another handle, wake-ups that do not rely on polling,
//! coexistence with the store's migrations, id reuse, poison payloads.

// Test helpers outside #[test] fns: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use argus_core::queue::{Queue, QueueDepth};
use argus_core::scan::Priority;
use argus_core::testkit::queue_suite::task;
use argus_core::ScanId;
use argus_store::sqlite::{EmbeddedQueue, EmbeddedQueueOptions};
use argus_store::SqliteDb;
use tokio::time::Instant;

const LONG: Duration = Duration::from_secs(120);

async fn open(path: &std::path::Path) -> EmbeddedQueue {
    EmbeddedQueue::new(SqliteDb::open(path).await.unwrap())
        .await
        .unwrap()
}

/// Polls `cond` until it holds or 10 s pass.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Reopened by a process of its own (nobody else has the database open), the queue knows the
/// holders of its leases are gone: their tasks are ready at once, not a lease later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_survive_reopen_and_a_sole_restart_releases_old_leases_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("argus.db");
    let scan = ScanId::new();
    let tasks: Vec<_> = (0..10).map(|n| task(scan, Priority::Medium, n)).collect();
    let leased = {
        let q = open(&path).await;
        q.enqueue(&tasks).await.unwrap();
        let leased = q.claim(2, LONG, Duration::ZERO).await.unwrap();
        assert_eq!(leased.len(), 2);
        assert_eq!(q.depth().await.unwrap().leased, 2);
        q.db().close().await;
        leased
    };

    let q = open(&path).await;
    assert_eq!(
        q.depth().await.unwrap(),
        QueueDepth {
            ready: 10,
            leased: 0,
            dead: 0
        },
        "leases of the earlier incarnation are released at start-up"
    );
    let all = q.claim(100, LONG, Duration::ZERO).await.unwrap();
    let got: Vec<_> = all.iter().map(|d| d.task.clone()).collect();
    assert_eq!(got, tasks, "every task comes back intact and in order");
    for d in &all[..2] {
        assert_eq!(
            d.attempt, 2,
            "a released task's next delivery is a new attempt"
        );
    }
    // The dead holder's tokens match nothing any more.
    q.ack(&leased.iter().map(|d| d.lease).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(q.depth().await.unwrap().leased, 10);
}

/// While another handle has the database open (a second process on the same data dir), its
/// leases may be live: a new handle leaves them alone, and they are honoured across it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_stay_while_another_handle_shares_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("argus.db");
    let scan = ScanId::new();
    let tasks: Vec<_> = (0..10).map(|n| task(scan, Priority::Medium, n)).collect();
    let first = open(&path).await;
    first.enqueue(&tasks).await.unwrap();
    let leased = first.claim(2, LONG, Duration::ZERO).await.unwrap();
    assert_eq!(leased.len(), 2);

    let second = open(&path).await;
    assert_eq!(
        second.depth().await.unwrap(),
        QueueDepth {
            ready: 8,
            leased: 2,
            dead: 0
        }
    );
    let rest = second.claim(100, LONG, Duration::ZERO).await.unwrap();
    let got: Vec<_> = rest.iter().map(|d| d.task.clone()).collect();
    assert_eq!(got, tasks[2..].to_vec());

    // The first handle goes; a third opens while the second still shares the database.
    first.db().close().await;
    drop(first);
    let third = open(&path).await;
    assert_eq!(third.depth().await.unwrap().leased, 10);
    // Leases taken before the other handles opened are still honoured.
    third
        .ack(&leased.iter().map(|d| d.lease).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(
        third.depth().await.unwrap(),
        QueueDepth {
            ready: 0,
            leased: 8,
            dead: 0
        }
    );
}

/// With polling effectively off, only the in-process wake-up can end the waits early.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_wakes_every_waiting_claimer_without_polling() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("argus.db")).await.unwrap();
    let opts = EmbeddedQueueOptions {
        poll_interval: Duration::from_secs(3600),
        ..EmbeddedQueueOptions::default()
    };
    let q = EmbeddedQueue::with_options(db, opts).await.unwrap();
    let wait = Duration::from_secs(10);

    let claimers: Vec<_> = (0..4)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move {
                let t0 = Instant::now();
                let got = q.claim(1, LONG, wait).await.unwrap();
                (got, t0.elapsed())
            })
        })
        .collect();
    until("4 claimers asleep", || q.waiting_claimers() == 4).await;

    let scan = ScanId::new();
    let tasks: Vec<_> = (0..4).map(|n| task(scan, Priority::Medium, n)).collect();
    q.enqueue(&tasks).await.unwrap();

    let mut seen = Vec::new();
    for c in claimers {
        let (got, elapsed) = c.await.unwrap();
        assert_eq!(got.len(), 1);
        assert!(elapsed < wait, "a claimer slept through the enqueue");
        seen.push(got[0].task.id);
    }
    seen.sort();
    let mut want: Vec<_> = tasks.iter().map(|t| t.id).collect();
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(q.waiting_claimers(), 0);
}

/// A zero-delay retry wakes a sleeping claimer too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_wakes_a_waiting_claimer() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("argus.db")).await.unwrap();
    let opts = EmbeddedQueueOptions {
        poll_interval: Duration::from_secs(3600),
        ..EmbeddedQueueOptions::default()
    };
    let q = EmbeddedQueue::with_options(db, opts).await.unwrap();
    let t = task(ScanId::new(), Priority::Medium, 1);
    q.enqueue(std::slice::from_ref(&t)).await.unwrap();
    let d = q.claim(1, LONG, Duration::ZERO).await.unwrap().remove(0);

    let wait = Duration::from_secs(10);
    let q2 = q.clone();
    let claimer = tokio::spawn(async move {
        let t0 = Instant::now();
        (q2.claim(1, LONG, wait).await.unwrap(), t0.elapsed())
    });
    until("claimer asleep", || q.waiting_claimers() == 1).await;
    q.retry(&d.lease, Duration::ZERO).await.unwrap();
    let (got, elapsed) = claimer.await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].task.id, got[0].attempt), (t.id, 2));
    assert!(elapsed < wait);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_fills_the_batch_when_work_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(&dir.path().join("argus.db")).await;
    let scan = ScanId::new();
    let tasks: Vec<_> = (0..10).map(|n| task(scan, Priority::Medium, n)).collect();
    q.enqueue(&tasks).await.unwrap();
    assert_eq!(q.claim(3, LONG, Duration::ZERO).await.unwrap().len(), 3);
    assert_eq!(q.claim(100, LONG, Duration::ZERO).await.unwrap().len(), 7);
}

/// Row ids are never reused, so a token of an acked task cannot match a later task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_tokens_never_match_new_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(&dir.path().join("argus.db")).await;
    let scan = ScanId::new();
    q.enqueue(&[task(scan, Priority::Medium, 1)]).await.unwrap();
    let d1 = q.claim(1, LONG, Duration::ZERO).await.unwrap().remove(0);
    q.ack(&[d1.lease]).await.unwrap();

    q.enqueue(&[task(scan, Priority::Medium, 2)]).await.unwrap();
    let d2 = q.claim(1, LONG, Duration::ZERO).await.unwrap().remove(0);
    assert_ne!(d1.lease, d2.lease);
    q.ack(&[d1.lease]).await.unwrap();
    q.dead_letter(&d1.lease, "stale").await.unwrap();
    assert_eq!(
        q.depth().await.unwrap(),
        QueueDepth {
            ready: 0,
            leased: 1,
            dead: 0
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_keeps_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(&dir.path().join("argus.db")).await;
    let t = task(ScanId::new(), Priority::Medium, 1);
    q.enqueue(std::slice::from_ref(&t)).await.unwrap();
    let d = q.claim(1, LONG, Duration::ZERO).await.unwrap().remove(0);
    assert_eq!(q.dead_letter_error(t.id).await.unwrap(), None);
    q.dead_letter(&d.lease, "nmap exited with status 1")
        .await
        .unwrap();
    assert_eq!(
        q.dead_letter_error(t.id).await.unwrap().as_deref(),
        Some("nmap exited with status 1")
    );
}

/// A payload this build cannot decode is dead-lettered with the reason, not delivered forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_payload_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(&dir.path().join("argus.db")).await;
    let scan = ScanId::new();
    let bad = task(scan, Priority::High, 1);
    let good = task(scan, Priority::Medium, 2);
    q.enqueue(&[bad.clone(), good.clone()]).await.unwrap();
    sqlx::query("UPDATE queue_tasks SET payload = '{\"not\":\"a task\"}' WHERE task_id = ?1")
        .bind(bad.id.to_string())
        .execute(&q.db().writer)
        .await
        .unwrap();

    let got = q.claim(10, LONG, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].task.id, good.id);
    assert_eq!(
        q.depth().await.unwrap(),
        QueueDepth {
            ready: 0,
            leased: 1,
            dead: 1
        }
    );
    let error = q.dead_letter_error(bad.id).await.unwrap().unwrap();
    assert!(error.contains("undecodable"), "{error}");
}

/// The store's migrations (1..999) and the queue's (≥ 1000) share `_sqlx_migrations`, in
/// either order of first start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coexists_with_store_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let store_migrations = dir.path().join("store-migrations");
    std::fs::create_dir(&store_migrations).unwrap();
    std::fs::write(
        store_migrations.join("0001_store.sql"),
        "CREATE TABLE store_probe (id INTEGER PRIMARY KEY);",
    )
    .unwrap();
    let mut store = sqlx::migrate::Migrator::new(store_migrations.as_path())
        .await
        .unwrap();
    store.set_ignore_missing(true);

    // Store first, then the queue, then both again (a restart).
    let path = dir.path().join("a.db");
    let db = SqliteDb::open(&path).await.unwrap();
    store.run(&db.writer).await.unwrap();
    let q = EmbeddedQueue::new(db.clone()).await.unwrap();
    store.run(&db.writer).await.unwrap();
    let q2 = EmbeddedQueue::new(db.clone()).await.unwrap();
    q.enqueue(&[task(ScanId::new(), Priority::Low, 1)])
        .await
        .unwrap();
    assert_eq!(q2.depth().await.unwrap().ready, 1);

    // Queue first, then the store.
    let db = SqliteDb::open(&dir.path().join("b.db")).await.unwrap();
    let _q = EmbeddedQueue::new(db.clone()).await.unwrap();
    store.run(&db.writer).await.unwrap();
    let versions: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&db.reader)
            .await
            .unwrap();
    assert_eq!(versions, vec![(1,), (1001,), (1002,), (1003,)]);
}

/// Many waiting claimers and a stream of single enqueues: each task is picked up, none lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_enqueues_reach_waiting_claimers() {
    let dir = tempfile::tempdir().unwrap();
    let q = Arc::new(open(&dir.path().join("argus.db")).await);
    let scan = ScanId::new();
    let n = 200;
    let claimers: Vec<_> = (0..4)
        .map(|_| {
            let q = Arc::clone(&q);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    let got = q.claim(8, LONG, Duration::from_secs(3)).await.unwrap();
                    if got.is_empty() {
                        return seen;
                    }
                    q.ack(&got.iter().map(|d| d.lease).collect::<Vec<_>>())
                        .await
                        .unwrap();
                    seen.extend(got.into_iter().map(|d| d.task.id));
                }
            })
        })
        .collect();
    let mut want = Vec::new();
    for i in 0..n {
        let t = task(scan, Priority::Medium, i);
        want.push(t.id);
        q.enqueue(&[t]).await.unwrap();
    }
    let mut seen = Vec::new();
    for c in claimers {
        seen.extend(c.await.unwrap());
    }
    seen.sort();
    want.sort();
    assert_eq!(seen, want);
}

/// Batches of any size are split into multi-row inserts without losing FIFO order, and a task id
/// repeated across those inserts is still queued once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_sized_batches_keep_order_and_dedup() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(&dir.path().join("argus.db")).await;
    let scan = ScanId::new();
    let mut tasks: Vec<_> = (0..777).map(|n| task(scan, Priority::Medium, n)).collect();
    // Positions 0 and 700 land in different insert statements (256 + 256 + 256 + 8 + 1).
    tasks.push(tasks[0].clone());
    tasks.push(tasks[700].clone());
    q.enqueue(&tasks).await.unwrap();
    q.enqueue(&tasks[..1]).await.unwrap();
    assert_eq!(q.depth().await.unwrap().ready, 777);

    let got = q.claim(1000, LONG, Duration::ZERO).await.unwrap();
    let ids: Vec<_> = got.iter().map(|d| d.task.id).collect();
    let want: Vec<_> = tasks[..777].iter().map(|t| t.id).collect();
    assert_eq!(ids, want);
}

/// With the store publishing inline (`SqliteStore::with_inline_queue`), a started scan's tasks
/// and its spawned tasks reach the queue in the ledger's own transaction: nothing is left
/// `pending` for the relay, and a spawn deduped by the ledger is not queued either. A paused
/// scan's spawned tasks are the exception: they wait in the ledger until the resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_publishes_inline_in_the_ledger_transaction() {
    use argus_core::scan::ScanAction;
    use argus_core::store::prelude::*;
    use argus_core::task::{TaskReport, TaskStatus};
    use argus_core::testkit::store_suite::{config, domain, new_scan, org, task as ledger_task};
    use argus_store::SqliteStore;

    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("argus.db")).await.unwrap();
    let store = SqliteStore::new(db.clone()).await.unwrap();
    let queue = EmbeddedQueue::new(db).await.unwrap();
    let store = store.with_inline_queue(Arc::new(queue.clone()));
    let o = org("org-inline");
    let scan = store.create_scan(new_scan(&o, config())).await.unwrap();
    let root = ledger_task(scan.id, &o, "root");
    store
        .start_scan(&o, scan.id, vec![root.clone()])
        .await
        .unwrap();
    assert!(store.pending_tasks(10).await.unwrap().is_empty());
    let got = queue.claim(10, LONG, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].task.id, root.id);
    store.mark_running(&[scan.id]).await.unwrap();

    // Two spawns share a target (the ledger dedups the second, which comes last), one is new.
    let mut report = TaskReport::status(&got[0].task, TaskStatus::Running);
    report.spawned = vec![
        ledger_task(scan.id, &o, "child"),
        ledger_task(scan.id, &o, "other"),
        ledger_task(scan.id, &o, "child"),
    ];
    let out = store.record(vec![report]).await.unwrap();
    assert_eq!((out.spawned, out.published), (2, 2));
    assert!(store.pending_tasks(10).await.unwrap().is_empty());
    assert_eq!(queue.depth().await.unwrap().ready, 2);

    // Paused: a new spawn stays pending (the relay publishes it after the resume).
    store
        .apply_action(&o, scan.id, ScanAction::Pause)
        .await
        .unwrap();
    let mut late = TaskReport::status(&got[0].task, TaskStatus::Running);
    late.spawned = vec![ledger_task(scan.id, &o, "late")];
    let out = store.record(vec![late]).await.unwrap();
    assert_eq!((out.spawned, out.published), (1, 0));
    let pending = store.pending_tasks(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].target, domain("late"));
    assert_eq!(queue.depth().await.unwrap().ready, 2);
}
