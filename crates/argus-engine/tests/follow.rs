//! The event follower (`argus_engine::follow`, opened through the events service) on the real
//! SQLite store and the in-process bus: every stored event once, in id order, across replay,
//! live following, a lagging bus and reconnects; tenancy of streams and of the services' scoped
//! reads.
//!
//! Events are committed the way the worker's committer does it — `Store::record`, then publish
//! the committed events on the bus — with no workers running, so the tests decide when each
//! commit happens relative to the stream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use argus_core::bus::{EventBus, LocalEventBus};
use argus_core::event::{Event, EventKind};
use argus_core::finding::{FindingQuery, NewFinding, Severity};
use argus_core::ids::{Principal, ScanId};
use argus_core::scan::{Priority, Scan, ScanAction, ScanConfig, ScannerSpec, Scope};
use argus_core::store::Store;
use argus_core::target::{Target, TargetKind};
use argus_core::task::{Task, TaskReport, TaskStatus};
use argus_core::CoreError;
use argus_engine::follow::{EventStream, Follow};
use argus_engine::services::CreateScan;
use argus_engine::{Backends, Engine, EngineConfig};
use argus_store::local::LocalArtifactStore;
use argus_store::sqlite::EmbeddedQueue;
use argus_store::sqlite::SqliteStore;
use argus_store::SqliteDb;

/// How long one event may take to arrive before a test fails.
const WAIT: Duration = Duration::from_secs(10);
/// How long a live event may take: less than the follower's idle re-read, so a live event
/// must come through the bus signal, not the periodic re-read.
const LIVE: Duration = Duration::from_millis(1500);

struct Harness {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    bus: Arc<dyn EventBus>,
    who: Principal,
    _dir: tempfile::TempDir,
}

async fn harness(bus_capacity: usize) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("argus.db")).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::new(db.clone()).await.unwrap());
    let bus: Arc<dyn EventBus> = Arc::new(LocalEventBus::new(bus_capacity));
    let backends = Backends {
        store: store.clone(),
        queue: Arc::new(EmbeddedQueue::new(db).await.unwrap()),
        artifacts: Arc::new(LocalArtifactStore::new(dir.path().join("artifacts")).unwrap()),
        bus: bus.clone(),
    };
    let registry = argus_scanners::registry_with(&argus_scanners::RegistryOptions {
        noop: true,
        ..Default::default()
    })
    .unwrap();
    let config = EngineConfig {
        work_root: dir.path().join("work"),
        ..EngineConfig::default()
    };
    Harness {
        engine: Engine::new(backends, registry, config),
        store,
        bus,
        who: Principal::local("acme", "alice").unwrap(),
        _dir: dir,
    }
}

/// A started scan with one pending task (no relay or worker runs: the tests commit its
/// reports themselves).
async fn started_scan(h: &Harness) -> (Scan, Task) {
    let config = ScanConfig {
        scanners: vec![ScannerSpec {
            name: "noop".into(),
            params: serde_json::json!({}),
        }],
        targets: vec![Target::parse(TargetKind::Url, "noop://root").unwrap()],
        recursion_depth: 0,
        max_duration: None,
        max_results: None,
        priority: Priority::Medium,
        max_attempts: 3,
        scope: Scope::default(),
        labels: Default::default(),
        rate_limit: None,
        max_tasks: None,
    };
    let scan = h
        .engine
        .scans()
        .create(
            &h.who,
            CreateScan {
                name: None,
                config,
                template_id: None,
                start: true,
            },
        )
        .await
        .unwrap();
    let task = h
        .store
        .pending_tasks(10)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.scan_id == scan.id)
        .unwrap();
    (scan, task)
}

/// Commits `n` new findings of `task` (keys `{batch}-{i}`) as the committer does: one
/// `record`, then the committed events on the bus.
async fn commit(h: &Harness, task: &Task, batch: &str, n: usize) {
    let mut report = TaskReport::status(task, TaskStatus::Running);
    report.findings = (0..n)
        .map(|i| {
            let key = format!("{batch}-{i}");
            NewFinding::new(
                "test.kind",
                Severity::Low,
                format!("finding {key}"),
                task.target.clone(),
                &[&key],
            )
        })
        .collect();
    let outcome = h.store.record(vec![report]).await.unwrap();
    assert!(
        outcome.events.len() >= n,
        "batch {batch}: {} events",
        outcome.events.len()
    );
    h.bus.publish(&outcome.events);
}

/// Every stored event id of the scan, in order.
async fn stored(h: &Harness, scan: ScanId) -> Vec<i64> {
    let mut ids = Vec::new();
    loop {
        let after = ids.last().copied().unwrap_or(0);
        let page = h
            .store
            .events_after(&h.who.org, Some(scan), after, 1000)
            .await
            .unwrap();
        if page.is_empty() {
            return ids;
        }
        ids.extend(page.iter().map(|e| e.id));
    }
}

async fn follow(h: &Harness, scan: Option<ScanId>, after: Option<i64>) -> EventStream {
    h.engine
        .events()
        .follow(
            &h.who,
            Follow {
                scan,
                after,
                until_terminal: false,
            },
        )
        .await
        .unwrap()
}

/// The next `n` events of a stream.
async fn take(s: &mut EventStream, n: usize) -> Vec<Event> {
    take_within(s, n, WAIT).await
}

/// The next `n` events of a stream, each within `wait`.
async fn take_within(s: &mut EventStream, n: usize, wait: Duration) -> Vec<Event> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let e = tokio::time::timeout(wait, s.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} events arrived", out.len()))
            .expect("the stream ended early");
        out.push(e);
    }
    out
}

/// Fails when the stream delivers anything within a short while (a repeated event).
async fn assert_quiet(s: &mut EventStream) {
    if let Ok(e) = tokio::time::timeout(Duration::from_millis(300), s.recv()).await {
        panic!("unexpected event: {e:?}");
    }
}

fn ids(events: &[Event]) -> Vec<i64> {
    events.iter().map(|e| e.id).collect()
}

/// Commits made while a stream is still replaying a backlog of several pages (its consumer has
/// not read anything, so the follower cannot have finished) arrive once each, in order, with
/// no gap between the replay and the live part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_committed_during_replay_are_delivered_once_in_order() {
    let h = harness(4096).await;
    let (scan, task) = started_scan(&h).await;
    commit(&h, &task, "backlog", 2500).await;

    let mut s = follow(&h, Some(scan.id), None).await;
    for batch in ["during-1", "during-2", "during-3"] {
        commit(&h, &task, batch, 10).await;
    }
    let all = stored(&h, scan.id).await;
    assert!(all.len() > 2530, "{} events stored", all.len());
    let got = take(&mut s, all.len()).await;
    assert_eq!(ids(&got), all, "replay lost, repeated or reordered events");

    // Live: exactly the new events, nothing repeated.
    commit(&h, &task, "live", 5).await;
    let now = stored(&h, scan.id).await;
    let live = take_within(&mut s, now.len() - all.len(), LIVE).await;
    assert_eq!(ids(&live), now[all.len()..]);
    assert_quiet(&mut s).await;
}

/// A consumer that reconnects after the last event it received gets exactly the rest,
/// including what was committed while it was away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_from_an_id_misses_nothing() {
    let h = harness(4096).await;
    let (scan, task) = started_scan(&h).await;
    commit(&h, &task, "a", 50).await;

    let mut first = follow(&h, Some(scan.id), None).await;
    let head = take(&mut first, 20).await;
    drop(first);
    commit(&h, &task, "b", 30).await;

    let last = head.last().unwrap().id;
    let all = stored(&h, scan.id).await;
    let rest = all.iter().filter(|&&id| id > last).count();
    let mut second = follow(&h, Some(scan.id), Some(last)).await;
    let tail = take(&mut second, rest).await;
    let joined: Vec<i64> = ids(&head).into_iter().chain(ids(&tail)).collect();
    assert_eq!(joined, all, "the reconnect lost or repeated events");

    // Resuming at the end waits for new events, then delivers exactly them.
    let mut at_end = follow(&h, Some(scan.id), all.last().copied()).await;
    assert_quiet(&mut at_end).await;
    commit(&h, &task, "c", 3).await;
    let now = stored(&h, scan.id).await;
    let new = take_within(&mut at_end, now.len() - all.len(), LIVE).await;
    assert_eq!(ids(&new), now[all.len()..]);
}

/// A follower whose consumer does not read while many commits are published overruns its bus
/// receiver (capacity 16); it replays from the store instead and still delivers every event
/// once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_follower_replays_from_the_store() {
    let h = harness(16).await;
    let (scan, task) = started_scan(&h).await;
    let mut s = follow(&h, Some(scan.id), None).await;
    for i in 0..100 {
        commit(&h, &task, &format!("burst-{i}"), 5).await;
    }
    let all = stored(&h, scan.id).await;
    let got = take(&mut s, all.len()).await;
    assert_eq!(ids(&got), all);
    assert_quiet(&mut s).await;
}

/// An org stream without a resume point starts with the next event committed; with one, it
/// replays the org's events after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_stream_starts_now_unless_asked_to_resume() {
    let h = harness(4096).await;
    let (scan, task) = started_scan(&h).await;
    commit(&h, &task, "old", 10).await;
    let old = stored(&h, scan.id).await;

    let mut live = follow(&h, None, None).await;
    let mut history = follow(&h, None, Some(0)).await;
    commit(&h, &task, "new", 4).await;
    let all = stored(&h, scan.id).await;
    let got = take_within(&mut live, all.len() - old.len(), LIVE).await;
    assert_eq!(ids(&got), all[old.len()..], "the live org stream");
    assert_quiet(&mut live).await;
    assert_eq!(ids(&take(&mut history, all.len()).await), all);
}

/// With `until_terminal` a scan stream ends after the terminal `state` event, and one resuming
/// after that event ends at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn until_terminal_ends_after_the_terminal_event() {
    let h = harness(4096).await;
    let (scan, task) = started_scan(&h).await;
    commit(&h, &task, "a", 3).await;
    let until_end = |after| Follow {
        scan: Some(scan.id),
        after,
        until_terminal: true,
    };
    let mut s = h
        .engine
        .events()
        .follow(&h.who, until_end(None))
        .await
        .unwrap();
    h.engine
        .scans()
        .act(&h.who, scan.id, ScanAction::Stop)
        .await
        .unwrap();
    let all = stored(&h, scan.id).await;
    let got = take(&mut s, all.len()).await;
    assert_eq!(ids(&got), all);
    assert_eq!(got.last().unwrap().kind(), EventKind::State);
    let end = tokio::time::timeout(WAIT, s.recv()).await.unwrap();
    assert!(end.is_none(), "the stream went on: {end:?}");

    let mut after_end = h
        .engine
        .events()
        .follow(&h.who, until_end(all.last().copied()))
        .await
        .unwrap();
    let end = tokio::time::timeout(WAIT, after_end.recv()).await.unwrap();
    assert!(end.is_none(), "resumed after the end: {end:?}");
}

/// A scan of another org (or none) is `NotFound` for the scoped services — streams, findings
/// and artifacts — while its own org reads it; an org stream never carries another org's
/// events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_orgs_scan_is_not_found() {
    let h = harness(4096).await;
    let (scan, task) = started_scan(&h).await;
    commit(&h, &task, "a", 2).await;
    let other = Principal::local("other", "bob").unwrap();
    let not_found = |r: Result<(), CoreError>, what: &str| match r {
        Err(CoreError::NotFound { .. }) => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    };

    for (who, id) in [(&other, scan.id), (&h.who, ScanId::new())] {
        let stream = h
            .engine
            .events()
            .follow(
                who,
                Follow {
                    scan: Some(id),
                    ..Follow::default()
                },
            )
            .await;
        not_found(stream.map(drop), "follow");
        let findings = h
            .engine
            .findings()
            .list(who, id, &FindingQuery::default())
            .await;
        not_found(findings.map(drop), "findings");
        not_found(
            h.engine.scans().artifacts(who, id).await.map(drop),
            "artifacts",
        );
    }
    // Positive control: the owner reads the same scan.
    let page = h
        .engine
        .findings()
        .list(&h.who, scan.id, &FindingQuery::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(h.engine.scans().artifacts(&h.who, scan.id).await.is_ok());

    let mut theirs = h
        .engine
        .events()
        .follow(
            &other,
            Follow {
                after: Some(0),
                ..Follow::default()
            },
        )
        .await
        .unwrap();
    commit(&h, &task, "b", 2).await;
    assert_quiet(&mut theirs).await;
}
