//! Engine behaviour on the real embedded backends (SQLite store, embedded queue, local
//! artifacts) with the `noop` scanner: lifecycle, limits, chaining, retries and dead letters.
//! The store publishes new tasks inline, as `argus serve` wires it; the fan-out, pause and
//! chaining cases run once more with every task going through the relay.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::bus::LocalEventBus;
use argus_core::event::EventKind;
use argus_core::finding::FindingQuery;
use argus_core::ids::Principal;
use argus_core::scan::{Priority, Scan, ScanAction, ScanConfig, ScanState, ScannerSpec, Scope};
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use argus_engine::service::CreateScan;
use argus_engine::{Backends, Engine, EngineConfig};
use argus_queue::embedded::EmbeddedQueue;
use argus_store::local::LocalArtifactStore;
use argus_store::sqlite::SqliteStore;
use argus_store::SqliteDb;
use tokio_util::sync::CancellationToken;

struct Harness {
    engine: Arc<Engine>,
    who: Principal,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The production wiring: the store puts new tasks on the queue in the ledger's transaction.
async fn harness(concurrency: usize, lease: Duration, workers: bool) -> Harness {
    harness_with(concurrency, lease, workers, true).await
}

/// Every task goes through the ledger's `pending` state and the relay (the path a broker queue
/// takes).
async fn relay_harness(concurrency: usize, lease: Duration, workers: bool) -> Harness {
    harness_with(concurrency, lease, workers, false).await
}

async fn harness_with(concurrency: usize, lease: Duration, workers: bool, inline: bool) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("argus.db")).await.unwrap();
    let store = SqliteStore::new(db.clone()).await.unwrap();
    let queue = EmbeddedQueue::new(db).await.unwrap();
    let store = if inline {
        store.with_inline_queue(Arc::new(queue.clone()))
    } else {
        store
    };
    let backends = Backends {
        store: Arc::new(store),
        queue: Arc::new(queue),
        artifacts: Arc::new(LocalArtifactStore::new(dir.path().join("artifacts")).unwrap()),
        bus: Arc::new(LocalEventBus::default()),
    };
    let config = EngineConfig {
        concurrency,
        lease,
        work_root: dir.path().join("work"),
        retry_backoff: Duration::from_millis(20),
        monitor_interval: Duration::from_millis(100),
        ..EngineConfig::default()
    };
    let engine = Engine::new(backends, argus_scanners::registry_with(&argus_scanners::RegistryOptions { noop: true, ..Default::default() }).unwrap(), config);
    let shutdown = CancellationToken::new();
    argus_engine::relay::spawn(engine.clone(), shutdown.clone());
    argus_engine::monitor::spawn(engine.clone(), shutdown.clone());
    if workers {
        argus_engine::worker::spawn(engine.clone(), shutdown.clone());
    }
    Harness {
        engine,
        who: Principal::local("acme", "alice").unwrap(),
        shutdown,
        _dir: dir,
    }
}

fn noop(params: serde_json::Value) -> ScanConfig {
    ScanConfig {
        scanners: vec![ScannerSpec {
            name: "noop".into(),
            params,
        }],
        targets: vec![Target::parse(TargetKind::Url, "noop://root").unwrap()],
        recursion_depth: 0,
        max_duration: None,
        max_results: None,
        priority: Priority::Medium,
        max_attempts: 3,
        scope: Scope::default(),
        labels: Default::default(),
        max_tasks: None,
    }
}

async fn create(h: &Harness, config: ScanConfig, start: bool) -> Scan {
    h.engine
        .create_scan(
            &h.who,
            CreateScan {
                name: None,
                config,
                template_id: None,
                start,
            },
        )
        .await
        .unwrap()
}

async fn wait_state(h: &Harness, scan: &Scan, want: ScanState, timeout: Duration) -> Scan {
    let deadline = Instant::now() + timeout;
    loop {
        let s = h
            .engine
            .store()
            .get_scan(&h.who.org, scan.id)
            .await
            .unwrap();
        if s.state == want {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "scan stuck in {:?} (wanted {want:?}): {:?}",
            s.state,
            s.progress
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_completes_with_exact_counters() {
    fan_out_case(harness(32, Duration::from_secs(30), true).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_completes_with_exact_counters_through_the_relay() {
    fan_out_case(relay_harness(32, Duration::from_secs(30), true).await).await;
}

async fn fan_out_case(h: Harness) {
    let scan = create(
        &h,
        noop(serde_json::json!({"fanout": 500, "child": {"findings": 1}})),
        true,
    )
    .await;
    let done = wait_state(&h, &scan, ScanState::Completed, Duration::from_secs(60)).await;
    assert_eq!(done.progress.enqueued, 501);
    assert_eq!(done.progress.done, 501);
    assert_eq!(done.progress.failed, 0);
    assert_eq!(done.progress.findings, 500);
    assert!(done.progress.enqueue_done);
    assert_eq!(done.reason, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_rejects_unknown_scanner_bad_params_and_unaccepted_targets() {
    let h = harness(1, Duration::from_secs(30), false).await;
    let mut c = noop(serde_json::json!({}));
    c.scanners[0].name = "nope".into();
    let err = h.engine.validate_config(&c).unwrap_err();
    assert!(
        matches!(err, CoreError::Invalid { ref path, .. } if path == "/config/scanners/0/name"),
        "{err:?}"
    );

    let c = noop(serde_json::json!({"fanout": "many"}));
    let err = h.engine.validate_config(&c).unwrap_err();
    assert!(
        matches!(err, CoreError::Invalid { ref path, .. } if path.starts_with("/config/scanners/0/params")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_parks_and_resume_releases() {
    pause_case(harness(4, Duration::from_secs(30), true).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_parks_and_resume_releases_through_the_relay() {
    pause_case(relay_harness(4, Duration::from_secs(30), true).await).await;
}

async fn pause_case(h: Harness) {
    let scan = create(
        &h,
        noop(serde_json::json!({"fanout": 200, "child": {"sleep_ms": 20}})),
        true,
    )
    .await;
    // Wait until some children ran, then pause.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = h
            .engine
            .store()
            .get_scan(&h.who.org, scan.id)
            .await
            .unwrap();
        if s.progress.done > 5 {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.engine
        .act(&h.who, scan.id, ScanAction::Pause)
        .await
        .unwrap();
    // In-flight tasks (at most `concurrency`) may still finish; after that nothing moves.
    let mut last = h
        .engine
        .store()
        .get_scan(&h.who.org, scan.id)
        .await
        .unwrap()
        .progress
        .done;
    let mut stable_since = Instant::now();
    while stable_since.elapsed() < Duration::from_millis(500) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = h
            .engine
            .store()
            .get_scan(&h.who.org, scan.id)
            .await
            .unwrap()
            .progress
            .done;
        if now != last {
            last = now;
            stable_since = Instant::now();
        }
    }
    let paused = h
        .engine
        .store()
        .get_scan(&h.who.org, scan.id)
        .await
        .unwrap();
    assert_eq!(paused.state, ScanState::Paused);
    assert!(
        paused.progress.done < 201,
        "everything ran while paused: {:?}",
        paused.progress
    );
    assert_eq!(h.engine.queue().depth().await.unwrap().leased, 0);

    h.engine
        .act(&h.who, scan.id, ScanAction::Resume)
        .await
        .unwrap();
    let done = wait_state(&h, &scan, ScanState::Completed, Duration::from_secs(60)).await;
    assert_eq!(done.progress.done, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_cancels_running_tasks_quickly() {
    let h = harness(4, Duration::from_secs(30), true).await;
    let scan = create(&h, noop(serde_json::json!({"sleep_ms": 60_000})), true).await;
    wait_state(&h, &scan, ScanState::Running, Duration::from_secs(10)).await;
    // Let the task actually start sleeping.
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.engine.queue().depth().await.unwrap().leased == 0 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t0 = Instant::now();
    let s = h
        .engine
        .act(&h.who, scan.id, ScanAction::Stop)
        .await
        .unwrap();
    assert_eq!(s.state, ScanState::Cancelled);
    // The running task is cancelled and its delivery settled well within a second.
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.engine.queue().depth().await.unwrap().leased > 0 {
        assert!(Instant::now() < deadline, "task still leased after stop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        t0.elapsed()
    );
    // Illegal now: resume a cancelled scan.
    let err = h
        .engine
        .act(&h.who, scan.id, ScanAction::Resume)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::Conflict {
                state: Some(ScanState::Cancelled),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_duration_fails_the_scan() {
    let h = harness(2, Duration::from_secs(30), true).await;
    let mut c = noop(serde_json::json!({"sleep_ms": 60_000}));
    c.max_duration = Some(1);
    let scan = create(&h, c, true).await;
    let failed = wait_state(&h, &scan, ScanState::Failed, Duration::from_secs(10)).await;
    assert_eq!(failed.reason.as_deref(), Some("max_duration"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_results_stops_enqueuing_and_completes() {
    let h = harness(2, Duration::from_secs(30), true).await;
    let mut c = noop(serde_json::json!({"fanout": 2000, "child": {"findings": 1, "sleep_ms": 1}}));
    c.max_results = Some(10);
    let scan = create(&h, c, true).await;
    let done = wait_state(&h, &scan, ScanState::Completed, Duration::from_secs(30)).await;
    assert_eq!(done.reason.as_deref(), Some("max_results"));
    assert!(done.progress.findings >= 10);
    assert!(
        done.progress.done < 2001,
        "all tasks ran despite max_results: {:?}",
        done.progress
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaining_respects_depth_scope_and_dedup() {
    chaining_case(harness(4, Duration::from_secs(30), true).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaining_respects_depth_scope_and_dedup_through_the_relay() {
    chaining_case(relay_harness(4, Duration::from_secs(30), true).await).await;
}

async fn chaining_case(h: Harness) {
    let mut c = noop(
        serde_json::json!({"discover": ["a.example.com", "b.example.com", "evil.org", "a.example.com"]}),
    );
    c.targets = vec![Target::parse(TargetKind::Domain, "example.com").unwrap()];
    c.recursion_depth = 1;
    c.scope = Scope {
        allow: vec!["example.com".into()],
        deny: vec![],
    };
    let scan = create(&h, c, true).await;
    let done = wait_state(&h, &scan, ScanState::Completed, Duration::from_secs(30)).await;
    // root + a + b (evil.org out of scope, the duplicate deduped, depth 2 not followed).
    assert_eq!(done.progress.enqueued, 3, "{:?}", done.progress);
    assert_eq!(done.progress.done, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_task_is_counted_failed_and_reported() {
    let h = harness(2, Duration::from_secs(30), true).await;
    let mut events = h.engine.bus().subscribe();
    let scan = create(&h, noop(serde_json::json!({"fail": true})), true).await;
    // Every task failed, so the scan did not complete: it failed.
    let done = wait_state(&h, &scan, ScanState::Failed, Duration::from_secs(30)).await;
    assert_eq!(done.progress.failed, 1);
    assert_eq!(done.progress.done, 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let e = tokio::time::timeout_at(deadline.into(), events.recv())
            .await
            .unwrap()
            .unwrap();
        if e.kind == EventKind::TaskFailed {
            assert!(
                e.data["error"].as_str().unwrap().contains("fail"),
                "{:?}",
                e.data
            );
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_leases_are_redelivered_then_dead_lettered() {
    // No workers: deliveries are claimed by hand and never acked, as if workers crashed.
    let h = harness(1, Duration::from_millis(100), false).await;
    let mut c = noop(serde_json::json!({}));
    c.max_attempts = 2;
    let scan = create(&h, c, true).await;
    let q = h.engine.queue().clone();
    let mut attempts = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while attempts.len() < 2 {
        assert!(Instant::now() < deadline, "task not re-delivered");
        for d in q
            .claim(1, Duration::from_millis(100), Duration::from_millis(200))
            .await
            .unwrap()
        {
            attempts.push(d.attempt);
        }
    }
    assert_eq!(attempts, vec![1, 2]);
    // Now let real workers see the third delivery: attempt 3 > max_attempts → failed.
    argus_engine::worker::spawn(h.engine.clone(), h.shutdown.clone());
    // Its only task failed: the scan fails too, saying why.
    let done = wait_state(&h, &scan, ScanState::Failed, Duration::from_secs(10)).await;
    assert_eq!(done.progress.failed, 1);
    assert!(done.reason.unwrap().starts_with("every task failed"));
    assert_eq!(q.depth().await.unwrap().dead, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_priority_scans_run_first() {
    let h = harness(1, Duration::from_secs(30), false).await;
    let mut low = noop(serde_json::json!({}));
    low.priority = Priority::Low;
    let mut high = noop(serde_json::json!({}));
    high.priority = Priority::High;
    let low = create(&h, low, true).await;
    let high = create(&h, high, true).await;
    argus_engine::relay::drain(&h.engine).await.unwrap();
    let d = h
        .engine
        .queue()
        .claim(2, Duration::from_secs(5), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].task.scan_id, high.id);
    assert_eq!(d[1].task.scan_id, low.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_are_scoped_by_org() {
    let h = harness(2, Duration::from_secs(30), true).await;
    let scan = create(&h, noop(serde_json::json!({"findings": 3})), true).await;
    wait_state(&h, &scan, ScanState::Completed, Duration::from_secs(30)).await;
    let q = FindingQuery {
        limit: 100,
        ..Default::default()
    };
    let mine = h
        .engine
        .store()
        .list_findings(&h.who.org, scan.id, &q)
        .await
        .unwrap();
    assert_eq!(mine.items.len(), 3);
    let other = Principal::local("other", "bob").unwrap();
    let theirs = h
        .engine
        .store()
        .list_findings(&other.org, scan.id, &q)
        .await;
    assert!(matches!(theirs, Err(CoreError::NotFound { .. })) || theirs.unwrap().items.is_empty());
}
