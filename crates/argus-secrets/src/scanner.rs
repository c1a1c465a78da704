//! `secrets`: the secret-scanning engine as a platform scanner.
//!
//! Targets:
//! - `repo` with a URL (`https://`, `http://`, `ssh://`, `git://`, `git@host:path`, `file://`):
//!   cloned (`--mirror`, all refs) into the task's work folder through the process door
//!   ([`crate::remote`]), then its history is scanned;
//! - `repo` with a local path: a repository on this machine (bare or work tree), scanned in
//!   place, read-only;
//! - `location` with a `file://` URL: a folder (or file) scanned as plain files, no history.
//!   Other location schemes need connectors and are refused with a clear error.
//!
//! For repo targets a copy of the repository is kept for history cleaning later, but only
//! sealed: a git bundle of every ref (`git bundle create … --all`; committed history only),
//! encrypted with the operator's repository copy key ([`crate::sealed`], AES-256-GCM) and stored
//! as a private file ([`repo_copy_name`], under `private/`) that is never listed or served and
//! goes with the scan's artifacts. With no key configured no copy is kept at all (a later clean
//! clones the source again). An empty repository has nothing to bundle and is kept without one.
//!
//! Invariants:
//! - The secret value never leaves the engine: the scan runs with
//!   `keep_secret_values = false`, and a finding carries only the preview and the SHA-256
//!   ([`SecretDigest`]), in its `secret` field and in `data`.
//! - A finding's fingerprint is stable across scans: SHA-256 of (`secrets`, the target's key,
//!   the engine's fingerprint of rule + secret hash + path). The target is part of it so the same
//!   secret at the same path in two repositories of one scan (forks, mirrors) stays two findings;
//!   the engine's own fingerprint is kept in `data.engine_fingerprint` (direct-mode baselines).
//! - The engine is CPU-bound and synchronous: it runs on `spawn_blocking`, and the task's
//!   cancellation token sets [`ScanControl::cancel`], which the engine checks between blobs.
//!   A running `git` is killed by the door on cancellation. Either way `run` returns
//!   [`ScanError::Cancelled`] well within a second.
//! - Params are validated against [`SecretsScanner::info`]'s schema at scan creation; a
//!   `credential` must name a configured credential.
//! - Credentials are configured on the scanner ([`SecretsScanner::with_credential`]), bound to a
//!   host, and referenced by name from params; a token or key is never a param, never on `git`'s
//!   command line, and only used for its own host. URLs with an embedded password are refused.
//! - ssh URLs run with a named ssh key credential and nothing of the server's own identity
//!   (agent, `~/.ssh`); without one they are refused at scan creation, unless the scanner allows
//!   ambient ssh ([`SecretsScanner::allow_ambient_ssh`]: direct mode, or an operator's choice).
//! - The plaintext bundle exists only inside the task's work folder, only until it is sealed.

use crate::engine::{Engine, ScanControl, ScanPolicy, ScanSummary};
use crate::finding::{Finding, SecretValue};
use crate::fs_scan::PathScanOptions;
use crate::git::{is_git_repository, GitScanOptions, RefSelection};
use crate::remote::{self, BundleOutcome, GitError, GitOptions, SshAuth};
use crate::sealed::RepoCopyKey;
use crate::SecretsError;
use argus_core::artifact::ArtifactName;
use argus_core::finding::{
    fingerprint, Location as CoreLocation, NewFinding, SecretDigest, Severity as CoreSeverity,
};
use argus_core::redacted::Redacted;
use argus_core::scanner::{Emission, ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Registry name.
pub const SECRETS: &str = "secrets";

/// Finding kind of every secret finding.
pub const KIND: &str = "secret";

/// File name of the plaintext bundle in the task's work folder (deleted once sealed).
pub const BUNDLE_FILE: &str = "repo.bundle";

/// File name of the sealed bundle, in the work folder and in its private artifact name.
pub const SEALED_FILE: &str = "repo.bundle.sealed";

/// Other locations listed in a finding's data beyond the first (the rest are only counted).
const MAX_OTHER_LOCATIONS: usize = 100;

/// How long a cancelled scan may take to notice its flag before `run` returns anyway.
const CANCEL_GRACE: Duration = Duration::from_millis(500);

/// How often scan progress is logged.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// A git credential configured by the operator, for one host.
#[derive(Clone, Debug)]
pub struct GitCredential {
    /// Host (as in the URL, e.g. `github.com`) the secret may be used for; case-insensitive.
    pub host: String,
    pub secret: GitSecret,
}

/// What a [`GitCredential`] holds.
#[derive(Clone, Debug)]
pub enum GitSecret {
    /// A token, sent as HTTP basic credentials to the host's `http(s)` URLs.
    Token(Redacted<String>),
    /// An ssh private key (OpenSSH or PEM text) for the host's ssh URLs. The server's host key is
    /// checked against `known_hosts` when given; without it, the key seen at the first connection
    /// of each clone is accepted.
    SshKey {
        key: Redacted<String>,
        known_hosts: Option<PathBuf>,
    },
}

/// How one clone authenticates.
enum Auth {
    /// The process's own setup (no credential: public repositories, or allowed ambient ssh).
    Ambient,
    Token(SecretValue),
    Ssh {
        key: Redacted<String>,
        known_hosts: Option<PathBuf>,
    },
}

/// The `secrets` scanner.
pub struct SecretsScanner {
    engine: tokio::sync::OnceCell<Arc<Engine>>,
    git: PathBuf,
    credentials: BTreeMap<String, GitCredential>,
    repo_copy_key: Option<Arc<RepoCopyKey>>,
    allow_ambient_ssh: bool,
}

impl std::fmt::Debug for SecretsScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsScanner")
            .field("git", &self.git)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .field("repo_copy_key", &self.repo_copy_key.is_some())
            .field("allow_ambient_ssh", &self.allow_ambient_ssh)
            .finish()
    }
}

impl Default for SecretsScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl SecretsScanner {
    /// The scanner with the built-in rules (compiled on first use, so listing scanners stays
    /// cheap), `git` from `PATH`, no credentials, no repository copies and no ambient ssh.
    pub fn new() -> Self {
        SecretsScanner {
            engine: tokio::sync::OnceCell::new(),
            git: PathBuf::from("git"),
            credentials: BTreeMap::new(),
            repo_copy_key: None,
            allow_ambient_ssh: false,
        }
    }

    /// Keeps a sealed copy of each scanned repository, encrypted with `key`.
    pub fn with_repo_copy_key(mut self, key: RepoCopyKey) -> Self {
        self.repo_copy_key = Some(Arc::new(key));
        self
    }

    /// Lets ssh URLs without a named credential use this process's own ssh identity (agent,
    /// `~/.ssh`): right for direct mode, where the process is the user; on a server only when the
    /// operator says so, as every tenant would clone with the server's keys.
    pub fn allow_ambient_ssh(mut self, allow: bool) -> Self {
        self.allow_ambient_ssh = allow;
        self
    }

    /// Uses an already compiled engine (custom rules).
    pub fn with_engine(self, engine: Arc<Engine>) -> Self {
        SecretsScanner {
            engine: tokio::sync::OnceCell::new_with(Some(engine)),
            ..self
        }
    }

    /// Uses this `git` executable (a path, or a name looked up on `PATH`).
    pub fn with_git(mut self, git: impl Into<PathBuf>) -> Self {
        self.git = git.into();
        self
    }

    /// Adds a credential that params can reference by `name`.
    pub fn with_credential(mut self, name: impl Into<String>, credential: GitCredential) -> Self {
        self.credentials.insert(name.into(), credential);
        self
    }

    async fn engine(&self) -> Result<Arc<Engine>, ScanError> {
        self.engine
            .get_or_try_init(|| async {
                tokio::task::spawn_blocking(Engine::builtin)
                    .await
                    .map_err(|e| ScanError::Failed(format!("compiling secret rules: {e}")))?
                    .map(Arc::new)
                    .map_err(|e| ScanError::Failed(format!("compiling secret rules: {e}")))
            })
            .await
            .cloned()
    }

    /// How cloning `url` authenticates with the named credential (checked against the URL's
    /// scheme and host), or why it may not run.
    fn auth_for(&self, url: &str, name: Option<&str>) -> Result<Auth, String> {
        let ssh = remote::is_ssh_url(url);
        let Some(name) = name else {
            if ssh && !self.allow_ambient_ssh {
                return Err("ssh URLs need a named ssh key credential (secrets.credentials.<name> with ssh_key_env, referenced by the 'credential' param): this server does not clone with its own ssh identity".into());
            }
            return Ok(Auth::Ambient);
        };
        let cred = self
            .credentials
            .get(name)
            .ok_or_else(|| format!("credential '{name}' is not configured"))?;
        let host = match (&cred.secret, ssh) {
            (GitSecret::Token(_), false) => remote::http_host(url).ok_or_else(|| {
                format!("credential '{name}' is a token for http(s) URLs; this target is not one")
            })?,
            (GitSecret::SshKey { .. }, true) => remote::ssh_host(url)
                .ok_or_else(|| format!("cannot read the host of the ssh URL {url}"))?,
            (GitSecret::Token(_), true) => {
                return Err(format!(
                    "credential '{name}' is a token for http(s) URLs; ssh URLs need an ssh key credential"
                ))
            }
            (GitSecret::SshKey { .. }, false) => {
                return Err(format!(
                    "credential '{name}' is an ssh key; this target is not an ssh URL"
                ))
            }
        };
        if !host.eq_ignore_ascii_case(&cred.host) {
            return Err(format!(
                "credential '{name}' is for host '{}', not '{host}'",
                cred.host
            ));
        }
        Ok(match &cred.secret {
            GitSecret::Token(t) => Auth::Token(SecretValue::new(t.expose().clone())),
            GitSecret::SshKey { key, known_hosts } => Auth::Ssh {
                key: key.clone(),
                known_hosts: known_hosts.clone(),
            },
        })
    }

    /// Git options for cloning with `auth`; an ssh key is written (mode 0600) into `ssh_dir`.
    async fn clone_options(
        &self,
        base: &GitOptions,
        auth: Auth,
        ssh_dir: &std::path::Path,
    ) -> Result<GitOptions, ScanError> {
        Ok(match auth {
            Auth::Ambient => base.clone(),
            Auth::Token(t) => GitOptions {
                token: Some(t),
                ..base.clone()
            },
            Auth::Ssh { key, known_hosts } => {
                let dir = ssh_dir.to_path_buf();
                let auth =
                    tokio::task::spawn_blocking(move || write_ssh_files(&dir, &key, known_hosts))
                        .await
                        .map_err(|e| ScanError::Failed(format!("preparing the ssh key: {e}")))?
                        .map_err(|e| ScanError::Failed(format!("preparing the ssh key: {e}")))?;
                GitOptions {
                    ssh: Some(auth),
                    ..base.clone()
                }
            }
        })
    }
}

/// Writes the key (0600, in a 0700 folder) and, without a configured known-hosts file, an empty
/// one for this clone alone.
fn write_ssh_files(
    dir: &std::path::Path,
    key: &Redacted<String>,
    known_hosts: Option<PathBuf>,
) -> std::io::Result<SshAuth> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(dir)?;
    let key_file = dir.join("key");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key_file)?;
    f.write_all(key.expose().trim_end().as_bytes())?;
    // ssh refuses a key file without its final newline.
    f.write_all(b"\n")?;
    let (known_hosts, strict_host_key) = match known_hosts {
        Some(p) => (p, true),
        None => {
            let p = dir.join("known_hosts");
            std::fs::File::create(&p)?;
            (p, false)
        }
    };
    Ok(SshAuth {
        key_file,
        known_hosts,
        strict_host_key,
    })
}

fn schema() -> &'static (Value, Option<jsonschema::Validator>) {
    static SCHEMA: OnceLock<(Value, Option<jsonschema::Validator>)> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let s = json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "branch": {"type": "string", "minLength": 1, "maxLength": 255,
                           "description": "repo: walk only this ref or commit (main, refs/heads/dev, v1.2, a full commit id); overrides all_refs"},
                "since_commit": {"type": "string", "minLength": 1, "maxLength": 255,
                                 "description": "repo: only commits not reachable from this one (incremental scans)"},
                "all_refs": {"type": "boolean", "default": true,
                             "description": "repo: walk every ref (branches, tags, remotes, notes, stash) plus HEAD; false: HEAD only"},
                "include_unreachable": {"type": "boolean", "default": false,
                                        "description": "repo: also scan packed blobs no commit reaches (reported without commit or path)"},
                "max_blob_bytes": {"type": "integer", "minimum": 1, "default": ScanPolicy::default().max_blob_size,
                                   "description": "skip blobs and files larger than this (counted as too_large)"},
                "scan_binary": {"type": "boolean", "default": false,
                                "description": "also scan content that looks binary"},
                "skip_minified": {"type": "boolean", "default": true,
                                  "description": "skip minified or generated text (very long lines)"},
                "respect_gitignore": {"type": "boolean", "default": false,
                                      "description": "location: skip files ignored by .gitignore/.ignore (default false: ignored files such as .env are where secrets live)"},
                "bundle": {"type": "boolean", "default": true,
                           "description": "repo: keep a copy of the repository for history cleaning, encrypted with the server's repository copy key (never listed or downloadable; not kept when no key is configured)"},
                "timeout_secs": {"type": "integer", "minimum": 1, "maximum": 86400, "default": 3600,
                                 "description": "repo: limit on the clone and on the bundle, each"},
                "credential": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$",
                               "description": "name of a configured git credential (a token for http(s) URLs or an ssh key for ssh URLs, bound to a host) for cloning a private repository; never the secret itself"}
            }
        });
        // A constant schema: the unit tests prove it compiles.
        let v = argus_scanners::schema::compile(&s).ok();
        (s, v)
    })
}

/// Params after defaults (the schema's defaults are the only source of them).
#[derive(Debug, Deserialize)]
struct Params {
    branch: Option<String>,
    since_commit: Option<String>,
    all_refs: bool,
    include_unreachable: bool,
    max_blob_bytes: u64,
    scan_binary: bool,
    skip_minified: bool,
    respect_gitignore: bool,
    bundle: bool,
    timeout_secs: u64,
    credential: Option<String>,
}

impl Params {
    fn parse(params: &Value) -> Result<Self, ScanError> {
        let defaults = argus_scanners::schema::defaults(&schema().0);
        let merged = argus_scanners::schema::with_defaults(&defaults, params)
            .map_err(|e| ScanError::Failed(format!("secrets params: {e}")))?;
        serde_json::from_value(Value::Object(merged))
            .map_err(|e| ScanError::Failed(format!("secrets params: {e}")))
    }

    fn policy(&self) -> ScanPolicy {
        ScanPolicy {
            max_blob_size: self.max_blob_bytes,
            scan_binary: self.scan_binary,
            skip_minified: self.skip_minified,
            // The platform stores only preview + SHA-256: the value must never leave the engine.
            keep_secret_values: false,
            ..ScanPolicy::default()
        }
    }

    fn refs(&self) -> RefSelection {
        match &self.branch {
            Some(b) => RefSelection::Refs(vec![b.clone()]),
            None if self.all_refs => RefSelection::All,
            None => RefSelection::Refs(vec!["HEAD".into()]),
        }
    }
}

/// What a target resolves to.
enum Source {
    /// A URL to clone first.
    Clone(String),
    /// A repository on this machine.
    LocalRepo(PathBuf),
    /// A folder or file scanned as plain files.
    Files(PathBuf),
}

/// What [`resolve`] will do with a target, read from the target alone (no filesystem access),
/// for refusing at scan creation what cannot run.
enum SourceKind {
    Clone,
    Local,
}

fn resolve_kind(target: &Target) -> Result<SourceKind, String> {
    let value = target.value();
    match target.kind() {
        TargetKind::Repo if remote::is_clone_url(value) => {
            if url::Url::parse(value).is_ok_and(|u| u.password().is_some()) {
                // Naming the URL would repeat the password into the task's error.
                return Err("the repository URL holds a password: configure a credential and reference it with the 'credential' param instead".into());
            }
            Ok(SourceKind::Clone)
        }
        TargetKind::Repo => Ok(SourceKind::Local),
        TargetKind::Location => match url::Url::parse(value) {
            Ok(u) if u.scheme() == "file" => Ok(SourceKind::Local),
            Ok(u) => Err(format!(
                "secrets scans only file:// locations here; '{}' locations need a connector",
                u.scheme()
            )),
            Err(e) => Err(format!("bad location {value}: {e}")),
        },
        other => Err(format!("secrets does not accept {other} targets")),
    }
}

/// [`resolve_kind`]'s rules (the same at creation and at run), then what only the filesystem
/// can tell.
fn resolve(target: &Target) -> Result<Source, ScanError> {
    let value = target.value();
    match resolve_kind(target).map_err(ScanError::Failed)? {
        SourceKind::Clone => Ok(Source::Clone(value.to_owned())),
        SourceKind::Local if target.kind() == TargetKind::Repo => {
            let p = PathBuf::from(value);
            if !p.exists() {
                return Err(ScanError::Failed(format!("{value}: no such path")));
            }
            if !is_git_repository(&p) {
                return Err(ScanError::Failed(format!(
                    "{value} is not a git repository; scan a folder as a location target (file://…)"
                )));
            }
            Ok(Source::LocalRepo(p))
        }
        SourceKind::Local => {
            // A file:// location (resolve_kind checked the scheme).
            let p = url::Url::parse(value)
                .ok()
                .and_then(|u| u.to_file_path().ok())
                .ok_or_else(|| ScanError::Failed(format!("{value} is not a local path")))?;
            if !p.exists() {
                return Err(ScanError::Failed(format!("{}: no such path", p.display())));
            }
            Ok(Source::Files(p))
        }
    }
}

/// The private name of a repo target's sealed copy:
/// `private/secrets/<first 16 hex of SHA-256(target key)>/repo.bundle.sealed`. Stable per
/// target, so each repository of a scan has its own and a re-delivered task replaces its own.
pub fn repo_copy_name(target: &Target) -> Result<ArtifactName, CoreError> {
    let h = hex::encode(Sha256::digest(target.key().as_bytes()));
    ArtifactName::private(&format!("secrets/{}/{SEALED_FILE}", &h[..16]))
}

fn map_severity(s: crate::finding::Severity) -> CoreSeverity {
    use crate::finding::Severity as S;
    match s {
        S::Info => CoreSeverity::Info,
        S::Low => CoreSeverity::Low,
        S::Medium => CoreSeverity::Medium,
        S::High => CoreSeverity::High,
        S::Critical => CoreSeverity::Critical,
    }
}

/// Maps an engine finding onto a platform finding. Reads only the preview and the hash of the
/// secret, never [`Finding::secret`].
pub fn to_new_finding(f: &Finding, target: &Target) -> NewFinding {
    let first = f.locations.first();
    let path = first.map(|l| l.path.clone()).filter(|p| !p.is_empty());
    let title = match &path {
        Some(p) => format!("{} in {p}", f.rule_name),
        None => f.rule_name.clone(),
    };
    let mut data = Map::new();
    data.insert("rule_id".into(), json!(f.rule_id));
    data.insert("rule_name".into(), json!(f.rule_name));
    data.insert("confidence".into(), json!(f.confidence.as_str()));
    data.insert("preview".into(), json!(f.preview));
    data.insert("sha256".into(), json!(f.sha256));
    data.insert("engine_fingerprint".into(), json!(f.fingerprint));
    if !f.tags.is_empty() {
        data.insert("tags".into(), json!(f.tags));
    }
    if let Some(l) = first {
        for (k, v) in [
            ("commit", &l.commit),
            ("author", &l.author),
            ("email", &l.email),
            ("date", &l.date),
            ("blob", &l.blob),
            ("encoding", &l.encoding),
        ] {
            if let Some(v) = v {
                data.insert(k.into(), json!(v));
            }
        }
        data.insert("column".into(), json!(l.column));
        data.insert("end_line".into(), json!(l.end_line));
    }
    let others: Vec<Value> = f
        .locations
        .iter()
        .skip(1)
        .take(MAX_OTHER_LOCATIONS)
        .map(|l| serde_json::to_value(l).unwrap_or(Value::Null))
        .collect();
    data.insert("other_locations".into(), Value::Array(others));
    data.insert("locations_total".into(), json!(f.locations.len()));
    NewFinding {
        kind: KIND.into(),
        severity: map_severity(f.severity),
        title: title.chars().take(1000).collect(),
        description: None,
        target: target.clone(),
        location: CoreLocation {
            path,
            line: first.map(|l| u64::from(l.line)),
            commit: first.and_then(|l| l.commit.clone()),
            url: None,
        },
        fingerprint: fingerprint(&[SECRETS, &target.key(), &f.fingerprint]),
        data: Value::Object(data),
        secret: Some(SecretDigest {
            preview: f.preview.clone(),
            sha256: f.sha256.clone(),
        }),
    }
}

fn git_error(e: GitError) -> ScanError {
    match e {
        GitError::Cancelled => ScanError::Cancelled,
        GitError::Failed {
            transient: true, ..
        } => ScanError::Retryable(e.to_string()),
        other => ScanError::Failed(other.to_string()),
    }
}

fn engine_error(e: SecretsError) -> ScanError {
    match e {
        SecretsError::Cancelled => ScanError::Cancelled,
        other => ScanError::Failed(other.to_string()),
    }
}

/// What the blocking scan works on.
enum Job {
    Git(PathBuf, GitScanOptions),
    Files(PathBuf, PathScanOptions),
}

/// Sets the engine's cancellation flag when dropped, so an abandoned `run` future (the worker
/// gave up on it) stops the blocking scan too.
struct CancelOnDrop(ScanControl);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel.store(true, Ordering::Relaxed);
    }
}

/// Runs the engine on the blocking pool; the token stops it.
async fn scan_blocking(
    engine: Arc<Engine>,
    job: Job,
    cancel: &CancellationToken,
) -> Result<(ScanSummary, Vec<Finding>), ScanError> {
    let ctl = ScanControl::new();
    let guard = CancelOnDrop(ctl.clone());
    let worker_ctl = ctl.clone();
    let mut handle = tokio::task::spawn_blocking(move || {
        let mut found = Vec::new();
        let mut sink = |f: Finding| found.push(f);
        let summary = match &job {
            Job::Git(path, opts) => engine.scan_git(path, opts, &worker_ctl, &mut sink),
            Job::Files(path, opts) => engine.scan_path(path, opts, &worker_ctl, &mut sink),
        }?;
        Ok::<_, SecretsError>((summary, found))
    });
    let mut ticker = tokio::time::interval(PROGRESS_EVERY);
    ticker.tick().await;
    let result = loop {
        tokio::select! {
            r = &mut handle => break r,
            _ = cancel.cancelled() => {
                ctl.cancel.store(true, Ordering::Relaxed);
                // Give the engine a moment to notice (it checks between blobs) so the work
                // folder is not removed under it; return regardless after the grace period.
                let _ = tokio::time::timeout(CANCEL_GRACE, &mut handle).await;
                return Err(ScanError::Cancelled);
            }
            _ = ticker.tick() => {
                let p = &ctl.progress;
                tracing::debug!(
                    commits = p.commits.load(Ordering::Relaxed),
                    blobs_done = p.blobs_done.load(Ordering::Relaxed),
                    blobs_total = p.blobs_total.load(Ordering::Relaxed),
                    bytes = p.bytes_done.load(Ordering::Relaxed),
                    "secrets scan progress"
                );
            }
        }
    };
    drop(guard);
    result
        .map_err(|e| ScanError::Failed(format!("secrets scan aborted: {e}")))?
        .map_err(engine_error)
}

impl SecretsScanner {
    /// Bundles `repo`, seals the bundle, deletes the plaintext and hands the sealed file over
    /// as a private file.
    async fn keep_sealed_copy(
        &self,
        ctx: &TaskContext,
        repo: &std::path::Path,
        git: &GitOptions,
        key: Arc<RepoCopyKey>,
    ) -> Result<(), ScanError> {
        if ctx.cancel.is_cancelled() {
            return Err(ScanError::Cancelled);
        }
        let name = repo_copy_name(&ctx.task.target)
            .map_err(|e| ScanError::Failed(format!("repository copy name: {e}")))?;
        let plain = ctx.work_dir.join(BUNDLE_FILE);
        let sealed = ctx.work_dir.join(SEALED_FILE);
        let outcome = remote::create_bundle(repo, &plain, git, &ctx.cancel).await;
        if let Ok(BundleOutcome::Empty) | Err(_) = &outcome {
            let _ = tokio::fs::remove_file(&plain).await;
        }
        if outcome.map_err(git_error)? == BundleOutcome::Empty {
            tracing::info!(task = %ctx.task.id, "repository has no refs; no copy kept");
            return Ok(());
        }
        let (p, s) = (plain.clone(), sealed.clone());
        let result =
            tokio::task::spawn_blocking(move || crate::sealed::seal_file(&key, &p, &s)).await;
        // The plaintext goes whatever happened: only the sealed file may outlive this call.
        let _ = tokio::fs::remove_file(&plain).await;
        result
            .map_err(|e| ScanError::Failed(format!("sealing the repository copy: {e}")))?
            .map_err(|e| ScanError::Failed(format!("sealing the repository copy: {e}")))?;
        ctx.emit
            .send(Emission::PrivateFile { name, path: sealed })
            .await
    }
}

#[async_trait]
impl Scanner for SecretsScanner {
    fn info(&self) -> ScannerInfo {
        let git = argus_scanners::process::which(&self.git);
        ScannerInfo {
            name: SECRETS.into(),
            description: "Finds leaked credentials in the full history of git repositories (cloned, or local) and in local folders; keeps a sealed (encrypted) copy of each repository for history cleaning when the server has a repository copy key.".into(),
            source: "builtin".into(),
            target_kinds: vec![TargetKind::Repo, TargetKind::Location],
            params_schema: schema().0.clone(),
            // Local repos and folders need no git to scan; only clones and bundles do.
            available: true,
            detail: Some(match git {
                Some(p) => format!("git: {}", p.display()),
                None => format!(
                    "'{}' not found on PATH: cloning and bundling repositories will fail",
                    self.git.display()
                ),
            }),
        }
    }

    fn validate_params(&self, params: &Value) -> Result<(), CoreError> {
        let Some(v) = &schema().1 else {
            return Err(CoreError::Backend(
                "secrets params schema does not compile".into(),
            ));
        };
        argus_scanners::schema::validate_with(v, params)?;
        if let Some(name) = params.get("credential").and_then(Value::as_str) {
            if !self.credentials.contains_key(name) {
                return Err(CoreError::invalid(
                    "/credential",
                    format!("credential '{name}' is not configured"),
                ));
            }
        }
        Ok(())
    }

    fn check_target(&self, target: &Target, params: &Value) -> Result<(), CoreError> {
        let source = resolve_kind(target).map_err(|m| CoreError::invalid("/value", m))?;
        if let SourceKind::Clone = source {
            let name = params.get("credential").and_then(Value::as_str);
            self.auth_for(target.value(), name)
                .map_err(|m| CoreError::invalid("/value", m))?;
        }
        Ok(())
    }

    async fn run(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        if ctx.cancel.is_cancelled() {
            return Err(ScanError::Cancelled);
        }
        let params = Params::parse(&ctx.params)?;
        let target = &ctx.task.target;
        let source = resolve(target)?;
        let git = GitOptions {
            git: self.git.clone(),
            timeout: Duration::from_secs(params.timeout_secs),
            ..GitOptions::default()
        };
        tokio::fs::create_dir_all(&ctx.work_dir)
            .await
            .map_err(|e| ScanError::Failed(format!("creating the work folder: {e}")))?;

        let repo = match &source {
            Source::Clone(url) => {
                let auth = self
                    .auth_for(url, params.credential.as_deref())
                    .map_err(ScanError::Failed)?;
                let ssh_dir = ctx.work_dir.join("ssh");
                let clone_git = self.clone_options(&git, auth, &ssh_dir).await?;
                let dest = ctx.work_dir.join("repo.git");
                tracing::debug!(task = %ctx.task.id, "cloning repository");
                let cloned = remote::clone_into(url, &dest, &clone_git, &ctx.cancel).await;
                // The key file is needed only by the clone.
                if clone_git.ssh.is_some() {
                    let _ = tokio::fs::remove_dir_all(&ssh_dir).await;
                }
                cloned.map_err(git_error)?;
                Some(dest)
            }
            Source::LocalRepo(p) => Some(p.clone()),
            Source::Files(_) => None,
        };

        let engine = self.engine().await?;
        let job = match (&source, &repo) {
            (Source::Files(p), _) => Job::Files(
                p.clone(),
                PathScanOptions {
                    policy: params.policy(),
                    respect_gitignore: params.respect_gitignore,
                    include_hidden: true,
                },
            ),
            (_, Some(repo)) => Job::Git(
                repo.clone(),
                GitScanOptions {
                    policy: params.policy(),
                    refs: params.refs(),
                    since_commit: params.since_commit.clone(),
                    include_unreachable: params.include_unreachable,
                    ..GitScanOptions::default()
                },
            ),
            (_, None) => return Err(ScanError::Failed("no repository to scan".into())),
        };
        let (summary, findings) = scan_blocking(engine, job, &ctx.cancel).await?;
        tracing::debug!(
            task = %ctx.task.id,
            commits = summary.commits_scanned,
            blobs = summary.blobs_scanned,
            findings = findings.len(),
            "secrets scan finished"
        );

        for f in &findings {
            ctx.emit.finding(to_new_finding(f, target)).await?;
        }

        match (&repo, params.bundle, &self.repo_copy_key) {
            (Some(repo), true, Some(key)) => {
                self.keep_sealed_copy(ctx, repo, &git, key.clone()).await?
            }
            (Some(_), true, None) => {
                tracing::debug!(task = %ctx.task.id, "no repository copy key configured; no copy kept");
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Confidence, Location, Severity};

    fn scanner() -> SecretsScanner {
        SecretsScanner::new()
            .with_credential(
                "gh",
                GitCredential {
                    host: "github.com".into(),
                    secret: GitSecret::Token(Redacted::new("tok".into())),
                },
            )
            .with_credential(
                "gh-ssh",
                GitCredential {
                    host: "github.com".into(),
                    secret: GitSecret::SshKey {
                        key: Redacted::new("KEY-MATERIAL".into()),
                        known_hosts: None,
                    },
                },
            )
    }

    fn invalid_path(r: Result<(), CoreError>) -> String {
        match r {
            Err(CoreError::Invalid { path, .. }) => path,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn schema_compiles_checks_and_defaults() {
        let s = scanner();
        assert!(s.validate_params(&Value::Null).is_ok());
        assert!(s
            .validate_params(
                &json!({"branch": "main", "since_commit": "abc", "all_refs": false,
                "max_blob_bytes": 1024, "bundle": false, "credential": "gh"})
            )
            .is_ok());
        assert_eq!(
            invalid_path(s.validate_params(&json!({"max_blob_bytes": 0}))),
            "/max_blob_bytes"
        );
        assert_eq!(
            invalid_path(s.validate_params(&json!({"bogus": 1}))),
            "/bogus"
        );
        assert_eq!(
            invalid_path(s.validate_params(&json!({"credential": "nope"}))),
            "/credential"
        );
        assert_eq!(
            invalid_path(s.validate_params(&json!({"credential": "a b"}))),
            "/credential"
        );
        let p = Params::parse(&Value::Null).unwrap();
        assert!(p.all_refs && p.bundle && p.skip_minified && !p.scan_binary);
        assert_eq!(p.max_blob_bytes, ScanPolicy::default().max_blob_size);
        assert_eq!(p.refs(), RefSelection::All);
        let p = Params::parse(&json!({"all_refs": false})).unwrap();
        assert_eq!(p.refs(), RefSelection::Refs(vec!["HEAD".into()]));
        let p = Params::parse(&json!({"branch": "dev", "all_refs": true})).unwrap();
        assert_eq!(p.refs(), RefSelection::Refs(vec!["dev".into()]));
        assert!(!p.policy().keep_secret_values);
        let info = s.info();
        assert_eq!(info.name, SECRETS);
        assert_eq!(
            info.target_kinds,
            vec![TargetKind::Repo, TargetKind::Location]
        );
    }

    #[test]
    fn credentials_only_for_their_host_and_scheme() {
        let s = scanner();
        assert!(matches!(
            s.auth_for("https://github.com/o/r.git", Some("gh")),
            Ok(Auth::Token(_))
        ));
        assert!(matches!(
            s.auth_for("https://github.com/o/r.git", None),
            Ok(Auth::Ambient)
        ));
        for url in ["https://evil.example/o/r.git", "git@github.com:o/r.git"] {
            assert!(s.auth_for(url, Some("gh")).is_err(), "{url}");
        }
        assert!(s.auth_for("https://github.com/o/r", Some("other")).is_err());
        // ssh: only with an ssh key credential for the URL's host.
        for url in ["git@github.com:o/r.git", "ssh://git@github.com/o/r.git"] {
            assert!(
                matches!(s.auth_for(url, Some("gh-ssh")), Ok(Auth::Ssh { .. })),
                "{url}"
            );
        }
        assert!(s
            .auth_for("git@evil.example:o/r.git", Some("gh-ssh"))
            .is_err());
        assert!(s
            .auth_for("https://github.com/o/r.git", Some("gh-ssh"))
            .is_err());
        let why = s.auth_for("git@github.com:o/r.git", None).err().unwrap();
        assert!(why.contains("ssh key credential"), "{why}");
        assert!(matches!(
            s.allow_ambient_ssh(true)
                .auth_for("git@github.com:o/r.git", None),
            Ok(Auth::Ambient)
        ));
        let shown = format!("{:?}", scanner());
        assert!(
            !shown.contains("tok\"") && !shown.contains("KEY-MATERIAL"),
            "{shown}"
        );
    }

    #[test]
    fn refuses_at_creation_what_cannot_run() {
        let s = scanner();
        let repo = |v: &str| Target::parse(TargetKind::Repo, v).unwrap();
        let none = json!({});
        assert!(s
            .check_target(&repo("https://github.com/o/r.git"), &none)
            .is_ok());
        assert!(s
            .check_target(&repo("git@github.com:o/r.git"), &none)
            .is_err());
        assert!(s
            .check_target(
                &repo("git@github.com:o/r.git"),
                &json!({"credential": "gh-ssh"})
            )
            .is_ok());
        assert!(s
            .check_target(
                &repo("https://github.com/o/r.git"),
                &json!({"credential": "gh-ssh"})
            )
            .is_err());
        for loc in [
            "s3://b/p",
            "az://c/p",
            "gs://b/p",
            "sharepoint://site/drive/p",
        ] {
            let t = Target::parse(TargetKind::Location, loc).unwrap();
            assert!(s.check_target(&t, &none).is_err(), "{loc}");
        }
        let f = Target::parse(TargetKind::Location, "file:///tmp/x").unwrap();
        assert!(s.check_target(&f, &none).is_ok());
    }

    #[test]
    fn ssh_files_are_private_and_end_with_a_newline() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("ssh");
        let a = write_ssh_files(&d, &Redacted::new("-----KEY-----".into()), None).unwrap();
        assert_eq!(
            std::fs::read_to_string(&a.key_file).unwrap(),
            "-----KEY-----\n"
        );
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&a.key_file), 0o600);
        assert_eq!(mode(&d), 0o700);
        assert!(!a.strict_host_key && a.known_hosts.starts_with(&d));
        let kh = dir.path().join("kh");
        let d2 = dir.path().join("ssh2");
        let b = write_ssh_files(&d2, &Redacted::new("k".into()), Some(kh.clone())).unwrap();
        assert!(b.strict_host_key);
        assert_eq!(b.known_hosts, kh);
    }

    #[test]
    fn resolves_targets() {
        let dir = tempfile::tempdir().unwrap();
        let repo = |v: &str| Target::parse(TargetKind::Repo, v).unwrap();
        assert!(matches!(
            resolve(&repo("https://github.com/o/r.git")),
            Ok(Source::Clone(_))
        ));
        match resolve(&repo("https://u:pw-123@github.com/o/r.git")) {
            Err(ScanError::Failed(m)) => assert!(!m.contains("pw-123"), "{m}"),
            _ => panic!("password URL accepted"),
        }
        // A folder that is not a repository is not a repo target.
        let p = dir.path().to_string_lossy().into_owned();
        assert!(matches!(resolve(&repo(&p)), Err(ScanError::Failed(_))));
        let loc = Target::parse(
            TargetKind::Location,
            url::Url::from_directory_path(dir.path()).unwrap().as_str(),
        )
        .unwrap();
        assert!(matches!(resolve(&loc), Ok(Source::Files(_))));
        let s3 = Target::parse(TargetKind::Location, "s3://bucket/prefix").unwrap();
        assert!(matches!(resolve(&s3), Err(ScanError::Failed(_))));
    }

    #[test]
    fn maps_findings_without_the_secret() {
        let secret = "AKIAQYLPMN5HHHFPZAM2";
        let loc = |commit: &str, line: u32| Location {
            path: "config/app.env".into(),
            line,
            column: 5,
            end_line: line,
            commit: Some(commit.into()),
            author: Some("Alice".into()),
            email: Some("alice@example.com".into()),
            date: Some("2024-01-01T00:00:00Z".into()),
            blob: Some("b1".into()),
            encoding: None,
        };
        let f = Finding {
            rule_id: "aws-access-key-id".into(),
            rule_name: "AWS Access Key ID".into(),
            severity: Severity::Critical,
            confidence: Confidence::High,
            fingerprint: "0123abcd".into(),
            preview: "AKI…AM2".into(),
            sha256: hex::encode(Sha256::digest(secret.as_bytes())),
            locations: vec![loc("c1", 2), loc("c2", 3)],
            tags: vec!["aws".into()],
            secret: Some(SecretValue::new(secret.into())),
        };
        let t = Target::parse(TargetKind::Repo, "https://github.com/o/r.git").unwrap();
        let name = repo_copy_name(&t).unwrap();
        let nf = to_new_finding(&f, &t);
        assert!(nf.validate().is_ok());
        assert_eq!(nf.kind, "secret");
        assert_eq!(nf.severity, CoreSeverity::Critical);
        assert_eq!(nf.title, "AWS Access Key ID in config/app.env");
        assert_eq!(nf.location.path.as_deref(), Some("config/app.env"));
        assert_eq!(nf.location.line, Some(2));
        assert_eq!(nf.location.commit.as_deref(), Some("c1"));
        assert_eq!(nf.data["rule_id"], "aws-access-key-id");
        assert_eq!(nf.data["engine_fingerprint"], "0123abcd");
        assert_eq!(nf.data["other_locations"][0]["commit"], "c2");
        assert_eq!(nf.data["locations_total"], 2);
        assert!(nf.data.get("bundle").is_none());
        assert_eq!(nf.secret.as_ref().unwrap().sha256, f.sha256);
        let all = serde_json::to_string(&nf).unwrap();
        assert!(!all.contains(secret), "secret value leaked: {all}");
        // Stable, and distinct per target.
        assert_eq!(nf.fingerprint, to_new_finding(&f, &t).fingerprint);
        let t2 = Target::parse(TargetKind::Repo, "https://github.com/fork/r.git").unwrap();
        assert_ne!(nf.fingerprint, to_new_finding(&f, &t2).fingerprint);
        assert_ne!(name, repo_copy_name(&t2).unwrap());
        assert!(name.is_private());
        assert!(name.as_str().starts_with("private/secrets/"));
        assert!(name.as_str().ends_with("/repo.bundle.sealed"));
    }

    #[tokio::test]
    async fn cancelled_before_start_returns_promptly() {
        let s = SecretsScanner::new();
        let (emit, _rx) = argus_core::scanner::Emitter::channel(4);
        let dir = tempfile::tempdir().unwrap();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let ctx = TaskContext {
            task: argus_core::task::Task {
                id: argus_core::ids::TaskId::new(),
                scan_id: argus_core::ids::ScanId::new(),
                org_id: argus_core::ids::OrgId::parse("o").unwrap(),
                scanner: SECRETS.into(),
                target: Target::parse(TargetKind::Repo, "https://github.com/o/r.git").unwrap(),
                depth: 0,
                priority: argus_core::scan::Priority::Medium,
                max_attempts: 1,
                params: None,
                enumerates: false,
            },
            params: Value::Null,
            cancel,
            work_dir: dir.path().join("w"),
            emit,
        };
        assert!(matches!(s.run(&ctx).await, Err(ScanError::Cancelled)));
        assert!(
            !dir.path().join("w").exists(),
            "nothing should have started"
        );
    }
}
