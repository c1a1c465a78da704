//! Direct mode: `argus scan <scanner> <target>` runs one scanner in-process — no server, no
//! database — and prints its findings through the output layer ([`crate::output`]: table, JSON,
//! JSONL or SARIF). Each task runs through the engine's own run loop
//! ([`argus_engine::runner::TaskRunner`]), so chaining follows the platform's rules.
//!
//! With `--follow`, discovered targets (and fan-out sub-tasks) become tasks for the scanners
//! that accept them, as in a server scan: the runner applies depth (`--depth`), scope
//! (`--scope`, `--exclude`) and the local-access policy (unrestricted here: direct mode scans
//! what a person names); tasks are deduplicated by [`Task::dedup_key`] and admitted while they fit
//! `--max-tasks`, as the store does for a scan. Without it, only the named target is scanned
//! and what it discovered is counted.
//!
//! Progress goes to stderr (hidden when not a terminal), so stdout stays clean for machine
//! formats. Exit codes: 0 clean, 1 findings at or above `--fail-on`, 2 error (the first task
//! failed, a followed scan exceeded `--max-tasks`, or it was interrupted).

use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use argus_core::artifact::{ArtifactKey, ArtifactStore, ByteStream};
use argus_core::finding::Severity;
use argus_core::ids::{OrgId, ScanId, TaskId};
use argus_core::scan::{Priority, ScanConfig, ScannerSpec, Scope};
use argus_core::scanner::ScannerRegistry;
use argus_core::target::{Target, TargetKind};
use argus_core::task::{Task, TaskReport, TaskStatus};
use argus_core::CoreError;
use argus_engine::policy::LocalAccess;
use argus_engine::runner::{ReportSink, TaskRunner};

use crate::config::Config;
use crate::output::platform::{Found, PlatformReport};
use crate::output::Format;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum FailOn {
    Info,
    Low,
    Medium,
    High,
    Critical,
    /// Never exit 1 because of findings.
    None,
}

/// Run a scanner directly: `argus scan tool:subfinder example.com --param rate=10`.
#[derive(Parser, Debug)]
#[command(
    name = "argus scan",
    about = "Run a scanner in-process and print its findings",
    after_help = "Exit codes: 0 no finding at or above --fail-on, 1 such findings, 2 error.\n\n\
                  Examples:\n  argus scan tool:nuclei https://example.com --format sarif -o nuclei.sarif\n  \
                  argus scan tool:subfinder example.com --follow --then tool:httpx --scope example.com"
)]
pub struct DirectArgs {
    /// Scanner name, as listed by `argus scanners` (e.g. `tool:nuclei`, `noop`).
    pub scanner: String,
    /// What to scan: a domain, IP, CIDR, URL, e-mail, path or storage URL.
    pub target: String,
    /// Target kind when it cannot be inferred (domain, ip, cidr, url, email, repo, location…).
    #[arg(long)]
    pub kind: Option<String>,
    /// Scanner parameter `key=value` (value parsed as JSON when it is valid JSON). Repeatable.
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Output format on stdout (or in --output).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, default_value_t = FailOn::Low)]
    pub fail_on: FailOn,
    /// Keep the scanner's artifacts (tool stdout/stderr, reports) in this folder.
    #[arg(long, value_name = "DIR")]
    pub artifacts_dir: Option<PathBuf>,
    /// Follow chained targets: run what the scanners discover through the scanners that
    /// accept it (this one and --then's), with a server scan's depth, scope and dedup rules.
    #[arg(long)]
    pub follow: bool,
    /// Hops of discovered targets to follow (with --follow; 0-16).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "follow",
          value_parser = clap::value_parser!(u32).range(0..=16))]
    pub depth: u32,
    /// Also run this scanner (default params) on discovered targets it accepts (with
    /// --follow). Repeatable.
    #[arg(long = "then", value_name = "SCANNER", requires = "follow")]
    pub then: Vec<String>,
    /// Follow only targets matching this pattern: a host suffix (`example.com` matches
    /// `a.example.com`), `*`, or an exact target. Repeatable; default: everything.
    #[arg(long, value_name = "PATTERN", requires = "follow")]
    pub scope: Vec<String>,
    /// Never follow targets matching this pattern (same syntax as --scope). Repeatable.
    #[arg(long, value_name = "PATTERN", requires = "follow")]
    pub exclude: Vec<String>,
    /// Most tasks a followed scan may run, the first included; past it the run fails.
    #[arg(long, value_name = "N", default_value_t = 1000, requires = "follow",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tasks: u64,
    /// Chaining rules (TOML) for --follow; default: the config's `scan.chain_rules`, else the
    /// shipped rules/chains.toml.
    #[arg(long, value_name = "FILE", requires = "follow")]
    pub chain_rules: Option<PathBuf>,
    /// Most network requests per second of the whole run (network scanners).
    #[arg(long, value_name = "PER_SECOND", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Let discovered targets reach loopback, private, link-local and cloud-metadata
    /// addresses too. The target you name is always scanned as given.
    #[arg(long)]
    pub allow_private: bool,
    /// Ports to scan (network scanners): ranges, lists and top-N lists, e.g. `1-1024,8080`
    /// or `top-100`. Same as `--param ports=…`.
    #[arg(long, value_name = "PORTS")]
    pub ports: Option<String>,
    /// DNS server to ask (network scanners), e.g. `127.0.0.1:5353`; default: the system's.
    /// Same as `--param resolver=…`.
    #[arg(long, value_name = "ADDR:PORT")]
    pub resolver: Option<String>,
}

/// Parses `argv` (scanner first) and runs the scan; returns the exit code.
pub async fn run(cfg: &Config, argv: Vec<String>) -> anyhow::Result<u8> {
    let args =
        match DirectArgs::try_parse_from(std::iter::once("argus scan".to_string()).chain(argv)) {
            Ok(a) => a,
            Err(e) => {
                let code = if e.use_stderr() { 2 } else { 0 };
                let _ = e.print();
                return Ok(code);
            }
        };
    // Direct mode runs as the person at the keyboard: their own ssh identity is theirs to use.
    let mut cfg = cfg.clone();
    cfg.secrets.allow_ambient_ssh = true;
    // Repository copies are kept for a server's later cleaning; direct mode has no later.
    cfg.secrets.repo_copy_key_env = None;
    let registry = crate::runtime::registry(&cfg)?;
    let scanner = runnable(&registry, &args.scanner)?;
    let info = scanner.info();
    let target = parse_target(&args, &info.target_kinds)?;
    let mut params = parse_params(&args.params)?;
    for (key, value) in [("ports", &args.ports), ("resolver", &args.resolver)] {
        if let (Some(v), Some(obj)) = (value, params.as_object_mut()) {
            obj.insert(key.to_owned(), serde_json::Value::String(v.clone()));
        }
    }
    scanner
        .validate_params(&params)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut specs = vec![ScannerSpec {
        name: info.name.clone(),
        params: params.clone(),
    }];
    for name in &args.then {
        let then = runnable(&registry, name)?;
        let params = serde_json::json!({});
        then.validate_params(&params)
            .map_err(|e| anyhow::anyhow!("--then {name}: {e}"))?;
        if !specs.iter().any(|s| &s.name == name) {
            specs.push(ScannerSpec {
                name: name.clone(),
                params,
            });
        }
    }
    // Without --follow, one hop is collected (and counted) but never run.
    let config = ScanConfig {
        scanners: specs,
        targets: vec![target.clone()],
        recursion_depth: if args.follow { args.depth } else { 1 },
        max_duration: None,
        max_results: None,
        max_tasks: Some(args.max_tasks),
        priority: Priority::Medium,
        max_attempts: 1,
        scope: Scope {
            allow: args.scope.clone(),
            deny: args.exclude.clone(),
        },
        labels: Default::default(),
        rate_limit: args.rate,
    };

    let work = tempfile_dir()?;
    let local = LocalAccess::unrestricted();
    let rates = argus_engine::rate::RateLimiter::local(cfg.network.rate_limits());
    let rules = crate::runtime::chain_rules(
        args.chain_rules
            .as_deref()
            .or(cfg.scan.chain_rules.as_deref()),
    )?;
    // The targets named on the command line are scanned as given; discovered ones pass the
    // network guard unless --allow-private.
    let net = argus_core::net::NetAccess::new(if args.allow_private {
        argus_core::net::NetPolicy::allow_all()
    } else {
        argus_core::net::NetPolicy::public_only()
    });
    let artifacts = Arc::new(DirArtifacts {
        dir: args.artifacts_dir.clone(),
        failed: std::sync::Mutex::new(None),
    });
    let artifacts_dyn: Arc<dyn ArtifactStore> = artifacts.clone();
    // Every emission is handed over at once: JSONL lines stream as findings arrive.
    let runner = TaskRunner {
        registry: &registry,
        local: &local,
        artifacts: &artifacts_dyn,
        work_root: work.path(),
        flush_at: 1,
        net: &net,
        trust_seeds: true,
        rules: &rules,
        rates: &rates,
    };
    let root = Task {
        id: TaskId::new(),
        scan_id: ScanId::new(),
        org_id: OrgId::parse("direct")?,
        scanner: info.name.clone(),
        target: target.clone(),
        depth: 0,
        priority: Priority::Medium,
        max_attempts: 1,
        params: None,
        enumerates: scanner.enumerates(&params),
    };

    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let cancel = CancellationToken::new();
    let on_ctrl_c = {
        let (cancel, bar) = (cancel.clone(), bar.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                bar.set_message("interrupted; stopping the scanner…");
                cancel.cancel();
            }
        })
    };

    let mut state = State {
        format: args.format,
        out: crate::output::open(args.output.as_deref())?,
        write_err: None,
        found: Vec::new(),
        seen: HashSet::from([root.dedup_key()]),
        queue: VecDeque::from([root]),
        follow: args.follow,
        admitted: 1,
        max_tasks: args.max_tasks,
        over_limit: false,
        discovered: 0,
        bar: bar.clone(),
    };
    let mut ran_tasks = 0usize;
    let mut failed = 0usize;
    while let Some(task) = state.queue.pop_front() {
        let first = ran_tasks == 0;
        ran_tasks += 1;
        let Some(scanner) = registry.get(&task.scanner).cloned() else {
            // The runner only spawns tasks for registered scanners.
            continue;
        };
        bar.set_message(format!("{} on {}", task.scanner, task.target));
        let mut ran = runner
            .run(
                scanner.as_ref(),
                &config,
                0,
                &task,
                cancel.child_token(),
                Sink {
                    state: &mut state,
                    scanner: &task.scanner,
                },
            )
            .await;
        let result = std::mem::replace(&mut ran.result, Ok(()));
        let status = match &result {
            Ok(()) => TaskStatus::Done,
            Err(e) => TaskStatus::Failed {
                error: e.to_string(),
            },
        };
        let rest = ran.into_report(status);
        state.take(&task.scanner, rest);
        if let Some(e) = state.write_err.take() {
            return Err(e.into());
        }
        if let Some(e) = artifacts.failed.lock().ok().and_then(|mut f| f.take()) {
            anyhow::bail!("{e}");
        }
        match result {
            Ok(()) => {}
            Err(e) if first => {
                bar.finish_and_clear();
                on_ctrl_c.abort();
                anyhow::bail!("{} failed: {e}", task.scanner);
            }
            Err(_) if cancel.is_cancelled() => {
                bar.finish_and_clear();
                on_ctrl_c.abort();
                anyhow::bail!("interrupted");
            }
            Err(e) => {
                failed += 1;
                bar.suspend(|| {
                    eprintln!(
                        "warning: {} on {} failed: {e}",
                        task.scanner,
                        task.target.value()
                    )
                });
            }
        }
    }
    on_ctrl_c.abort();
    bar.finish_and_clear();

    let mut out = std::mem::replace(&mut state.out, Box::new(std::io::sink()));
    args.format
        .finish(&PlatformReport, &mut out, &state.found)?;
    out.flush()?;
    let mut summary = format!("{} finding(s)", state.found.len());
    if args.follow {
        summary.push_str(&format!(", {ran_tasks} task(s) run"));
        if failed > 0 {
            summary.push_str(&format!(", {failed} failed"));
        }
    } else if state.discovered > 0 {
        summary.push_str(&format!(
            ", {} new target(s) discovered (--follow scans them)",
            state.discovered
        ));
    }
    eprintln!("{summary}");
    if state.over_limit {
        anyhow::bail!(
            "{} (--max-tasks); the findings above are from the first {} tasks",
            argus_core::scan::max_tasks_reason(args.max_tasks),
            args.max_tasks
        );
    }
    let threshold = match args.fail_on {
        FailOn::None => None,
        FailOn::Info => Some(Severity::Info),
        FailOn::Low => Some(Severity::Low),
        FailOn::Medium => Some(Severity::Medium),
        FailOn::High => Some(Severity::High),
        FailOn::Critical => Some(Severity::Critical),
    };
    Ok(u8::from(threshold.is_some_and(|t| {
        state.found.iter().any(|f| f.finding.severity >= t)
    })))
}

/// A registered scanner that can run here, or an error that says what can.
fn runnable(
    registry: &ScannerRegistry,
    name: &str,
) -> anyhow::Result<std::sync::Arc<dyn argus_core::scanner::Scanner>> {
    if argus_core::remediation::is_internal(name) {
        anyhow::bail!(
            "'{name}' runs only inside the server (POST /api/v1/scans/{{id}}/clean or /push); in direct mode use `argus clean` and `argus push`"
        );
    }
    let Some(scanner) = registry.get(name).cloned() else {
        let names: Vec<&str> = registry
            .names()
            .filter(|n| !argus_core::remediation::is_internal(n))
            .collect();
        anyhow::bail!(
            "unknown scanner '{}'; available: {}",
            name,
            names.join(", ")
        );
    };
    let info = scanner.info();
    if !info.available {
        anyhow::bail!(
            "scanner '{}' cannot run here: {}",
            info.name,
            info.detail.unwrap_or_else(|| "unavailable".into())
        );
    }
    Ok(scanner)
}

/// What a direct run has found and still has to run.
struct State {
    format: Format,
    out: Box<dyn Write + Send>,
    /// The first write error (a sink cannot return one); the run stops on it.
    write_err: Option<std::io::Error>,
    found: Vec<Found>,
    /// Dedup keys of every task admitted so far (the store's `(scan, scanner, target)` rule).
    seen: HashSet<String>,
    queue: VecDeque<Task>,
    follow: bool,
    /// Tasks admitted so far, the first included (the store's `max_tasks` count).
    admitted: u64,
    max_tasks: u64,
    /// A task asked for more tasks than `max_tasks` allows.
    over_limit: bool,
    /// New tasks seen without --follow (reported, not run).
    discovered: usize,
    bar: ProgressBar,
}

impl State {
    /// Takes a (partial or final) report: prints findings as they come, queues new tasks.
    fn take(&mut self, scanner: &str, report: TaskReport) {
        for f in report.findings {
            let found = Found {
                scanner: scanner.to_owned(),
                finding: f,
            };
            let written = self
                .format
                .stream(&PlatformReport, &mut self.out, &found)
                .and_then(|()| match self.format {
                    // A pipeline reads lines as they come.
                    Format::Jsonl => self.out.flush(),
                    _ => Ok(()),
                });
            if let Err(e) = written {
                self.write_err.get_or_insert(e);
            }
            self.found.push(found);
        }
        for t in report.spawned {
            if !self.seen.insert(t.dedup_key()) {
                continue;
            }
            if !self.follow {
                self.discovered += 1;
            } else if self.admitted < self.max_tasks {
                self.admitted += 1;
                self.queue.push_back(t);
            } else {
                self.over_limit = true;
            }
        }
        if let Some(remaining) = report.enumeration.and_then(|e| e.remaining) {
            self.bar.set_length(remaining);
        }
        self.bar.set_message(format!(
            "{} finding(s), {} task(s) queued",
            self.found.len(),
            self.queue.len()
        ));
    }
}

/// The runner's sink in direct mode: partial reports go straight to [`State::take`].
struct Sink<'s> {
    state: &'s mut State,
    scanner: &'s str,
}

impl ReportSink for Sink<'_> {
    async fn flush(&mut self, partial: TaskReport) {
        self.state.take(self.scanner, partial);
    }
}

/// Direct mode's artifact store: copies artifacts into `--artifacts-dir` (as `<dir>/<name>`),
/// or keeps nothing without it. Private files are for a server's later use; direct mode has
/// no later, so they are dropped.
struct DirArtifacts {
    dir: Option<PathBuf>,
    /// The first copy that failed: the runner only logs it, direct mode fails the run on it.
    failed: std::sync::Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl ArtifactStore for DirArtifacts {
    fn backend(&self) -> &'static str {
        "direct"
    }

    async fn put(&self, _: &ArtifactKey, _: ByteStream) -> argus_core::Result<u64> {
        // The runner keeps artifacts from files only (`put_file`).
        Err(CoreError::Backend(
            "direct mode keeps artifacts from files only".into(),
        ))
    }

    async fn put_file(&self, key: &ArtifactKey, path: &Path) -> argus_core::Result<u64> {
        let io = |e: std::io::Error| CoreError::Backend(format!("{}: {e}", key.name.as_str()));
        match &self.dir {
            Some(dir) if !key.name.is_private() => {
                let dest = dir.join(key.name.as_str());
                let copied = match dest.parent() {
                    Some(parent) => tokio::fs::create_dir_all(parent).await,
                    None => Ok(()),
                };
                let copied = match copied {
                    Ok(()) => tokio::fs::copy(path, &dest).await,
                    Err(e) => Err(e),
                };
                copied.map_err(|e| {
                    let e = io(e);
                    if let Ok(mut first) = self.failed.lock() {
                        first.get_or_insert_with(|| format!("cannot keep artifact {e}"));
                    }
                    e
                })
            }
            _ => Ok(tokio::fs::metadata(path)
                .await
                .map(|m| m.len())
                .unwrap_or(0)),
        }
    }

    async fn get(&self, key: &ArtifactKey) -> argus_core::Result<ByteStream> {
        Err(CoreError::Backend(format!(
            "direct mode does not read artifacts back ({})",
            key.name.as_str()
        )))
    }

    async fn delete_scan(&self, _: ScanId) -> argus_core::Result<()> {
        Ok(())
    }

    async fn ping(&self) -> argus_core::Result<()> {
        Ok(())
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && (0.001..=1_000_000.0).contains(&r) => Ok(r),
        _ => Err("expected requests per second between 0.001 and 1000000, e.g. 50".into()),
    }
}

fn parse_params(raw: &[String]) -> anyhow::Result<serde_json::Value> {
    let mut map = serde_json::Map::new();
    for p in raw {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--param '{p}' must look like key=value"))?;
        let value =
            serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_owned()));
        map.insert(k.to_owned(), value);
    }
    Ok(serde_json::Value::Object(map))
}

/// Picks the target kind: `--kind` if given, else the first kind the scanner accepts that
/// the value parses as, in order from most to least specific.
fn parse_target(args: &DirectArgs, accepted: &[TargetKind]) -> anyhow::Result<Target> {
    if let Some(k) = &args.kind {
        let kind =
            TargetKind::parse(k).ok_or_else(|| anyhow::anyhow!("unknown target kind '{k}'"))?;
        return Target::parse(kind, &args.target).map_err(|e| anyhow::anyhow!("{e}"));
    }
    if let Some(t) = Target::guess(&args.target, |k| accepted.contains(&k)) {
        return Ok(t);
    }
    let kinds: Vec<&str> = accepted.iter().map(|k| k.as_str()).collect();
    anyhow::bail!(
        "'{}' is not a target this scanner accepts ({}); pass --kind to say what it is",
        args.target,
        kinds.join(", ")
    )
}

fn tempfile_dir() -> anyhow::Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new().prefix("argus-direct-").tempdir()?)
}
