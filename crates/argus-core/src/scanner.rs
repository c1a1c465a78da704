//! The `Scanner` trait and the registry of scanners.
//!
//! A scanner consumes one task's target and reports through an [`Emitter`]: findings, new
//! targets for chaining (the engine applies scope, depth and dedup), explicit sub-tasks (fan-out,
//! same depth), and artifact files. It must honour its [`CancellationToken`]: the platform
//! promises that a stopped scan's scanners stop within one second.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::artifact::{ArtifactKey, ArtifactName, ArtifactStore, ByteStream};
use crate::finding::NewFinding;
use crate::ids::ScanId;
use crate::target::{Target, TargetKind};
use crate::task::Task;

/// Why a scanner run did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The task's cancellation token fired.
    #[error("cancelled")]
    Cancelled,
    /// A failure that will not go away by retrying (bad exit, malformed output, missing tool).
    #[error("{0}")]
    Failed(String),
    /// A failure that may succeed on another attempt (network blip, resource busy).
    #[error("{0} (retryable)")]
    Retryable(String),
}

impl ScanError {
    /// Whether the engine should retry the task (within `max_attempts`).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ScanError::Retryable(_))
    }
}

/// What a scanner says about itself (served by `GET /api/v1/scanners`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScannerInfo {
    /// Registry name, e.g. `noop` or `tool:subfinder`.
    pub name: String,
    pub description: String,
    /// `builtin` or `tool`.
    pub source: String,
    /// Target kinds the scanner accepts.
    pub target_kinds: Vec<TargetKind>,
    /// JSON schema of the scanner's params.
    #[schema(value_type = Object)]
    pub params_schema: serde_json::Value,
    /// Whether it can run on this machine (e.g. its executable is on PATH).
    pub available: bool,
    /// Why it is not available, or where its executable is.
    pub detail: Option<String>,
}

/// One thing a scanner reports. (Moved once through a channel, so the size spread is harmless.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Emission {
    Finding(NewFinding),
    /// A discovered target; becomes tasks for every scanner of the scan that accepts its kind,
    /// at depth + 1, if in scope and within the recursion depth.
    Target(Target),
    /// An explicit sub-task at the same depth (fan-out), with optional parameter overrides.
    SubTask {
        scanner: String,
        target: Target,
        params: Option<serde_json::Value>,
    },
    /// A file in the work folder to keep as an artifact (listed and downloadable by the scan's
    /// org). A name under `private/` is refused: that is what [`Emission::PrivateFile`] is for.
    Artifact {
        name: ArtifactName,
        path: PathBuf,
        content_type: String,
    },
    /// A file in the work folder to keep for the platform's own later use (a sealed repository
    /// copy), under a `private/` name ([`ArtifactName::private`]): stored with the scan's
    /// artifacts and deleted with them, but never recorded, listed or served.
    PrivateFile {
        name: ArtifactName,
        path: PathBuf,
    },
    /// Progress of an enumeration (only from a scanner whose [`Scanner::enumerates`] is true
    /// for the task's params): `expected_total` is how many sub-tasks the task will add in all,
    /// as soon as it knows (a listing count or an estimate); `complete` says it has added every
    /// one, which lets the scan's `enqueue_done` become true. A task that ends closes its
    /// enumeration anyway.
    Enumeration {
        expected_total: Option<u64>,
        complete: bool,
    },
    /// The verdict on one object (file scanners): stored once per `(scan, key)`, counted in the
    /// scan's progress. A detection should also be reported as a finding.
    Verdict(crate::detector::NewVerdict),
}

/// The channel a scanner reports through. Sending waits when the engine is behind (bounded),
/// and fails with [`ScanError::Cancelled`] once the engine stopped listening.
#[derive(Clone, Debug)]
pub struct Emitter {
    tx: mpsc::Sender<Emission>,
}

impl Emitter {
    /// An emitter and the receiving end the engine drains.
    pub fn channel(capacity: usize) -> (Emitter, mpsc::Receiver<Emission>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Emitter { tx }, rx)
    }

    /// Sends any emission.
    pub async fn send(&self, e: Emission) -> Result<(), ScanError> {
        self.tx.send(e).await.map_err(|_| ScanError::Cancelled)
    }

    /// Reports a finding.
    pub async fn finding(&self, f: NewFinding) -> Result<(), ScanError> {
        self.send(Emission::Finding(f)).await
    }

    /// Reports a discovered target.
    pub async fn target(&self, t: Target) -> Result<(), ScanError> {
        self.send(Emission::Target(t)).await
    }
}

/// Files the platform put aside for a task before it ran: the private files of the task's own
/// scan (a clean scan's copy of the source repository, a push scan's cleaned repository),
/// copied there by the service that created the scan after it checked the caller's org.
/// Scoped to the task's scan: a scanner cannot reach another scan's files through it, whatever
/// its params say.
#[derive(Clone, Default)]
pub struct TaskInputs {
    source: Option<(ScanId, Arc<dyn ArtifactStore>)>,
}

impl std::fmt::Debug for TaskInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskInputs")
            .field("scan", &self.source.as_ref().map(|(id, _)| id))
            .finish()
    }
}

impl TaskInputs {
    /// No inputs (direct mode, tests): every lookup answers `None`.
    pub fn none() -> Self {
        TaskInputs::default()
    }

    /// The private files of `scan` in `store`.
    pub fn of(scan: ScanId, store: Arc<dyn ArtifactStore>) -> Self {
        TaskInputs {
            source: Some((scan, store)),
        }
    }

    /// Streams the scan's private file `name`; `None` when there is none (or no inputs at all).
    /// A name outside `private/` is refused: public artifacts are outputs, not inputs.
    pub async fn private_file(&self, name: &ArtifactName) -> Result<Option<ByteStream>, ScanError> {
        if !name.is_private() {
            return Err(ScanError::Failed(format!(
                "task input '{}' is not a private file",
                name.as_str()
            )));
        }
        let Some((scan_id, store)) = &self.source else {
            return Ok(None);
        };
        let key = ArtifactKey {
            scan_id: *scan_id,
            name: name.clone(),
        };
        match store.get(&key).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(crate::error::CoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(ScanError::Retryable(format!(
                "reading task input '{}': {e}",
                name.as_str()
            ))),
        }
    }
}

/// Everything a scanner gets for one task.
#[derive(Debug)]
pub struct TaskContext {
    pub task: Task,
    /// The scan's params for this scanner, overridden by the task's own where given.
    pub params: serde_json::Value,
    pub cancel: CancellationToken,
    /// A private folder for this task, removed after it finishes.
    pub work_dir: PathBuf,
    pub emit: Emitter,
    /// Files put aside for this task by the platform (see [`TaskInputs`]).
    pub inputs: TaskInputs,
    /// What the task may reach on the network and how fast: a network scanner checks every
    /// address it connects to against `net.policy` and paces its requests with `net.rate`.
    pub net: crate::net::NetAccess,
}

/// A scanner. Implementations live in `argus-scanners` (and `argus-secrets`).
#[async_trait]
pub trait Scanner: Send + Sync + 'static {
    /// Self-description, including the params schema and availability.
    fn info(&self) -> ScannerInfo;

    /// Checks params against the scanner's schema at scan creation (not at run time).
    /// `Invalid.path` is a JSON pointer inside the params object (e.g. `/rate`).
    fn validate_params(&self, params: &serde_json::Value) -> Result<(), crate::error::CoreError>;

    /// Refuses at scan creation a target this scanner accepts by kind but cannot run (a storage
    /// scheme it has no connector for, a URL where it needs a local path, a missing credential):
    /// 422 naming why. The default accepts every target of an accepted kind.
    fn check_target(
        &self,
        target: &Target,
        params: &serde_json::Value,
    ) -> Result<(), crate::error::CoreError> {
        let _ = (target, params);
        Ok(())
    }

    /// Server paths these params name (rule files, wordlists), with the JSON pointer of each
    /// inside the params: the engine checks them against the local-access policy before the
    /// scan is accepted and before [`Scanner::validate_params`] may read them. Must not read
    /// the files. The default names none.
    fn local_paths(&self, params: &serde_json::Value) -> Vec<(String, PathBuf)> {
        let _ = params;
        Vec::new()
    }

    /// The content detector behind this scanner, for judging one uploaded file at once
    /// (`POST /api/v1/scan/binary`): `None` for scanners that are not file scanners.
    fn detector(
        &self,
        params: &serde_json::Value,
    ) -> Option<Result<Arc<dyn crate::detector::Detector>, String>> {
        let _ = params;
        None
    }

    /// Whether a task with these params enumerates (fans a listing out into sub-tasks and
    /// reports [`Emission::Enumeration`]): a scan is not complete while such a task is still
    /// enumerating. Most scanners never do.
    fn enumerates(&self, params: &serde_json::Value) -> bool {
        let _ = params;
        false
    }

    /// Target kinds this scanner may discover ([`Emission::Target`]), for planning the chain a
    /// scan may follow (`POST /api/v1/scans/plan`). The default discovers nothing.
    fn emits(&self) -> Vec<TargetKind> {
        Vec::new()
    }

    /// Runs on one task. Return promptly with `Cancelled` when `ctx.cancel` fires.
    async fn run(&self, ctx: &TaskContext) -> Result<(), ScanError>;
}

/// Scanners by registry name.
#[derive(Clone, Default)]
pub struct ScannerRegistry {
    scanners: BTreeMap<String, Arc<dyn Scanner>>,
    /// Target kinds per scanner, read once at registration: `info()` builds a whole
    /// description (schema, PATH lookup), too much for a question asked per chained target.
    kinds: BTreeMap<String, Vec<crate::target::TargetKind>>,
}

impl std::fmt::Debug for ScannerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.scanners.keys()).finish()
    }
}

impl ScannerRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a scanner under its own name.
    pub fn register(&mut self, scanner: Arc<dyn Scanner>) {
        let info = scanner.info();
        self.kinds.insert(info.name.clone(), info.target_kinds);
        self.scanners.insert(info.name, scanner);
    }

    /// Whether the named scanner exists and accepts targets of `kind`.
    pub fn accepts(&self, name: &str, kind: crate::target::TargetKind) -> bool {
        self.kinds.get(name).is_some_and(|k| k.contains(&kind))
    }

    /// A scanner by name.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Scanner>> {
        self.scanners.get(name)
    }

    /// Every scanner's self-description, by name.
    pub fn infos(&self) -> Vec<ScannerInfo> {
        self.scanners.values().map(|s| s.info()).collect()
    }

    /// Names of all scanners.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.scanners.keys().map(String::as_str)
    }
}
