//! Remote repository URLs: clone into a temporary folder, scan, delete.
//!
//! Why a process: cloning with gix would pull its whole network and TLS stack into the build
//! (a large compile-time cost on the 2-core machines this project targets), while `git` is already
//! required on every machine that hosts repositories. This is the library's only process spawn.
//!
//! Credentials never appear on the command line or in logs: a token is passed to `git` through the
//! `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` environment of the child only, as an
//! `http.extraHeader`, and nothing is written to the clone's config. Terminal prompts are disabled.
//! The clone is a `--mirror` (all refs, bare), living in a [`tempfile::TempDir`] owned by the caller
//! and removed when it is dropped.

use crate::error::{Result, SecretsError};
use crate::finding::SecretValue;
use std::path::PathBuf;

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

/// True when `target` looks like a remote URL rather than a local path.
pub fn is_remote(target: &str) -> bool {
    ["http://", "https://", "ssh://", "git://", "git@"]
        .iter()
        .any(|p| target.starts_with(p))
}

/// Clone `url` (all refs) into a temporary folder. `token`, when given, is sent as HTTP basic
/// credentials (`x-access-token:<token>`, accepted by GitHub, GitLab and Bitbucket).
pub fn clone_remote(url: &str, token: Option<&SecretValue>) -> Result<ClonedRepo> {
    use base64::Engine as _;
    let dir = tempfile::Builder::new()
        .prefix("argus-secrets-clone-")
        .tempdir()
        .map_err(|e| SecretsError::io("creating temporary folder", e))?;
    let dest = dir.path().join("repo.git");
    // The platform will route this through its process door (argus_scanners::process); the
    // library has no access to it, so the spawn is allowed here, narrowly.
    #[allow(clippy::disallowed_methods)]
    let mut cmd = std::process::Command::new("git");
    cmd.arg("clone")
        .arg("--mirror")
        .arg("--quiet")
        .arg("--")
        .arg(url)
        .arg(&dest);
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true");
    if let Some(t) = token {
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("x-access-token:{}", t.expose()));
        cmd.env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env(
                "GIT_CONFIG_VALUE_0",
                format!("Authorization: Basic {basic}"),
            );
    }
    cmd.stdin(std::process::Stdio::null());
    let out = cmd
        .output()
        .map_err(|e| SecretsError::io("running git clone", e))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        return Err(SecretsError::Clone(msg.trim().chars().take(500).collect()));
    }
    Ok(ClonedRepo { dir })
}
