//! `argus admin gc`: one retention sweep by hand (`argus_engine::retention::sweep`), from the
//! same config as `argus serve`, printing what went — or with `--dry-run`, what would go — as
//! a table or JSON.
//!
//! Without `--dry-run` it also runs the janitor to the end, so the expired scans' rows and
//! artifact files are gone when it returns. It may run beside a server on the same store:
//! every step is idempotent and re-checked by the store. Work folders are those of this
//! machine's `<data_dir>/work`.

use clap::Args;
use std::path::Path;

use argus_engine::retention::GcReport;

use crate::admin_cmd::StoreArgs;
use crate::config::Config;
use crate::runtime;

#[derive(Args, Debug)]
pub struct GcArgs {
    /// Only show what would go; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Judge ages as of this instant (RFC 3339) instead of now (tests).
    #[arg(long, hide = true, value_name = "TIME")]
    pub now: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs `argus admin gc`; returns the exit code.
pub async fn run(file: Option<&Path>, args: GcArgs) -> anyhow::Result<u8> {
    let now = match &args.now {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| anyhow::anyhow!("--now {t:?}: {e}"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let cfg = Config::load(file, crate::admin_cmd::data_dir_override(&args.store))?;
    runtime::init_logging(&cfg.log);
    let engine = runtime::engine(&cfg).await?;
    let result = async {
        let report = argus_engine::retention::sweep(&engine, now, args.dry_run).await?;
        if !args.dry_run {
            let stop = tokio_util::sync::CancellationToken::new();
            argus_engine::monitor::clean_up(&engine, None, &stop).await?;
        }
        print(&report, args.json)?;
        Ok::<u8, anyhow::Error>(0)
    }
    .await;
    engine.shutdown().await;
    result
}

fn print(r: &GcReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    let verb = if r.dry_run { "would go" } else { "went" };
    println!(
        "retention sweep as of {} ({}): {} scans, {} orphan artifact folders, {} work folders, {} bytes {verb}",
        r.now.to_rfc3339(),
        if r.dry_run { "dry run" } else { "done" },
        r.scans.len(),
        r.orphan_artifacts.len(),
        r.work_folders.len(),
        r.bytes
    );
    if !r.scans.is_empty() {
        println!();
        println!(
            "{:<8} {:<36} {:<16} {:<10} {:<17} {:>12} NAME",
            "WHAT", "SCAN", "ORG", "STATE", "FINISHED", "BYTES"
        );
        for s in &r.scans {
            println!(
                "{:<8} {:<36} {:<16} {:<10} {:<17} {:>12} {}",
                "scan",
                s.id,
                s.org,
                s.state,
                s.finished_at
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default(),
                s.bytes,
                s.name
            );
        }
        println!();
        println!("{:<16} SCANS", "ORG");
        for (org, n) in &r.scans_by_org {
            println!("{org:<16} {n}");
        }
    }
    if !(r.orphan_artifacts.is_empty() && r.work_folders.is_empty()) {
        println!();
        println!("{:<10} {:>12} {:<17} WHERE", "WHAT", "BYTES", "MODIFIED");
        for a in &r.orphan_artifacts {
            println!(
                "{:<10} {:>12} {:<17} scans/{} ({} files)",
                "artifacts",
                a.bytes,
                a.last_modified.format("%Y-%m-%d %H:%M"),
                a.scan_id,
                a.objects
            );
        }
        for f in &r.work_folders {
            println!(
                "{:<10} {:>12} {:<17} {}",
                "work",
                f.bytes,
                f.last_modified.format("%Y-%m-%d %H:%M"),
                f.path.display()
            );
        }
    }
    if r.truncated {
        println!();
        println!("(more would go: the dry run lists at most 10000 scans per retention rule)");
    }
    Ok(())
}
