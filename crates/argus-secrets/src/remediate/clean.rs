//! `git-clean`: one task per clean scan, on the source scan's repository target.
//!
//! 1. The repository: the source scan's sealed copy when the service staged one (opened with
//!    the server's repository copy key into the work folder, then `git clone --mirror` of the
//!    bundle), else a fresh clone of the target with the source scan's credential, else (a local
//!    repository the server may read) the repository in place, read-only.
//! 2. The values: a rescan keeps, in memory, the values whose SHA-256 a selected finding names
//!    ([`super::find_values`]); a selected hash that no longer occurs fails the task, naming how
//!    many are missing.
//! 3. The rewrite ([`crate::rewrite::rewrite_history`]) into `work/clean.git`, cancellable.
//! 4. The results, as public artifacts of the clean scan: the bundle of every ref, a `.tar.gz`
//!    and a `.zip` of a bare mirror, the commit map, and a JSON report (counts, refs updated,
//!    signatures dropped, LFS pointers left, notes not re-keyed; no values).

use super::{clean_schema, find_values, parse_params, stage_input, work_dir};
use crate::export::{export_to_file, ExportFormat};
use crate::remote::{self, GitOptions};
use crate::rewrite::{rewrite_history, RewriteControl, RewriteError, RewritePlan, RewriteReport};
use crate::scanner::{engine_error, git_error, SecretsScanner};
use argus_core::artifact::ArtifactName;
use argus_core::remediation::{self as contract, CleanParams, CLEAN_SCANNER, INTERNAL_SOURCE};
use argus_core::scanner::{Emission, ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::target::TargetKind;
use argus_core::CoreError;
use async_trait::async_trait;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Limit per `git` run of a clean (clone, bundle, archives).
const GIT_TIMEOUT: Duration = Duration::from_secs(3600);

/// The `git-clean` scanner; shares the `secrets` scanner's engine, `git`, credentials and key.
#[derive(Debug)]
pub struct GitCleanScanner {
    secrets: Arc<SecretsScanner>,
}

impl GitCleanScanner {
    /// The scanner over `secrets`' rules, credentials and repository copy key.
    pub fn new(secrets: Arc<SecretsScanner>) -> Self {
        GitCleanScanner { secrets }
    }

    fn git(&self) -> GitOptions {
        self.secrets.git_options(GIT_TIMEOUT)
    }

    /// The repository to rewrite, in (or, for a local one, outside) the work folder.
    async fn repository(
        &self,
        ctx: &TaskContext,
        params: &CleanParams,
        work: &Path,
    ) -> Result<PathBuf, ScanError> {
        let target = &ctx.task.target;
        let git = self.git();
        let sealed = work.join("source.bundle.sealed");
        let copy = contract::repo_copy_name(target)
            .map_err(|e| ScanError::Failed(format!("repository copy name: {e}")))?;
        if stage_input(ctx, &copy, &sealed).await? {
            let Some(key) = self.secrets.repo_copy_key.clone() else {
                return Err(ScanError::Failed("the secrets scan kept a sealed copy of the repository, but this server has no repository copy key (secrets.repo_copy_key_env) to open it".into()));
            };
            let plain = work.join("source.bundle");
            let (s, p) = (sealed.clone(), plain.clone());
            tokio::task::spawn_blocking(move || crate::sealed::open_file(&key, &s, &p))
                .await
                .map_err(|e| ScanError::Failed(format!("opening the repository copy: {e}")))?
                .map_err(|e| {
                    ScanError::Failed(format!(
                        "opening the repository copy: {e} (was the repository copy key changed since the scan?)"
                    ))
                })?;
            let _ = tokio::fs::remove_file(&sealed).await;
            let dest = work.join("source.git");
            let cloned =
                remote::clone_into(&plain.to_string_lossy(), &dest, &git, &ctx.cancel).await;
            let _ = tokio::fs::remove_file(&plain).await;
            cloned.map_err(git_error)?;
            return Ok(dest);
        }
        let value = target.value();
        if remote::is_clone_url(value) {
            let auth = self
                .secrets
                .auth_for(value, params.credential.as_deref())
                .map_err(ScanError::Failed)?;
            let ssh_dir = work.join("ssh");
            let clone_git = self.secrets.clone_options(&git, auth, &ssh_dir).await?;
            let dest = work.join("source.git");
            let cloned = remote::clone_into(value, &dest, &clone_git, &ctx.cancel).await;
            let _ = tokio::fs::remove_dir_all(&ssh_dir).await;
            cloned.map_err(git_error)?;
            return Ok(dest);
        }
        // A local repository (the runner checked the local-access policy): read in place.
        let p = PathBuf::from(value);
        if !crate::is_git_repository(&p) {
            return Err(ScanError::Failed(format!(
                "{value} is not a git repository (any more)"
            )));
        }
        Ok(p)
    }

    /// Emits `path` as the public artifact `name`.
    async fn artifact(
        ctx: &TaskContext,
        name: &str,
        path: PathBuf,
        content_type: &str,
    ) -> Result<(), ScanError> {
        let name = ArtifactName::parse(name)
            .map_err(|e| ScanError::Failed(format!("artifact name {name}: {e}")))?;
        ctx.emit
            .send(Emission::Artifact {
                name,
                path,
                content_type: content_type.to_owned(),
            })
            .await
    }
}

/// Sets the flag when dropped, so an abandoned run stops its blocking work too.
struct CancelOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `job` on the blocking pool; `cancel` firing sets `flag` and returns `Cancelled`.
async fn blocking<T: Send + 'static>(
    ctx: &TaskContext,
    flag: Arc<std::sync::atomic::AtomicBool>,
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ScanError> {
    let _guard = CancelOnDrop(flag.clone());
    let mut handle = tokio::task::spawn_blocking(job);
    tokio::select! {
        r = &mut handle => r.map_err(|e| ScanError::Failed(format!("clean worker failed: {e}"))),
        _ = ctx.cancel.cancelled() => {
            flag.store(true, Ordering::Relaxed);
            // Let the work notice and clean up before the work folder goes.
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut handle).await;
            Err(ScanError::Cancelled)
        }
    }
}

fn report_json(r: &RewriteReport, selected: usize, encoded_only: &BTreeSet<String>) -> Value {
    json!({
        "selected": selected,
        "commits_total": r.commits_total,
        "commits_rewritten": r.commits_rewritten,
        "blobs_scanned": r.blobs_scanned,
        "blobs_changed": r.blobs_changed,
        "trees_changed": r.trees_changed,
        "tags_rewritten": r.tags_rewritten,
        "messages_changed": r.messages_changed,
        "refs_updated": r.refs_updated,
        "refs": r.refs,
        "signatures_dropped": r.signatures_dropped,
        "lfs_pointers_left": r.lfs_pointers_left,
        "notes_not_remapped": r.notes_not_remapped,
        "encoded_only": encoded_only,
    })
}

#[async_trait]
impl Scanner for GitCleanScanner {
    fn info(&self) -> ScannerInfo {
        ScannerInfo {
            name: CLEAN_SCANNER.into(),
            description: "Rewrites a repository's history so the secrets selected in a secrets scan are gone (run by POST /api/v1/scans/{id}/clean).".into(),
            source: INTERNAL_SOURCE.into(),
            target_kinds: vec![TargetKind::Repo],
            params_schema: clean_schema().0.clone(),
            available: true,
            detail: None,
        }
    }

    fn validate_params(&self, params: &Value) -> Result<(), CoreError> {
        parse_params::<CleanParams>(clean_schema(), params).map(|_| ())
    }

    async fn run(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        if ctx.cancel.is_cancelled() {
            return Err(ScanError::Cancelled);
        }
        let params: CleanParams = parse_params(clean_schema(), &ctx.params)
            .map_err(|e| ScanError::Failed(format!("git-clean params: {e}")))?;
        if params.selected.is_empty() {
            return Err(ScanError::Failed("nothing selected to clean".into()));
        }
        let work = work_dir(ctx).await?;
        let repo = self.repository(ctx, &params, &work).await?;

        // Find the selected values again.
        let engine = self.secrets.engine().await?;
        let wanted: BTreeSet<String> = params.selected.iter().map(|s| s.sha256.clone()).collect();
        let scan_ctl = crate::engine::ScanControl::new();
        let (r, w, c) = (repo.clone(), wanted.clone(), scan_ctl.clone());
        let found = blocking(ctx, scan_ctl.cancel.clone(), move || {
            find_values(&engine, &r, &w, 0, &c)
        })
        .await?
        .map_err(engine_error)?;
        let missing = wanted
            .iter()
            .filter(|h| !found.values.contains_key(*h))
            .count();
        if missing > 0 {
            return Err(ScanError::Failed(format!(
                "{missing} of the {} selected secret(s) no longer occur in the repository (was it rescanned with other rules, or already cleaned?)",
                wanted.len()
            )));
        }
        // One replacement per value: a rule's own replacement when one of the rules that found
        // the value has one (the same value may be selected under several rules), else the
        // default.
        let mut plan = RewritePlan {
            messages: params.messages,
            ..RewritePlan::default()
        };
        for (sha256, value) in &found.values {
            let with = params
                .selected
                .iter()
                .filter(|s| &s.sha256 == sha256)
                .find_map(|s| params.replace_rules.get(&s.rule_id))
                .unwrap_or(&params.replacement);
            plan.add(value.clone(), with.clone());
        }
        let encoded_only = found.encoded_only.clone();
        drop(found);

        // Rewrite.
        let out = work.join("clean.git");
        let ctl = RewriteControl::default();
        let (src, dst, c) = (repo.clone(), out.clone(), ctl.clone());
        let report = blocking(ctx, ctl.cancel.clone(), move || {
            rewrite_history(&src, &dst, &plan, &c)
        })
        .await?
        .map_err(|e| match e {
            RewriteError::Cancelled => ScanError::Cancelled,
            other => ScanError::Failed(format!("rewriting history: {other}")),
        })?;
        tracing::info!(
            task = %ctx.task.id,
            commits_rewritten = report.commits_rewritten,
            blobs_changed = report.blobs_changed,
            refs_updated = report.refs_updated,
            "history cleaned"
        );
        // The source copy is no longer needed; free the disk before the archives are written.
        if repo.starts_with(&work) {
            let _ = tokio::fs::remove_dir_all(&repo).await;
        }

        // Results.
        let git = self.git();
        let results = work.join("results");
        tokio::fs::create_dir_all(&results)
            .await
            .map_err(|e| ScanError::Failed(format!("creating the results folder: {e}")))?;
        for (format, name) in [
            (ExportFormat::Bundle, contract::CLEANED_BUNDLE),
            (ExportFormat::TarGz, contract::CLEANED_TAR_GZ),
            (ExportFormat::Zip, contract::CLEANED_ZIP),
        ] {
            let file = results.join(format!("repo.{format}"));
            export_to_file(&out, format, &file, &git, &ctx.cancel)
                .await
                .map_err(|e| match e {
                    crate::export::ExportError::Cancelled => ScanError::Cancelled,
                    other => ScanError::Failed(format!("writing the cleaned repository: {other}")),
                })?;
            Self::artifact(ctx, name, file, format.content_type()).await?;
        }
        let map = results.join("commit-map.txt");
        tokio::fs::copy(&report.commit_map_path, &map)
            .await
            .map_err(|e| ScanError::Failed(format!("copying the commit map: {e}")))?;
        Self::artifact(ctx, contract::COMMIT_MAP, map, "text/plain").await?;
        let json_file = results.join("report.json");
        let body =
            serde_json::to_vec_pretty(&report_json(&report, params.selected.len(), &encoded_only))
                .map_err(|e| ScanError::Failed(format!("encoding the clean report: {e}")))?;
        tokio::fs::write(&json_file, body)
            .await
            .map_err(|e| ScanError::Failed(format!("writing the clean report: {e}")))?;
        Self::artifact(ctx, contract::CLEAN_REPORT, json_file, "application/json").await?;
        Ok(())
    }
}
