//! Pushing a repository (a cleaned bare repository, usually) to a target remote through the
//! `git` executable, via the process door ([`crate::remote`]'s way of running `git`).
//!
//! What is pushed ([`PushOptions`]):
//! - `mirror`: `git push --mirror` — every ref, and remote refs that do not exist here are
//!   deleted (a mirror is always forced);
//! - `refs`: these refspecs (`main`, `refs/tags/v1`, `main:release`), each as given;
//! - neither: every branch and tag (`refs/heads/*`, `refs/tags/*`), deleting nothing.
//!
//! `force` adds `--force` (a non-fast-forward update replaces the remote's history); without it a
//! remote ref that moved elsewhere is rejected and the push fails with git's message.
//!
//! Invariants:
//! - The token reaches `git` only through the child's environment: an `http.extraHeader` with
//!   basic credentials scoped to the target's `scheme://host[:port]/`, in `GIT_CONFIG_*`
//!   variables ([`remote::transport_env`]). Never on the command line, never in the URL, never
//!   in a config file. Credential helpers are switched off for the run (`credential.helper=`),
//!   so no stored credential is read and none is written.
//! - Target URLs with a password are refused (use a credential); the URL that is logged and put
//!   in errors therefore holds no secret. Every message taken from `git` has the token (and its
//!   base64 header form) masked before it reaches an error.
//! - Nothing prompts (`GIT_TERMINAL_PROMPT=0`, askpass `true`): a bad token fails at once.
//! - Only `http`, `https`, `ssh`, `git` and `file` transports (`GIT_ALLOW_PROTOCOL`). Whether a
//!   local path or `file://` target is allowed is the caller's decision (the API refuses them for
//!   tenants; the CLI allows them): see [`is_local_target`].

use crate::credentials::GitAuth;
use crate::remote::{self, GitOptions};
use argus_scanners::process::{self, ProcessError};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// What to push and how (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushOptions {
    /// Refspecs to push; empty means every branch and tag (unless `mirror`).
    pub refs: Vec<String>,
    /// Push every ref and delete remote refs that do not exist here.
    pub mirror: bool,
    /// Allow non-fast-forward updates.
    pub force: bool,
}

/// One ref as `git push --porcelain` reported it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RefUpdate {
    /// `fast-forward`, `forced`, `deleted`, `new`, `rejected` or `up-to-date`.
    pub status: &'static str,
    /// Local ref (empty for a deletion).
    pub from: String,
    /// Remote ref.
    pub to: String,
    /// git's summary (`abc..def`, `[new branch]`, `[rejected] (non-fast-forward)`).
    pub summary: String,
}

/// What a successful push did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PushOutcome {
    /// Every ref git reported, in its order.
    pub refs: Vec<RefUpdate>,
}

/// Why a push did not happen (messages hold no credential).
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The source is not a git repository.
    #[error("{0} is not a git repository")]
    NotARepository(PathBuf),
    /// The source is a shallow clone: its history is incomplete.
    #[error("{0} is a shallow clone (its history is incomplete); push from a full clone")]
    Shallow(PathBuf),
    /// The request itself is wrong (a bad refspec, a URL with a password…).
    #[error("invalid push: {0}")]
    Invalid(String),
    /// The remote could not be reached or is not a git repository.
    #[error("cannot reach the remote {url}: {message}")]
    Unreachable { url: String, message: String },
    /// The remote refused the credentials (or asked for some and none were given).
    #[error("authentication to {url} failed: {message}")]
    AuthFailed { url: String, message: String },
    /// The remote rejected at least one ref (non-fast-forward without force, a hook…).
    #[error("the push to {url} was rejected: {message}")]
    Rejected {
        url: String,
        message: String,
        refs: Vec<RefUpdate>,
    },
    /// `git` failed otherwise.
    #[error("git push to {url} failed: {message}")]
    Failed { url: String, message: String },
    /// `git` could not be started.
    #[error("cannot run git push: {0}")]
    Start(String),
    /// The timeout passed; the process group was killed.
    #[error("git push timed out after {0}")]
    TimedOut(String),
    /// Cancelled; the process group was killed.
    #[error("push cancelled")]
    Cancelled,
}

impl PushError {
    /// Whether another attempt may succeed (network trouble).
    pub fn is_transient(&self) -> bool {
        match self {
            PushError::Unreachable { message, .. } | PushError::Failed { message, .. } => {
                let m = message.to_ascii_lowercase();
                remote::is_transient(message)
                    || ["failed to connect", "couldn't connect", "could not connect"]
                        .iter()
                        .any(|p| m.contains(p))
            }
            PushError::TimedOut(_) => true,
            _ => false,
        }
    }
}

/// True when `target` is a path or `file://` URL on this machine (not a network remote).
pub fn is_local_target(target: &str) -> bool {
    !remote::is_remote(target)
}

/// Checks `url` as a push target: a password in it is refused, and it must not look like an
/// option. Returns the URL as it may be logged.
fn check_target(url: &str) -> Result<(), PushError> {
    if url.is_empty() || url.starts_with('-') || url.chars().any(char::is_control) {
        return Err(PushError::Invalid(format!("bad target URL {url:?}")));
    }
    if let Ok(u) = url::Url::parse(url) {
        if u.password().is_some() {
            return Err(PushError::Invalid(
                "the target URL holds a password: configure a credential and name it instead"
                    .into(),
            ));
        }
        if !matches!(u.scheme(), "http" | "https" | "ssh" | "git" | "file") {
            return Err(PushError::Invalid(format!(
                "unsupported transport '{}' (http, https, ssh, git, file)",
                u.scheme()
            )));
        }
    }
    Ok(())
}

/// A relative local path made absolute: `git` runs inside the repository, and the caller meant
/// a path relative to its own working folder. URLs and scp-like `host:path` (a `:` before any
/// `/`, as git reads it) are left alone.
fn absolute_local(target: &str) -> String {
    let scp_like = match (target.find(':'), target.find('/')) {
        (Some(colon), Some(slash)) => colon < slash,
        (Some(_), None) => true,
        _ => false,
    };
    if target.contains("://") || scp_like || Path::new(target).is_absolute() {
        return target.to_owned();
    }
    std::path::absolute(target)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| target.to_owned())
}

/// Checks one refspec: `src[:dst]`, no leading `+` (use `force`) or `-`, no empty source (a
/// deletion; use `mirror`), no whitespace or control characters.
fn check_refspec(r: &str) -> Result<(), PushError> {
    let bad = |why: &str| Err(PushError::Invalid(format!("bad ref {r:?}: {why}")));
    if r.is_empty() {
        return bad("empty");
    }
    if r.starts_with('+') {
        return bad("a leading '+' forces; use force instead");
    }
    if r.starts_with('-') {
        return bad("it looks like an option");
    }
    if r.starts_with(':') {
        return bad("an empty source deletes the remote ref; deletions happen only with mirror");
    }
    if r.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("whitespace or control characters");
    }
    if r.matches(':').count() > 1 {
        return bad("more than one ':'");
    }
    Ok(())
}

/// The arguments of `git push` for `opts` (the target and refspecs follow `--`).
fn push_args(target: &str, opts: &PushOptions) -> Result<Vec<OsString>, PushError> {
    if opts.mirror && !opts.refs.is_empty() {
        return Err(PushError::Invalid(
            "mirror pushes every ref; give either mirror or refs, not both".into(),
        ));
    }
    for r in &opts.refs {
        check_refspec(r)?;
    }
    let mut args: Vec<OsString> = vec!["push".into(), "--porcelain".into()];
    if opts.mirror {
        args.push("--mirror".into());
    }
    if opts.force {
        args.push("--force".into());
    }
    args.push("--".into());
    args.push(target.into());
    if !opts.mirror {
        if opts.refs.is_empty() {
            args.push("refs/heads/*:refs/heads/*".into());
            args.push("refs/tags/*:refs/tags/*".into());
        } else {
            args.extend(opts.refs.iter().map(OsString::from));
        }
    }
    Ok(args)
}

/// Checks that `repo` is a complete (not shallow) git repository.
pub(crate) fn check_source(repo: &Path) -> Result<(), PushError> {
    if !repo.exists() || !crate::is_git_repository(repo) {
        return Err(PushError::NotARepository(repo.to_path_buf()));
    }
    // `shallow` lives in the git dir: the folder itself when bare, `.git/` in a work tree.
    if repo.join("shallow").is_file() || repo.join(".git").join("shallow").is_file() {
        return Err(PushError::Shallow(repo.to_path_buf()));
    }
    Ok(())
}

/// The door spec of the push (exposed so its credentials handling can be checked without a
/// network). `auth` is used only for http(s) targets.
pub fn push_spec(
    repo: &Path,
    target: &str,
    opts: &PushOptions,
    auth: Option<&GitAuth>,
    git: &GitOptions,
) -> Result<process::ProcessSpec, PushError> {
    check_target(target)?;
    let target = absolute_local(target);
    let args = push_args(&target, opts)?;
    let with_token = GitOptions {
        token: auth.map(|a| a.token.clone()),
        ..git.clone()
    };
    let username = auth.map_or(crate::credentials::DEFAULT_TOKEN_USERNAME, |a| {
        a.username.as_str()
    });
    if username.contains(':') || username.chars().any(char::is_control) {
        return Err(PushError::Invalid(
            "the credential's username holds ':' or control characters".into(),
        ));
    }
    let mut env = remote::transport_env(&target, username, &with_token);
    // An empty `credential.helper` clears the helper list: no stored credential is read, and
    // nothing is stored after a successful push.
    remote::add_config(&mut env, "credential.helper", "");
    Ok(remote::spec(git, args, env, Some(repo.to_path_buf())))
}

/// Replaces every secret (and its basic-auth form) in `text` with `***`.
fn mask(text: &str, auth: Option<&GitAuth>) -> String {
    use base64::Engine as _;
    let Some(a) = auth else {
        return text.to_owned();
    };
    let token = a.token.expose();
    if token.is_empty() {
        return text.to_owned();
    }
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{token}", a.username));
    text.replace(&basic, "***").replace(token, "***")
}

/// Parses `git push --porcelain` stdout.
fn parse_porcelain(stdout: &str) -> Vec<RefUpdate> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let flag = parts.next()?;
            let refs = parts.next()?;
            let summary = parts.next().unwrap_or("").trim().to_owned();
            let status = match flag {
                " " => "fast-forward",
                "+" => "forced",
                "-" => "deleted",
                "*" => "new",
                "!" => "rejected",
                "=" => "up-to-date",
                _ => return None,
            };
            let (from, to) = refs.split_once(':')?;
            Some(RefUpdate {
                status,
                from: from.to_owned(),
                to: to.to_owned(),
                summary,
            })
        })
        .collect()
}

/// Whether a git message says the credentials were refused or missing.
fn is_auth_failure(m: &str) -> bool {
    let m = m.to_ascii_lowercase();
    [
        "authentication failed",
        "could not read username",
        "could not read password",
        "terminal prompts disabled",
        "the requested url returned error: 401",
        "the requested url returned error: 403",
        "permission denied (publickey",
        "invalid username or password",
        "access denied",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// Whether a git message says the remote could not be reached or is not a repository.
fn is_unreachable(m: &str) -> bool {
    let l = m.to_ascii_lowercase();
    remote::is_transient(m)
        || [
            "does not appear to be a git repository",
            "not found",
            "could not connect",
            "failed to connect",
            "couldn't connect",
            "no route to host",
            "network is unreachable",
            "unable to access",
            "could not read from remote repository",
        ]
        .iter()
        .any(|p| l.contains(p))
}

/// git's stderr without its `hint:` lines, trimmed and bounded.
fn stderr_message(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with("hint:"))
        .collect();
    let joined = lines.join("\n");
    joined.chars().take(2000).collect()
}

/// Pushes `repo` to `target` as `opts` says, authenticating with `auth` (http(s) targets).
pub async fn push(
    repo: &Path,
    target: &str,
    opts: &PushOptions,
    auth: Option<&GitAuth>,
    git: &GitOptions,
    cancel: &CancellationToken,
) -> Result<PushOutcome, PushError> {
    check_source(repo)?;
    let spec = push_spec(repo, target, opts, auth, git)?;
    tracing::info!(
        repo = %repo.display(),
        target,
        mirror = opts.mirror,
        force = opts.force,
        refs = ?opts.refs,
        authenticated = auth.is_some(),
        "pushing repository"
    );
    let out = match git.door.run(spec, cancel).await {
        Ok(out) => out,
        Err(ProcessError::Cancelled) => return Err(PushError::Cancelled),
        Err(ProcessError::TimedOut { after }) => {
            return Err(PushError::TimedOut(process::fmt_duration(after)))
        }
        Err(e) => return Err(PushError::Start(mask(&e.to_string(), auth))),
    };
    let refs = parse_porcelain(&mask(&String::from_utf8_lossy(&out.stdout), auth));
    if out.success() {
        tracing::info!(target, refs = refs.len(), "push done");
        return Ok(PushOutcome { refs });
    }
    let stderr = if out.stderr.is_empty() {
        &out.stderr_tail
    } else {
        &out.stderr
    };
    let mut message = mask(&stderr_message(stderr), auth);
    let url = target.to_owned();
    let rejected: Vec<&RefUpdate> = refs.iter().filter(|r| r.status == "rejected").collect();
    if !rejected.is_empty() {
        for r in &rejected {
            message.push_str(&format!("\n{} -> {} {}", r.from, r.to, r.summary));
        }
        let message = message.trim().to_owned();
        tracing::warn!(target, %message, "push rejected");
        return Err(PushError::Rejected { url, message, refs });
    }
    if message.is_empty() {
        message = match out.code() {
            Some(c) => format!("git exited with status {c}"),
            None => "git was killed by a signal".into(),
        };
    }
    tracing::warn!(target, %message, "push failed");
    Err(if is_auth_failure(&message) {
        PushError::AuthFailed { url, message }
    } else if is_unreachable(&message) {
        PushError::Unreachable { url, message }
    } else {
        PushError::Failed { url, message }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretValue;

    fn auth() -> GitAuth {
        GitAuth {
            username: "bot".into(),
            token: SecretValue::new("tok-SECRET-987".into()),
        }
    }

    #[test]
    fn the_token_goes_to_the_environment_only_and_helpers_are_off() {
        let spec = push_spec(
            Path::new("/w/r.git"),
            "https://git.example.com/o/r.git",
            &PushOptions {
                refs: vec!["main".into(), "refs/tags/v1:refs/tags/v1".into()],
                force: true,
                ..Default::default()
            },
            Some(&auth()),
            &GitOptions::default(),
        )
        .unwrap();
        let argv: Vec<String> = spec
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            argv,
            [
                "push",
                "--porcelain",
                "--force",
                "--",
                "https://git.example.com/o/r.git",
                "main",
                "refs/tags/v1:refs/tags/v1"
            ]
        );
        assert_eq!(spec.env["GIT_CONFIG_COUNT"], "2");
        assert_eq!(
            spec.env["GIT_CONFIG_KEY_0"],
            "http.https://git.example.com/.extraHeader"
        );
        assert!(!spec.env["GIT_CONFIG_VALUE_0"].contains("tok-SECRET"));
        assert_eq!(spec.env["GIT_CONFIG_KEY_1"], "credential.helper");
        assert_eq!(spec.env["GIT_CONFIG_VALUE_1"], "");
        // ssh targets never get the token.
        let ssh = push_spec(
            Path::new("/w/r.git"),
            "git@h.example:o/r.git",
            &PushOptions::default(),
            Some(&auth()),
            &GitOptions::default(),
        )
        .unwrap();
        assert!(ssh.env.values().all(|v| !v.starts_with("Authorization")));
    }

    #[test]
    fn bad_requests_are_refused_before_git_runs() {
        let bad = |target: &str, opts: PushOptions| {
            push_spec(Path::new("/r"), target, &opts, None, &GitOptions::default())
                .unwrap_err()
                .to_string()
        };
        let refs = |r: &[&str]| PushOptions {
            refs: r.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        assert!(bad("https://u:pw@h/r", refs(&[])).contains("password"));
        assert!(bad("ext::sh -c id", refs(&[])).contains("unsupported transport"));
        assert!(bad("--upload-pack=x", refs(&[])).contains("bad target"));
        assert_eq!(absolute_local("h.example:r.git"), "h.example:r.git");
        assert_eq!(absolute_local("file:///r"), "file:///r");
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            absolute_local("t/r.git"),
            cwd.join("t/r.git").to_string_lossy()
        );
        assert!(bad("/t", refs(&["+main"])).contains("use force"));
        assert!(bad("/t", refs(&[":main"])).contains("deletes"));
        assert!(bad("/t", refs(&["--all"])).contains("option"));
        let both = PushOptions {
            mirror: true,
            ..refs(&["main"])
        };
        assert!(bad("/t", both).contains("not both"));
    }

    #[test]
    fn messages_are_masked_and_porcelain_is_read() {
        use base64::Engine as _;
        let a = auth();
        let basic =
            base64::engine::general_purpose::STANDARD.encode("bot:tok-SECRET-987".as_bytes());
        let m = mask(&format!("x tok-SECRET-987 y Basic {basic}"), Some(&a));
        assert_eq!(m, "x *** y Basic ***");
        let refs = parse_porcelain(
            "To /t\n*\trefs/heads/a:refs/heads/a\t[new branch]\n!\trefs/heads/m:refs/heads/m\t[rejected] (non-fast-forward)\nDone\n",
        );
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].status, "new");
        assert_eq!(refs[1].status, "rejected");
        assert_eq!(refs[1].summary, "[rejected] (non-fast-forward)");
    }
}
