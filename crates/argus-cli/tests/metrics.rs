//! Operations end to end on the real `argus serve`: `GET /metrics` after a finished scan, read
//! with an independent OpenMetrics parser (`nom-openmetrics`), and the JSON log lines of a scan,
//! which carry the scan and task ids of the task they were written in.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use argus_sinks::testkit::webhook::WebhookReceiver;
use serde_json::{json, Value};

/// One parsed sample: its name, its labels and its value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses an OpenMetrics exposition (it must end with `# EOF`) into its samples.
fn parse(text: &str) -> Vec<Sample> {
    let (rest, families) = nom_openmetrics::parser::openmetrics(text)
        .unwrap_or_else(|e| panic!("not OpenMetrics: {e:?}\n{text}"));
    assert!(rest.is_empty(), "left over after # EOF: {rest:?}");
    families
        .iter()
        .flat_map(|f| f.samples.iter())
        .map(|s| Sample {
            name: s.name().to_string(),
            labels: s
                .labels()
                .iter()
                .map(|l| (l.name.to_string(), l.value.to_string()))
                .collect(),
            value: s.number(),
        })
        .collect()
}

/// The value of the one sample named `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(
        found.len() <= 1,
        "{name} {labels:?} is ambiguous: {found:?}"
    );
    found.first().map(|s| s.value)
}

/// The sum over every sample named `name` whose labels include `labels`.
fn sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

async fn scrape(http: &reqwest::Client, origin: &str) -> Vec<Sample> {
    let res = http.get(format!("{origin}/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        ct.starts_with("application/openmetrics-text; version=1.0.0"),
        "{ct}"
    );
    parse(&res.text().await.unwrap())
}

/// A started fan-out scan of `children` noop tasks (plus its root); its id.
async fn fan_out(http: &reqwest::Client, base: &str, children: u64) -> String {
    common::create_scan(
        http,
        base,
        &json!({
            "config": {
                "scanners": [{"name": "noop", "params": {"fanout": children}}],
                "targets": [{"kind": "url", "value": "noop://root"}]
            },
            "start": true
        }),
    )
    .await
}

/// Waits for the scan to complete; its status.
async fn completed(http: &reqwest::Client, base: &str, id: &str) -> Value {
    common::wait_for(Duration::from_secs(120), "the scan to complete", || async {
        let s = common::status(http, base, id).await?;
        assert_ne!(s["state"], "failed", "{s}");
        (s["state"] == "completed").then_some(s)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_scan_its_requests_the_queue_and_a_sink() {
    let hook = WebhookReceiver::start(None).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_string_lossy().into_owned();
    let env: Vec<(String, String)> = [
        ("ARGUS_SINKS__HOOKS__TYPE", "webhook".to_string()),
        ("ARGUS_SINKS__HOOKS__URL", hook.url()),
        ("ARGUS_SINKS__HOOKS__START", "beginning".into()),
        ("ARGUS_SINKS__HOOKS__BATCH_TIMEOUT_MS", "20".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let server = common::spawn_argus(
        "serve",
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "4",
            "--data-dir",
            &data,
        ],
        &env,
        true,
    );
    let base = server.base.clone().unwrap();
    let origin = base.trim_end_matches("/api/v1").to_string();
    let http = reqwest::Client::new();

    // Before any scan: the queue is empty and nothing ran.
    let before = scrape(&http, &origin).await;
    for state in ["ready", "leased", "dead"] {
        assert_eq!(
            value(&before, "argus_queue_depth", &[("state", state)]),
            Some(0.0),
            "queue depth {state}"
        );
    }
    assert_eq!(
        value(&before, "argus_tasks_started_total", &[("scanner", "noop")]),
        None
    );

    let id = fan_out(&http, &base, 7).await;
    let done = completed(&http, &base, &id).await;
    let tasks = done["progress"]["enqueued"].as_f64().unwrap();
    assert_eq!(tasks, 8.0, "{done}");
    assert_eq!(done["progress"]["done"].as_f64().unwrap(), tasks, "{done}");

    // A request by id, and one no route matches: labelled by template and as unmatched.
    let r = http.get(format!("{base}/scans/{id}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{origin}/no/such/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // The scan's duration is observed once its end is committed (read back in the background),
    // and the sink catches up with everything the scan committed: poll until both show.
    let m = common::wait_for(
        Duration::from_secs(60),
        "the scan duration and the sink's catch-up",
        || async {
            let m = scrape(&http, &origin).await;
            let ended = value(
                &m,
                "argus_scan_duration_seconds_count",
                &[("state", "completed")],
            )?;
            let lag = value(
                &m,
                "argus_sink_lag_events",
                &[("sink", "hooks"), ("feed", "events")],
            )?;
            (ended >= 1.0 && lag == 0.0).then_some(m)
        },
    )
    .await;

    // Task runs: every task started once and finished done, each run timed.
    let started = value(&m, "argus_tasks_started_total", &[("scanner", "noop")]).unwrap();
    assert!(started >= tasks, "started {started} < {tasks}");
    let finished = sum(&m, "argus_tasks_finished_total", &[("scanner", "noop")]);
    assert_eq!(finished, started, "every started run ended");
    assert_eq!(
        value(
            &m,
            "argus_tasks_finished_total",
            &[("scanner", "noop"), ("outcome", "done")]
        ),
        Some(tasks)
    );
    assert_eq!(
        value(
            &m,
            "argus_task_duration_seconds_count",
            &[("scanner", "noop")]
        ),
        Some(started)
    );
    let inf = value(
        &m,
        "argus_task_duration_seconds_bucket",
        &[("scanner", "noop"), ("le", "+Inf")],
    );
    assert_eq!(inf, Some(started));
    assert!(
        value(
            &m,
            "argus_scan_duration_seconds_sum",
            &[("state", "completed")]
        )
        .unwrap()
            >= 0.0
    );

    // HTTP: by route template, never by raw path.
    assert!(
        value(
            &m,
            "argus_http_requests_total",
            &[
                ("method", "POST"),
                ("route", "/api/v1/scans"),
                ("status", "201")
            ]
        )
        .unwrap()
            >= 1.0
    );
    assert_eq!(
        value(
            &m,
            "argus_http_requests_total",
            &[
                ("method", "GET"),
                ("route", "/api/v1/scans/{id}"),
                ("status", "200")
            ]
        ),
        Some(1.0)
    );
    assert!(
        value(
            &m,
            "argus_http_requests_total",
            &[("method", "GET"), ("route", "unmatched"), ("status", "404")]
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        value(
            &m,
            "argus_http_request_duration_seconds_count",
            &[("method", "POST"), ("route", "/api/v1/scans")]
        )
        .unwrap()
            >= 1.0
    );
    for s in &m {
        for v in s.labels.values() {
            assert!(!v.contains(&id), "a raw path in {s:?}");
        }
    }

    // The queue is drained, every priority's tasks acknowledged.
    for state in ["ready", "leased", "dead"] {
        assert_eq!(
            value(&m, "argus_queue_depth", &[("state", state)]),
            Some(0.0),
            "queue depth {state}"
        );
    }

    // The sink: what the store says it sent is what the receiver got.
    let received = hook.events().len() as f64;
    assert!(received >= 1.0);
    assert_eq!(
        value(
            &m,
            "argus_sink_sent_total",
            &[("sink", "hooks"), ("feed", "events")]
        ),
        Some(received)
    );
    assert_eq!(
        value(
            &m,
            "argus_sink_dropped_total",
            &[("sink", "hooks"), ("feed", "events")]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &m,
            "argus_sink_failing",
            &[("sink", "hooks"), ("feed", "events")]
        ),
        Some(0.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::serve(dir.path(), 0, &[("ARGUS_METRICS__ENABLED", "false")]);
    let origin = server.base.trim_end_matches("/api/v1").to_string();
    let res = reqwest::get(format!("{origin}/metrics")).await.unwrap();
    assert_eq!(res.status(), 404);
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["code"], "not_found", "{p}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_name_the_scan_and_task_of_each_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_string_lossy().into_owned();
    let env: Vec<(String, String)> = [
        ("ARGUS_LOG__FORMAT", "json"),
        // The worker's per-task line and the HTTP layer's per-request lines are debug; a span's
        // fields reach a line only where the filter enables the span (`argus_api`: info).
        (
            "RUST_LOG",
            "warn,argus_api=info,argus_engine::worker=debug,tower_http=debug",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let server = common::spawn_argus(
        "serve",
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--data-dir",
            &data,
        ],
        &env,
        true,
    );
    let base = server.base.clone().unwrap();
    let http = reqwest::Client::new();
    let id = fan_out(&http, &base, 3).await;
    completed(&http, &base, &id).await;
    let tasks: Vec<Value> = {
        let r = http
            .get(format!("{base}/scans/{id}/status"))
            .header("x-request-id", "metrics-test-req-1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // Every task of the scan logged its end: wait until the four lines are read.
        common::wait_for(Duration::from_secs(30), "a task line per task", || async {
            let lines: Vec<Value> = json_lines(&server)
                .into_iter()
                .filter(|l| l["message"] == "task finished" && l["scan_id"] == id.as_str())
                .collect();
            (lines.len() >= 4).then_some(lines)
        })
        .await
    };
    let mut task_ids: Vec<&str> = tasks
        .iter()
        .map(|l| {
            assert_eq!(l["scanner"], "noop", "{l}");
            assert_eq!(l["outcome"], "done", "{l}");
            assert_eq!(l["level"], "DEBUG", "{l}");
            assert!(l["duration_s"].as_f64().is_some(), "{l}");
            assert!(l["timestamp"].as_str().is_some(), "{l}");
            let task = l["task_id"].as_str().unwrap();
            uuid::Uuid::parse_str(task).unwrap_or_else(|e| panic!("{e}: {l}"));
            task
        })
        .collect();
    task_ids.sort_unstable();
    task_ids.dedup();
    assert_eq!(task_ids.len(), 4, "one line per task: {tasks:?}");

    // The request's lines carry its id (the client's `X-Request-Id`), its method and path.
    let req = common::wait_for(
        Duration::from_secs(30),
        "the request's log line",
        || async {
            json_lines(&server)
                .into_iter()
                .find(|l| l["request_id"] == "metrics-test-req-1")
        },
    )
    .await;
    assert_eq!(req["method"], "GET", "{req}");
    assert_eq!(req["path"], format!("/api/v1/scans/{id}/status"), "{req}");
    assert!(req.get("task_id").is_none(), "{req}");
}

/// Every JSON line the process wrote so far (the plain "listening" line is not one); a line
/// that looks like JSON must parse.
fn json_lines(p: &common::Proc) -> Vec<Value> {
    p.log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}
