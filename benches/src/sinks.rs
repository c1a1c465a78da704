//! `argus-bench sinks`: result forwarding throughput and its cost to scans.
//!
//! Two local receivers run inside this process: a syslog receiver over TCP that checks RFC 6587
//! octet-counting framing and counts messages, and a Splunk HEC receiver (`POST
//! /services/collector/event`, `Authorization: Splunk <token>`, concatenated JSON objects) that
//! counts events. Both answer as fast as they can, so they measure the forwarder, not
//! themselves.
//!
//! 1. **Events/s.** A server with no sinks runs a `noop` scan that emits `--events` findings;
//!    it is stopped, and started again on the same data folder with no workers and one sink
//!    (`start = "beginning"`): the time from the receiver's first event to its last is the
//!    forwarding rate. The peer is `benches/sinks/forwarder.py`, a minimal Python forwarder
//!    doing the same batching (HEC: 100 events per request on one kept-alive connection;
//!    syslog: one buffered socket write per 500 octet-counted RFC 5424 messages) over the very
//!    events Argus delivered (captured by the receiver), to the same receivers. (Vector, the
//!    forwarder the issue names, is in none of the registries this machine reaches.)
//! 2. **Cost to scans.** The embedded throughput scan (`noop` fan-out, each task emitting one
//!    finding) with no sinks, then with both sinks on, alternating, `--repeat` times each:
//!    tasks/s with and without, as a ratio.
//!
//! Nothing here asserts a time; it prints a Markdown table (section `sinks` of the results file).

use anyhow::{bail, Context};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::{listening_addr, update_section};

#[derive(clap::Args, Debug)]
pub struct SinksArgs {
    /// The argus binary to benchmark.
    #[arg(long, default_value = "target/release/argus")]
    argus: PathBuf,
    /// Findings (events) forwarded in the events/s runs.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Tasks of the scan-cost runs (each emits one finding).
    #[arg(long, default_value_t = 50_000)]
    tasks: u64,
    /// Runs of each kind.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Concurrent task slots of the server.
    #[arg(long, default_value_t = 512)]
    workers: usize,
    /// Python for the peer forwarder.
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// Where to write the Markdown results.
    #[arg(long, default_value = "benches/RESULTS.md")]
    out: PathBuf,
}

const TOKEN: &str = "bench-hec-token";

/// What a receiver counted: events, and when the first and the latest arrived.
#[derive(Default)]
struct Counter {
    events: AtomicU64,
    first: Mutex<Option<Instant>>,
    last: Mutex<Option<Instant>>,
    /// Bodies kept for the peer's input (only while `keep` is set).
    kept: Mutex<Vec<String>>,
    keep: std::sync::atomic::AtomicBool,
}

impl Counter {
    fn add(&self, n: u64) {
        let now = Instant::now();
        if let Ok(mut f) = self.first.lock() {
            f.get_or_insert(now);
        }
        if let Ok(mut l) = self.last.lock() {
            *l = Some(now);
        }
        self.events.fetch_add(n, Ordering::SeqCst);
    }
    fn reset(&self) {
        self.events.store(0, Ordering::SeqCst);
        if let Ok(mut f) = self.first.lock() {
            *f = None;
        }
        if let Ok(mut l) = self.last.lock() {
            *l = None;
        }
    }
    fn span(&self) -> f64 {
        let f = self.first.lock().ok().and_then(|f| *f);
        let l = self.last.lock().ok().and_then(|l| *l);
        match (f, l) {
            (Some(f), Some(l)) => (l - f).as_secs_f64(),
            _ => 0.0,
        }
    }
}

/// Syslog over TCP with octet counting: `LEN SP MSG`, repeated.
async fn syslog_receiver(counter: Arc<Counter>) -> anyhow::Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut r = tokio::io::BufReader::with_capacity(1 << 16, sock);
                let mut len = Vec::new();
                loop {
                    len.clear();
                    match r.read_until(b' ', &mut len).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let Some(n) = std::str::from_utf8(&len[..len.len() - 1])
                        .ok()
                        .and_then(|s| s.parse::<usize>().ok())
                    else {
                        eprintln!(
                            "syslog receiver: bad frame length {:?}",
                            String::from_utf8_lossy(&len)
                        );
                        return;
                    };
                    let mut msg = vec![0; n];
                    if r.read_exact(&mut msg).await.is_err() {
                        return;
                    }
                    if !msg.starts_with(b"<") {
                        eprintln!("syslog receiver: not a syslog message");
                        return;
                    }
                    counter.add(1);
                }
            });
        }
    });
    Ok(port)
}

/// Splunk HEC: one HTTP/1.1 request after another per connection (keep-alive).
async fn hec_receiver(counter: Arc<Counter>) -> anyhow::Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let (rd, mut wr) = sock.into_split();
                let mut r = tokio::io::BufReader::with_capacity(1 << 16, rd);
                loop {
                    let mut head = String::new();
                    let mut length = 0usize;
                    let mut authorised = false;
                    loop {
                        let mut line = String::new();
                        match r.read_line(&mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        if line == "\r\n" {
                            break;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if line.to_ascii_lowercase().starts_with("authorization:")
                            && line.trim_end().ends_with(&format!("Splunk {TOKEN}"))
                        {
                            authorised = true;
                        }
                        head.push_str(&line);
                    }
                    let mut body = vec![0; length];
                    if r.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let (status, answer) = if !authorised {
                        ("403 Forbidden", r#"{"text":"Invalid token","code":4}"#)
                    } else if !head.starts_with("POST /services/collector/event") {
                        (
                            "404 Not Found",
                            r#"{"text":"The requested URL was not found on this server.","code":404}"#,
                        )
                    } else {
                        let mut n = 0u64;
                        let mut kept = Vec::new();
                        let keep = counter.keep.load(Ordering::SeqCst);
                        for v in serde_json::Deserializer::from_slice(&body)
                            .into_iter::<serde_json::Value>()
                        {
                            match v {
                                Ok(v) if v.get("event").is_some() => {
                                    n += 1;
                                    if keep {
                                        kept.push(v["event"].to_string());
                                    }
                                }
                                _ => {
                                    n = u64::MAX;
                                    break;
                                }
                            }
                        }
                        if n == u64::MAX {
                            (
                                "400 Bad Request",
                                r#"{"text":"Invalid data format","code":6}"#,
                            )
                        } else {
                            counter.add(n);
                            if keep {
                                if let Ok(mut k) = counter.kept.lock() {
                                    k.extend(kept);
                                }
                            }
                            ("200 OK", r#"{"text":"Success","code":0}"#)
                        }
                    };
                    let res = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if wr.write_all(res.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(port)
}

struct Proc {
    child: Child,
    addr: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// SIGTERM and wait: a graceful stop (the forwarder saves its cursor).
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn serve(
    argus: &Path,
    dir: &Path,
    workers: usize,
    env: &[(String, String)],
) -> anyhow::Result<Proc> {
    let mut child = Command::new(argus)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            &workers.to_string(),
            "--data-dir",
        ])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .env("ARGUS_SCANNERS__NOOP__ENABLED", "true")
        .env("BENCH_HEC_TOKEN", TOKEN)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
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
    let addr = listening_addr(&mut lines, Some("argus"))?;
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            eprintln!("[argus] {l}");
        }
    });
    Ok(Proc { child, addr })
}

fn sink_env(name: &str, kind: &str, port: u16) -> Vec<(String, String)> {
    let k = |key: &str| format!("ARGUS_SINKS__{}__{key}", name.to_ascii_uppercase());
    let mut env = vec![(k("TYPE"), kind.to_owned())];
    match kind {
        "syslog" => {
            env.push((k("URL"), format!("tcp://127.0.0.1:{port}")));
            env.push((k("FORMAT"), "json".into()));
        }
        _ => {
            env.push((k("URL"), format!("http://127.0.0.1:{port}")));
            env.push((k("TOKEN_ENV"), "BENCH_HEC_TOKEN".into()));
        }
    }
    env
}

/// Runs a scan of `tasks` noop tasks each emitting `per_task` findings; returns its seconds
/// and the tasks done.
async fn scan(addr: &str, tasks: u64, per_task: u64) -> anyhow::Result<(f64, u64)> {
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1");
    let t0 = Instant::now();
    let params = if tasks <= 1 {
        serde_json::json!({"findings": per_task})
    } else {
        serde_json::json!({"fanout": tasks, "child": {"findings": per_task}})
    };
    let body = serde_json::json!({
        "config": {
            "scanners": [{"name": "noop", "params": params}],
            "targets": [{"kind": "url", "value": "noop://root"}],
            "max_tasks": tasks + 1
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
    let s: serde_json::Value = resp.json().await?;
    let id = s["id"].as_str().context("scan id")?.to_string();
    loop {
        let s: serde_json::Value = http
            .get(format!("{base}/scans/{id}/status"))
            .send()
            .await?
            .json()
            .await?;
        match s["state"].as_str() {
            Some("completed") => {
                return Ok((
                    t0.elapsed().as_secs_f64(),
                    s["progress"]["done"].as_u64().unwrap_or(0),
                ))
            }
            Some("failed" | "cancelled") => bail!("scan ended {s}"),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn wait_count(c: &Counter, n: u64, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while c.events.load(Ordering::SeqCst) < n {
        if Instant::now() > deadline {
            bail!(
                "the receiver got {} of {n} events",
                c.events.load(Ordering::SeqCst)
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

struct Rate {
    events: u64,
    secs: f64,
}

impl Rate {
    fn per_sec(&self) -> f64 {
        self.events as f64 / self.secs.max(1e-9)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub async fn run(args: SinksArgs) -> anyhow::Result<()> {
    let syslog = Arc::new(Counter::default());
    let hec = Arc::new(Counter::default());
    let syslog_port = syslog_receiver(syslog.clone()).await?;
    let hec_port = hec_receiver(hec.clone()).await?;

    // A data folder holding the events: one scan of `events` findings in 100-finding tasks.
    let filled = tempfile::tempdir()?;
    {
        let p = serve(&args.argus, filled.path(), 64, &[])?;
        let tasks = (args.events / 100).max(1);
        let (secs, _) = scan(&p.addr, tasks, 100).await?;
        eprintln!("filled: {} findings in {secs:.1}s", tasks * 100);
        p.stop();
    }
    let total_findings = (args.events / 100).max(1) * 100;

    // 1. Events/s, Argus then the peer, per destination, `repeat` times.
    // HEC first: its receiver keeps the first run's events for the peer's input.
    let mut argus_rates: Vec<(&str, Vec<f64>)> = vec![("splunk_hec", vec![]), ("syslog", vec![])];
    let mut peer_rates: Vec<(&str, Vec<f64>)> = vec![("splunk_hec", vec![]), ("syslog", vec![])];
    let capture = tempfile::NamedTempFile::new()?;
    for round in 0..args.repeat.max(1) {
        for (i, (kind, port, counter)) in [
            ("splunk_hec", hec_port, hec.clone()),
            ("syslog", syslog_port, syslog.clone()),
        ]
        .into_iter()
        .enumerate()
        {
            // A copy of the filled folder per run: every run forwards from the beginning.
            let dir = tempfile::tempdir()?;
            copy_dir(filled.path(), dir.path())?;
            counter.reset();
            let keep = round == 0 && kind == "splunk_hec";
            counter.keep.store(keep, Ordering::SeqCst);
            let mut env = sink_env("bench", kind, port);
            env.push(("ARGUS_SINKS__BENCH__START".into(), "beginning".into()));
            env.push((
                "ARGUS_SINKS__BENCH__EVENTS".into(),
                "[\"scan_result\"]".into(),
            ));
            let p = serve(&args.argus, dir.path(), 0, &env)?;
            wait_count(&counter, total_findings, Duration::from_secs(600)).await?;
            let r = Rate {
                events: total_findings,
                secs: counter.span(),
            };
            eprintln!(
                "argus → {kind}: {} events in {:.2}s = {:.0}/s",
                r.events,
                r.secs,
                r.per_sec()
            );
            argus_rates[i].1.push(r.per_sec());
            drop(p);
            counter.keep.store(false, Ordering::SeqCst);
            if keep {
                let kept = counter
                    .kept
                    .lock()
                    .map(|k| k.join("\n"))
                    .unwrap_or_default();
                std::fs::write(capture.path(), kept + "\n")?;
            }
            // The peer over the same events.
            counter.reset();
            let status = Command::new(&args.python)
                .arg("benches/sinks/forwarder.py")
                .args([
                    if kind == "syslog" { "syslog" } else { "hec" },
                    &format!("127.0.0.1:{port}"),
                ])
                .arg(capture.path())
                .env("HEC_TOKEN", TOKEN)
                .status()
                .context("running benches/sinks/forwarder.py")?;
            if !status.success() {
                bail!("the peer forwarder failed");
            }
            wait_count(&counter, total_findings, Duration::from_secs(600)).await?;
            let r = Rate {
                events: total_findings,
                secs: counter.span(),
            };
            eprintln!(
                "python → {kind}: {} events in {:.2}s = {:.0}/s",
                r.events,
                r.secs,
                r.per_sec()
            );
            peer_rates[i].1.push(r.per_sec());
        }
    }

    // 2. Scan throughput with and without two sinks, alternating.
    let mut off = Vec::new();
    let mut on = Vec::new();
    for round in 0..args.repeat.max(1) {
        for with_sinks in [false, true] {
            let dir = tempfile::tempdir()?;
            let mut env = Vec::new();
            if with_sinks {
                env.extend(sink_env("siem", "syslog", syslog_port));
                env.extend(sink_env("splunk", "splunk_hec", hec_port));
            }
            let p = serve(&args.argus, dir.path(), args.workers, &env)?;
            let (secs, done) = scan(&p.addr, args.tasks, 1).await?;
            let rate = done as f64 / secs;
            eprintln!(
                "scan round {}: {} sinks: {done} tasks in {secs:.2}s = {rate:.0} tasks/s",
                round + 1,
                if with_sinks { "two" } else { "no" }
            );
            if with_sinks {
                on.push(rate);
            } else {
                off.push(rate);
            }
            p.stop();
        }
    }

    let mut md = String::new();
    md.push_str(&format!(
        "Forwarding {total_findings} findings from the store to a local receiver (median of {} runs; `argus-bench sinks`):\n\n",
        args.repeat.max(1)
    ));
    md.push_str("| destination | Argus events/s | Python forwarder, same batching | Argus / peer |\n|---|---:|---:|---:|\n");
    for i in 0..2 {
        let a = median(argus_rates[i].1.clone());
        let p = median(peer_rates[i].1.clone());
        md.push_str(&format!(
            "| {} | **{a:.0}** (runs: {}) | {p:.0} (runs: {}) | {:.2}× |\n",
            argus_rates[i].0,
            join(&argus_rates[i].1),
            join(&peer_rates[i].1),
            a / p.max(1e-9)
        ));
    }
    let (a, b) = (median(off.clone()), median(on.clone()));
    md.push_str(&format!(
        "\nScan throughput, {} noop tasks each emitting one finding, `--workers {}`: no sinks **{a:.0} tasks/s** (runs: {}), syslog TCP + Splunk HEC on **{b:.0} tasks/s** (runs: {}) = **{:.1} %** fewer tasks/s (goal: < 10 %).\n",
        args.tasks,
        args.workers,
        join(&off),
        join(&on),
        (1.0 - b / a.max(1e-9)) * 100.0
    ));
    println!("{md}");
    update_section(&args.out, "sinks", &md)?;
    Ok(())
}

fn join(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}
