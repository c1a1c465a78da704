//! Remediation as platform scanners: `git-clean` rewrites a repository's history to remove the
//! secrets selected in a secrets scan, `git-push` pushes the cleaned repository to a remote.
//! Both are internal scanners (`argus_core::remediation`): only the remediation service puts
//! them in a scan, with params it wrote, and hands them their input as a private file of their
//! own scan ([`argus_core::scanner::TaskInputs`]).
//!
//! Shared with direct mode (`argus clean`): [`find_values`], which scans a repository again and
//! keeps, in memory only, the values whose SHA-256 a selection names.
//!
//! Invariants:
//! - Secret values exist only in this process's memory, for the length of one task: found by
//!   [`find_values`], handed to the rewrite, dropped with it. Params, events, logs and artifacts
//!   carry hashes, counts and object ids.
//! - A plaintext copy of the source repository exists only in the task's work folder (removed
//!   by the runner after the task, whatever its outcome); the cleaned repository leaves it only
//!   as the clean scan's artifacts.
//! - Tokens reach `git` only through the child's environment ([`crate::push`]); errors are
//!   masked there.

mod clean;
mod push;

pub use clean::GitCleanScanner;
pub use push::GitPushScanner;

use crate::engine::{Engine, ScanControl, ScanPolicy};
use crate::finding::SecretValue;
use crate::git::GitScanOptions;
use crate::SecretsError;
use argus_core::scanner::{ScanError, TaskContext};
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// What [`find_values`] found.
#[derive(Debug, Default)]
pub struct FoundValues {
    /// SHA-256 → the value, for every wanted hash that occurs.
    pub values: BTreeMap<String, SecretValue>,
    /// Wanted hashes found only in encoded form (base64 and the like): the rewrite replaces
    /// plain occurrences, so these stay.
    pub encoded_only: BTreeSet<String>,
}

/// Scans `repo`'s history with `engine`, keeping the values whose SHA-256 is in `wanted`
/// (blocking; `ctl` cancels and reports progress).
pub fn find_values(
    engine: &Engine,
    repo: &Path,
    wanted: &BTreeSet<String>,
    threads: usize,
    ctl: &ScanControl,
) -> Result<FoundValues, SecretsError> {
    let opts = GitScanOptions {
        policy: ScanPolicy {
            keep_secret_values: true,
            threads,
            ..ScanPolicy::default()
        },
        ..GitScanOptions::default()
    };
    let mut found = FoundValues::default();
    engine.scan_git(repo, &opts, ctl, &mut |f| {
        if !wanted.contains(&f.sha256) {
            return;
        }
        if f.locations.iter().all(|l| l.encoding.is_some()) {
            found.encoded_only.insert(f.sha256.clone());
        }
        if let Some(v) = f.secret {
            found.values.insert(f.sha256, v);
        }
    })?;
    Ok(found)
}

/// Writes the task input `name` (a private file of the task's scan) to `dest`; `false` when
/// the scan has no such file.
async fn stage_input(
    ctx: &TaskContext,
    name: &argus_core::artifact::ArtifactName,
    dest: &Path,
) -> Result<bool, ScanError> {
    let Some(mut stream) = ctx.inputs.private_file(name).await? else {
        return Ok(false);
    };
    let io = |e: std::io::Error| ScanError::Failed(format!("staging the task input: {e}"));
    let mut file = tokio::fs::File::create(dest).await.map_err(io)?;
    loop {
        tokio::select! {
            chunk = stream.next() => match chunk {
                Some(bytes) => file.write_all(&bytes.map_err(|e| {
                    ScanError::Retryable(format!("reading the task input: {e}"))
                })?).await.map_err(io)?,
                None => break,
            },
            _ = ctx.cancel.cancelled() => return Err(ScanError::Cancelled),
        }
    }
    file.flush().await.map_err(io)?;
    file.sync_all().await.map_err(io)?;
    Ok(true)
}

/// Creates the task's work folder.
async fn work_dir(ctx: &TaskContext) -> Result<PathBuf, ScanError> {
    tokio::fs::create_dir_all(&ctx.work_dir)
        .await
        .map_err(|e| ScanError::Failed(format!("creating the work folder: {e}")))?;
    Ok(ctx.work_dir.clone())
}
