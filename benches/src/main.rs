//! Benchmark harness for the platform (issue: foundation, "Performance").
//!
//! `argus-bench` (no subcommand) runs, in one go and on the same machine:
//! 1. idle RSS of a fresh `argus serve` (embedded SQLite, embedded queue);
//! 2. queue throughput end to end: one scan whose `noop` root task fans out into N no-op tasks,
//!    timed from `POST /api/v1/scans` to the scan's `completed` state, with the server's CPU
//!    time per task (our own overhead);
//! 3. the API under `wrk`: `GET /api/v1/scans/{id}` requests/s and p99 latency;
//! 4. the same no-op tasks through Celery 5 on the local Redis (result backend off), one worker
//!    `-P solo` and one `-P prefork -c 2`, installed in a virtualenv by `benches/run.sh`;
//!
//! and prints a Markdown table with the ratios. Nothing here is a test: no assertions on time.
//!
//! `argus-bench distributed` (module `distributed`, run by `benches/distributed.sh`) is the same
//! no-op scan on PostgreSQL + RabbitMQ with 1, 2 and 4 `argus worker` processes, side by side
//! with Celery on the same RabbitMQ. `argus-bench stop` (module `stop`) measures stopping and
//! deleting a scan of 10 vs 3,000,000 queued tasks. Each writes its own section of
//! `benches/RESULTS.md`.
//!
//! The harness starts processes and builds HTTP clients directly; it is not product code, so
//! the process and HTTP door lints are allowed here.
#![allow(clippy::disallowed_methods)]

use anyhow::{bail, Context};
use clap::Parser;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod distributed;
mod sinks;
mod stop;

#[derive(Parser, Debug)]
#[command(
    about = "Argus platform benchmarks, side by side with Celery",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    platform: Args,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// PostgreSQL + RabbitMQ with 1, 2, 4 worker processes vs Celery on the same RabbitMQ.
    Distributed(distributed::DistArgs),
    /// What stopping and deleting a scan of 10 vs 3,000,000 queued tasks costs.
    Stop(stop::StopArgs),
    /// Result forwarding: events/s to syslog TCP and Splunk HEC receivers vs a Python
    /// forwarder, and the cost to scan throughput with two sinks on.
    Sinks(sinks::SinksArgs),
}

/// The embedded (SQLite) platform benchmark: the default without a subcommand.
#[derive(clap::Args, Debug)]
struct Args {
    /// The argus binary to benchmark.
    #[arg(long, default_value = "target/release/argus")]
    argus: PathBuf,
    /// No-op tasks in the throughput scan.
    #[arg(long, default_value_t = 100_000)]
    tasks: u64,
    /// Concurrent task slots of the server (`--workers`).
    #[arg(long, default_value_t = 512)]
    workers: usize,
    /// Argus throughput runs, each on a fresh server and data dir; the median is the figure
    /// of record and every run is listed. (A 100,000-task run lasts about 2.5 s, short enough
    /// for a passing burst of other work on the machine to move it by 10%.)
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// No-op tasks per Celery run (0 skips Celery).
    #[arg(long, default_value_t = 100_000)]
    celery_tasks: u64,
    /// Python of the virtualenv with celery and redis installed.
    #[arg(long, default_value = "benches/.venv/bin/python")]
    python: PathBuf,
    /// wrk duration in seconds (0 skips the API benchmark).
    #[arg(long, default_value_t = 10)]
    wrk_secs: u64,
    /// wrk connections.
    #[arg(long, default_value_t = 64)]
    wrk_connections: u32,
    /// Where to write the Markdown results.
    #[arg(long, default_value = "benches/RESULTS.md")]
    out: PathBuf,
}

struct Server {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(args: &Args) -> anyhow::Result<Server> {
    start_server_with(&args.argus, args.workers, &[])
}

/// `argus serve` on a fresh data dir with `workers` task slots and extra environment.
fn start_server_with(
    argus: &std::path::Path,
    workers: usize,
    env: &[(&str, &str)],
) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(argus)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            &workers.to_string(),
            "--data-dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        // The benchmark's scanner is `noop`, registered only when asked.
        .env("ARGUS_SCANNERS__NOOP__ENABLED", "true")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (build it with cargo build --release)",
                argus.display()
            )
        })?;
    let stderr = child.stderr.take().context("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let addr = listening_addr(&mut lines, None)?;
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Server {
        child,
        addr,
        _dir: dir,
    })
}

impl Server {
    /// The server's data dir.
    fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }
}

/// Reads a server's stderr up to its "argus listening on http://ADDR" line and returns ADDR;
/// earlier lines are echoed with `label` when one is given.
fn listening_addr(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    label: Option<&str>,
) -> anyhow::Result<String> {
    loop {
        let Some(line) = lines.next() else {
            bail!("argus serve exited before listening")
        };
        let line = line?;
        if let Some(rest) = line.strip_prefix("argus listening on http://") {
            return Ok(rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string());
        }
        if let Some(label) = label {
            eprintln!("[{label}] {line}");
        }
    }
}

fn proc_field(pid: u32, file: &str, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// utime + stime of a process, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

struct Throughput {
    tasks: u64,
    secs: f64,
    cpu_secs: f64,
    scan_id: String,
}

async fn throughput(server: &Server, tasks: u64) -> anyhow::Result<Throughput> {
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v1", server.addr);
    let pid = server.child.id();
    let cpu0 = cpu_secs(pid);
    let t0 = Instant::now();
    let body = serde_json::json!({
        "name": "bench noop fan-out",
        "config": {
            "scanners": [{"name": "noop", "params": {"fanout": tasks}}],
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
    loop {
        let s: serde_json::Value = http
            .get(format!("{base}/scans/{id}/status"))
            .send()
            .await?
            .json()
            .await?;
        match s["state"].as_str() {
            Some("completed") => break,
            Some("failed" | "cancelled") => bail!("scan ended {s}"),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs(pid) - cpu0;
    let s: serde_json::Value = http
        .get(format!("{base}/scans/{id}/status"))
        .send()
        .await?
        .json()
        .await?;
    let done = s["progress"]["done"].as_u64().unwrap_or(0);
    if done != tasks + 1 {
        bail!("expected {} tasks done, status says {s}", tasks + 1);
    }
    Ok(Throughput {
        tasks: done,
        secs,
        cpu_secs: cpu,
        scan_id: id,
    })
}

struct Wrk {
    rps: f64,
    p99_ms: f64,
}

fn wrk(url: &str, secs: u64, conns: u32) -> anyhow::Result<Wrk> {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--latency",
            url,
        ])
        .output()
        .context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .context(format!("wrk output: {text}"))?;
    let p99 = text
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(parse_latency)
        .context("wrk p99")?;
    let non2xx = text.lines().any(|l| l.contains("Non-2xx"));
    if non2xx {
        bail!("wrk saw non-2xx responses: {text}");
    }
    Ok(Wrk { rps, p99_ms: p99 })
}

fn parse_latency(v: &str) -> f64 {
    let (num, mult) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (v, 1.0)
    };
    num.parse::<f64>().unwrap_or(f64::NAN) * mult
}

struct CeleryRun {
    label: String,
    tasks: u64,
    rate: f64,
}

fn celery(args: &Args, pool: &[&str], label: &str) -> anyhow::Result<CeleryRun> {
    let dir = PathBuf::from("benches/celery");
    // Absolute: a relative program path would be resolved against the child's working folder.
    let python = std::path::absolute(&args.python)?;
    let celery_bin = python.with_file_name("celery");
    let _ = Command::new(&celery_bin)
        .current_dir(&dir)
        .args(["-A", "tasks", "purge", "-f"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let mut worker = Command::new(&celery_bin)
        .current_dir(&dir)
        .args([
            "-A",
            "tasks",
            "worker",
            "--loglevel=warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ])
        .args(pool)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the celery worker (run benches/run.sh to set up the virtualenv)")?;
    let out = Command::new(&python)
        .current_dir(&dir)
        .args(["drive.py", &args.celery_tasks.to_string()])
        .output();
    let _ = worker.kill();
    let _ = worker.wait();
    let out = out?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "celery driver output: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok(CeleryRun {
        label: label.into(),
        tasks: args.celery_tasks,
        rate: v["tasks_per_s"].as_f64().context(format!("celery: {v}"))?,
    })
}

/// Replaces the section `key` of the Markdown file `path` (between `<!-- key:begin -->` and
/// `<!-- key:end -->`), or appends it; other sections are kept. A file without any markers is
/// taken as the old single-table output of the platform benchmark.
fn update_section(path: &std::path::Path, key: &str, md: &str) -> anyhow::Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let (begin, end) = (
        format!("<!-- {key}:begin -->"),
        format!("<!-- {key}:end -->"),
    );
    let block = format!("{begin}\n{}\n{end}\n", md.trim_end());
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(b), Some(e)) if b < e => {
            let rest = old[e + end.len()..].trim_start_matches('\n');
            if rest.is_empty() {
                format!("{}{block}", &old[..b])
            } else {
                format!("{}{block}\n{rest}", &old[..b])
            }
        }
        _ if !old.contains("<!-- ") && key == "platform" => block,
        _ if old.trim().is_empty() => block,
        _ if !old.contains("<!-- ") => {
            format!(
                "<!-- platform:begin -->\n{}\n<!-- platform:end -->\n\n{block}",
                old.trim_end()
            )
        }
        _ => format!("{}\n\n{block}", old.trim_end()),
    };
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Sub::Distributed(d)) => return distributed::run(d).await,
        Some(Sub::Stop(s)) => return stop::run(s).await,
        Some(Sub::Sinks(s)) => return sinks::run(s).await,
        None => cli.platform,
    };
    let mut server = start_server(&args)?;
    // Let start-up work settle, then read the idle footprint.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss_kb = proc_field(server.child.id(), "status", "VmRSS:").unwrap_or(0);
    eprintln!("idle RSS: {:.1} MB", idle_rss_kb as f64 / 1024.0);

    let mut runs: Vec<Throughput> = Vec::new();
    let mut peak_rss_kb = 0;
    for i in 0..args.repeat.max(1) {
        if i > 0 {
            drop(server);
            server = start_server(&args)?;
        }
        let tp = throughput(&server, args.tasks).await?;
        eprintln!(
            "argus run {}: {} tasks in {:.2}s = {:.0} tasks/s; server CPU {:.1} µs/task",
            i + 1,
            tp.tasks,
            tp.secs,
            tp.tasks as f64 / tp.secs,
            tp.cpu_secs * 1e6 / tp.tasks as f64
        );
        peak_rss_kb =
            peak_rss_kb.max(proc_field(server.child.id(), "status", "VmHWM:").unwrap_or(0));
        runs.push(tp);
    }
    let all_rates: Vec<String> = runs
        .iter()
        .map(|r| format!("{:.0}", r.tasks as f64 / r.secs))
        .collect();
    // wrk reads a scan of the server still running: the last run's.
    let wrk_scan = runs.last().map(|r| r.scan_id.clone()).unwrap_or_default();
    // The median run by wall time (the upper middle one for an even count).
    runs.sort_by(|a, b| b.secs.total_cmp(&a.secs));
    let tp = runs.swap_remove(runs.len() / 2);
    let rate = tp.tasks as f64 / tp.secs;

    let api = if args.wrk_secs > 0 {
        let url = format!("http://{}/api/v1/scans/{}", server.addr, wrk_scan);
        let w = wrk(&url, args.wrk_secs, args.wrk_connections)?;
        eprintln!("api: {:.0} req/s, p99 {:.2} ms", w.rps, w.p99_ms);
        Some(w)
    } else {
        None
    };
    drop(server);

    let mut celery_runs = Vec::new();
    if args.celery_tasks > 0 {
        for (pool, label) in [
            (&["-P", "solo"][..], "Celery 5, Redis, -P solo"),
            (
                &["-P", "prefork", "-c", "2"][..],
                "Celery 5, Redis, -P prefork -c 2",
            ),
        ] {
            let r = celery(&args, pool, label)?;
            eprintln!("{}: {:.0} tasks/s", r.label, r.rate);
            celery_runs.push(r);
        }
    }

    let mut md = String::new();
    md.push_str("| measure | result |\n|---|---|\n");
    md.push_str(&format!(
        "| idle RSS of `argus serve` | {:.1} MB |\n",
        idle_rss_kb as f64 / 1024.0
    ));
    md.push_str(&format!(
        "| Argus end to end, {} no-op tasks (`--workers {}`), median of {} runs ({} tasks/s) | {:.2} s, **{:.0} tasks/s**, {:.1} µs wall/task, {:.1} µs server CPU/task, peak RSS {:.0} MB |\n",
        tp.tasks,
        args.workers,
        all_rates.len(),
        all_rates.join(", "),
        tp.secs,
        rate,
        tp.secs * 1e6 / tp.tasks as f64,
        tp.cpu_secs * 1e6 / tp.tasks as f64,
        peak_rss_kb as f64 / 1024.0
    ));
    for c in &celery_runs {
        md.push_str(&format!(
            "| {}, {} no-op tasks | {:.0} tasks/s — Argus is **{:.1}×** |\n",
            c.label,
            c.tasks,
            c.rate,
            rate / c.rate
        ));
    }
    if let Some(w) = &api {
        md.push_str(&format!(
            "| `GET /api/v1/scans/{{id}}`, wrk -t2 -c{} -d{}s (same 2 cores) | **{:.0} req/s**, p99 {:.2} ms |\n",
            args.wrk_connections, args.wrk_secs, w.rps, w.p99_ms
        ));
    }
    println!("{md}");
    update_section(&args.out, "platform", &md)?;
    Ok(())
}
