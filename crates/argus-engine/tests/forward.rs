//! The forwarder on the real embedded backends: what reaches a sink, in which form, and what
//! happens while the destination fails (buffer, drops, retries, dead letters, the cursor).
//!
//! The sink here is a recording destination inside the test: these tests are about the
//! forwarder's rules, which every destination shares; each destination's wire protocol is
//! tested against a receiver speaking it (`argus-sinks`), and the binary end to end in
//! `argus-cli/tests/forwarding.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::json;

use argus_core::bus::LocalEventBus;
use argus_core::ids::Principal;
use argus_core::scan::{Priority, Scan, ScanConfig, ScanState, ScannerSpec, Scope};
use argus_core::sink::{Outgoing, Sink, SinkError, SinkSettings, StartAt, WhenFull};
use argus_core::store::Store;
use argus_core::target::{Target, TargetKind};
use argus_engine::forward::SinkSpec;
use argus_engine::services::CreateScan;
use argus_engine::{Backends, Engine, EngineConfig};
use argus_store::local::LocalArtifactStore;
use argus_store::sqlite::{EmbeddedQueue, SqliteStore};
use argus_store::SqliteDb;
use tokio_util::sync::CancellationToken;

/// A destination that records what it accepts and fails on command.
#[derive(Default)]
struct Recorder {
    got: Mutex<Vec<serde_json::Value>>,
    down: AtomicBool,
    reject: AtomicBool,
    calls: AtomicUsize,
    max_batch: usize,
}

#[async_trait]
impl Sink for Recorder {
    fn kind(&self) -> &'static str {
        "recorder"
    }
    fn endpoint(&self) -> String {
        "memory://recorder".into()
    }
    fn max_batch(&self) -> usize {
        self.max_batch.max(1)
    }
    async fn send(&self, batch: &[Outgoing]) -> Result<(), SinkError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert!(batch.len() <= self.max_batch(), "batch over max_batch");
        if self.reject.load(Ordering::SeqCst) {
            return Err(SinkError::Rejected("HTTP 400: bad payload".into()));
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(SinkError::Retryable("connection refused".into()));
        }
        self.got
            .lock()
            .unwrap()
            .extend(batch.iter().map(|o| o.body.clone()));
        Ok(())
    }
}

impl Recorder {
    fn ids(&self) -> Vec<i64> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|e| e["event_id"].as_i64().unwrap())
            .collect()
    }
    fn kinds(&self, kind: &str) -> Vec<serde_json::Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == kind)
            .cloned()
            .collect()
    }
}

struct Harness {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    who: Principal,
    shutdown: CancellationToken,
    dir: Option<tempfile::TempDir>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn settings(name: &str, tweak: impl FnOnce(&mut SinkSettings)) -> SinkSettings {
    let mut s = SinkSettings {
        name: name.into(),
        kind: "recorder".into(),
        batch_timeout_ms: 20,
        backoff_min_ms: 10,
        backoff_max_ms: 50,
        start: StartAt::Beginning,
        ..SinkSettings::default()
    };
    tweak(&mut s);
    s
}

async fn open(dir: tempfile::TempDir, sinks: Vec<SinkSpec>) -> Harness {
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
        monitor_interval: Duration::from_millis(100),
        ..EngineConfig::default()
    };
    let registry = argus_scanners::registry_with(&argus_scanners::RegistryOptions {
        noop: true,
        ..Default::default()
    })
    .unwrap();
    let engine = Engine::new(backends, registry, config);
    engine.install_sinks(sinks).unwrap();
    let shutdown = CancellationToken::new();
    argus_engine::relay::spawn(engine.clone(), shutdown.clone());
    argus_engine::worker::spawn(engine.clone(), shutdown.clone());
    argus_engine::forward::spawn(engine.clone(), shutdown.clone());
    Harness {
        engine,
        store,
        who: Principal::local("acme", "alice").unwrap(),
        shutdown,
        dir: Some(dir),
    }
}

async fn harness(sinks: Vec<SinkSpec>) -> Harness {
    open(tempfile::tempdir().unwrap(), sinks).await
}

/// Stops the engine's loops and closes its database; returns the data folder.
async fn stop(mut h: Harness) -> tempfile::TempDir {
    h.shutdown.cancel();
    // The loops see the cancel at their next await; the forwarder saves and resigns.
    let deadline = Instant::now() + Duration::from_secs(10);
    while h
        .engine
        .forwarding()
        .list(&h.who)
        .await
        .unwrap()
        .iter()
        .any(|v| v.live.leading || v.audit.as_ref().is_some_and(|a| a.live.leading))
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.engine.shutdown().await;
    h.dir.take().unwrap()
}

fn spec(settings: SinkSettings, sink: Arc<Recorder>) -> SinkSpec {
    SinkSpec { settings, sink }
}

async fn scan(h: &Harness, findings: u64) -> Scan {
    let config = ScanConfig {
        scanners: vec![ScannerSpec {
            name: "noop".into(),
            params: json!({ "findings": findings }),
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
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = h.store.get_scan(&h.who.org, scan.id).await.unwrap();
        if s.state == ScanState::Completed {
            return s;
        }
        assert!(Instant::now() < deadline, "scan stuck: {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The ids of every event of the store that the forwarder turns into a sink event.
async fn forwardable(h: &Harness) -> Vec<i64> {
    let events = h.store.events_since(0, 100_000).await.unwrap();
    events
        .iter()
        .filter(|e| argus_core::sink::SinkEvent::from_event(e).is_some())
        .map(|e| e.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_and_lifecycle_reach_the_sink_in_order_with_counters() {
    let rec = Arc::new(Recorder {
        max_batch: 7,
        ..Recorder::default()
    });
    let h = harness(vec![spec(settings("rec", |_| {}), rec.clone())]).await;
    let s = scan(&h, 25).await;
    let want = forwardable(&h).await;
    until("every event", Duration::from_secs(20), || {
        rec.ids().len() >= want.len()
    })
    .await;
    assert_eq!(rec.ids(), want, "every event once, in id order");
    let results = rec.kinds("scan_result");
    assert_eq!(results.len(), 25);
    for r in &results {
        assert_eq!(r["scan_id"], s.id.to_string());
        assert_eq!(r["scanner"], "noop");
        assert_eq!(r["schema_version"], 1);
        assert!(r["finding_id"].is_string());
    }
    let actions: Vec<_> = rec
        .kinds("scan_lifecycle")
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["created", "started", "completed"]);
    let done = rec.kinds("scan_lifecycle").pop().unwrap();
    assert_eq!(done["counters"]["findings"], 25, "{done}");
    // The API's view: everything sent, nothing behind (saved just after the last batch).
    let views = h.engine.forwarding().list(&h.who).await.unwrap();
    assert_eq!(views.len(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    let view = loop {
        let v = h.engine.forwarding().get(&h.who, "rec").await.unwrap();
        if v.state.sent >= want.len() as u64 || Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(view.state.sent, want.len() as u64);
    assert_eq!(view.lag, 0);
    assert_eq!(view.endpoint, "memory://recorder");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_masks_apply_before_sending() {
    let rec = Arc::new(Recorder {
        max_batch: 100,
        ..Recorder::default()
    });
    let h = harness(vec![spec(
        settings("results", |s| {
            s.events = vec![argus_core::sink::SinkEventKind::ScanResult];
            s.mask = vec!["title".into(), "fingerprint".into()];
            s.truncate = 10;
        }),
        rec.clone(),
    )])
    .await;
    scan(&h, 3).await;
    until("three results", Duration::from_secs(20), || {
        rec.ids().len() >= 3
    })
    .await;
    let got = rec.got.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "lifecycle events filtered out");
    for e in got {
        assert_eq!(e["kind"], "scan_result");
        assert_eq!(e["title"], "****");
        assert_eq!(e["fingerprint"], "****");
        assert!(e["target"].as_str().unwrap().chars().count() <= 11, "{e}");
    }
    // Results below the floor go nowhere: noop's findings are `info`.
    let rec2 = Arc::new(Recorder {
        max_batch: 100,
        ..Recorder::default()
    });
    let h2 = harness(vec![spec(
        settings("high", |s| {
            s.min_severity = Some(argus_core::finding::Severity::High);
        }),
        rec2.clone(),
    )])
    .await;
    scan(&h2, 3).await;
    let want = forwardable(&h2).await.len() - 3;
    until("the lifecycle events", Duration::from_secs(20), || {
        rec2.ids().len() >= want
    })
    .await;
    assert!(rec2.kinds("scan_result").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_within_the_buffer_loses_nothing() {
    let rec = Arc::new(Recorder {
        max_batch: 50,
        ..Recorder::default()
    });
    rec.down.store(true, Ordering::SeqCst);
    let h = harness(vec![spec(
        settings("rec", |s| s.buffer = 10_000),
        rec.clone(),
    )])
    .await;
    scan(&h, 300).await;
    until("a few failed tries", Duration::from_secs(10), || {
        rec.calls.load(Ordering::SeqCst) >= 3
    })
    .await;
    let view = h.engine.forwarding().get(&h.who, "rec").await.unwrap();
    assert!(view.live.failing, "{view:?}");
    assert!(view
        .state
        .last_error
        .as_deref()
        .unwrap()
        .contains("refused"));
    rec.down.store(false, Ordering::SeqCst);
    let want = forwardable(&h).await;
    until(
        "every event after the outage",
        Duration::from_secs(20),
        || rec.ids().len() >= want.len(),
    )
    .await;
    assert_eq!(rec.ids(), want);
    let view = h.engine.forwarding().get(&h.who, "rec").await.unwrap();
    assert_eq!(view.state.dropped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_beyond_the_buffer_drops_the_oldest_and_counts_them() {
    let rec = Arc::new(Recorder {
        max_batch: 10,
        ..Recorder::default()
    });
    rec.down.store(true, Ordering::SeqCst);
    let h = harness(vec![spec(
        settings("rec", |s| {
            s.buffer = 40;
            s.when_full = WhenFull::DropOldest;
        }),
        rec.clone(),
    )])
    .await;
    scan(&h, 200).await;
    let want = forwardable(&h).await;
    // Wait until the forwarder has read everything (the cursor plus the buffer cover it).
    until(
        "the forwarder to read every event",
        Duration::from_secs(20),
        || rec.calls.load(Ordering::SeqCst) >= 2,
    )
    .await;
    let mut dropped = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let v = h.engine.forwarding().get(&h.who, "rec").await.unwrap();
        dropped = v.state.dropped;
        if dropped as usize + 40 >= want.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        dropped as usize,
        want.len() - 40,
        "all but the buffer dropped"
    );
    rec.down.store(false, Ordering::SeqCst);
    until("the buffer delivered", Duration::from_secs(20), || {
        rec.ids().len() >= 40
    })
    .await;
    // What got through is the newest 40, in order.
    assert_eq!(rec.ids(), want[want.len() - 40..].to_vec());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_is_dead_lettered_and_forwarding_goes_on() {
    let rec = Arc::new(Recorder {
        max_batch: 100,
        ..Recorder::default()
    });
    rec.reject.store(true, Ordering::SeqCst);
    let h = harness(vec![spec(settings("rec", |_| {}), rec.clone())]).await;
    scan(&h, 5).await;
    let want = forwardable(&h).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let letters = loop {
        let page = h
            .engine
            .forwarding()
            .dead_letters(&h.who, "rec", None, 100)
            .await
            .unwrap();
        if page.items.len() >= want.len() {
            break page.items;
        }
        assert!(
            Instant::now() < deadline,
            "dead letters: {}",
            page.items.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let ids: BTreeSet<i64> = letters.iter().map(|l| l.event_id).collect();
    assert_eq!(ids, want.iter().copied().collect());
    assert!(letters[0].error.contains("400"));
    assert_eq!(letters[0].sink, "rec");
    // Another org sees none of them; an unknown sink is 404.
    let other = Principal::local("other-org", "bob").unwrap();
    let page = h
        .engine
        .forwarding()
        .dead_letters(&other, "rec", None, 100)
        .await
        .unwrap();
    assert!(page.items.is_empty());
    assert!(h
        .engine
        .forwarding()
        .dead_letters(&h.who, "nope", None, 100)
        .await
        .is_err());
    // The destination takes events again: the next scan's events arrive.
    rec.reject.store(false, Ordering::SeqCst);
    scan(&h, 2).await;
    let all = forwardable(&h).await;
    until("the next scan's events", Duration::from_secs(20), || {
        rec.ids().len() >= all.len() - want.len()
    })
    .await;
    assert_eq!(rec.ids(), all[want.len()..].to_vec());
    let view = h.engine.forwarding().get(&h.who, "rec").await.unwrap();
    assert_eq!(view.state.dead_lettered, want.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_saved_cursor() {
    let rec = Arc::new(Recorder {
        max_batch: 100,
        ..Recorder::default()
    });
    let h = harness(vec![spec(settings("rec", |_| {}), rec.clone())]).await;
    scan(&h, 10).await;
    let first = forwardable(&h).await;
    until("the first scan's events", Duration::from_secs(20), || {
        rec.ids().len() >= first.len()
    })
    .await;
    // A graceful stop saves the cursor; events committed while no forwarder runs wait.
    let dir = stop(h).await;
    let rec2 = Arc::new(Recorder {
        max_batch: 100,
        ..Recorder::default()
    });
    let h = open(dir, vec![spec(settings("rec", |_| {}), rec2.clone())]).await;
    scan(&h, 4).await;
    let all = forwardable(&h).await;
    until("the second scan's events", Duration::from_secs(20), || {
        rec2.ids().len() >= all.len() - first.len()
    })
    .await;
    assert_eq!(
        rec2.ids(),
        all[first.len()..].to_vec(),
        "nothing again, nothing missing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sink_starts_now_unless_told_otherwise() {
    let rec = Arc::new(Recorder {
        max_batch: 100,
        ..Recorder::default()
    });
    let h = harness(vec![]).await;
    scan(&h, 3).await;
    let before = forwardable(&h).await.len();
    let dir = stop(h).await;
    let h = open(
        dir,
        vec![spec(
            settings("late", |s| s.start = StartAt::Now),
            rec.clone(),
        )],
    )
    .await;
    // The sink's cursor is fixed when it first runs; wait for it to be saved.
    let deadline = Instant::now() + Duration::from_secs(10);
    while h
        .engine
        .forwarding()
        .get(&h.who, "late")
        .await
        .unwrap()
        .state
        .holder
        .is_none()
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    scan(&h, 2).await;
    let all = forwardable(&h).await;
    until("the new scan's events", Duration::from_secs(20), || {
        rec.ids().len() >= all.len() - before
    })
    .await;
    assert_eq!(rec.ids(), all[before..].to_vec());
}

fn audit_record(
    org: &str,
    user: &str,
    action: &str,
    status: u16,
) -> argus_core::audit::NewAuditRecord {
    argus_core::audit::NewAuditRecord {
        at: chrono::Utc::now(),
        org_id: argus_core::OrgId::parse(org).unwrap(),
        user_id: argus_core::UserId::parse(user).unwrap(),
        role: argus_core::Role::Analyst,
        action: action.into(),
        method: "POST".into(),
        route: "/api/v1/scans/{id}/start".into(),
        resource: "/api/v1/scans/0191c7a0-0000-7000-8000-000000000002/start".into(),
        outcome: argus_core::audit::AuditOutcome::of_status(status),
        status,
        client: Some("192.0.2.7".into()),
        request_id: format!("req-{action}"),
    }
}

/// Audit records go to every sink whose filter admits `audit` (an empty filter does), as
/// `audit` events keyed by ids no scan event has, each once and in order; a sink filtering
/// them out gets none; after a restart the feed resumes after what was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_records_reach_sinks_as_audit_events_once() {
    let dir = tempfile::tempdir().unwrap();
    let all = Arc::new(Recorder {
        max_batch: 100,
        ..Recorder::default()
    });
    let scans_only = Arc::new(Recorder {
        max_batch: 100,
        ..Recorder::default()
    });
    let sinks = |all: &Arc<Recorder>, scans_only: &Arc<Recorder>| {
        vec![
            spec(
                settings("all", |s| {
                    s.events = vec![
                        argus_core::sink::SinkEventKind::ScanResult,
                        argus_core::sink::SinkEventKind::ScanLifecycle,
                        argus_core::sink::SinkEventKind::Audit,
                    ];
                }),
                all.clone(),
            ),
            // No `events` list: the scan events only (audit is opt-in).
            spec(settings("scans", |_| {}), scans_only.clone()),
        ]
    };
    let h = open(dir, sinks(&all, &scans_only)).await;
    let audit = h.engine.audit();
    let first = audit
        .record(audit_record("acme", "alice", "scan.create", 201))
        .await
        .unwrap();
    scan(&h, 2).await;
    let second = audit
        .record(audit_record("globex", "bob", "scan.start", 403))
        .await
        .unwrap();
    let third = audit
        .record(audit_record("acme", "carol", "artifact.download", 200))
        .await
        .unwrap();
    let scan_events = forwardable(&h).await;
    until("three audit events", Duration::from_secs(20), || {
        all.kinds("audit").len() >= 3
    })
    .await;
    until("every scan event", Duration::from_secs(20), || {
        scans_only.ids().len() >= scan_events.len()
    })
    .await;
    let got = all.kinds("audit");
    let ids: Vec<i64> = got
        .iter()
        .map(|e| e["event_id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        [first.id, second.id, third.id],
        "each once, in id order"
    );
    assert!(
        ids.iter().all(|id| !scan_events.contains(id)),
        "audit ids are never scan event ids: {ids:?} vs {scan_events:?}"
    );
    let denied = &got[1];
    assert_eq!(denied["schema"], "argus.event");
    assert_eq!(denied["org_id"], "globex");
    assert_eq!(denied["user_id"], "bob");
    assert_eq!(denied["action"], "scan.start");
    assert_eq!(denied["outcome"], "denied");
    assert_eq!(denied["status"], 403);
    assert_eq!(denied["client"], "192.0.2.7");
    assert_eq!(denied["request_id"], "req-scan.start");
    assert_eq!(denied["scan_id"], "0191c7a0-0000-7000-8000-000000000002");
    assert!(scans_only.kinds("audit").is_empty(), "filtered out");
    assert_eq!(scans_only.ids(), scan_events);

    // The sinks' views: the audit feed of `all` caught up, none for `scans`.
    until_views(&h, |v| {
        v.iter()
            .find(|v| v.name == "all")
            .and_then(|v| v.audit.as_ref())
            .is_some_and(|a| a.state.sent == 3 && a.lag == 0)
    })
    .await;
    let views = h.engine.forwarding().list(&h.who).await.unwrap();
    assert!(views
        .iter()
        .find(|v| v.name == "scans")
        .unwrap()
        .audit
        .is_none());

    // A restart resumes after what was sent: only the new record goes out.
    let dir = stop(h).await;
    let h = open(dir, sinks(&all, &scans_only)).await;
    let fourth = h
        .engine
        .audit()
        .record(audit_record("acme", "alice", "scan.delete", 204))
        .await
        .unwrap();
    until("the fourth audit event", Duration::from_secs(20), || {
        all.kinds("audit").len() >= 4
    })
    .await;
    let ids: Vec<i64> = all
        .kinds("audit")
        .iter()
        .map(|e| e["event_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [first.id, second.id, third.id, fourth.id]);
    stop(h).await;
}

async fn until_views(h: &Harness, f: impl Fn(&[argus_engine::services::SinkView]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let views = h.engine.forwarding().list(&h.who).await.unwrap();
        if f(&views) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out: {views:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
