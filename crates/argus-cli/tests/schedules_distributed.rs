//! Schedules fire exactly once per slot across replicas and a kill -9 (issue #18), against the
//! real local PostgreSQL and RabbitMQ: two `argus serve` processes share one database; a
//! schedule fires every second; the process holding the scheduler lease is SIGKILLed and the
//! other takes over. Every slot that fired has exactly one scan, and slots keep firing after
//! the take-over.
//!
//! Needs `ARGUS_TEST_POSTGRES_URL` and `ARGUS_TEST_AMQP_URL` (skips without them, fails
//! without them under `CI=true`).
#![cfg(all(feature = "postgres", feature = "amqp"))]
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use common::stack::Stack;
use common::wait_for;

const PATIENCE: Duration = Duration::from_secs(120);

/// The scans the schedule started, by name (`<schedule> @ <slot>`), each name once per scan.
async fn scans_by_slot(
    http: &reqwest::Client,
    base: &str,
    schedule: &str,
) -> BTreeMap<String, usize> {
    let mut by_slot = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = http
            .get(format!("{base}/scans"))
            .query(&[("limit", "1000")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c)]);
        }
        let page: Value = req.send().await.unwrap().json().await.unwrap();
        for scan in page["items"].as_array().unwrap() {
            if scan["config"]["labels"]["argus.schedule"] == schedule {
                *by_slot
                    .entry(scan["name"].as_str().unwrap().to_owned())
                    .or_insert(0) += 1;
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return by_slot,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_scan_per_slot_across_two_servers_and_a_kill() {
    let Some(stack) = Stack::new() else {
        return;
    };
    let env = stack.env(&stack.pg_url, &stack.amqp_url);
    let http = reqwest::Client::new();
    // The first server alone: it takes the scheduler lease.
    let mut first = stack.api("api-1", &env, 2);
    let base1 = first.base.clone().unwrap();
    let schedule_body = json!({
        "name": "every second",
        "cron": "* * * * * *",
        "concurrency": "allow",
        "config": {
            "scanners": [{"name": "noop"}],
            "targets": [{"kind": "url", "value": "noop://scheduled"}]
        }
    });
    // Until the worker of the process has advertised `noop`, the config is refused (422).
    let schedule: Value = wait_for(PATIENCE, "the schedule to be accepted", || async {
        let res = http
            .post(format!("{base1}/schedules"))
            .json(&schedule_body)
            .send()
            .await
            .unwrap();
        (res.status() == 201).then_some(res.json::<Value>().await.unwrap())
    })
    .await;
    let id = schedule["id"].as_str().unwrap().to_owned();
    wait_for(PATIENCE, "the first server to fire three slots", || async {
        (scans_by_slot(&http, &base1, &id).await.len() >= 3).then_some(())
    })
    .await;

    // A second server on the same database; then the leader dies without resigning.
    let second = stack.api("api-2", &env, 2);
    let base2 = second.base.clone().unwrap();
    let before = scans_by_slot(&http, &base2, &id).await.len();
    wait_for(PATIENCE, "two more slots with both servers up", || async {
        (scans_by_slot(&http, &base2, &id).await.len() >= before + 2).then_some(())
    })
    .await;
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    let at_kill = scans_by_slot(&http, &base2, &id).await.len();
    // The lease expires and the second server fires the next slots.
    wait_for(PATIENCE, "slots fired by the second server", || async {
        (scans_by_slot(&http, &base2, &id).await.len() >= at_kill + 3).then_some(())
    })
    .await;
    let res = http
        .put(format!("{base2}/schedules/{id}"))
        .json(
            &json!({"name": "every second", "cron": "* * * * * *", "enabled": false,
                      "config": schedule_body["config"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let by_slot = scans_by_slot(&http, &base2, &id).await;
    let doubled: Vec<_> = by_slot.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "slots with more than one scan: {doubled:?}"
    );
    assert!(by_slot.len() >= at_kill + 3, "{by_slot:?}");
    let last = http
        .get(format!("{base2}/schedules/{id}"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        last["last_outcome"],
        json!({"outcome": "started"}),
        "{last}"
    );
    drop(second);
}
