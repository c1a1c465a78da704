//! `argus admin`: operator commands on the server's store, from the same config as
//! `argus serve` (the embedded database may be open in a running server at the same time;
//! `restore` is the exception and refuses then — see `crate::backup_cmd`).
//!
//! `apikey create` prints the new key alone on stdout (so `KEY=$(argus admin apikey create …)`
//! works) and everything else on stderr; the key is shown once and stored only as a hash.

use clap::{Args, Subcommand};
use std::path::PathBuf;

use argus_core::ids::{ApiKeyId, OrgId, Role};
use argus_engine::services::apikeys::parse_ttl;
use argus_engine::services::NewKey;

use crate::config::Config;
use crate::runtime;

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Manage API keys (`auth.mode = "apikey"`): create, list, revoke.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Copy the embedded SQLite database to FILE, consistently, while the server runs.
    /// (PostgreSQL: prints how to use pg_dump and exits 2.)
    ///
    /// Example: `argus admin backup /backups/argus-$(date +%F).db --data-dir /srv/argus`
    Backup(crate::backup_cmd::BackupArgs),
    /// Replace the embedded database with a backup; refused while a server has it open.
    /// (PostgreSQL: prints how to use pg_restore and exits 2.)
    ///
    /// Example: `argus admin restore /backups/argus-2026-01-31.db --data-dir /srv/argus --force`
    Restore(crate::backup_cmd::RestoreArgs),
    /// Run one retention sweep now: expired scans, orphan artifact and work folders
    /// (`--dry-run` only shows what would go). See docs/operations.md#retention.
    Gc(crate::gc_cmd::GcArgs),
}

#[derive(Subcommand, Debug)]
pub enum ApikeyCommand {
    /// Create a key and print it once, alone on stdout. Send it as
    /// `Authorization: Bearer <key>`.
    ///
    /// Example: `argus admin apikey create --org acme --role analyst --expires 90d --name ci`
    Create(CreateArgs),
    /// List keys (all organisations, or one with --org): prefix, role, state, last use.
    List(ListArgs),
    /// Revoke a key by id or by its prefix (`argus_…` as `list` shows it).
    Revoke(RevokeArgs),
}

#[derive(Args, Debug)]
pub struct StoreArgs {
    /// Folder of the embedded database (as given to `argus serve --data-dir`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Organisation the key acts in.
    #[arg(long)]
    pub org: String,
    /// admin (everything, incl. keys and the audit log), analyst (create, run, triage, clean,
    /// push) or viewer (read only).
    #[arg(long)]
    pub role: String,
    /// Lifetime, e.g. 30d, 12h, 2w; without it the key never expires.
    #[arg(long, value_name = "DURATION")]
    pub expires: Option<String>,
    /// A label for people (e.g. the system that uses it).
    #[arg(long, default_value = "")]
    pub name: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this organisation's keys.
    #[arg(long)]
    pub org: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The key's id, or its prefix (`argus_…`).
    pub key: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub(crate) fn data_dir_override(store: &StoreArgs) -> serde_json::Value {
    match &store.data_dir {
        Some(d) => serde_json::json!({ "server": { "data_dir": d } }),
        None => serde_json::json!({}),
    }
}

/// Runs an admin command; returns the exit code.
pub async fn run(file: Option<&std::path::Path>, cmd: AdminCommand) -> anyhow::Result<u8> {
    let cmd = match cmd {
        AdminCommand::Apikey(cmd) => cmd,
        AdminCommand::Backup(a) => return crate::backup_cmd::backup(file, a).await,
        AdminCommand::Restore(a) => return crate::backup_cmd::restore(file, a).await,
        AdminCommand::Gc(args) => return crate::gc_cmd::run(file, args).await,
    };
    let store_args = match &cmd {
        ApikeyCommand::Create(a) => &a.store,
        ApikeyCommand::List(a) => &a.store,
        ApikeyCommand::Revoke(a) => &a.store,
    };
    let cfg = Config::load(file, data_dir_override(store_args))?;
    runtime::init_logging(&cfg.log);
    let engine = runtime::engine(&cfg).await?;
    let result = apikey(&engine, cmd).await;
    engine.shutdown().await;
    result
}

async fn apikey(engine: &argus_engine::Engine, cmd: ApikeyCommand) -> anyhow::Result<u8> {
    let keys = engine.api_keys();
    match cmd {
        ApikeyCommand::Create(a) => {
            let org = OrgId::parse(&a.org).map_err(|_| {
                anyhow::anyhow!("--org {:?}: letters, digits, '.', '_' and '-' only", a.org)
            })?;
            let role = Role::parse(&a.role).map_err(|_| {
                anyhow::anyhow!("--role {:?}: use admin, analyst or viewer", a.role)
            })?;
            let expires_at = match &a.expires {
                Some(t) => Some(
                    chrono::Utc::now()
                        + parse_ttl(t).map_err(|_| {
                            anyhow::anyhow!(
                                "--expires {t:?}: write a number and a unit, e.g. 30d, 12h, 2w"
                            )
                        })?,
                ),
                None => None,
            };
            let created = keys
                .create(NewKey {
                    org,
                    role,
                    name: a.name,
                    expires_at,
                    created_by: "cli".into(),
                })
                .await?;
            let r = &created.record;
            eprintln!(
                "created API key {} ({}) for org {} with role {}{}; it is shown once, below",
                r.prefix,
                r.id,
                r.org,
                r.role,
                r.expires_at
                    .map(|at| format!(", expiring {}", at.to_rfc3339()))
                    .unwrap_or_default()
            );
            println!("{}", created.key);
            Ok(0)
        }
        ApikeyCommand::List(a) => {
            let org = match &a.org {
                Some(o) => Some(
                    OrgId::parse(o).map_err(|_| anyhow::anyhow!("--org {o:?} is not an org id"))?,
                ),
                None => None,
            };
            let list = keys.list(org.as_ref()).await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(0);
            }
            let now = chrono::Utc::now();
            println!(
                "{:<20} {:<36} {:<16} {:<8} {:<8} {:<20} NAME",
                "PREFIX", "ID", "ORG", "ROLE", "STATE", "LAST USED"
            );
            for k in list {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else if !k.usable_at(now) {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{:<20} {:<36} {:<16} {:<8} {:<8} {:<20} {}",
                    k.prefix,
                    k.id,
                    k.org,
                    k.role,
                    state,
                    k.last_used_at
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "never".into()),
                    k.name
                );
            }
            Ok(0)
        }
        ApikeyCommand::Revoke(a) => {
            let id = match a.key.parse::<ApiKeyId>() {
                Ok(id) => id,
                Err(_) => keys
                    .list(None)
                    .await?
                    .into_iter()
                    .find(|k| k.prefix == a.key)
                    .map(|k| k.id)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "no API key with id or prefix {:?} (see `argus admin apikey list`)",
                            a.key
                        )
                    })?,
            };
            let k = keys.revoke(None, id).await?;
            eprintln!("revoked API key {} ({}) of org {}", k.prefix, k.id, k.org);
            Ok(0)
        }
    }
}
