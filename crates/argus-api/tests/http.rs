//! The API over real HTTP against a server on 127.0.0.1:0 with the embedded backends and real
//! workers: lifecycle with live events, pause/resume, stop of a hanging tool, error answers,
//! templates, artifacts, resume with `Last-Event-ID`, WebSocket, health and the OpenAPI document.

// Test helpers outside `#[test]` functions fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use argus_api::AuthConfig;
use common::{noop_config, noop_targets, start, start_with, state_to, Options, Sse};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(30);

fn ids_strictly_increasing(events: &[Sse]) {
    for w in events.windows(2) {
        assert!(
            w[0].id < w[1].id,
            "ids not increasing: {} then {}",
            w[0].id,
            w[1].id
        );
    }
}

// ---------------------------------------------------------------- lifecycle and live events

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_lifecycle_with_sse_events_in_order() {
    let s = start().await;
    let targets = noop_targets(3);
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let scan = s
        .create_scan(noop_config(json!({"findings": 2}), &targets), false)
        .await;
    let id = scan["id"].as_str().unwrap().to_owned();
    assert_eq!(scan["state"], "created");

    // Subscribe before starting; the stream ends after the terminal state event.
    let mut sse = s
        .sse(
            &format!("/api/v1/scans/{id}/events?until_terminal=true"),
            None,
        )
        .await;
    let (status, started) = s
        .post(&format!("/api/v1/scans/{id}/start"), json!(null))
        .await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["state"], "queued");

    let events = sse.collect(LONG).await;
    ids_strictly_increasing(&events);
    for e in &events {
        assert_eq!(e.data["id"], e.id, "SSE id and event id differ");
        assert_eq!(e.data["kind"], e.event.as_str());
        assert_eq!(e.data["scan_id"], id.as_str());
    }
    let states: Vec<&str> = events.iter().filter_map(state_to).collect();
    // The stream replays the scan's `created` event first.
    assert_eq!(
        states,
        ["created", "queued", "running", "completed"],
        "{events:#?}"
    );
    assert_eq!(events.last().and_then(state_to), Some("completed"));
    let findings = events.iter().filter(|e| e.event == "finding").count();
    assert_eq!(findings, 6, "3 targets × 2 findings");
    assert!(
        events.iter().any(|e| e.event == "progress"),
        "no progress event"
    );

    let (status, st) = s.get(&format!("/api/v1/scans/{id}/status")).await;
    assert_eq!(status, 200);
    assert_eq!(st["state"], "completed");
    assert_eq!(st["progress"]["done"], 3);
    assert_eq!(st["fraction"], 1.0);

    // Findings: filters, sort, cursor pagination.
    let (status, page) = s.get(&format!("/api/v1/scans/{id}/findings?limit=4")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (_, page2) = s
        .get(&format!(
            "/api/v1/scans/{id}/findings?limit=4&cursor={cursor}"
        ))
        .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    assert!(page2["next_cursor"].is_null());
    let mut all: BTreeSet<String> = BTreeSet::new();
    for f in page["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["items"].as_array().unwrap())
    {
        all.insert(f["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(all.len(), 6, "pages overlap");
    let (_, none) = s
        .get(&format!("/api/v1/scans/{id}/findings?min_severity=high"))
        .await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let (_, noop) = s
        .get(&format!(
            "/api/v1/scans/{id}/findings?scanner=noop&sort=severity"
        ))
        .await;
    assert_eq!(noop["items"].as_array().unwrap().len(), 6);

    // Triage one finding.
    let fid = page["items"][0]["id"].as_str().unwrap();
    let (status, f) = s
        .patch(
            &format!("/api/v1/findings/{fid}"),
            json!({"triage": "false_positive"}),
        )
        .await;
    assert_eq!(
        (status, f["triage"].as_str()),
        (200, Some("false_positive")),
        "{f}"
    );
    let (_, f) = s.get(&format!("/api/v1/findings/{fid}")).await;
    assert_eq!(f["triage"], "false_positive");
    let (_, open) = s
        .get(&format!("/api/v1/scans/{id}/findings?triage=open"))
        .await;
    assert_eq!(open["items"].as_array().unwrap().len(), 5);

    // The list shows it; delete removes it.
    let (_, list) = s.get("/api/v1/scans").await;
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == id.as_str()));
    let (_, list) = s.get("/api/v1/scans?state=running").await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (_, got) = s.get(&format!("/api/v1/scans/{id}")).await;
    assert_eq!(got["state"], "completed");
    let (status, _) = s.delete(&format!("/api/v1/scans/{id}")).await;
    assert_eq!(status, 204);
    let (status, body) = s.get(&format!("/api/v1/scans/{id}")).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_tasks_and_resume_releases_them() {
    // Two slots and single claims: few tasks are in flight when the pause lands.
    let s = start_with(Options {
        concurrency: 2,
        claim_batch: 1,
        ..Options::default()
    })
    .await;
    let targets = noop_targets(12);
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let scan = s
        .create_scan(noop_config(json!({"sleep_ms": 150}), &targets), true)
        .await;
    let id = scan["id"].as_str().unwrap().to_owned();
    s.wait_scan(&id, LONG, |x| x["progress"]["done"].as_u64() >= Some(1))
        .await;

    let (status, paused) = s
        .post(&format!("/api/v1/scans/{id}/pause"), json!(null))
        .await;
    assert_eq!(
        (status, paused["state"].as_str()),
        (200, Some("paused")),
        "{paused}"
    );

    // In-flight tasks finish; queued ones are parked, so the queue drains without running them.
    let deadline = Instant::now() + LONG;
    loop {
        let d = s.engine.queue().depth().await.unwrap();
        if d.ready == 0 && d.leased == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "queue did not drain while paused: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, held) = s.get(&format!("/api/v1/scans/{id}")).await;
    assert_eq!(held["state"], "paused");
    let done = held["progress"]["done"].as_u64().unwrap();
    assert!(done < 12, "every task ran despite the pause: {held}");
    // Nothing is left to run: a second look finds the same count.
    let (_, again) = s.get(&format!("/api/v1/scans/{id}")).await;
    assert_eq!(again["progress"]["done"].as_u64().unwrap(), done);
    assert_eq!(s.engine.queue().depth().await.unwrap().ready, 0);

    // Pausing again is a conflict naming the state.
    let (status, p) = s
        .post(&format!("/api/v1/scans/{id}/pause"), json!(null))
        .await;
    assert_eq!((status, p["state"].as_str()), (409, Some("paused")));

    let (status, resumed) = s
        .post(&format!("/api/v1/scans/{id}/resume"), json!(null))
        .await;
    assert_eq!(
        (status, resumed["state"].as_str()),
        (200, Some("running")),
        "{resumed}"
    );
    let finished = s.wait_state(&id, "completed", LONG).await;
    assert_eq!(finished["progress"]["done"], 12);
    assert_eq!(finished["progress"]["failed"], 0);
}

fn process_alive(pid: u32) -> bool {
    // A zombie (killed, not yet reaped) no longer runs.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_reaches_a_hanging_tool_within_one_second() {
    let s = start().await;
    let pid_file = s.dir.path().join("hang.pid");
    let config = json!({
        "scanners": [{ "name": "tool:hang" }],
        "targets": [{ "kind": "repo", "value": pid_file.to_str().unwrap() }],
    });
    let scan = s.create_scan(config, true).await;
    let id = scan["id"].as_str().unwrap().to_owned();

    // Wait until the tool runs (it wrote its pid).
    let deadline = Instant::now() + LONG;
    let pid: u32 = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the hanging tool never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(process_alive(pid));
    let mut sse = s
        .sse(
            &format!("/api/v1/scans/{id}/events?until_terminal=true"),
            None,
        )
        .await;

    let t0 = Instant::now();
    let (status, stopped) = s
        .post(&format!("/api/v1/scans/{id}/stop"), json!(null))
        .await;
    assert_eq!(
        (status, stopped["state"].as_str()),
        (200, Some("cancelled")),
        "{stopped}"
    );
    // The terminal state event arrives on the live stream.
    let events = sse.collect(LONG).await;
    assert_eq!(events.last().and_then(state_to), Some("cancelled"));
    let seen_cancelled = t0.elapsed();
    // The process is gone: the cancellation reached the running tool.
    let deadline = Instant::now() + LONG;
    while process_alive(pid) {
        assert!(
            Instant::now() < deadline,
            "tool process {pid} survived the stop"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let process_gone = t0.elapsed();
    assert!(
        seen_cancelled < Duration::from_secs(1),
        "cancelled seen after {seen_cancelled:?}"
    );
    assert!(
        process_gone < Duration::from_secs(1),
        "tool killed after {process_gone:?}"
    );

    let (_, scan) = s.get(&format!("/api/v1/scans/{id}")).await;
    assert_eq!(scan["state"], "cancelled");
    // Stopping twice is a conflict.
    let (status, p) = s
        .post(&format!("/api/v1/scans/{id}/stop"), json!(null))
        .await;
    assert_eq!((status, p["state"].as_str()), (409, Some("cancelled")));
}

/// A follower that falls behind the bus (`RecvError::Lagged`: here a bus of 16 events, bursts of
/// up to 64 findings per commit, and a client that reads nothing until the scan has finished)
/// replays from the store: its stream is exactly the stored sequence, nothing lost or repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_live_stream_replays_from_the_store() {
    let s = start_with(Options {
        concurrency: 64,
        claim_batch: 64,
        bus_capacity: 16,
        ..Options::default()
    })
    .await;
    let scan = s
        .create_scan(
            noop_config(
                json!({"fanout": 3000, "child": {"findings": 1}}),
                &["noop://root"],
            ),
            false,
        )
        .await;
    let id = scan["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/scans/{id}/events?until_terminal=true");
    let mut slow = s.sse(&path, None).await;
    s.post(&format!("/api/v1/scans/{id}/start"), json!(null))
        .await;
    s.wait_state(&id, "completed", LONG).await;

    let lagged = slow.collect(LONG).await;
    let stored = s.sse(&path, Some(0)).await.collect(LONG).await;
    let ids = |v: &[Sse]| v.iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(
        ids(&lagged),
        ids(&stored),
        "the lagging stream lost or repeated events"
    );
    ids_strictly_increasing(&lagged);
    assert_eq!(lagged.iter().filter(|e| e.event == "finding").count(), 3000);
    assert_eq!(lagged.last().and_then(state_to), Some("completed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_event_id_resume_misses_nothing() {
    let s = start_with(Options {
        concurrency: 2,
        claim_batch: 1,
        ..Options::default()
    })
    .await;
    let targets = noop_targets(6);
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let scan = s
        .create_scan(
            noop_config(json!({"findings": 1, "sleep_ms": 50}), &targets),
            false,
        )
        .await;
    let id = scan["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/scans/{id}/events?until_terminal=true");

    let mut first = s.sse(&path, None).await;
    s.post(&format!("/api/v1/scans/{id}/start"), json!(null))
        .await;
    let mut head = Vec::new();
    for _ in 0..4 {
        head.push(
            tokio::time::timeout(LONG, first.next())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    drop(first);
    let last = head.last().unwrap().id;

    // Reconnect with the header: exactly the rest.
    let tail = s.sse(&path, Some(last)).await.collect(LONG).await;
    assert!(tail.iter().all(|e| e.id > last));
    // The query fallback gives the same.
    let tail_q = s
        .sse(
            &format!("/api/v1/scans/{id}/events?until_terminal=true&last_event_id={last}"),
            None,
        )
        .await
        .collect(LONG)
        .await;
    assert_eq!(tail, tail_q);

    let full = s.sse(&path, None).await.collect(LONG).await;
    let joined: Vec<i64> = head.iter().chain(&tail).map(|e| e.id).collect();
    let all: Vec<i64> = full.iter().map(|e| e.id).collect();
    assert_eq!(joined, all, "resume lost or repeated events");
    ids_strictly_increasing(&full);
    assert_eq!(full.iter().filter(|e| e.event == "finding").count(), 6);
    assert_eq!(full.last().and_then(state_to), Some("completed"));

    // Resuming after the terminal event ends at once with nothing.
    let after_end = s
        .sse(&path, Some(full.last().unwrap().id))
        .await
        .collect(LONG)
        .await;
    assert!(after_end.is_empty());

    // The org stream from 0 replays the same events (it never ends by itself: read what we
    // expect).
    let mut org = s.sse("/api/v1/events", Some(0)).await;
    let mut org_ids = Vec::new();
    while org_ids.len() < all.len() {
        org_ids.push(
            tokio::time::timeout(LONG, org.next())
                .await
                .unwrap()
                .unwrap()
                .id,
        );
    }
    assert_eq!(org_ids, all);

    // Without a resume point the org stream starts with the next event: nothing old.
    let mut live = s.sse("/api/v1/events", None).await;
    let next = s
        .create_scan(noop_config(json!({}), &["noop://next"]), true)
        .await;
    let first = tokio::time::timeout(LONG, live.next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        first.id > *all.last().unwrap(),
        "old event replayed: {first:?}"
    );
    assert_eq!(first.data["scan_id"], next["id"]);
    // The stream was subscribed before its response arrived: nothing of the new scan is missed,
    // from its creation on.
    assert_eq!(state_to(&first), Some("created"), "{first:?}");
    let second = tokio::time::timeout(LONG, live.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.data["scan_id"], next["id"]);
    assert_eq!(state_to(&second), Some("queued"), "{second:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_subscription_gets_events() {
    let s = start().await;
    let scan = s
        .create_scan(noop_config(json!({"findings": 1}), &["noop://ws"]), false)
        .await;
    let id = scan["id"].as_str().unwrap().to_owned();

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/api/v1/ws", s.addr))
        .await
        .unwrap();
    use tokio_tungstenite::tungstenite::Message;
    // A bad message is answered with a problem, and the socket stays usable.
    ws.send(Message::Text(
        json!({"subscribe": "nope"}).to_string().into(),
    ))
    .await
    .unwrap();
    let err: Value = loop {
        match tokio::time::timeout(LONG, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Text(t) => break serde_json::from_str(t.as_str()).unwrap(),
            _ => continue,
        }
    };
    assert_eq!(err["error"]["code"], "invalid", "{err}");

    ws.send(Message::Text(
        json!({"subscribe": id, "until_terminal": true})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    s.post(&format!("/api/v1/scans/{id}/start"), json!(null))
        .await;
    let mut events: Vec<Value> = Vec::new();
    while events.last().is_none_or(|e| e["data"]["to"] != "completed") {
        match tokio::time::timeout(LONG, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Text(t) => events.push(serde_json::from_str(t.as_str()).unwrap()),
            _ => continue,
        }
    }
    let kinds: BTreeSet<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains("state") && kinds.contains("finding"),
        "{events:#?}"
    );
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    // Subscribing to everything from 0 replays the org's events from the start.
    ws.send(Message::Text(
        json!({"subscribe": "*", "last_event_id": 0})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let first: Value = loop {
        match tokio::time::timeout(LONG, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Text(t) => break serde_json::from_str(t.as_str()).unwrap(),
            _ => continue,
        }
    };
    assert_eq!(first["id"], ids[0]);
}

// ---------------------------------------------------------------- templates and artifacts

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_round_trip() {
    let s = start().await;
    let config = noop_config(json!({}), &["noop://a"]);
    let (status, t) = s
        .post(
            "/api/v1/templates",
            json!({"name": "nightly", "description": "d", "config": config}),
        )
        .await;
    assert_eq!(status, 201, "{t}");
    let tid = t["id"].as_str().unwrap().to_owned();
    let (status, got) = s.get(&format!("/api/v1/templates/{tid}")).await;
    assert_eq!((status, got["name"].as_str()), (200, Some("nightly")));

    let config2 = noop_config(json!({"findings": 1}), &["noop://b"]);
    let (status, upd) = s
        .put(
            &format!("/api/v1/templates/{tid}"),
            json!({"name": "weekly", "config": config2}),
        )
        .await;
    assert_eq!(
        (status, upd["name"].as_str()),
        (200, Some("weekly")),
        "{upd}"
    );
    let (_, list) = s.get("/api/v1/templates").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let (status, scan) = s
        .post(
            &format!("/api/v1/templates/{tid}/scans"),
            json!({"targets": [{"kind": "url", "value": "noop://c"}], "start": true}),
        )
        .await;
    assert_eq!(status, 201, "{scan}");
    assert_eq!(scan["template_id"], tid.as_str());
    assert_eq!(scan["name"], "weekly");
    assert_eq!(scan["config"]["targets"][0]["value"], "noop://c");
    let done = s
        .wait_state(scan["id"].as_str().unwrap(), "completed", LONG)
        .await;
    assert_eq!(done["progress"]["findings"], 1);

    // A scan can name the template in its body; a well-formed id naming no template is a 404
    // (a malformed one is a 422: see the error-answers test).
    let (status, p) = s
        .post(
            "/api/v1/scans",
            json!({"config": config, "template_id": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (404, Some("not_found")),
        "{p}"
    );

    let (status, _) = s.delete(&format!("/api/v1/templates/{tid}")).await;
    assert_eq!(status, 204);
    let (status, _) = s.get(&format!("/api/v1/templates/{tid}")).await;
    assert_eq!(status, 404);
    let (status, _) = s
        .post(&format!("/api/v1/templates/{tid}/scans"), json!({}))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_findings_and_artifacts() {
    let s = start().await;
    let config = json!({
        "scanners": [{ "name": "tool:emit" }],
        "targets": [{ "kind": "domain", "value": "example.com" }],
    });
    let scan = s.create_scan(config, true).await;
    let id = scan["id"].as_str().unwrap().to_owned();
    let done = s.wait_state(&id, "completed", LONG).await;
    assert_eq!(done["progress"]["findings"], 2, "{done}");

    let (_, sorted) = s
        .get(&format!("/api/v1/scans/{id}/findings?sort=severity"))
        .await;
    let titles: Vec<&str> = sorted["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Host a.example.com", "Host b.example.com"]);
    let (_, high) = s
        .get(&format!("/api/v1/scans/{id}/findings?severity=high"))
        .await;
    assert_eq!(high["items"].as_array().unwrap().len(), 1);

    let (status, arts) = s.get(&format!("/api/v1/scans/{id}/artifacts")).await;
    assert_eq!(status, 200);
    let items = arts["items"].as_array().unwrap();
    let stdout = items
        .iter()
        .find(|a| a["name"].as_str().unwrap().contains("stdout"))
        .unwrap_or_else(|| panic!("no stdout artifact: {arts}"));
    let name = stdout["name"].as_str().unwrap();
    let res = s
        .http
        .get(s.url(&format!("/api/v1/scans/{id}/artifacts/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Served as the document says, whatever the artifact's own type (listed above).
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/octet-stream"
    );
    assert_ne!(stdout["content_type"], "application/octet-stream");
    let text = res.text().await.unwrap();
    assert!(text.contains("\"host\":\"a.example.com\""), "{text}");

    let (status, _) = s
        .get(&format!("/api/v1/scans/{id}/artifacts/missing.txt"))
        .await;
    assert_eq!(status, 404);
    let (status, p) = s
        .get(&format!("/api/v1/scans/{id}/artifacts/bad%20name"))
        .await;
    assert_eq!((status, p["code"].as_str()), (422, Some("invalid")));
    let (status, _) = s
        .get(&format!("/api/v1/scans/{id}/artifacts/..%2Fetc%2Fpasswd"))
        .await;
    assert_eq!(status, 422);
}

// ---------------------------------------------------------------- error answers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_answers_are_problems_with_stable_codes() {
    let s = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let ok = noop_config(json!({}), &["noop://x"]);
    let scan = s.create_scan(ok.clone(), false).await;
    let id = scan["id"].as_str().unwrap().to_owned();
    // Read it twice (the second read may come from the cache of `created` scans).
    for _ in 0..2 {
        let (_, got) = s.get(&format!("/api/v1/scans/{id}")).await;
        assert_eq!(got["state"], "created");
    }

    // 409: illegal transitions carry the current state.
    for action in ["pause", "resume", "stop"] {
        let (status, p) = s
            .post(&format!("/api/v1/scans/{id}/{action}"), json!(null))
            .await;
        assert_eq!(
            (status, p["code"].as_str(), p["state"].as_str()),
            (409, Some("conflict"), Some("created")),
            "{action}: {p}"
        );
    }
    let (status, _) = s
        .post(&format!("/api/v1/scans/{id}/start"), json!(null))
        .await;
    assert_eq!(status, 200);
    // Read-your-writes, cache or not.
    let (_, got) = s.get(&format!("/api/v1/scans/{id}")).await;
    assert_eq!(got["state"], "queued");
    let (status, p) = s
        .post(&format!("/api/v1/scans/{id}/start"), json!(null))
        .await;
    assert_eq!((status, p["state"].as_str()), (409, Some("queued")), "{p}");
    let (status, p) = s
        .put(&format!("/api/v1/scans/{id}"), json!({"config": ok}))
        .await;
    assert_eq!((status, p["code"].as_str()), (409, Some("conflict")), "{p}");
    let (status, p) = s.delete(&format!("/api/v1/scans/{id}")).await;
    assert_eq!((status, p["state"].as_str()), (409, Some("queued")), "{p}");

    // 404: unknown id, malformed id, unknown route; 405 keeps `Allow`.
    let unknown = uuid::Uuid::now_v7();
    for path in [
        format!("/api/v1/scans/{unknown}"),
        format!("/api/v1/scans/{unknown}/status"),
        format!("/api/v1/scans/{unknown}/findings"),
        format!("/api/v1/scans/{unknown}/events"),
        format!("/api/v1/findings/{unknown}"),
        format!("/api/v1/templates/{unknown}"),
        "/api/v1/scans/not-a-uuid".to_owned(),
        "/api/v1/findings/12".to_owned(),
        "/api/v1/nothing-here".to_owned(),
        "/nothing".to_owned(),
    ] {
        let (status, p) = s.get(&path).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (404, Some("not_found")),
            "{path}: {p}"
        );
    }
    let (status, p) = s
        .post(&format!("/api/v1/scans/{unknown}/start"), json!(null))
        .await;
    assert_eq!(status, 404, "{p}");
    let res = s.http.delete(s.url("/api/v1/scans")).send().await.unwrap();
    assert!(res.headers().contains_key("allow"));
    let (status, p) = common::read(res).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (405, Some("method_not_allowed"))
    );

    // 400 malformed JSON, 415 wrong content type.
    let res = s
        .http
        .post(s.url("/api/v1/scans"))
        .header("content-type", "application/json")
        .body("{\"config\": ")
        .send()
        .await
        .unwrap();
    let (status, p) = common::read(res).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (400, Some("bad_request")),
        "{p}"
    );
    let res = s
        .http
        .post(s.url("/api/v1/scans"))
        .body("{}")
        .send()
        .await
        .unwrap();
    let (status, p) = common::read(res).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );

    // 422 with the failing path.
    let cases = [
        (json!({"config": ok, "colour": "red"}), "/colour"),
        (
            json!({"config": {"scanners": [{"name": "noop"}], "targets": [{"kind": "ip", "value": "300.1.1.1"}]}}),
            "/config/targets/0/value",
        ),
        (
            json!({"config": {"scanners": [{"name": "noop"}], "targets": [{"kind": "planet", "value": "x"}]}}),
            "/config/targets/0/kind",
        ),
        (
            json!({"config": noop_config(json!({"fanout": -1}), &["noop://x"])}),
            "/config/scanners/0/params/fanout",
        ),
        (
            json!({"config": noop_config(json!({"nope": 1}), &["noop://x"])}),
            "/config/scanners/0/params",
        ),
        (
            json!({"config": {"scanners": [{"name": "nope"}], "targets": [{"kind": "url", "value": "noop://x"}]}}),
            "/config/scanners/0/name",
        ),
        (
            json!({"config": ok, "template_id": "not-a-uuid"}),
            "/template_id",
        ),
        (json!({"config": ok, "start": "yes"}), "/start"),
        (json!({"name": "x"}), "/"),
    ];
    for (body, path) in cases {
        let (status, p) = s.post("/api/v1/scans", body.clone()).await;
        assert_eq!(status, 422, "{body}: {p}");
        assert_eq!(p["code"], "invalid");
        let got = p["path"].as_str().unwrap();
        assert!(got.starts_with(path), "{body}: path {got}, wanted {path}");
    }
    let (status, p) = s
        .patch(
            &format!("/api/v1/findings/{unknown}"),
            json!({"triage": "meh"}),
        )
        .await;
    assert_eq!((status, p["path"].as_str()), (422, Some("/triage")), "{p}");
    let (status, p) = s
        .get(&format!("/api/v1/scans/{id}/findings?severity=huge"))
        .await;
    assert_eq!((status, p["path"].as_str()), (422, Some("/severity")));
    let (status, _) = s.get("/api/v1/scans?limit=0").await;
    assert_eq!(status, 422);

    // 413: a body over the limit.
    let big = "x".repeat(argus_api::DEFAULT_BODY_LIMIT + 1);
    let (status, p) = s
        .post("/api/v1/scans", json!({"name": big, "config": ok}))
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (413, Some("payload_too_large")),
        "{p}"
    );
    // 400 for a WebSocket route without an upgrade.
    let (status, _) = s.get("/api/v1/ws").await;
    assert!((400..500).contains(&status));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_headers_scope_every_record_by_org() {
    let s = start_with(Options {
        auth: AuthConfig::TrustedHeaders {
            default_role: argus_core::ids::Role::Admin,
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        },
        workers: false,
        ..Options::default()
    })
    .await;
    let as_org = |org: &str, req: reqwest::RequestBuilder| {
        req.header("x-org-id", org).header("x-user-id", "u1")
    };
    let config = noop_config(json!({}), &["noop://x"]);

    // No identity: 401.
    let (status, p) = s.get("/api/v1/scans").await;
    assert_eq!((status, p["code"].as_str()), (401, Some("unauthorized")));
    let res = s
        .http
        .get(s.url("/api/v1/scans"))
        .header("x-org-id", "a b")
        .header("x-user-id", "u")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let res = as_org("org-a", s.http.post(s.url("/api/v1/scans")))
        .json(&json!({"config": config}))
        .send()
        .await
        .unwrap();
    let (status, scan) = common::read(res).await;
    assert_eq!(status, 201);
    assert_eq!(scan["org_id"], "org-a");
    assert_eq!(scan["user_id"], "u1");
    let id = scan["id"].as_str().unwrap();

    let res = as_org("org-a", s.http.get(s.url(&format!("/api/v1/scans/{id}"))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for path in [
        format!("/api/v1/scans/{id}"),
        format!("/api/v1/scans/{id}/events"),
    ] {
        let res = as_org("org-b", s.http.get(s.url(&path)))
            .send()
            .await
            .unwrap();
        let (status, p) = common::read(res).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    let res = as_org(
        "org-b",
        s.http.post(s.url(&format!("/api/v1/scans/{id}/start"))),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 404);
    let res = as_org("org-b", s.http.get(s.url("/api/v1/scans")))
        .send()
        .await
        .unwrap();
    let (_, list) = common::read(res).await;
    assert!(list["items"].as_array().unwrap().is_empty());

    // Headers from a peer that is not a trusted proxy are not honoured.
    let s2 = start_with(Options {
        auth: AuthConfig::TrustedHeaders {
            default_role: argus_core::ids::Role::Admin,
            trusted_proxies: vec!["10.9.9.9/32".parse().unwrap()],
        },
        workers: false,
        ..Options::default()
    })
    .await;
    let res = as_org("org-a", s2.http.get(s2.url("/api/v1/scans")))
        .send()
        .await
        .unwrap();
    let (status, _) = common::read(res).await;
    assert_eq!(status, 401);
    // …and are honoured from one that is.
    let s3 = start_with(Options {
        auth: AuthConfig::TrustedHeaders {
            default_role: argus_core::ids::Role::Admin,
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        },
        workers: false,
        ..Options::default()
    })
    .await;
    let res = as_org("org-a", s3.http.get(s3.url("/api/v1/scans")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_is_not_held_open_by_live_streams() {
    let mut s = start().await;
    let mut sse = s.sse("/api/v1/events", None).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/api/v1/ws", s.addr))
        .await
        .unwrap();
    use tokio_tungstenite::tungstenite::Message;
    ws.send(Message::Text(json!({"subscribe": "*"}).to_string().into()))
        .await
        .unwrap();
    s.shut_down(LONG).await;
    // Both streams end (rather than idling forever).
    assert!(tokio::time::timeout(LONG, sse.next())
        .await
        .unwrap()
        .is_none());
    loop {
        match tokio::time::timeout(LONG, ws.next()).await.unwrap() {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
            Some(Ok(_)) => continue,
        }
    }
}

// ---------------------------------------------------------------- health, meta, OpenAPI, docs

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_meta_scanners_and_docs() {
    let s = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let (status, h) = s.get("/healthz").await;
    assert_eq!((status, h["status"].as_str()), (200, Some("ok")));
    let (status, r) = s.get("/readyz").await;
    assert_eq!((status, r["status"].as_str()), (200, Some("ok")), "{r}");
    let names: BTreeSet<&str> = r["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["artifacts", "queue", "store"]));
    let (status, m) = s.get("/api/v1/meta").await;
    assert_eq!((status, m["version"].as_str()), (200, Some("0.0.0-test")));
    assert_eq!(m["backends"]["store"], "sqlite");

    let (status, sc) = s.get("/api/v1/scanners").await;
    assert_eq!(status, 200);
    let noop = sc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "noop")
        .unwrap();
    assert_eq!(noop["available"], true);
    assert!(noop["params_schema"]["properties"]["fanout"].is_object());
    assert!(sc["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["name"] == "tool:subfinder"));

    let res = s.http.get(s.url("/docs")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(res.text().await.unwrap().contains("swagger"));
    // The embedded page points at our document (assets are vendored, nothing is fetched).
    let init = s
        .http
        .get(s.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 200);
    assert!(init.text().await.unwrap().contains("/api/v1/openapi.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_route_and_every_listed_route_is_served() {
    let s = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let (status, spec) = s.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(
        spec["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        spec["openapi"]
    );
    assert_eq!(spec, serde_json::to_value(argus_api::openapi()).unwrap());

    let expected = [
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/api/v1/scans"),
        ("post", "/api/v1/scans"),
        ("get", "/api/v1/scans/{id}"),
        ("put", "/api/v1/scans/{id}"),
        ("delete", "/api/v1/scans/{id}"),
        ("post", "/api/v1/scans/{id}/start"),
        ("post", "/api/v1/scans/{id}/stop"),
        ("post", "/api/v1/scans/{id}/pause"),
        ("post", "/api/v1/scans/{id}/resume"),
        ("get", "/api/v1/scans/{id}/status"),
        ("get", "/api/v1/scans/{id}/findings"),
        ("post", "/api/v1/scans/{id}/findings/select"),
        ("post", "/api/v1/scans/{id}/clean"),
        ("get", "/api/v1/scans/{id}/download"),
        ("post", "/api/v1/scans/{id}/push"),
        ("get", "/api/v1/scans/{id}/verdicts"),
        ("post", "/api/v1/scan/binary"),
        ("get", "/api/v1/scans/{id}/artifacts"),
        ("get", "/api/v1/scans/{id}/artifacts/{name}"),
        ("get", "/api/v1/scans/{id}/events"),
        ("get", "/api/v1/events"),
        ("get", "/api/v1/ws"),
        ("get", "/api/v1/findings/{id}"),
        ("patch", "/api/v1/findings/{id}"),
        ("get", "/api/v1/templates"),
        ("post", "/api/v1/templates"),
        ("get", "/api/v1/templates/{id}"),
        ("put", "/api/v1/templates/{id}"),
        ("delete", "/api/v1/templates/{id}"),
        ("post", "/api/v1/templates/{id}/scans"),
        ("get", "/api/v1/schedules"),
        ("post", "/api/v1/schedules"),
        ("get", "/api/v1/schedules/{id}"),
        ("put", "/api/v1/schedules/{id}"),
        ("delete", "/api/v1/schedules/{id}"),
        ("get", "/api/v1/connectors"),
        ("post", "/api/v1/connectors"),
        ("get", "/api/v1/connectors/{id}"),
        ("put", "/api/v1/connectors/{id}"),
        ("delete", "/api/v1/connectors/{id}"),
        ("post", "/api/v1/connectors/{id}/full-scan"),
        ("get", "/api/v1/audit"),
        ("get", "/api/v1/apikeys"),
        ("post", "/api/v1/apikeys"),
        ("delete", "/api/v1/apikeys/{id}"),
        ("get", "/api/v1/sinks"),
        ("get", "/api/v1/sinks/{name}"),
        ("get", "/api/v1/sinks/{name}/dead-letters"),
        ("get", "/api/v1/scanners"),
        ("get", "/api/v1/meta"),
        ("get", "/api/v1/whoami"),
        ("get", "/api/v1/openapi.json"),
        ("get", "/openapi.json"),
        // The DeployGuard-compatible layer (tests/v2.rs).
        ("get", "/api/v2/health"),
        ("get", "/api/v2/health/ready"),
        ("get", "/api/v2/jobs"),
        ("post", "/api/v2/jobs"),
        ("get", "/api/v2/jobs/{id}"),
        ("delete", "/api/v2/jobs/{id}"),
        ("get", "/api/v2/jobs/{id}/secrets"),
        ("post", "/api/v2/jobs/{id}/secrets/select"),
        ("post", "/api/v2/jobs/{id}/clean"),
        ("get", "/api/v2/jobs/{id}/download"),
        ("post", "/api/v2/jobs/{id}/push"),
        ("post", "/api/v1/scans/plan"),
        // The Discovery-API-compatible runs (tests/runs.rs).
        ("get", "/runs"),
        ("post", "/runs"),
        ("post", "/runs/filters"),
        ("get", "/runs/ws"),
        ("get", "/runs/{run_id}"),
        ("get", "/runs/{run_id}/results"),
    ];
    let paths = spec["paths"].as_object().unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = expected
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented, expected,
        "documented routes differ from the API's routes"
    );

    // Every documented operation is served: a request reaches its handler (no fallback 404 or
    // 405), whatever the handler then answers.
    let any_id = uuid::Uuid::now_v7().to_string();
    for (method, path) in &documented {
        let url = s.url(
            &path
                .replace("{id}", &any_id)
                .replace("{run_id}", &any_id)
                .replace("{name}", "x.txt"),
        );
        let req = match method.as_str() {
            "get" => s.http.get(&url),
            "post" => s.http.post(&url).json(&json!({})),
            "put" => s.http.put(&url).json(&json!({})),
            "patch" => s.http.patch(&url).json(&json!({})),
            "delete" => s.http.delete(&url),
            other => panic!("unexpected method {other}"),
        };
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        assert_ne!(status, 405, "{method} {path} not routed");
        if status == 404 {
            let (_, p) = common::read(res).await;
            let detail = p["detail"].as_str().unwrap();
            assert!(
                !detail.starts_with("no route"),
                "{method} {path} not routed: {p}"
            );
        }
    }
}

// ---------------------------------------------------------------- conformance (issue #10)
//
// What schemathesis (in `.ci/schemathesis.sh`) found: the document must say what the server
// accepts and answers, and the server must accept what the document allows and refuse the rest.

/// A schema by `$ref` or inline.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            &spec["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// The schema of query parameter `name` of `GET path` (through `oneOf`/`null` wrappers).
fn query_param<'a>(spec: &'a Value, path: &str, name: &str) -> &'a Value {
    let params = spec["paths"][path]["get"]["parameters"].as_array().unwrap();
    let p = params
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{path} has no parameter {name}"));
    &p["schema"]
}

/// Every type a schema allows, following `$ref`, `oneOf` and type arrays.
fn types_of(spec: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = resolve(spec, schema);
    let mut out = BTreeSet::new();
    match &schema["type"] {
        Value::String(t) => {
            out.insert(t.clone());
        }
        Value::Array(ts) => out.extend(ts.iter().map(|t| t.as_str().unwrap().to_owned())),
        _ => {}
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for sub in schema[key].as_array().into_iter().flatten() {
            out.extend(types_of(spec, sub));
        }
    }
    if schema["enum"].is_array() && out.is_empty() {
        out.insert("string".into());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_served_at_the_root_too() {
    let s = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let (status, root) = s.get("/openapi.json").await;
    assert_eq!(status, 200, "{root}");
    let (_, v1) = s.get("/api/v1/openapi.json").await;
    assert_eq!(root, v1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_data_null_is_what_the_schema_allows() {
    let s = start().await;
    let scan = s
        .create_scan(noop_config(json!({"findings": 1}), &["noop://a"]), true)
        .await;
    let id = scan["id"].as_str().unwrap();
    s.wait_state(id, "completed", LONG).await;
    let (_, page) = s.get(&format!("/api/v1/scans/{id}/findings")).await;
    let finding = &page["items"][0];
    assert!(finding["data"].is_null(), "{finding}");
    let (_, one) = s
        .get(&format!(
            "/api/v1/findings/{}",
            finding["id"].as_str().unwrap()
        ))
        .await;
    assert!(one["data"].is_null());

    let (_, spec) = s.get("/api/v1/openapi.json").await;
    let data = &spec["components"]["schemas"]["Finding"]["properties"]["data"];
    let types = types_of(&spec, data);
    // Any JSON value (no type restriction), or at least one that admits null.
    assert!(
        types.is_empty() || types.contains("null"),
        "Finding.data does not admit null: {data}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_answers_cover_what_the_server_answers() {
    let s = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let (_, spec) = s.get("/api/v1/openapi.json").await;
    // Every operation that reads a JSON body documents every answer the body extractor gives.
    for (method, path) in [
        ("post", "/api/v1/scans"),
        ("put", "/api/v1/scans/{id}"),
        ("post", "/api/v1/templates"),
        ("put", "/api/v1/templates/{id}"),
        ("post", "/api/v1/templates/{id}/scans"),
        ("post", "/api/v1/schedules"),
        ("put", "/api/v1/schedules/{id}"),
        ("patch", "/api/v1/findings/{id}"),
    ] {
        let responses = spec["paths"][path][method]["responses"]
            .as_object()
            .unwrap();
        for status in ["400", "413", "415", "422"] {
            assert!(
                responses.contains_key(status),
                "{method} {path} does not document {status}"
            );
        }
    }
    assert!(spec["paths"]["/api/v1/scans"]["post"]["responses"]
        .as_object()
        .unwrap()
        .contains_key("404"));
    // The SSE streams are documented as text/event-stream, and a bad Last-Event-ID as 400.
    for path in ["/api/v1/scans/{id}/events", "/api/v1/events"] {
        let op = &spec["paths"][path]["get"];
        assert!(
            op["responses"]["200"]["content"]["text/event-stream"].is_object(),
            "{path}: {}",
            op["responses"]["200"]
        );
        assert!(op["responses"]["400"].is_object(), "{path}");
        // OpenAPI 3.1 reads an event stream's schema as the schema of one event.
        let event = resolve(
            &spec,
            &op["responses"]["200"]["content"]["text/event-stream"]["schema"],
        );
        for field in ["id", "event", "data"] {
            assert!(event["properties"][field].is_object(), "{path}: {event}");
        }
    }
    // The artifact download is documented as application/octet-stream (and served so: see
    // `tool_findings_and_artifacts`).
    assert!(
        spec["paths"]["/api/v1/scans/{id}/artifacts/{name}"]["get"]["responses"]["200"]["content"]
            ["application/octet-stream"]
            .is_object()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_states_what_scan_configs_and_names_accept() {
    let s = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let (_, spec) = s.get("/api/v1/openapi.json").await;
    let config = &spec["components"]["schemas"]["ScanConfig"]["properties"];
    assert_eq!(config["scanners"]["minItems"], 1, "{}", config["scanners"]);
    assert_eq!(config["scanners"]["uniqueItems"], true);
    assert_eq!(config["targets"]["minItems"], 1);
    assert_eq!(config["max_attempts"]["maximum"], 20);
    // …and the server refuses what it says.
    let scanner = json!({"name": "noop", "params": {}});
    for (scanners, path) in [
        (json!([]), "/config/scanners"),
        (json!([scanner, scanner]), "/config/scanners/1/name"),
    ] {
        let (status, p) = s
            .post(
                "/api/v1/scans",
                json!({"config": {"scanners": scanners, "targets": [{"kind": "url", "value": "noop://x"}]}}),
            )
            .await;
        assert_eq!((status, p["path"].as_str()), (422, Some(path)), "{p}");
    }

    for (schema, path) in [
        ("CreateScanRequest", "/api/v1/scans"),
        ("TemplateRequest", "/api/v1/templates"),
    ] {
        let name = &spec["components"]["schemas"][schema]["properties"]["name"];
        assert_eq!(name["maxLength"], 200, "{schema}: {name}");
        assert!(name["pattern"].is_string(), "{schema}: {name}");
        let ok = noop_config(json!({}), &["noop://x"]);
        // Over 200 characters: refused, never cut.
        let long = "n".repeat(201);
        let (status, p) = s.post(path, json!({"name": long, "config": ok})).await;
        assert_eq!((status, p["path"].as_str()), (422, Some("/name")), "{p}");
        // Blank (Unicode white space too): refused.
        for blank in ["", "   ", "\u{3000}\t"] {
            let (status, p) = s.post(path, json!({"name": blank, "config": ok})).await;
            assert_eq!(
                (status, p["path"].as_str()),
                (422, Some("/name")),
                "{blank:?}: {p}"
            );
        }
        // 200 characters of two bytes each: accepted whole (characters count, not bytes).
        let wide = "é".repeat(200);
        let (status, created) = s.post(path, json!({"name": wide, "config": ok})).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["name"], wide.as_str());
        // The schema's pattern is the server's idea of blank: it rejects exactly the blanks.
        let pattern = name["pattern"].as_str().unwrap();
        assert!(
            pattern.contains("\\u3000") && pattern.contains("\\u0085"),
            "{pattern}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_must_be_json_objects() {
    let s = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let (_, t) = s
        .post(
            "/api/v1/templates",
            json!({"name": "t", "config": noop_config(json!({}), &["noop://x"])}),
        )
        .await;
    let tid = t["id"].as_str().unwrap();
    // serde reads a struct from an array of its fields: `[]` would be "all defaults".
    let path = format!("/api/v1/templates/{tid}/scans");
    let (status, p) = s.post(&path, json!([])).await;
    assert_eq!((status, p["path"].as_str()), (422, Some("/")), "{p}");
    let (status, p) = s.post(&path, json!("x")).await;
    assert_eq!(status, 422, "{p}");
    let (_, scans) = s.get("/api/v1/scans").await;
    assert!(scans["items"].as_array().unwrap().is_empty(), "{scans}");
    let (status, _) = s.post(&path, json!({})).await;
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_values_have_the_documented_types() {
    let s = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let scan = s
        .create_scan(noop_config(json!({}), &["noop://x"]), false)
        .await;
    let id = scan["id"].as_str().unwrap();
    let (_, spec) = s.get("/api/v1/openapi.json").await;
    assert!(types_of(&spec, query_param(&spec, "/api/v1/scans", "limit")).contains("integer"));
    assert!(types_of(&spec, query_param(&spec, "/api/v1/templates", "limit")).contains("integer"));
    assert!(types_of(
        &spec,
        query_param(&spec, "/api/v1/scans/{id}/events", "until_terminal")
    )
    .contains("boolean"));
    // An empty or non-canonical value is not a value of the documented type: 422 naming it.
    for (path, param) in [
        ("/api/v1/scans?limit=".to_owned(), "/limit"),
        ("/api/v1/scans?limit=%2B5".to_owned(), "/limit"),
        ("/api/v1/scans?state=".to_owned(), "/state"),
        ("/api/v1/templates?limit=".to_owned(), "/limit"),
        (format!("/api/v1/scans/{id}/findings?sort="), "/sort"),
        (
            format!("/api/v1/scans/{id}/findings?severity="),
            "/severity",
        ),
        (
            format!("/api/v1/scans/{id}/events?until_terminal="),
            "/until_terminal",
        ),
        (
            format!("/api/v1/scans/{id}/events?until_terminal=1"),
            "/until_terminal",
        ),
        (
            format!("/api/v1/scans/{id}/events?last_event_id=-1"),
            "/last_event_id",
        ),
        (
            "/api/v1/events?until_terminal=yes".to_owned(),
            "/until_terminal",
        ),
    ] {
        let (status, p) = s.get(&path).await;
        assert_eq!(
            (status, p["path"].as_str()),
            (422, Some(param)),
            "{path}: {p}"
        );
    }
    let (status, _) = s.get("/api/v1/scans?state=created&limit=5").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_event_id_must_be_one_non_negative_integer() {
    let s = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let scan = s
        .create_scan(noop_config(json!({}), &["noop://x"]), false)
        .await;
    let id = scan["id"].as_str().unwrap();
    for path in [
        format!("/api/v1/scans/{id}/events"),
        "/api/v1/events".to_owned(),
    ] {
        for bad in [vec!["-1"], vec!["x"], vec!["1", "2"]] {
            let mut req = s.http.get(s.url(&path));
            for v in &bad {
                req = req.header("last-event-id", *v);
            }
            let res = req.send().await.unwrap();
            // Checked before reading: an accepted stream would never end.
            assert_eq!(res.status(), 400, "{path} {bad:?}");
            let (status, p) = common::read(res).await;
            assert_eq!(
                (status, p["code"].as_str()),
                (400, Some("bad_request")),
                "{path} {bad:?}: {p}"
            );
        }
    }
    // A good one still opens the stream.
    let mut sse = s.sse(&format!("/api/v1/scans/{id}/events"), Some(0)).await;
    s.post(&format!("/api/v1/scans/{id}/start"), json!(null))
        .await;
    let first = tokio::time::timeout(LONG, sse.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state_to(&first), Some("created"));
    let second = tokio::time::timeout(LONG, sse.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state_to(&second), Some("queued"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_headers_sent_twice_are_refused() {
    let s = start_with(Options {
        auth: AuthConfig::TrustedHeaders {
            default_role: argus_core::ids::Role::Admin,
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        },
        workers: false,
        ..Options::default()
    })
    .await;
    for (org, user) in [
        (vec!["org-a", "org-b"], vec!["u1"]),
        (vec!["org-a"], vec!["u1", "u2"]),
    ] {
        let mut req = s.http.get(s.url("/api/v1/scans"));
        for o in &org {
            req = req.header("x-org-id", *o);
        }
        for u in &user {
            req = req.header("x-user-id", *u);
        }
        let (status, p) = common::read(req.send().await.unwrap()).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (400, Some("bad_request")),
            "{org:?} {user:?}: {p}"
        );
    }
    let res = s
        .http
        .get(s.url("/api/v1/scans"))
        .header("x-org-id", "org-a")
        .header("x-user-id", "u1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_headers_with_no_trusted_proxy_trust_no_one() {
    let s = start_with(Options {
        auth: AuthConfig::TrustedHeaders {
            default_role: argus_core::ids::Role::Admin,
            trusted_proxies: vec![],
        },
        workers: false,
        ..Options::default()
    })
    .await;
    for path in ["/api/v1/scans", "/api/v1/scanners", "/api/v1/templates"] {
        let res = s
            .http
            .get(s.url(path))
            .header("x-org-id", "org-a")
            .header("x-user-id", "u1")
            .send()
            .await
            .unwrap();
        let (status, p) = common::read(res).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (401, Some("unauthorized")),
            "{path}: {p}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanners_need_a_caller_and_hide_server_paths() {
    let trusted = start_with(Options {
        auth: AuthConfig::TrustedHeaders {
            default_role: argus_core::ids::Role::Admin,
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        },
        workers: false,
        ..Options::default()
    })
    .await;
    let (status, p) = trusted.get("/api/v1/scanners").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (401, Some("unauthorized")),
        "{p}"
    );

    let s = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let (status, list) = s.get("/api/v1/scanners").await;
    assert_eq!(status, 200);
    let items = list["items"].as_array().unwrap();
    // `tool:emit` runs `sh`, found on PATH: available, and where it lives is not said.
    let emit = items.iter().find(|x| x["name"] == "tool:emit").unwrap();
    assert_eq!(emit["available"], true);
    assert!(emit["detail"].is_null(), "{emit}");
    for item in items {
        let detail = item["detail"].as_str().unwrap_or("");
        assert!(!detail.contains('/'), "a server path in {item}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_list_honours_limit_and_pages_by_cursor() {
    let s = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let config = noop_config(json!({}), &["noop://x"]);
    for name in ["c", "a", "e", "b", "d"] {
        let (status, _) = s
            .post("/api/v1/templates", json!({"name": name, "config": config}))
            .await;
        assert_eq!(status, 201);
    }
    let mut names = Vec::new();
    let mut url = "/api/v1/templates?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = s.get(&url).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2, "limit ignored: {page}");
        names.extend(items.iter().map(|t| t["name"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/templates?limit=2&cursor={c}"),
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    assert_eq!(pages, 3);
    let (status, p) = s.get("/api/v1/templates?cursor=nope").await;
    assert_eq!((status, p["path"].as_str()), (422, Some("/cursor")), "{p}");
}
