//! Engine behaviour on the real embedded backends (SQLite store, embedded queue, local
//! artifacts) with the `noop` scanner: lifecycle, limits, chaining, retries and dead letters.
//! The store publishes new tasks inline, as `argus serve` wires it; the fan-out, pause and
//! chaining cases run once more with every task going through the relay.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::bus::LocalEventBus;
use argus_core::event::EventKind;
use argus_core::finding::{FindingQuery, NewFinding, Severity};
use argus_core::ids::Principal;
use argus_core::scan::{Priority, Scan, ScanAction, ScanConfig, ScanState, ScannerSpec, Scope};
use argus_core::scanner::{ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::store::Store;
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use argus_engine::services::CreateScan;
use argus_engine::{Backends, Engine, EngineConfig};
use argus_store::local::LocalArtifactStore;
use argus_store::sqlite::EmbeddedQueue;
use argus_store::sqlite::SqliteStore;
use argus_store::SqliteDb;
use tokio_util::sync::CancellationToken;

struct Harness {
    engine: Arc<Engine>,
    /// The engine's store, for what these tests check behind the services.
    store: Arc<dyn Store>,
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
    harness_setup(Setup {
        concurrency,
        lease,
        workers,
        inline,
        ..Setup::default()
    })
    .await
}

/// Everything a harness can vary.
struct Setup {
    concurrency: usize,
    lease: Duration,
    workers: bool,
    inline: bool,
    /// Run the monitor (deadlines, janitor).
    monitor: bool,
    /// Extra tool definitions.
    tools: Option<std::path::PathBuf>,
    /// A scanner registered besides the built-in ones.
    extra: Option<Arc<dyn Scanner>>,
    tweak: fn(&mut EngineConfig),
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            concurrency: 4,
            lease: Duration::from_secs(30),
            workers: true,
            inline: true,
            monitor: true,
            tools: None,
            extra: None,
            tweak: |_| {},
        }
    }
}

async fn harness_setup(setup: Setup) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("argus.db")).await.unwrap();
    let store = SqliteStore::new(db.clone()).await.unwrap();
    let queue = EmbeddedQueue::new(db).await.unwrap();
    let store = if setup.inline {
        store.with_inline_queue(Arc::new(queue.clone()))
    } else {
        store
    };
    let store: Arc<dyn Store> = Arc::new(store);
    let backends = Backends {
        store: store.clone(),
        queue: Arc::new(queue),
        artifacts: Arc::new(LocalArtifactStore::new(dir.path().join("artifacts")).unwrap()),
        bus: Arc::new(LocalEventBus::default()),
    };
    let mut config = EngineConfig {
        concurrency: setup.concurrency,
        lease: setup.lease,
        work_root: dir.path().join("work"),
        retry_backoff: Duration::from_millis(20),
        monitor_interval: Duration::from_millis(100),
        // noop stands for a crawler in these tests: it follows its own discoveries, which
        // takes a rule.
        chain_rules: argus_core::chain::ChainRules::from_toml(
            r#"
[[rules]]
on = "domain"
run = ["noop"]
self = true
[[rules]]
on = "location"
run = ["noop"]
self = true
"#,
        )
        .unwrap(),
        ..EngineConfig::default()
    };
    (setup.tweak)(&mut config);
    let mut registry = argus_scanners::registry_with(&argus_scanners::RegistryOptions {
        noop: true,
        user_tool_dir: setup.tools.as_deref(),
        ..Default::default()
    })
    .unwrap();
    if let Some(extra) = setup.extra {
        registry.register(extra);
    }
    let engine = Engine::new(backends, registry, config);
    let shutdown = CancellationToken::new();
    argus_engine::relay::spawn(engine.clone(), shutdown.clone());
    if setup.monitor {
        argus_engine::monitor::spawn(engine.clone(), shutdown.clone());
    }
    if setup.workers {
        argus_engine::worker::spawn(engine.clone(), shutdown.clone());
    }
    Harness {
        engine,
        store,
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
        rate_limit: None,
        max_tasks: None,
    }
}

async fn create(h: &Harness, config: ScanConfig, start: bool) -> Scan {
    h.engine
        .scans()
        .create(
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
        let s = h.store.get_scan(&h.who.org, scan.id).await.unwrap();
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
    let err = h.engine.scans().validate_config(&c).unwrap_err();
    assert!(
        matches!(err, CoreError::Invalid { ref path, .. } if path == "/config/scanners/0/name"),
        "{err:?}"
    );

    let c = noop(serde_json::json!({"fanout": "many"}));
    let err = h.engine.scans().validate_config(&c).unwrap_err();
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
        let s = h.store.get_scan(&h.who.org, scan.id).await.unwrap();
        if s.progress.done > 5 {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.engine
        .scans()
        .act(&h.who, scan.id, ScanAction::Pause)
        .await
        .unwrap();
    // In-flight tasks (at most `concurrency`) may still finish; after that nothing moves.
    let mut last = h
        .store
        .get_scan(&h.who.org, scan.id)
        .await
        .unwrap()
        .progress
        .done;
    let mut stable_since = Instant::now();
    while stable_since.elapsed() < Duration::from_millis(500) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = h
            .store
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
    let paused = h.store.get_scan(&h.who.org, scan.id).await.unwrap();
    assert_eq!(paused.state, ScanState::Paused);
    assert!(
        paused.progress.done < 201,
        "everything ran while paused: {:?}",
        paused.progress
    );
    assert_eq!(h.engine.queue().depth().await.unwrap().leased, 0);

    h.engine
        .scans()
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
        .scans()
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
        .scans()
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
        if e.kind() == EventKind::TaskFailed {
            assert!(
                e.data.to_json()["error"].as_str().unwrap().contains("fail"),
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
        .store
        .list_findings(&h.who.org, scan.id, &q)
        .await
        .unwrap();
    assert_eq!(mine.items.len(), 3);
    let other = Principal::local("other", "bob").unwrap();
    let theirs = h.store.list_findings(&other.org, scan.id, &q).await;
    assert!(matches!(theirs, Err(CoreError::NotFound { .. })) || theirs.unwrap().items.is_empty());
}

fn invalid_path(err: CoreError) -> (String, String) {
    match err {
        CoreError::Invalid { path, message } => (path, message),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

async fn try_create(h: &Harness, config: ScanConfig) -> Result<Scan, CoreError> {
    h.engine
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_tasks_stops_a_runaway_fan_out() {
    let h = harness_setup(Setup {
        tweak: |c| c.max_tasks = 1000,
        ..Setup::default()
    })
    .await;
    // The server's limit is filled in and reported.
    let scan = create(&h, noop(serde_json::json!({"fanout": 5})), true).await;
    assert_eq!(scan.config.max_tasks, Some(1000));
    // A scan may lower it, not raise it.
    let mut c = noop(serde_json::json!({}));
    c.max_tasks = Some(5000);
    let (path, _) = invalid_path(try_create(&h, c).await.unwrap_err());
    assert_eq!(path, "/config/max_tasks");
    // More initial tasks than the limit: refused at creation.
    let mut c = noop(serde_json::json!({}));
    c.max_tasks = Some(2);
    c.targets = (0..3)
        .map(|i| Target::parse(TargetKind::Url, &format!("noop://t{i}")).unwrap())
        .collect();
    let (path, message) = invalid_path(try_create(&h, c).await.unwrap_err());
    assert_eq!(path, "/config/targets", "{message}");
    // A fan-out past the limit fails the scan with a clear reason and stops growing.
    let mut c = noop(serde_json::json!({"fanout": 3000}));
    c.max_tasks = Some(100);
    let scan = create(&h, c, true).await;
    let done = wait_state(&h, &scan, ScanState::Failed, Duration::from_secs(60)).await;
    let reason = done.reason.unwrap();
    assert!(
        reason.starts_with("max_tasks") && reason.contains("100"),
        "{reason}"
    );
    assert_eq!(done.progress.enqueued, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enumeration_reports_expected_total_and_enqueue_done() {
    let h = harness(4, Duration::from_secs(30), true).await;
    let scan = create(
        &h,
        noop(serde_json::json!({"enumerate": true, "fanout": 20, "sleep_ms": 50})),
        true,
    )
    .await;
    assert!(!scan.progress.enqueue_done, "the root task enumerates");
    let done = wait_state(&h, &scan, ScanState::Completed, Duration::from_secs(30)).await;
    assert!(done.progress.enqueue_done);
    assert_eq!(done.progress.enqueued, 21);
    assert_eq!(done.progress.expected_total, Some(21));
    // The committed events show the estimate before the fan-out, while still enumerating.
    let events = h
        .store
        .events_after(&h.who.org, Some(scan.id), 0, 1000)
        .await
        .unwrap();
    let progress: Vec<argus_core::scan::Progress> = events
        .iter()
        .filter(|e| e.kind() == EventKind::Progress)
        .map(|e| serde_json::from_value(e.data.to_json()).unwrap())
        .collect();
    assert!(
        progress
            .iter()
            .any(|p| p.expected_total == Some(21) && !p.enqueue_done && p.enqueued == 1),
        "{progress:?}"
    );
    assert!(progress.last().unwrap().enqueue_done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_is_lazy_and_the_janitor_clears_in_batches() {
    // No workers and no monitor yet: 20,000 queued tasks, then stop.
    let h = harness_setup(Setup {
        workers: false,
        monitor: false,
        ..Setup::default()
    })
    .await;
    let mut c = noop(serde_json::json!({}));
    c.targets = (0..20_000)
        .map(|i| Target::parse(TargetKind::Url, &format!("noop://t{i}")).unwrap())
        .collect();
    let scan = create(&h, c, true).await;
    assert_eq!(h.engine.queue().depth().await.unwrap().ready, 20_000);
    let stopped = h
        .engine
        .scans()
        .act(&h.who, scan.id, ScanAction::Stop)
        .await
        .unwrap();
    assert_eq!(stopped.state, ScanState::Cancelled);
    // Lazy: the stop touched none of the queued tasks.
    assert_eq!(h.engine.queue().depth().await.unwrap().ready, 20_000);
    // Workers started now drop what they claim without running it.
    argus_engine::worker::spawn(h.engine.clone(), h.shutdown.clone());
    // The janitor clears the rest in bounded batches.
    let cleared = argus_engine::monitor::clean_up(&h.engine, None, &h.shutdown)
        .await
        .unwrap();
    assert!(cleared > 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while h.engine.queue().depth().await.unwrap().ready > 0 {
        assert!(
            Instant::now() < deadline,
            "queued tasks of a stopped scan remain"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(h.store.pending_cleanups(10).await.unwrap().is_empty());
    let s = h.store.get_scan(&h.who.org, scan.id).await.unwrap();
    assert_eq!(
        (s.state, s.progress.done, s.progress.failed),
        (ScanState::Cancelled, 0, 0)
    );

    // Delete is lazy too: the scan is gone at once, its rows go through the janitor.
    h.engine.scans().delete(&h.who, scan.id).await.unwrap();
    assert!(matches!(
        h.store.get_scan(&h.who.org, scan.id).await,
        Err(CoreError::NotFound { .. })
    ));
    let cleared = argus_engine::monitor::clean_up(&h.engine, None, &h.shutdown)
        .await
        .unwrap();
    assert!(cleared >= 20_000, "{cleared}");
    assert!(h.store.pending_cleanups(10).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_paths_need_an_allowed_root() {
    let roots = tempfile::tempdir().unwrap();
    let allowed = roots.path().join("allowed");
    std::fs::create_dir_all(&allowed).unwrap();
    let h = harness(2, Duration::from_secs(30), true).await;
    let loc = |p: &std::path::Path| {
        Target::parse(TargetKind::Location, &format!("file://{}", p.display())).unwrap()
    };
    // No roots configured (the default): refused, for repos and locations alike.
    let mut c = noop(serde_json::json!({}));
    c.targets = vec![Target::parse(TargetKind::Repo, &allowed.display().to_string()).unwrap()];
    let (path, message) = invalid_path(try_create(&h, c).await.unwrap_err());
    assert_eq!(path, "/config/targets/0/value", "{message}");
    assert!(message.contains("scan.local_roots"), "{message}");
    let mut c = noop(serde_json::json!({}));
    c.targets = vec![loc(&allowed)];
    assert!(try_create(&h, c).await.is_err());

    // With a root: inside passes, outside and `..` escapes do not, and a discovered local
    // target outside the root is not followed.
    let h = harness_setup(Setup {
        tweak: |c| c.local_roots = vec![std::env::temp_dir()],
        ..Setup::default()
    })
    .await;
    let mut c = noop(serde_json::json!({}));
    c.targets = vec![loc(&allowed)];
    create(&h, c, true).await;
    let mut c = noop(serde_json::json!({}));
    c.targets = vec![Target::parse(TargetKind::Location, "file:///etc/").unwrap()];
    assert!(try_create(&h, c).await.is_err());
    let mut c = noop(serde_json::json!({}));
    c.targets = vec![loc(&allowed.join("../../../etc"))];
    assert!(try_create(&h, c).await.is_err());
    let mut c = noop(serde_json::json!({"discover": [
        "location:file:///etc/",
        format!("location:file://{}", allowed.display()),
    ]}));
    c.recursion_depth = 1;
    let scan = create(&h, c, true).await;
    let done = wait_state(&h, &scan, ScanState::Completed, Duration::from_secs(30)).await;
    assert_eq!(
        done.progress.enqueued, 2,
        "only the allowed discovery is followed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanners_no_worker_can_run_are_refused_at_creation() {
    let tools = tempfile::tempdir().unwrap();
    std::fs::write(
        tools.path().join("ghost.toml"),
        r#"
name = "ghost"
executable = "/nonexistent/argus-ghost-tool"
target_kinds = ["domain"]
argv = ["{target}"]
[output]
format = "lines"
[output.finding]
kind = "line"
title = "{line}"
fingerprint = ["line"]
"#,
    )
    .unwrap();
    let domain = Target::parse(TargetKind::Domain, "example.com").unwrap();
    let ghost = |targets: Vec<Target>| {
        let mut c = noop(serde_json::json!({}));
        c.scanners[0].name = "tool:ghost".into();
        c.targets = targets;
        c
    };
    // Embedded: the local registry says the tool cannot run here.
    let h = harness_setup(Setup {
        tools: Some(tools.path().to_path_buf()),
        ..Setup::default()
    })
    .await;
    let (path, message) = invalid_path(
        try_create(&h, ghost(vec![domain.clone()]))
            .await
            .unwrap_err(),
    );
    assert_eq!(path, "/config/scanners/0/name");
    assert!(message.contains("tool:ghost"), "{message}");
    // A tool that needs a local path refuses a URL at creation.
    let mut c = noop(serde_json::json!({}));
    c.scanners[0].name = "tool:gitleaks".into();
    c.targets = vec![Target::parse(TargetKind::Repo, "https://github.com/o/r.git").unwrap()];
    let (path, message) = invalid_path(h.engine.scans().validate_config(&c).unwrap_err());
    assert_eq!(path, "/config/targets/0", "{message}");
    assert!(message.contains("tool:gitleaks"), "{message}");

    // Distributed: only what live workers advertise.
    let h = harness_setup(Setup {
        workers: false,
        tweak: |c| c.scanners = argus_engine::ScannerSource::Advertised,
        ..Setup::default()
    })
    .await;
    let (path, message) = invalid_path(
        try_create(&h, noop(serde_json::json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(path, "/config/scanners/0/name");
    assert!(message.contains("no live worker"), "{message}");
    h.store
        .advertise("w1", &["noop".into()], Duration::from_secs(60))
        .await
        .unwrap();
    create(&h, noop(serde_json::json!({})), false).await;
    // A worker pool advertises itself when it starts, and withdraws when it stops.
    h.store.withdraw("w1").await.unwrap();
    assert!(h.store.advertised_scanners().await.unwrap().is_empty());
    let pool_stop = CancellationToken::new();
    let pool = argus_engine::worker::spawn(h.engine.clone(), pool_stop.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let names = h.store.advertised_scanners().await.unwrap();
        if names.iter().any(|n| n == "noop") {
            // Only what can run here: the ghost tool is not advertised.
            assert!(!names.iter().any(|n| n == "tool:ghost"), "{names:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the pool never advertised");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pool_stop.cancel();
    pool.await.unwrap();
    assert!(h.store.advertised_scanners().await.unwrap().is_empty());
}

/// Emits one finding that fails `NewFinding::validate` (empty title) and one valid finding.
struct InvalidFindings;

#[async_trait::async_trait]
impl Scanner for InvalidFindings {
    fn info(&self) -> ScannerInfo {
        ScannerInfo {
            name: "invalid-findings".into(),
            description: "emits an invalid and a valid finding".into(),
            source: "builtin".into(),
            target_kinds: TargetKind::ALL.to_vec(),
            params_schema: serde_json::json!({ "type": "object" }),
            available: true,
            detail: None,
        }
    }

    fn validate_params(&self, _params: &serde_json::Value) -> Result<(), CoreError> {
        Ok(())
    }

    async fn run(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        let finding = |key: &str| {
            NewFinding::new(
                "test.kind",
                Severity::Low,
                format!("finding {key}"),
                ctx.task.target.clone(),
                &[key],
            )
        };
        let mut bad = finding("bad");
        bad.title.clear();
        ctx.emit.finding(bad).await?;
        ctx.emit.finding(finding("good")).await
    }
}

/// Findings that fail `validate()` are skipped where they arrive (the worker) without failing
/// the task or the batch: the scan completes with the valid one only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_findings_skipped() {
    let h = harness_setup(Setup {
        extra: Some(Arc::new(InvalidFindings)),
        ..Setup::default()
    })
    .await;
    let mut config = noop(serde_json::json!({}));
    config.scanners[0].name = "invalid-findings".into();
    let scan = create(&h, config, true).await;
    let done = wait_state(&h, &scan, ScanState::Completed, Duration::from_secs(30)).await;
    assert_eq!(done.progress.findings, 1);
    assert_eq!(done.progress.failed, 0, "the task does not fail for it");
    let items = h
        .store
        .list_findings(&h.who.org, scan.id, &FindingQuery::default())
        .await
        .unwrap()
        .items;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].title, "finding good");
}

/// Takes one permit of its task's rate gate per target and records when it got it.
struct Paced(Arc<std::sync::Mutex<Vec<Instant>>>);

#[async_trait::async_trait]
impl Scanner for Paced {
    fn info(&self) -> ScannerInfo {
        ScannerInfo {
            name: "paced".into(),
            description: "one rate-gated request per task".into(),
            source: "builtin".into(),
            target_kinds: TargetKind::ALL.to_vec(),
            params_schema: serde_json::json!({ "type": "object" }),
            available: true,
            detail: None,
        }
    }

    fn validate_params(&self, _params: &serde_json::Value) -> Result<(), CoreError> {
        Ok(())
    }

    async fn run(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        ctx.net.rate.acquire(1).await;
        self.0.lock().unwrap().push(Instant::now());
        Ok(())
    }
}

/// A scan's `rate_limit` paces its tasks' requests across the worker pool's concurrent tasks:
/// 12 requests at 20/s take at least 11 intervals, however many run at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_rate_limit_paces_concurrent_tasks() {
    let times = Arc::new(std::sync::Mutex::new(Vec::new()));
    let h = harness_setup(Setup {
        concurrency: 8,
        extra: Some(Arc::new(Paced(times.clone()))),
        ..Setup::default()
    })
    .await;
    let mut config = noop(serde_json::json!({}));
    config.scanners[0].name = "paced".into();
    config.targets = (0..12)
        .map(|i| Target::parse(TargetKind::Domain, &format!("h{i}.example.com")).unwrap())
        .collect();
    config.rate_limit = Some(20.0);
    let scan = create(&h, config, true).await;
    wait_state(&h, &scan, ScanState::Completed, Duration::from_secs(30)).await;
    let mut t = times.lock().unwrap().clone();
    t.sort();
    assert_eq!(t.len(), 12);
    let span = t[11] - t[0];
    // 11 intervals of 50 ms; a little slack for the clock readings around the sleeps.
    assert!(
        span >= Duration::from_millis(540),
        "12 requests in {span:?}"
    );
}
