//! Stuck scans end to end on the embedded backends: a scanner that hangs until the test opens
//! its gate makes the monitor flag the scan (`stuck` event, `stuck_since`, reason), a task that
//! finishes clears the flag (`unstuck`), a new quiet period flags it again, and completion
//! clears it for good. Timing is polled with a deadline, never slept on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::bus::LocalEventBus;
use argus_core::event::{Event, EventData, EventKind};
use argus_core::ids::Principal;
use argus_core::scan::{Priority, Scan, ScanConfig, ScanState, ScannerSpec, Scope};
use argus_core::scanner::{ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::store::Store;
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use argus_engine::services::CreateScan;
use argus_engine::{Backends, Engine, EngineConfig};
use argus_store::local::LocalArtifactStore;
use argus_store::sqlite::{EmbeddedQueue, SqliteStore};
use argus_store::SqliteDb;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

const PATIENCE: Duration = Duration::from_secs(30);

/// Waits for the test's gate (or the task's cancellation).
struct Gated {
    gate: Arc<Semaphore>,
}

#[async_trait::async_trait]
impl Scanner for Gated {
    fn info(&self) -> ScannerInfo {
        ScannerInfo {
            name: "gated".into(),
            description: "waits for the test's gate".into(),
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
        tokio::select! {
            // Each permit lets one task through (forgotten, not handed back).
            permit = self.gate.acquire() => {
                if let Ok(p) = permit {
                    p.forget();
                }
            }
            () = ctx.cancel.cancelled() => {}
        }
        Ok(())
    }
}

struct Harness {
    engine: Arc<Engine>,
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

async fn harness(gated: Arc<Gated>, stuck_after: Duration) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("argus.db")).await.unwrap();
    let store = SqliteStore::new(db.clone()).await.unwrap();
    let queue = EmbeddedQueue::new(db).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store.with_inline_queue(Arc::new(queue.clone())));
    let backends = Backends {
        store: store.clone(),
        queue: Arc::new(queue),
        artifacts: Arc::new(LocalArtifactStore::new(dir.path().join("artifacts")).unwrap()),
        bus: Arc::new(LocalEventBus::default()),
    };
    let config = EngineConfig {
        concurrency: 4,
        work_root: dir.path().join("work"),
        monitor_interval: Duration::from_millis(50),
        stuck_after,
        ..EngineConfig::default()
    };
    let mut registry = argus_scanners::registry_with(&argus_scanners::RegistryOptions {
        noop: true,
        ..Default::default()
    })
    .unwrap();
    registry.register(gated);
    let engine = Engine::new(backends, registry, config);
    let shutdown = CancellationToken::new();
    argus_engine::relay::spawn(engine.clone(), shutdown.clone());
    argus_engine::monitor::spawn(engine.clone(), shutdown.clone());
    argus_engine::worker::spawn(engine.clone(), shutdown.clone());
    Harness {
        engine,
        store,
        who: Principal::local("acme", "alice").unwrap(),
        shutdown,
        _dir: dir,
    }
}

/// A `gated` scan of `targets` URLs, started.
async fn start(h: &Harness, targets: usize) -> Scan {
    let config = ScanConfig {
        scanners: vec![ScannerSpec {
            name: "gated".into(),
            params: serde_json::json!({}),
        }],
        targets: (0..targets)
            .map(|i| Target::parse(TargetKind::Url, &format!("https://t{i}.example.com/")).unwrap())
            .collect(),
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
        .unwrap()
}

/// The scan's stuck and unstuck events so far, in order.
async fn stuck_events(h: &Harness, scan: &Scan) -> Vec<Event> {
    h.store
        .events_after(&h.who.org, Some(scan.id), 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.kind(), EventKind::Stuck | EventKind::Unstuck))
        .collect()
}

/// Polls until the scan has `n` stuck/unstuck events; fails after [`PATIENCE`].
async fn wait_events(h: &Harness, scan: &Scan, n: usize) -> Vec<Event> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let evs = stuck_events(h, scan).await;
        if evs.len() >= n {
            return evs;
        }
        assert!(
            Instant::now() < deadline,
            "wanted {n} stuck/unstuck events, have {evs:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_scan_is_flagged_and_unflagged_once_per_period() {
    let gated = Arc::new(Gated {
        gate: Arc::new(Semaphore::new(0)),
    });
    let h = harness(gated.clone(), Duration::from_millis(200)).await;
    let scan = start(&h, 2).await;

    // Both tasks hang: one stuck event, the flag and the reason on the scan.
    let evs = wait_events(&h, &scan, 1).await;
    let EventData::Stuck { since: first } = evs[0].data else {
        panic!("first event {evs:?}");
    };
    let s = h.engine.scans().get(&h.who, scan.id).await.unwrap();
    assert!(s.state.is_active(), "{:?}", s.state);
    assert_eq!(s.stuck_since, Some(first));
    assert_eq!(
        s.reason.as_deref(),
        Some(argus_core::scan::stuck_reason(first).as_str())
    );

    // One task finishes: the flag clears; the other still hangs, so a new period begins later.
    gated.gate.add_permits(1);
    let evs = wait_events(&h, &scan, 3).await;
    assert_eq!(evs[1].data, EventData::Unstuck { since: first });
    let EventData::Stuck { since: second } = evs[2].data else {
        panic!("third event {evs:?}");
    };
    assert!(second > first, "{second} after {first}");

    // The last task finishes: the scan completes and the flag clears with it.
    gated.gate.add_permits(1);
    let evs = wait_events(&h, &scan, 4).await;
    assert_eq!(evs[3].data, EventData::Unstuck { since: second });
    let done = h.engine.scans().get(&h.who, scan.id).await.unwrap();
    assert_eq!(done.state, ScanState::Completed);
    assert_eq!((done.stuck_since, done.reason.as_deref()), (None, None));
    assert_eq!(done.progress.done, 2);
    assert_eq!(stuck_events(&h, &scan).await.len(), 4, "nothing more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_stuck_after_turns_the_check_off() {
    let gated = Arc::new(Gated {
        gate: Arc::new(Semaphore::new(0)),
    });
    let h = harness(gated.clone(), Duration::ZERO).await;
    let scan = start(&h, 1).await;
    // Many monitor ticks pass (the check would run on each): polled, not slept.
    assert_eq!(argus_engine::stuck::check(&h.engine).await.unwrap(), 0);
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        assert!(stuck_events(&h, &scan).await.is_empty());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gated.gate.add_permits(1);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let s = h.engine.scans().get(&h.who, scan.id).await.unwrap();
        if s.state == ScanState::Completed {
            assert_eq!(s.stuck_since, None);
            break;
        }
        assert!(Instant::now() < deadline, "scan never completed: {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stuck_events(&h, &scan).await.is_empty());
}
