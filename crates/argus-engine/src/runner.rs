//! Runs one task with its scanner: the platform's one run loop, shared by the worker pool
//! ([`crate::worker`]) and direct mode (`argus scan <scanner> <target>` in the CLI).
//!
//! A run gives the scanner a [`CancellationToken`], a work folder and an [`Emitter`], and turns
//! what it emits into a [`TaskReport`] by the engine's rules. Where partial reports go is the
//! caller's [`ReportSink`]: the worker commits them to the store, direct mode prints them.
//!
//! Invariants kept here (the same for both callers):
//! - the task's target passes the local-access policy right before the run (the configuration
//!   may have changed since creation, and a file may have become a symlink);
//! - what a task discovers (targets, and findings that finding rules match) becomes tasks for
//!   the scanners the chaining rules ([`ChainRules`]) choose among the scan's, only at depth + 1
//!   within `recursion_depth`, inside `scope` (explicit, or the seeds' by default), past the
//!   local-access policy and the network guard (for addresses and blocks; names are checked
//!   when scanners resolve them), and only while the scan has not reached `max_results`; a
//!   target the scope or the guard refuses is reported once as a [`SKIPPED_KIND`] finding with
//!   the reason, never as an error; a sub-task needs a known scanner and passes the
//!   local-access policy, at the same depth;
//! - a chained task carries its lineage (the tasks that led to it) in a params envelope the
//!   run unwraps before the scanner sees its params; its findings carry that lineage in
//!   `data.lineage`;
//! - each task gets the network guard (direct mode: none for the targets a person named) and
//!   a rate gate holding the scan's, its scanner's and the global limits;
//! - an artifact under `private/` is refused; a private file is stored but never recorded;
//! - a task's inputs ([`TaskInputs`]) are its own scan's private files, nothing else;
//! - a partial report is handed to the sink once `flush_at` findings and tasks piled up, or at
//!   once after an enumeration report (progress and `enqueue_done` are live state);
//! - the work folder is removed after the run.
//!
//! Deduplication and the `max_tasks` limit apply where tasks are admitted: in the store's
//! `record` for the platform, in direct mode's own queue (by [`Task::dedup_key`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use argus_core::artifact::{ArtifactKey, ArtifactMeta, ArtifactStore};
use argus_core::chain::ChainRules;
use argus_core::finding::{NewFinding, Severity};
use argus_core::net::NetAccess;
use argus_core::scan::ScanConfig;
use argus_core::scanner::{
    Emission, Emitter, ScanError, Scanner, ScannerRegistry, TaskContext, TaskInputs,
};
use argus_core::target::Target;
use argus_core::task::{Task, TaskReport, TaskStatus};

use crate::policy::LocalAccess;
use crate::Engine;

/// Where a running task's partial reports go (status `Running`): committed by the worker,
/// printed by direct mode. A sink that can fail retries inside `flush`; the run waits for it.
pub trait ReportSink: Send {
    /// Takes the findings, tasks, artifacts and enumeration state collected since the last flush.
    fn flush(&mut self, partial: TaskReport) -> impl Future<Output = ()> + Send;
}

/// What a run needs from its surroundings: scanners (to build chained tasks), the local-access
/// policy, where artifacts go, where work folders live and when to flush early.
#[derive(Clone, Copy)]
pub struct TaskRunner<'a> {
    pub registry: &'a ScannerRegistry,
    pub local: &'a LocalAccess,
    /// Where emitted artifacts go, and where a task's inputs (its scan's private files) are read.
    pub artifacts: &'a Arc<dyn ArtifactStore>,
    /// Parent of per-task work folders (`<work_root>/<task id>`).
    pub work_root: &'a Path,
    /// Findings plus tasks collected before a partial report is flushed.
    pub flush_at: usize,
    /// What tasks may reach on the network (the guard and the rate gate).
    pub net: &'a NetAccess,
    /// Tasks at depth 0 reach their targets whatever the guard says: direct mode, where the
    /// person named them on the command line. Chained tasks always pass the guard.
    pub trust_seeds: bool,
    /// Which scanners run on what tasks discover.
    pub rules: &'a ChainRules,
    /// Each task's rate gate.
    pub rates: &'a crate::rate::RateLimiter,
}

impl std::fmt::Debug for TaskRunner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRunner")
            .field("work_root", &self.work_root)
            .field("flush_at", &self.flush_at)
            .finish_non_exhaustive()
    }
}

/// The outcome of one run: the scanner's result, and what it emitted that was not flushed yet.
/// The caller decides from `result` what to do with the rest ([`Ran::flush`] it, or close it
/// into a final report with [`Ran::into_report`]).
pub struct Ran<'a, S> {
    pub result: Result<(), ScanError>,
    collector: Collector<'a, S>,
}

impl<S> std::fmt::Debug for Ran<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ran")
            .field("result", &self.result)
            .finish_non_exhaustive()
    }
}

impl<S: ReportSink> Ran<'_, S> {
    /// Hands what was collected so far to the sink (status `Running`).
    pub async fn flush(&mut self) {
        self.collector.flush().await;
    }

    /// What was collected and not flushed, as the task's final report with `status`.
    pub fn into_report(self, status: TaskStatus) -> TaskReport {
        self.collector.into_report(status)
    }
}

impl<'a> TaskRunner<'a> {
    /// The runner of an engine's workers: its registry, policy, artifact store and work root.
    pub fn of(engine: &'a Engine, flush_at: usize) -> Self {
        TaskRunner {
            registry: engine.registry(),
            local: engine.local_access(),
            artifacts: engine.artifacts(),
            work_root: &engine.config().work_root,
            flush_at,
            net: engine.net(),
            trust_seeds: false,
            rules: &engine.config().chain_rules,
            rates: engine.rates(),
        }
    }

    /// Runs `task` with `scanner` under `config` (its scanners, depth, scope and `max_results`;
    /// `findings` is how many the scan had when the task started). Params are the task's own,
    /// else the scan's for its scanner, else `{}`.
    pub async fn run<S: ReportSink>(
        &self,
        scanner: &dyn Scanner,
        config: &'a ScanConfig,
        findings: u64,
        task: &'a Task,
        cancel: CancellationToken,
        sink: S,
    ) -> Ran<'a, S> {
        let mut collector = Collector::new(*self, config, findings, task, sink);
        if let Err(why) = self.local.check(&task.target) {
            // Checked at creation too; the server's configuration may have changed since.
            return Ran {
                result: Err(ScanError::Failed(why)),
                collector,
            };
        }
        let (own, lineage) = unwrap_lineage(task.params.as_ref());
        collector.lineage = lineage;
        let params = own.unwrap_or_else(|| scan_params(config, &task.scanner));
        let work_dir = self.work_root.join(task.id.to_string());
        // Registered while the task runs, so the retention sweep never removes it.
        let _in_use = WorkDirClaim::new(work_dir.clone());
        let (emitter, mut rx) = Emitter::channel(256);
        let ctx = TaskContext {
            task: task.clone(),
            params,
            cancel,
            work_dir: work_dir.clone(),
            emit: emitter,
            inputs: TaskInputs::of(task.scan_id, self.artifacts.clone()),
            net: NetAccess {
                policy: if self.trust_seeds && task.depth == 0 {
                    argus_core::net::NetPolicy::allow_all()
                } else {
                    self.net.policy.clone()
                },
                rate: self
                    .rates
                    .gate(task.scan_id, &task.scanner, config.rate_limit),
            },
        };
        let result = {
            let run = scanner.run(&ctx);
            tokio::pin!(run);
            loop {
                tokio::select! {
                    biased;
                    Some(e) = rx.recv() => {
                        collector.push(e).await;
                        if collector.len() >= self.flush_at || collector.urgent {
                            collector.flush().await;
                        }
                    }
                    r = &mut run => break r,
                }
            }
        };
        drop(ctx);
        while let Ok(e) = rx.try_recv() {
            collector.push(e).await;
        }
        remove_work_dir(work_dir).await;
        Ran { result, collector }
    }
}

/// The finding kind of a discovered target that was not followed because the scope or the
/// network guard refused it: counted with the scan's findings, with the reason.
pub const SKIPPED_KIND: &str = "scope-skipped";

/// A chained task's params are an envelope: its lineage and the params it runs with.
const LINEAGE_KEY: &str = "_lineage";
const PARAMS_KEY: &str = "_params";

/// Splits a task's params into the scanner's own params (`None`: the scan's) and the lineage.
fn unwrap_lineage(
    params: Option<&serde_json::Value>,
) -> (Option<serde_json::Value>, Vec<serde_json::Value>) {
    match params {
        Some(serde_json::Value::Object(map)) if map.contains_key(LINEAGE_KEY) => {
            let lineage = map
                .get(LINEAGE_KEY)
                .and_then(serde_json::Value::as_array)
                .cloned()
                .unwrap_or_default();
            (map.get(PARAMS_KEY).cloned(), lineage)
        }
        other => (other.cloned(), Vec::new()),
    }
}

/// The scan's params for `scanner`, or `{}`.
fn scan_params(config: &ScanConfig, scanner: &str) -> serde_json::Value {
    config
        .scanners
        .iter()
        .find(|s| s.name == scanner)
        .map(|s| s.params.clone())
        .unwrap_or_else(|| serde_json::json!({}))
}

/// The network guard on a discovered target that names an address or a block (names are
/// checked by the scanners when they resolve them).
fn guard(policy: &argus_core::net::NetPolicy, t: &Target) -> Result<(), String> {
    use argus_core::target::TargetKind;
    match t.kind() {
        TargetKind::Cidr => match t.value().parse::<argus_core::net::IpNet>() {
            Ok(net) => policy.permits_net(&net).map_err(|d| d.to_string()),
            Err(_) => Ok(()),
        },
        TargetKind::Ip | TargetKind::Service | TargetKind::Url => {
            match t.host().and_then(|h| h.parse::<std::net::IpAddr>().ok()) {
                Some(ip) => policy.check(ip).map_err(|d| d.to_string()),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// Work folders tasks of this process use (a count per folder): the retention sweep
/// ([`crate::retention`]) leaves them alone.
static WORK_DIRS_IN_USE: std::sync::Mutex<BTreeMap<PathBuf, usize>> =
    std::sync::Mutex::new(BTreeMap::new());

/// A work folder registered as in use until dropped.
struct WorkDirClaim(PathBuf);

impl WorkDirClaim {
    fn new(dir: PathBuf) -> Self {
        let mut in_use = WORK_DIRS_IN_USE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *in_use.entry(dir.clone()).or_default() += 1;
        WorkDirClaim(dir)
    }
}

impl Drop for WorkDirClaim {
    fn drop(&mut self) {
        let mut in_use = WORK_DIRS_IN_USE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = in_use.get_mut(&self.0) {
            *n -= 1;
            if *n == 0 {
                in_use.remove(&self.0);
            }
        }
    }
}

/// Runs `f` unless a task of this process uses `dir` (`None` then), holding the registry so no
/// task can start using it meanwhile; `f` must be quick (a rename).
pub(crate) fn unless_in_use<R>(dir: &Path, f: impl FnOnce() -> R) -> Option<R> {
    let in_use = WORK_DIRS_IN_USE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    (!in_use.contains_key(dir)).then(f)
}

async fn remove_work_dir(dir: PathBuf) {
    // Most scanners never create their work folder. A plain lstat (microseconds, never blocks
    // for long) avoids a blocking-pool round trip per task, which dominated no-op throughput.
    if std::fs::symlink_metadata(&dir).is_ok() {
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove task work folder");
        }
    }
}

/// Turns a task's emissions into a report: findings, chained tasks, artifacts.
struct Collector<'a, S> {
    runner: TaskRunner<'a>,
    config: &'a ScanConfig,
    task: &'a Task,
    sink: S,
    report: TaskReport,
    /// Whether chaining is still allowed (`max_results` not yet reached when claimed).
    may_spawn: bool,
    /// Sub-tasks this task has emitted so far (an enumeration's progress).
    subtasks: u64,
    /// Flush at once: an enumeration reported (progress and `enqueue_done` are live state).
    urgent: bool,
    /// The chain of tasks that led to this one (empty for the scan's own targets).
    lineage: Vec<serde_json::Value>,
    /// The scan's scanner names, which the chaining rules choose among.
    scan_scanners: Vec<&'a str>,
}

impl<'a, S: ReportSink> Collector<'a, S> {
    fn new(
        runner: TaskRunner<'a>,
        config: &'a ScanConfig,
        findings: u64,
        task: &'a Task,
        sink: S,
    ) -> Self {
        let may_spawn = config.max_results.is_none_or(|max| findings < max);
        Collector {
            runner,
            config,
            task,
            sink,
            report: TaskReport::status(task, TaskStatus::Running),
            may_spawn,
            subtasks: 0,
            urgent: false,
            lineage: Vec::new(),
            scan_scanners: config.scanners.iter().map(|s| s.name.as_str()).collect(),
        }
    }

    fn len(&self) -> usize {
        self.report.findings.len() + self.report.spawned.len() + self.report.verdicts.len()
    }

    /// Whether there is anything to flush early.
    fn is_empty(&self) -> bool {
        self.len() == 0 && self.report.artifacts.is_empty() && self.report.enumeration.is_none()
    }

    fn child(
        &self,
        scanner: &str,
        target: Target,
        depth: u32,
        params: Option<serde_json::Value>,
    ) -> Task {
        // Whether the child enumerates depends on the params it will run with: its own, or the
        // scan's for its scanner.
        let enumerates = self.runner.registry.get(scanner).is_some_and(|s| {
            let scan_params = self
                .config
                .scanners
                .iter()
                .find(|spec| spec.name == scanner)
                .map(|spec| &spec.params);
            let (own, _) = unwrap_lineage(params.as_ref());
            match own.as_ref().or(scan_params) {
                Some(p) => s.enumerates(p),
                None => s.enumerates(&serde_json::Value::Object(Default::default())),
            }
        });
        Task {
            id: argus_core::ids::TaskId::new(),
            scan_id: self.task.scan_id,
            org_id: self.task.org_id.clone(),
            scanner: scanner.to_owned(),
            target,
            depth,
            priority: self.task.priority,
            max_attempts: self.task.max_attempts,
            params,
            enumerates,
        }
    }

    /// A chained task for what a rule (or the open default) decided, at depth + 1, if the
    /// depth, the scope, the local-access policy and the network guard let it through. A
    /// target refused by the scope or the guard is reported once as a `scope-skipped` finding
    /// (never an error of the scan).
    fn follow(&mut self, follow: argus_core::chain::Follow) {
        let depth = self.task.depth + 1;
        if !self.may_spawn || depth > self.config.recursion_depth {
            return;
        }
        let t = follow.target;
        let judged = self
            .config
            .scope
            .judge(&t, &self.config.targets, &self.task.target)
            .and_then(|()| guard(&self.runner.net.policy, &t));
        if let Err(reason) = judged {
            self.skipped(&t, reason);
            return;
        }
        if let Err(why) = self.runner.local.check(&t) {
            tracing::warn!(scan = %self.task.scan_id, target = %t, reason = %why, "discovered target skipped");
            return;
        }
        let mut lineage = self.lineage.clone();
        lineage.push(self.step());
        let params = follow
            .params
            .unwrap_or_else(|| scan_params(self.config, &follow.scanner));
        let envelope = serde_json::json!({ LINEAGE_KEY: lineage, PARAMS_KEY: params });
        let child = self.child(&follow.scanner, t, depth, Some(envelope));
        self.report.spawned.push(child);
    }

    /// This task as a lineage step.
    fn step(&self) -> serde_json::Value {
        serde_json::json!({
            "task": self.task.id.to_string(),
            "scanner": self.task.scanner,
            "target": self.task.target.to_string(),
        })
    }

    /// Adds `lineage` (the chain of tasks that led to the finding, this one last) to its data.
    fn stamp_lineage(&self, f: &mut NewFinding) {
        let mut chain = self.lineage.clone();
        chain.push(self.step());
        let chain = serde_json::Value::Array(chain);
        match &mut f.data {
            serde_json::Value::Object(map) => {
                map.insert("lineage".into(), chain);
            }
            serde_json::Value::Null => f.data = serde_json::json!({ "lineage": chain }),
            other => {
                let value = std::mem::take(other);
                f.data = serde_json::json!({ "value": value, "lineage": chain });
            }
        }
    }

    /// Reports a discovered target the scope or the network guard refused.
    fn skipped(&mut self, t: &Target, reason: String) {
        tracing::debug!(scan = %self.task.scan_id, target = %t, %reason, "discovered target skipped");
        let mut f = NewFinding::new(
            SKIPPED_KIND,
            Severity::Info,
            format!("Skipped {t}"),
            self.task.target.clone(),
            &[SKIPPED_KIND, &t.key()],
        );
        // One target refused for several scanners is one finding (the store dedups across
        // reports by fingerprint; this keeps a report free of repeats).
        if self
            .report
            .findings
            .iter()
            .any(|seen| seen.fingerprint == f.fingerprint)
        {
            return;
        }
        f.description = Some(reason.clone());
        f.data = serde_json::json!({ "skipped": t.to_string(), "reason": reason });
        if !self.lineage.is_empty() {
            self.stamp_lineage(&mut f);
        }
        self.report.findings.push(f);
    }

    async fn push(&mut self, e: Emission) {
        let registry = self.runner.registry;
        let local = self.runner.local;
        match e {
            // Findings are validated here, where emissions arrive, and nowhere after: the store
            // takes the report as it is.
            Emission::Finding(mut f) => match f.validate() {
                Ok(()) => {
                    let follows = self.runner.rules.follow_finding(
                        &self.scan_scanners,
                        &self.task.scanner,
                        &f,
                        |s, k| registry.accepts(s, k),
                    );
                    for follow in follows {
                        self.follow(follow);
                    }
                    if !self.lineage.is_empty() {
                        self.stamp_lineage(&mut f);
                    }
                    self.report.findings.push(f);
                }
                Err(e) => {
                    tracing::warn!(scan = %self.task.scan_id, task = %self.task.id, error = %e, "skipping invalid finding");
                }
            },
            Emission::Verdict(v) => match v.validate() {
                Ok(()) => self.report.verdicts.push(v),
                Err(e) => {
                    tracing::warn!(scan = %self.task.scan_id, task = %self.task.id, error = %e, "skipping invalid verdict");
                }
            },
            Emission::Target(t) => {
                let follows = self.runner.rules.follow_target(
                    &self.scan_scanners,
                    &self.task.scanner,
                    &t,
                    |s, k| registry.accepts(s, k),
                );
                for follow in follows {
                    self.follow(follow);
                }
            }
            Emission::SubTask {
                scanner,
                target,
                params,
            } => {
                if !self.may_spawn {
                    return;
                }
                if registry.get(&scanner).is_none() {
                    tracing::warn!(scanner, "sub-task for an unknown scanner ignored");
                    return;
                }
                if let Err(why) = local.check(&target) {
                    tracing::warn!(scan = %self.task.scan_id, target = %target, reason = %why, "sub-task skipped");
                    return;
                }
                self.subtasks += 1;
                let child = self.child(&scanner, target, self.task.depth, params);
                self.report.spawned.push(child);
            }
            Emission::Enumeration {
                expected_total,
                complete,
            } => {
                if !self.task.enumerates {
                    tracing::debug!(task = %self.task.id, "enumeration report from a task that does not enumerate ignored");
                    return;
                }
                let prev = self.report.enumeration.unwrap_or_default();
                self.report.enumeration = Some(argus_core::task::EnumerationUpdate {
                    // What it still expects to add: its total minus what it added so far.
                    remaining: expected_total
                        .map(|t| t.saturating_sub(self.subtasks))
                        .or(prev.remaining),
                    complete: complete || prev.complete,
                });
                self.urgent = true;
            }
            Emission::Artifact { name, .. } if name.is_private() => {
                tracing::warn!(
                    task = %self.task.id,
                    artifact = name.as_str(),
                    "artifact under private/ refused: such names are kept only as private files"
                );
            }
            Emission::PrivateFile { name, .. } if !name.is_private() => {
                tracing::warn!(
                    task = %self.task.id,
                    artifact = name.as_str(),
                    "private file refused: its name must start with private/"
                );
            }
            Emission::PrivateFile { name, path } => {
                // Stored beside the scan's artifacts (deleted with them) but never recorded,
                // so it is never listed or served.
                let key = ArtifactKey {
                    scan_id: self.task.scan_id,
                    name: name.clone(),
                };
                if let Err(e) = self.runner.artifacts.put_file(&key, &path).await {
                    tracing::warn!(artifact = name.as_str(), error = %e, "could not keep private file");
                }
            }
            Emission::Artifact {
                name,
                path,
                content_type,
            } => {
                let key = ArtifactKey {
                    scan_id: self.task.scan_id,
                    name: name.clone(),
                };
                match self.runner.artifacts.put_file(&key, &path).await {
                    Ok(size) => self.report.artifacts.push(ArtifactMeta {
                        scan_id: self.task.scan_id,
                        org_id: self.task.org_id.clone(),
                        name,
                        size,
                        content_type,
                        created_at: chrono::Utc::now(),
                    }),
                    Err(e) => {
                        tracing::warn!(artifact = name.as_str(), error = %e, "could not keep artifact")
                    }
                }
            }
        }
    }

    /// Hands what was collected so far (status `Running`) to the sink.
    async fn flush(&mut self) {
        if self.is_empty() {
            return;
        }
        let partial = std::mem::replace(
            &mut self.report,
            TaskReport::status(self.task, TaskStatus::Running),
        );
        // An enumeration's state carries on: the next report repeats it unless updated.
        self.report.enumeration = partial.enumeration;
        self.urgent = false;
        self.sink.flush(partial).await;
    }

    fn into_report(mut self, status: TaskStatus) -> TaskReport {
        self.report.status = status;
        self.report
    }
}

/// The worker's sink: commits a partial report in its own `Store::record` transaction, retrying
/// while the store is down, then publishes its events and wakes the relay for spawned tasks.
pub(crate) struct StoreSink<'a>(pub(crate) &'a Arc<Engine>);

impl ReportSink for StoreSink<'_> {
    async fn flush(&mut self, partial: TaskReport) {
        let engine = self.0;
        let mut delay = std::time::Duration::from_millis(100);
        loop {
            match engine.store().record(vec![partial.clone()]).await {
                Ok(out) => {
                    engine.publish(&out.events);
                    if out.spawned > out.published {
                        engine.wake_relay();
                    }
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not flush task results; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(5));
                }
            }
        }
    }
}
