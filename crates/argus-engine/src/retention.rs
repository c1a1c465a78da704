//! Retention and garbage collection: expires ended scans past their org's retention
//! (`[retention]`, [`argus_core::retention`]) and removes what nothing owns any more — artifact
//! folders of scans the store no longer knows, and task work folders no task of this process
//! uses.
//!
//! [`sweep`] does one pass for a given instant (injectable, so tests and `argus admin gc --now`
//! need no clock games) and reports what went — or, with `dry_run`, what would go — as a
//! [`GcReport`]. The monitor runs it every `retention_interval` while it holds the `scheduler`
//! lease ([`Sweeper`]), in a task of its own so a long listing never delays the lease renewal.
//!
//! Invariants:
//! - Nothing a live scan or a pending clean or push still needs is touched: only ended scans
//!   expire, never the source of a derived scan that has not ended, and the store re-checks
//!   both in the transaction that deletes (`Store::expire_scan`).
//! - Expiring is the delete path: the scan row goes at once, the janitor
//!   ([`crate::monitor::clean_up`]) removes its tasks, findings, events and artifact records in
//!   batches and then its artifact blobs; a crash between the two leaves a folder without a
//!   scan, which the orphan pass below removes.
//! - Orphans are taken only once they are older than [`ORPHAN_GRACE`] (by the newest
//!   modification of anything inside), so a write in progress — an upload, a scan being
//!   created, a task starting — is never removed.
//! - Work folders are judged on this machine only (`EngineConfig::work_root` is local): a
//!   folder goes when it is older than the grace, its task is not in flight in the store (it
//!   may run in another process on this machine) and does not run in this process
//!   ([`crate::runner`] registers the folders in use); that last check and a rename out of the
//!   way happen under the registry's lock, so a task starting at that moment gets a fresh
//!   folder.
//! - A dry run changes nothing.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::task::JoinHandle;

use argus_core::artifact::StoredScan;
use argus_core::ids::{ScanId, TaskId};
use argus_core::scan::ScanState;
use argus_core::CoreError;

use crate::Engine;

/// How old an orphan (artifact folder, work folder) must be before it is removed.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// Expired scans asked for (and deleted) per store call.
const BATCH: u32 = 500;
/// Most expired scans a dry run lists per retention query.
const DRY_RUN_LIMIT: u32 = 10_000;
/// Scan ids looked up per store call when checking artifact folders.
const LOOKUP_CHUNK: usize = 500;
/// Prefix of a work folder moved out of the way before it is removed.
const DOOMED_PREFIX: &str = ".gc-";

/// What one sweep removed, or would remove on a dry run.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct GcReport {
    pub dry_run: bool,
    /// The instant the sweep judged ages against.
    pub now: DateTime<Utc>,
    /// Expired scans (deleted: the janitor then clears their rows and artifacts).
    pub scans: Vec<ExpiredScan>,
    /// Expired scans counted by org.
    pub scans_by_org: BTreeMap<String, u64>,
    /// Artifact folders of scans the store does not know.
    pub orphan_artifacts: Vec<OrphanArtifacts>,
    /// Task work folders no task of this process uses.
    pub work_folders: Vec<OrphanFolder>,
    /// Bytes freed: the expired scans' artifacts, orphan artifacts and work folders.
    pub bytes: u64,
    /// A dry run stopped listing at its limit: more would go.
    pub truncated: bool,
}

/// One expired scan.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ExpiredScan {
    pub id: ScanId,
    pub org: String,
    pub name: String,
    pub state: ScanState,
    pub finished_at: Option<DateTime<Utc>>,
    /// Bytes of its artifacts in the artifact store.
    pub bytes: u64,
}

/// One artifact folder without a scan.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OrphanArtifacts {
    pub scan_id: ScanId,
    pub objects: u64,
    pub bytes: u64,
    pub last_modified: DateTime<Utc>,
}

/// One task work folder.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OrphanFolder {
    pub path: PathBuf,
    pub bytes: u64,
    pub last_modified: DateTime<Utc>,
}

/// One retention and clean-up pass at `now` (see the module docs); with `dry_run`, only
/// reports. Errors of the store or the artifact store end the pass (the next one resumes);
/// a work folder that cannot be removed is logged and skipped.
pub async fn sweep(
    engine: &Engine,
    now: DateTime<Utc>,
    dry_run: bool,
) -> argus_core::Result<GcReport> {
    let mut report = GcReport {
        dry_run,
        now,
        ..GcReport::default()
    };
    let stored = engine.artifacts().list_scans().await?;
    let sizes: BTreeMap<ScanId, u64> = stored.iter().map(|s| (s.scan_id, s.bytes)).collect();
    expire_scans(engine, now, dry_run, &sizes, &mut report).await?;
    let expired: HashSet<ScanId> = report.scans.iter().map(|s| s.id).collect();
    orphan_artifacts(engine, now, dry_run, stored, &expired, &mut report).await?;
    work_folders(engine, now, dry_run, &mut report).await;
    report.bytes = report.scans.iter().map(|s| s.bytes).sum::<u64>()
        + report.orphan_artifacts.iter().map(|o| o.bytes).sum::<u64>()
        + report.work_folders.iter().map(|f| f.bytes).sum::<u64>();
    Ok(report)
}

async fn expire_scans(
    engine: &Engine,
    now: DateTime<Utc>,
    dry_run: bool,
    sizes: &BTreeMap<ScanId, u64>,
    report: &mut GcReport,
) -> argus_core::Result<()> {
    let store = engine.store();
    for query in engine.config().retention.queries(now) {
        if dry_run {
            let scans = store.expired_scans(&query, DRY_RUN_LIMIT).await?;
            report.truncated |= scans.len() >= DRY_RUN_LIMIT as usize;
            for s in scans {
                report.add_scan(s, sizes);
            }
            continue;
        }
        loop {
            let batch = store.expired_scans(&query, BATCH).await?;
            let mut progressed = false;
            let full = batch.len() >= BATCH as usize;
            for s in batch {
                // Re-checked in the deleting transaction: a clean scan created meanwhile keeps
                // its source.
                if store.expire_scan(&s.org_id, s.id, query.before).await? {
                    progressed = true;
                    tracing::info!(scan = %s.id, org = %s.org_id, "scan expired");
                    report.add_scan(s, sizes);
                }
            }
            // A batch where nothing went would come back the same: stop.
            if !full || !progressed {
                break;
            }
        }
    }
    Ok(())
}

impl GcReport {
    fn add_scan(&mut self, s: argus_core::scan::Scan, sizes: &BTreeMap<ScanId, u64>) {
        *self
            .scans_by_org
            .entry(s.org_id.as_str().to_owned())
            .or_default() += 1;
        self.scans.push(ExpiredScan {
            bytes: sizes.get(&s.id).copied().unwrap_or(0),
            id: s.id,
            org: s.org_id.as_str().to_owned(),
            name: s.name,
            state: s.state,
            finished_at: s.finished_at,
        });
    }
}

fn grace_cutoff(now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::from_std(ORPHAN_GRACE).unwrap_or(chrono::Duration::hours(1))
}

async fn orphan_artifacts(
    engine: &Engine,
    now: DateTime<Utc>,
    dry_run: bool,
    stored: Vec<StoredScan>,
    expired: &HashSet<ScanId>,
    report: &mut GcReport,
) -> argus_core::Result<()> {
    let cutoff = grace_cutoff(now);
    // Folders of scans expired in this pass are the janitor's (after their records).
    let old: Vec<StoredScan> = stored
        .into_iter()
        .filter(|s| s.last_modified < cutoff && !expired.contains(&s.scan_id))
        .collect();
    for chunk in old.chunks(LOOKUP_CHUNK) {
        let ids: Vec<ScanId> = chunk.iter().map(|s| s.scan_id).collect();
        let known: HashSet<ScanId> = engine
            .store()
            .scans_by_ids(&ids)
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect();
        for s in chunk.iter().filter(|s| !known.contains(&s.scan_id)) {
            if !dry_run {
                engine.artifacts().delete_scan(s.scan_id).await?;
                tracing::info!(scan = %s.scan_id, bytes = s.bytes, "orphan artifacts removed");
            }
            report.orphan_artifacts.push(OrphanArtifacts {
                scan_id: s.scan_id,
                objects: s.objects,
                bytes: s.bytes,
                last_modified: s.last_modified,
            });
        }
    }
    Ok(())
}

async fn work_folders(engine: &Engine, now: DateTime<Utc>, dry_run: bool, report: &mut GcReport) {
    let root = engine.config().work_root.clone();
    let cutoff = grace_cutoff(now);
    // Blocking file-system work (a walk of lstat calls, removals), off the async threads.
    let listed = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || old_work_folders(&root, cutoff, dry_run)).await
    };
    let candidates = match listed {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not list task work folders");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "task work folder listing stopped");
            return;
        }
    };
    // A task the store still has in flight may run in another process on this machine
    // (`argus admin gc` beside a server): its folder stays too.
    let mut in_flight: HashSet<TaskId> = HashSet::new();
    let ids: Vec<TaskId> = candidates.iter().map(|c| c.0).collect();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        match engine.store().in_flight_tasks(chunk).await {
            Ok(live) => in_flight.extend(live),
            Err(e) => {
                tracing::warn!(error = %e, "could not check task work folders");
                return;
            }
        }
    }
    let candidates: Vec<(TaskId, OrphanFolder)> = candidates
        .into_iter()
        .filter(|(id, _)| !in_flight.contains(id))
        .collect();
    let removed =
        tokio::task::spawn_blocking(move || remove_work_folders(&root, candidates, dry_run)).await;
    match removed {
        Ok(folders) => report.work_folders = folders,
        Err(e) => tracing::warn!(error = %e, "task work folder sweep stopped"),
    }
}

/// Task folders (`<work_root>/<task id>`) whose newest modification is before `cutoff`; also
/// removes what an interrupted earlier sweep moved out of the way (unless `dry_run`).
fn old_work_folders(
    root: &Path,
    cutoff: DateTime<Utc>,
    dry_run: bool,
) -> std::io::Result<Vec<(TaskId, OrphanFolder)>> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        if name.starts_with(DOOMED_PREFIX) {
            if !dry_run {
                remove_any(&path);
            }
            continue;
        }
        // Only task folders are ours to judge.
        let Ok(task) = name.parse::<TaskId>() else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let (bytes, last) = if meta.is_dir() {
            size_and_newest(&path, modified(&meta))
        } else {
            (meta.len(), modified(&meta))
        };
        if last < cutoff {
            out.push((
                task,
                OrphanFolder {
                    path,
                    bytes,
                    last_modified: last,
                },
            ));
        }
    }
    out.sort_by(|a, b| a.1.path.cmp(&b.1.path));
    Ok(out)
}

/// Removes (or, on a dry run, only checks) each folder no task of this process uses.
fn remove_work_folders(
    root: &Path,
    candidates: Vec<(TaskId, OrphanFolder)>,
    dry_run: bool,
) -> Vec<OrphanFolder> {
    let mut out = Vec::new();
    for (task, f) in candidates {
        if dry_run {
            if crate::runner::unless_in_use(&f.path, || ()).is_some() {
                out.push(f);
            }
            continue;
        }
        // Moved out of the way under the registry's lock, removed after it.
        let doomed = root.join(format!(
            "{DOOMED_PREFIX}{task}-{}",
            uuid::Uuid::now_v7().simple()
        ));
        match crate::runner::unless_in_use(&f.path, || std::fs::rename(&f.path, &doomed)) {
            None => {} // a task of this process uses it
            Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Some(Err(e)) => {
                tracing::warn!(dir = %f.path.display(), error = %e, "could not remove work folder");
            }
            Some(Ok(())) => {
                remove_any(&doomed);
                tracing::info!(dir = %f.path.display(), bytes = f.bytes, "orphan work folder removed");
                out.push(f);
            }
        }
    }
    out
}

/// Removes a folder tree or a file (a link is removed, never followed).
fn remove_any(path: &Path) {
    let r = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => return,
    };
    if let Err(e) = r {
        tracing::warn!(dir = %path.display(), error = %e, "could not remove work folder");
    }
}

/// Total file size and newest modification below `dir`, links not followed.
fn size_and_newest(dir: &Path, mut newest: DateTime<Utc>) -> (u64, DateTime<Utc>) {
    let mut bytes = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (bytes, newest);
    };
    for entry in entries.flatten() {
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        newest = newest.max(modified(&meta));
        if meta.is_dir() {
            let (b, n) = size_and_newest(&entry.path(), newest);
            bytes += b;
            newest = n;
        } else {
            bytes += meta.len();
        }
    }
    (bytes, newest)
}

fn modified(meta: &std::fs::Metadata) -> DateTime<Utc> {
    // Without modification times nothing is ever old enough to go.
    meta.modified()
        .map(DateTime::<Utc>::from)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The monitor's periodic sweep: due every `retention_interval`, one at a time, each in its
/// own task (see the module docs).
#[derive(Debug, Default)]
pub struct Sweeper {
    next: Option<tokio::time::Instant>,
    running: Option<JoinHandle<()>>,
}

impl Sweeper {
    /// Called on every tick the monitor leads: starts a sweep when one is due and none runs.
    pub fn tick(&mut self, engine: &Arc<Engine>) {
        let interval = engine.config().retention_interval;
        if interval.is_zero() || self.running.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let now = tokio::time::Instant::now();
        if self.next.is_some_and(|next| now < next) {
            return;
        }
        self.next = Some(now + interval);
        let engine = engine.clone();
        self.running = Some(tokio::spawn(async move {
            match sweep(&engine, Utc::now(), false).await {
                Ok(r) => {
                    if !(r.scans.is_empty()
                        && r.orphan_artifacts.is_empty()
                        && r.work_folders.is_empty())
                    {
                        tracing::info!(
                            scans = r.scans.len(),
                            orphan_artifacts = r.orphan_artifacts.len(),
                            work_folders = r.work_folders.len(),
                            bytes = r.bytes,
                            "retention sweep"
                        );
                    }
                }
                Err(e) => log_failure(&e),
            }
        }));
    }

    /// Stops a sweep in progress (shutdown); every step is safe to interrupt.
    pub fn stop(&mut self) {
        if let Some(h) = self.running.take() {
            h.abort();
        }
    }
}

fn log_failure(e: &CoreError) {
    tracing::warn!(error = %e, "retention sweep failed; the next one resumes");
}
