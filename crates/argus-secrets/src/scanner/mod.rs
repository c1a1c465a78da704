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
//!
//! Files: `params.rs` (schema and typed params), `config.rs` (the `[secrets]` table and the
//! factory that builds the scanner from it), `tests.rs`.

mod config;
mod params;
#[cfg(test)]
mod tests;

pub use config::{GitCredentialConfig, SecretsConfig, SecretsFactory};

use crate::engine::{Engine, ScanControl, ScanSummary};
use crate::finding::{Finding, SecretValue};
use crate::fs_scan::PathScanOptions;
use crate::git::{is_git_repository, GitScanOptions};
use crate::remote::{self, BundleOutcome, GitError, GitOptions, SshAuth};
use crate::sealed::RepoCopyKey;
use crate::SecretsError;
use argus_core::door::SharedProcessDoor;
use argus_core::finding::{
    fingerprint, Location as CoreLocation, NewFinding, SecretDigest, Severity as CoreSeverity,
};
use argus_core::redacted::Redacted;
use argus_core::scanner::{Emission, ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use async_trait::async_trait;
use params::{schema, Params};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
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
pub(crate) enum Auth {
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
    /// The process door `git` runs through.
    door: SharedProcessDoor,
    credentials: BTreeMap<String, GitCredential>,
    pub(crate) repo_copy_key: Option<Arc<RepoCopyKey>>,
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
            door: argus_scanners::process::door(),
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

    /// Runs `git` through `door` (the factory passes the one from its `Doors`).
    pub fn with_process_door(mut self, door: SharedProcessDoor) -> Self {
        self.door = door;
        self
    }

    /// Uses this `git` executable (a path, or a name looked up on `PATH`).
    pub fn with_git(mut self, git: impl Into<PathBuf>) -> Self {
        self.git = git.into();
        self
    }

    /// Options for running this scanner's `git` through its door, each run limited to `timeout`.
    pub(crate) fn git_options(&self, timeout: Duration) -> GitOptions {
        GitOptions {
            git: self.git.clone(),
            timeout,
            door: self.door.clone(),
            ..GitOptions::default()
        }
    }

    /// Adds a credential that params can reference by `name`.
    pub fn with_credential(mut self, name: impl Into<String>, credential: GitCredential) -> Self {
        self.credentials.insert(name.into(), credential);
        self
    }

    pub(crate) async fn engine(&self) -> Result<Arc<Engine>, ScanError> {
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
    pub(crate) fn auth_for(&self, url: &str, name: Option<&str>) -> Result<Auth, String> {
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
    pub(crate) async fn clone_options(
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

pub use argus_core::remediation::repo_copy_name;

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

pub(crate) fn git_error(e: GitError) -> ScanError {
    match e {
        GitError::Cancelled => ScanError::Cancelled,
        GitError::Failed {
            transient: true, ..
        } => ScanError::Retryable(e.to_string()),
        other => ScanError::Failed(other.to_string()),
    }
}

pub(crate) fn engine_error(e: SecretsError) -> ScanError {
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
        let git = self.door.which(&self.git);
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
        let git = self.git_options(Duration::from_secs(params.timeout_secs));
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
