//! `secrets`' configuration and its factory: the `[secrets]` table (extra rules, git
//! credentials, the repository copy key, the ssh policy) turned into a [`SecretsScanner`].
//!
//! The table is the top-level `[secrets]` section of the binary's config (kept there for
//! compatibility: `ARGUS_SECRETS__*` variables and `argus scan secrets` read it too), passed to
//! this factory as its table in one place (the binary's `runtime::scanner_tables`).
//!
//! Secrets named by the config (a token, a key) are read through the environment door at build
//! time, so a missing one stops start-up with a message naming the variable, and the value is
//! never in the config, a scan's params, the database or the logs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::redacted::Redacted;
use argus_core::scanner::Scanner;
use serde::{Deserialize, Serialize};

use super::{GitCredential, GitSecret, SecretsScanner, SECRETS};

/// The `secrets` scanner (platform) and `argus scan secrets` (direct mode).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// Folder of extra rule files (`*.toml`, the built-in rule format), added to the built-in
    /// rules in both modes.
    pub rules_dir: Option<PathBuf>,
    /// Environment variable holding the key (32 bytes: 64 hex digits or base64) that sealed
    /// repository copies are encrypted with. Unset: no copy of a scanned repository is kept.
    pub repo_copy_key_env: Option<String>,
    /// Let ssh clone URLs without a named credential use this process's own ssh identity (its
    /// agent and `~/.ssh`). Off: every tenant would otherwise clone with the server's keys.
    /// `argus scan` (direct mode) always uses the user's own identity.
    pub allow_ambient_ssh: bool,
    /// Git credentials for cloning private repositories, by the name scan params use
    /// (`"credential": "<name>"`). The secret itself is read from an environment variable (or,
    /// for ssh keys, a file) at start-up, so it is never in the config file, a scan's params, the
    /// database or the logs.
    pub credentials: BTreeMap<String, GitCredentialConfig>,
    /// Base URL of an external credentials service (the DeployGuard design's: `GET
    /// {url}/api/credentials/{id}` with `X-User-ID`, answering `{"username", "token"}`), for
    /// pushes that name a `credentials_id`. Unset: pushes use configured credentials only.
    pub credentials_service_url: Option<String>,
}

/// One git credential for `host`: a token (http(s) URLs) or an ssh key (ssh URLs); exactly one
/// of `token_env`, `ssh_key_env` and `ssh_key_file`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GitCredentialConfig {
    /// Host the secret is for, as it appears in repository URLs (`github.com`).
    pub host: String,
    /// Environment variable holding a token (`GITHUB_TOKEN`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// Environment variable holding an ssh private key (OpenSSH text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_key_env: Option<String>,
    /// File holding an ssh private key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_key_file: Option<PathBuf>,
    /// known_hosts file the host's key is checked against (ssh only). Without one, the host key
    /// seen at each clone's first connection is accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_hosts_file: Option<PathBuf>,
}

impl ComponentConfig for SecretsConfig {
    fn absolutize(&mut self, cwd: &Path) {
        let abs = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                cwd.join(p)
            }
        };
        self.rules_dir = self.rules_dir.as_deref().map(abs);
        for c in self.credentials.values_mut() {
            c.ssh_key_file = c.ssh_key_file.as_deref().map(abs);
            c.known_hosts_file = c.known_hosts_file.as_deref().map(abs);
        }
    }
}

/// Builds the `secrets` scanner from its table.
#[derive(Clone, Copy, Debug, Default)]
pub struct SecretsFactory;

impl Factory for SecretsFactory {
    type Built = dyn Scanner;
    type Config = SecretsConfig;

    fn name(&self) -> &'static str {
        SECRETS
    }

    fn build(
        &self,
        cfg: SecretsConfig,
        doors: &Doors,
    ) -> Result<Vec<Arc<dyn Scanner>>, BuildError> {
        // The remediation scanners share the secrets scanner's rules, credentials and key.
        let secrets = Arc::new(build_scanner(&cfg, doors)?);
        let service = match &cfg.credentials_service_url {
            Some(url) => Some(
                crate::credentials::CredentialsService::new(url, doors).map_err(|e| {
                    BuildError::Failed(format!("secrets.credentials_service_url: {e}"))
                })?,
            ),
            None => None,
        };
        let clean: Arc<dyn Scanner> =
            Arc::new(crate::remediate::GitCleanScanner::new(secrets.clone()));
        let push: Arc<dyn Scanner> = Arc::new(crate::remediate::GitPushScanner::new(
            secrets.clone(),
            service,
        ));
        let secrets: Arc<dyn Scanner> = secrets;
        Ok(vec![secrets, clean, push])
    }
}

/// The scanner with the configured extra rules, git credentials, repository copy key and ssh
/// policy; environment variables are read through `doors`.
pub fn build_scanner(cfg: &SecretsConfig, doors: &Doors) -> Result<SecretsScanner, BuildError> {
    let fail = BuildError::Failed;
    let env = doors.env();
    let mut scanner = SecretsScanner::new()
        .allow_ambient_ssh(cfg.allow_ambient_ssh)
        .with_process_door(doors.processes().clone());
    if let Some(dir) = &cfg.rules_dir {
        let mut rules =
            crate::RuleSet::builtin().map_err(|e| fail(format!("built-in secret rules: {e}")))?;
        rules.extend(
            crate::RuleSet::load_dir(dir)
                .map_err(|e| fail(format!("secrets.rules_dir {}: {e}", dir.display())))?,
        );
        let engine =
            crate::Engine::new(rules).map_err(|e| fail(format!("compiling secret rules: {e}")))?;
        scanner = scanner.with_engine(Arc::new(engine));
    }
    if let Some(var) = &cfg.repo_copy_key_env {
        let text = env.var(var).filter(|t| !t.trim().is_empty());
        let Some(text) = text else {
            return Err(fail(format!(
                "secrets.repo_copy_key_env: environment variable {var} is not set (it must hold 32 random bytes as 64 hex digits, e.g. from `openssl rand -hex 32`; or remove the setting to keep no repository copies)"
            )));
        };
        let key = crate::sealed::RepoCopyKey::parse(&text)
            .map_err(|e| fail(format!("secrets.repo_copy_key_env: {var}: {e}")))?;
        scanner = scanner.with_repo_copy_key(key);
    }
    for (name, c) in &cfg.credentials {
        let env_secret = |var: &str, what: &str| -> Result<Redacted<String>, BuildError> {
            match env.var(var).filter(|t| !t.is_empty()) {
                Some(v) => Ok(Redacted::new(v)),
                None => Err(fail(format!(
                    "secrets.credentials.{name}: environment variable {var} is not set (it must hold the {what} for {})",
                    c.host
                ))),
            }
        };
        let secret = match (&c.token_env, &c.ssh_key_env, &c.ssh_key_file) {
            (Some(var), None, None) => GitSecret::Token(env_secret(var, "token")?),
            (None, Some(var), None) => GitSecret::SshKey {
                key: env_secret(var, "ssh private key")?,
                known_hosts: c.known_hosts_file.clone(),
            },
            (None, None, Some(file)) => GitSecret::SshKey {
                key: Redacted::new(std::fs::read_to_string(file).map_err(|e| {
                    fail(format!(
                        "secrets.credentials.{name}.ssh_key_file {}: {e}",
                        file.display()
                    ))
                })?),
                known_hosts: c.known_hosts_file.clone(),
            },
            _ => return Err(fail(format!(
                "secrets.credentials.{name}: set exactly one of token_env (a token for https URLs), ssh_key_env or ssh_key_file (an ssh key for ssh URLs)"
            ))),
        };
        if let Some(kh) = &c.known_hosts_file {
            if c.token_env.is_some() {
                return Err(fail(format!(
                    "secrets.credentials.{name}.known_hosts_file is for ssh keys only"
                )));
            }
            if !kh.is_file() {
                return Err(fail(format!(
                    "secrets.credentials.{name}.known_hosts_file {} is not a file",
                    kh.display()
                )));
            }
        }
        scanner = scanner.with_credential(
            name.clone(),
            GitCredential {
                host: c.host.clone(),
                secret,
            },
        );
    }
    Ok(scanner)
}
