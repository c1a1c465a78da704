//! Distributed mode, end to end, against the real local PostgreSQL and RabbitMQ: separate
//! `argus serve --workers 0` (API) and `argus worker` processes sharing one database and one
//! broker, exactly as a deployment runs them.
//!
//! - many workers, one SIGKILLed mid-scan: the scan completes, every task counted once, no
//!   duplicate findings;
//! - broker outage and database outage (through a TCP proxy the test cuts and restores): the
//!   API reports 503 where it must, nothing is lost, and the scan completes after recovery
//!   without restarting anything;
//! - two API processes: an SSE client on one sees the findings that workers attached to the
//!   other produce (cross-process event bus);
//! - SIGTERM on a worker with tasks running past its shutdown grace: it stops claiming, exits
//!   cleanly, and hands the unfinished tasks back unacknowledged; another worker runs them;
//! - a sink configured on every process is forwarded by one at a time, and by another after
//!   the forwarding process is SIGKILLed.
//!
//! Each test gets its own database and its own queue names. Needs `ARGUS_TEST_POSTGRES_URL` and
//! `ARGUS_TEST_AMQP_URL` (skips without them, fails without them under `CI=true`).
#![cfg(all(feature = "postgres", feature = "amqp"))]
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use common::proxy::Proxy;
use common::stack::Stack;
use common::{all_fingerprints, status, wait_for, Proc};

/// `url` with its host:port replaced by `addr` (to route through a proxy).
fn via(url: &str, addr: SocketAddr) -> String {
    let start = url.find("://").unwrap() + 3;
    let rest = &url[start..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let userinfo = authority.rfind('@').map(|i| &authority[..=i]).unwrap_or("");
    format!("{}{userinfo}{addr}{}", &url[..start], &rest[end..])
}

/// The upstream address of a URL (host:port, default port by scheme).
fn upstream(url: &str, default_port: u16) -> SocketAddr {
    let start = url.find("://").unwrap() + 3;
    let rest = &url[start..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let hostport = authority.rsplit('@').next().unwrap();
    let hp = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:{default_port}")
    };
    let hp = hp.replace("localhost", "127.0.0.1");
    hp.parse().expect("service URLs must name an IP address")
}

/// Creates and starts a fan-out scan of `children` noop tasks, one finding each.
async fn start_fanout(http: &reqwest::Client, base: &str, children: u64, sleep_ms: u64) -> String {
    let body = json!({
        "name": "distributed",
        "config": {
            "scanners": [{"name": "noop", "params": {
                "fanout": children,
                "child": {"sleep_ms": sleep_ms, "findings": 1}
            }}],
            "targets": [{"kind": "url", "value": "noop://root"}]
        },
        "start": true
    });
    create_when_workers_run(http, base, &body).await
}

/// Creates a scan (`body`), retrying while no worker has advertised its scanners yet: until
/// one has, the API refuses the scan (422, "no live worker"), as it would in production.
async fn create_when_workers_run(http: &reqwest::Client, base: &str, body: &Value) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let resp = http
            .post(format!("{base}/scans"))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        if status == 422 && text.contains("no live worker") && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        assert_eq!(status, 201, "{text}");
        let scan: Value = serde_json::from_str(&text).unwrap();
        return scan["id"].as_str().unwrap().to_string();
    }
}

async fn wait_done_over(http: &reqwest::Client, base: &str, id: &str, n: u64) -> u64 {
    wait_for(Duration::from_secs(120), "scan progress", || {
        let (http, base, id) = (http.clone(), base.to_string(), id.to_string());
        async move {
            let s = status(&http, &base, &id).await?;
            let done = s["progress"]["done"].as_u64()?;
            (done > n).then_some(done)
        }
    })
    .await
}

async fn wait_completed(http: &reqwest::Client, base: &str, id: &str) -> Value {
    wait_for(Duration::from_secs(180), "scan completion", || {
        let (http, base, id) = (http.clone(), base.to_string(), id.to_string());
        async move {
            let s = status(&http, &base, &id).await?;
            (s["state"] == "completed").then_some(s)
        }
    })
    .await
}

fn assert_exact(final_status: &Value, children: u64) {
    let p = &final_status["progress"];
    assert_eq!(p["enqueued"], children + 1, "{final_status}");
    assert_eq!(p["done"], children + 1, "{final_status}");
    assert_eq!(p["failed"], 0, "{final_status}");
    assert_eq!(p["findings"], children, "{final_status}");
}

async fn http_status(http: &reqwest::Client, url: &str) -> Option<u16> {
    http.get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// Waits until the API's `/readyz` answers `code`.
async fn wait_readyz(http: &reqwest::Client, base: &str, code: u16, timeout: Duration) {
    let url = format!("{}/readyz", root(base));
    wait_for(timeout, &format!("/readyz {code}"), || {
        let (http, url) = (http.clone(), url.clone());
        async move { (http_status(&http, &url).await? == code).then_some(()) }
    })
    .await;
}

fn root(base: &str) -> String {
    base.trim_end_matches("/api/v1").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_one_sigkilled_counts_every_task_once() {
    const CHILDREN: u64 = 10_000;
    let Some(stack) = Stack::new() else { return };
    let env = stack.env(&stack.pg_url, &stack.amqp_url);
    let api = stack.api("api", &env, 0);
    let base = api.base.clone().unwrap();
    let mut workers: Vec<Proc> = (0..3)
        .map(|i| stack.worker(&format!("worker{i}"), &env, 8))
        .collect();
    let http = reqwest::Client::new();

    let id = start_fanout(&http, &base, CHILDREN, 3).await;
    let done_at_kill = wait_done_over(&http, &base, &id, CHILDREN / 5).await;
    workers[0].child.kill().unwrap(); // SIGKILL: its unacked deliveries go back to the broker
    workers[0].child.wait().unwrap();
    assert!(
        done_at_kill <= CHILDREN,
        "scan finished before the kill; make it longer"
    );

    let final_status = wait_completed(&http, &base, &id).await;
    assert_exact(&final_status, CHILDREN);
    assert_eq!(
        all_fingerprints(&http, &base, &id).await.len() as u64,
        CHILDREN
    );
    drop(workers);
    drop(api);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_turns_enqueue_503_and_loses_nothing() {
    const CHILDREN: u64 = 2_000;
    let Some(stack) = Stack::new() else { return };
    let broker = Proxy::start(upstream(&stack.amqp_url, 5672)).await;
    let env = stack.env(&stack.pg_url, &via(&stack.amqp_url, broker.addr));
    let api = stack.api("api", &env, 0);
    let worker = stack.worker("worker", &env, 8);
    let base = api.base.clone().unwrap();
    let http = reqwest::Client::new();

    let id = start_fanout(&http, &base, CHILDREN, 5).await;
    wait_done_over(&http, &base, &id, CHILDREN / 10).await;
    broker.cut();

    // Readiness reports the broker, and endpoints that enqueue refuse with a problem body.
    wait_readyz(&http, &base, 503, Duration::from_secs(30)).await;
    let body = json!({
        "name": "during outage",
        "config": {"scanners": [{"name": "noop", "params": {}}],
                   "targets": [{"kind": "url", "value": "noop://x"}]},
        "start": true
    });
    let resp = http
        .post(format!("{base}/scans"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let problem: Value = resp.json().await.unwrap();
    assert!(problem["code"].is_string(), "{problem}");
    // Reads keep working.
    assert!(
        status(&http, &base, &id).await.is_some(),
        "reads work during a broker outage"
    );

    broker.restore();
    wait_readyz(&http, &base, 200, Duration::from_secs(60)).await;
    let final_status = wait_completed(&http, &base, &id).await;
    assert_exact(&final_status, CHILDREN);
    assert_eq!(
        all_fingerprints(&http, &base, &id).await.len() as u64,
        CHILDREN
    );
    drop(worker);
    drop(api);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_recovers_without_restart() {
    const CHILDREN: u64 = 2_000;
    let Some(stack) = Stack::new() else { return };
    let db = Proxy::start(upstream(&stack.pg_url, 5432)).await;
    let env = stack.env(&via(&stack.pg_url, db.addr), &stack.amqp_url);
    let api = stack.api("api", &env, 0);
    let worker = stack.worker("worker", &env, 8);
    let base = api.base.clone().unwrap();
    let http = reqwest::Client::new();

    let id = start_fanout(&http, &base, CHILDREN, 5).await;
    wait_done_over(&http, &base, &id, CHILDREN / 10).await;
    db.cut();
    wait_readyz(&http, &base, 503, Duration::from_secs(30)).await;
    db.restore();
    wait_readyz(&http, &base, 200, Duration::from_secs(60)).await;
    let final_status = wait_completed(&http, &base, &id).await;
    assert_exact(&final_status, CHILDREN);
    assert_eq!(
        all_fingerprints(&http, &base, &id).await.len() as u64,
        CHILDREN
    );
    drop(worker);
    drop(api);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_on_one_api_sees_findings_from_workers_of_another() {
    const CHILDREN: u64 = 50;
    let Some(stack) = Stack::new() else { return };
    let env = stack.env(&stack.pg_url, &stack.amqp_url);
    // A: API only, no workers. B: API with workers.
    let a = stack.api("api-a", &env, 0);
    let b = stack.api("api-b", &env, 4);
    let (base_a, base_b) = (a.base.clone().unwrap(), b.base.clone().unwrap());
    let http = reqwest::Client::new();

    // An org-wide stream without a resume point starts at the first event that reaches A's bus
    // after it connected, so what arrives here came over the cross-process bus (a process-local
    // bus on A would never see B's events, and this stream would stay silent).
    let resp = http
        .get(format!("{base_a}/events"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();

    let id = start_fanout(&http, &base_b, CHILDREN, 0).await;
    let mut buf = String::new();
    let mut findings = std::collections::HashSet::new();
    let mut last_id = 0i64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while findings.len() < CHILDREN as usize {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("timed out waiting for findings on the other API")
            .expect("stream ended")
            .unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut kind = "";
            let mut data = String::new();
            let mut ev_id = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    kind = v.trim();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                } else if let Some(v) = line.strip_prefix("id:") {
                    ev_id = v.trim().parse::<i64>().ok();
                }
            }
            if let Some(n) = ev_id {
                assert!(
                    n > last_id,
                    "events arrive in id order ({n} after {last_id})"
                );
                last_id = n;
            }
            if kind == "finding" {
                let v: Value = serde_json::from_str(&data).unwrap();
                if v["scan_id"] == id.as_str() {
                    findings.insert(v["data"]["fingerprint"].to_string());
                }
            }
        }
    }
    assert_eq!(findings.len() as u64, CHILDREN);
    drop(stream);
    drop(b);
    drop(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_unfinished_tasks_to_other_workers() {
    const CHILDREN: u64 = 6;
    let Some(stack) = Stack::new() else { return };
    let env = stack.env(&stack.pg_url, &stack.amqp_url);
    let api = stack.api("api", &env, 0);
    let base = api.base.clone().unwrap();
    // Worker A: 4 slots, 1 s of grace, debug logs from the engine to see its claims.
    let mut env_a = env.clone();
    env_a.push(("ARGUS_WORKER__SHUTDOWN_GRACE_SECS".into(), "1".into()));
    env_a.push(("RUST_LOG".into(), "warn,argus_engine::worker=debug".into()));
    let mut a = stack.worker("worker-a", &env_a, 4);
    let http = reqwest::Client::new();

    // Children sleep 4 s each: far longer than A's grace, so what A runs at SIGTERM cannot
    // finish in time.
    let id = start_fanout(&http, &base, CHILDREN, 4_000).await;
    // The root task (one claim), then the children (a later claim).
    wait_for(Duration::from_secs(60), "worker A running children", || {
        let claims = a
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("claimed tasks"))
            .count();
        let root_done = {
            let (http, base, id) = (http.clone(), base.clone(), id.clone());
            async move { status(&http, &base, &id).await }
        };
        async move {
            let s = root_done.await?;
            (claims >= 2 && s["progress"]["done"].as_u64()? >= 1).then_some(())
        }
    })
    .await;

    let pid = a.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let exited = wait_for(Duration::from_secs(30), "worker A to exit", || {
        let r = a.child.try_wait().unwrap();
        async move { r }
    })
    .await;
    assert!(exited.success(), "SIGTERM is a clean exit: {exited:?}");
    assert!(
        a.logged("shutdown grace elapsed"),
        "worker A had running tasks past its grace and released them"
    );
    let status_after_a = status(&http, &base, &id).await.unwrap();
    assert_ne!(status_after_a["state"], "completed", "{status_after_a}");

    // Nothing A left unfinished was acked: a fresh worker runs it and the scan completes exactly.
    let mut env_b = env.clone();
    env_b.push(("RUST_LOG".into(), "warn,argus_engine::worker=debug".into()));
    let b = stack.worker("worker-b", &env_b, 8);
    let final_status = wait_completed(&http, &base, &id).await;
    assert_exact(&final_status, CHILDREN);
    // A finished no child (each outlasts its grace) and settled every one it held before it
    // exited, so B receives each child exactly once: a release whose ack never reached the
    // broker would come back a second time.
    assert_eq!(claimed(&b), CHILDREN, "deliveries claimed by worker B");
    assert_eq!(
        all_fingerprints(&http, &base, &id).await.len() as u64,
        CHILDREN
    );
    drop(b);
    drop(a);
    drop(api);
}

/// Tasks a worker logged as claimed (`claimed tasks tasks=N` at debug level), summed.
fn claimed(p: &Proc) -> u64 {
    let log = p.log.lock().unwrap();
    log.iter()
        .map(|l| strip_ansi(l))
        .filter(|l| l.contains("claimed tasks"))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("tasks="))
                .and_then(|n| n.parse::<u64>().ok())
        })
        .sum()
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI sequence: ESC '[' … final byte in '@'..='~'.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn migrate_prepares_a_fresh_postgres_database_and_is_idempotent() {
    let Some(stack) = Stack::new() else { return };
    let env = stack.env(&stack.pg_url, &stack.amqp_url);
    let run = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_argus"));
        cmd.env("ARGUS_SCANNERS__NOOP__ENABLED", "true");
        cmd.arg("migrate").envs(env.iter().map(|(k, v)| (k, v)));
        cmd.output().unwrap()
    };
    let tables = || {
        let out = Command::new("psql")
            .arg(&stack.pg_url)
            .args([
                "-XtAc",
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_name IN ('scans', 'scan_tasks', 'findings', 'events')",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(tables(), "0", "a fresh database has no Argus tables");
    for round in 0..2 {
        let out = run();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "round {round}: {stderr}");
        assert!(stderr.contains("is up to date"), "round {round}: {stderr}");
        assert!(
            !stderr.contains("guest:guest"),
            "credentials leaked: {stderr}"
        );
    }
    assert_eq!(tables(), "4");
}

/// A scan's rate limit holds across worker processes: 32 `http` probes of a local server at
/// 8 requests per second, run by two `argus worker` processes, take at least 31 intervals at
/// the server, and both workers ran some (the schedule lives in PostgreSQL, not in either).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_holds_across_two_worker_processes() {
    const PROBES: usize = 32;
    const RATE: f64 = 8.0;
    let Some(stack) = Stack::new() else { return };
    let web = argus_recon::testkit::web::LocalServer::http(vec![(
        "/",
        argus_recon::testkit::web::Route::html("paced"),
    )])
    .await;
    let mut env = stack.env(&stack.pg_url, &stack.amqp_url);
    env.push(("ARGUS_NETWORK__ALLOW".into(), "[\"127.0.0.0/8\"]".into()));
    let api = stack.api("api", &env, 0);
    let base = api.base.clone().unwrap();
    // Claims are logged at debug: they tell which worker ran what.
    env.push(("RUST_LOG".into(), "warn,argus_engine::worker=debug".into()));
    let workers: Vec<Proc> = (0..2)
        .map(|i| stack.worker(&format!("worker{i}"), &env, 2))
        .collect();
    let http = reqwest::Client::new();
    let targets: Vec<Value> = (0..PROBES)
        .map(|i| json!({"kind": "url", "value": web.url(false, &format!("/p{i}"))}))
        .collect();
    let body = json!({
        "config": {
            "scanners": [{"name": "http"}],
            "targets": targets,
            "rate_limit": RATE
        },
        "start": true
    });
    let id = create_when_workers_run(&http, &base, &body).await;
    let done = wait_completed(&http, &base, &id).await;
    assert_eq!(done["progress"]["done"], PROBES as u64, "{done}");
    let mut at: Vec<Instant> = web
        .received()
        .into_iter()
        .filter(|r| r.path.starts_with("/p"))
        .map(|r| r.at)
        .collect();
    at.sort();
    assert_eq!(at.len(), PROBES, "one request per probe");
    let span = at[PROBES - 1] - at[0];
    let least = Duration::from_secs_f64((PROBES - 1) as f64 / RATE * 0.95);
    assert!(
        span >= least,
        "{PROBES} requests in {span:?}, the limit allows no less than {least:?}"
    );
    for w in &workers {
        assert!(claimed(w) > 0, "a worker ran none of the probes");
    }
    drop(workers);
    drop(api);
}

/// One sink configured on four processes (two API replicas, two workers): exactly one
/// forwards at a time (the sink's lease), so without failures every event arrives once; when
/// the forwarding process is SIGKILLed, another takes the lease over and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_forwards_each_sink_and_another_takes_over_after_a_kill() {
    use argus_sinks::testkit::hec::HecReceiver;
    use std::collections::HashSet;
    let Some(stack) = Stack::new() else { return };
    let hec = HecReceiver::start("dist-hec-token").await.unwrap();
    let mut env = stack.env(&stack.pg_url, &stack.amqp_url);
    env.extend(
        [
            ("DIST_HEC_TOKEN", "dist-hec-token".to_string()),
            ("ARGUS_SINKS__SPLUNK__TYPE", "splunk_hec".into()),
            ("ARGUS_SINKS__SPLUNK__URL", hec.url()),
            ("ARGUS_SINKS__SPLUNK__TOKEN_ENV", "DIST_HEC_TOKEN".into()),
            ("ARGUS_SINKS__SPLUNK__START", "beginning".into()),
            ("ARGUS_SINKS__SPLUNK__EVENTS", "[\"scan_result\"]".into()),
            ("ARGUS_SINKS__SPLUNK__BATCH_TIMEOUT_MS", "50".into()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    let mut procs: Vec<Option<Proc>> = vec![
        Some(stack.api("api0", &env, 0)),
        Some(stack.api("api1", &env, 0)),
        Some(stack.worker("worker0", &env, 4)),
        Some(stack.worker("worker1", &env, 4)),
    ];
    let http = reqwest::Client::new();
    let received = || -> Vec<String> {
        hec.events()
            .iter()
            .map(|e| e.event["fingerprint"].as_str().unwrap().to_owned())
            .collect()
    };
    let holder = |base: String| {
        let http = http.clone();
        async move {
            let sinks: Value = http
                .get(format!("{base}/sinks"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            sinks[0]["state"]["holder"].as_str().unwrap().to_owned()
        }
    };

    let base = procs[0].as_ref().unwrap().base.clone().unwrap();
    let first = start_fanout(&http, &base, 300, 0).await;
    wait_completed(&http, &base, &first).await;
    let want = all_fingerprints(&http, &base, &first).await;
    let got = wait_for(
        Duration::from_secs(60),
        "the first scan forwarded",
        || async {
            let got = received();
            (got.iter().collect::<HashSet<_>>().len() >= want.len()).then_some(got)
        },
    )
    .await;
    assert_eq!(
        got.len(),
        want.len(),
        "no event twice: one process forwards"
    );
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), want);

    // The holder is `<host>-<pid>` of one of the four processes: SIGKILL it.
    let was = holder(base.clone()).await;
    let pid: u32 = was.rsplit('-').next().unwrap().parse().unwrap();
    let i = procs
        .iter()
        .position(|p| p.as_ref().unwrap().child.id() == pid)
        .unwrap_or_else(|| panic!("holder {was} is none of the processes"));
    let mut p = procs[i].take().unwrap();
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    // Go on through an API replica that is still there.
    let base = procs[..2]
        .iter()
        .flatten()
        .next()
        .unwrap()
        .base
        .clone()
        .unwrap();
    let second = start_fanout(&http, &base, 200, 0).await;
    wait_completed(&http, &base, &second).await;
    let mut want_all = want.clone();
    want_all.extend(all_fingerprints(&http, &base, &second).await);
    let got = wait_for(
        Duration::from_secs(60),
        "the second scan forwarded",
        || async {
            let got = received();
            (got.iter().collect::<HashSet<_>>().len() >= want_all.len()).then_some(got)
        },
    )
    .await;
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), want_all);
    // Saved with the cursor just after the batch went through.
    wait_for(
        Duration::from_secs(20),
        "another process to hold the lease",
        || {
            let (base, was) = (base.clone(), was.clone());
            let holder = &holder;
            async move { (holder(base).await != was).then_some(()) }
        },
    )
    .await;
    drop(procs);
}
