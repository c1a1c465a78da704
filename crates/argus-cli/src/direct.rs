//! Direct mode: `argus scan <scanner> <target>` runs one scanner in-process — no server, no
//! database — and prints its findings. Progress goes to stderr (hidden when not a terminal), so
//! stdout stays clean for `--format json` pipelines. Exit codes: 0 clean, 1 findings at or above
//! `--fail-on`, 2 error.

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use argus_core::finding::{NewFinding, Severity};
use argus_core::ids::{OrgId, ScanId, TaskId};
use argus_core::scan::Priority;
use argus_core::scanner::{Emission, Emitter, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::task::Task;

use crate::config::Config;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Jsonl,
}

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
    about = "Run a scanner in-process and print its findings"
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
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, default_value_t = FailOn::Low)]
    pub fail_on: FailOn,
    /// Keep the scanner's artifacts (tool stdout/stderr, reports) in this folder.
    #[arg(long, value_name = "DIR")]
    pub artifacts_dir: Option<PathBuf>,
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
    let Some(scanner) = registry.get(&args.scanner).cloned() else {
        let names: Vec<&str> = registry.names().collect();
        anyhow::bail!(
            "unknown scanner '{}'; available: {}",
            args.scanner,
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
    let target = parse_target(&args, &info.target_kinds)?;
    let params = parse_params(&args.params)?;
    scanner
        .validate_params(&params)
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let work = tempfile_dir()?;
    let (emitter, mut rx) = Emitter::channel(256);
    let cancel = CancellationToken::new();
    let ctx = TaskContext {
        task: Task {
            id: TaskId::new(),
            scan_id: ScanId::new(),
            org_id: OrgId::parse("direct")?,
            scanner: info.name.clone(),
            target: target.clone(),
            depth: 0,
            priority: Priority::Medium,
            max_attempts: 1,
            params: None,
            enumerates: false,
        },
        params,
        cancel: cancel.clone(),
        work_dir: work.path().join("task"),
        emit: emitter,
    };

    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(format!("{} on {}", info.name, target));

    let mut findings: Vec<NewFinding> = Vec::new();
    let mut discovered = 0usize;
    let mut out = std::io::stdout().lock();
    let result = {
        let run = scanner.run(&ctx);
        tokio::pin!(run);
        let mut interrupted = false;
        loop {
            tokio::select! {
                biased;
                Some(e) = rx.recv() => handle(e, &args, &mut findings, &mut discovered, &mut out, &bar)?,
                _ = tokio::signal::ctrl_c(), if !interrupted => {
                    interrupted = true;
                    bar.set_message("interrupted; stopping the scanner…");
                    cancel.cancel();
                }
                r = &mut run => break r,
            }
        }
    };
    drop(ctx);
    while let Ok(e) = rx.try_recv() {
        handle(e, &args, &mut findings, &mut discovered, &mut out, &bar)?;
    }
    bar.finish_and_clear();
    result.map_err(|e| anyhow::anyhow!("{} failed: {e}", info.name))?;

    match args.format {
        Format::Table => print_table(&mut out, &findings)?,
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&findings)?)?,
        Format::Jsonl => {} // streamed as they came
    }
    out.flush()?;
    eprintln!(
        "{} finding(s){}",
        findings.len(),
        if discovered > 0 {
            format!(", {discovered} new target(s) discovered")
        } else {
            String::new()
        }
    );
    let threshold = match args.fail_on {
        FailOn::None => None,
        FailOn::Info => Some(Severity::Info),
        FailOn::Low => Some(Severity::Low),
        FailOn::Medium => Some(Severity::Medium),
        FailOn::High => Some(Severity::High),
        FailOn::Critical => Some(Severity::Critical),
    };
    Ok(u8::from(
        threshold.is_some_and(|t| findings.iter().any(|f| f.severity >= t)),
    ))
}

fn handle(
    e: Emission,
    args: &DirectArgs,
    findings: &mut Vec<NewFinding>,
    discovered: &mut usize,
    out: &mut impl Write,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    match e {
        Emission::Finding(f) => {
            if args.format == Format::Jsonl {
                writeln!(out, "{}", serde_json::to_string(&f)?)?;
            }
            findings.push(f);
            bar.set_message(format!("{} finding(s)", findings.len()));
        }
        Emission::Target(_) | Emission::SubTask { .. } => *discovered += 1,
        Emission::Enumeration { expected_total, .. } => {
            if let Some(total) = expected_total {
                bar.set_length(total);
            }
        }
        // Private files are for a server's later use; direct mode has no later.
        Emission::PrivateFile { .. } => {}
        Emission::Artifact { name, path, .. } => {
            if let Some(dir) = &args.artifacts_dir {
                let dest = dir.join(name.as_str());
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::copy(&path, &dest)?;
            }
        }
    }
    Ok(())
}

fn print_table(out: &mut impl Write, findings: &[NewFinding]) -> anyhow::Result<()> {
    let mut rows: Vec<&NewFinding> = findings.iter().collect();
    rows.sort_by_key(|f| std::cmp::Reverse(f.severity));
    writeln!(
        out,
        "{:<9} {:<24} {:<40} LOCATION",
        "SEVERITY", "KIND", "TITLE"
    )?;
    for f in rows {
        let loc = f
            .location
            .url
            .clone()
            .or_else(|| {
                f.location.path.clone().map(|p| match f.location.line {
                    Some(l) => format!("{p}:{l}"),
                    None => p,
                })
            })
            .unwrap_or_else(|| f.target.value().to_owned());
        writeln!(
            out,
            "{:<9} {:<24} {:<40} {}",
            f.severity,
            truncate(&f.kind, 24),
            truncate(&f.title, 40),
            loc
        )?;
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
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
    const ORDER: [TargetKind; 9] = [
        TargetKind::Ip,
        TargetKind::Cidr,
        TargetKind::Email,
        TargetKind::Location,
        TargetKind::Url,
        TargetKind::Domain,
        TargetKind::Repo,
        TargetKind::Object,
        TargetKind::Upload,
    ];
    for kind in ORDER {
        if accepted.contains(&kind) {
            if let Ok(t) = Target::parse(kind, &args.target) {
                return Ok(t);
            }
        }
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
