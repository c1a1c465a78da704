//! `argus scan secrets <path-or-url>`: the direct-mode secret scan (no server, no database).
//!
//! Picks the input from the target: `-` is stdin, a URL (`https://`, `ssh://`, `git@`, `file://`) is
//! cloned into a temporary folder (Ctrl-C kills the clone and removes the folder; token
//! from `ARGUS_GIT_TOKEN`, never from the command line), a git repository is scanned through its
//! whole history (unless `--no-git`), anything else as a directory or file. Findings go to stdout
//! (or `--output`) as table, JSON, JSONL or SARIF; progress goes to stderr and is hidden when stderr
//! is not a terminal. Exit code: 1 when a finding at or above `--fail-on` remains after
//! suppression, 0 otherwise, 2 on error (errors are printed here and returned as `Ok(2)`).
//!
//! Ctrl-C sets the engine's cancellation flag; the scan stops within a blob and exits with 2.

use crate::output::secrets::SecretsReport;
use crate::output::Format;
use anyhow::{bail, Context};
use argus_secrets::output::OutputOptions;
use argus_secrets::{
    gitleaks, is_git_repository, load_baseline, load_ignore_file, remote, Engine, Finding,
    GitScanOptions, PathScanOptions, RefSelection, RuleSet, ScanControl, ScanPolicy, ScanSummary,
    SecretValue, Severity, Suppressions,
};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Environment variable holding a token for cloning private remote repositories.
const TOKEN_ENV: &str = "ARGUS_GIT_TOKEN";
/// Ignore file looked up at the root of the scanned folder when `--ignore-file` is not given.
const DEFAULT_IGNORE_FILE: &str = ".argus-secrets-ignore";

/// Arguments of `argus scan secrets`.
#[derive(clap::Args, Debug)]
pub struct SecretsArgs {
    /// Git repository (work tree or bare), folder, file, `-` for stdin, or a remote git URL.
    pub target: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Print full secret values (never stored anywhere; direct mode only).
    #[arg(long)]
    pub show_secrets: bool,
    /// Scan only the history of these refs (repeatable), instead of all refs.
    #[arg(long = "branch")]
    pub branches: Vec<String>,
    /// Scan only commits not reachable from this commit (CI incremental scans).
    #[arg(long)]
    pub since_commit: Option<String>,
    /// Scan only commits in `A..B`.
    #[arg(long, conflicts_with = "branches")]
    pub commit_range: Option<String>,
    /// Scan only what is staged in the index (pre-commit hook).
    #[arg(long, conflicts_with_all = ["since_commit", "commit_range", "branches"])]
    pub staged: bool,
    /// Treat a git work tree as a plain folder (current files only, no history).
    #[arg(long)]
    pub no_git: bool,
    /// Do not decode base64 blocks (by default a block of 32+ base64 characters that decodes to
    /// text is scanned again, one level deep; such findings are marked `base64`).
    #[arg(long)]
    pub no_base64: bool,
    /// Do not honour .gitignore/.ignore files when scanning folders.
    #[arg(long)]
    pub no_ignore: bool,
    /// Also scan unreachable blobs still in the object database.
    #[arg(long)]
    pub include_unreachable: bool,
    /// Previous JSON/JSONL report: report only findings not in it.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// File of fingerprints to ignore (default: `.argus-secrets-ignore` in the target folder).
    #[arg(long)]
    pub ignore_file: Option<PathBuf>,
    /// Folder of extra rule files (`*.toml`, Argus format); repeatable.
    #[arg(long)]
    pub rules_dir: Vec<PathBuf>,
    /// A gitleaks TOML config to load as is (added to the built-in rules).
    #[arg(long)]
    pub gitleaks_config: Option<PathBuf>,
    /// Do not load the built-in rules (use only --rules-dir / --gitleaks-config).
    #[arg(long)]
    pub no_builtin_rules: bool,
    /// Exit with 1 when a finding of at least this severity is reported (info, low, medium,
    /// high, critical), or never with `none` (as `argus scan yara --fail-on none`).
    #[arg(long, default_value = "info", value_parser = parse_fail_on)]
    pub fail_on: FailThreshold,
    /// Skip blobs larger than this (`512KiB`, `32MiB`, `1G`, plain bytes).
    #[arg(long, default_value = "32MiB", value_parser = parse_size)]
    pub max_blob_size: u64,
    /// Scan binary blobs too (skipped by default).
    #[arg(long)]
    pub scan_binary: bool,
    /// Scan minified/generated text too (skipped by default).
    #[arg(long)]
    pub scan_minified: bool,
    /// Worker threads (0 = one per core).
    #[arg(long, short = 'j', default_value_t = 0)]
    pub threads: usize,
}

/// `--fail-on`: the least severity that makes the exit code 1; `None` for `none` (never).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailThreshold(pub Option<Severity>);

fn parse_fail_on(s: &str) -> Result<FailThreshold, String> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(FailThreshold(None));
    }
    s.parse().map(|v| FailThreshold(Some(v)))
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} too large"))
}

/// Run the command; returns the process exit code (see module docs).
pub async fn run(args: SecretsArgs) -> anyhow::Result<i32> {
    match run_inner(args).await {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(2)
        }
    }
}

fn build_rules(args: &SecretsArgs) -> anyhow::Result<RuleSet> {
    let mut set = if args.no_builtin_rules {
        RuleSet::empty()
    } else {
        RuleSet::builtin()?
    };
    for dir in &args.rules_dir {
        set.extend(RuleSet::load_dir(dir).with_context(|| format!("rules dir {}", dir.display()))?);
    }
    if let Some(p) = &args.gitleaks_config {
        let (gl, warnings) = gitleaks::load(p)?;
        for w in warnings {
            eprintln!("warning: gitleaks config {}: {w}", p.display());
        }
        set.extend(gl);
    }
    if set.is_empty() {
        bail!("no rules to run");
    }
    Ok(set)
}

enum Input {
    Stdin,
    Git(PathBuf),
    Path(PathBuf),
}

async fn run_inner(args: SecretsArgs) -> anyhow::Result<i32> {
    let mut engine = Engine::new(build_rules(&args)?)?;
    engine.set_decode_base64(!args.no_base64);
    let engine = Arc::new(engine);

    // Resolve the input; a clone lives until the scan is over and is deleted on drop.
    let mut _clone = None;
    let input = if args.target == "-" {
        Input::Stdin
    } else if remote::is_clone_url(&args.target) {
        let token = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.is_empty())
            .map(SecretValue::new);
        let dir = tempfile::Builder::new()
            .prefix("argus-secrets-clone-")
            .tempdir()
            .context("creating a temporary folder for the clone")?;
        let dest = dir.path().join("repo.git");
        let opts = remote::GitOptions {
            token,
            ..remote::GitOptions::default()
        };
        // Ctrl-C reaches git: the clone's process group is killed and the folder removed.
        let cancel = tokio_util::sync::CancellationToken::new();
        let shown = crate::config::mask_url(&args.target);
        let bar = progress_bar(&shown);
        bar.set_prefix(format!("cloning {shown}"));
        bar.enable_steady_tick(Duration::from_millis(120));
        let on_ctrl_c = cancel.clone();
        let watcher = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_ctrl_c.cancel();
            }
        });
        let cloned = remote::clone_into(&args.target, &dest, &opts, &cancel).await;
        watcher.abort();
        bar.finish_and_clear();
        if cancel.is_cancelled() {
            bail!("interrupted while cloning");
        }
        cloned.with_context(|| format!("cloning {shown}"))?;
        _clone = Some(dir);
        Input::Git(dest)
    } else {
        let p = PathBuf::from(&args.target);
        if !p.exists() {
            bail!("{} does not exist", p.display());
        }
        if !args.no_git && (args.staged || is_git_repository(&p)) {
            Input::Git(p)
        } else {
            Input::Path(p)
        }
    };

    let mut suppressions = Suppressions::default();
    let ignore_file = args.ignore_file.clone().or_else(|| match &input {
        Input::Git(p) | Input::Path(p) if p.is_dir() => {
            Some(p.join(DEFAULT_IGNORE_FILE)).filter(|f| f.is_file())
        }
        _ => None,
    });
    if let Some(f) = &ignore_file {
        suppressions.ignored = load_ignore_file(f)?;
    }
    if let Some(b) = &args.baseline {
        suppressions.baseline = load_baseline(b)?;
    }
    let policy = ScanPolicy {
        max_blob_size: args.max_blob_size,
        scan_binary: args.scan_binary,
        skip_minified: !args.scan_minified,
        keep_secret_values: args.show_secrets,
        suppressions,
        threads: args.threads,
    };

    let ctl = ScanControl::new();
    let to_stdout = args.output.is_none();
    let out_opts = OutputOptions {
        show_secrets: args.show_secrets,
        color: to_stdout
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut writer = crate::output::open(args.output.as_deref())?;

    // The scan is synchronous and CPU-bound: run it on a blocking thread, stream JSONL lines from
    // the sink as findings arrive, keep the others for the final document.
    let format = args.format;
    let scan_engine = Arc::clone(&engine);
    let scan_ctl = ctl.clone();
    let git_opts = GitScanOptions {
        policy: policy.clone(),
        refs: if args.branches.is_empty() {
            RefSelection::All
        } else {
            RefSelection::Refs(args.branches.clone())
        },
        since_commit: args.since_commit.clone(),
        commit_range: args.commit_range.clone(),
        staged: args.staged,
        include_unreachable: args.include_unreachable,
    };
    let path_opts = PathScanOptions {
        policy: policy.clone(),
        respect_gitignore: !args.no_ignore,
        include_hidden: true,
    };
    let label = args.target.clone();
    // Lines stream before the summary exists; only the closing document needs it.
    let lines = SecretsReport {
        engine: Arc::clone(&engine),
        summary: ScanSummary::default(),
        opts: out_opts,
    };
    let handle = tokio::task::spawn_blocking(
        move || -> anyhow::Result<(Vec<Finding>, ScanSummary, Box<dyn Write + Send>)> {
            let mut findings = Vec::new();
            let mut write_err: Option<std::io::Error> = None;
            let mut sink = |f: Finding| {
                if let Err(e) = format.stream(&lines, &mut writer, &f) {
                    write_err.get_or_insert(e);
                }
                findings.push(f);
            };
            let summary = match &input {
                Input::Stdin => {
                    let stdin = std::io::stdin();
                    let mut lock = stdin.lock();
                    scan_engine.scan_reader(&mut lock, "<stdin>", &policy, &mut sink)?
                }
                Input::Git(p) => scan_engine.scan_git(p, &git_opts, &scan_ctl, &mut sink)?,
                Input::Path(p) => scan_engine.scan_path(p, &path_opts, &scan_ctl, &mut sink)?,
            };
            if let Some(e) = write_err {
                return Err(e.into());
            }
            Ok((findings, summary, writer))
        },
    );

    let progress = progress_bar(&label);
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut handle = handle;
    let joined = loop {
        tokio::select! {
            r = &mut handle => break r,
            _ = tokio::signal::ctrl_c() => {
                ctl.cancel.store(true, Ordering::Relaxed);
                progress.set_message("cancelling…");
            }
            _ = ticker.tick() => update_progress(&progress, &ctl),
        }
    };
    progress.finish_and_clear();
    let (findings, summary, mut writer) = joined.context("scan thread failed")??;

    let report = SecretsReport {
        engine,
        summary,
        opts: out_opts,
    };
    format.finish(&report, &mut writer, &findings)?;
    writer.flush()?;
    let summary = report.summary;
    if format != Format::Table || !to_stdout {
        // Machine formats keep stdout clean; a one-line summary goes to stderr.
        eprintln!(
            "{} findings; scanned {} blobs, {:.1} MiB in {:.2}s ({:.1} MiB/s)",
            summary.findings,
            summary.blobs_scanned,
            summary.bytes_scanned as f64 / (1024.0 * 1024.0),
            summary.elapsed_secs,
            summary.mib_per_sec
        );
    }
    let failing = args
        .fail_on
        .0
        .is_some_and(|least| findings.iter().any(|f| f.severity >= least));
    Ok(i32::from(failing))
}

fn progress_bar(label: &str) -> indicatif::ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {prefix} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_prefix(format!("scanning {label}"));
    bar
}

fn update_progress(bar: &indicatif::ProgressBar, ctl: &ScanControl) {
    let p = &ctl.progress;
    let total = p.blobs_total.load(Ordering::Relaxed);
    let done = p.blobs_done.load(Ordering::Relaxed);
    let mib = p.bytes_done.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0);
    let commits = p.commits.load(Ordering::Relaxed);
    if total == 0 {
        bar.set_message(format!("walking history: {commits} commits"));
    } else {
        bar.set_message(format!(
            "{done}/{total} blobs, {mib:.0} MiB ({commits} commits)"
        ));
    }
    bar.tick();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("32MiB"), Ok(32 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("12XB").is_err());
    }

    #[test]
    fn severity_parses() {
        assert_eq!(
            parse_fail_on("HIGH"),
            Ok(FailThreshold(Some(Severity::High)))
        );
        assert_eq!(parse_fail_on("none"), Ok(FailThreshold(None)));
        assert!(parse_fail_on("urgent").is_err());
    }
}
