//! Scanner conformance suite: what every [`Scanner`] promises the platform, checked the same way
//! for every registered scanner.
//!
//! A scanner crate provides a [`ScannerHarness`] that hands out [`ScannerFixture`]s (a harness
//! may cover several scanners, e.g. every built-in tool, so a new tool file is covered without
//! a new line), then generates one `#[tokio::test]` per check:
//!
//! ```ignore
//! struct Noop;
//! #[async_trait::async_trait]
//! impl ScannerHarness for Noop { /* fixtures() */ }
//! argus_core::scanner_suite_tests!(Noop);
//! ```
//!
//! The checks:
//! - [`accepts_declared_targets`]: it declares at least one target kind; the fixture has a
//!   target of every declared kind and each passes `check_target`; the registry says it accepts
//!   exactly those kinds; the fixture's params validate;
//! - [`rejects_bad_params_with_a_path`]: an unknown param and each of the fixture's bad params
//!   are refused with `CoreError::Invalid` naming the JSON pointer of the culprit;
//! - [`stops_within_one_second_of_cancel`]: a run that would go on for a long time returns
//!   `ScanError::Cancelled` within one second of its token firing;
//! - [`emits_stable_fingerprints`]: two runs of the same task emit at least one finding and the
//!   same set of fingerprints; for an action scanner ([`Emits::Artifacts`]: a clean, a push),
//!   at least one artifact and the same artifact names.
//!
//! A fixture may give its runs task inputs ([`ScannerFixture::with_input`]): private files put
//! under each run's scan in an in-memory artifact store, read through `TaskContext::inputs`.
//!
//! Runs are real: the scanner's own `run` with a real work folder, emissions drained as the
//! engine drains them. The generated tests need `tokio` (`macros`, `rt-multi-thread`) among the
//! calling crate's dev-dependencies.

// Test support: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::any::Any;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::artifact::{ArtifactKey, ArtifactName, ArtifactStore, ByteStream};
use crate::error::CoreError;
use crate::finding::NewFinding;
use crate::ids::{OrgId, ScanId, TaskId};
use crate::scan::Priority;
use crate::scanner::{
    Emission, Emitter, ScanError, Scanner, ScannerRegistry, TaskContext, TaskInputs,
};
use crate::target::{Target, TargetKind};
use crate::task::Task;

/// The promise [`stops_within_one_second_of_cancel`] checks.
pub const STOP_WITHIN: Duration = Duration::from_secs(1);

/// One run of a scanner: the scanner (possibly set up differently from the fixture's main one,
/// e.g. a tool whose stand-in executable hangs), a target and params.
#[derive(Clone)]
pub struct Run {
    pub scanner: Arc<dyn Scanner>,
    pub target: Target,
    pub params: serde_json::Value,
}

/// A scanner under test and what the checks need to exercise it.
pub struct ScannerFixture {
    /// The scanner as registered.
    pub scanner: Arc<dyn Scanner>,
    /// One target per declared kind, each runnable here or at least accepted at scan creation.
    pub targets: Vec<Target>,
    /// A run that succeeds and emits at least one finding (for the fingerprint check).
    pub run: Run,
    /// A run that goes on long enough to be cancelled mid-way.
    pub slow: Run,
    /// Params the schema must refuse, with the JSON pointer the error must name.
    pub bad_params: Vec<(serde_json::Value, String)>,
    /// What a successful run produces (findings, unless the scanner acts).
    pub emits: Emits,
    /// Private files every run's scan holds (its task inputs).
    pub inputs: Vec<(ArtifactName, Vec<u8>)>,
    // Dropped last: temporary folders, repositories, stand-in executables.
    _guard: Box<dyn Any + Send>,
}

impl ScannerFixture {
    /// A fixture whose resources `guard` keeps alive.
    pub fn new(
        scanner: Arc<dyn Scanner>,
        targets: Vec<Target>,
        run: Run,
        slow: Run,
        bad_params: Vec<(serde_json::Value, String)>,
        guard: impl Any + Send,
    ) -> Self {
        ScannerFixture {
            scanner,
            targets,
            run,
            slow,
            bad_params,
            emits: Emits::Findings,
            inputs: Vec::new(),
            _guard: Box::new(guard),
        }
    }

    /// For an action scanner: its runs emit artifacts, not findings.
    pub fn emitting_artifacts(mut self) -> Self {
        self.emits = Emits::Artifacts;
        self
    }

    /// Gives every run the private file `name` with `bytes` as a task input.
    pub fn with_input(mut self, name: ArtifactName, bytes: Vec<u8>) -> Self {
        self.inputs.push((name, bytes));
        self
    }
}

/// What a fixture's successful run must emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emits {
    /// At least one finding (scanners that look for something).
    Findings,
    /// At least one artifact (scanners that act: clean, push).
    Artifacts,
}

/// Task inputs in memory: the files of one fixture, under whichever scan a run has.
struct MemoryInputs(Vec<(ArtifactName, Vec<u8>)>);

#[async_trait]
impl ArtifactStore for MemoryInputs {
    fn backend(&self) -> &'static str {
        "memory"
    }
    async fn put(&self, _: &ArtifactKey, _: ByteStream) -> crate::error::Result<u64> {
        Err(CoreError::Backend("suite inputs are read-only".into()))
    }
    async fn put_file(&self, _: &ArtifactKey, _: &std::path::Path) -> crate::error::Result<u64> {
        Err(CoreError::Backend("suite inputs are read-only".into()))
    }
    async fn get(&self, key: &ArtifactKey) -> crate::error::Result<ByteStream> {
        let bytes = self
            .0
            .iter()
            .find(|(n, _)| n == &key.name)
            .map(|(_, b)| bytes::Bytes::from(b.clone()))
            .ok_or_else(|| CoreError::not_found("artifact", key.name.as_str()))?;
        Ok(Box::pin(one_chunk(bytes)))
    }
    async fn delete_scan(&self, _: ScanId) -> crate::error::Result<()> {
        Ok(())
    }
    async fn ping(&self) -> crate::error::Result<()> {
        Ok(())
    }
}

/// A stream of one chunk.
fn one_chunk(
    b: bytes::Bytes,
) -> impl futures_core::Stream<Item = std::io::Result<bytes::Bytes>> + Send {
    struct Once(Option<bytes::Bytes>);
    impl futures_core::Stream for Once {
        type Item = std::io::Result<bytes::Bytes>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.take().map(Ok))
        }
    }
    Once(Some(b))
}

/// How the suite obtains the scanners of one crate (or one family, like the built-in tools).
#[async_trait]
pub trait ScannerHarness: Send + Sync {
    /// Fresh fixtures, one per scanner covered; never empty.
    async fn fixtures(&self) -> Vec<ScannerFixture>;
}

/// Generates one `#[tokio::test]` per suite check for a harness expression. Invoke it once per
/// harness, inside its own `mod` when a file holds several.
#[macro_export]
macro_rules! scanner_suite_tests {
    ($harness:expr) => {
        $crate::scanner_suite_tests!(@each $harness;
            accepts_declared_targets,
            rejects_bad_params_with_a_path,
            stops_within_one_second_of_cancel,
            emits_stable_fingerprints,
        );
    };
    (@each $harness:expr; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let harness = $harness;
                $crate::testkit::scanner_suite::$check(&harness).await;
            }
        )*
    };
}

/// A valid target of `kind` that names nothing real (for kinds a fixture does not run on).
pub fn sample_target(kind: TargetKind) -> Target {
    let value = match kind {
        TargetKind::Repo => "/srv/repos/app",
        TargetKind::Location => "file:///srv/data",
        TargetKind::Object => "file:///srv/data/report.txt",
        TargetKind::Domain => "example.com",
        TargetKind::Ip => "192.0.2.1",
        TargetKind::Cidr => "192.0.2.0/24",
        TargetKind::Url => "https://example.com/",
        TargetKind::Email => "security@example.com",
        TargetKind::Upload => "upload-1",
        TargetKind::Service => "example.com:443",
    };
    Target::parse(kind, value).expect("sample target")
}

/// A param of the schema's top level and a value of the wrong type for it, with the pointer
/// the error must name: a bad-params case derived from any schema with a typed property.
pub fn wrong_type_param(schema: &serde_json::Value) -> Option<(serde_json::Value, String)> {
    let props = schema.get("properties")?.as_object()?;
    props.iter().find_map(|(name, p)| {
        let wrong = match p.get("type")?.as_str()? {
            "string" => serde_json::json!(5),
            "integer" | "number" | "boolean" | "array" | "object" => serde_json::json!("wrong"),
            _ => return None,
        };
        Some((
            serde_json::json!({ name.clone(): wrong }),
            format!("/{name}"),
        ))
    })
}

/// What one run emitted and how it ended.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<(), ScanError>,
    pub findings: Vec<NewFinding>,
    pub targets: Vec<Target>,
    /// Names of the artifacts emitted.
    pub artifacts: Vec<String>,
    /// Every other emission (sub-tasks, private files, enumeration reports), counted.
    pub others: usize,
}

/// Runs `run` once as a worker would: a fresh task and work folder, emissions drained
/// concurrently; `cancel` is the task's token.
pub async fn run_once(run: &Run, cancel: CancellationToken) -> Outcome {
    run_with(run, cancel, &[]).await
}

/// [`run_once`] with task inputs.
pub async fn run_with(
    run: &Run,
    cancel: CancellationToken,
    inputs: &[(ArtifactName, Vec<u8>)],
) -> Outcome {
    let name = run.scanner.info().name;
    let work = tempfile::tempdir().expect("work folder");
    let task = Task {
        id: TaskId::new(),
        scan_id: ScanId::new(),
        org_id: OrgId::parse("suite").expect("org id"),
        scanner: name,
        target: run.target.clone(),
        depth: 0,
        priority: Priority::Medium,
        max_attempts: 1,
        params: None,
        enumerates: false,
    };
    let (emit, mut rx) = Emitter::channel(256);
    let drain = tokio::spawn(async move {
        let (mut findings, mut targets, mut artifacts, mut others) =
            (Vec::new(), Vec::new(), Vec::new(), 0);
        while let Some(e) = rx.recv().await {
            match e {
                Emission::Finding(f) => findings.push(f),
                Emission::Target(t) => targets.push(t),
                Emission::Artifact { name, .. } => artifacts.push(name.as_str().to_owned()),
                _ => others += 1,
            }
        }
        (findings, targets, artifacts, others)
    });
    let inputs = if inputs.is_empty() {
        TaskInputs::none()
    } else {
        TaskInputs::of(task.scan_id, Arc::new(MemoryInputs(inputs.to_vec())))
    };
    let ctx = TaskContext {
        task,
        params: run.params.clone(),
        cancel,
        work_dir: work.path().to_path_buf(),
        emit,
        inputs,
        // Fixtures point at servers on loopback; the guard has tests of its own.
        net: crate::net::NetAccess::unrestricted(),
    };
    let result = run.scanner.run(&ctx).await;
    drop(ctx);
    let (findings, targets, artifacts, others) = drain.await.expect("drain task");
    Outcome {
        result,
        findings,
        targets,
        artifacts,
        others,
    }
}

async fn fixtures(h: &dyn ScannerHarness) -> Vec<ScannerFixture> {
    let fx = h.fixtures().await;
    assert!(!fx.is_empty(), "the harness covers no scanner");
    fx
}

fn invalid_path(r: Result<(), CoreError>, what: &str) -> String {
    match r {
        Err(CoreError::Invalid { path, .. }) => path,
        other => panic!("{what}: expected Invalid with a path, got {other:?}"),
    }
}

/// The scanner declares target kinds, and accepts a target of each (and no other kind).
pub async fn accepts_declared_targets(h: &dyn ScannerHarness) {
    for fx in fixtures(h).await {
        let info = fx.scanner.info();
        let name = info.name.clone();
        assert!(
            !info.target_kinds.is_empty(),
            "{name} declares no target kind"
        );
        let mut reg = ScannerRegistry::new();
        reg.register(fx.scanner.clone());
        for kind in TargetKind::ALL {
            assert_eq!(
                reg.accepts(&name, kind),
                info.target_kinds.contains(&kind),
                "{name}: the registry's answer for {kind} differs from what it declares"
            );
        }
        for kind in &info.target_kinds {
            let t = fx.targets.iter().find(|t| t.kind() == *kind);
            let t = t.unwrap_or_else(|| panic!("{name}: the fixture has no {kind} target"));
            fx.scanner
                .check_target(t, &fx.run.params)
                .unwrap_or_else(|e| panic!("{name} refuses its declared {kind} target {t}: {e}"));
        }
        fx.scanner
            .validate_params(&fx.run.params)
            .unwrap_or_else(|e| panic!("{name} refuses its fixture's params: {e}"));
        fx.scanner
            .validate_params(&fx.slow.params)
            .unwrap_or_else(|e| panic!("{name} refuses its slow run's params: {e}"));
        assert!(
            info.params_schema.is_object(),
            "{name}: params schema is not an object"
        );
    }
}

/// Bad params are refused at validation, naming the JSON pointer of the culprit.
pub async fn rejects_bad_params_with_a_path(h: &dyn ScannerHarness) {
    for fx in fixtures(h).await {
        let name = fx.scanner.info().name;
        let unknown = serde_json::json!({"no_such_param_for_the_suite": 1});
        assert_eq!(
            invalid_path(
                fx.scanner.validate_params(&unknown),
                &format!("{name}, unknown param")
            ),
            "/no_such_param_for_the_suite",
            "{name}"
        );
        assert!(
            !fx.bad_params.is_empty(),
            "{name}: the fixture lists no bad params"
        );
        for (bad, want) in &fx.bad_params {
            let got = invalid_path(fx.scanner.validate_params(bad), &format!("{name}, {bad}"));
            assert_eq!(&got, want, "{name}: wrong path for {bad}");
        }
    }
}

/// A long run returns `Cancelled` within one second of its token firing.
pub async fn stops_within_one_second_of_cancel(h: &dyn ScannerHarness) {
    for fx in fixtures(h).await {
        let name = fx.scanner.info().name;
        let cancel = CancellationToken::new();
        let run = fx.slow.clone();
        let token = cancel.clone();
        let inputs = fx.inputs.clone();
        let running = tokio::spawn(async move { run_with(&run, token, &inputs).await });
        // Long enough for the run to be under way (a process started, a blob being read).
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !running.is_finished(),
            "{name}: the slow run ended before it was cancelled"
        );
        let at = Instant::now();
        cancel.cancel();
        let out = tokio::time::timeout(STOP_WITHIN * 5, running)
            .await
            .unwrap_or_else(|_| panic!("{name} did not stop within 5 s of cancel"))
            .expect("run task");
        let took = at.elapsed();
        assert!(
            took <= STOP_WITHIN,
            "{name} took {took:?} to stop after cancel (promise: {STOP_WITHIN:?})"
        );
        assert!(
            matches!(out.result, Err(ScanError::Cancelled)),
            "{name}: a cancelled run must end Cancelled, got {:?}",
            out.result
        );
    }
}

/// Two runs of the same task emit findings with the same fingerprints (an action scanner: the
/// same artifacts).
pub async fn emits_stable_fingerprints(h: &dyn ScannerHarness) {
    for fx in fixtures(h).await {
        let name = fx.scanner.info().name;
        let mut sets = Vec::new();
        for round in 0..2 {
            let out = run_with(&fx.run, CancellationToken::new(), &fx.inputs).await;
            assert!(out.result.is_ok(), "{name}, run {round}: {:?}", out.result);
            if fx.emits == Emits::Artifacts {
                assert!(
                    !out.artifacts.is_empty(),
                    "{name}, run {round}: the fixture's run emitted no artifact"
                );
                let names: BTreeSet<String> = out.artifacts.iter().cloned().collect();
                assert_eq!(
                    names.len(),
                    out.artifacts.len(),
                    "{name}: an artifact twice"
                );
                sets.push(names);
                continue;
            }
            assert!(
                !out.findings.is_empty(),
                "{name}, run {round}: the fixture's run emitted no finding"
            );
            let fps: BTreeSet<String> =
                out.findings.iter().map(|f| f.fingerprint.clone()).collect();
            assert_eq!(
                fps.len(),
                out.findings.len(),
                "{name}, run {round}: one run emitted a fingerprint twice"
            );
            sets.push(fps);
        }
        assert_eq!(sets[0], sets[1], "{name}: fingerprints differ between runs");
    }
}
