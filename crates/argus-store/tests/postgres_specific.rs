//! PostgreSQL-specific behaviour the shared suite cannot express, for distributed mode where
//! several processes share one database (each process is simulated by its own `PgStore`, i.e.
//! its own pool and relay identity):
//! - event ids become visible in id order under concurrent writers (no gap filled later), in
//!   one org's log and in the forwarder's feed of every org;
//! - the relay lease hands each pending task to one process at a time, and a crashed relay's
//!   tasks come back once its lease ran out;
//! - spawned tasks are written once and relayed through relay marks (no ledger row rewritten),
//!   which survive a crash, are parked by a pause and deleted by the clean-up;
//! - counters stay exact when several processes report overlapping batches;
//! - the pool recovers after the server terminated all its connections;
//! - leadership is exclusive across processes; migrations re-run and tolerate foreign versions;
//!   event ids are never reused; NUL characters never make a batch (or a sink's state or dead
//!   letter) fail for good; connection
//!   failures are `Unavailable` and never show credentials.
//!
//! Needs `ARGUS_TEST_POSTGRES_URL` (skipped when unset, a failure under `CI=true`). Each test
//! works in its own schema, dropped at the end when the test passed.

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::event::EventKind;
use argus_core::finding::{FindingQuery, Severity};
use argus_core::scan::ScanState;
use argus_core::store::prelude::*;
use argus_core::task::{Task, TaskReport, TaskStatus};
use argus_core::testkit::store_suite::{config, finding, org, started, task};
use argus_core::{CoreError, TaskId};
use argus_store::{PgOptions, PgStore};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// One test's private schema on the test server.
struct Schema {
    base: String,
    admin: PgPool,
    name: String,
}

impl Schema {
    async fn new() -> Option<Schema> {
        let base = argus_core::testkit::service_url("ARGUS_TEST_POSTGRES_URL")?;
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect(&base)
            .await
            .unwrap();
        let name = format!("argus_t_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&admin)
            .await
            .unwrap();
        Some(Schema { base, admin, name })
    }

    /// The URL of this schema; connections are named after it (`application_name`).
    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-c%20search_path%3D{n}&application_name={n}",
            self.base,
            n = self.name
        )
    }

    /// A store on this schema: a "process" of its own.
    async fn store(&self, max_connections: u32) -> PgStore {
        PgStore::connect(
            &self.url(),
            PgOptions {
                max_connections,
                migrate: true,
            },
        )
        .await
        .unwrap()
    }

    async fn drop(self) {
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&self.admin)
            .await
            .unwrap();
    }
}

fn done(t: &Task) -> TaskReport {
    TaskReport::status(t, TaskStatus::Done)
}

/// Deterministic shuffle (no RNG dependency): a linear congruential sequence of swaps.
fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for i in (1..v.len()).rev() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = ((x >> 33) % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// Requirement 1: with many concurrent writers, a reader that resumes from the highest id it has
/// seen (as a live client with `Last-Event-ID` does) ends up with every event: no id below one
/// it saw ever becomes visible later.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_ids_become_visible_in_id_order() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    const WRITERS: usize = 12;
    const TASKS: usize = 60;
    let processes = [
        Arc::new(schema.store(7).await),
        Arc::new(schema.store(7).await),
    ];
    let o = org("org-a");
    let mut work = Vec::new();
    for w in 0..WRITERS {
        let names: Vec<String> = (0..TASKS).map(|i| format!("w{w}t{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let (scan, tasks) = started(&*processes[w % 2], &o, config(), &refs).await;
        work.push((scan, tasks));
    }
    let reader_store = processes[0].clone();
    let writers_done = Arc::new(tokio::sync::Notify::new());
    let stop = writers_done.clone();
    let o2 = o.clone();
    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut last = 0;
        let mut polls = 0u32;
        let mut finishing = false;
        loop {
            let page = reader_store
                .events_after(&o2, None, last, 1000)
                .await
                .unwrap();
            polls += 1;
            if let Some(e) = page.last() {
                last = e.id;
            }
            let empty = page.is_empty();
            seen.extend(page.into_iter().map(|e| e.id));
            if finishing && empty {
                return (seen, polls);
            }
            if !finishing {
                tokio::select! {
                    _ = stop.notified() => finishing = true,
                    _ = tokio::task::yield_now() => {}
                }
            }
        }
    });
    let mut handles = Vec::new();
    for (w, (_, tasks)) in work.into_iter().enumerate() {
        let store = processes[w % 2].clone();
        handles.push(tokio::spawn(async move {
            for chunk in tasks.chunks(3) {
                let reports = chunk
                    .iter()
                    .map(|t| {
                        let mut r = done(t);
                        r.findings = vec![finding(&t.id.to_string(), Severity::Low)];
                        r
                    })
                    .collect();
                store.record(reports).await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    writers_done.notify_one();
    let (seen, polls) = reader.await.unwrap();

    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = processes[1]
            .events_after(&o, None, after, 1000)
            .await
            .unwrap();
        let Some(e) = page.last() else { break };
        after = e.id;
        all.extend(page.into_iter().map(|e| e.id));
    }
    // Per writer: 20 batches × (3 findings + 1 progress) + the completion = 81 events, plus
    // the start events.
    assert!(all.len() >= WRITERS * 81, "only {} events", all.len());
    assert!(
        polls > 10,
        "the reader polled while writers ran ({polls} polls)"
    );
    let missed: Vec<i64> = {
        let s: HashSet<i64> = seen.iter().copied().collect();
        all.iter().copied().filter(|id| !s.contains(id)).collect()
    };
    assert!(
        missed.is_empty(),
        "the live reader never saw {} events (ids filled in below ids it had seen): {:?}",
        missed.len(),
        &missed[..missed.len().min(10)]
    );
    assert_eq!(seen, all, "seen in id order, each once");
    schema.drop().await;
}

/// The forwarder's feed (`events_since`, every org) keeps the same order under concurrent
/// writers of two orgs in two processes, scans being created (each `create_scan` appends its
/// `created` event) while others record: a reader that resumes from the highest id it has seen
/// ends up with every event, each once, in id order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_since_never_skips_under_concurrent_writers() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    const WRITERS: usize = 8;
    const TASKS: usize = 30;
    let processes = [
        Arc::new(schema.store(6).await),
        Arc::new(schema.store(6).await),
    ];
    let orgs = [org("org-a"), org("org-b")];
    let mut work = Vec::new();
    for w in 0..WRITERS {
        let names: Vec<String> = (0..TASKS).map(|i| format!("w{w}t{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        work.push(started(&*processes[w % 2], &orgs[w % 2], config(), &refs).await);
    }
    let reader_store = processes[0].clone();
    let writers_done = Arc::new(tokio::sync::Notify::new());
    let stop = writers_done.clone();
    let reader = tokio::spawn(async move {
        let (mut seen, mut last, mut polls, mut finishing) = (Vec::new(), 0, 0u32, false);
        loop {
            let page = reader_store.events_since(last, 500).await.unwrap();
            polls += 1;
            if let Some(e) = page.last() {
                last = e.id;
            }
            let empty = page.is_empty();
            seen.extend(page.into_iter().map(|e| e.id));
            if finishing && empty {
                return (seen, polls);
            }
            if !finishing {
                tokio::select! {
                    _ = stop.notified() => finishing = true,
                    _ = tokio::task::yield_now() => {}
                }
            }
        }
    });
    let mut handles = Vec::new();
    for (w, (_, tasks)) in work.into_iter().enumerate() {
        let store = processes[w % 2].clone();
        let o = orgs[w % 2].clone();
        handles.push(tokio::spawn(async move {
            for chunk in tasks.chunks(3) {
                let reports = chunk
                    .iter()
                    .map(|t| {
                        let mut r = done(t);
                        r.findings = vec![finding(&t.id.to_string(), Severity::Low)];
                        r
                    })
                    .collect();
                store.record(reports).await.unwrap();
                // A new scan between batches: its `created` event races the records.
                store
                    .create_scan(argus_core::testkit::store_suite::new_scan(&o, config()))
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    writers_done.notify_one();
    let (seen, polls) = reader.await.unwrap();

    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = processes[1].events_since(after, 1000).await.unwrap();
        let Some(e) = page.last() else { break };
        after = e.id;
        all.extend(page);
    }
    // Per writer: 10 batches × (3 findings + 1 progress) + the completion + 10 created scans.
    assert!(all.len() >= WRITERS * 51, "only {} events", all.len());
    assert!(
        orgs.iter().all(|o| all.iter().any(|e| &e.org_id == o)),
        "both orgs' events in one feed"
    );
    assert!(
        polls > 5,
        "the reader polled while writers ran ({polls} polls)"
    );
    let all: Vec<i64> = all.into_iter().map(|e| e.id).collect();
    assert_eq!(
        seen, all,
        "the live reader saw every event once, in id order (none filled in below one it saw)"
    );
    assert_eq!(
        processes[1].last_event_id().await.unwrap(),
        *all.last().unwrap()
    );
    schema.drop().await;
}

/// Sink states and dead letters carrying NUL (an error text from a destination) are stored
/// with U+FFFD in text columns; the dead letter's JSON body keeps it escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_text_with_nul_is_stored() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let store = schema.store(2).await;
    let o = org("org-a");
    let scan = store
        .create_scan(argus_core::testkit::store_suite::new_scan(&o, config()))
        .await
        .unwrap();
    let ev = store.events_after(&o, Some(scan.id), 0, 10).await.unwrap();
    let event = argus_core::sink::SinkEvent::from_event(&ev[0]).unwrap();
    let body = serde_json::json!({ "raw": "x\u{0}y" });
    store
        .add_dead_letters(vec![argus_core::sink::NewDeadLetter {
            sink: "siem".into(),
            event,
            body: body.clone(),
            error: "bad\0answer".into(),
            attempts: 3,
        }])
        .await
        .unwrap();
    let d = store
        .list_dead_letters(&o, "siem", None, 10)
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!((d.error.as_str(), &d.event), ("bad\u{FFFD}answer", &body));
    store
        .save_sink_state(&argus_core::sink::SinkState {
            name: "siem".into(),
            last_error: Some("bad\0answer".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let st = store.sink_state("siem").await.unwrap().unwrap();
    assert_eq!(st.last_error.as_deref(), Some("bad\u{FFFD}answer"));
    schema.drop().await;
}

/// Requirement 2: two relays (processes) never receive the same pending task; a crashed relay's
/// tasks go to another once the lease ran out; racing relays publish every task exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_lease_hands_each_task_to_one_process() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let a = Arc::new(schema.store(3).await);
    let b = Arc::new(schema.store(3).await);
    let o = org("org-a");
    let names: Vec<String> = (0..3000).map(|i| format!("t{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (_, tasks) = started(&*a, &o, config(), &refs).await;

    // Deterministic part: A takes the first 100 in FIFO order, B the next 100.
    let a1: Vec<TaskId> = a
        .pending_tasks(100)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    let expect: Vec<TaskId> = tasks[..100].iter().map(|t| t.id).collect();
    assert_eq!(a1, expect, "FIFO within a priority");
    let b1: Vec<TaskId> = b
        .pending_tasks(100)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(b1, tasks[100..200].iter().map(|t| t.id).collect::<Vec<_>>());
    // The holder gets its own unpublished rows again (a failed publish is retried).
    let a2: Vec<TaskId> = a
        .pending_tasks(100)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(a2, a1);

    // A "crashes" holding a1: once its lease ran out (forced here instead of waiting 30 s),
    // B receives those tasks.
    sqlx::query(
        "UPDATE scan_tasks SET relay_until = now() - interval '1 second' WHERE id = ANY($1)",
    )
    .bind(a1.iter().map(|t| t.0).collect::<Vec<_>>())
    .execute(b.pool())
    .await
    .unwrap();
    let b2: HashSet<TaskId> = b
        .pending_tasks(300)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert!(
        a1.iter().all(|t| b2.contains(t)),
        "expired lease taken over"
    );
    assert!(b1.iter().all(|t| b2.contains(t)));
    let a3: HashSet<TaskId> = a
        .pending_tasks(100)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert!(a3.is_disjoint(&b2), "A no longer receives what B holds");
    b.mark_published(&b2.iter().copied().collect::<Vec<_>>())
        .await
        .unwrap();
    a.mark_published(&a3.iter().copied().collect::<Vec<_>>())
        .await
        .unwrap();

    // Racing relays: pending → publish loops until the ledger is empty.
    let relay = |store: Arc<PgStore>| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = store.pending_tasks(50).await.unwrap();
                if batch.is_empty() {
                    return got;
                }
                let ids: Vec<TaskId> = batch.iter().map(|t| t.id).collect();
                store.mark_published(&ids).await.unwrap();
                got.extend(ids);
            }
        })
    };
    let (ra, rb) = (relay(a.clone()), relay(b.clone()));
    let (ga, gb) = (ra.await.unwrap(), rb.await.unwrap());
    let sa: HashSet<TaskId> = ga.iter().copied().collect();
    let sb: HashSet<TaskId> = gb.iter().copied().collect();
    assert_eq!(sa.len(), ga.len(), "A received a task twice");
    assert_eq!(sb.len(), gb.len(), "B received a task twice");
    assert!(sa.is_disjoint(&sb), "a task went to both relays");
    let mut published: HashSet<TaskId> = sa.union(&sb).copied().collect();
    published.extend(b2);
    published.extend(a3);
    assert_eq!(published.len(), 3000, "every task published once");
    assert!(a.pending_tasks(10).await.unwrap().is_empty());
    schema.drop().await;
}

/// Requirement 3: three processes with three writers each deliver every task two or three
/// times in differently shaped batches (done, failed, shared fingerprints, spawned children):
/// counters end exact and the scan completes exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counters_exact_across_processes() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    const TASKS: usize = 1500;
    const CHILDREN: usize = 50;
    const FINGERPRINTS: usize = 100;
    let processes = [
        Arc::new(schema.store(4).await),
        Arc::new(schema.store(4).await),
        Arc::new(schema.store(4).await),
    ];
    let o = org("org-a");
    let names: Vec<String> = (0..TASKS).map(|i| format!("t{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (scan, tasks) = started(&*processes[0], &o, config(), &refs).await;
    processes[1].mark_running(&[scan]).await.unwrap();
    let children: Vec<Task> = (0..CHILDREN)
        .map(|i| {
            let mut c = task(scan, &o, &format!("child{i}"));
            c.depth = 1;
            c
        })
        .collect();
    let failing = |i: usize| matches!(i % 7, 0);
    let report_for = |i: usize, t: &Task| {
        let mut r = if failing(i) {
            TaskReport::status(
                t,
                TaskStatus::Failed {
                    error: format!("boom {i}"),
                },
            )
        } else {
            done(t)
        };
        r.findings = vec![finding(
            &format!("fp{}", i % FINGERPRINTS),
            Severity::Medium,
        )];
        r.spawned = vec![children[i % CHILDREN].clone()];
        r
    };
    // Writer k of 9 delivers tasks i with i % 3 == k % 3 (3 writers per residue, so every task
    // three times), in its own order and batch size.
    let mut handles = Vec::new();
    for k in 0..9usize {
        let store = processes[k % 3].clone();
        let mut mine: Vec<(usize, TaskReport)> = tasks
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 == k % 3)
            .map(|(i, t)| (i, report_for(i, t)))
            .collect();
        shuffle(&mut mine, k as u64);
        let batch = 5 + k * 4;
        handles.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for chunk in mine.chunks(batch) {
                let reports = chunk.iter().map(|(_, r)| r.clone()).collect();
                outcomes.push(store.record(reports).await.unwrap());
            }
            outcomes
        }));
    }
    let mut outcomes = Vec::new();
    for h in handles {
        outcomes.extend(h.await.unwrap());
    }
    let spawned: u64 = outcomes.iter().map(|o| o.spawned).sum();
    assert_eq!(
        spawned, CHILDREN as u64,
        "children deduped across processes"
    );
    assert!(
        outcomes.iter().all(|o| o.finished.is_empty()),
        "children keep it open"
    );

    // The children finish, reported twice by two processes at once.
    let child_reports: Vec<TaskReport> = children.iter().map(done).collect();
    let (p1, p2) = (processes[1].clone(), processes[2].clone());
    let (c1, c2) = (child_reports.clone(), child_reports);
    let h1 = tokio::spawn(async move { p1.record(c1).await.unwrap() });
    let h2 = tokio::spawn(async move { p2.record(c2).await.unwrap() });
    let mut finished = h1.await.unwrap().finished;
    finished.extend(h2.await.unwrap().finished);
    assert_eq!(
        finished,
        vec![(scan, ScanState::Completed, None)],
        "completed exactly once"
    );

    let failed = (0..TASKS).filter(|i| failing(*i)).count() as u64;
    let s = processes[0].get_scan(&o, scan).await.unwrap();
    assert_eq!(s.state, ScanState::Completed);
    assert_eq!(
        (
            s.progress.enqueued,
            s.progress.done,
            s.progress.failed,
            s.progress.findings
        ),
        (
            (TASKS + CHILDREN) as u64,
            TASKS as u64 - failed + CHILDREN as u64,
            failed,
            FINGERPRINTS as u64
        )
    );
    let findings = processes[0]
        .list_findings(
            &o,
            scan,
            &FindingQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(findings.items.len(), FINGERPRINTS);
    let mut kinds = (0u64, 0u64);
    let mut after = 0;
    loop {
        let page = processes[2]
            .events_after(&o, Some(scan), after, 1000)
            .await
            .unwrap();
        let Some(e) = page.last() else { break };
        after = e.id;
        for e in &page {
            match e.kind() {
                EventKind::Finding => kinds.0 += 1,
                EventKind::TaskFailed => kinds.1 += 1,
                _ => {}
            }
        }
    }
    assert_eq!(
        kinds,
        (FINGERPRINTS as u64, failed),
        "one event per finding / failure"
    );
    schema.drop().await;
}

/// The last tasks of a scan, finished by different processes at the same moment: exactly one
/// of the batches must see the scan complete (with unlocked counter reads, each would see the
/// other's task still open and the scan would never complete).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_last_tasks_complete_the_scan_once() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    const SCANS: usize = 25;
    const LAST: usize = 4;
    let processes = [
        Arc::new(schema.store(4).await),
        Arc::new(schema.store(4).await),
    ];
    let o = org("org-a");
    let mut scans = Vec::new();
    for _ in 0..SCANS {
        let (scan, tasks) = started(&*processes[0], &o, config(), &["a", "b", "c", "d"]).await;
        scans.push((scan, tasks));
    }
    let mut handles = Vec::new();
    for (scan, tasks) in &scans {
        for (i, t) in tasks.iter().enumerate().take(LAST) {
            let store = processes[i % 2].clone();
            let report = done(t);
            let scan = *scan;
            handles.push(tokio::spawn(async move {
                let out = store.record(vec![report]).await.unwrap();
                out.finished
                    .into_iter()
                    .map(move |f| (scan, f))
                    .collect::<Vec<_>>()
            }));
        }
    }
    let mut finished = Vec::new();
    for h in handles {
        finished.extend(h.await.unwrap());
    }
    for (scan, _) in &scans {
        let ends: Vec<_> = finished.iter().filter(|(s, _)| s == scan).collect();
        assert_eq!(ends.len(), 1, "scan {scan} completed {} times", ends.len());
        let s = processes[1].get_scan(&o, *scan).await.unwrap();
        assert_eq!(
            (s.state, s.progress.done),
            (ScanState::Completed, LAST as u64)
        );
    }
    schema.drop().await;
}

/// Requirement 4: after the server terminated every connection of the pool, the next calls
/// succeed on fresh connections without restarting the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_after_connections_are_terminated() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let store = Arc::new(schema.store(4).await);
    let o = org("org-a");
    let (scan, tasks) = started(&*store, &o, config(), &["a", "b"]).await;
    // Open several pooled connections.
    let mut hs = Vec::new();
    for _ in 0..4 {
        let s = store.clone();
        let o = o.clone();
        hs.push(tokio::spawn(
            async move { s.get_scan(&o, scan).await.unwrap() },
        ));
    }
    for h in hs {
        h.await.unwrap();
    }
    let pids = |pool: PgPool, app: String| async move {
        sqlx::query_scalar::<_, i32>("SELECT pid FROM pg_stat_activity WHERE application_name = $1")
            .bind(app)
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .collect::<BTreeSet<i32>>()
    };
    let before = pids(schema.admin.clone(), schema.name.clone()).await;
    assert!(
        !before.is_empty(),
        "the store's connections carry its application_name"
    );
    // The timeout argument makes the call wait until each backend has exited.
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&schema.name)
    .fetch_all(&schema.admin)
    .await
    .unwrap();
    assert_eq!(killed.len(), before.len());
    assert!(killed.iter().all(|k| *k), "every backend terminated");

    // Reads, writes and transactions work again at once.
    assert_eq!(store.get_scan(&o, scan).await.unwrap().progress.enqueued, 2);
    store.ping().await.unwrap();
    let out = store
        .record(tasks.iter().map(done).collect())
        .await
        .unwrap();
    assert_eq!(out.finished, vec![(scan, ScanState::Completed, None)]);
    assert!(!store
        .events_after(&o, Some(scan), 0, 100)
        .await
        .unwrap()
        .is_empty());
    let after = pids(schema.admin.clone(), schema.name.clone()).await;
    assert!(
        !after.is_empty() && after.is_disjoint(&before),
        "fresh connections"
    );
    schema.drop().await;
}

/// Many holders racing for a fresh role from two processes: exactly one wins; the lease is
/// renewed by its holder only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leadership_is_exclusive_across_processes() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let processes = [
        Arc::new(schema.store(4).await),
        Arc::new(schema.store(4).await),
    ];
    let mut hs = Vec::new();
    for i in 0..20 {
        let s = processes[i % 2].clone();
        hs.push(tokio::spawn(async move {
            let holder = format!("holder-{i}");
            let won = s
                .try_lead("scheduler", &holder, Duration::from_secs(60))
                .await
                .unwrap();
            (holder, won)
        }));
    }
    let mut winners = Vec::new();
    for h in hs {
        let (holder, won) = h.await.unwrap();
        if won {
            winners.push(holder);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one leader: {winners:?}");
    let leader = &winners[0];
    assert!(processes[1]
        .try_lead("scheduler", leader, Duration::from_secs(60))
        .await
        .unwrap());
    assert!(!processes[0]
        .try_lead("scheduler", "someone-else", Duration::from_secs(60))
        .await
        .unwrap());
    schema.drop().await;
}

/// Re-running migrations is a no-op, another crate's migration (version >= 1000) in the same
/// table is tolerated, and data survives a reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_rerun_and_tolerate_foreign_versions() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let o = org("org-a");
    let first = schema.store(2).await;
    let (scan, _) = started(&first, &o, config(), &["a"]).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (1000, 'queue init', true, '\\x00', 0)",
    )
    .execute(first.pool())
    .await
    .unwrap();
    first.migrate().await.unwrap();
    first.close().await;
    let second = schema.store(2).await;
    assert_eq!(
        second.get_scan(&o, scan).await.unwrap().progress.enqueued,
        1
    );
    let no_migrate = PgStore::connect(
        &schema.url(),
        PgOptions {
            max_connections: 1,
            migrate: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(no_migrate.pending_tasks(10).await.unwrap().len(), 1);
    schema.drop().await;
}

/// Event ids come from a sequence: deleting the newest events never lets ids be reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_ids_are_not_reused_after_delete() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let store = schema.store(2).await;
    let o = org("org-a");
    let (scan, _) = started(&store, &o, config(), &["a"]).await;
    let t = store
        .finish_scan(scan, ScanState::Failed, "test")
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
    assert!(!evs.is_empty() && evs.iter().all(|e| e.id > last));
    schema.drop().await;
}

/// PostgreSQL text cannot hold NUL: scanner output carrying one is stored with U+FFFD instead
/// of failing the batch (it would be re-delivered forever); user input with one is `Invalid`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_never_fail_a_batch() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let store = schema.store(2).await;
    let o = org("org-a");
    let (scan, tasks) = started(&store, &o, config(), &["a", "b"]).await;
    let mut r = done(&tasks[0]);
    let mut f = finding("nul", Severity::High);
    f.title = "bad\0title".into();
    f.data = serde_json::json!({ "raw": "x\u{0}y" });
    r.findings = vec![f];
    let fail = TaskReport::status(
        &tasks[1],
        TaskStatus::Failed {
            error: "exit\0code".into(),
        },
    );
    let out = store.record(vec![r, fail]).await.unwrap();
    let stored = store
        .list_findings(&o, scan, &FindingQuery::default())
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(stored.title, "bad\u{FFFD}title");
    assert_eq!(
        stored.data,
        serde_json::json!({ "raw": "x\u{0}y" }),
        "JSON keeps it"
    );
    let failed = out
        .events
        .iter()
        .find(|e| e.kind() == EventKind::TaskFailed)
        .unwrap();
    assert_eq!(failed.data.to_json()["error"], "exit\u{FFFD}code");
    let finding_ev = out
        .events
        .iter()
        .find(|e| e.kind() == EventKind::Finding)
        .unwrap();
    assert_eq!(
        finding_ev.data.to_json(),
        serde_json::to_value(&stored).unwrap()
    );

    let mut bad = argus_core::testkit::store_suite::new_scan(&o, config());
    bad.name = "nul\0name".into();
    match store.create_scan(bad).await {
        Err(CoreError::Invalid { .. }) => {}
        other => panic!("NUL in a scan name: {other:?}"),
    }
    schema.drop().await;
}

/// A server that cannot be talked to is `Unavailable` (503), and neither the error's text nor
/// its debug form shows the password from the URL.
#[tokio::test]
async fn connection_failure_is_unavailable_without_credentials() {
    // A listener that accepts and hangs up at once: fails fast, unlike a refused port (which
    // the pool retries until its acquire timeout).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            drop(sock);
        }
    });
    let started_at = Instant::now();
    let url = format!("postgres://argus:s3cret-pw@127.0.0.1:{port}/argus?sslmode=disable");
    let err = PgStore::connect(&url, PgOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Unavailable { .. }), "{err:?}");
    let text = format!("{err} / {err:?}");
    assert!(!text.contains("s3cret-pw"), "credentials leaked: {text}");
    assert!(started_at.elapsed() < Duration::from_secs(9), "failed fast");
    server.abort();
}

/// `(id, xmin)` of a schema's ledger rows: a row whose `xmin` changed was rewritten.
async fn ledger_versions(store: &PgStore) -> std::collections::BTreeMap<uuid::Uuid, String> {
    sqlx::query_as::<_, (uuid::Uuid, String)>("SELECT id, xmin::text FROM scan_tasks")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .into_iter()
        .collect()
}

async fn mark_count(store: &PgStore) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM relay_marks")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Drains `store`'s relay like the engine does: pending → publish → mark_published, `batch`
/// tasks at a time, until nothing is left; returns every task handed out, in order.
async fn drain_relay(store: &PgStore, batch: u32) -> Vec<Task> {
    let mut got = Vec::new();
    loop {
        let tasks = store.pending_tasks(batch).await.unwrap();
        if tasks.is_empty() {
            return got;
        }
        let ids: Vec<TaskId> = tasks.iter().map(|t| t.id).collect();
        store.mark_published(&ids).await.unwrap();
        got.extend(tasks);
    }
}

/// Spawned tasks are written once, already `published`, listed by one relay mark per 1,000: the
/// relay hands them all out in FIFO order without rewriting a single ledger row, deletes the
/// marks, and the terminal report is the row's only update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_are_written_once_and_relayed_by_marks() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let store = schema.store(4).await;
    let o = org("org-a");
    let (scan, roots) = started(&store, &o, config(), &["root"]).await;
    // The root goes through `pending` (an initial task) and is published the old way.
    assert_eq!(drain_relay(&store, 1000).await.len(), 1);

    let children: Vec<Task> = (0..2500)
        .map(|i| task(scan, &o, &format!("c{i}")))
        .collect();
    let mut r = TaskReport::status(&roots[0], TaskStatus::Running);
    r.spawned = children.clone();
    let out = store.record(vec![r]).await.unwrap();
    assert_eq!(out.spawned, 2500);
    assert_eq!(
        mark_count(&store).await,
        3,
        "one mark per scan and 1,000 tasks"
    );
    let statuses: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM scan_tasks WHERE id <> $1 GROUP BY status")
            .bind(roots[0].id.0)
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(statuses, vec![("published".to_owned(), 2500)]);

    let before = ledger_versions(&store).await;
    let got = drain_relay(&store, 1000).await;
    let want: Vec<TaskId> = children.iter().map(|t| t.id).collect();
    assert_eq!(
        got.iter().map(|t| t.id).collect::<Vec<_>>(),
        want,
        "every spawned task once, FIFO"
    );
    assert_eq!(got[7], children[7], "handed out as spawned");
    assert_eq!(mark_count(&store).await, 0, "published marks are deleted");
    assert_eq!(
        ledger_versions(&store).await,
        before,
        "relaying rewrote no ledger row"
    );

    // A terminal report settles the row (its one update) and counts once.
    let reports: Vec<TaskReport> = children.iter().map(done).collect();
    store.record(reports.clone()).await.unwrap();
    store.record(reports).await.unwrap();
    let s = store.get_scan(&o, scan).await.unwrap();
    assert_eq!((s.progress.enqueued, s.progress.done), (2501, 2500));
    assert!(!s.state.is_terminal(), "the root still runs: {:?}", s.state);
    schema.drop().await;
}

/// A process that crashed after committing spawned tasks but before publishing them: its mark
/// stays leased to it until the lease runs out, then another process takes it over and hands
/// out every task; tasks already settled or of an ended scan are not handed out again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpublished_spawned_tasks_survive_a_crash() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let a = schema.store(3).await;
    let b = schema.store(3).await;
    let o = org("org-a");
    let (scan, roots) = started(&a, &o, config(), &["root"]).await;
    let (ended, ended_roots) = started(&a, &o, config(), &["root"]).await;
    drain_relay(&a, 10).await;
    let children: Vec<Task> = (0..30).map(|i| task(scan, &o, &format!("c{i}"))).collect();
    let mut r = TaskReport::status(&roots[0], TaskStatus::Running);
    r.spawned = children.clone();
    let mut e = TaskReport::status(&ended_roots[0], TaskStatus::Running);
    e.spawned = vec![task(ended, &o, "orphan")];
    a.record(vec![r, e]).await.unwrap();
    // One child already ran (a duplicate delivery, say), and the other scan was stopped.
    a.record(vec![done(&children[0])]).await.unwrap();
    a.apply_action(&o, ended, argus_core::scan::ScanAction::Stop)
        .await
        .unwrap();
    // A "crashes" here. While its lease lives, B does not take its marks.
    drop(a);
    assert!(b.pending_tasks(100).await.unwrap().is_empty());
    sqlx::query("UPDATE relay_marks SET relay_until = now() - interval '1 second'")
        .execute(b.pool())
        .await
        .unwrap();
    let got: Vec<TaskId> = drain_relay(&b, 7).await.iter().map(|t| t.id).collect();
    assert_eq!(
        got,
        children[1..].iter().map(|t| t.id).collect::<Vec<_>>(),
        "every unsettled task of the live scan, once, in order"
    );
    assert_eq!(mark_count(&b).await, 0);
    schema.drop().await;
}

/// Pausing a scan parks the tasks its relay marks list (not yet handed to the queue) and drops
/// the marks; resuming makes them pending again and the relay hands them out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_parks_marked_tasks_and_resume_relays_them() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let store = schema.store(3).await;
    let o = org("org-a");
    let (scan, roots) = started(&store, &o, config(), &["root"]).await;
    drain_relay(&store, 10).await;
    let children: Vec<Task> = (0..5).map(|i| task(scan, &o, &format!("c{i}"))).collect();
    let mut r = TaskReport::status(&roots[0], TaskStatus::Running);
    r.spawned = children.clone();
    store.record(vec![r]).await.unwrap();
    store
        .apply_action(&o, scan, argus_core::scan::ScanAction::Pause)
        .await
        .unwrap();
    assert_eq!(mark_count(&store).await, 0);
    assert!(store.pending_tasks(100).await.unwrap().is_empty());
    store
        .apply_action(&o, scan, argus_core::scan::ScanAction::Resume)
        .await
        .unwrap();
    let got: BTreeSet<TaskId> = drain_relay(&store, 100)
        .await
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(got, children.iter().map(|t| t.id).collect::<BTreeSet<_>>());
    schema.drop().await;
}

/// The clean-up of an ended scan deletes its relay marks within its step limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_deletes_relay_marks() {
    let Some(schema) = Schema::new().await else {
        return;
    };
    let store = schema.store(3).await;
    let o = org("org-a");
    let (scan, roots) = started(&store, &o, config(), &["root"]).await;
    drain_relay(&store, 10).await;
    let mut r = TaskReport::status(&roots[0], TaskStatus::Running);
    r.spawned = (0..2100)
        .map(|i| task(scan, &o, &format!("c{i}")))
        .collect();
    store.record(vec![r]).await.unwrap();
    assert_eq!(mark_count(&store).await, 3);
    store
        .apply_action(&o, scan, argus_core::scan::ScanAction::Stop)
        .await
        .unwrap();
    let c = store.pending_cleanups(10).await.unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(store.cleanup_step(&c[0], 2).await.unwrap(), 2);
    assert_eq!(store.cleanup_step(&c[0], 2).await.unwrap(), 1);
    assert_eq!(store.cleanup_step(&c[0], 2).await.unwrap(), 0);
    assert_eq!(mark_count(&store).await, 0);
    schema.drop().await;
}
