//! Store conformance suite: the semantics of [`Store`] (see `store.rs`), checked the same way for
//! every backend.
//!
//! A backend provides a [`StoreHarness`] that hands out a fresh, empty store per case, then
//! generates one `#[tokio::test]` per case:
//!
//! ```ignore
//! struct Sqlite;
//! #[async_trait::async_trait]
//! impl StoreHarness for Sqlite {
//!     type Store = SqliteStore;
//!     async fn fresh(&self) -> Option<StoreFixture<SqliteStore>> { /* a new database file */ }
//! }
//! argus_core::store_suite_tests!(Sqlite);
//! ```
//!
//! Every case is also public, so a backend's own tests can run one of them directly.
//! The concurrency case spawns tokio tasks, so run the suite on a multi-thread runtime (the
//! generated tests do).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::any::Any;
use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;

use crate::artifact::{ArtifactMeta, ArtifactName};
use crate::error::CoreError;
use crate::event::{Event, EventData, EventKind};
use crate::finding::{
    Finding, FindingQuery, FindingSort, NewFinding, Page, SecretDigest, Severity, Triage,
    TriageCounts,
};
use crate::ids::FindingId;
use crate::ids::{OrgId, ScanId, TaskId, TemplateId, UserId};
use crate::scan::{NewScan, Priority, ScanAction, ScanConfig, ScanState, ScannerSpec, Scope};
use crate::sink::{DeadLetter, LifecycleAction, NewDeadLetter, SinkEvent, SinkPayload, SinkState};
use crate::store::{Cleanup, ScanQuery, Store, TemplateQuery};
use crate::target::{Target, TargetKind};
use crate::task::{EnumerationUpdate, Task, TaskReport, TaskStatus};
use crate::template::NewTemplate;

// ---------------------------------------------------------------- helpers

/// An org id for tests.
pub fn org(s: &str) -> OrgId {
    OrgId::parse(s).unwrap()
}

fn user() -> UserId {
    UserId::parse("tester").unwrap()
}

/// A domain target `{name}.example.com`.
pub fn domain(name: &str) -> Target {
    Target::parse(TargetKind::Domain, &format!("{name}.example.com")).unwrap()
}

/// A minimal valid config.
pub fn config() -> ScanConfig {
    ScanConfig {
        scanners: vec![ScannerSpec {
            name: "noop".into(),
            params: serde_json::json!({}),
        }],
        targets: vec![domain("root")],
        recursion_depth: 2,
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

/// A new scan request in `org`.
pub fn new_scan(org_id: &OrgId, cfg: ScanConfig) -> NewScan {
    NewScan {
        id: ScanId::new(),
        org: org_id.clone(),
        user: user(),
        name: "suite scan".into(),
        config: cfg,
        template_id: None,
        source_scan_id: None,
    }
}

/// A `noop` task on `{name}.example.com`.
pub fn task(scan: ScanId, org_id: &OrgId, name: &str) -> Task {
    Task {
        id: TaskId::new(),
        scan_id: scan,
        org_id: org_id.clone(),
        scanner: "noop".into(),
        target: domain(name),
        depth: 0,
        priority: Priority::Medium,
        max_attempts: 3,
        params: None,
        enumerates: false,
    }
}

/// A finding whose fingerprint is derived from `key`.
pub fn finding(key: &str, severity: Severity) -> NewFinding {
    let mut f = NewFinding::new(
        "test.kind",
        severity,
        format!("finding {key}"),
        domain("root"),
        &[key],
    );
    f.data = serde_json::json!({ "key": key });
    f
}

fn report(t: &Task, status: TaskStatus) -> TaskReport {
    TaskReport::status(t, status)
}

/// Creates and starts a scan with one task per name; returns the scan id and its tasks.
pub async fn started<S: Store>(
    store: &S,
    o: &OrgId,
    cfg: ScanConfig,
    names: &[&str],
) -> (ScanId, Vec<Task>) {
    let scan = store.create_scan(new_scan(o, cfg)).await.unwrap();
    let tasks: Vec<Task> = names.iter().map(|n| task(scan.id, o, n)).collect();
    store.start_scan(o, scan.id, tasks.clone()).await.unwrap();
    (scan.id, tasks)
}

fn assert_not_found<T: std::fmt::Debug>(r: Result<T, CoreError>, what: &str) {
    match r {
        Err(CoreError::NotFound { .. }) => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    }
}

fn assert_conflict<T: std::fmt::Debug>(r: Result<T, CoreError>, state: ScanState, what: &str) {
    match r {
        Err(CoreError::Conflict { state: s, .. }) => {
            assert_eq!(s, Some(state), "{what}: conflict state")
        }
        other => panic!("{what}: expected Conflict({state}), got {other:?}"),
    }
}

fn state_events(evs: &[Event]) -> Vec<(String, String)> {
    evs.iter()
        .filter(|e| e.kind() == EventKind::State)
        .map(|e| {
            (
                e.data.to_json()["from"].as_str().unwrap().to_owned(),
                e.data.to_json()["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn all_events<S: Store>(store: &S, o: &OrgId, scan: Option<ScanId>) -> Vec<Event> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.events_after(o, scan, after, 1000).await.unwrap();
        let Some(last) = page.last() else { return out };
        after = last.id;
        out.extend(page);
    }
}

// ---------------------------------------------------------------- harness

/// A store under test plus whatever must outlive it (a temporary folder, a schema name).
pub struct StoreFixture<S> {
    pub store: Arc<S>,
    guard: Box<dyn Any + Send + Sync>,
}

impl<S> StoreFixture<S> {
    /// Wraps a store and the guard that keeps its backing resources alive.
    pub fn new(store: S, guard: impl Any + Send + Sync) -> Self {
        StoreFixture {
            store: Arc::new(store),
            guard: Box::new(guard),
        }
    }

    /// The guard, for [`StoreHarness::passed`] to clean up with.
    pub fn guard(&self) -> &(dyn Any + Send + Sync) {
        &*self.guard
    }
}

/// How the suite obtains stores of one backend.
#[async_trait]
pub trait StoreHarness: Send + Sync {
    type Store: Store;

    /// A new, empty store, isolated from every other store this harness handed out; `None`
    /// skips the case (the backend's service is not configured; see [`super::service_url`]).
    async fn fresh(&self) -> Option<StoreFixture<Self::Store>>;

    /// Called after a case passed (a failed case leaves its store for inspection).
    async fn passed(&self, fixture: StoreFixture<Self::Store>) {
        drop(fixture);
    }
}

/// Generates one `#[tokio::test]` per suite case for a harness expression.
#[macro_export]
macro_rules! store_suite_tests {
    ($harness:expr) => {
        $crate::store_suite_tests!(@each $harness;
            org_scoping,
            lifecycle,
            list_scans_paging,
            ledger_dedup_and_priority,
            record_idempotent,
            completion_rule,
            start_without_tasks_completes,
            max_results_completes,
            parked_and_resume,
            stop_drops_tasks,
            force_stop_ends_any_unended_scan,
            stuck_flag_once_per_period,
            finish_scan_rules,
            events_monotonic_and_replay,
            finding_filters_sort_pagination,
            templates_crud,
            list_templates_paging,
            artifacts_metadata,
            delete_cascades,
            concurrent_records_exact,
            leadership_lease,
            max_tasks_fails_the_scan,
            enumerations_hold_enqueue_done,
            stop_and_delete_are_lazy,
            worker_advertisements,
            rate_slots_are_shared_in_order,
            verdicts_once_per_object,
            connectors_crud,
            connectors_org_scoping_and_names,
            list_connectors_paging,
            connector_last_full_scan,
            triage_selection_is_atomic,
            triage_memory_carries_to_rescans,
            create_scan_appends_created_event,
            events_since_reads_every_org,
            sink_state_cursor_never_rewinds,
            dead_letters_per_org_and_sink,
            audit_appends_and_lists_per_org,
            audit_feed_reads_every_org_in_order,
            api_keys_by_prefix_and_org,
            schedules_crud_and_ticks,
            scan_trace_is_kept_from_start,
            retention_expires_ended_scans,
        );
    };
    (@each $harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                use $crate::testkit::store_suite::StoreHarness as _;
                let harness = $harness;
                let Some(fixture) = harness.fresh().await else {
                    return;
                };
                $crate::testkit::store_suite::$case(fixture.store.clone()).await;
                harness.passed(fixture).await;
            }
        )*
    };
}

// ---------------------------------------------------------------- cases

/// Another org's records are NotFound (never visible) through every org-scoped method.
pub async fn org_scoping<S: Store>(store: Arc<S>) {
    let (a, b) = (org("org-a"), org("org-b"));
    let (scan, tasks) = started(&*store, &a, config(), &["x"]).await;
    let mut r = report(&tasks[0], TaskStatus::Running);
    r.findings.push(finding("f1", Severity::High));
    store.record(vec![r]).await.unwrap();
    let f = store
        .list_findings(&a, scan, &FindingQuery::default())
        .await
        .unwrap()
        .items
        .remove(0);

    assert_not_found(store.get_scan(&b, scan).await, "get_scan");
    assert!(store
        .list_scans(&b, &ScanQuery::default())
        .await
        .unwrap()
        .items
        .is_empty());
    assert_not_found(
        store.update_scan(&b, scan, "n".into(), config()).await,
        "update_scan",
    );
    assert_not_found(store.delete_scan(&b, scan).await, "delete_scan");
    assert_not_found(store.start_scan(&b, scan, vec![]).await, "start_scan");
    assert_not_found(
        store.apply_action(&b, scan, ScanAction::Pause).await,
        "apply_action",
    );
    assert_not_found(
        store
            .list_findings(&b, scan, &FindingQuery::default())
            .await,
        "list_findings",
    );
    assert_not_found(store.get_finding(&b, f.id).await, "get_finding");
    assert_not_found(
        store.set_triage(&b, f.id, Triage::Accepted).await,
        "set_triage",
    );
    assert_not_found(
        store.select_findings(&b, scan, &[f.id], &[]).await,
        "select_findings",
    );
    assert_not_found(store.triage_counts(&b, scan, false).await, "triage_counts");
    assert_not_found(
        store.events_after(&b, Some(scan), 0, 100).await,
        "events_after(scan)",
    );
    assert!(store
        .events_after(&b, None, 0, 100)
        .await
        .unwrap()
        .is_empty());
    assert_not_found(store.list_artifacts(&b, scan).await, "list_artifacts");
    assert_not_found(store.get_artifact(&b, scan, "x.txt").await, "get_artifact");

    let t = store.create_template(template(&a, "t")).await.unwrap();
    assert_not_found(store.get_template(&b, t.id).await, "get_template");
    assert!(store
        .list_templates(&b, &TemplateQuery::default())
        .await
        .unwrap()
        .items
        .is_empty());
    assert_not_found(
        store
            .update_template(NewTemplate {
                id: t.id,
                org: b.clone(),
                ..template(&a, "t2")
            })
            .await,
        "update_template",
    );
    assert_not_found(store.delete_template(&b, t.id).await, "delete_template");

    // The owner still sees everything, untouched.
    assert_eq!(
        store.get_scan(&a, scan).await.unwrap().state,
        ScanState::Queued
    );
    assert_eq!(
        store.get_finding(&a, f.id).await.unwrap().triage,
        Triage::Open
    );
    assert_eq!(store.get_template(&a, t.id).await.unwrap().name, "t");
}

/// The lifecycle table, conflicts naming the current state, and the state events.
pub async fn lifecycle<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let scan = store.create_scan(new_scan(&o, config())).await.unwrap();
    assert_eq!(scan.state, ScanState::Created);
    assert_eq!(scan.progress, Default::default());
    assert!(scan.started_at.is_none() && scan.finished_at.is_none());
    assert_eq!(store.get_scan(&o, scan.id).await.unwrap(), scan);
    match store
        .create_scan(NewScan {
            id: scan.id,
            ..new_scan(&o, config())
        })
        .await
    {
        Err(CoreError::Conflict { .. }) => {}
        other => panic!("duplicate scan id: {other:?}"),
    }

    let mut cfg = config();
    cfg.recursion_depth = 5;
    let updated = store
        .update_scan(&o, scan.id, "renamed".into(), cfg.clone())
        .await
        .unwrap();
    assert_eq!((updated.name.as_str(), &updated.config), ("renamed", &cfg));

    for a in [ScanAction::Pause, ScanAction::Resume, ScanAction::Stop] {
        assert_conflict(
            store.apply_action(&o, scan.id, a).await,
            ScanState::Created,
            a.as_str(),
        );
    }
    let tasks = vec![task(scan.id, &o, "a"), task(scan.id, &o, "b")];
    let t = store.start_scan(&o, scan.id, tasks.clone()).await.unwrap();
    assert_eq!(t.scan.state, ScanState::Queued);
    assert_eq!(t.scan.progress.enqueued, 2);
    assert!(t.scan.progress.enqueue_done);
    assert!(t.scan.started_at.is_some());
    assert_eq!(
        state_events(&t.events),
        vec![("created".into(), "queued".into())]
    );

    assert_conflict(
        store.start_scan(&o, scan.id, tasks).await,
        ScanState::Queued,
        "start twice",
    );
    assert_conflict(
        store.update_scan(&o, scan.id, "x".into(), config()).await,
        ScanState::Queued,
        "update",
    );
    assert_conflict(
        store.delete_scan(&o, scan.id).await,
        ScanState::Queued,
        "delete queued",
    );
    assert_conflict(
        store.apply_action(&o, scan.id, ScanAction::Resume).await,
        ScanState::Queued,
        "resume",
    );

    let evs = store.mark_running(&[scan.id, ScanId::new()]).await.unwrap();
    assert_eq!(
        state_events(&evs),
        vec![("queued".into(), "running".into())]
    );
    assert!(
        store.mark_running(&[scan.id]).await.unwrap().is_empty(),
        "mark_running twice"
    );
    assert_eq!(
        store.get_scan(&o, scan.id).await.unwrap().state,
        ScanState::Running
    );

    let p = store
        .apply_action(&o, scan.id, ScanAction::Pause)
        .await
        .unwrap();
    assert_eq!(p.scan.state, ScanState::Paused);
    assert_eq!(
        state_events(&p.events),
        vec![("running".into(), "paused".into())]
    );
    assert_conflict(
        store.apply_action(&o, scan.id, ScanAction::Pause).await,
        ScanState::Paused,
        "pause twice",
    );
    let r = store
        .apply_action(&o, scan.id, ScanAction::Resume)
        .await
        .unwrap();
    assert_eq!(r.scan.state, ScanState::Running);
    let s = store
        .apply_action(&o, scan.id, ScanAction::Stop)
        .await
        .unwrap();
    assert_eq!(s.scan.state, ScanState::Cancelled);
    assert_eq!(s.scan.reason.as_deref(), Some("stopped"));
    assert!(s.scan.finished_at.is_some());
    assert_eq!(s.events[0].data.to_json()["reason"], "stopped");
    for a in [
        ScanAction::Start,
        ScanAction::Pause,
        ScanAction::Resume,
        ScanAction::Stop,
    ] {
        assert_conflict(
            store.apply_action(&o, scan.id, a).await,
            ScanState::Cancelled,
            a.as_str(),
        );
    }
    assert!(store
        .active_scans()
        .await
        .unwrap()
        .iter()
        .all(|s| s.id != scan.id));

    let all = all_events(&*store, &o, Some(scan.id)).await;
    assert_eq!(
        state_events(&all),
        vec![
            ("created".into(), "created".into()),
            ("created".into(), "queued".into()),
            ("queued".into(), "running".into()),
            ("running".into(), "paused".into()),
            ("paused".into(), "running".into()),
            ("running".into(), "cancelled".into()),
        ]
    );
    store.delete_scan(&o, scan.id).await.unwrap();
    assert_not_found(store.get_scan(&o, scan.id).await, "deleted scan");

    // A never-started scan may be deleted too.
    let fresh = store.create_scan(new_scan(&o, config())).await.unwrap();
    store.delete_scan(&o, fresh.id).await.unwrap();
    assert_not_found(store.delete_scan(&o, fresh.id).await, "delete twice");
}

/// Newest first, state filter, cursor pages without gaps or duplicates.
pub async fn list_scans_paging<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(store.create_scan(new_scan(&o, config())).await.unwrap().id);
    }
    let (started_id, _) = started(&*store, &o, config(), &["a"]).await;
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_scans(
                &o,
                &ScanQuery {
                    state: None,
                    source_scan_id: None,
                    cursor: cursor.clone(),
                    limit: 3,
                },
            )
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|s| (s.created_at, s.id)));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first");
    let queued = store
        .list_scans(
            &o,
            &ScanQuery {
                state: Some(ScanState::Queued),
                source_scan_id: None,
                cursor: None,
                limit: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        queued.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![started_id]
    );
    // Derived scans: the link is stored, read back, and filters the list (newest first).
    let mut derived = Vec::new();
    for _ in 0..2 {
        let d = store
            .create_scan(NewScan {
                source_scan_id: Some(ids[0]),
                ..new_scan(&o, config())
            })
            .await
            .unwrap();
        assert_eq!(d.source_scan_id, Some(ids[0]));
        assert_eq!(store.get_scan(&o, d.id).await.unwrap(), d);
        derived.push(d.id);
    }
    derived.reverse();
    let of_source = |org: OrgId, source: ScanId| {
        let store = store.clone();
        async move {
            store
                .list_scans(
                    &org,
                    &ScanQuery {
                        source_scan_id: Some(source),
                        ..ScanQuery::default()
                    },
                )
                .await
                .unwrap()
                .items
                .iter()
                .map(|s| s.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(of_source(o.clone(), ids[0]).await, derived);
    assert!(of_source(o.clone(), ids[1]).await.is_empty());
    assert!(
        of_source(org("other-org"), ids[0]).await.is_empty(),
        "another org sees no derived scan"
    );
    match store
        .list_scans(
            &o,
            &ScanQuery {
                state: None,
                source_scan_id: None,
                cursor: Some("garbage!".into()),
                limit: 3,
            },
        )
        .await
    {
        Err(CoreError::Invalid { .. }) => {}
        other => panic!("bad cursor: {other:?}"),
    }
}

/// Tasks dedup on (scan, scanner+target); pending tasks come out by priority; publish/finish.
pub async fn ledger_dedup_and_priority<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let scan = store.create_scan(new_scan(&o, config())).await.unwrap();
    let mut low = task(scan.id, &o, "low");
    low.priority = Priority::Low;
    let mut high = task(scan.id, &o, "high");
    high.priority = Priority::High;
    let dup = task(scan.id, &o, "low"); // same scanner + target as `low`, new id
    let mid = task(scan.id, &o, "mid");
    let t = store
        .start_scan(
            &o,
            scan.id,
            vec![low.clone(), dup, mid.clone(), high.clone()],
        )
        .await
        .unwrap();
    assert_eq!(
        t.scan.progress.enqueued, 3,
        "duplicate (scanner, target) counted once"
    );

    let pending = store.pending_tasks(10).await.unwrap();
    assert_eq!(
        pending.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![high.id, mid.id, low.id]
    );
    assert_eq!(pending[0], high, "ledger round-trips the task");
    assert_eq!(store.pending_tasks(1).await.unwrap().len(), 1);

    store.mark_published(&[high.id, mid.id]).await.unwrap();
    assert_eq!(
        store
            .pending_tasks(10)
            .await
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect::<Vec<_>>(),
        vec![low.id]
    );
    assert!(store
        .finished_tasks(&[high.id, mid.id, low.id])
        .await
        .unwrap()
        .is_empty());

    // A second scan's tasks on the same target are not deduped against the first scan.
    let (other, other_tasks) = started(&*store, &o, config(), &["low"]).await;
    assert_eq!(
        store.get_scan(&o, other).await.unwrap().progress.enqueued,
        1
    );

    store
        .record(vec![
            report(&high, TaskStatus::Done),
            report(&other_tasks[0], TaskStatus::Done),
        ])
        .await
        .unwrap();
    let fin: HashSet<TaskId> = store
        .finished_tasks(&[high.id, mid.id, other_tasks[0].id])
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(fin, HashSet::from([high.id, other_tasks[0].id]));
    // Publishing a finished task does not resurrect it.
    store.mark_published(&[high.id]).await.unwrap();
    assert_eq!(
        store.finished_tasks(&[high.id]).await.unwrap(),
        vec![high.id]
    );
}

/// Re-delivered reports never double count: Done/Failed once, findings once, spawned once.
pub async fn record_idempotent<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let (scan, tasks) = started(&*store, &o, config(), &["a", "b", "c"]).await;
    store.mark_running(&[scan]).await.unwrap();

    let mut r1 = report(&tasks[0], TaskStatus::Done);
    r1.findings = vec![
        finding("same", Severity::High),
        finding("same", Severity::High),
    ];
    // The duplicate comes last: a batch's last row is what fills out a padded statement.
    r1.spawned = vec![
        task(scan, &o, "child"),
        task(scan, &o, "other"),
        task(scan, &o, "child"),
    ];
    let out = store.record(vec![r1.clone(), r1.clone()]).await.unwrap();
    assert_eq!(out.spawned, 2);
    assert!(out.finished.is_empty());
    let finding_events = out
        .events
        .iter()
        .filter(|e| e.kind() == EventKind::Finding)
        .count();
    assert_eq!(finding_events, 1);
    assert_eq!(
        out.events
            .iter()
            .filter(|e| e.kind() == EventKind::Progress)
            .count(),
        1
    );

    // Redelivery in a later batch changes nothing and emits nothing for the scan's counters.
    let again = store.record(vec![r1.clone()]).await.unwrap();
    assert_eq!(again.spawned, 0);
    assert!(again.events.iter().all(|e| e.kind() != EventKind::Finding));

    let fail = report(
        &tasks[1],
        TaskStatus::Failed {
            error: "boom".into(),
        },
    );
    let out = store
        .record(vec![fail.clone(), fail.clone()])
        .await
        .unwrap();
    let failed: Vec<&Event> = out
        .events
        .iter()
        .filter(|e| e.kind() == EventKind::TaskFailed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].data.to_json()["error"], "boom");
    assert_eq!(failed[0].data.to_json()["task_id"], tasks[1].id.to_string());
    store
        .record(vec![fail, report(&tasks[1], TaskStatus::Done)])
        .await
        .unwrap();

    // Reports about tasks the ledger does not know are not counted.
    let stranger = task(scan, &o, "stranger");
    store
        .record(vec![report(&stranger, TaskStatus::Done)])
        .await
        .unwrap();

    let s = store.get_scan(&o, scan).await.unwrap();
    assert_eq!(
        (
            s.progress.enqueued,
            s.progress.done,
            s.progress.failed,
            s.progress.findings
        ),
        (5, 1, 1, 1)
    );
    assert_eq!(s.state, ScanState::Running);
    let page = store
        .list_findings(&o, scan, &FindingQuery::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let f = &page.items[0];
    assert_eq!(
        (f.scanner.as_str(), f.task_id, f.severity),
        ("noop", Some(tasks[0].id), Severity::High)
    );
    assert_eq!(f.data, serde_json::json!({ "key": "same" }));
    assert_eq!(store.get_finding(&o, f.id).await.unwrap(), *f);

    // The finding event carries the stored finding.
    let evs = all_events(&*store, &o, Some(scan)).await;
    let fe = evs.iter().find(|e| e.kind() == EventKind::Finding).unwrap();
    assert_eq!(fe.data.to_json(), serde_json::to_value(f).unwrap());
    let pe = evs
        .iter()
        .rev()
        .find(|e| e.kind() == EventKind::Progress)
        .unwrap();
    assert_eq!(
        pe.data.to_json(),
        serde_json::to_value(&s.progress).unwrap()
    );

    // The spawned task reaches the ledger as pending, once.
    let pending = store.pending_tasks(100).await.unwrap();
    assert_eq!(
        pending
            .iter()
            .filter(|t| t.target == domain("child"))
            .count(),
        1
    );
}

/// A scan completes exactly when enqueue_done and done + failed == enqueued.
pub async fn completion_rule<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let (scan, tasks) = started(&*store, &o, config(), &["a", "b"]).await;
    store.mark_running(&[scan]).await.unwrap();
    let out = store
        .record(vec![report(&tasks[0], TaskStatus::Done)])
        .await
        .unwrap();
    assert!(out.finished.is_empty());

    let mut r = report(&tasks[1], TaskStatus::Failed { error: "x".into() });
    let child = task(scan, &o, "child");
    r.spawned = vec![child.clone()];
    let out = store.record(vec![r]).await.unwrap();
    assert!(
        out.finished.is_empty(),
        "a spawned task keeps the scan open"
    );
    assert_eq!(
        store.get_scan(&o, scan).await.unwrap().state,
        ScanState::Running
    );

    let out = store
        .record(vec![report(&child, TaskStatus::Done)])
        .await
        .unwrap();
    assert_eq!(out.finished, vec![(scan, ScanState::Completed, None)]);
    assert_eq!(
        state_events(&out.events),
        vec![("running".into(), "completed".into())]
    );
    let s = store.get_scan(&o, scan).await.unwrap();
    assert_eq!(s.state, ScanState::Completed);
    assert!(s.finished_at.is_some());
    assert!(s.progress.is_complete());
    assert_eq!(
        (s.progress.enqueued, s.progress.done, s.progress.failed),
        (3, 2, 1)
    );

    // A late duplicate does not finish it again.
    let out = store
        .record(vec![report(&child, TaskStatus::Done)])
        .await
        .unwrap();
    assert!(out.finished.is_empty());
    assert!(state_events(&out.events).is_empty());
}

/// Starting with no tasks (or only duplicates of nothing) completes at once.
pub async fn start_without_tasks_completes<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let scan = store.create_scan(new_scan(&o, config())).await.unwrap();
    let t = store.start_scan(&o, scan.id, vec![]).await.unwrap();
    assert_eq!(t.scan.state, ScanState::Completed);
    assert_eq!(
        state_events(&t.events),
        vec![
            ("created".into(), "queued".into()),
            ("queued".into(), "completed".into())
        ]
    );
    assert!(t.events.windows(2).all(|w| w[0].id < w[1].id));
}

/// Reaching `max_results` completes the scan with that reason and stops enqueuing.
pub async fn max_results_completes<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let mut cfg = config();
    cfg.max_results = Some(2);
    let (scan, tasks) = started(&*store, &o, cfg, &["a", "b", "c"]).await;
    store.mark_running(&[scan]).await.unwrap();
    let mut r = report(&tasks[0], TaskStatus::Running);
    r.findings = vec![finding("one", Severity::Low)];
    assert!(store.record(vec![r]).await.unwrap().finished.is_empty());

    let mut r = report(&tasks[0], TaskStatus::Done);
    r.findings = vec![finding("two", Severity::Low)];
    r.spawned = vec![task(scan, &o, "child")];
    let out = store.record(vec![r]).await.unwrap();
    assert_eq!(
        out.finished,
        vec![(scan, ScanState::Completed, Some("max_results".to_owned()))]
    );
    assert_eq!(out.spawned, 0, "no enqueuing past max_results");
    let s = store.get_scan(&o, scan).await.unwrap();
    assert_eq!(s.state, ScanState::Completed);
    assert_eq!(s.reason.as_deref(), Some("max_results"));
    assert_eq!((s.progress.enqueued, s.progress.findings), (3, 2));
    let state_ev = out
        .events
        .iter()
        .find(|e| e.kind() == EventKind::State)
        .unwrap();
    assert_eq!(state_ev.data.to_json()["reason"], "max_results");
    assert!(store
        .pending_tasks(100)
        .await
        .unwrap()
        .iter()
        .all(|t| t.scan_id != scan));
    let fin = store
        .finished_tasks(&[tasks[1].id, tasks[2].id])
        .await
        .unwrap();
    assert_eq!(fin.len(), 2, "pending tasks of the ended scan are dropped");

    // Results are frozen once the scan ended.
    let mut late = report(&tasks[1], TaskStatus::Done);
    late.findings = vec![finding("three", Severity::Low)];
    let out = store.record(vec![late]).await.unwrap();
    assert!(out.finished.is_empty());
    assert_eq!(store.get_scan(&o, scan).await.unwrap().progress.findings, 2);
}

/// Parked tasks are not counted and go back to pending on resume.
pub async fn parked_and_resume<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let (scan, tasks) = started(&*store, &o, config(), &["a", "b", "c"]).await;
    store.mark_running(&[scan]).await.unwrap();
    store
        .mark_published(&[tasks[0].id, tasks[1].id])
        .await
        .unwrap();
    store
        .apply_action(&o, scan, ScanAction::Pause)
        .await
        .unwrap();
    assert!(
        store
            .pending_tasks(100)
            .await
            .unwrap()
            .iter()
            .all(|t| t.scan_id != scan),
        "nothing of a paused scan is handed to the queue"
    );
    // A worker sees the pause and parks a delivered task; a running one finishes.
    let out = store
        .record(vec![
            report(&tasks[0], TaskStatus::Parked),
            report(&tasks[1], TaskStatus::Done),
        ])
        .await
        .unwrap();
    assert!(out.finished.is_empty());
    let s = store.get_scan(&o, scan).await.unwrap();
    assert_eq!(
        (s.state, s.progress.done, s.progress.failed),
        (ScanState::Paused, 1, 0)
    );
    assert!(
        store
            .finished_tasks(&[tasks[0].id])
            .await
            .unwrap()
            .is_empty(),
        "parked is not terminal"
    );

    store
        .apply_action(&o, scan, ScanAction::Resume)
        .await
        .unwrap();
    let pending: HashSet<TaskId> = store
        .pending_tasks(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.scan_id == scan)
        .map(|t| t.id)
        .collect();
    assert_eq!(pending, HashSet::from([tasks[0].id, tasks[2].id]));
    let out = store
        .record(vec![
            report(&tasks[0], TaskStatus::Done),
            report(&tasks[2], TaskStatus::Done),
        ])
        .await
        .unwrap();
    assert_eq!(out.finished, vec![(scan, ScanState::Completed, None)]);
}

/// Stop drops pending, parked and published tasks; late reports are not counted.
pub async fn stop_drops_tasks<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let (scan, tasks) = started(&*store, &o, config(), &["a", "b", "c"]).await;
    store.mark_published(&[tasks[0].id]).await.unwrap();
    store
        .apply_action(&o, scan, ScanAction::Stop)
        .await
        .unwrap();
    assert!(store
        .pending_tasks(100)
        .await
        .unwrap()
        .iter()
        .all(|t| t.scan_id != scan));
    let ids: Vec<TaskId> = tasks.iter().map(|t| t.id).collect();
    assert_eq!(store.finished_tasks(&ids).await.unwrap().len(), 3);
    let mut late = report(&tasks[0], TaskStatus::Done);
    late.findings = vec![finding("late", Severity::Critical)];
    late.spawned = vec![task(scan, &o, "child")];
    let out = store
        .record(vec![late, report(&tasks[1], TaskStatus::Dropped)])
        .await
        .unwrap();
    assert!(out.finished.is_empty());
    assert_eq!(out.spawned, 0);
    let s = store.get_scan(&o, scan).await.unwrap();
    assert_eq!(s.state, ScanState::Cancelled);
    assert_eq!(
        (s.progress.done, s.progress.findings, s.progress.enqueued),
        (0, 0, 3)
    );
}

/// A forced stop ends a scan in any state that has not ended, `created` included, with reason
/// `force_stopped`; late reports of its tasks are not counted; an ended scan is a conflict.
pub async fn force_stop_ends_any_unended_scan<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let fresh = store.create_scan(new_scan(&o, config())).await.unwrap();
    assert_conflict(
        store.apply_action(&o, fresh.id, ScanAction::Stop).await,
        ScanState::Created,
        "a plain stop of a created scan",
    );
    let t = store
        .apply_action(&o, fresh.id, ScanAction::ForceStop)
        .await
        .unwrap();
    assert_eq!(t.scan.state, ScanState::Cancelled);
    assert_eq!(t.scan.reason.as_deref(), Some(crate::scan::FORCE_STOPPED));
    assert!(t.scan.finished_at.is_some());
    assert_eq!(
        t.events.iter().map(|e| e.data.clone()).collect::<Vec<_>>(),
        vec![EventData::State {
            from: ScanState::Created,
            to: ScanState::Cancelled,
            reason: Some(crate::scan::FORCE_STOPPED.into()),
        }]
    );

    for pause_first in [false, true] {
        let (scan, tasks) = started(&*store, &o, config(), &["a", "b"]).await;
        store.mark_published(&[tasks[0].id]).await.unwrap();
        if pause_first {
            store
                .apply_action(&o, scan, ScanAction::Pause)
                .await
                .unwrap();
        }
        let t = store
            .apply_action(&o, scan, ScanAction::ForceStop)
            .await
            .unwrap();
        assert_eq!(t.scan.state, ScanState::Cancelled);
        assert_eq!(t.scan.reason.as_deref(), Some(crate::scan::FORCE_STOPPED));
        // What a worker that was gone reports afterwards changes nothing.
        let mut late = report(&tasks[0], TaskStatus::Done);
        late.findings = vec![finding("late", Severity::High)];
        let out = store.record(vec![late]).await.unwrap();
        assert!(out.finished.is_empty());
        let s = store.get_scan(&o, scan).await.unwrap();
        assert_eq!(s.state, ScanState::Cancelled);
        assert_eq!((s.progress.done, s.progress.findings), (0, 0));
        assert!(store
            .pending_tasks(100)
            .await
            .unwrap()
            .iter()
            .all(|t| t.scan_id != scan));
        assert_conflict(
            store.apply_action(&o, scan, ScanAction::ForceStop).await,
            ScanState::Cancelled,
            "a forced stop of an ended scan",
        );
    }
}

/// Calls `check_stuck(after)` until it returns events (the store's clock must pass `after`);
/// fails after 10 s.
async fn stuck_events<S: Store>(store: &S, after: std::time::Duration) -> Vec<Event> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let evs = store.check_stuck(after).await.unwrap();
        if !evs.is_empty() {
            return evs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scan was flagged stuck"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// `check_stuck`: a queued or running scan without progress is flagged once per stuck period
/// (`stuck_since`, a reason, one `stuck` event) without moving `updated_at`; progress or a
/// state change clears the flag with one `unstuck` event; paused and created scans are never
/// stuck.
pub async fn stuck_flag_once_per_period<S: Store>(store: Arc<S>) {
    use std::time::Duration;
    let o = org("org-a");
    let (scan, tasks) = started(&*store, &o, config(), &["a", "b", "c"]).await;
    let (paused, _) = started(&*store, &o, config(), &["p"]).await;
    store
        .apply_action(&o, paused, ScanAction::Pause)
        .await
        .unwrap();
    let created = store.create_scan(new_scan(&o, config())).await.unwrap();
    let hour = Duration::from_secs(3600);
    assert!(store.check_stuck(hour).await.unwrap().is_empty());
    let before = store.get_scan(&o, scan).await.unwrap();

    // Flagged once, by its last progress time, with a reason; updated_at stays.
    let evs = stuck_events(&*store, Duration::from_millis(1)).await;
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(evs[0].scan_id, scan);
    assert_eq!(evs[0].org_id, o);
    assert_eq!(
        evs[0].data,
        EventData::Stuck {
            since: before.updated_at
        }
    );
    let s = store.get_scan(&o, scan).await.unwrap();
    assert_eq!(s.stuck_since, Some(before.updated_at));
    assert_eq!(s.updated_at, before.updated_at);
    assert_eq!(
        s.reason.as_deref(),
        Some(crate::scan::stuck_reason(before.updated_at).as_str())
    );
    assert!(s
        .reason
        .unwrap()
        .starts_with(crate::scan::STUCK_REASON_PREFIX));
    assert!(store
        .check_stuck(Duration::from_millis(1))
        .await
        .unwrap()
        .is_empty());
    for other in [paused, created.id] {
        assert_eq!(store.get_scan(&o, other).await.unwrap().stuck_since, None);
    }
    let replay = all_events(&*store, &o, Some(scan)).await;
    assert_eq!(
        replay
            .iter()
            .filter(|e| e.kind() == EventKind::Stuck)
            .collect::<Vec<_>>(),
        vec![&evs[0]]
    );

    // A task finishes: the flag and its reason go, with one unstuck event.
    store
        .record(vec![report(&tasks[0], TaskStatus::Done)])
        .await
        .unwrap();
    let evs = store.check_stuck(hour).await.unwrap();
    assert_eq!(
        evs.iter()
            .map(|e| (e.scan_id, e.data.clone()))
            .collect::<Vec<_>>(),
        vec![(
            scan,
            EventData::Unstuck {
                since: before.updated_at
            }
        )]
    );
    let moved = store.get_scan(&o, scan).await.unwrap();
    assert_eq!((moved.stuck_since, moved.reason.as_deref()), (None, None));
    assert!(moved.updated_at > before.updated_at);
    assert!(store.check_stuck(hour).await.unwrap().is_empty());

    // A new stuck period, from the new progress time; a stop ends it and keeps its reason.
    let evs = stuck_events(&*store, Duration::from_millis(1)).await;
    assert_eq!(
        evs.iter()
            .map(|e| (e.scan_id, e.data.clone()))
            .collect::<Vec<_>>(),
        vec![(
            scan,
            EventData::Stuck {
                since: moved.updated_at
            }
        )]
    );
    store
        .apply_action(&o, scan, ScanAction::Stop)
        .await
        .unwrap();
    let evs = store.check_stuck(hour).await.unwrap();
    assert_eq!(
        evs.iter()
            .map(|e| (e.scan_id, e.data.clone()))
            .collect::<Vec<_>>(),
        vec![(
            scan,
            EventData::Unstuck {
                since: moved.updated_at
            }
        )]
    );
    let stopped = store.get_scan(&o, scan).await.unwrap();
    assert_eq!(stopped.stuck_since, None);
    assert_eq!(stopped.reason.as_deref(), Some("stopped"));
    assert!(store
        .check_stuck(Duration::from_millis(1))
        .await
        .unwrap()
        .is_empty());
}

/// finish_scan ends live scans only, drops their waiting tasks, and refuses other target states.
pub async fn finish_scan_rules<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let (scan, tasks) = started(&*store, &o, config(), &["a", "b"]).await;
    store.mark_running(&[scan]).await.unwrap();
    match store.finish_scan(scan, ScanState::Cancelled, "x").await {
        Err(CoreError::Invalid { .. }) => {}
        other => panic!("finish as cancelled: {other:?}"),
    }
    let t = store
        .finish_scan(scan, ScanState::Failed, "max_duration")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.scan.state, ScanState::Failed);
    assert_eq!(t.scan.reason.as_deref(), Some("max_duration"));
    assert!(t.scan.finished_at.is_some());
    assert_eq!(
        state_events(&t.events),
        vec![("running".into(), "failed".into())]
    );
    assert_eq!(t.events[0].data.to_json()["reason"], "max_duration");
    assert!(store
        .finish_scan(scan, ScanState::Completed, "again")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .finished_tasks(&[tasks[0].id, tasks[1].id])
            .await
            .unwrap()
            .len(),
        2
    );
    assert_not_found(
        store
            .finish_scan(ScanId::new(), ScanState::Failed, "x")
            .await,
        "unknown scan",
    );
    let created = store.create_scan(new_scan(&o, config())).await.unwrap();
    assert!(store
        .finish_scan(created.id, ScanState::Failed, "x")
        .await
        .unwrap()
        .is_none());
    assert!(store.scans_by_ids(&[scan, created.id]).await.unwrap().len() == 2);
}

/// Event ids increase store-wide; `events_after` replays exactly the later ones.
pub async fn events_monotonic_and_replay<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let (s1, t1) = started(&*store, &o, config(), &["a", "b"]).await;
    let (s2, t2) = started(&*store, &o, config(), &["a"]).await;
    let mut returned = Vec::new();
    returned.extend(store.mark_running(&[s1, s2]).await.unwrap());
    let mut r = report(&t1[0], TaskStatus::Done);
    r.findings = vec![finding("f", Severity::Low)];
    returned.extend(
        store
            .record(vec![r, report(&t2[0], TaskStatus::Done)])
            .await
            .unwrap()
            .events,
    );
    returned.extend(
        store
            .record(vec![report(
                &t1[1],
                TaskStatus::Failed { error: "e".into() },
            )])
            .await
            .unwrap()
            .events,
    );
    assert!(
        returned.windows(2).all(|w| w[0].id < w[1].id),
        "returned events in id order"
    );

    let all = all_events(&*store, &o, None).await;
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    for e in &returned {
        assert_eq!(
            all.iter().find(|x| x.id == e.id),
            Some(e),
            "replayed event equals returned event"
        );
    }
    let kinds: HashSet<EventKind> = all.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        HashSet::from([
            EventKind::State,
            EventKind::Progress,
            EventKind::Finding,
            EventKind::TaskFailed
        ])
    );

    let only1 = all_events(&*store, &o, Some(s1)).await;
    assert!(!only1.is_empty() && only1.iter().all(|e| e.scan_id == s1));
    assert_eq!(
        only1.len() + all.iter().filter(|e| e.scan_id == s2).count(),
        all.len()
    );

    let mid = all[all.len() / 2].id;
    let rest = store.events_after(&o, None, mid, 1000).await.unwrap();
    assert_eq!(
        rest,
        all.iter()
            .filter(|e| e.id > mid)
            .cloned()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        store.events_after(&o, None, 0, 2).await.unwrap(),
        all[..2].to_vec()
    );
    assert!(store
        .events_after(&o, None, all.last().unwrap().id, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Filters, the three sorts and cursor pagination without gaps or duplicates.
pub async fn finding_filters_sort_pagination<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let (scan, tasks) = started(&*store, &o, config(), &["a"]).await;
    let sev = |i: usize| Severity::ALL[i % 5];
    for batch in 0..5 {
        let mut r = report(&tasks[0], TaskStatus::Running);
        r.scanner = if batch % 2 == 0 {
            "even".into()
        } else {
            "odd".into()
        };
        for i in 0..5 {
            let n = batch * 5 + i;
            let mut f = finding(&format!("f{n}"), sev(n * 3));
            if n % 4 == 0 {
                f.kind = "other.kind".into();
            }
            r.findings.push(f);
        }
        store.record(vec![r]).await.unwrap();
    }
    let all = store
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
    assert_eq!(all.items.len(), 25);
    assert!(all.next_cursor.is_none());

    let collect = |q: FindingQuery| {
        let store = store.clone();
        let o = o.clone();
        async move {
            let mut out = Vec::new();
            let mut q = q;
            loop {
                let page = store.list_findings(&o, scan, &q).await.unwrap();
                assert!(page.items.len() <= q.limit as usize);
                out.extend(page.items);
                match page.next_cursor {
                    Some(c) => q.cursor = Some(c),
                    None => return out,
                }
            }
        }
    };
    let key = |f: &crate::finding::Finding| (f.created_at, f.id);

    let mut expected = all.items.clone();
    expected.sort_by_key(key);
    let got = collect(FindingQuery {
        sort: FindingSort::Created,
        limit: 7,
        ..Default::default()
    })
    .await;
    assert_eq!(
        got.iter().map(|f| f.id).collect::<Vec<_>>(),
        expected.iter().map(|f| f.id).collect::<Vec<_>>()
    );

    expected.reverse();
    let got = collect(FindingQuery {
        sort: FindingSort::CreatedDesc,
        limit: 4,
        ..Default::default()
    })
    .await;
    assert_eq!(
        got.iter().map(|f| f.id).collect::<Vec<_>>(),
        expected.iter().map(|f| f.id).collect::<Vec<_>>()
    );

    let mut by_sev = all.items.clone();
    by_sev.sort_by(|a, b| b.severity.cmp(&a.severity).then(key(a).cmp(&key(b))));
    let got = collect(FindingQuery {
        sort: FindingSort::Severity,
        limit: 3,
        ..Default::default()
    })
    .await;
    assert_eq!(
        got.iter().map(|f| f.id).collect::<Vec<_>>(),
        by_sev.iter().map(|f| f.id).collect::<Vec<_>>()
    );

    // Filters (combined with paging).
    let count = |pred: &dyn Fn(&crate::finding::Finding) -> bool| {
        all.items.iter().filter(|f| pred(f)).count()
    };
    let got = collect(FindingQuery {
        kind: Some("other.kind".into()),
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(got.len(), count(&|f| f.kind == "other.kind"));
    assert!(got.iter().all(|f| f.kind == "other.kind") && !got.is_empty());
    let got = collect(FindingQuery {
        severity: Some(Severity::High),
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(got.len(), count(&|f| f.severity == Severity::High));
    let got = collect(FindingQuery {
        min_severity: Some(Severity::Medium),
        sort: FindingSort::Severity,
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(got.len(), count(&|f| f.severity >= Severity::Medium));
    assert!(got.iter().all(|f| f.severity >= Severity::Medium));
    let got = collect(FindingQuery {
        scanner: Some("odd".into()),
        limit: 100,
        ..Default::default()
    })
    .await;
    assert_eq!(got.len(), 10);

    let chosen = &all.items[3];
    let updated = store
        .set_triage(&o, chosen.id, Triage::FalsePositive)
        .await
        .unwrap();
    assert_eq!(updated.triage, Triage::FalsePositive);
    assert!(updated.updated_at >= chosen.updated_at);
    let got = collect(FindingQuery {
        triage: Some(Triage::FalsePositive),
        limit: 5,
        ..Default::default()
    })
    .await;
    assert_eq!(
        got.iter().map(|f| f.id).collect::<Vec<_>>(),
        vec![chosen.id]
    );
    assert_eq!(
        collect(FindingQuery {
            triage: Some(Triage::Open),
            limit: 5,
            ..Default::default()
        })
        .await
        .len(),
        24
    );

    // Limit 0 means the default; a cursor from another sort or garbage is Invalid.
    assert_eq!(
        store
            .list_findings(&o, scan, &FindingQuery::default())
            .await
            .unwrap()
            .items
            .len(),
        25
    );
    let first = store
        .list_findings(
            &o,
            scan,
            &FindingQuery {
                limit: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let wrong_sort = FindingQuery {
        sort: FindingSort::Severity,
        cursor: first.next_cursor,
        limit: 2,
        ..Default::default()
    };
    match store.list_findings(&o, scan, &wrong_sort).await {
        Err(CoreError::Invalid { .. }) => {}
        other => panic!("cursor of another sort: {other:?}"),
    }
    let garbage = FindingQuery {
        cursor: Some("%%%".into()),
        ..Default::default()
    };
    match store.list_findings(&o, scan, &garbage).await {
        Err(CoreError::Invalid { .. }) => {}
        other => panic!("garbage cursor: {other:?}"),
    }
    assert_not_found(
        store
            .list_findings(&o, ScanId::new(), &FindingQuery::default())
            .await,
        "unknown scan",
    );
}

fn template(o: &OrgId, name: &str) -> NewTemplate {
    NewTemplate {
        id: TemplateId::new(),
        org: o.clone(),
        user: user(),
        name: name.into(),
        description: Some("d".into()),
        config: config(),
    }
}

/// Templates: create, get, list by name, update, delete.
pub async fn templates_crud<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let b = store.create_template(template(&o, "beta")).await.unwrap();
    let a = store.create_template(template(&o, "alpha")).await.unwrap();
    assert_eq!(
        (b.name.as_str(), b.description.as_deref(), &b.config),
        ("beta", Some("d"), &config())
    );
    assert_eq!(store.get_template(&o, a.id).await.unwrap(), a);
    let names: Vec<String> = store
        .list_templates(&o, &TemplateQuery::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, vec!["alpha", "beta"]);
    match store
        .create_template(NewTemplate {
            id: a.id,
            ..template(&o, "dup")
        })
        .await
    {
        Err(CoreError::Conflict { .. }) => {}
        other => panic!("duplicate template id: {other:?}"),
    }

    let mut cfg = config();
    cfg.max_results = Some(9);
    let u = store
        .update_template(NewTemplate {
            id: a.id,
            name: "gamma".into(),
            description: None,
            config: cfg.clone(),
            ..template(&o, "")
        })
        .await
        .unwrap();
    assert_eq!(
        (
            u.name.as_str(),
            u.description.as_deref(),
            &u.config,
            u.created_at
        ),
        ("gamma", None, &cfg, a.created_at)
    );
    assert_eq!(store.get_template(&o, a.id).await.unwrap(), u);
    assert_not_found(
        store.update_template(template(&o, "missing")).await,
        "update missing",
    );

    store.delete_template(&o, a.id).await.unwrap();
    assert_not_found(store.get_template(&o, a.id).await, "deleted template");
    assert_not_found(store.delete_template(&o, a.id).await, "delete twice");
    let left = store
        .list_templates(&o, &TemplateQuery::default())
        .await
        .unwrap();
    assert_eq!((left.items.len(), left.next_cursor), (1, None));
}

/// Template lists page by name then id: every template exactly once across pages (equal names
/// included), `next_cursor` only while more follow, and a foreign cursor is `Invalid`.
pub async fn list_templates_paging<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let other = org("org-b");
    let mut want = Vec::new();
    // Names out of order, three of them equal (the id breaks the tie).
    for name in ["m", "b", "same", "z", "same", "a", "same"] {
        let t = store.create_template(template(&o, name)).await.unwrap();
        want.push((t.name.clone(), t.id.to_string()));
    }
    store
        .create_template(template(&other, "aaa"))
        .await
        .unwrap();
    want.sort();
    for limit in [1u32, 2, 3, 7, 100] {
        let mut got = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = store
                .list_templates(
                    &o,
                    &TemplateQuery {
                        cursor: cursor.clone(),
                        limit,
                    },
                )
                .await
                .unwrap();
            pages += 1;
            assert!(page.items.len() <= limit as usize, "limit {limit}");
            got.extend(
                page.items
                    .iter()
                    .map(|t| (t.name.clone(), t.id.to_string())),
            );
            match page.next_cursor {
                Some(c) => {
                    assert_eq!(page.items.len(), limit as usize, "short page with a cursor");
                    cursor = Some(c);
                }
                None => break,
            }
            assert!(pages <= 10, "paging does not end (limit {limit})");
        }
        assert_eq!(got, want, "limit {limit}");
        assert_eq!(
            pages,
            want.len().div_ceil(limit as usize).max(1),
            "limit {limit}"
        );
    }
    // A scan-list cursor (or garbage) is not a template cursor.
    for _ in 0..2 {
        store.create_scan(new_scan(&o, config())).await.unwrap();
    }
    let scan_cursor = store
        .list_scans(
            &o,
            &ScanQuery {
                limit: 1,
                ..ScanQuery::default()
            },
        )
        .await
        .unwrap()
        .next_cursor
        .unwrap();
    for bad in [scan_cursor, "%%%".to_owned(), "e30".to_owned()] {
        match store
            .list_templates(
                &o,
                &TemplateQuery {
                    cursor: Some(bad.clone()),
                    limit: 2,
                },
            )
            .await
        {
            Err(CoreError::Invalid { path, .. }) => assert_eq!(path, "/cursor"),
            other => panic!("cursor {bad:?}: {other:?}"),
        }
    }
}

fn meta(scan: ScanId, o: &OrgId, name: &str, size: u64) -> ArtifactMeta {
    ArtifactMeta {
        scan_id: scan,
        org_id: o.clone(),
        name: ArtifactName::parse(name).unwrap(),
        size,
        content_type: "text/plain".into(),
        created_at: chrono::DateTime::from_timestamp_millis(crate::now_ms()).unwrap(),
    }
}

/// Artifact metadata: put (replace), list by name, get, NotFound; also via `record`.
pub async fn artifacts_metadata<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let (scan, tasks) = started(&*store, &o, config(), &["a"]).await;
    store
        .put_artifact(meta(scan, &o, "tool/out.jsonl", 10))
        .await
        .unwrap();
    store
        .put_artifact(meta(scan, &o, "b.txt", 5))
        .await
        .unwrap();
    let replaced = meta(scan, &o, "tool/out.jsonl", 99);
    store.put_artifact(replaced.clone()).await.unwrap();
    let mut r = report(&tasks[0], TaskStatus::Done);
    r.artifacts = vec![meta(scan, &o, "a.txt", 3)];
    store.record(vec![r]).await.unwrap();

    let list = store.list_artifacts(&o, scan).await.unwrap();
    let names: Vec<&str> = list.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, vec!["a.txt", "b.txt", "tool/out.jsonl"]);
    assert_eq!(
        store
            .get_artifact(&o, scan, "tool/out.jsonl")
            .await
            .unwrap(),
        replaced
    );
    assert_not_found(
        store.get_artifact(&o, scan, "nope.txt").await,
        "missing artifact",
    );
    assert_not_found(
        store
            .put_artifact(meta(ScanId::new(), &o, "x.txt", 1))
            .await,
        "artifact of unknown scan",
    );
}

/// Deleting a finished scan removes its ledger rows, findings, events and artifact records.
pub async fn delete_cascades<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let (keep, keep_tasks) = started(&*store, &o, config(), &["a"]).await;
    let (scan, tasks) = started(&*store, &o, config(), &["a", "b"]).await;
    let mut r = report(&tasks[0], TaskStatus::Done);
    r.findings = vec![finding("f", Severity::High)];
    r.artifacts = vec![meta(scan, &o, "out.txt", 1)];
    let mut k = report(&keep_tasks[0], TaskStatus::Running);
    k.findings = vec![finding("f", Severity::High)];
    store.record(vec![r, k]).await.unwrap();
    let f = store
        .list_findings(&o, scan, &FindingQuery::default())
        .await
        .unwrap()
        .items
        .remove(0);
    store
        .apply_action(&o, scan, ScanAction::Stop)
        .await
        .unwrap();
    store.delete_scan(&o, scan).await.unwrap();

    assert_not_found(store.get_scan(&o, scan).await, "scan");
    assert_not_found(store.get_finding(&o, f.id).await, "finding");
    assert_not_found(store.list_artifacts(&o, scan).await, "artifacts");
    assert!(
        store
            .finished_tasks(&[tasks[0].id, tasks[1].id])
            .await
            .unwrap()
            .is_empty(),
        "ledger rows gone"
    );
    let evs = all_events(&*store, &o, None).await;
    assert!(!evs.is_empty() && evs.iter().all(|e| e.scan_id == keep));
    assert!(store
        .pending_tasks(100)
        .await
        .unwrap()
        .iter()
        .all(|t| t.scan_id == keep));
    // The other scan is untouched, including its finding with the same fingerprint.
    assert_eq!(
        store
            .list_findings(&o, keep, &FindingQuery::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(store.get_scan(&o, keep).await.unwrap().progress.enqueued, 1);
}

/// Several writers deliver overlapping reports (every task twice, shared fingerprints):
/// counters end exact and the scan completes exactly once.
pub async fn concurrent_records_exact<S: Store>(store: Arc<S>) {
    const TASKS: usize = 200;
    const WRITERS: usize = 4;
    let o = org("org-a");
    let names: Vec<String> = (0..TASKS).map(|i| format!("t{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (scan, tasks) = started(&*store, &o, config(), &refs).await;
    store.mark_running(&[scan]).await.unwrap();
    let tasks = Arc::new(tasks);

    let mut handles = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        let tasks = tasks.clone();
        handles.push(tokio::spawn(async move {
            // Writer w handles tasks i with i % WRITERS in {w, w+1}: each task twice overall.
            let mine: Vec<&Task> = tasks
                .iter()
                .enumerate()
                .filter(|(i, _)| i % WRITERS == w || i % WRITERS == (w + 1) % WRITERS)
                .map(|(_, t)| t)
                .collect();
            let mut finished = Vec::new();
            for chunk in mine.chunks(16) {
                let reports = chunk
                    .iter()
                    .map(|t| {
                        let mut r = report(t, TaskStatus::Done);
                        // 50 distinct fingerprints across 200 tasks.
                        let idx: usize = t
                            .target
                            .value()
                            .trim_start_matches('t')
                            .split('.')
                            .next()
                            .unwrap()
                            .parse()
                            .unwrap();
                        r.findings = vec![finding(&format!("fp{}", idx % 50), Severity::Medium)];
                        r
                    })
                    .collect();
                finished.extend(store.record(reports).await.unwrap().finished);
            }
            finished
        }));
    }
    let mut finished = Vec::new();
    for h in handles {
        finished.extend(h.await.unwrap());
    }
    assert_eq!(
        finished,
        vec![(scan, ScanState::Completed, None)],
        "completed exactly once"
    );
    let s = store.get_scan(&o, scan).await.unwrap();
    assert_eq!(s.state, ScanState::Completed);
    assert_eq!(
        (
            s.progress.enqueued,
            s.progress.done,
            s.progress.failed,
            s.progress.findings
        ),
        (TASKS as u64, TASKS as u64, 0, 50)
    );
    let stored = store
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
    assert_eq!(stored.items.len(), 50);
    let finding_events = all_events(&*store, &o, Some(scan))
        .await
        .into_iter()
        .filter(|e| e.kind() == EventKind::Finding)
        .count();
    assert_eq!(finding_events, 50);
}

/// One holder per role: a second holder is refused while the lease lives, takes over after it
/// expires or is resigned, and the old holder is then refused; roles are independent.
pub async fn leadership_lease<S: Store>(store: Arc<S>) {
    use std::time::Duration;
    let long = Duration::from_secs(60);
    assert!(
        store.try_lead("scheduler", "a", long).await.unwrap(),
        "first holder"
    );
    assert!(
        store.try_lead("scheduler", "a", long).await.unwrap(),
        "renewal"
    );
    assert!(
        !store.try_lead("scheduler", "b", long).await.unwrap(),
        "second holder refused"
    );
    assert!(
        store.try_lead("other-role", "b", long).await.unwrap(),
        "roles are independent"
    );
    store.resign("scheduler", "b").await.unwrap(); // not the holder: no effect
    assert!(
        !store.try_lead("scheduler", "b", long).await.unwrap(),
        "resign by non-holder"
    );
    store.resign("scheduler", "a").await.unwrap();
    assert!(
        store
            .try_lead("scheduler", "b", Duration::from_millis(200))
            .await
            .unwrap(),
        "after resign"
    );
    assert!(
        !store.try_lead("scheduler", "a", long).await.unwrap(),
        "old holder refused"
    );
    // Expiry: poll with a deadline until `a` takes over from the short lease of `b`.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if store.try_lead("scheduler", "a", long).await.unwrap() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expired lease never taken over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !store.try_lead("scheduler", "b", long).await.unwrap(),
        "b lost the role"
    );
}

/// A scan whose tasks ask for more tasks than `max_tasks` leaves room for fails with reason
/// `max_tasks`, keeping what fits; a later report adds nothing.
pub async fn max_tasks_fails_the_scan<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let mut cfg = config();
    cfg.max_tasks = Some(4);
    let (scan, tasks) = started(&*store, &o, cfg, &["root", "other"]).await;
    store.mark_running(&[scan]).await.unwrap();
    // Two more fit (2 + 2 = 4).
    let mut r = report(&tasks[0], TaskStatus::Running);
    r.spawned = vec![task(scan, &o, "c1"), task(scan, &o, "c2")];
    let out = store.record(vec![r]).await.unwrap();
    assert_eq!(out.spawned, 2);
    assert!(out.finished.is_empty());
    // One more does not.
    let mut r = report(&tasks[0], TaskStatus::Running);
    r.spawned = vec![task(scan, &o, "c3")];
    let out = store.record(vec![r]).await.unwrap();
    assert_eq!(out.spawned, 0);
    assert_eq!(out.finished.len(), 1, "{:?}", out.finished);
    let (id, state, reason) = &out.finished[0];
    assert_eq!((*id, *state), (scan, ScanState::Failed));
    assert!(
        reason.as_deref().unwrap().starts_with("max_tasks"),
        "{reason:?}"
    );
    let s = store.get_scan(&o, scan).await.unwrap();
    assert_eq!((s.state, s.progress.enqueued), (ScanState::Failed, 4));
    assert!(
        s.reason.unwrap().contains('4'),
        "the reason names the limit"
    );
    // Frozen afterwards.
    let mut late = report(&tasks[1], TaskStatus::Done);
    late.spawned = vec![task(scan, &o, "c4")];
    let out = store.record(vec![late]).await.unwrap();
    assert_eq!(out.spawned, 0);
    assert_eq!(store.get_scan(&o, scan).await.unwrap().progress.done, 0);

    // Without a limit nothing changes.
    let (free, tasks) = started(&*store, &o, config(), &["root"]).await;
    let mut r = report(&tasks[0], TaskStatus::Running);
    r.spawned = (0..50).map(|i| task(free, &o, &format!("c{i}"))).collect();
    assert_eq!(store.record(vec![r]).await.unwrap().spawned, 50);
}

/// `enqueue_done` is false while an enumerating task enumerates, `expected_total` follows its
/// estimate, and the scan completes only once the enumeration is over — even when every task
/// enqueued so far has finished.
pub async fn enumerations_hold_enqueue_done<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let scan = store.create_scan(new_scan(&o, config())).await.unwrap().id;
    let mut lister = task(scan, &o, "lister");
    lister.enumerates = true;
    let t = store
        .start_scan(&o, scan, vec![lister.clone()])
        .await
        .unwrap();
    assert!(
        !t.scan.progress.enqueue_done,
        "an initial enumeration is open"
    );
    assert_eq!(t.scan.progress.expected_total, None);
    // Published tasks come back with the flag (the relay hands them on).
    let pending = store.pending_tasks(10).await.unwrap();
    if let Some(p) = pending.iter().find(|p| p.id == lister.id) {
        assert!(p.enumerates);
    }

    // It expects 3 objects and fans out 1 so far: expected = 2 enqueued + 2 more.
    let mut r = report(&lister, TaskStatus::Running);
    r.spawned = vec![task(scan, &o, "obj0")];
    r.enumeration = Some(EnumerationUpdate {
        remaining: Some(2),
        complete: false,
    });
    let out = store.record(vec![r]).await.unwrap();
    let progress: crate::scan::Progress = out
        .events
        .iter()
        .rev()
        .find(|e| e.kind() == EventKind::Progress)
        .map(|e| serde_json::from_value(e.data.to_json()).unwrap())
        .expect("a progress event");
    assert_eq!(progress.expected_total, Some(4));
    assert!(!progress.enqueue_done);
    let s = store.get_scan(&o, scan).await.unwrap();
    assert_eq!(
        (s.progress.enqueued, s.progress.expected_total),
        (2, Some(4))
    );

    // It fans out the last two and says it is complete (it is still running).
    let mut r = report(&lister, TaskStatus::Running);
    r.spawned = vec![task(scan, &o, "obj1"), task(scan, &o, "obj2")];
    r.enumeration = Some(EnumerationUpdate {
        remaining: Some(0),
        complete: true,
    });
    let out = store.record(vec![r]).await.unwrap();
    assert!(out.finished.is_empty());
    let s = store.get_scan(&o, scan).await.unwrap();
    assert!(
        s.progress.enqueue_done,
        "the enumeration reported completion"
    );
    assert_eq!(
        (s.progress.enqueued, s.progress.expected_total),
        (4, Some(4))
    );
    // A second completion report (a re-delivery) changes nothing.
    let mut again = report(&lister, TaskStatus::Running);
    again.enumeration = Some(EnumerationUpdate {
        remaining: None,
        complete: true,
    });
    store.record(vec![again]).await.unwrap();
    let s = store.get_scan(&o, scan).await.unwrap();
    assert!(s.progress.enqueue_done);
    assert_eq!(s.progress.expected_total, Some(4));

    // A lister that ends without saying "complete" closes its enumeration too, and the scan
    // completes when everything is done.
    let scan2 = store.create_scan(new_scan(&o, config())).await.unwrap().id;
    let mut lister2 = task(scan2, &o, "lister");
    lister2.enumerates = true;
    store
        .start_scan(&o, scan2, vec![lister2.clone()])
        .await
        .unwrap();
    let mut r = report(&lister2, TaskStatus::Done);
    r.enumeration = Some(EnumerationUpdate {
        remaining: Some(5),
        complete: false,
    });
    let out = store.record(vec![r]).await.unwrap();
    assert_eq!(out.finished, vec![(scan2, ScanState::Completed, None)]);
    let s = store.get_scan(&o, scan2).await.unwrap();
    assert!(s.progress.enqueue_done);
    assert_eq!(
        s.progress.expected_total,
        Some(1),
        "a closed enumeration expects nothing"
    );

    // A scan without enumerations is enqueue_done from the start, with no expected_total.
    let (plain, _) = started(&*store, &o, config(), &["a"]).await;
    let s = store.get_scan(&o, plain).await.unwrap();
    assert!(s.progress.enqueue_done);
    assert_eq!(s.progress.expected_total, None);
}

/// Stopping and deleting touch only the scan row (and a clean-up mark); the clean-up then
/// clears leftovers in bounded steps, and a deleted scan's rows are invisible meanwhile.
pub async fn stop_and_delete_are_lazy<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let names: Vec<String> = (0..25).map(|i| format!("t{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (scan, tasks) = started(&*store, &o, config(), &refs).await;
    let (keep, _) = started(&*store, &o, config(), &["k"]).await;
    let mut r = report(&tasks[0], TaskStatus::Running);
    r.findings = vec![finding("f1", Severity::High), finding("f2", Severity::Low)];
    store.record(vec![r]).await.unwrap();
    let f = store
        .list_findings(&o, scan, &FindingQuery::default())
        .await
        .unwrap()
        .items;
    assert_eq!(f.len(), 2);

    store
        .apply_action(&o, scan, ScanAction::Stop)
        .await
        .unwrap();
    let c = store.pending_cleanups(10).await.unwrap();
    assert_eq!(
        c,
        vec![Cleanup {
            scan_id: scan,
            deleted: false
        }]
    );
    // Pending rows of the stopped scan are no longer handed to the relay, before any clean-up.
    assert!(store
        .pending_tasks(1000)
        .await
        .unwrap()
        .iter()
        .all(|t| t.scan_id != scan));
    // Clean-up of an ended scan: bounded steps until nothing is left.
    let mut steps = Vec::new();
    loop {
        let n = store.cleanup_step(&c[0], 10).await.unwrap();
        assert!(n <= 10, "a step clears at most its limit");
        if n == 0 {
            break;
        }
        steps.push(n);
    }
    assert_eq!(steps.iter().sum::<u64>(), 25, "{steps:?}");
    assert!(steps.len() >= 3, "{steps:?}");
    store.cleanup_done(&c[0]).await.unwrap();
    assert!(store.pending_cleanups(10).await.unwrap().is_empty());

    // Delete: invisible at once, cleared in steps, the other scan untouched.
    store.delete_scan(&o, scan).await.unwrap();
    assert_not_found(
        store.get_finding(&o, f[0].id).await,
        "finding of a deleted scan",
    );
    assert_not_found(
        store.set_triage(&o, f[0].id, Triage::Accepted).await,
        "triage of a deleted scan",
    );
    assert!(all_events(&*store, &o, None)
        .await
        .iter()
        .all(|e| e.scan_id != scan));
    let c = store.pending_cleanups(10).await.unwrap();
    assert_eq!(
        c,
        vec![Cleanup {
            scan_id: scan,
            deleted: true
        }]
    );
    // A clean-up read before the delete (not deleted) cannot finish the deleted one.
    store
        .cleanup_done(&Cleanup {
            scan_id: scan,
            deleted: false,
        })
        .await
        .unwrap();
    assert_eq!(store.pending_cleanups(10).await.unwrap().len(), 1);
    let mut total = 0;
    loop {
        let n = store.cleanup_step(&c[0], 7).await.unwrap();
        assert!(n <= 7);
        if n == 0 {
            break;
        }
        total += n;
    }
    // 25 ledger rows, 2 findings and the scan's events (created→queued, progress, stop).
    assert!(total >= 27, "cleared {total}");
    store.cleanup_done(&c[0]).await.unwrap();
    assert!(store.pending_cleanups(10).await.unwrap().is_empty());
    assert_eq!(store.get_scan(&o, keep).await.unwrap().progress.enqueued, 1);
    assert!(!all_events(&*store, &o, Some(keep)).await.is_empty());
}

/// Rate slots: an idle key starts at once, each reservation waits for the ones before it,
/// keys are independent, several permits take several slots.
pub async fn rate_slots_are_shared_in_order<S: Store>(store: Arc<S>) {
    use std::time::Duration;
    let every = Duration::from_secs(10);
    let first = store.reserve_rate("scan:rate-a", every, 1).await.unwrap();
    assert!(first < Duration::from_secs(1), "{first:?}");
    let second = store.reserve_rate("scan:rate-a", every, 1).await.unwrap();
    assert!(
        second > Duration::from_secs(8) && second <= every,
        "the second waits one interval: {second:?}"
    );
    let third = store.reserve_rate("scan:rate-a", every, 2).await.unwrap();
    assert!(
        third > Duration::from_secs(18) && third <= Duration::from_secs(20),
        "{third:?}"
    );
    let fourth = store.reserve_rate("scan:rate-a", every, 1).await.unwrap();
    assert!(
        fourth > Duration::from_secs(38),
        "two permits took two slots: {fourth:?}"
    );
    let other = store.reserve_rate("scan:rate-b", every, 1).await.unwrap();
    assert!(other < Duration::from_secs(1), "{other:?}");
}

/// Workers' advertisements: union of live ones, expired ones ignored, withdrawn ones gone.
pub async fn worker_advertisements<S: Store>(store: Arc<S>) {
    use std::time::Duration;
    assert!(store.advertised_scanners().await.unwrap().is_empty());
    store
        .advertise(
            "w1",
            &["noop".into(), "secrets".into()],
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    store
        .advertise(
            "w2",
            &["tool:x".into(), "noop".into()],
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(
        store.advertised_scanners().await.unwrap(),
        vec!["noop", "secrets", "tool:x"]
    );
    // Renewing replaces the list.
    store
        .advertise("w2", &["noop".into()], Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.advertised_scanners().await.unwrap(),
        vec!["noop", "secrets"]
    );
    store.withdraw("w1").await.unwrap();
    assert_eq!(store.advertised_scanners().await.unwrap(), vec!["noop"]);
    // An expired advertisement (a worker that died) no longer counts.
    store
        .advertise("w3", &["gone".into()], Duration::from_millis(1))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store
        .advertised_scanners()
        .await
        .unwrap()
        .contains(&"gone".to_owned())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "advertisement never expired"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn verdict(key: &str, kind: crate::detector::VerdictKind) -> crate::detector::NewVerdict {
    crate::detector::NewVerdict {
        key: key.into(),
        verdict: kind,
        engine: "yara".into(),
        signature: kind.is_detection().then(|| "Rule".to_owned()),
        hits: Vec::new(),
        size: 42,
        sha256: Some("ab".repeat(32)),
        duration_ms: 1,
        cached: false,
        detail: None,
        action: None,
    }
}

/// Verdicts: one per `(scan, key)` (the first recorded stays, in a batch and across batches),
/// counted by kind only when inserted, listed in key order with a kind filter and a cursor
/// bound to its filter, org-scoped, frozen once the scan ended.
pub async fn verdicts_once_per_object<S: Store>(store: Arc<S>) {
    use crate::detector::{VerdictKind as V, VerdictQuery};
    let o = org("org-a");
    let (scan, tasks) = started(&*store, &o, config(), &["a", "b", "c"]).await;
    store.mark_running(&[scan]).await.unwrap();

    let mut r = report(&tasks[0], TaskStatus::Done);
    r.verdicts = vec![
        verdict("s3://b/k1", V::Clean),
        verdict("s3://b/k2", V::Malicious),
        verdict("s3://b/k1", V::Malicious),
    ];
    let out = store.record(vec![r.clone(), r]).await.unwrap();
    let progress = out
        .events
        .iter()
        .find(|e| e.kind() == EventKind::Progress)
        .expect("a progress event")
        .data
        .to_json();
    assert_eq!(progress["verdicts"]["clean"], 1, "{progress}");
    assert_eq!(progress["verdicts"]["malicious"], 1, "{progress}");

    let mut again = report(&tasks[1], TaskStatus::Running);
    again.verdicts = vec![
        verdict("s3://b/k3", V::Skipped),
        verdict("s3://b/k2", V::Clean),
    ];
    store.record(vec![again]).await.unwrap();
    let p = store.get_scan(&o, scan).await.unwrap().progress;
    assert_eq!(
        (
            p.verdicts.clean,
            p.verdicts.malicious,
            p.verdicts.skipped,
            p.verdicts.total()
        ),
        (1, 1, 1, 3)
    );

    let all = store
        .list_verdicts(&o, scan, &VerdictQuery::default())
        .await
        .unwrap();
    let keys: Vec<(&str, V)> = all
        .items
        .iter()
        .map(|v| (v.verdict.key.as_str(), v.verdict.verdict))
        .collect();
    assert_eq!(
        keys,
        [
            ("s3://b/k1", V::Clean),
            ("s3://b/k2", V::Malicious),
            ("s3://b/k3", V::Skipped)
        ]
    );
    assert_eq!(all.items[1].verdict.signature.as_deref(), Some("Rule"));
    assert_eq!(all.items[1].scan_id, scan);

    let bad = VerdictQuery {
        verdict: Some(V::Malicious),
        ..Default::default()
    };
    let page = store.list_verdicts(&o, scan, &bad).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].verdict.key, "s3://b/k2");

    let first = store
        .list_verdicts(
            &o,
            scan,
            &VerdictQuery {
                limit: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    let cursor = first.next_cursor.expect("more to come");
    let second = store
        .list_verdicts(
            &o,
            scan,
            &VerdictQuery {
                limit: 2,
                cursor: Some(cursor.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].verdict.key, "s3://b/k3");
    assert!(second.next_cursor.is_none());
    // A cursor of the unfiltered list is not one of the malicious list.
    match store
        .list_verdicts(
            &o,
            scan,
            &VerdictQuery {
                verdict: Some(V::Malicious),
                cursor: Some(cursor),
                ..Default::default()
            },
        )
        .await
    {
        Err(CoreError::Invalid { .. }) => {}
        other => panic!("expected Invalid for a cursor of another list, got {other:?}"),
    }
    assert_not_found(
        store
            .list_verdicts(&org("org-b"), scan, &VerdictQuery::default())
            .await,
        "another org's verdicts",
    );

    // An ended scan's results are frozen.
    store
        .apply_action(&o, scan, ScanAction::Stop)
        .await
        .unwrap();
    let mut late = report(&tasks[2], TaskStatus::Done);
    late.verdicts = vec![verdict("s3://b/k9", V::Malicious)];
    store.record(vec![late]).await.unwrap();
    assert_eq!(
        store
            .list_verdicts(&o, scan, &VerdictQuery::default())
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    assert_eq!(
        store
            .get_scan(&o, scan)
            .await
            .unwrap()
            .progress
            .verdicts
            .total(),
        3
    );
    store.delete_scan(&o, scan).await.unwrap();
    assert_not_found(
        store
            .list_verdicts(&o, scan, &VerdictQuery::default())
            .await,
        "a deleted scan's verdicts",
    );
}

// ---------------------------------------------------------------- connectors

fn connector(o: &OrgId, name: &str) -> crate::connector_config::NewConnectorRecord {
    crate::connector_config::NewConnectorRecord {
        id: crate::ids::ConnectorId::new(),
        org: o.clone(),
        user: user(),
        name: name.into(),
        location: Target::parse(TargetKind::Location, "s3://bucket/share/").unwrap(),
        credential: Some("aws-prod".into()),
        scanners: vec![ScannerSpec {
            name: "yara".into(),
            params: serde_json::json!({"archives": false}),
        }],
        action: crate::connector_config::ActionPolicy::default(),
    }
}

async fn connector_page<S: Store>(
    store: &S,
    o: &OrgId,
    cursor: Option<String>,
    limit: u32,
) -> crate::error::Result<crate::finding::Page<crate::connector_config::RegisteredConnector>> {
    store
        .list_connectors(o, &crate::store::ConnectorQuery { cursor, limit })
        .await
}

/// Connectors: create, get, list by name, update (created_at and last_full_scan kept), delete;
/// every field round-trips; missing ones are NotFound.
pub async fn connectors_crud<S: Store>(store: Arc<S>) {
    use crate::connector_config::{ActionPolicy, PolicyAction};
    let o = org("org-a");
    let b = store.create_connector(connector(&o, "beta")).await.unwrap();
    let a = store
        .create_connector(connector(&o, "alpha"))
        .await
        .unwrap();
    let want = connector(&o, "beta");
    assert_eq!(
        (
            b.name.as_str(),
            &b.location,
            b.credential.as_deref(),
            &b.scanners,
            &b.action,
            b.last_full_scan,
            &b.org_id
        ),
        (
            "beta",
            &want.location,
            Some("aws-prod"),
            &want.scanners,
            &ActionPolicy::default(),
            None,
            &o
        )
    );
    assert_eq!(b.created_at, b.updated_at);
    assert_eq!(store.get_connector(&o, a.id).await.unwrap(), a);
    let names: Vec<String> = connector_page(&*store, &o, None, 0)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["alpha", "beta"]);

    let scan = store.create_scan(new_scan(&o, config())).await.unwrap();
    store.set_last_full_scan(&o, a.id, scan.id).await.unwrap();
    let policy = ActionPolicy {
        action: PolicyAction::Move,
        quarantine_prefix: "q/".into(),
        act_on_suspicious: true,
    };
    let u = store
        .update_connector(crate::connector_config::NewConnectorRecord {
            id: a.id,
            name: "gamma".into(),
            location: Target::parse(TargetKind::Location, "file:///srv/share/").unwrap(),
            credential: None,
            scanners: vec![
                ScannerSpec {
                    name: "clamav".into(),
                    params: serde_json::json!({}),
                },
                ScannerSpec {
                    name: "yara".into(),
                    params: serde_json::json!({"rules": "x"}),
                },
            ],
            action: policy.clone(),
            ..connector(&o, "")
        })
        .await
        .unwrap();
    assert_eq!(
        (
            u.name.as_str(),
            u.location.value(),
            u.credential.as_deref(),
            u.scanners.len(),
            &u.action,
            u.last_full_scan,
            u.created_at
        ),
        (
            "gamma",
            "file:///srv/share/",
            None,
            2,
            &policy,
            Some(scan.id),
            a.created_at
        )
    );
    assert!(u.updated_at >= a.updated_at);
    assert_eq!(store.get_connector(&o, a.id).await.unwrap(), u);
    assert_not_found(
        store.update_connector(connector(&o, "missing")).await,
        "update missing connector",
    );

    store.delete_connector(&o, a.id).await.unwrap();
    assert_not_found(store.get_connector(&o, a.id).await, "deleted connector");
    assert_not_found(
        store.delete_connector(&o, a.id).await,
        "delete connector twice",
    );
    // The scan it started is kept.
    store.get_scan(&o, scan.id).await.unwrap();
    let left = connector_page(&*store, &o, None, 0).await.unwrap();
    assert_eq!((left.items.len(), left.next_cursor), (1, None));
}

/// Another org's connector is NotFound through every call; a name is unique per org (create
/// and update alike are Conflict), but two orgs may use the same name; a reused id is Conflict.
pub async fn connectors_org_scoping_and_names<S: Store>(store: Arc<S>) {
    let a = org("org-a");
    let b = org("org-b");
    let mine = store
        .create_connector(connector(&a, "share"))
        .await
        .unwrap();
    // Same name in another org is fine.
    let theirs = store
        .create_connector(connector(&b, "share"))
        .await
        .unwrap();
    assert_ne!(mine.id, theirs.id);

    assert_not_found(store.get_connector(&b, mine.id).await, "get other org's");
    assert_not_found(
        store
            .update_connector(crate::connector_config::NewConnectorRecord {
                id: mine.id,
                ..connector(&b, "stolen")
            })
            .await,
        "update other org's",
    );
    let scan = store.create_scan(new_scan(&b, config())).await.unwrap();
    assert_not_found(
        store.set_last_full_scan(&b, mine.id, scan.id).await,
        "set last full scan of other org's",
    );
    assert_not_found(
        store.delete_connector(&b, mine.id).await,
        "delete other org's",
    );
    let listed: Vec<_> = connector_page(&*store, &b, None, 0)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, vec![theirs.id]);
    // Untouched by all of that.
    assert_eq!(store.get_connector(&a, mine.id).await.unwrap(), mine);

    for (what, r) in [
        (
            "create with a taken name",
            store.create_connector(connector(&a, "share")).await,
        ),
        (
            "create with a taken id",
            store
                .create_connector(crate::connector_config::NewConnectorRecord {
                    id: mine.id,
                    ..connector(&a, "other")
                })
                .await,
        ),
    ] {
        match r {
            Err(CoreError::Conflict { .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
    let second = store
        .create_connector(connector(&a, "second"))
        .await
        .unwrap();
    match store
        .update_connector(crate::connector_config::NewConnectorRecord {
            id: second.id,
            ..connector(&a, "share")
        })
        .await
    {
        Err(CoreError::Conflict { .. }) => {}
        other => panic!("rename onto a taken name: {other:?}"),
    }
    // Renaming to its own name is not a conflict.
    store
        .update_connector(crate::connector_config::NewConnectorRecord {
            id: second.id,
            ..connector(&a, "second")
        })
        .await
        .unwrap();
    // Once deleted, the name is free again.
    store.delete_connector(&a, mine.id).await.unwrap();
    store
        .create_connector(connector(&a, "share"))
        .await
        .unwrap();
}

/// Connector lists page by name then id: every connector exactly once across pages,
/// `next_cursor` only while more follow, and a template cursor (or garbage) is `Invalid`.
pub async fn list_connectors_paging<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let other = org("org-b");
    let mut want = Vec::new();
    for name in ["m", "b", "Z", "z", "a b", "a", "é"] {
        let c = store.create_connector(connector(&o, name)).await.unwrap();
        want.push((c.name.clone(), c.id.to_string()));
    }
    store
        .create_connector(connector(&other, "aaa"))
        .await
        .unwrap();
    // Byte order of names, on every backend.
    want.sort();
    for limit in [1u32, 2, 3, 7, 100] {
        let mut got = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = connector_page(&*store, &o, cursor.clone(), limit)
                .await
                .unwrap();
            pages += 1;
            assert!(page.items.len() <= limit as usize, "limit {limit}");
            got.extend(
                page.items
                    .iter()
                    .map(|c| (c.name.clone(), c.id.to_string())),
            );
            match page.next_cursor {
                Some(c) => {
                    assert_eq!(page.items.len(), limit as usize, "short page with a cursor");
                    cursor = Some(c);
                }
                None => break,
            }
            assert!(pages <= 10, "paging does not end (limit {limit})");
        }
        assert_eq!(got, want, "limit {limit}");
        assert_eq!(
            pages,
            want.len().div_ceil(limit as usize).max(1),
            "limit {limit}"
        );
    }
    for name in ["t1", "t2"] {
        store.create_template(template(&o, name)).await.unwrap();
    }
    let template_cursor = store
        .list_templates(
            &o,
            &TemplateQuery {
                limit: 1,
                ..TemplateQuery::default()
            },
        )
        .await
        .unwrap()
        .next_cursor
        .unwrap();
    for bad in [template_cursor, "%%%".to_owned(), "e30".to_owned()] {
        match connector_page(&*store, &o, Some(bad.clone()), 2).await {
            Err(CoreError::Invalid { path, .. }) => assert_eq!(path, "/cursor"),
            other => panic!("cursor {bad:?}: {other:?}"),
        }
    }
}

/// `set_last_full_scan` records the latest scan (a later one replaces it) and shows in get and
/// list; a missing connector is NotFound; deleting the scan leaves the id for readers to skip.
pub async fn connector_last_full_scan<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let c = store
        .create_connector(connector(&o, "share"))
        .await
        .unwrap();
    let first = store.create_scan(new_scan(&o, config())).await.unwrap();
    let second = store.create_scan(new_scan(&o, config())).await.unwrap();
    let after_first = store.set_last_full_scan(&o, c.id, first.id).await.unwrap();
    assert_eq!(after_first.last_full_scan, Some(first.id));
    assert_eq!(
        (
            after_first.name.as_str(),
            &after_first.scanners,
            after_first.created_at
        ),
        ("share", &c.scanners, c.created_at)
    );
    store.set_last_full_scan(&o, c.id, second.id).await.unwrap();
    assert_eq!(
        store.get_connector(&o, c.id).await.unwrap().last_full_scan,
        Some(second.id)
    );
    let listed = connector_page(&*store, &o, None, 0).await.unwrap();
    assert_eq!(listed.items[0].last_full_scan, Some(second.id));
    assert_not_found(
        store
            .set_last_full_scan(&o, crate::ids::ConnectorId::new(), first.id)
            .await,
        "set last full scan of a missing connector",
    );
    store.delete_scan(&o, second.id).await.unwrap();
    assert_eq!(
        store.get_connector(&o, c.id).await.unwrap().last_full_scan,
        Some(second.id)
    );
}

// ---------------------------------------------------------------- triage (issue #13)

/// Every finding of a scan, keyed by fingerprint key (`data.key`).
async fn findings_by_key<S: Store>(
    store: &S,
    o: &OrgId,
    scan: ScanId,
) -> std::collections::BTreeMap<String, Finding> {
    store
        .list_findings(o, scan, &FindingQuery::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|f| (f.data["key"].as_str().unwrap().to_owned(), f))
        .collect()
}

/// A started scan of `o` whose one task reported `findings`; returns the scan and the finding
/// events `record` appended.
async fn scan_with<S: Store>(
    store: &S,
    o: &OrgId,
    findings: Vec<NewFinding>,
) -> (ScanId, Vec<Finding>) {
    let (scan, tasks) = started(store, o, config(), &["x"]).await;
    let mut r = report(&tasks[0], TaskStatus::Running);
    r.findings = findings;
    let out = store.record(vec![r]).await.unwrap();
    let events = out
        .events
        .into_iter()
        .filter_map(|e| match e.data {
            crate::event::EventData::Finding(f) => Some(*f),
            _ => None,
        })
        .collect();
    (scan, events)
}

/// `select_findings`: both lists applied in one go, the counts after; an id that is not a
/// finding of the scan (unknown, or another scan's) refuses the whole request and changes
/// nothing; `triage_counts` counts all findings or only secret ones.
pub async fn triage_selection_is_atomic<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let mut secret = finding("s", Severity::High);
    secret.secret = Some(SecretDigest::of("a-secret-value-0123456789"));
    let (scan, _) = scan_with(
        &*store,
        &o,
        vec![
            finding("a", Severity::High),
            finding("b", Severity::Low),
            finding("c", Severity::Low),
            secret,
        ],
    )
    .await;
    let (other, _) = scan_with(&*store, &o, vec![finding("z", Severity::Low)]).await;
    let f = findings_by_key(&*store, &o, scan).await;
    let z = findings_by_key(&*store, &o, other).await["z"].id;

    let counts = store
        .select_findings(&o, scan, &[f["a"].id], &[f["b"].id, f["s"].id])
        .await
        .unwrap();
    assert_eq!(
        counts,
        TriageCounts {
            open: 1,
            selected: 1,
            false_positive: 2,
            ..TriageCounts::default()
        }
    );
    assert_eq!(store.triage_counts(&o, scan, false).await.unwrap(), counts);
    assert_eq!(
        store.triage_counts(&o, scan, true).await.unwrap(),
        TriageCounts {
            false_positive: 1,
            ..TriageCounts::default()
        },
        "only the finding with a secret digest"
    );
    let after = findings_by_key(&*store, &o, scan).await;
    assert_eq!(after["a"].triage, Triage::Selected);
    assert_eq!(after["b"].triage, Triage::FalsePositive);

    // Unknown ids and another scan's finding: Invalid naming them, and nothing changed (`c`
    // stays open although it was listed too).
    let unknown = FindingId::new();
    match store
        .select_findings(&o, scan, &[f["c"].id, unknown], &[z])
        .await
    {
        Err(CoreError::Invalid { path, message }) => {
            assert_eq!(path, "/select");
            assert!(message.contains(&unknown.to_string()), "{message}");
            assert!(message.contains(&z.to_string()), "{message}");
            assert!(!message.contains(&f["c"].id.to_string()), "{message}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    match store.select_findings(&o, scan, &[], &[z]).await {
        Err(CoreError::Invalid { path, .. }) => assert_eq!(path, "/false_positives"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(
        store.get_finding(&o, f["c"].id).await.unwrap().triage,
        Triage::Open
    );
    assert_eq!(store.get_finding(&o, z).await.unwrap().triage, Triage::Open);
    assert_eq!(store.triage_counts(&o, scan, false).await.unwrap(), counts);
    assert_not_found(
        store
            .select_findings(&o, ScanId::new(), &[f["c"].id], &[])
            .await,
        "select_findings on an unknown scan",
    );
    assert_not_found(
        store.triage_counts(&o, ScanId::new(), false).await,
        "triage_counts of an unknown scan",
    );
}

/// Triage memory: a later scan of the same org and target starts a finding with the same
/// fingerprint from its earlier triage (`false_positive` and `accepted` carry; `selected` and
/// `fixed` show only as `previous_triage`; set back to `open` forgets), in the stored finding
/// and in its `finding` event; another target or another org inherits nothing.
pub async fn triage_memory_carries_to_rescans<S: Store>(store: Arc<S>) {
    let (o, b) = (org("org-a"), org("org-b"));
    let keys = ["sel", "fp", "acc", "fixed", "reopened", "never"];
    let (first, events) = scan_with(
        &*store,
        &o,
        keys.iter().map(|k| finding(k, Severity::High)).collect(),
    )
    .await;
    assert!(
        events
            .iter()
            .all(|f| f.triage == Triage::Open && f.previous_triage.is_none()),
        "nothing remembered yet: {events:?}"
    );
    let f = findings_by_key(&*store, &o, first).await;
    assert!(f.values().all(|f| f.previous_triage.is_none()));
    store
        .select_findings(&o, first, &[f["sel"].id], &[f["fp"].id, f["reopened"].id])
        .await
        .unwrap();
    store
        .set_triage(&o, f["acc"].id, Triage::Accepted)
        .await
        .unwrap();
    store
        .set_triage(&o, f["fixed"].id, Triage::Fixed)
        .await
        .unwrap();
    store
        .set_triage(&o, f["reopened"].id, Triage::Open)
        .await
        .unwrap();

    // The rescan: same org, same target.
    let (second, events) = scan_with(
        &*store,
        &o,
        keys.iter().map(|k| finding(k, Severity::High)).collect(),
    )
    .await;
    let g = findings_by_key(&*store, &o, second).await;
    let expect = [
        ("sel", Triage::Open, Some(Triage::Selected)),
        ("fp", Triage::FalsePositive, Some(Triage::FalsePositive)),
        ("acc", Triage::Accepted, Some(Triage::Accepted)),
        ("fixed", Triage::Open, Some(Triage::Fixed)),
        ("reopened", Triage::Open, None),
        ("never", Triage::Open, None),
    ];
    for (key, triage, previous) in expect {
        assert_eq!(
            (g[key].triage, g[key].previous_triage),
            (triage, previous),
            "stored finding {key}"
        );
        let ev = events
            .iter()
            .find(|e| e.id == g[key].id)
            .unwrap_or_else(|| panic!("no finding event for {key}"));
        assert_eq!(
            (ev.triage, ev.previous_triage),
            (triage, previous),
            "finding event of {key}"
        );
        assert_eq!(
            store
                .get_finding(&o, g[key].id)
                .await
                .unwrap()
                .previous_triage,
            previous
        );
    }
    assert_eq!(
        store.triage_counts(&o, second, false).await.unwrap(),
        TriageCounts {
            open: 4,
            false_positive: 1,
            accepted: 1,
            ..TriageCounts::default()
        }
    );
    // The first scan's findings keep their own triage.
    assert_eq!(
        store.get_finding(&o, f["fp"].id).await.unwrap().triage,
        Triage::FalsePositive
    );

    // A later change overrides the memory: `fp` set back to open in the second scan is
    // forgotten for the third.
    store
        .set_triage(&o, g["fp"].id, Triage::Open)
        .await
        .unwrap();
    let (third, _) = scan_with(&*store, &o, vec![finding("fp", Severity::High)]).await;
    let h = findings_by_key(&*store, &o, third).await;
    assert_eq!(
        (h["fp"].triage, h["fp"].previous_triage),
        (Triage::Open, None)
    );

    // Another target with the same fingerprint inherits nothing.
    let mut elsewhere = finding("acc", Severity::High);
    elsewhere.target = domain("elsewhere");
    let (fourth, _) = scan_with(&*store, &o, vec![elsewhere]).await;
    let k = findings_by_key(&*store, &o, fourth).await;
    assert_eq!(
        (k["acc"].triage, k["acc"].previous_triage),
        (Triage::Open, None)
    );

    // Another org's scan of the same target inherits nothing either.
    let (theirs, events) = scan_with(
        &*store,
        &b,
        keys.iter().map(|k| finding(k, Severity::High)).collect(),
    )
    .await;
    assert!(events
        .iter()
        .all(|f| f.triage == Triage::Open && f.previous_triage.is_none()));
    let t = findings_by_key(&*store, &b, theirs).await;
    assert!(
        t.values()
            .all(|f| f.triage == Triage::Open && f.previous_triage.is_none()),
        "{t:?}"
    );
    // And its triage does not reach this org.
    store
        .set_triage(&b, t["never"].id, Triage::FalsePositive)
        .await
        .unwrap();
    let (fifth, _) = scan_with(&*store, &o, vec![finding("never", Severity::High)]).await;
    let n = findings_by_key(&*store, &o, fifth).await;
    assert_eq!(
        (n["never"].triage, n["never"].previous_triage),
        (Triage::Open, None)
    );
}

// ---------------------------------------------------------------- forwarding (SinkStore)

/// A time at millisecond precision (what every backend stores).
fn ms_time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap()
}

/// `set_scan_trace` keeps the starting request's trace context on a `created` scan; every scan
/// read carries it (workers read it with `scans_by_ids`), it never changes once the scan
/// started, and another org's scan is left alone.
pub async fn scan_trace_is_kept_from_start<S: Store>(store: Arc<S>) {
    let (a, b) = (org("org-a"), org("org-b"));
    let ours = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let theirs = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let scan = store.create_scan(new_scan(&a, config())).await.unwrap();
    assert_eq!(scan.trace, None);
    store.set_scan_trace(&b, scan.id, theirs).await.unwrap();
    assert_eq!(store.get_scan(&a, scan.id).await.unwrap().trace, None);

    store.set_scan_trace(&a, scan.id, ours).await.unwrap();
    let t = store
        .start_scan(&a, scan.id, vec![task(scan.id, &a, "x")])
        .await
        .unwrap();
    assert_eq!(t.scan.trace.as_deref(), Some(ours));
    store.set_scan_trace(&a, scan.id, theirs).await.unwrap();
    assert_eq!(
        store.get_scan(&a, scan.id).await.unwrap().trace.as_deref(),
        Some(ours)
    );
    let by_id = store.scans_by_ids(&[scan.id]).await.unwrap();
    assert_eq!(by_id[0].trace.as_deref(), Some(ours));
    // Not part of the scan as shown.
    let shown = serde_json::to_value(&by_id[0]).unwrap();
    assert!(shown.get("trace").is_none(), "{shown}");
}

/// `create_scan` appends one `created → created` state event in the scan's transaction,
/// visible through `events_after` (per scan and org-wide) and forwarded as `created`.
pub async fn create_scan_appends_created_event<S: Store>(store: Arc<S>) {
    let o = org("org-a");
    let scan = store.create_scan(new_scan(&o, config())).await.unwrap();
    let evs = all_events(&*store, &o, Some(scan.id)).await;
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(
        evs[0].data,
        EventData::State {
            from: ScanState::Created,
            to: ScanState::Created,
            reason: None,
        }
    );
    assert_eq!((evs[0].scan_id, &evs[0].org_id), (scan.id, &o));
    assert_eq!(all_events(&*store, &o, None).await, evs);
    let forwarded = SinkEvent::from_event(&evs[0]).unwrap();
    match forwarded.payload {
        SinkPayload::ScanLifecycle(l) => assert_eq!(l.action, LifecycleAction::Created),
        other => panic!("created event forwarded as {other:?}"),
    }

    // A refused create (duplicate id) appends nothing.
    assert!(store
        .create_scan(NewScan {
            id: scan.id,
            ..new_scan(&o, config())
        })
        .await
        .is_err());
    assert_eq!(all_events(&*store, &o, None).await, evs);

    // Starting follows it: created → created, then created → queued.
    store
        .start_scan(&o, scan.id, vec![task(scan.id, &o, "a")])
        .await
        .unwrap();
    assert_eq!(
        state_events(&all_events(&*store, &o, Some(scan.id)).await),
        vec![
            ("created".into(), "created".into()),
            ("created".into(), "queued".into())
        ]
    );
}

/// `events_since` reads every org's events in id order, page by page; `last_event_id` is the
/// highest id (0 when empty); a deleted scan's events are invisible, as in `events_after`.
pub async fn events_since_reads_every_org<S: Store>(store: Arc<S>) {
    let (a, b) = (org("org-a"), org("org-b"));
    assert_eq!(store.last_event_id().await.unwrap(), 0);
    assert!(store.events_since(0, 10).await.unwrap().is_empty());

    // Interleave the two orgs' writes so their ids alternate.
    let (sa, ta) = started(&*store, &a, config(), &["x", "y"]).await;
    let (sb, tb) = started(&*store, &b, config(), &["x"]).await;
    store.mark_running(&[sa, sb]).await.unwrap();
    let mut r = report(&ta[0], TaskStatus::Done);
    r.findings = vec![finding("fa", Severity::High)];
    store.record(vec![r]).await.unwrap();
    let mut r = report(&tb[0], TaskStatus::Done);
    r.findings = vec![finding("fb", Severity::Low)];
    store.record(vec![r]).await.unwrap();
    store
        .record(vec![report(&ta[1], TaskStatus::Done)])
        .await
        .unwrap();

    let mut expected = all_events(&*store, &a, None).await;
    expected.extend(all_events(&*store, &b, None).await);
    expected.sort_by_key(|e| e.id);
    assert!(expected.iter().any(|e| e.org_id == a) && expected.iter().any(|e| e.org_id == b));

    let all = store.events_since(0, 1000).await.unwrap();
    assert_eq!(all, expected, "every org's events, in id order");

    // Paged with a small limit: the same sequence, no page longer than the limit.
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = store.events_since(after, 3).await.unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = last.id;
        paged.extend(page);
    }
    assert_eq!(paged, expected);

    let last = expected.last().unwrap().id;
    assert_eq!(store.last_event_id().await.unwrap(), last);
    assert!(store.events_since(last, 10).await.unwrap().is_empty());
    let mid = expected[expected.len() / 2].id;
    assert_eq!(
        store.events_since(mid, 1000).await.unwrap(),
        expected
            .iter()
            .filter(|e| e.id > mid)
            .cloned()
            .collect::<Vec<_>>()
    );

    // A deleted scan's events drop out of the feed at once.
    let done = store.get_scan(&b, sb).await.unwrap();
    assert_eq!(done.state, ScanState::Completed);
    store.delete_scan(&b, sb).await.unwrap();
    assert_eq!(
        store.events_since(0, 1000).await.unwrap(),
        expected
            .iter()
            .filter(|e| e.scan_id != sb)
            .cloned()
            .collect::<Vec<_>>()
    );
}

/// `save_sink_state` upserts by name, never moves the cursor back and replaces the rest.
pub async fn sink_state_cursor_never_rewinds<S: Store>(store: Arc<S>) {
    assert_eq!(store.sink_state("siem").await.unwrap(), None);
    let first = SinkState {
        name: "siem".into(),
        cursor: 10,
        sent: 7,
        dropped: 1,
        dead_lettered: 2,
        last_error: Some("connection refused".into()),
        last_error_at: Some(ms_time(1_700_000_000_123)),
        last_sent_at: Some(ms_time(1_700_000_001_456)),
        holder: Some("host-1:42".into()),
        updated_at: Some(ms_time(1_700_000_002_789)),
    };
    store.save_sink_state(&first).await.unwrap();
    assert_eq!(store.sink_state("siem").await.unwrap(), Some(first.clone()));

    // A late save with an older cursor (a process that lost the lease) keeps the cursor; the
    // counters and the rest are the saver's.
    let late = SinkState {
        cursor: 4,
        sent: 9,
        dropped: 1,
        dead_lettered: 3,
        last_error: None,
        last_error_at: None,
        holder: Some("host-2:7".into()),
        updated_at: Some(ms_time(1_700_000_003_000)),
        ..first.clone()
    };
    store.save_sink_state(&late).await.unwrap();
    assert_eq!(
        store.sink_state("siem").await.unwrap(),
        Some(SinkState {
            cursor: 10,
            ..late.clone()
        })
    );

    // Forward it moves.
    let ahead = SinkState {
        cursor: 25,
        sent: 12,
        ..late.clone()
    };
    store.save_sink_state(&ahead).await.unwrap();
    assert_eq!(store.sink_state("siem").await.unwrap(), Some(ahead.clone()));

    // Another sink is a row of its own.
    let other = SinkState {
        name: "webhook".into(),
        cursor: 3,
        ..SinkState::default()
    };
    store.save_sink_state(&other).await.unwrap();
    assert_eq!(store.sink_state("webhook").await.unwrap(), Some(other));
    assert_eq!(store.sink_state("siem").await.unwrap(), Some(ahead));
}

/// Dead letters are kept per sink and org, listed newest first, one page at a time.
pub async fn dead_letters_per_org_and_sink<S: Store>(store: Arc<S>) {
    let (a, b) = (org("org-a"), org("org-b"));
    let sa = store.create_scan(new_scan(&a, config())).await.unwrap();
    let sb = store.create_scan(new_scan(&b, config())).await.unwrap();
    let ev_a = SinkEvent::from_event(&all_events(&*store, &a, Some(sa.id)).await[0]).unwrap();
    let ev_b = SinkEvent::from_event(&all_events(&*store, &b, Some(sb.id)).await[0]).unwrap();
    let letter = |sink: &str, event: &SinkEvent, n: u32| {
        let mut body = event.to_json();
        body["title"] = serde_json::json!(format!("letter {n}"));
        NewDeadLetter {
            sink: sink.into(),
            event: event.clone(),
            body,
            error: format!("refused {n}"),
            attempts: n,
        }
    };
    assert!(store
        .list_dead_letters(&a, "siem", None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    store.add_dead_letters(Vec::new()).await.unwrap();
    store
        .add_dead_letters(vec![
            letter("siem", &ev_a, 1),
            letter("siem", &ev_b, 2),
            letter("siem", &ev_a, 3),
            letter("webhook", &ev_a, 4),
        ])
        .await
        .unwrap();
    store
        .add_dead_letters(vec![letter("siem", &ev_a, 5)])
        .await
        .unwrap();

    // org-a's `siem` letters, newest first, two per page.
    let p1 = store.list_dead_letters(&a, "siem", None, 2).await.unwrap();
    let errors = |p: &Page<DeadLetter>| p.items.iter().map(|d| d.error.clone()).collect::<Vec<_>>();
    assert_eq!(errors(&p1), ["refused 5", "refused 3"]);
    let cursor = p1.next_cursor.clone().expect("more letters follow");
    let p2 = store
        .list_dead_letters(&a, "siem", Some(cursor.parse().unwrap()), 2)
        .await
        .unwrap();
    assert_eq!(errors(&p2), ["refused 1"]);
    assert_eq!(p2.next_cursor, None);
    assert!(p1.items[0].id > p1.items[1].id && p1.items[1].id > p2.items[0].id);

    // What a letter keeps: the masked body as `event`, org, scan and event id of the event.
    let d = &p2.items[0];
    assert_eq!(
        (
            d.sink.as_str(),
            d.org_id.as_str(),
            d.scan_id,
            d.event_id,
            d.attempts
        ),
        ("siem", "org-a", sa.id, ev_a.event_id, 1)
    );
    assert_eq!(d.event, letter("siem", &ev_a, 1).body);

    // Scoped by org and by sink.
    let theirs = store.list_dead_letters(&b, "siem", None, 10).await.unwrap();
    assert_eq!(errors(&theirs), ["refused 2"]);
    assert_eq!(theirs.items[0].scan_id, sb.id);
    let hooks = store
        .list_dead_letters(&a, "webhook", None, 10)
        .await
        .unwrap();
    assert_eq!(errors(&hooks), ["refused 4"]);
    assert!(store
        .list_dead_letters(&b, "webhook", None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(store
        .list_dead_letters(&org("org-c"), "siem", None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    // A whole list in one page has no cursor.
    let whole = store.list_dead_letters(&a, "siem", None, 3).await.unwrap();
    assert_eq!(whole.items.len(), 3);
    assert_eq!(whole.next_cursor, None);
}

// ---------------------------------------------------------------- audit log

/// An audit record for the audit cases: `user` of `org` did `action` on `resource`.
pub fn audit_record(
    org: &OrgId,
    user: &str,
    action: &str,
    resource: &str,
    status: u16,
    at: chrono::DateTime<chrono::Utc>,
) -> crate::audit::NewAuditRecord {
    crate::audit::NewAuditRecord {
        at,
        org_id: org.clone(),
        user_id: UserId::parse(user).unwrap(),
        role: crate::ids::Role::Analyst,
        action: action.into(),
        method: "POST".into(),
        route: "/api/v1/scans/{id}/start".into(),
        resource: resource.into(),
        outcome: crate::audit::AuditOutcome::of_status(status),
        status,
        client: Some("192.0.2.7".into()),
        request_id: format!("req-{action}-{user}"),
    }
}

/// Audit records are appended with increasing ids, read back as written (millisecond times),
/// listed per org newest first with every filter and cursor paging, and never shown to another
/// org.
pub async fn audit_appends_and_lists_per_org<S: Store>(store: Arc<S>) {
    use crate::audit::{AuditOutcome, AuditQuery};
    let (a, b) = (org("org-a"), org("org-b"));
    let t0 = chrono::DateTime::from_timestamp_millis(1_800_000_000_123).unwrap();
    let sec = |n: i64| t0 + chrono::Duration::seconds(n);
    assert_eq!(store.last_audit_id().await.unwrap(), 0);
    assert!(store
        .list_audit(&a, &AuditQuery::default())
        .await
        .unwrap()
        .items
        .is_empty());

    let written = [
        audit_record(&a, "alice", "scan.create", "/api/v1/scans", 201, sec(0)),
        audit_record(
            &a,
            "alice",
            "scan.start",
            "/api/v1/scans/s1/start",
            200,
            sec(1),
        ),
        audit_record(
            &b,
            "bob",
            "scan.start",
            "/api/v1/scans/s1/start",
            200,
            sec(2),
        ),
        audit_record(
            &a,
            "carol",
            "scan.start",
            "/api/v1/scans/s1x/start",
            403,
            sec(3),
        ),
        audit_record(
            &a,
            "alice",
            "artifact.download",
            "/api/v1/scans/s1/artifacts/a%_b",
            200,
            sec(4),
        ),
        audit_record(&a, "carol", "scan.delete", "/api/v1/scans/s1", 404, sec(5)),
    ];
    let mut stored = Vec::new();
    for r in written.iter().cloned() {
        let mut precise = r.clone();
        // Sub-millisecond precision is not kept.
        precise.at += chrono::Duration::nanoseconds(400);
        let s = store.append_audit(precise).await.unwrap();
        assert_eq!(s.at, r.at);
        assert_eq!(
            (
                s.org_id.clone(),
                s.user_id.clone(),
                s.action.clone(),
                s.outcome,
                s.status
            ),
            (
                r.org_id.clone(),
                r.user_id.clone(),
                r.action.clone(),
                r.outcome,
                r.status
            )
        );
        stored.push(s);
    }
    assert!(stored.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    assert_eq!(store.last_audit_id().await.unwrap(), stored[5].id);

    let list = |q: AuditQuery| {
        let store = store.clone();
        let a = a.clone();
        async move { store.list_audit(&a, &q).await.unwrap() }
    };
    let ids =
        |p: &Page<crate::audit::AuditRecord>| p.items.iter().map(|r| r.id).collect::<Vec<_>>();

    // Everything of org-a, newest first, read back exactly as stored.
    let all = list(AuditQuery::default()).await;
    let expected: Vec<_> = [5, 4, 3, 1, 0].iter().map(|&i| stored[i].clone()).collect();
    assert_eq!(all.items, expected);
    assert_eq!(all.next_cursor, None);
    // org-b sees only its own record.
    let other = store.list_audit(&b, &AuditQuery::default()).await.unwrap();
    assert_eq!(ids(&other), [stored[2].id]);

    // Paging: two per page, the cursor is the last id.
    let p1 = list(AuditQuery {
        limit: 2,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(ids(&p1), [stored[5].id, stored[4].id]);
    let before: i64 = p1.next_cursor.clone().unwrap().parse().unwrap();
    let p2 = list(AuditQuery {
        limit: 2,
        before: Some(before),
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(ids(&p2), [stored[3].id, stored[1].id]);
    let before: i64 = p2.next_cursor.clone().unwrap().parse().unwrap();
    let p3 = list(AuditQuery {
        limit: 2,
        before: Some(before),
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(ids(&p3), [stored[0].id]);
    assert_eq!(p3.next_cursor, None);

    // Filters: user, action, outcome, resource (itself or below, no wildcards), time range.
    let q = AuditQuery {
        user: Some("carol".into()),
        ..AuditQuery::default()
    };
    assert_eq!(ids(&list(q).await), [stored[5].id, stored[3].id]);
    let q = AuditQuery {
        action: Some("scan.start".into()),
        ..AuditQuery::default()
    };
    assert_eq!(ids(&list(q).await), [stored[3].id, stored[1].id]);
    let q = AuditQuery {
        outcome: Some(AuditOutcome::Denied),
        ..AuditQuery::default()
    };
    assert_eq!(ids(&list(q).await), [stored[3].id]);
    let q = AuditQuery {
        outcome: Some(AuditOutcome::Failed),
        ..AuditQuery::default()
    };
    assert_eq!(ids(&list(q).await), [stored[5].id]);
    let q = AuditQuery {
        resource: Some("/api/v1/scans/s1".into()),
        ..AuditQuery::default()
    };
    assert_eq!(
        ids(&list(q).await),
        [stored[5].id, stored[4].id, stored[1].id]
    );
    let q = AuditQuery {
        resource: Some("/api/v1/scans/s1/".into()),
        ..AuditQuery::default()
    };
    assert_eq!(
        ids(&list(q).await),
        [stored[5].id, stored[4].id, stored[1].id]
    );
    let q = AuditQuery {
        resource: Some("/api/v1/scans/s1/artifacts/a%".into()),
        ..AuditQuery::default()
    };
    assert!(list(q).await.items.is_empty(), "`%` is no wildcard");
    let q = AuditQuery {
        since: Some(sec(1)),
        until: Some(sec(4)),
        ..AuditQuery::default()
    };
    assert_eq!(ids(&list(q).await), [stored[3].id, stored[1].id]);
    let q = AuditQuery {
        user: Some("alice".into()),
        action: Some("scan.start".into()),
        outcome: Some(AuditOutcome::Success),
        resource: Some("/api/v1/scans/s1".into()),
        since: Some(sec(0)),
        until: Some(sec(10)),
        ..AuditQuery::default()
    };
    assert_eq!(ids(&list(q).await), [stored[1].id]);
}

/// The forwarder's audit feed: every org's records after a cursor, oldest first, in pages.
pub async fn audit_feed_reads_every_org_in_order<S: Store>(store: Arc<S>) {
    let (a, b) = (org("org-a"), org("org-b"));
    assert!(store.audit_since(0, 10).await.unwrap().is_empty());
    // Audit ids come from the events' sequence: never an event's id, and in the same order.
    store.create_scan(new_scan(&a, config())).await.unwrap();
    let between = store
        .append_audit(audit_record(
            &a,
            "u",
            "scan.create",
            "/r",
            201,
            chrono::Utc::now(),
        ))
        .await
        .unwrap();
    store.create_scan(new_scan(&b, config())).await.unwrap();
    let events: Vec<i64> = store
        .events_since(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(events.len(), 2);
    assert!(
        events[0] < between.id && between.id < events[1],
        "{events:?} vs {}",
        between.id
    );
    assert_eq!(store.last_event_id().await.unwrap(), events[1]);
    let now = chrono::Utc::now();
    let mut expected = vec![between];
    for i in 0u32..7 {
        let o = if i.is_multiple_of(2) { &a } else { &b };
        expected.push(
            store
                .append_audit(audit_record(o, "u", &format!("a{i}"), "/r", 200, now))
                .await
                .unwrap(),
        );
    }
    assert_eq!(store.audit_since(0, 1000).await.unwrap(), expected);
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = store.audit_since(after, 3).await.unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = last.id;
        paged.extend(page);
    }
    assert_eq!(paged, expected);
    let last = expected.last().unwrap().id;
    assert!(store.audit_since(last, 10).await.unwrap().is_empty());
    // Concurrent appends: every one gets its own id, and the feed reads each exactly once.
    let mut handles = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let a = a.clone();
        handles.push(tokio::spawn(async move {
            store
                .append_audit(audit_record(&a, "u", &format!("c{i}"), "/r", 200, now))
                .await
                .unwrap()
                .id
        }));
    }
    let mut ids = HashSet::new();
    for h in handles {
        assert!(ids.insert(h.await.unwrap()));
    }
    let fed: Vec<i64> = store
        .audit_since(last, 100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(fed.iter().copied().collect::<HashSet<_>>(), ids);
    assert!(fed.windows(2).all(|w| w[0] < w[1]));
}

/// API keys: found by prefix in any org, listed and revoked per org (or by the operator across
/// orgs), a duplicate prefix is a conflict, revoking keeps the record and its first time.
pub async fn api_keys_by_prefix_and_org<S: Store>(store: Arc<S>) {
    use crate::apikey::ApiKey;
    use crate::ids::{ApiKeyId, Role};
    use chrono::{Duration as ChronoDuration, TimeZone, Utc};

    let at = |s: i64| {
        Utc.timestamp_millis_opt(1_800_000_000_000 + s * 1000)
            .unwrap()
    };
    let key = |org: &str, prefix: &str, n: i64| ApiKey {
        id: ApiKeyId::new(),
        org: OrgId::parse(org).unwrap(),
        name: format!("key {n}"),
        role: Role::Analyst,
        prefix: prefix.to_string(),
        created_by: "cli".into(),
        created_at: at(n),
        expires_at: Some(at(n) + ChronoDuration::days(30)),
        revoked_at: None,
        last_used_at: None,
    };
    let a1 = key("acme", "aaaaaaaaaaa1", 1);
    let a2 = key("acme", "aaaaaaaaaaa2", 2);
    let b1 = key("globex", "bbbbbbbbbbb1", 3);
    for k in [&a1, &a2, &b1] {
        store
            .insert_api_key(k, &format!("hash-of-{}", k.prefix))
            .await
            .unwrap();
    }
    let dup = key("globex", "aaaaaaaaaaa1", 4);
    assert!(matches!(
        store.insert_api_key(&dup, "x").await,
        Err(CoreError::Conflict { .. })
    ));

    let found = store
        .api_key_by_prefix("bbbbbbbbbbb1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.key, b1);
    assert_eq!(found.hash, "hash-of-bbbbbbbbbbb1");
    assert!(store
        .api_key_by_prefix("zzzzzzzzzzzz")
        .await
        .unwrap()
        .is_none());

    let acme = OrgId::parse("acme").unwrap();
    let globex = OrgId::parse("globex").unwrap();
    let listed = store.list_api_keys(Some(&acme)).await.unwrap();
    assert_eq!(
        listed,
        vec![a2.clone(), a1.clone()],
        "newest first, one org"
    );
    assert_eq!(store.list_api_keys(None).await.unwrap().len(), 3);

    // Another org cannot revoke it; the operator (no org) and its own org can.
    assert!(matches!(
        store.revoke_api_key(Some(&globex), a1.id, at(10)).await,
        Err(CoreError::NotFound { .. })
    ));
    let revoked = store
        .revoke_api_key(Some(&acme), a1.id, at(10))
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at(10)));
    let again = store.revoke_api_key(None, a1.id, at(20)).await.unwrap();
    assert_eq!(
        again.revoked_at,
        Some(at(10)),
        "the first revocation time stays"
    );
    assert!(!again.usable_at(at(11)));
    assert!(store
        .list_api_keys(Some(&acme))
        .await
        .unwrap()
        .iter()
        .any(|k| k.id == a1.id));

    store.touch_api_key(a2.id, at(30)).await.unwrap();
    let touched = store
        .api_key_by_prefix("aaaaaaaaaaa2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(touched.key.last_used_at, Some(at(30)));
    assert!(touched.key.usable_at(at(31)));
    assert!(
        !touched.key.usable_at(at(2) + ChronoDuration::days(31)),
        "expired"
    );
}

/// Schedules: org-scoped CRUD by name, due lists across orgs, and ticks recorded by
/// compare-and-set on `next_fire_at` with `last_slot` only moving forwards.
pub async fn schedules_crud_and_ticks<S: Store>(store: Arc<S>) {
    use crate::ids::ScheduleId;
    use crate::schedule::{
        Concurrency, FireOutcome, MissedRuns, NewSchedule, ScheduleDef, ScheduleQuery, TickRecord,
    };
    let t = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let def = ScheduleDef {
        cron: "0 2 * * *".into(),
        timezone: "Europe/Paris".into(),
        template_id: None,
        targets: None,
        config: Some(config()),
        concurrency: Concurrency::Replace,
        missed_runs: MissedRuns::RunOnce,
        enabled: true,
    };
    let new = |o: &OrgId, name: &str, next: Option<&str>| NewSchedule {
        id: ScheduleId::new(),
        org: o.clone(),
        user: user(),
        name: name.into(),
        def: def.clone(),
        next_fire_at: next.map(t),
    };
    let (a, b) = (org("org-a"), org("org-b"));
    let nightly = store
        .create_schedule(new(&a, "nightly", Some("2026-03-01T01:00:00Z")))
        .await
        .unwrap();
    assert_eq!(
        (
            &nightly.def,
            nightly.next_fire_at,
            nightly.last_slot,
            &nightly.last_outcome
        ),
        (&def, Some(t("2026-03-01T01:00:00Z")), None, &None)
    );
    let hourly = store
        .create_schedule(new(&a, "hourly", Some("2026-03-01T00:00:00Z")))
        .await
        .unwrap();
    let off = store.create_schedule(new(&b, "off", None)).await.unwrap();
    let other = store
        .create_schedule(new(&b, "other", Some("2026-03-01T00:30:00Z")))
        .await
        .unwrap();
    match store
        .create_schedule(NewSchedule {
            id: nightly.id,
            ..new(&a, "dup", None)
        })
        .await
    {
        Err(CoreError::Conflict { .. }) => {}
        other => panic!("duplicate schedule id: {other:?}"),
    }

    // Org scoping and listing by name, paged.
    assert_eq!(store.get_schedule(&a, nightly.id).await.unwrap(), nightly);
    assert_not_found(store.get_schedule(&b, nightly.id).await, "get_schedule");
    assert_not_found(
        store.delete_schedule(&b, nightly.id).await,
        "delete_schedule",
    );
    assert_not_found(
        store.update_schedule(new(&b, "x", None)).await,
        "update_schedule",
    );
    let first = store
        .list_schedules(
            &a,
            &ScheduleQuery {
                cursor: None,
                limit: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        first.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![hourly.id]
    );
    let second = store
        .list_schedules(
            &a,
            &ScheduleQuery {
                cursor: first.next_cursor,
                limit: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        second.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![nightly.id]
    );
    assert!(second.next_cursor.is_none());

    // Due: every org, soonest first, never a disabled one.
    let due: Vec<ScheduleId> = store
        .due_schedules(t("2026-03-01T00:45:00Z"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(due, vec![hourly.id, other.id]);
    assert!(!due.contains(&off.id));

    // A tick: compare-and-set on next_fire_at.
    let scan = ScanId::new();
    let fired = TickRecord {
        expected_next: t("2026-03-01T00:00:00Z"),
        next_fire_at: Some(t("2026-03-01T01:00:00Z")),
        fired: Some((t("2026-03-01T00:00:00Z"), Some(scan), FireOutcome::Started)),
    };
    assert!(store.schedule_ticked(hourly.id, &fired).await.unwrap());
    assert!(
        !store.schedule_ticked(hourly.id, &fired).await.unwrap(),
        "a stale tick applies nothing"
    );
    let h = store.get_schedule(&a, hourly.id).await.unwrap();
    assert_eq!(
        (h.next_fire_at, h.last_slot, h.last_scan_id, h.last_outcome),
        (
            Some(t("2026-03-01T01:00:00Z")),
            Some(t("2026-03-01T00:00:00Z")),
            Some(scan),
            Some(FireOutcome::Started)
        )
    );
    // A slot at or before the last fired one is never recorded, even with the right
    // next_fire_at.
    let old = TickRecord {
        expected_next: t("2026-03-01T01:00:00Z"),
        next_fire_at: Some(t("2026-03-01T02:00:00Z")),
        fired: Some((t("2026-03-01T00:00:00Z"), None, FireOutcome::SkippedOverlap)),
    };
    assert!(!store.schedule_ticked(hourly.id, &old).await.unwrap());
    // A tick without a slot moves next_fire_at and keeps the history.
    let quiet = TickRecord {
        expected_next: t("2026-03-01T01:00:00Z"),
        next_fire_at: Some(t("2026-03-01T02:00:00Z")),
        fired: None,
    };
    assert!(store.schedule_ticked(hourly.id, &quiet).await.unwrap());
    let failed = TickRecord {
        expected_next: t("2026-03-01T02:00:00Z"),
        next_fire_at: None,
        fired: Some((
            t("2026-03-01T02:00:00Z"),
            None,
            FireOutcome::Failed("template gone".into()),
        )),
    };
    assert!(store.schedule_ticked(hourly.id, &failed).await.unwrap());
    let h = store.get_schedule(&a, hourly.id).await.unwrap();
    assert_eq!(
        (h.next_fire_at, h.last_slot, h.last_scan_id, h.last_outcome),
        (
            None,
            Some(t("2026-03-01T02:00:00Z")),
            None,
            Some(FireOutcome::Failed("template gone".into()))
        )
    );

    // An update keeps the history and takes the new next_fire_at.
    let mut changed = def.clone();
    changed.enabled = false;
    let u = store
        .update_schedule(NewSchedule {
            id: hourly.id,
            org: a.clone(),
            user: user(),
            name: "renamed".into(),
            def: changed.clone(),
            next_fire_at: None,
        })
        .await
        .unwrap();
    assert_eq!(
        (
            u.name.as_str(),
            &u.def,
            u.next_fire_at,
            u.last_slot,
            u.created_at
        ),
        ("renamed", &changed, None, h.last_slot, h.created_at)
    );
    store.delete_schedule(&a, hourly.id).await.unwrap();
    assert_not_found(store.get_schedule(&a, hourly.id).await, "deleted schedule");
}

/// Creates (derived from `source` when given), starts and stops a scan: it ends `cancelled`
/// with `finished_at` now.
async fn ended_scan<S: Store>(store: &S, o: &OrgId, source: Option<ScanId>) -> ScanId {
    let scan = store
        .create_scan(NewScan {
            source_scan_id: source,
            ..new_scan(o, config())
        })
        .await
        .unwrap();
    store
        .start_scan(o, scan.id, vec![task(scan.id, o, "r")])
        .await
        .unwrap();
    store
        .apply_action(o, scan.id, ScanAction::Stop)
        .await
        .unwrap();
    scan.id
}

/// Retention: `expired_scans` lists ended scans finished before the cutoff, per org scope,
/// oldest first, never a live scan or the source of a derived scan that has not ended;
/// `expire_scan` re-checks that and deletes like `delete_scan` (lazy clean-up).
pub async fn retention_expires_ended_scans<S: Store>(store: Arc<S>) {
    use crate::retention::{ExpiryQuery, OrgScope};
    let (a, b) = (org("org-a"), org("org-b"));
    let old = ended_scan(&*store, &a, None).await;
    let (running, _) = started(&*store, &a, config(), &["x"]).await;
    let never_started = store.create_scan(new_scan(&a, config())).await.unwrap().id;
    // A source whose clean scan is still pending (created, not started) stays.
    let needed = ended_scan(&*store, &a, None).await;
    let pending_clean = store
        .create_scan(NewScan {
            source_scan_id: Some(needed),
            ..new_scan(&a, config())
        })
        .await
        .unwrap()
        .id;
    // A source whose derived scan ended goes (and so does the derived scan).
    let done_source = ended_scan(&*store, &a, None).await;
    let done_derived = ended_scan(&*store, &a, Some(done_source)).await;
    let other_org = ended_scan(&*store, &b, None).await;

    let future = chrono::Utc::now() + chrono::Duration::hours(1);
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    let ids = |v: Vec<crate::scan::Scan>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    let except_b = ExpiryQuery {
        orgs: OrgScope::Except(vec![b.clone()]),
        before: future,
    };
    assert_eq!(
        ids(store.expired_scans(&except_b, 100).await.unwrap()),
        vec![old, done_source, done_derived],
        "ended scans of every org but b, oldest first"
    );
    assert_eq!(
        ids(store.expired_scans(&except_b, 2).await.unwrap()),
        vec![old, done_source],
        "limit"
    );
    let everyone = ExpiryQuery {
        orgs: OrgScope::Except(Vec::new()),
        before: future,
    };
    assert_eq!(
        ids(store.expired_scans(&everyone, 100).await.unwrap()),
        vec![old, done_source, done_derived, other_org]
    );
    let only_b = ExpiryQuery {
        orgs: OrgScope::Only(b.clone()),
        before: future,
    };
    assert_eq!(
        ids(store.expired_scans(&only_b, 100).await.unwrap()),
        vec![other_org]
    );
    let not_yet = ExpiryQuery {
        orgs: OrgScope::Except(Vec::new()),
        before: past,
    };
    assert!(store.expired_scans(&not_yet, 100).await.unwrap().is_empty());

    // expire_scan re-checks every condition.
    for (o, id, before, what) in [
        (&a, old, past, "not expired yet"),
        (&b, old, future, "another org's scan"),
        (&a, running, future, "a live scan"),
        (&a, never_started, future, "a scan that never ran"),
        (&a, needed, future, "the source of a pending clean"),
    ] {
        assert!(!store.expire_scan(o, id, before).await.unwrap(), "{what}");
        store.get_scan(&a, id).await.unwrap();
    }
    assert!(store.expire_scan(&a, old, future).await.unwrap());
    assert_not_found(store.get_scan(&a, old).await, "expired scan");
    assert!(
        store
            .pending_cleanups(100)
            .await
            .unwrap()
            .contains(&Cleanup {
                scan_id: old,
                deleted: true
            }),
        "the janitor clears an expired scan's rows"
    );
    assert!(!store.expire_scan(&a, old, future).await.unwrap(), "gone");
    // Once the clean scan has ended, its source may go.
    store
        .start_scan(&a, pending_clean, vec![task(pending_clean, &a, "c")])
        .await
        .unwrap();
    store
        .apply_action(&a, pending_clean, ScanAction::Stop)
        .await
        .unwrap();
    assert!(store.expire_scan(&a, needed, future).await.unwrap());
    assert!(store.expire_scan(&b, other_org, future).await.unwrap());
}
