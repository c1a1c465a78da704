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
use argus_core::CoreError;
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tokio::io::AsyncWriteExt;

type Schema = (Value, Option<jsonschema::Validator>);

fn compiled(s: Value) -> Schema {
    let v = argus_scanners::schema::compile(&s).ok();
    (s, v)
}

/// `git-clean`'s params (`argus_core::remediation::CleanParams`) as a JSON schema.
fn clean_schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        compiled(json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["selected", "replacement"],
            "properties": {
                "selected": {"type": "array", "minItems": 1, "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["sha256", "rule_id"],
                    "properties": {
                        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        "rule_id": {"type": "string", "minLength": 1}
                    }
                }, "description": "the selected secrets: SHA-256 of the value and the rule that found it"},
                "replacement": {"type": "string", "maxLength": 1000},
                "replace_rules": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 1000}},
                "messages": {"type": "boolean"},
                "credential": {"type": "string", "minLength": 1}
            }
        }))
    })
}

/// `git-push`'s params (`argus_core::remediation::PushParams`) as a JSON schema.
fn push_schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        compiled(json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["user_id"],
            "properties": {
                "credential": {"type": "string", "minLength": 1},
                "credentials_id": {"type": "string", "minLength": 1, "maxLength": 512},
                "user_id": {"type": "string", "minLength": 1},
                "refs": {"type": "array", "maxItems": 100, "items": {"type": "string", "minLength": 1}},
                "mirror": {"type": "boolean"},
                "force": {"type": "boolean"}
            }
        }))
    })
}

/// Checks `params` against `schema` (errors name the JSON pointer), then parses them.
fn parse_params<T: serde::de::DeserializeOwned>(
    schema: &'static Schema,
    params: &Value,
) -> Result<T, CoreError> {
    let Some(v) = &schema.1 else {
        return Err(CoreError::Backend("params schema does not compile".into()));
    };
    argus_scanners::schema::validate_with(v, params)?;
    serde_json::from_value(params.clone()).map_err(|e| CoreError::invalid("", e.to_string()))
}

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
