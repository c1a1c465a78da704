//! `argus-bench stop`: what stopping and deleting a scan costs, for a small scan and a huge one.
//!
//! For each size N (default 10 and 3,000,000) on a fresh `argus serve` (embedded backends):
//! 1. a `noop` scan fans out N children that each sleep a minute, so the workers' slots fill
//!    and the rest of the N tasks wait on the queue (as a real stopped scan's work would);
//! 2. once all N are enqueued: `POST /scans/{id}/stop`, timed, and — issued at the same moment —
//!    the creation of another small scan, timed (a write that must not wait behind the stop);
//! 3. `DELETE /scans/{id}`, timed, with another concurrent creation;
//! 4. the server's RSS before the scan, at its peak, and once the janitor has drained the
//!    leftovers (the `argus.db-wal` and database sizes then too).
//!
//! Nothing here asserts a time; it prints a Markdown table (section `stop` of the results file).

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{proc_field, start_server_with, update_section};

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// The argus binary to benchmark.
    #[arg(long, default_value = "target/release/argus")]
    argus: PathBuf,
    /// Scan sizes (tasks), comma-separated.
    #[arg(long, default_value = "10,3000000", value_delimiter = ',')]
    sizes: Vec<u64>,
    /// Concurrent task slots of the server.
    #[arg(long, default_value_t = 64)]
    workers: usize,
    /// Where to write the Markdown results.
    #[arg(long, default_value = "benches/RESULTS.md")]
    out: PathBuf,
}

struct Row {
    size: u64,
    enqueue_secs: f64,
    stop_ms: f64,
    stop_side_ms: f64,
    delete_ms: f64,
    delete_side_ms: f64,
    rss_idle_mb: f64,
    rss_peak_mb: f64,
    rss_after_mb: f64,
    drained_secs: f64,
    wal_after_mb: f64,
    db_after_mb: f64,
}

/// The server's default `scan.max_tasks` (raised when a size needs more).
fn argus_default_limit() -> u64 {
    1_000_000
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn file_mb(p: &Path) -> f64 {
    std::fs::metadata(p)
        .map(|m| m.len() as f64 / 1048576.0)
        .unwrap_or(0.0)
}

async fn post(http: &reqwest::Client, url: String, body: serde_json::Value) -> anyhow::Result<f64> {
    let t = Instant::now();
    let r = http.post(url).json(&body).send().await?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    if !r.status().is_success() {
        bail!("{} {}", r.status(), r.text().await?);
    }
    Ok(ms)
}

fn small_scan() -> serde_json::Value {
    serde_json::json!({
        "config": {
            "scanners": [{"name": "noop", "params": {}}],
            "targets": [{"kind": "url", "value": "noop://side"}]
        },
        "start": true
    })
}

async fn one(args: &StopArgs, size: u64) -> anyhow::Result<Row> {
    let limit = (size + 10).max(argus_default_limit()).to_string();
    let server = start_server_with(
        &args.argus,
        args.workers,
        &[("ARGUS_SCAN__MAX_TASKS", limit.as_str())],
    )?;
    let pid = server.child.id();
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v1", server.addr);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = proc_field(pid, "status", "VmRSS:").unwrap_or(0);
    let t0 = Instant::now();
    let body = serde_json::json!({
        "name": "stop bench",
        "config": {
            "scanners": [{"name": "noop", "params": {
                "fanout": size, "child": {"sleep_ms": 60000}
            }}],
            "targets": [{"kind": "url", "value": "noop://root"}]
        },
        "start": true
    });
    let resp = http
        .post(format!("{base}/scans"))
        .json(&body)
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("create scan: {} {}", resp.status(), resp.text().await?);
    }
    let scan: serde_json::Value = resp.json().await?;
    let id = scan["id"].as_str().context("scan id")?.to_string();
    let mut peak = rss_idle;
    loop {
        let s: serde_json::Value = http
            .get(format!("{base}/scans/{id}/status"))
            .send()
            .await?
            .json()
            .await?;
        peak = peak.max(proc_field(pid, "status", "VmRSS:").unwrap_or(0));
        if s["progress"]["enqueued"].as_u64() == Some(size + 1) {
            break;
        }
        if s["state"]
            .as_str()
            .is_some_and(|st| st != "running" && st != "queued")
        {
            bail!("scan ended early: {s}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let enqueue_secs = t0.elapsed().as_secs_f64();
    let (stop, side) = tokio::join!(
        post(
            &http,
            format!("{base}/scans/{id}/stop"),
            serde_json::json!(null)
        ),
        async {
            // Issued just after the stop request, so it queues behind it if anything does.
            tokio::time::sleep(Duration::from_millis(2)).await;
            post(&http, format!("{base}/scans"), small_scan()).await
        }
    );
    let (stop_ms, stop_side_ms) = (stop?, side?);
    let (delete, dside) = tokio::join!(
        async {
            let t = Instant::now();
            let r = http.delete(format!("{base}/scans/{id}")).send().await?;
            if !r.status().is_success() {
                bail!("delete: {} {}", r.status(), r.text().await?);
            }
            Ok::<f64, anyhow::Error>(t.elapsed().as_secs_f64() * 1000.0)
        },
        async {
            tokio::time::sleep(Duration::from_millis(2)).await;
            post(&http, format!("{base}/scans"), small_scan()).await
        }
    );
    let (delete_ms, delete_side_ms) = (delete?, dside?);
    // Drained: the database stops shrinking its WAL / growing, and the server is idle. Wait
    // until two readings 2 s apart show the server's CPU time standing still (the janitor done).
    let t1 = Instant::now();
    let mut last_cpu = crate::cpu_secs(pid);
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        peak = peak.max(proc_field(pid, "status", "VmRSS:").unwrap_or(0));
        let cpu = crate::cpu_secs(pid);
        if cpu - last_cpu < 0.05 || t1.elapsed() > Duration::from_secs(900) {
            break;
        }
        last_cpu = cpu;
    }
    let drained_secs = t1.elapsed().as_secs_f64();
    let rss_after = proc_field(pid, "status", "VmRSS:").unwrap_or(0);
    let db = server.dir().join("argus.db");
    let wal = server.dir().join("argus.db-wal");
    Ok(Row {
        size,
        enqueue_secs,
        stop_ms,
        stop_side_ms,
        delete_ms,
        delete_side_ms,
        rss_idle_mb: mb(rss_idle),
        rss_peak_mb: mb(peak),
        rss_after_mb: mb(rss_after),
        drained_secs,
        wal_after_mb: file_mb(&wal),
        db_after_mb: file_mb(&db),
    })
}

/// Runs every size and writes the table.
pub async fn run(args: StopArgs) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for &size in &args.sizes {
        eprintln!("stop bench: {size} tasks");
        rows.push(one(&args, size).await?);
    }
    let mut md = String::from(
        "### Stopping and deleting a scan (`argus-bench stop`)\n\n\
         | tasks queued | enqueue | `POST /stop` | a create meanwhile | `DELETE` | a create meanwhile | RSS idle → peak → after | janitor drained in | WAL / db after |\n\
         |---:|---:|---:|---:|---:|---:|---|---:|---|\n",
    );
    for r in &rows {
        md.push_str(&format!(
            "| {} | {:.1} s | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} → {:.0} → {:.0} MB | {:.0} s | {:.1} / {:.1} MB |\n",
            r.size,
            r.enqueue_secs,
            r.stop_ms,
            r.stop_side_ms,
            r.delete_ms,
            r.delete_side_ms,
            r.rss_idle_mb,
            r.rss_peak_mb,
            r.rss_after_mb,
            r.drained_secs,
            r.wal_after_mb,
            r.db_after_mb,
        ));
    }
    println!("{md}");
    update_section(&args.out, "stop", &md)
}
