//! Git processes: cloning remote repositories and bundling repositories, through the process door.
//!
//! Why a process: cloning with gix would pull its whole network and TLS stack into the build
//! (a large compile-time cost on the 2-core machines this project targets), while `git` is already
//! required on every machine that hosts repositories.
//!
//! Every `git` run here goes through the process door ([`GitOptions::door`]; by default
//! [`argus_scanners::process::run`], the one door for processes):
//! no shell, a cleaned environment, a timeout, capped output, and the whole process group killed
//! on cancellation (within the platform's one-second promise) or timeout.
//!
//! Invariants:
//! - Credentials never appear on the command line or in logs: a token reaches `git` only through
//!   the child's environment (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`), as an
//!   `http.<scheme>://<host>/.extraHeader` scoped to the host being cloned, and nothing is written
//!   to the clone's config. Tokens are only sent over `http(s)`.
//! - Nothing prompts: `GIT_TERMINAL_PROMPT=0`, `GIT_ASKPASS=true`, and ssh runs in batch mode.
//!   A prompt would otherwise wait for a terminal the child (in its own process group) cannot read.
//! - Only the transports `http`, `https`, `ssh`, `git` and `file` are allowed (`GIT_ALLOW_PROTOCOL`),
//!   so a crafted URL cannot reach `ext::` or other command-running transports.
//! - Of our own environment, the child sees what the door passes (`PATH`, `HOME`, `LANG`,
//!   `TMPDIR`); nothing else. For ssh URLs with a named key ([`GitOptions::ssh`]) ssh is told to
//!   use that key and nothing of the process's own identity: no agent, no `~/.ssh/config`, no
//!   default key files, and known hosts only from the given file. Only without one (direct mode,
//!   or a server whose operator allowed ambient ssh) does the child get `SSH_AUTH_SOCK` and the
//!   user's own ssh setup.
//! - Clones are `--mirror` (all refs, bare).

use crate::error::{Result, SecretsError};
use crate::finding::SecretValue;
use argus_core::door::{ProcessDoor, SharedProcessDoor};
use argus_scanners::process::{self, ProcessError, ProcessOutput, ProcessSpec};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Default limit on one clone or bundle (one hour).
pub const DEFAULT_GIT_TIMEOUT: Duration = Duration::from_secs(3600);

/// Transports `git` may use (`GIT_ALLOW_PROTOCOL`).
const ALLOWED_PROTOCOLS: &str = "http:https:ssh:git:file";

/// Bytes of `git` stderr kept for error messages.
const STDERR_CAP: u64 = 64 * 1024;

/// A cloned repository; the folder is deleted when this is dropped.
#[derive(Debug)]
pub struct ClonedRepo {
    dir: tempfile::TempDir,
}

impl ClonedRepo {
    /// Path of the bare clone.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("repo.git")
    }
}

/// True when `target` looks like a network URL rather than a local path.
pub fn is_remote(target: &str) -> bool {
    ["http://", "https://", "ssh://", "git://", "git@"]
        .iter()
        .any(|p| target.starts_with(p))
}

/// True when `target` must be cloned before scanning: a network URL or a `file://` URL.
pub fn is_clone_url(target: &str) -> bool {
    is_remote(target) || target.starts_with("file://")
}

/// How `git` is run.
#[derive(Clone, Debug)]
pub struct GitOptions {
    /// The `git` executable: a bare name looked up on `PATH`, or a path.
    pub git: PathBuf,
    /// Limit per `git` run; the process group is killed when it passes.
    pub timeout: Duration,
    /// Token sent as HTTP basic credentials (`x-access-token:<token>`, accepted by GitHub,
    /// GitLab and Bitbucket) to the host of an `http(s)` URL.
    pub token: Option<SecretValue>,
    /// The only identity ssh may use for an ssh URL; `None` uses the process's own (agent,
    /// `~/.ssh`).
    pub ssh: Option<SshAuth>,
    /// The process door `git` runs through (the platform scanner's comes from its factory's
    /// `Doors`).
    pub door: SharedProcessDoor,
}

impl Default for GitOptions {
    fn default() -> Self {
        GitOptions {
            git: PathBuf::from("git"),
            timeout: DEFAULT_GIT_TIMEOUT,
            token: None,
            ssh: None,
            door: process::door(),
        }
    }
}

/// A named ssh identity, as files ssh reads.
#[derive(Clone, Debug)]
pub struct SshAuth {
    /// Private key file (mode 0600).
    pub key_file: PathBuf,
    /// Known-hosts file to check the server's host key against.
    pub known_hosts: PathBuf,
    /// `true`: the host key must already be in `known_hosts`; `false`: a host seen for the first
    /// time is added (`accept-new`), which is only as good as the first connection.
    pub strict_host_key: bool,
}

/// Quotes `s` for the POSIX shell git runs `GIT_SSH_COMMAND` through.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl SshAuth {
    /// The `GIT_SSH_COMMAND` that uses this identity and nothing else.
    pub fn command(&self) -> String {
        format!(
            "ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none \
             -o IdentityFile={} -o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null \
             -o StrictHostKeyChecking={}",
            shell_quote(&self.key_file.to_string_lossy()),
            shell_quote(&self.known_hosts.to_string_lossy()),
            if self.strict_host_key {
                "yes"
            } else {
                "accept-new"
            }
        )
    }
}

/// The host of an ssh clone URL (`ssh://[user@]host[:port]/…` or scp-like `user@host:path`).
pub fn ssh_host(url: &str) -> Option<String> {
    if url.starts_with("ssh://") {
        return url::Url::parse(url)
            .ok()?
            .host_str()
            .map(|h| h.trim_matches(['[', ']']).to_owned());
    }
    let rest = url.split_once('@')?.1;
    let host = rest.split_once(':')?.0;
    (!host.is_empty() && !host.contains('/')).then(|| host.to_owned())
}

/// The host of an `http(s)` URL.
pub fn http_host(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .and_then(|u| u.host_str().map(str::to_owned))
}

/// Why a `git` run did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The cancellation token fired; the process group was killed.
    #[error("cancelled")]
    Cancelled,
    /// The timeout passed; the process group was killed.
    #[error("git {op} timed out after {after}")]
    TimedOut { op: &'static str, after: String },
    /// `git` could not be started (not installed, not executable, bad output file).
    #[error("cannot run git {op}: {message}")]
    Start { op: &'static str, message: String },
    /// `git` ran and failed. `transient` is a guess from its message (network trouble) that
    /// another attempt may succeed.
    #[error("git {op} failed: {message}")]
    Failed {
        op: &'static str,
        message: String,
        transient: bool,
    },
}

impl From<GitError> for SecretsError {
    fn from(e: GitError) -> Self {
        match e {
            GitError::Cancelled => SecretsError::Cancelled,
            other => SecretsError::Clone(other.to_string()),
        }
    }
}

/// The environment of every `git` run (on top of what the door passes).
pub(crate) fn base_env() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("GIT_TERMINAL_PROMPT".to_owned(), "0".to_owned()),
        ("GIT_ASKPASS".to_owned(), "true".to_owned()),
        ("SSH_ASKPASS".to_owned(), "true".to_owned()),
        (
            "GIT_ALLOW_PROTOCOL".to_owned(),
            ALLOWED_PROTOCOLS.to_owned(),
        ),
    ])
}

/// `scheme://host[:port]/` of an `http(s)` URL: the scope of its credentials header.
fn http_scope(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let host = u.host_str()?;
    Some(match u.port() {
        Some(p) => format!("{}://{host}:{p}/", u.scheme()),
        None => format!("{}://{host}/", u.scheme()),
    })
}

/// True for ssh clone URLs (`ssh://…`, `git@host:path`).
pub fn is_ssh_url(url: &str) -> bool {
    url.starts_with("ssh://") || url.starts_with("git@")
}

/// The environment of a `git` run that talks to `url`: [`base_env`], plus the token of `opts`
/// as HTTP basic credentials (`<username>:<token>`) in an `extraHeader` scoped to the URL's
/// `scheme://host[:port]/` (http(s) only), plus the ssh command for ssh URLs. Shared by clones
/// and pushes (`crate::push`), so a credential reaches `git` one way only.
pub(crate) fn transport_env(
    url: &str,
    username: &str,
    opts: &GitOptions,
) -> BTreeMap<String, String> {
    use base64::Engine as _;
    let mut env = base_env();
    if let (Some(token), Some(scope)) = (&opts.token, http_scope(url)) {
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{username}:{}", token.expose()));
        add_config(
            &mut env,
            &format!("http.{scope}.extraHeader"),
            &format!("Authorization: Basic {basic}"),
        );
    }
    if is_ssh_url(url) {
        match &opts.ssh {
            Some(auth) => {
                env.insert("GIT_SSH_COMMAND".into(), auth.command());
            }
            None => {
                env.insert("GIT_SSH_COMMAND".into(), "ssh -o BatchMode=yes".into());
                if let Some(sock) = std::env::var_os("SSH_AUTH_SOCK") {
                    env.insert("SSH_AUTH_SOCK".into(), sock.to_string_lossy().into_owned());
                }
            }
        }
    }
    env
}

/// Adds one `git config` entry to a child's environment (`GIT_CONFIG_COUNT`/`_KEY_n`/`_VALUE_n`):
/// seen by that run only, never written to a config file or put on the command line.
pub(crate) fn add_config(env: &mut BTreeMap<String, String>, key: &str, value: &str) {
    let n: usize = env
        .get("GIT_CONFIG_COUNT")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    env.insert(format!("GIT_CONFIG_KEY_{n}"), key.to_owned());
    env.insert(format!("GIT_CONFIG_VALUE_{n}"), value.to_owned());
    env.insert("GIT_CONFIG_COUNT".into(), (n + 1).to_string());
}

/// The door spec of `git clone --mirror -- <url> <dest>` (exposed so its credentials handling
/// can be checked without a network).
pub fn clone_spec(url: &str, dest: &Path, opts: &GitOptions) -> ProcessSpec {
    let env = transport_env(url, "x-access-token", opts);
    let args: Vec<OsString> = vec![
        "clone".into(),
        "--mirror".into(),
        "--quiet".into(),
        // Everything after `--` is a URL or a path, never an option.
        "--".into(),
        url.into(),
        dest.as_os_str().to_owned(),
    ];
    spec(opts, args, env, None)
}

/// The door spec of `git bundle create <bundle> --all`, run inside `repo`.
pub fn bundle_spec(repo: &Path, bundle: &Path, opts: &GitOptions) -> ProcessSpec {
    let args: Vec<OsString> = vec![
        "bundle".into(),
        "create".into(),
        "--quiet".into(),
        bundle.as_os_str().to_owned(),
        "--all".into(),
    ];
    spec(opts, args, base_env(), Some(repo.to_path_buf()))
}

pub(crate) fn spec(
    opts: &GitOptions,
    args: Vec<OsString>,
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
) -> ProcessSpec {
    let mut s = ProcessSpec::new(&opts.git).args(args).timeout(opts.timeout);
    s.env = env;
    s.cwd = cwd;
    s.stdout_cap = STDERR_CAP;
    s.stderr_cap = STDERR_CAP;
    s
}

/// Runs one `git` command through the door and checks its exit status.
pub(crate) async fn run_git(
    op: &'static str,
    door: &dyn ProcessDoor,
    spec: ProcessSpec,
    cancel: &CancellationToken,
) -> Result<ProcessOutput, GitError> {
    let out = match door.run(spec, cancel).await {
        Ok(out) => out,
        Err(ProcessError::Cancelled) => return Err(GitError::Cancelled),
        Err(ProcessError::TimedOut { after }) => {
            return Err(GitError::TimedOut {
                op,
                after: process::fmt_duration(after),
            })
        }
        Err(e) => {
            return Err(GitError::Start {
                op,
                message: e.to_string(),
            })
        }
    };
    if out.success() {
        return Ok(out);
    }
    let stderr = String::from_utf8_lossy(&out.stderr_tail);
    let message: String = match stderr.trim() {
        "" => match out.code() {
            Some(c) => format!("exited with status {c}"),
            None => "killed by a signal".to_owned(),
        },
        s => s.chars().take(500).collect(),
    };
    let transient = is_transient(&message);
    Err(GitError::Failed {
        op,
        message,
        transient,
    })
}

/// Whether a `git` error message reads like network trouble that may pass.
pub(crate) fn is_transient(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "could not resolve host",
        "temporary failure in name resolution",
        "connection timed out",
        "connection refused",
        "connection reset",
        "operation timed out",
        "early eof",
        "rpc failed",
        "the remote end hung up unexpectedly",
        "error: 502",
        "error: 503",
        "error: 504",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// Clones `url` (all refs, bare) into `dest`, which must not exist yet.
pub async fn clone_into(
    url: &str,
    dest: &Path,
    opts: &GitOptions,
    cancel: &CancellationToken,
) -> Result<(), GitError> {
    run_git("clone", &*opts.door, clone_spec(url, dest, opts), cancel)
        .await
        .map(drop)
}

/// What [`create_bundle`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleOutcome {
    /// The bundle file was written.
    Created,
    /// The repository has no refs, so there is nothing to bundle (git refuses empty bundles).
    Empty,
}

/// Writes every ref of `repo` (bare or work tree) with its history into the file `bundle`.
/// Uncommitted work-tree changes are not part of a bundle.
pub async fn create_bundle(
    repo: &Path,
    bundle: &Path,
    opts: &GitOptions,
    cancel: &CancellationToken,
) -> Result<BundleOutcome, GitError> {
    match run_git(
        "bundle",
        &*opts.door,
        bundle_spec(repo, bundle, opts),
        cancel,
    )
    .await
    {
        Ok(_) => Ok(BundleOutcome::Created),
        Err(GitError::Failed { message, .. }) if message.contains("empty bundle") => {
            Ok(BundleOutcome::Empty)
        }
        Err(e) => Err(e),
    }
}

/// Clone `url` (all refs) into a temporary folder, blocking the calling thread (direct mode calls
/// this from `spawn_blocking`). Runs on a private single-thread runtime on its own thread, so it
/// works whether or not the caller is inside a Tokio runtime. Not cancellable: use
/// [`clone_into`] with a token where cancellation matters.
pub fn clone_remote(url: &str, token: Option<&SecretValue>) -> Result<ClonedRepo> {
    let dir = tempfile::Builder::new()
        .prefix("argus-secrets-clone-")
        .tempdir()
        .map_err(|e| SecretsError::io("creating temporary folder", e))?;
    let dest = dir.path().join("repo.git");
    let opts = GitOptions {
        token: token.cloned(),
        ..GitOptions::default()
    };
    let never = CancellationToken::new();
    block_on_private(clone_into(url, &dest, &opts, &never))??;
    Ok(ClonedRepo { dir })
}

/// Runs `fut` to completion on a fresh current-thread runtime on a scoped thread of its own.
fn block_on_private<F>(fut: F) -> Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| SecretsError::io("starting a runtime for git", e))?;
            Ok(rt.block_on(fut))
        })
        .join()
        .map_err(|_| SecretsError::Clone("the git runner thread panicked".into()))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(spec: &ProcessSpec, key: &str) -> Option<String> {
        spec.env.get(key).cloned()
    }

    #[test]
    fn a_named_ssh_key_is_the_only_identity_ssh_may_use() {
        let opts = GitOptions {
            ssh: Some(SshAuth {
                key_file: PathBuf::from("/w/ssh/it's key"),
                known_hosts: PathBuf::from("/w/ssh/known_hosts"),
                strict_host_key: true,
            }),
            ..GitOptions::default()
        };
        let spec = clone_spec("ssh://git@h.example:2222/r.git", Path::new("/w/r"), &opts);
        let cmd = env_of(&spec, "GIT_SSH_COMMAND").unwrap();
        for part in [
            "-F /dev/null",
            "-o BatchMode=yes",
            "-o IdentitiesOnly=yes",
            "-o IdentityAgent=none",
            "-o IdentityFile='/w/ssh/it'\\''s key'",
            "-o UserKnownHostsFile='/w/ssh/known_hosts'",
            "-o StrictHostKeyChecking=yes",
        ] {
            assert!(cmd.contains(part), "{part} missing from {cmd}");
        }
        assert_eq!(env_of(&spec, "SSH_AUTH_SOCK"), None);
        // Without a named key: the process's own ssh setup (direct mode, or allowed ambient).
        let ambient = clone_spec(
            "git@h.example:r.git",
            Path::new("/w/r"),
            &GitOptions::default(),
        );
        assert_eq!(
            env_of(&ambient, "GIT_SSH_COMMAND").as_deref(),
            Some("ssh -o BatchMode=yes")
        );
    }

    #[test]
    fn ssh_and_http_hosts_are_read_from_urls() {
        assert_eq!(
            ssh_host("ssh://git@h.example:2222/r.git").as_deref(),
            Some("h.example")
        );
        assert_eq!(ssh_host("ssh://[::1]:22/r.git").as_deref(), Some("::1"));
        assert_eq!(
            ssh_host("git@github.com:org/r.git").as_deref(),
            Some("github.com")
        );
        assert_eq!(ssh_host("https://github.com/org/r.git"), None);
        assert_eq!(
            http_host("https://GitHub.com/o/r").as_deref(),
            Some("github.com")
        );
        assert_eq!(http_host("ssh://github.com/o/r"), None);
    }

    #[test]
    fn token_goes_to_env_scoped_to_the_host_never_to_argv() {
        let token = SecretValue::new("tok-SECRET-123456".into());
        let opts = GitOptions {
            token: Some(token),
            ..GitOptions::default()
        };
        let spec = clone_spec(
            "https://git.example.com:8443/org/repo.git",
            Path::new("/w/repo.git"),
            &opts,
        );
        let argv: Vec<String> = spec
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            argv,
            [
                "clone",
                "--mirror",
                "--quiet",
                "--",
                "https://git.example.com:8443/org/repo.git",
                "/w/repo.git"
            ]
        );
        assert!(argv.iter().all(|a| !a.contains("tok-SECRET")));
        assert_eq!(
            env_of(&spec, "GIT_CONFIG_KEY_0").as_deref(),
            Some("http.https://git.example.com:8443/.extraHeader")
        );
        let value = env_of(&spec, "GIT_CONFIG_VALUE_0").unwrap();
        assert!(value.starts_with("Authorization: Basic "), "{value}");
        assert!(!value.contains("tok-SECRET"), "token must be encoded");
        assert_eq!(env_of(&spec, "GIT_TERMINAL_PROMPT").as_deref(), Some("0"));
        assert_eq!(
            env_of(&spec, "GIT_ALLOW_PROTOCOL").as_deref(),
            Some(ALLOWED_PROTOCOLS)
        );
        assert!(format!("{spec:?}").contains("GIT_CONFIG_VALUE_0"));
    }

    #[test]
    fn no_token_over_ssh_or_file_and_ssh_is_batch() {
        let opts = GitOptions {
            token: Some(SecretValue::new("tok".into())),
            ..GitOptions::default()
        };
        for url in ["git@github.com:org/repo.git", "ssh://git@host/repo.git"] {
            let spec = clone_spec(url, Path::new("/w/r"), &opts);
            assert_eq!(env_of(&spec, "GIT_CONFIG_COUNT"), None, "{url}");
            assert_eq!(
                env_of(&spec, "GIT_SSH_COMMAND").as_deref(),
                Some("ssh -o BatchMode=yes")
            );
        }
        let spec = clone_spec("file:///srv/repo", Path::new("/w/r"), &opts);
        assert_eq!(env_of(&spec, "GIT_CONFIG_COUNT"), None);
        assert_eq!(env_of(&spec, "GIT_SSH_COMMAND"), None);
    }

    #[test]
    fn classifies_urls_and_messages() {
        assert!(is_remote("https://github.com/a/b") && is_remote("git@github.com:a/b"));
        assert!(!is_remote("file:///srv/repo") && is_clone_url("file:///srv/repo"));
        assert!(!is_clone_url("/srv/repo") && !is_clone_url("ext::sh -c id"));
        assert!(is_transient(
            "fatal: unable to access 'https://x/': Could not resolve host: x"
        ));
        assert!(!is_transient("fatal: repository 'https://x/a' not found"));
    }

    /// git itself reads the scoped header from the environment (and only for that host).
    #[tokio::test]
    async fn git_sees_the_scoped_header() {
        let opts = GitOptions {
            token: Some(SecretValue::new("tok".into())),
            ..GitOptions::default()
        };
        let clone = clone_spec("https://h.example/a.git", Path::new("/x"), &opts);
        let cancel = CancellationToken::new();
        let query = |url: &str| {
            let mut s =
                ProcessSpec::new("git").args(["config", "--get-urlmatch", "http.extraHeader", url]);
            s.env = clone.env.clone();
            s.env.insert("GIT_CONFIG_GLOBAL".into(), "/dev/null".into());
            s.env.insert("GIT_CONFIG_NOSYSTEM".into(), "1".into());
            s.timeout = Duration::from_secs(20);
            s
        };
        let out = process::run(query("https://h.example/a.git"), &cancel)
            .await
            .unwrap();
        let got = String::from_utf8_lossy(&out.stdout);
        assert!(got.starts_with("Authorization: Basic "), "{got:?}");
        let other = process::run(query("https://evil.example/a.git"), &cancel)
            .await
            .unwrap();
        assert!(other.stdout.is_empty(), "header leaked to another host");
    }

    async fn git_in(dir: &Path, args: &[&str]) {
        let mut s = ProcessSpec::new("git")
            .args(args.iter().copied())
            .timeout(Duration::from_secs(30));
        s.cwd = Some(dir.to_path_buf());
        for (k, v) in [
            ("GIT_CONFIG_GLOBAL", "/dev/null"),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_AUTHOR_NAME", "A"),
            ("GIT_AUTHOR_EMAIL", "a@example.com"),
            ("GIT_COMMITTER_NAME", "A"),
            ("GIT_COMMITTER_EMAIL", "a@example.com"),
        ] {
            s.env.insert(k.into(), v.into());
        }
        let out = process::run(s, &CancellationToken::new()).await.unwrap();
        assert!(out.success(), "git {args:?}: {:?}", out.last_stderr_line());
    }

    /// Direct mode calls the blocking clone from `spawn_blocking` inside a runtime.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blocking_clone_works_inside_a_runtime_and_bundles() {
        let src = tempfile::tempdir().unwrap();
        git_in(src.path(), &["init", "-q", "-b", "main"]).await;
        std::fs::write(src.path().join("a.txt"), "hello\n").unwrap();
        git_in(src.path(), &["add", "-A"]).await;
        git_in(src.path(), &["commit", "-q", "-m", "one"]).await;
        let url = url::Url::from_directory_path(src.path())
            .unwrap()
            .to_string();
        let cloned = tokio::task::spawn_blocking(move || clone_remote(&url, None))
            .await
            .unwrap()
            .unwrap();
        assert!(cloned.path().join("HEAD").is_file(), "bare clone expected");

        let out = tempfile::tempdir().unwrap();
        let bundle = out.path().join("r.bundle");
        let cancel = CancellationToken::new();
        let opts = GitOptions::default();
        assert_eq!(
            create_bundle(&cloned.path(), &bundle, &opts, &cancel)
                .await
                .unwrap(),
            BundleOutcome::Created
        );
        assert!(std::fs::metadata(&bundle).unwrap().len() > 0);

        // An empty repository has nothing to bundle; that is not an error.
        let empty = tempfile::tempdir().unwrap();
        git_in(empty.path(), &["init", "-q"]).await;
        assert_eq!(
            create_bundle(empty.path(), &out.path().join("e.bundle"), &opts, &cancel)
                .await
                .unwrap(),
            BundleOutcome::Empty
        );
        // A missing repository is an error naming the operation.
        match clone_remote("file:///nonexistent/argus-test-repo", None) {
            Err(SecretsError::Clone(m)) => assert!(m.contains("git clone failed"), "{m}"),
            other => panic!("expected a clone error, got {other:?}"),
        }
    }
}
