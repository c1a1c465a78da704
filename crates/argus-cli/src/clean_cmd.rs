//! `argus clean <repo> --report <secrets-report.json> --out <dir>`: direct-mode history cleaning.
//!
//! A secrets report holds only a preview and the SHA-256 of each secret, never the value, so the
//! command scans the repository again with the same engine (keeping values in memory only) and
//! keeps the values whose SHA-256 equals a selected finding's. Those values are handed to
//! `argus_secrets::rewrite`, which writes the cleaned bare repository to `--out`; the source is
//! never modified. Progress goes to stderr (hidden when stderr is not a terminal), the summary to
//! stderr too. Exit code 0 on success, 2 on error (with a message naming what was wrong).
//!
//! Invariants: no secret value is printed or written anywhere but into the rewritten objects'
//! replacements (which hold the replacement text, not the value); Ctrl-C cancels the rewrite and
//! the partial output is removed.

use anyhow::{bail, Context};
use argus_secrets::rewrite::{
    rewrite_history, RewriteControl, RewritePhase, RewritePlan, RewriteReport, DEFAULT_REPLACEMENT,
};
use argus_secrets::{is_git_repository, Engine, RuleSet, ScanControl};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `argus clean`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = "\
How it works:
  1. argus scan secrets REPO --format json -o report.json
  2. review report.json; note the fingerprints of the real secrets
  3. argus clean REPO --report report.json --select FP1 --select FP2 --out clean.git
  4. check clean.git (git log, a rescan), then push it where it belongs

The report never contains secret values, so `clean` scans REPO again and replaces the values
whose SHA-256 matches a selected finding. Every occurrence of those values is replaced in every
blob of every branch and tag (and in commit/tag messages with --messages). Commits before the
first affected one keep their ids; authors, dates, messages, merges and tags are kept. Signed
commits/tags that had to change lose their signature and are listed. The old->new commit map
is written to OUT/commit-map. REPO itself is never modified.

Examples:
  argus clean . --report report.json --out /tmp/clean.git
  argus clean repo.git --report r.json --select 3f2a... --replace-with '<removed>' --out c.git
  argus clean repo --report r.json --replace-rule generic-password=changeme --out c.git")]
pub struct CleanArgs {
    /// The git repository to clean (work tree or bare). It is only read.
    pub repo: PathBuf,
    /// JSON report from `argus scan secrets REPO --format json` (JSONL works too).
    #[arg(long, value_name = "FILE")]
    pub report: PathBuf,
    /// Clean only the finding with this fingerprint (repeatable); default: every finding in the
    /// report.
    #[arg(long = "select", value_name = "FINGERPRINT")]
    pub select: Vec<String>,
    /// Text that replaces each secret.
    #[arg(long, value_name = "TEXT", default_value = DEFAULT_REPLACEMENT)]
    pub replace_with: String,
    /// Per-rule replacement, e.g. `--replace-rule generic-password=changeme` so a config file
    /// stays parseable (repeatable; wins over --replace-with for that rule's secrets).
    #[arg(long = "replace-rule", value_name = "RULE=TEXT")]
    pub replace_rule: Vec<String>,
    /// Also replace the secrets in commit and tag messages.
    #[arg(long)]
    pub messages: bool,
    /// Where to write the cleaned bare repository (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Folder of extra rule files, as for `scan secrets` (use the same as for the report).
    #[arg(long = "rules-dir", value_name = "DIR")]
    pub rules_dir: Vec<PathBuf>,
    /// Worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// A finding of the report: what identifies the secret.
struct Selected {
    fingerprint: String,
    sha256: String,
    rule_id: String,
}

fn read_report(path: &std::path::Path) -> anyhow::Result<Vec<Selected>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the report {}", path.display()))?;
    let findings: Vec<serde_json::Value> = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(doc) => match doc.get("findings").and_then(|f| f.as_array()) {
            Some(f) => f.clone(),
            None => bail!(
                "{} is not a secrets report (no \"findings\" list); write one with \
                 `argus scan secrets REPO --format json -o FILE`",
                path.display()
            ),
        },
        // JSONL: one finding per line, then a summary line.
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str::<serde_json::Value>)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} is neither JSON nor JSONL", path.display()))?
            .into_iter()
            .filter(|v| v.get("fingerprint").is_some())
            .collect(),
    };
    findings
        .iter()
        .map(|f| {
            let s = |k: &str| f.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            match (s("fingerprint"), s("sha256"), s("rule_id")) {
                (Some(fingerprint), Some(sha256), Some(rule_id)) => Ok(Selected {
                    fingerprint,
                    sha256,
                    rule_id,
                }),
                _ => bail!(
                    "{}: a finding lacks fingerprint, sha256 or rule_id",
                    path.display()
                ),
            }
        })
        .collect()
}

/// Run `argus clean`; returns the exit code.
pub async fn run(args: CleanArgs, config_rules_dir: Option<PathBuf>) -> anyhow::Result<i32> {
    if !args.repo.exists() {
        bail!("{} does not exist", args.repo.display());
    }
    if !is_git_repository(&args.repo) {
        bail!("{} is not a git repository", args.repo.display());
    }
    let all = read_report(&args.report)?;
    if all.is_empty() {
        bail!(
            "the report {} has no findings: nothing to clean",
            args.report.display()
        );
    }
    let selected: Vec<&Selected> = if args.select.is_empty() {
        all.iter().collect()
    } else {
        let known: BTreeSet<&str> = all.iter().map(|f| f.fingerprint.as_str()).collect();
        let unknown: Vec<&str> = args
            .select
            .iter()
            .map(String::as_str)
            .filter(|s| !known.contains(s))
            .collect();
        if !unknown.is_empty() {
            bail!(
                "unknown fingerprint(s) not in {}: {}",
                args.report.display(),
                unknown.join(", ")
            );
        }
        all.iter()
            .filter(|f| args.select.contains(&f.fingerprint))
            .collect()
    };
    let mut per_rule: HashMap<String, String> = HashMap::new();
    for r in &args.replace_rule {
        let Some((rule, text)) = r.split_once('=') else {
            bail!("--replace-rule {r:?}: expected RULE=TEXT");
        };
        per_rule.insert(rule.to_owned(), text.to_owned());
    }
    // sha256 → (fingerprints, replacement)
    let mut wanted: BTreeMap<String, (Vec<String>, String)> = BTreeMap::new();
    for f in &selected {
        let with = per_rule
            .get(&f.rule_id)
            .cloned()
            .unwrap_or_else(|| args.replace_with.clone());
        wanted
            .entry(f.sha256.clone())
            .or_insert_with(|| (Vec::new(), with))
            .0
            .push(f.fingerprint.clone());
    }

    // Rescan with the same engine, keeping values in memory only.
    let mut set = RuleSet::builtin()?;
    for dir in config_rules_dir.iter().chain(&args.rules_dir) {
        set.extend(RuleSet::load_dir(dir).with_context(|| format!("rules dir {}", dir.display()))?);
    }
    let engine = Arc::new(Engine::new(set)?);
    let bar = progress_bar();
    bar.set_prefix("finding the selected secrets again");
    let scan_ctl = ScanControl::new();
    let rewrite_ctl = RewriteControl {
        threads: args.threads,
        ..RewriteControl::default()
    };
    let (c1, c2) = (scan_ctl.cancel.clone(), rewrite_ctl.cancel.clone());
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            c1.store(true, Ordering::Relaxed);
            c2.store(true, Ordering::Relaxed);
        }
    });
    let repo = args.repo.clone();
    let (eng, ctl) = (Arc::clone(&engine), scan_ctl.clone());
    let wanted_hashes: BTreeSet<String> = wanted.keys().cloned().collect();
    let threads = args.threads;
    let mut scan = tokio::task::spawn_blocking(move || {
        argus_secrets::remediate::find_values(&eng, &repo, &wanted_hashes, threads, &ctl)
            .map(|f| (f.values, f.encoded_only))
    });
    let (values, encoded_only) = loop {
        tokio::select! {
            r = &mut scan => break r.context("the scan thread failed")??,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                let p = &scan_ctl.progress;
                bar.set_message(format!(
                    "{}/{} blobs",
                    p.blobs_done.load(Ordering::Relaxed),
                    p.blobs_total.load(Ordering::Relaxed)
                ));
            }
        }
    };
    let missing: Vec<String> = wanted
        .iter()
        .filter(|(h, _)| !values.contains_key(*h))
        .flat_map(|(_, (fps, _))| fps.clone())
        .collect();
    if !missing.is_empty() {
        bar.finish_and_clear();
        watcher.abort();
        bail!(
            "the selected finding(s) {} no longer occur in {} (was the report written for another \
             repository, or with other rules? pass the same --rules-dir)",
            missing.join(", "),
            args.repo.display()
        );
    }
    let mut plan = RewritePlan {
        messages: args.messages,
        ..RewritePlan::default()
    };
    for (hash, value) in values {
        if let Some((_, with)) = wanted.get(&hash) {
            plan.add(value, with.clone());
        }
    }

    bar.set_prefix("rewriting history");
    let (repo, out, ctl) = (args.repo.clone(), args.out.clone(), rewrite_ctl.clone());
    let mut job = tokio::task::spawn_blocking(move || rewrite_history(&repo, &out, &plan, &ctl));
    let result = loop {
        tokio::select! {
            r = &mut job => break r.context("the rewrite thread failed")?,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                let p = &rewrite_ctl.progress;
                let (done, total) = (p.done.load(Ordering::Relaxed), p.total.load(Ordering::Relaxed));
                bar.set_message(match p.phase() {
                    RewritePhase::Walk => format!("walking history: {done} commits"),
                    RewritePhase::Scan => format!("scanning blobs: {done}/{total}"),
                    RewritePhase::Rewrite => format!("rewriting commits: {done}/{total}"),
                    RewritePhase::Write => "writing the output repository".to_owned(),
                });
            }
        }
    };
    bar.finish_and_clear();
    watcher.abort();
    let report = result.with_context(|| format!("cleaning {}", args.repo.display()))?;
    print_summary(&args, &report, selected.len(), &encoded_only);
    Ok(0)
}

fn print_summary(
    args: &CleanArgs,
    r: &RewriteReport,
    selected: usize,
    encoded_only: &BTreeSet<String>,
) {
    eprintln!(
        "cleaned {} -> {} ({selected} finding(s) selected)",
        args.repo.display(),
        args.out.display()
    );
    eprintln!(
        "  commits rewritten:   {} of {}",
        r.commits_rewritten, r.commits_total
    );
    eprintln!("  blobs changed:       {}", r.blobs_changed);
    eprintln!("  trees changed:       {}", r.trees_changed);
    eprintln!(
        "  refs updated:        {} of {}",
        r.refs_updated,
        r.refs.len()
    );
    eprintln!("  signatures dropped:  {}", r.signatures_dropped.len());
    for s in &r.signatures_dropped {
        eprintln!("    {} {} -> {}", s.kind, s.old, s.new);
    }
    if args.messages {
        eprintln!("  messages changed:    {}", r.messages_changed);
    }
    if !r.lfs_pointers_left.is_empty() {
        eprintln!(
            "  LFS pointers left as they are (they matched a secret): {}",
            r.lfs_pointers_left.join(", ")
        );
    }
    if !r.notes_not_remapped.is_empty() {
        eprintln!(
            "  notes kept but still attached to the old commit ids: {}",
            r.notes_not_remapped.join(", ")
        );
    }
    if !encoded_only.is_empty() {
        eprintln!(
            "  warning: {} selected secret(s) occur only base64-encoded and could not be replaced",
            encoded_only.len()
        );
    }
    if let Some(kib) = peak_rss_kib() {
        eprintln!("  peak memory:         {} MiB", kib / 1024);
    }
    eprintln!("  commit map:          {}", r.commit_map_path.display());
}

/// Peak resident set size of this process (Linux `VmHWM`).
fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn progress_bar() -> indicatif::ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
