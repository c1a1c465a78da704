//! The Discovery-API-compatible runs (`/runs`, `/runs/ws`, issue #14) over real HTTP and a real
//! WebSocket, against the server of `common` (SQLite, embedded queue, the engine's workers) with
//! the `noop` scanner and the fixture tool `emit` (a real process):
//! - a run is created with the Discovery field names of both generations (`task`/`params`,
//!   `id`/`parameters`, a target given as a `domain` parameter), runs, and is read back in the
//!   Discovery shape (`status` `PENDING` → `RUNNING` → `SUCCESS` or `FAILED`, `errors`,
//!   `completed_at`/`failed_at`), with its findings as results;
//! - the list pages (`page`, `size`, `total`, `pages`) and filters (query and `POST /filters`);
//! - the socket pushes `RUN_CREATED` and `RUN_STATUS_CHANGED` for runs created over HTTP or by
//!   its own `RUN_TASK`, and answers `QUERY` with a run and its sub-runs;
//! - another org's run is a 404, absent from the list, an empty `QUERY`, and never on its socket;
//! - bad input is a 422 naming the field (never a 500);
//! - every route is in the OpenAPI document with its 4xx answers.

// Test helpers outside `#[test]` functions fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use argus_api::AuthConfig;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const LONG: Duration = Duration::from_secs(120);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn trusted() -> AuthConfig {
    AuthConfig::TrustedHeaders {
        default_role: argus_core::ids::Role::Admin,
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
    }
}

/// One request as `org` (trusted headers) when given; status and JSON body (error bodies are
/// checked to be problems, and never 500).
async fn call(
    s: &common::Server,
    org: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = s.http.request(method.parse().unwrap(), s.url(path));
    if let Some(org) = org {
        req = req.header("x-org-id", org).header("x-user-id", "user123");
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let (status, body) = common::read(req.send().await.unwrap()).await;
    assert!(status < 500, "{method} {path}: {status} {body}");
    (status, body)
}

async fn get(s: &common::Server, path: &str) -> (u16, Value) {
    call(s, None, "GET", path, None).await
}

async fn post(s: &common::Server, path: &str, body: Value) -> (u16, Value) {
    call(s, None, "POST", path, Some(body)).await
}

/// Creates a run (201 expected); returns it.
async fn create(s: &common::Server, org: Option<&str>, body: Value) -> Value {
    let (status, run) = call(s, org, "POST", "/runs", Some(body)).await;
    assert_eq!(status, 201, "{run}");
    run
}

/// Polls `GET /runs/{id}` until its status is `SUCCESS` or `FAILED`; returns it.
async fn wait_run(s: &common::Server, org: Option<&str>, id: &str) -> Value {
    let deadline = Instant::now() + LONG;
    loop {
        let (status, run) = call(s, org, "GET", &format!("/runs/{id}"), None).await;
        assert_eq!(status, 200, "{run}");
        if run["status"] == "SUCCESS" || run["status"] == "FAILED" {
            return run;
        }
        assert!(Instant::now() < deadline, "run never finished: {run}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens `/runs/ws` as `org` when given.
async fn socket(s: &common::Server, org: Option<&str>) -> Socket {
    let mut req = format!("ws://{}/runs/ws", s.addr)
        .into_client_request()
        .unwrap();
    if let Some(org) = org {
        req.headers_mut().insert("x-org-id", org.parse().unwrap());
        req.headers_mut()
            .insert("x-user-id", "user123".parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// The next JSON text message.
async fn next(ws: &mut Socket) -> Value {
    loop {
        match tokio::time::timeout(LONG, ws.next())
            .await
            .expect("no message in time")
            .expect("socket closed")
            .unwrap()
        {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            _ => continue,
        }
    }
}

/// Sends a client action and returns its answer (`success` …), keeping the pushed events that
/// arrived meanwhile in `pushed`.
async fn act(ws: &mut Socket, msg: Value, pushed: &mut Vec<Value>) -> Value {
    ws.send(Message::Text(msg.to_string().into()))
        .await
        .unwrap();
    loop {
        let m = next(ws).await;
        if m.get("success").is_some() {
            return m;
        }
        pushed.push(m);
    }
}

/// Reads pushed events (after those in `pushed`) until the run `id` reports a final status;
/// returns every event of that run, in order.
async fn events_until_done(ws: &mut Socket, id: &str, pushed: &mut Vec<Value>) -> Vec<Value> {
    let done = |e: &Value| {
        e["event"] == "RUN_STATUS_CHANGED"
            && e["data"]["id"] == id
            && (e["data"]["status"][1] == "SUCCESS" || e["data"]["status"][1] == "FAILED")
    };
    while !pushed.iter().any(done) {
        pushed.push(next(ws).await);
    }
    pushed
        .iter()
        .filter(|e| e["data"]["id"] == id)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_created_run_and_read_in_the_discovery_shape() {
    let s = common::start().await;

    // The first Discovery generation: `task` and `params`, with an Argus target.
    let run = create(
        &s,
        None,
        json!({"task": "noop", "params": {"findings": 2}, "target": "noop://t/0"}),
    )
    .await;
    let id = run["id"].as_str().unwrap().to_owned();
    assert_eq!(run["name"], "noop");
    assert!(
        run["status"] == "PENDING" || run["status"] == "RUNNING",
        "{run}"
    );
    assert_eq!(run["parameters"], json!({"findings": 2}));
    assert_eq!(run["owner_id"], "alice");
    assert_eq!(run["parent_id"], Value::Null);
    assert_eq!(run["files"], json!([]));
    assert_eq!(run["errors"], json!([]));
    assert!(run["created_at"].is_string() && run["updated_at"].is_string());
    assert_eq!(
        run["targets"],
        json!([{"kind": "url", "value": "noop://t/0"}])
    );
    assert_eq!(run["scanner"], "noop");

    let done = wait_run(&s, None, &id).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert!(done["started_at"].is_string() && done["completed_at"].is_string());
    assert_eq!(done["failed_at"], Value::Null);
    assert_eq!(done["progress"], 100);
    assert_eq!(done["result"]["result_count"], 2);
    assert_eq!(done["result"]["results_url"], format!("/runs/{id}/results"));
    let (status, results) = get(&s, &format!("/runs/{id}/results")).await;
    assert_eq!(status, 200, "{results}");
    assert_eq!(results["items"].as_array().unwrap().len(), 2, "{results}");
    assert_eq!(results["items"][0]["scan_id"], id.as_str());
    // The same record is the Argus scan.
    let (_, scan) = get(&s, &format!("/api/v1/scans/{id}")).await;
    assert_eq!(scan["state"], "completed");

    // The later generation: `id` (the task) and `parameters`, the target as the task's `domain`
    // parameter, an `owner_id`; `emit` is the external tool `tool:emit` (a real process).
    let run = create(
        &s,
        None,
        json!({"id": "emit", "parameters": {"domain": "example.com"}, "owner_id": "user-7"}),
    )
    .await;
    assert_eq!(run["scanner"], "tool:emit");
    assert_eq!(run["name"], "emit");
    assert_eq!(run["owner_id"], "user-7");
    assert_eq!(
        run["targets"],
        json!([{"kind": "domain", "value": "example.com"}])
    );
    // The target parameter became the target: the tool's params do not carry it.
    assert_eq!(run["parameters"], json!({}));
    let done = wait_run(&s, None, run["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert_eq!(done["result"]["result_count"], 2);

    // A run that fails says why.
    let run = create(
        &s,
        None,
        json!({"tool": "noop", "params": {"fail": true}, "targets": ["noop://t/1"]}),
    )
    .await;
    let done = wait_run(&s, None, run["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "FAILED", "{done}");
    assert!(done["failed_at"].is_string(), "{done}");
    assert_eq!(done["completed_at"], Value::Null);
    assert_eq!(done["errors"][0]["reason"], "failed", "{done}");
    assert!(done["errors"][0]["message"].is_string(), "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_pages_and_filters() {
    let s = common::start().await;
    let mut ids = Vec::new();
    for body in [
        json!({"task": "noop", "target": "noop://a", "owner_id": "u1"}),
        json!({"task": "noop", "params": {"fail": true}, "target": "noop://b"}),
        json!({"task": "emit", "params": {"domain": "example.org"}, "owner_id": "u1"}),
    ] {
        let run = create(&s, None, body).await;
        let id = run["id"].as_str().unwrap().to_owned();
        wait_run(&s, None, &id).await;
        ids.push(id);
    }
    // A scan of two scanners is not a run: not listed, and not readable as one.
    let two = s
        .create_scan(
            json!({
                "scanners": [{"name": "noop"}, {"name": "tool:emit"}],
                "targets": [{"kind": "domain", "value": "example.net"}],
            }),
            false,
        )
        .await;
    let (status, _) = get(&s, &format!("/runs/{}", two["id"].as_str().unwrap())).await;
    assert_eq!(status, 404);

    let ids_of = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    let (status, page) = get(&s, "/runs").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (&page["total"], &page["page"], &page["size"], &page["pages"]),
        (&json!(3), &json!(1), &json!(50), &json!(1))
    );
    assert_eq!(ids_of(&page), newest_first);

    let (_, p1) = get(&s, "/runs?size=2&page=1").await;
    let (_, p2) = get(&s, "/runs?size=2&page=2").await;
    let (_, p3) = get(&s, "/runs?size=2&page=3").await;
    assert_eq!(
        (p1["total"].as_u64(), p1["pages"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(ids_of(&p1), newest_first[..2].to_vec());
    assert_eq!(ids_of(&p2), newest_first[2..].to_vec());
    assert!(ids_of(&p3).is_empty());

    for (query, want) in [
        ("status=FAILED", vec![ids[1].clone()]),
        ("status=success", vec![ids[2].clone(), ids[0].clone()]),
        ("name=noop", vec![ids[1].clone(), ids[0].clone()]),
        ("tool=emit", vec![ids[2].clone()]),
        ("owner_id=u1", vec![ids[2].clone(), ids[0].clone()]),
        ("name=noop&status=SUCCESS", vec![ids[0].clone()]),
        ("name=noop&tool=emit", vec![]),
    ] {
        let (status, page) = get(&s, &format!("/runs?{query}")).await;
        assert_eq!(status, 200, "{query}: {page}");
        assert_eq!(ids_of(&page), want, "{query}");
        assert_eq!(
            page["total"].as_u64().unwrap(),
            want.len() as u64,
            "{query}"
        );
    }
    let (status, page) = post(
        &s,
        "/runs/filters",
        json!({"status": "SUCCESS", "name": "noop"}),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids_of(&page), vec![ids[0].clone()]);
    let (_, page) = post(&s, "/runs/filters?size=1&page=2", json!({})).await;
    assert_eq!(ids_of(&page), vec![newest_first[1].clone()]);
    assert_eq!(page["pages"], 3);

    for (path, field) in [
        ("/runs?status=DONE", "/status"),
        ("/runs?size=0", "/size"),
        ("/runs?size=101", "/size"),
        ("/runs?page=0", "/page"),
        ("/runs?page=x", "/page"),
    ] {
        let (status, p) = get(&s, path).await;
        assert_eq!(
            (status, p["path"].as_str()),
            (422, Some(field)),
            "{path}: {p}"
        );
    }
    let (status, p) = post(&s, "/runs/filters", json!({"bogus": 1})).await;
    assert_eq!(status, 422, "{p}");
    let (status, p) = post(&s, "/runs/filters", json!({"status": "DONE"})).await;
    assert_eq!((status, p["path"].as_str()), (422, Some("/status")), "{p}");
    let (status, p) = post(&s, "/runs/filters", json!({"parent_id": "x"})).await;
    assert_eq!(
        (status, p["path"].as_str()),
        (422, Some("/parent_id")),
        "{p}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_pushes_status_changes_and_answers_actions() {
    let s = common::start().await;
    let mut ws = socket(&s, None).await;

    // A run created over HTTP after the socket opened: every change of it is pushed.
    let run = create(
        &s,
        None,
        json!({"task": "noop", "params": {"findings": 1}, "target": "noop://ws/0"}),
    )
    .await;
    let id = run["id"].as_str().unwrap().to_owned();
    let mut pushed = Vec::new();
    let events = events_until_done(&mut ws, &id, &mut pushed).await;
    assert_eq!(events[0]["event"], "RUN_CREATED", "{events:#?}");
    assert_eq!(events[0]["data"]["name"], "noop");
    assert_eq!(events[0]["data"]["params"], json!({"findings": 1}));
    let changes: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "RUN_STATUS_CHANGED")
        .map(|e| &e["data"]["status"])
        .collect();
    assert_eq!(
        changes,
        vec![
            &json!(["PENDING", "RUNNING"]),
            &json!(["RUNNING", "SUCCESS"])
        ],
        "{events:#?}"
    );
    let last = events.last().unwrap();
    assert!(last["data"]["completed_at"].is_string(), "{last}");
    assert_eq!(last["data"]["progress"], 100);
    for e in events.iter().filter(|e| e["event"] == "RUN_PROGRESS") {
        let status = e["data"]["status"].as_str().unwrap();
        assert!(["PENDING", "RUNNING", "SUCCESS"].contains(&status), "{e}");
        assert!(e["data"]["progress"].as_u64().unwrap() <= 100, "{e}");
    }

    // RUN_TASK creates a sub-run of it, which is pushed too.
    let answer = act(
        &mut ws,
        json!({"action": "RUN_TASK", "data": {
            "task": "noop", "params": {}, "target": "noop://ws/1",
            "owner_id": "user-9", "parent_id": id,
        }}),
        &mut pushed,
    )
    .await;
    assert_eq!(answer["success"], true, "{answer}");
    let child = answer["data"]["id"].as_str().unwrap().to_owned();
    let events = events_until_done(&mut ws, &child, &mut pushed).await;
    assert_eq!(events[0]["event"], "RUN_CREATED", "{events:#?}");
    assert_eq!(events[0]["data"]["owner_id"], "user-9");
    assert_eq!(events[0]["data"]["parent_id"], id.as_str());
    let (_, child_run) = get(&s, &format!("/runs/{child}")).await;
    assert_eq!(child_run["parent_id"], id.as_str());

    // QUERY: the run and its sub-runs; nothing for another owner or an unknown id.
    let answer = act(
        &mut ws,
        json!({"action": "QUERY", "data": {"id": id}}),
        &mut pushed,
    )
    .await;
    assert_eq!(answer["success"], true, "{answer}");
    let got: Vec<&str> = answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![id.as_str(), child.as_str()]);
    assert_eq!(answer["data"][0]["status"], "SUCCESS");
    for data in [
        json!({"id": id, "owner_id": "someone-else"}),
        json!({"id": uuid::Uuid::now_v7().to_string()}),
        json!({"id": "not-a-uuid"}),
    ] {
        let answer = act(
            &mut ws,
            json!({"action": "QUERY", "data": data}),
            &mut pushed,
        )
        .await;
        assert_eq!(answer, json!({"success": true, "data": []}), "{data}");
    }

    // Bad actions are answered, and the socket stays usable.
    for (msg, path) in [
        (json!({"action": "DANCE", "data": {}}), "/action"),
        (
            json!({"action": "RUN_TASK", "data": {"task": "ghost", "target": "example.com"}}),
            "/data/task",
        ),
        (
            json!({"action": "RUN_TASK", "data": {"task": "noop"}}),
            "/data/targets",
        ),
        (json!({"action": "QUERY", "data": {}}), "/data"),
        (json!({"nope": 1}), ""),
    ] {
        let answer = act(&mut ws, msg.clone(), &mut pushed).await;
        assert_eq!(answer["success"], false, "{msg}: {answer}");
        assert!(answer["message"].is_string(), "{answer}");
        assert_eq!(answer["error"]["code"], "invalid", "{msg}: {answer}");
        let got = answer["error"]["path"].as_str().unwrap_or("");
        assert!(got.starts_with(path), "{msg}: {answer}");
    }
    let answer = act(
        &mut ws,
        json!({"action": "QUERY", "data": {"id": child}}),
        &mut pushed,
    )
    .await;
    assert_eq!(answer["data"][0]["id"], child.as_str());

    // Without an upgrade the route is a 400 problem.
    let (status, p) = get(&s, "/runs/ws").await;
    assert_eq!(status, 400, "{p}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_orgs_runs_are_not_there() {
    let s = common::start_with(common::Options {
        auth: trusted(),
        ..common::Options::default()
    })
    .await;
    let mut other_ws = socket(&s, Some("other")).await;

    let run = create(
        &s,
        Some("acme"),
        json!({"task": "noop", "target": "noop://acme", "params": {"findings": 1}}),
    )
    .await;
    let id = run["id"].as_str().unwrap().to_owned();
    wait_run(&s, Some("acme"), &id).await;

    for path in [format!("/runs/{id}"), format!("/runs/{id}/results")] {
        let (status, p) = call(&s, Some("other"), "GET", &path, None).await;
        assert_eq!(status, 404, "{path}: {p}");
    }
    let (_, page) = call(&s, Some("other"), "GET", "/runs", None).await;
    assert_eq!(
        (
            page["total"].as_u64(),
            page["items"].as_array().unwrap().len()
        ),
        (Some(0), 0)
    );
    let (_, page) = call(&s, Some("other"), "POST", "/runs/filters", Some(json!({}))).await;
    assert_eq!(page["total"], 0);
    let (_, page) = call(&s, Some("acme"), "GET", "/runs", None).await;
    assert_eq!(page["total"], 1);
    // Another org's run cannot be a parent.
    let (status, p) = call(
        &s,
        Some("other"),
        "POST",
        "/runs",
        Some(json!({"task": "noop", "target": "noop://x", "parent_id": id})),
    )
    .await;
    assert_eq!(
        (status, p["path"].as_str()),
        (422, Some("/parent_id")),
        "{p}"
    );
    // Without headers: 401.
    let (status, _) = get(&s, "/runs").await;
    assert_eq!(status, 401);

    // The other org's socket: QUERY finds nothing, and the first run it hears of is its own
    // (acme's events were committed before, so they would have come first).
    let mut pushed = Vec::new();
    let answer = act(
        &mut other_ws,
        json!({"action": "QUERY", "data": {"id": id}}),
        &mut pushed,
    )
    .await;
    assert_eq!(answer, json!({"success": true, "data": []}));
    let own = create(
        &s,
        Some("other"),
        json!({"task": "noop", "target": "noop://other"}),
    )
    .await;
    let own_id = own["id"].as_str().unwrap();
    events_until_done(&mut other_ws, own_id, &mut pushed).await;
    assert!(
        pushed.iter().all(|e| e["data"]["id"] == own_id),
        "{pushed:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_422_naming_the_field() {
    let s = common::start().await;
    for (body, path) in [
        (json!({"task": "ghost", "target": "example.com"}), "/task"),
        (json!({"tool": "ghost", "target": "example.com"}), "/tool"),
        (
            json!({"task": "tool:ghost", "target": "example.com"}),
            "/task",
        ),
        (json!({"target": "example.com"}), "/task"),
        (json!({"task": " ", "target": "example.com"}), "/task"),
        (
            json!({"task": "noop", "tool": "noop", "target": "noop://x"}),
            "/tool",
        ),
        // `emit` takes domains only.
        (
            json!({"task": "emit", "target": "https://example.com/x"}),
            "/target",
        ),
        (
            json!({"task": "emit", "targets": ["example.com", "https://x.example/"]}),
            "/targets/1",
        ),
        (
            json!({"task": "emit", "params": {"domain": "https://example.com/"}}),
            "/params/domain",
        ),
        (
            json!({"task": "emit", "parameters": {"domains": ["a.example", 7]}}),
            "/parameters/domains/1",
        ),
        (
            json!({"task": "noop", "targets": [{"kind": "ip", "value": "nope"}]}),
            "/targets/0",
        ),
        (json!({"task": "noop"}), "/targets"),
        (json!({"task": "noop", "params": {}}), "/targets"),
        (
            json!({"task": "noop", "target": "noop://x", "params": {"bogus": 1}}),
            "/params",
        ),
        (
            json!({"task": "noop", "target": "noop://x", "parameters": {"findings": -1}}),
            "/parameters",
        ),
        (
            json!({"task": "noop", "target": "noop://x", "params": {}, "parameters": {}}),
            "/params",
        ),
        (
            json!({"task": "noop", "target": "noop://x", "parent_id": "x"}),
            "/parent_id",
        ),
        (
            json!({"task": "noop", "target": "noop://x", "parent_id": uuid::Uuid::now_v7().to_string()}),
            "/parent_id",
        ),
        (
            json!({"task": "noop", "target": "noop://x", "owner_id": ""}),
            "/owner_id",
        ),
        (
            json!({"task": "noop", "target": "noop://x", "bogus": 1}),
            "/bogus",
        ),
        (json!({"task": "noop", "target": 7}), "/target"),
        (json!([]), "/"),
    ] {
        let (status, p) = post(&s, "/runs", body.clone()).await;
        assert_eq!(status, 422, "{body}: {p}");
        let got = p["path"].as_str().unwrap_or("");
        assert!(got.starts_with(path), "{body}: want {path}, got {p}");
    }
    // The unknown task is named.
    let (_, p) = post(
        &s,
        "/runs",
        json!({"task": "ghost", "target": "example.com"}),
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("ghost"), "{p}");
    // Not JSON, not a JSON content type.
    let res = s
        .http
        .post(s.url("/runs"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(common::read(res).await.0, 400);
    let res = s.http.post(s.url("/runs")).body("x").send().await.unwrap();
    assert_eq!(common::read(res).await.0, 415);
    // Path ids that name nothing.
    for path in [
        "/runs/not-a-uuid".to_owned(),
        format!("/runs/{}", uuid::Uuid::now_v7()),
        format!("/runs/{}/results", uuid::Uuid::now_v7()),
    ] {
        let (status, p) = get(&s, &path).await;
        assert_eq!(status, 404, "{path}: {p}");
    }
    // Nothing was created by any of that.
    let (_, page) = get(&s, "/runs").await;
    assert_eq!(page["total"], 0, "{page}");
}

#[tokio::test]
async fn every_runs_route_is_documented_with_its_problems() {
    let doc = serde_json::to_value(argus_api::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let want: [(&str, &str, &[&str]); 6] = [
        ("/runs", "get", &["422"]),
        ("/runs", "post", &["400", "415", "422", "503"]),
        ("/runs/filters", "post", &["400", "415", "422"]),
        ("/runs/ws", "get", &["400"]),
        ("/runs/{run_id}", "get", &["404"]),
        ("/runs/{run_id}/results", "get", &["404", "422"]),
    ];
    for (path, method, codes) in want {
        let op = &paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not documented"))[method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert_eq!(op["tags"][0], "discovery", "{method} {path}");
        for code in codes {
            assert!(
                op["responses"][code].is_object(),
                "{method} {path} does not declare {code}"
            );
        }
    }
    let runs: Vec<&String> = paths.keys().filter(|p| p.starts_with("/runs")).collect();
    assert_eq!(runs.len(), 5, "{runs:?}");
    // The run's Discovery fields are in its schema.
    let run = &doc["components"]["schemas"]["Run"]["properties"];
    for field in [
        "id",
        "name",
        "parent_id",
        "owner_id",
        "parameters",
        "status",
        "result",
        "files",
        "errors",
        "started_at",
        "failed_at",
        "completed_at",
        "created_at",
        "updated_at",
    ] {
        assert!(run[field].is_object(), "Run has no {field}: {run}");
    }
}
