//! Tasks: one unit of work — (scan, scanner, target, depth, attempt).
//!
//! Delivery is at-least-once. Exactly-once *accounting* comes from the store's task ledger:
//! every task is recorded there (keyed by `(scan, dedup_key)`) before it reaches the queue, and a
//! task's terminal status is recorded once, however many times it is delivered.

use serde::{Deserialize, Serialize};

use crate::artifact::ArtifactMeta;
use crate::finding::NewFinding;
use crate::ids::{OrgId, ScanId, TaskId};
use crate::scan::Priority;
use crate::target::Target;

/// A task as it travels on the queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub scan_id: ScanId,
    pub org_id: OrgId,
    /// Registry name of the scanner to run.
    pub scanner: String,
    pub target: Target,
    /// Chaining depth: 0 for the scan's own targets.
    pub depth: u32,
    pub priority: Priority,
    pub max_attempts: u32,
    /// Parameters overriding the scan's parameters for this scanner (fan-out sub-tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    /// The task enumerates (lists a location and fans out one sub-task per object): while it
    /// has not finished enumerating, its scan's `enqueue_done` is false. Set by the engine from
    /// [`Scanner::enumerates`](crate::scanner::Scanner::enumerates).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enumerates: bool,
}

impl Task {
    /// Key under which a scan dedups its tasks: the same scanner on the same target runs once.
    pub fn dedup_key(&self) -> String {
        format!("{}\u{1f}{}", self.scanner, self.target.key())
    }
}

/// An opaque handle on one delivery of a task; acking with a stale token is a no-op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseToken {
    /// Backend-specific delivery handle (row id, delivery tag).
    pub tag: u64,
    /// Distinguishes successive deliveries of the same handle (attempt counter, channel epoch).
    pub generation: u64,
}

/// One delivery of a task to a worker.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub lease: LeaseToken,
    pub task: Task,
    /// 1 on first delivery, incremented on every re-delivery (expired lease, retry).
    pub attempt: u32,
}

/// What happened to a task, as the engine reports it to the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TaskStatus {
    /// Still running: a mid-run flush of findings and spawned tasks.
    Running,
    /// Finished successfully.
    Done,
    /// Failed for good (error kept); counted in `failed`.
    Failed { error: String },
    /// Not run because its scan is paused; re-published on resume.
    Parked,
    /// Not run because its scan is finished or cancelled.
    Dropped,
}

impl TaskStatus {
    /// Whether the status ends the task (for counting).
    pub fn is_terminal(&self) -> bool {
        matches!(self, TaskStatus::Done | TaskStatus::Failed { .. })
    }
}

/// What an enumerating task reported about its enumeration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnumerationUpdate {
    /// Sub-tasks it still expects to add (an estimate), when it knows.
    pub remaining: Option<u64>,
    /// It has added every sub-task it will add.
    pub complete: bool,
}

/// Everything one task produced, committed by the store in one transaction with the status.
#[derive(Clone, Debug)]
pub struct TaskReport {
    pub task_id: TaskId,
    pub scan_id: ScanId,
    pub scanner: String,
    /// Copied from [`Task::enumerates`]: the store closes the task's enumeration when it ends.
    pub enumerates: bool,
    /// The latest enumeration report of an enumerating task, if it made one.
    pub enumeration: Option<EnumerationUpdate>,
    pub status: TaskStatus,
    pub findings: Vec<NewFinding>,
    /// Tasks to add to the scan (already filtered by scope and depth); deduped by the store.
    pub spawned: Vec<Task>,
    pub artifacts: Vec<ArtifactMeta>,
    /// Verdicts on objects (file scanners); idempotent on `(scan, key)`.
    pub verdicts: Vec<crate::detector::NewVerdict>,
}

impl TaskReport {
    /// A report with only a status.
    pub fn status(task: &Task, status: TaskStatus) -> Self {
        TaskReport {
            task_id: task.id,
            scan_id: task.scan_id,
            scanner: task.scanner.clone(),
            enumerates: task.enumerates,
            enumeration: None,
            status,
            findings: Vec::new(),
            spawned: Vec::new(),
            artifacts: Vec::new(),
            verdicts: Vec::new(),
        }
    }
}
