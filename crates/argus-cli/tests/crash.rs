//! Crash test: a real `argus serve` is killed with SIGKILL mid-scan and restarted on the same
//! data dir; the scan completes with every task counted exactly once and no duplicate findings.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Duration;

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
    let resp = http
        .post(format!("{}/scans", server.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let scan: serde_json::Value = resp.json().await.unwrap();
    let id = scan["id"].as_str().unwrap().to_string();

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
