//! Fair dispatch and per-org quotas on the real embedded backends (SQLite store, embedded queue
//! publishing inline, local artifacts), driven through the engine's services and workers:
//!
//! - a 10-task scan of another org started behind a running 100,000-task scan completes while
//!   the big one is still running (fair share between scans at claim);
//! - `max_running_scans`: a start beyond it is `QuotaExceeded` (429), before anything is
//!   created; another org is not affected; a slot frees when a scan ends;
//! - `max_running_tasks`: an org never has more tasks running than its limit, and another
//!   org's scan runs to completion while the limited org's tasks are held up.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::bus::LocalEventBus;
use argus_core::ids::Principal;
use argus_core::quota::{OrgQuota, Quotas};
use argus_core::scan::{Priority, Scan, ScanAction, ScanConfig, ScanState, ScannerSpec, Scope};
use argus_core::scanner::{ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::store::Store;
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use argus_engine::services::CreateScan;
use argus_engine::{Backends, Engine, EngineConfig};
use argus_store::local::LocalArtifactStore;
use argus_store::sqlite::{EmbeddedQueue, EmbeddedQueueOptions, SqliteStore};
use argus_store::SqliteDb;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Failsafe for waits (never an assertion on time: a slow machine only takes longer).
const PATIENCE: Duration = Duration::from_secs(600);

struct Harness {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn harness(concurrency: usize, quotas: Quotas, extra: Option<Arc<dyn Scanner>>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("argus.db")).await.unwrap();
    let store = SqliteStore::new(db.clone()).await.unwrap();
    let queue = EmbeddedQueue::with_options(
        db,
        EmbeddedQueueOptions {
            quotas: quotas.clone(),
            ..EmbeddedQueueOptions::default()
        },
    )
    .await
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(store.with_inline_queue(Arc::new(queue.clone())));
    let backends = Backends {
        store: store.clone(),
        queue: Arc::new(queue),
        artifacts: Arc::new(LocalArtifactStore::new(dir.path().join("artifacts")).unwrap()),
        bus: Arc::new(LocalEventBus::default()),
    };
    let config = EngineConfig {
        concurrency,
        work_root: dir.path().join("work"),
        retry_backoff: Duration::from_millis(20),
        monitor_interval: Duration::from_millis(100),
        quotas,
        ..EngineConfig::default()
    };
    let mut registry = argus_scanners::registry_with(&argus_scanners::RegistryOptions {
        noop: true,
        ..Default::default()
    })
    .unwrap();
    if let Some(extra) = extra {
        registry.register(extra);
    }
    let engine = Engine::new(backends, registry, config);
    let shutdown = CancellationToken::new();
    argus_engine::relay::spawn(engine.clone(), shutdown.clone());
    argus_engine::monitor::spawn(engine.clone(), shutdown.clone());
    argus_engine::worker::spawn(engine.clone(), shutdown.clone());
    Harness {
        engine,
        store,
        shutdown,
        _dir: dir,
    }
}

fn config(scanner: &str, params: serde_json::Value, targets: usize) -> ScanConfig {
    ScanConfig {
        scanners: vec![ScannerSpec {
            name: scanner.into(),
            params,
        }],
        targets: (0..targets)
            .map(|i| Target::parse(TargetKind::Url, &format!("noop://root/{i}")).unwrap())
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
    }
}

fn who(org: &str) -> Principal {
    Principal::local(org, "alice").unwrap()
}

async fn start(h: &Harness, who: &Principal, config: ScanConfig) -> Result<Scan, CoreError> {
    h.engine
        .scans()
        .create(
            who,
            CreateScan {
                name: None,
                config,
                template_id: None,
                start: true,
            },
        )
        .await
}

/// Polls the store until `done` holds for the scan (failsafe: [`PATIENCE`]).
async fn wait_until(
    h: &Harness,
    who: &Principal,
    scan: &Scan,
    done: impl Fn(&Scan) -> bool,
) -> Scan {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let s = h.store.get_scan(&who.org, scan.id).await.unwrap();
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "scan stuck: {s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The case: one org's 100,000-task scan is running (its fan-out is committed, so all
/// of it is queued ahead), then another org starts a 10-task scan; the small scan completes
/// while the big one is still running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_scan_finishes_while_a_big_one_runs() {
    const BIG: u64 = 100_000;
    let h = harness(4, Quotas::default(), None).await;
    let (acme, other) = (who("acme"), who("other"));
    let big = start(
        &h,
        &acme,
        config("noop", serde_json::json!({"fanout": BIG}), 1),
    )
    .await
    .unwrap();
    // The root task ran and its 100,000 children are on the queue.
    let big_running = wait_until(&h, &acme, &big, |s| s.progress.enqueued > BIG).await;
    assert_eq!(big_running.state, ScanState::Running);

    let small = start(
        &h,
        &other,
        config("noop", serde_json::json!({"fanout": 9}), 1),
    )
    .await
    .unwrap();
    let small_done = wait_until(&h, &other, &small, |s| s.state.is_terminal()).await;
    assert_eq!(small_done.state, ScanState::Completed);
    assert_eq!(small_done.progress.done, 10);

    let big_now = h.store.get_scan(&acme.org, big.id).await.unwrap();
    assert_eq!(
        big_now.state,
        ScanState::Running,
        "the big scan must still be running when the small one is done: {:?}",
        big_now.progress
    );
    assert!(big_now.progress.done < BIG, "{:?}", big_now.progress);
    // Leave no 100,000-task tail behind.
    h.engine
        .scans()
        .act(&acme, big.id, ScanAction::Stop)
        .await
        .unwrap();
}

/// `max_running_scans`: the second start of an org is refused as a quota problem without
/// creating a scan; another org may start; once the first scan ends, the org may start again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_scans_quota_refuses_the_next_start() {
    let mut quotas = Quotas {
        max_running_scans: 1,
        ..Quotas::default()
    };
    quotas.orgs.insert(
        "roomy".into(),
        OrgQuota {
            max_running_scans: Some(2),
            max_running_tasks: None,
        },
    );
    let h = harness(2, quotas, None).await;
    let (acme, other, roomy) = (who("acme"), who("other"), who("roomy"));
    // Long enough to still be running when the next start comes (stopped below).
    let slow = || config("noop", serde_json::json!({"sleep_ms": 600_000}), 1);
    let first = start(&h, &acme, slow()).await.unwrap();

    let before = h
        .engine
        .scans()
        .list(&acme, &Default::default())
        .await
        .unwrap()
        .items
        .len();
    match start(&h, &acme, slow()).await {
        Err(CoreError::QuotaExceeded {
            message,
            retry_after_secs,
        }) => {
            assert!(message.contains("max_running_scans"), "{message}");
            assert!(retry_after_secs > 0);
        }
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
    let after = h
        .engine
        .scans()
        .list(&acme, &Default::default())
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(before, after, "a refused start creates no scan");

    // Starting a created scan is refused the same way.
    let created = h
        .engine
        .scans()
        .create(
            &acme,
            CreateScan {
                name: None,
                config: slow(),
                template_id: None,
                start: false,
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        h.engine.scans().start(&acme, created.id).await,
        Err(CoreError::QuotaExceeded { .. })
    ));

    // Other orgs: their own quota (default 1, `roomy` 2).
    let o = start(&h, &other, slow()).await.unwrap();
    let r1 = start(&h, &roomy, slow()).await.unwrap();
    let r2 = start(&h, &roomy, slow()).await.unwrap();
    assert!(matches!(
        start(&h, &roomy, slow()).await,
        Err(CoreError::QuotaExceeded { .. })
    ));

    // The slot frees when the scan ends.
    h.engine
        .scans()
        .act(&acme, first.id, ScanAction::Stop)
        .await
        .unwrap();
    h.engine.scans().start(&acme, created.id).await.unwrap();
    for (p, s) in [
        (&acme, created.id),
        (&other, o.id),
        (&roomy, r1.id),
        (&roomy, r2.id),
    ] {
        h.engine.scans().act(p, s, ScanAction::Stop).await.unwrap();
    }
}

/// A scanner whose tasks hold a permit of a shared gate while they run and count how many of
/// them run at once.
struct Gated {
    gate: Arc<Semaphore>,
    running: AtomicUsize,
    most: AtomicUsize,
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
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::select! {
            permit = self.gate.acquire() => drop(permit),
            () = ctx.cancel.cancelled() => {}
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

/// `max_running_tasks`: with 8 worker slots and a limit of 2 for `acme`, at most 2 of acme's
/// tasks run at once; another org's scan is claimed past acme's waiting tasks and completes
/// while acme's two are held at the gate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_tasks_quota_holds_an_org_back_and_lets_others_go() {
    let mut quotas = Quotas::default();
    quotas.orgs.insert(
        "acme".into(),
        OrgQuota {
            max_running_scans: None,
            max_running_tasks: Some(2),
        },
    );
    let gated = Arc::new(Gated {
        gate: Arc::new(Semaphore::new(0)),
        running: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
    });
    let h = harness(8, quotas, Some(gated.clone())).await;
    let (acme, other) = (who("acme"), who("other"));
    let limited = start(&h, &acme, config("gated", serde_json::json!({}), 10))
        .await
        .unwrap();
    // Two of acme's tasks are at the gate.
    let deadline = Instant::now() + PATIENCE;
    while gated.running.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "acme's tasks never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Queued after acme's ten, claimed past the eight that wait.
    let free = start(&h, &other, config("noop", serde_json::json!({}), 5))
        .await
        .unwrap();
    let free_done = wait_until(&h, &other, &free, |s| s.state.is_terminal()).await;
    assert_eq!(free_done.state, ScanState::Completed);
    assert_eq!(gated.running.load(Ordering::SeqCst), 2);
    let held = h.store.get_scan(&acme.org, limited.id).await.unwrap();
    assert_eq!(held.progress.done, 0, "acme's tasks are all held: {held:?}");

    gated.gate.add_permits(10);
    let limited_done = wait_until(&h, &acme, &limited, |s| s.state.is_terminal()).await;
    assert_eq!(limited_done.state, ScanState::Completed);
    assert_eq!(limited_done.progress.done, 10);
    assert_eq!(
        gated.most.load(Ordering::SeqCst),
        2,
        "acme ran more tasks at once than its quota"
    );
}
