//! `argus`: the one binary. Reads config (file ← env ← flags), chooses backends, and runs the
//! embedded server, a worker, a direct scan, or an admin command.

mod admin_cmd;
mod backup_cmd;
mod clean_cmd;
mod config;
mod direct;
mod edge;
mod files_cmd;
mod gc_cmd;
mod logfmt;
mod output;
mod push_cmd;
mod quotas;
mod remote;
mod retention;
mod runtime;
mod secrets_cmd;
mod sinks;
mod telemetry;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use config::Config;

/// Argus — a self-hosted security scan orchestrator.
///
/// Start with `argus serve` (web UI at /, API under /api/v1 with its docs at /docs, workers and
/// scheduler in one process on an embedded database), or run a scanner directly with
/// `argus scan <scanner> <target>`.
#[derive(Parser, Debug)]
#[command(name = "argus", version = env!("CARGO_PKG_VERSION"), propagate_version = true)]
struct Cli {
    /// Config file (TOML). Environment variables `ARGUS_<SECTION>__<KEY>` override it, flags
    /// override both. See docs/config.md.
    #[arg(long, global = true, env = "ARGUS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the web UI, the API, the workers and the scheduler in one process (embedded database
    /// and queue by default). Open http://127.0.0.1:8080 for the UI.
    Serve(ServeArgs),
    /// Run workers only (they share the store and queue named in the config).
    Worker(WorkerArgs),
    /// Run a scanner directly, in-process: no server, no database. Prints a table, JSON, JSONL
    /// or SARIF; exits 1 when findings at or above --fail-on exist, 2 on error. `--follow`
    /// also scans the targets it discovers.
    #[command(subcommand)]
    Scan(ScanCommand),
    /// Remove selected secrets from a repository's whole history (direct mode): reads a
    /// `scan secrets --format json` report and writes a cleaned bare repository to --out.
    Clean(Box<clean_cmd::CleanArgs>),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// List the scanners this build knows, with their target kinds and availability.
    Scanners {
        /// Print JSON (with parameter schemas) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Push a repository (e.g. the cleaned one from `argus clean`) to a remote through git:
    /// every branch and tag, chosen refs, or a mirror. `argus push --help` explains credentials.
    Push(Box<push_cmd::PushArgs>),
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
    /// Apply the database migrations of the configured store and exit (`serve` and `worker`
    /// also apply them at start; run this as a one-shot job before rolling out a new version).
    Migrate(MigrateArgs),
    /// Operator commands on the server's store: `argus admin apikey create|list|revoke`.
    #[command(subcommand)]
    Admin(admin_cmd::AdminCommand),
    /// Drive a running server over its HTTP API: list, create, watch and stop scans, list
    /// findings, download artifacts. `--server URL` (or ARGUS_SERVER), `--token KEY` (or
    /// ARGUS_TOKEN), `--json` for the API's JSON.
    ///
    /// Example: `argus remote scans create --scanner noop --target example.com --watch`
    Remote(Box<remote::RemoteArgs>),
}

#[derive(Args, Debug, Default)]
struct MigrateArgs {
    /// Folder for the embedded database (ignored with a PostgreSQL store.url).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Args, Debug, Default)]
struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:8080.
    #[arg(long, value_name = "ADDR")]
    bind: Option<std::net::SocketAddr>,
    /// Folder for the embedded database, artifacts and work folders.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Tasks run at once in this process; 0 runs the API only.
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
}

#[derive(Args, Debug, Default)]
struct WorkerArgs {
    /// Folder for the embedded database, artifacts and work folders.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Tasks run at once in this process.
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
}

#[derive(Subcommand, Debug)]
enum ScanCommand {
    /// Find leaked secrets in a git repository's full history, a folder, a file or stdin.
    Secrets(Box<secrets_cmd::SecretsArgs>),
    /// Scan every object of a folder or storage location with YARA rules (YARA-X).
    Yara(Box<files_cmd::YaraArgs>),
    /// Scan every object of a folder or storage location with ClamAV (clamd INSTREAM).
    Clamav(Box<files_cmd::ClamavArgs>),
    /// Any other scanner: `argus scan tool:subfinder example.com --param rate=10`.
    #[command(external_subcommand)]
    Other(Vec<String>),
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print the effective configuration (file ← env ← flags) with secrets masked.
    Show,
}

fn overrides(
    data_dir: Option<PathBuf>,
    bind: Option<std::net::SocketAddr>,
    workers: Option<usize>,
) -> serde_json::Value {
    let mut v = serde_json::json!({});
    if let Some(d) = data_dir {
        v["server"]["data_dir"] = serde_json::json!(d);
    }
    if let Some(b) = bind {
        v["server"]["bind"] = serde_json::json!(b.to_string());
    }
    if let Some(w) = workers {
        v["worker"]["workers"] = serde_json::json!(w);
    }
    v
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let file = cli.config.as_deref();
    match cli.command {
        Command::Serve(a) => {
            let cfg = Config::load(file, overrides(a.data_dir, a.bind, a.workers))?;
            let telemetry = telemetry::init(&cfg.log, &cfg.telemetry)?;
            let ran = runtime::serve(cfg).await;
            telemetry.shutdown().await;
            ran?;
            Ok(0)
        }
        Command::Worker(a) => {
            let cfg = Config::load(file, overrides(a.data_dir, None, a.workers))?;
            let telemetry = telemetry::init(&cfg.log, &cfg.telemetry)?;
            let ran = runtime::worker(cfg).await;
            telemetry.shutdown().await;
            ran?;
            Ok(0)
        }
        Command::Scan(ScanCommand::Secrets(mut args)) => {
            // `secrets.rules_dir` from the config comes first; `--rules-dir` folders add to it.
            let cfg = Config::load(file, serde_json::json!({}))?;
            if let Some(dir) = cfg.secrets.rules_dir {
                args.rules_dir.insert(0, dir);
            }
            let code = secrets_cmd::run(*args).await?;
            Ok(u8::try_from(code).unwrap_or(2))
        }
        Command::Clean(args) => {
            let cfg = Config::load(file, serde_json::json!({}))?;
            let code = clean_cmd::run(*args, cfg.secrets.rules_dir).await?;
            Ok(u8::try_from(code).unwrap_or(2))
        }
        Command::Scan(ScanCommand::Yara(args)) => {
            let cfg = Config::load(file, serde_json::json!({}))?;
            let extra = if args.rules.is_empty() {
                serde_json::json!({})
            } else {
                let rules: Vec<String> = args
                    .rules
                    .iter()
                    .map(|p| std::path::absolute(p).map(|p| p.display().to_string()))
                    .collect::<Result<_, _>>()?;
                serde_json::json!({ "rules": rules })
            };
            files_cmd::run(&cfg, "yara", &args.common, extra, serde_json::json!({})).await
        }
        Command::Scan(ScanCommand::Clamav(args)) => {
            let cfg = Config::load(file, serde_json::json!({}))?;
            let over = match &args.clamd {
                Some(a) => serde_json::json!({ "address": a }),
                None => serde_json::json!({}),
            };
            files_cmd::run(&cfg, "clamav", &args.common, serde_json::json!({}), over).await
        }
        Command::Scan(ScanCommand::Other(argv)) => {
            let cfg = Config::load(file, serde_json::json!({}))?;
            direct::run(&cfg, argv).await
        }
        Command::Config(ConfigCommand::Show) => {
            let cfg = Config::load(file, serde_json::json!({}))?;
            print!("{}", cfg.to_masked_toml()?);
            Ok(0)
        }
        Command::Scanners { json } => {
            let cfg = Config::load(file, serde_json::json!({}))?;
            let registry = runtime::registry(&cfg)?;
            let infos = registry.infos();
            if json {
                println!("{}", serde_json::to_string_pretty(&infos)?);
            } else {
                println!(
                    "{:<18} {:<10} {:<28} DESCRIPTION",
                    "NAME", "AVAILABLE", "TARGETS"
                );
                for i in infos {
                    let kinds: Vec<&str> = i.target_kinds.iter().map(|k| k.as_str()).collect();
                    let kinds = if kinds.len() == 9 {
                        "any".to_string()
                    } else {
                        kinds.join(",")
                    };
                    println!(
                        "{:<18} {:<10} {:<28} {}",
                        i.name,
                        if i.available { "yes" } else { "no" },
                        kinds,
                        i.description
                    );
                }
            }
            Ok(0)
        }
        Command::Admin(cmd) => admin_cmd::run(file, cmd).await,
        Command::Remote(args) => remote::run(*args).await,
        Command::Migrate(a) => {
            let cfg = Config::load(file, overrides(a.data_dir, None, None))?;
            runtime::init_logging(&cfg.log);
            let done = runtime::migrate(&cfg).await?;
            eprintln!("{done}");
            Ok(0)
        }
        Command::Push(args) => {
            let cfg = Config::load(file, serde_json::json!({}))?;
            push_cmd::run(&cfg, *args).await
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&argus_api::openapi())?);
            Ok(0)
        }
    }
}
