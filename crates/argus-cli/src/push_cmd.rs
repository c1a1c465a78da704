//! `argus push <repo> --to <url>`: pushes a repository (typically the cleaned bare repository
//! `argus clean` wrote) to a target remote, in-process, through `git` (no server, no database).
//!
//! The credential comes, in this order, from: `--credential NAME` with `--credentials-service`
//! (fetched from that service for `--user`), `--credential NAME` from the config's
//! `[secrets.credentials.NAME]` (its token read from the environment variable it names), or
//! `ARGUS_GIT_TOKEN` (as `argus scan secrets` clones). The token is never a flag, never in the
//! URL, never printed: it reaches `git` through its environment only
//! ([`argus_secrets::push`]).
//!
//! Prints one line per ref git reported and exits 0; any error (not a repository, unreachable
//! remote, refused credentials, rejected refs with git's message) is printed by `main` and
//! exits 2. Ctrl-C kills `git` and exits 2.

use crate::config::Config;
use anyhow::Context;
use argus_secrets::credentials::{
    config_credential, CredentialsService, GitAuth, DEFAULT_TOKEN_USERNAME,
};
use argus_secrets::push::{push, PushOptions};
use argus_secrets::remote::{self, GitOptions};
use argus_secrets::SecretValue;
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Environment variable holding a token when no credential is named (as for clones).
const TOKEN_ENV: &str = "ARGUS_GIT_TOKEN";

/// Arguments of `argus push`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = "\
What is pushed:
  (default)        every branch and tag (refs/heads/*, refs/tags/*); remote refs that do not
                   exist here are left alone
  --ref REF        only these refs (repeatable): `main`, `refs/tags/v1`, `main:release`
  --mirror         every ref, and remote refs that do not exist here are DELETED (always forced)

Credentials (never on the command line; the token reaches git through its environment only):
  --credential NAME                    [secrets.credentials.NAME] of the config: host = \"...\",
                                       token_env = \"VAR\"; the token is read from $VAR now
  --credential ID --credentials-service URL --user USER
                                       GET URL/api/credentials/ID with X-User-ID: USER,
                                       answering {\"username\", \"token\"}
  (none)                               $ARGUS_GIT_TOKEN for http(s) targets, if set; ssh targets
                                       use your own ssh setup

Examples:
  argus clean repo --report secrets.json --out clean.git
  argus push clean.git --to https://github.com/acme/app.git --credential github --force
  argus push clean.git --to /srv/git/app.git --ref main --ref refs/tags/v1.0
  argus push clean.git --to https://git.example.com/app.git --mirror \\
      --credential 42 --credentials-service https://vault.internal --user alice

Exit codes: 0 pushed; 2 on any error (not a git repository, shallow clone, unreachable remote,
authentication failed, refs rejected by the remote: git's message is shown, credentials masked).")]
pub struct PushArgs {
    /// The repository to push: a bare repository (e.g. `argus clean`'s --out) or a work tree.
    #[arg(value_name = "REPO")]
    pub repo: PathBuf,
    /// Target remote: https://…, ssh://…, git@host:path, or a local path / file:// URL. Must not
    /// hold a password (name a credential instead).
    #[arg(long = "to", value_name = "URL")]
    pub to: String,
    /// Credential name: an entry of [secrets.credentials] in the config, or an id of the
    /// credentials service given with --credentials-service.
    #[arg(long, value_name = "NAME")]
    pub credential: Option<String>,
    /// Allow non-fast-forward updates: replaces the remote's history (needed after a history
    /// rewrite when the remote already has the old history).
    #[arg(long)]
    pub force: bool,
    /// Push every ref and delete remote refs that do not exist here (implies --force).
    #[arg(long, conflicts_with = "refs")]
    pub mirror: bool,
    /// Push only this ref (repeatable): a branch, a full ref name, or SRC:DST.
    #[arg(long = "ref", value_name = "REF")]
    pub refs: Vec<String>,
    /// Fetch --credential from this credentials service (base URL) instead of the config.
    #[arg(long, value_name = "URL", requires_all = ["user", "credential"])]
    pub credentials_service: Option<String>,
    /// The user the credentials service checks the credential against (X-User-ID).
    #[arg(long, value_name = "USER", requires = "credentials_service")]
    pub user: Option<String>,
    /// Give up (and kill git) after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub timeout: u64,
}

/// The credential for `args.to`, fetched now.
async fn credential(cfg: &Config, args: &PushArgs) -> anyhow::Result<Option<GitAuth>> {
    let doors = crate::runtime::direct_doors(cfg)?;
    match (&args.credential, &args.credentials_service, &args.user) {
        (Some(id), Some(service), Some(user)) => {
            let service = CredentialsService::new(service, &doors)?;
            Ok(Some(service.fetch(id, user).await?))
        }
        (Some(name), None, _) => Ok(Some(config_credential(
            &cfg.secrets,
            name,
            &args.to,
            doors.env().as_ref(),
        )?)),
        _ => Ok(doors
            .env()
            .var(TOKEN_ENV)
            .filter(|t| !t.is_empty() && remote::http_host(&args.to).is_some())
            .map(|t| GitAuth {
                username: DEFAULT_TOKEN_USERNAME.to_owned(),
                token: SecretValue::new(t),
            })),
    }
}

/// Runs `argus push`; `Ok(0)` when pushed.
pub async fn run(cfg: &Config, args: PushArgs) -> anyhow::Result<u8> {
    let auth = credential(cfg, &args).await.context("credential")?;
    let opts = PushOptions {
        refs: args.refs.clone(),
        mirror: args.mirror,
        force: args.force,
    };
    let git = GitOptions {
        timeout: Duration::from_secs(args.timeout.max(1)),
        ..GitOptions::default()
    };
    let cancel = CancellationToken::new();
    let on_ctrl_c = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        })
    };
    let result = push(&args.repo, &args.to, &opts, auth.as_ref(), &git, &cancel).await;
    on_ctrl_c.abort();
    let outcome = result?;
    for r in &outcome.refs {
        let from = if r.from.is_empty() {
            "(delete)"
        } else {
            &r.from
        };
        println!("{:<12} {from} -> {}  {}", r.status, r.to, r.summary);
    }
    eprintln!("pushed {} to {}", args.repo.display(), args.to);
    Ok(0)
}
