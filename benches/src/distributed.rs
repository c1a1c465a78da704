//! `argus-bench distributed`: the no-op throughput benchmark on PostgreSQL + RabbitMQ, side by
//! side with Celery 5 on the same broker.
//!
//! For each worker-process count (default 1, 2, 4) and each repetition:
//! 1. a fresh database `argus_bench_<suffix>` (created with `psql`, dropped afterwards) and a
//!    fresh queue name `argus.bench.<suffix>` (its queues deleted afterwards);
//! 2. `argus migrate`, one `argus serve --workers 0` (API only) and N `argus worker` processes,
//!    sharing `--slots` task slots (`--workers <slots / N>` each, also its RabbitMQ prefetch);
//! 3. once every worker consumes, one scan whose `noop` root task fans out into `--tasks` no-op
//!    tasks (the embedded benchmark's scan), timed from `POST /api/v1/scans` to `completed`;
//!    CPU seconds of the API, the workers, PostgreSQL and RabbitMQ over that window are read
//!    from `/proc`;
//! 4. Celery 5 (`-P prefork -c N`, pyamqp, `task_acks_late=True`, result backend off,
//!    persistent messages) on a fresh queue of the same broker, with `--celery-tasks` tasks, at
//!    every `worker_prefetch_multiplier` of `--celery-prefetch` (default 1, 4, 16): Argus is
//!    compared with Celery's best setting, not a handicapped one.
//!
//! Prints and writes a Markdown section (between markers in `--out`, so the embedded
//! benchmark's section is kept) with the median and every run's figure, the machine (cores,
//! load average before the runs) and each Celery setting's rate.

use anyhow::{bail, Context};
use clap::Args;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{cpu_secs, listening_addr, update_section};

#[derive(Args, Debug)]
pub struct DistArgs {
    /// The argus binary, built with `--features distributed`.
    #[arg(long, default_value = "target/release/argus")]
    argus: PathBuf,
    /// No-op tasks in the throughput scan (plus its root task).
    #[arg(long, default_value_t = 100_000)]
    tasks: u64,
    /// Worker-process counts to measure, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    processes: Vec<usize>,
    /// Task slots of all worker processes together, split evenly between them (`argus worker
    /// --workers <slots / N>`, also each one's prefetch): the machine does not grow with N.
    #[arg(long, default_value_t = 1024)]
    slots: usize,
    /// PostgreSQL pool size per argus process (`store.max_connections`).
    #[arg(long, default_value_t = 16)]
    pg_connections: u32,
    /// Runs per worker-process count (the median is reported).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// PostgreSQL server URL with a database that exists (bench databases are created beside it).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_url: String,
    /// RabbitMQ URL (argus and Celery both use it).
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    amqp_url: String,
    /// No-op tasks per Celery run (0 skips Celery).
    #[arg(long, default_value_t = 20_000)]
    celery_tasks: u64,
    /// Python of the virtualenv with celery installed (benches/distributed.sh makes it).
    #[arg(long, default_value = "benches/.venv/bin/python")]
    python: PathBuf,
    /// Where to write the Markdown section.
    #[arg(long, default_value = "benches/RESULTS.md")]
    out: PathBuf,
    /// Keep each run's database (for inspection; drop it by hand) instead of dropping it.
    #[arg(long)]
    keep_db: bool,
    /// Log plans of statements slower than this many ms (auto_explain, in the server log).
    #[arg(long)]
    explain_ms: Option<u64>,
    /// Log every statement slower than this many ms with its duration (in the server log).
    #[arg(long)]
    log_statements_ms: Option<u64>,
    /// With `--explain-ms`: log the plans with actual rows, times and buffers (EXPLAIN ANALYZE,
    /// which slows every statement down a little).
    #[arg(long)]
    explain_analyze: bool,
    /// Celery `worker_prefetch_multiplier` values to run (each run at every one; the best
    /// median is the one Argus is compared with).
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    celery_prefetch: Vec<u32>,
}

/// A child process killed on drop.
struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Database and queues of one run, removed on drop.
struct Stack<'a> {
    args: &'a DistArgs,
    db: String,
    db_url: String,
    queue: String,
    dir: tempfile::TempDir,
}

impl<'a> Stack<'a> {
    fn new(args: &'a DistArgs) -> anyhow::Result<Stack<'a>> {
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        let tail = &suffix[suffix.len() - 12..];
        let db = format!("argus_bench_{tail}");
        psql(&args.pg_url, &format!("CREATE DATABASE {db}"))?;
        if let Some(ms) = args.explain_ms {
            psql(
                &args.pg_url,
                &format!(
                    "ALTER DATABASE {db} SET session_preload_libraries = 'auto_explain'; \
                     ALTER DATABASE {db} SET auto_explain.log_min_duration = '{ms}ms'"
                ),
            )?;
            if args.explain_analyze {
                psql(
                    &args.pg_url,
                    &format!(
                        "ALTER DATABASE {db} SET auto_explain.log_analyze = on; \
                         ALTER DATABASE {db} SET auto_explain.log_buffers = on; \
                         ALTER DATABASE {db} SET auto_explain.log_nested_statements = on"
                    ),
                )?;
            }
        }
        if let Some(ms) = args.log_statements_ms {
            psql(
                &args.pg_url,
                &format!("ALTER DATABASE {db} SET log_min_duration_statement = '{ms}ms'"),
            )?;
        }
        Ok(Stack {
            db_url: with_database(&args.pg_url, &db),
            db,
            queue: format!("argus.bench.{tail}"),
            args,
            dir: tempfile::tempdir()?,
        })
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("ARGUS_STORE__URL".into(), self.db_url.clone()),
            ("ARGUS_QUEUE__URL".into(), self.args.amqp_url.clone()),
            ("ARGUS_QUEUE__NAME".into(), self.queue.clone()),
            (
                "ARGUS_ARTIFACTS__URL".into(),
                format!("file://{}", self.dir.path().join("artifacts").display()),
            ),
            (
                "ARGUS_STORE__MAX_CONNECTIONS".into(),
                self.args.pg_connections.to_string(),
            ),
            ("RUST_LOG".into(), "warn".into()),
            // The benchmark's scanner is `noop`, registered only when asked.
            ("ARGUS_SCANNERS__NOOP__ENABLED".into(), "true".into()),
        ]
    }

    fn command(&self, args: &[&str], name: &str) -> Command {
        let mut cmd = Command::new(&self.args.argus);
        cmd.args(args)
            .arg("--data-dir")
            .arg(self.dir.path().join(name))
            .envs(self.env())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        cmd
    }

    fn migrate(&self) -> anyhow::Result<()> {
        let out = self
            .command(&["migrate"], "migrate")
            .output()
            .with_context(|| format!("running {} migrate", self.args.argus.display()))?;
        if !out.status.success() {
            bail!(
                "argus migrate failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// `argus serve --workers 0`; returns the process and the API base URL.
    fn api(&self) -> anyhow::Result<(Proc, String)> {
        let mut child = self
            .command(&["serve", "--bind", "127.0.0.1:0", "--workers", "0"], "api")
            .stderr(Stdio::piped())
            .spawn()
            .context("starting argus serve")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let proc = Proc { child };
        let mut lines = BufReader::new(stderr).lines();
        let addr = listening_addr(&mut lines, Some("api"))?;
        echo("api", lines);
        Ok((proc, format!("http://{addr}/api/v1")))
    }

    fn worker(&self, i: usize, slots: usize) -> anyhow::Result<Proc> {
        let name = format!("worker{i}");
        let mut child = self
            .command(&["worker", "--workers", &slots.to_string()], &name)
            .stderr(Stdio::piped())
            .spawn()
            .context("starting argus worker")?;
        if let Some(stderr) = child.stderr.take() {
            echo(&name, BufReader::new(stderr).lines());
        }
        Ok(Proc { child })
    }
}

impl Drop for Stack<'_> {
    fn drop(&mut self) {
        if self.args.keep_db {
            eprintln!("kept database {}", self.db_url);
        } else {
            let _ = psql(
                &self.args.pg_url,
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db),
            );
        }
        let q = &self.queue;
        let _ = amqp_admin(self.args, &["delete", q, &format!("{q}.dead")]);
    }
}

/// Echoes a child's stderr lines with a prefix (and keeps its pipe drained).
fn echo(label: &str, lines: std::io::Lines<BufReader<std::process::ChildStderr>>) {
    let label = label.to_string();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            eprintln!("[{label}] {l}");
        }
    });
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .context("running psql (apt-get install postgresql-client)")?;
    if !out.status.success() {
        bail!("psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// The same URL pointing at another database.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let head = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    format!("{head}/{db}{query}")
}

/// Runs `benches/celery/amqp_admin.py URL <args…>` and returns its output.
fn amqp_admin(args: &DistArgs, cmd: &[&str]) -> anyhow::Result<String> {
    let python = std::path::absolute(&args.python)?;
    let out = Command::new(&python)
        .arg("benches/celery/amqp_admin.py")
        .arg(&args.amqp_url)
        .args(cmd)
        .output()
        .context("running amqp_admin.py (benches/distributed.sh makes the virtualenv)")?;
    if !out.status.success() {
        bail!(
            "amqp_admin {cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Summed CPU seconds (utime + stime) of every process whose `comm` is one of `names`.
fn cpu_of_named(names: &[&str]) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut total = 0.0;
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if names.contains(&comm.trim()) {
            total += cpu_secs(pid);
        }
    }
    total
}

#[derive(Clone, Copy, Default)]
struct Cpu {
    api: f64,
    workers: f64,
    postgres: f64,
    rabbitmq: f64,
}

fn cpu_now(api: &Proc, workers: &[Proc]) -> Cpu {
    Cpu {
        api: cpu_secs(api.child.id()),
        workers: workers.iter().map(|w| cpu_secs(w.child.id())).sum(),
        postgres: cpu_of_named(&["postgres"]),
        rabbitmq: cpu_of_named(&["beam.smp", "erl_child_setup", "inet_gethost"]),
    }
}

/// Task slots of each of `n` worker processes sharing `total`.
fn per_process(total: usize, n: usize) -> usize {
    total.div_ceil(n.max(1)).max(1)
}

struct ArgusRun {
    tasks: u64,
    secs: f64,
    cpu: Cpu,
}

impl ArgusRun {
    fn rate(&self) -> f64 {
        self.tasks as f64 / self.secs
    }
}

async fn argus_run(args: &DistArgs, processes: usize) -> anyhow::Result<ArgusRun> {
    let stack = Stack::new(args)?;
    stack.migrate()?;
    let (api, base) = stack.api()?;
    let mut workers = Vec::with_capacity(processes);
    for i in 0..processes {
        workers.push(stack.worker(i, per_process(args.slots, processes))?);
    }
    // Every worker consumes once the queue counts one consumer per process.
    let t = Instant::now();
    loop {
        let n: i64 = amqp_admin(args, &["consumers", &stack.queue])?
            .parse()
            .unwrap_or(-1);
        if n >= processes as i64 {
            break;
        }
        if t.elapsed() > Duration::from_secs(30) {
            bail!("only {n} of {processes} workers consume after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let http = reqwest::Client::new();
    let body = serde_json::json!({
        "name": "bench noop fan-out (distributed)",
        "config": {
            "scanners": [{"name": "noop", "params": {"fanout": args.tasks}}],
            "targets": [{"kind": "url", "value": "noop://root"}]
        },
        "start": true
    });
    let cpu0 = cpu_now(&api, &workers);
    let t0 = Instant::now();
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
    let deadline = t0 + Duration::from_secs(1800);
    let status = loop {
        let s: serde_json::Value = http
            .get(format!("{base}/scans/{id}/status"))
            .send()
            .await?
            .json()
            .await?;
        match s["state"].as_str() {
            Some("completed") => break s,
            Some("failed" | "cancelled") => bail!("scan ended {s}"),
            _ if Instant::now() > deadline => bail!("scan not done after 30 min: {s}"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let secs = t0.elapsed().as_secs_f64();
    let cpu1 = cpu_now(&api, &workers);
    let done = status["progress"]["done"].as_u64().unwrap_or(0);
    if done != args.tasks + 1 {
        bail!(
            "expected {} tasks done, status says {status}",
            args.tasks + 1
        );
    }
    drop(workers);
    drop(api);
    drop(stack);
    Ok(ArgusRun {
        tasks: done,
        secs,
        cpu: Cpu {
            api: cpu1.api - cpu0.api,
            workers: cpu1.workers - cpu0.workers,
            postgres: cpu1.postgres - cpu0.postgres,
            rabbitmq: cpu1.rabbitmq - cpu0.rabbitmq,
        },
    })
}

struct CeleryRun {
    tasks: u64,
    rate: f64,
}

fn celery_run(args: &DistArgs, concurrency: usize, prefetch: u32) -> anyhow::Result<CeleryRun> {
    let dir = PathBuf::from("benches/celery");
    let python = std::path::absolute(&args.python)?;
    let celery_bin = python.with_file_name("celery");
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let queue = format!("argus.bench.celery.{}", &suffix[suffix.len() - 12..]);
    let tmp = tempfile::tempdir()?;
    let counter = format!("file:{}", tmp.path().join("done").display());
    let prefetch = prefetch.to_string();
    let broker = args
        .amqp_url
        .replacen("amqp://", "pyamqp://", 1)
        .replace("%2f", "%2F");
    let env = [
        ("CELERY_BROKER", broker.as_str()),
        ("CELERY_QUEUE", queue.as_str()),
        ("CELERY_ACKS_LATE", "1"),
        ("CELERY_PREFETCH", prefetch.as_str()),
        ("CELERY_COUNTER", counter.as_str()),
    ];
    let worker = Command::new(&celery_bin)
        .current_dir(&dir)
        .envs(env)
        .args([
            "-A",
            "tasks",
            "worker",
            "--loglevel=warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-P",
            "prefork",
            "-c",
            &concurrency.to_string(),
            "-Q",
            &queue,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context(
            "starting the celery worker (run benches/distributed.sh to set up the virtualenv)",
        )?;
    let worker = Proc { child: worker };
    // The worker declares its queue and consumes; wait for that before the clock starts.
    let t = Instant::now();
    loop {
        let n: i64 = amqp_admin(args, &["consumers", &queue])?
            .parse()
            .unwrap_or(-1);
        if n >= 1 {
            break;
        }
        if t.elapsed() > Duration::from_secs(60) {
            bail!("celery worker does not consume after 60 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = Command::new(&python)
        .current_dir(&dir)
        .envs(env)
        .args(["drive.py", &args.celery_tasks.to_string()])
        .output();
    drop(worker);
    let _ = amqp_admin(args, &["delete", &queue]);
    let out = out?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "celery driver output: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok(CeleryRun {
        tasks: args.celery_tasks,
        rate: v["tasks_per_s"].as_f64().context(format!("celery: {v}"))?,
    })
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|r| format!("{r:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `cores, load average (1, 5, 15 min)` of this machine, as read now.
fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into());
    format!("{cores} cores, load average {load}")
}

/// Celery's runs at one prefetch setting.
struct CelerySetting {
    prefetch: u32,
    rates: Vec<f64>,
}

impl CelerySetting {
    fn median(&self) -> f64 {
        median(&self.rates)
    }
}

pub async fn run(args: DistArgs) -> anyhow::Result<()> {
    if !args.argus.exists() {
        bail!(
            "{} not found: build it with cargo build --release -p argus-cli --features distributed",
            args.argus.display()
        );
    }
    let started = chrono_like_now();
    let machine_before = machine();
    eprintln!("machine: {machine_before}");
    let mut rows = Vec::new();
    for &n in &args.processes {
        let mut runs = Vec::new();
        for rep in 0..args.repeat.max(1) {
            let r = argus_run(&args, n).await?;
            eprintln!(
                "argus, {n} worker process(es) × {} slots, run {}: {} tasks in {:.2}s = {:.0} tasks/s; CPU s: workers {:.1}, api {:.1}, postgres {:.1}, rabbitmq {:.1}; machine: {}",
                per_process(args.slots, n),
                rep + 1,
                r.tasks,
                r.secs,
                r.rate(),
                r.cpu.workers,
                r.cpu.api,
                r.cpu.postgres,
                r.cpu.rabbitmq,
                machine()
            );
            runs.push(r);
        }
        let mut celery: Vec<CelerySetting> = Vec::new();
        if args.celery_tasks > 0 {
            for &prefetch in &args.celery_prefetch {
                let mut rates = Vec::new();
                for rep in 0..args.repeat.max(1) {
                    let c = celery_run(&args, n, prefetch)?;
                    eprintln!(
                        "celery -P prefork -c {n}, prefetch {prefetch}, run {}: {} tasks, {:.0} tasks/s; machine: {}",
                        rep + 1,
                        c.tasks,
                        c.rate,
                        machine()
                    );
                    rates.push(c.rate);
                }
                celery.push(CelerySetting { prefetch, rates });
            }
        }
        rows.push((n, runs, celery));
    }
    let machine_after = machine();
    eprintln!("machine: {machine_after}");

    let mut md = String::new();
    md.push_str(&format!(
        "### Distributed: PostgreSQL + RabbitMQ vs Celery on the same RabbitMQ\n\n\
         `benches/distributed.sh --processes {} --slots {} --repeat {} --tasks {} --celery-tasks {} --celery-prefetch {}` ({started}; PostgreSQL, RabbitMQ and every process share the machine; other builds may have run at the same time).\n\n\
         machine: {machine_before} (before the runs), {machine_after} (after)\n\n\
         Argus: one `argus serve --workers 0` + N `argus worker --workers {}/N` (task slots, also each worker's prefetch: {} slots in all, split between the processes), one scan of {} no-op tasks (a root task fanning out), from `POST` to `completed`. \
         Celery 5 (pyamqp): `-P prefork -c N`, `task_acks_late=True`, result backend off, persistent messages, {} tasks, from first publish to last task run, at each `worker_prefetch_multiplier` listed; the ratio is against Celery's best of them. Median of {} run(s), every run in brackets.\n\n",
        args.processes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        args.slots,
        args.repeat,
        args.tasks,
        args.celery_tasks,
        args.celery_prefetch
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        args.slots,
        args.slots,
        args.tasks + 1,
        args.celery_tasks,
        args.repeat.max(1),
    ));
    md.push_str("| worker processes | Argus tasks/s | CPU µs/task: workers / API / PostgreSQL / RabbitMQ | Celery tasks/s by prefetch | Celery best | ratio vs best |\n|---|---|---|---|---|---|\n");
    for (n, runs, celery) in &rows {
        let rates: Vec<f64> = runs.iter().map(ArgusRun::rate).collect();
        let m = median(&rates);
        let per = |f: fn(&Cpu) -> f64| {
            let v: Vec<f64> = runs
                .iter()
                .map(|r| f(&r.cpu) * 1e6 / r.tasks as f64)
                .collect();
            median(&v)
        };
        let cpu = format!(
            "{:.0} / {:.0} / {:.0} / {:.0}",
            per(|c| c.workers),
            per(|c| c.api),
            per(|c| c.postgres),
            per(|c| c.rabbitmq)
        );
        let best = celery
            .iter()
            .max_by(|a, b| a.median().total_cmp(&b.median()));
        let (settings, best_cell, ratio) = match best {
            None => ("—".to_string(), "—".to_string(), "—".to_string()),
            Some(b) => {
                let cm = b.median();
                let settings = celery
                    .iter()
                    .map(|c| {
                        format!(
                            "{}: {:.0} ({}) = {:.1}×",
                            c.prefetch,
                            c.median(),
                            list(&c.rates),
                            m / c.median()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                (
                    settings,
                    format!("{cm:.0} (prefetch {})", b.prefetch),
                    format!("**{:.1}×**", m / cm),
                )
            }
        };
        md.push_str(&format!(
            "| {n} | **{m:.0}** ({}) | {cpu} | {settings} | {best_cell} | {ratio} |\n",
            list(&rates)
        ));
    }
    println!("{md}");
    update_section(&args.out, "distributed", &md)?;
    Ok(())
}

/// Today's date (UTC) as `YYYY-MM-DD`, without a date crate.
fn chrono_like_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
