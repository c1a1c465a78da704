//! Crash tests: a real `argus serve` is killed with SIGKILL mid-scan and restarted on the same
//! data dir; the scan completes with every task counted exactly once and no duplicate findings,
//! and the tasks the dead process held run again at once, without waiting for their leases.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{all_fingerprints, serve, status, wait_for};

const CHILDREN: u64 = 3000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_scan_loses_nothing_and_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    // Short leases so tasks held by the killed process come back quickly.
    let env = [("ARGUS_WORKER__LEASE_SECS", "2")];
    let mut server = serve(dir.path(), 8, &env);

    let body = serde_json::json!({
        "name": "crash test",
        "config": {
            "scanners": [{"name": "noop", "params": {
                "fanout": CHILDREN,
                "child": {"sleep_ms": 2, "findings": 1}
            }}],
            "targets": [{"kind": "url", "value": "noop://root"}]
        },
        "start": true
    });
    let id = common::create_scan(&http, &server.base, &body).await;

    // Kill it once a good part — but not all — of the work is done.
    let base = server.base.clone();
    let done_at_kill = wait_for(Duration::from_secs(60), "progress before the kill", || {
        let (http, base, id) = (http.clone(), base.clone(), id.clone());
        async move {
            let s = status(&http, &base, &id).await?;
            let done = s["progress"]["done"].as_u64()?;
            (done > CHILDREN / 5).then_some(done)
        }
    })
    .await;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    assert!(
        done_at_kill < CHILDREN + 1,
        "scan finished before the kill; make it longer"
    );

    let server = serve(dir.path(), 8, &env);
    let final_status = wait_for(Duration::from_secs(120), "completion after restart", || {
        let (http, base, id) = (http.clone(), server.base.clone(), id.clone());
        async move {
            let s = status(&http, &base, &id).await?;
            (s["state"] == "completed").then_some(s)
        }
    })
    .await;
    let p = &final_status["progress"];
    assert_eq!(p["enqueued"], CHILDREN + 1, "{final_status}");
    assert_eq!(p["done"], CHILDREN + 1, "{final_status}");
    assert_eq!(p["failed"], 0, "{final_status}");
    assert_eq!(p["findings"], CHILDREN, "{final_status}");

    // Every finding page: exactly one per child task, no duplicates.
    let seen = all_fingerprints(&http, &server.base, &id).await;
    assert_eq!(seen.len() as u64, CHILDREN);
}

/// Rows of the embedded queue leased right now, read beside the server with a plain read-only
/// connection (it takes no part in the server's owner lock).
// A test helper: a failed read is a failed test.
#[allow(clippy::unwrap_used)]
async fn leased_rows(db: &Path) -> i64 {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM queue_tasks WHERE state = 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_runs_the_dead_process_tasks_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("argus.db");
    let http = reqwest::Client::new();
    // Leases of an hour: only releasing them at start-up can finish the scan within the test.
    let env = [("ARGUS_WORKER__LEASE_SECS", "3600")];
    let mut server = serve(dir.path(), 4, &env);

    let body = serde_json::json!({
        "name": "crash with long leases",
        "config": {
            "scanners": [{"name": "noop", "params": {
                "fanout": 8,
                "child": {"sleep_ms": 3000}
            }}],
            "targets": [{"kind": "url", "value": "noop://root"}]
        },
        "start": true
    });
    let id = common::create_scan(&http, &server.base, &body).await;

    // Kill it while every slot holds a leased child (each runs for 3 s).
    wait_for(Duration::from_secs(60), "4 leased tasks", || {
        let db = db.clone();
        async move { (leased_rows(&db).await >= 4).then_some(()) }
    })
    .await;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    let held = leased_rows(&db).await;
    assert!(
        held >= 4,
        "only {held} task(s) leased when the process died"
    );

    let restarted = Instant::now();
    let server = serve(dir.path(), 4, &env);
    let final_status = wait_for(Duration::from_secs(60), "completion after restart", || {
        let (http, base, id) = (http.clone(), server.base.clone(), id.clone());
        async move {
            let s = status(&http, &base, &id).await?;
            (s["state"] == "completed").then_some(s)
        }
    })
    .await;
    let p = &final_status["progress"];
    assert_eq!(p["enqueued"], 9, "{final_status}");
    assert_eq!(p["done"], 9, "{final_status}");
    assert_eq!(p["failed"], 0, "{final_status}");
    eprintln!(
        "{held} leased task(s) of the killed process; completed {:.1} s after the restart",
        restarted.elapsed().as_secs_f64()
    );
}
