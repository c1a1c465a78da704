//! OpenTelemetry traces, end to end: a real `argus serve` (and, in distributed mode, a separate
//! `argus worker`) exporting over OTLP/HTTP to a receiver in this test, which decodes the
//! protobuf batches the way a collector does.
//!
//! A client sends `POST /api/v1/scans` (created and started) with a W3C `traceparent` of a
//! trace id the test chose. The request's span must carry that trace id with the client's span
//! as its parent, and every task span of the scan (the root task and the tasks it fanned out,
//! run by a worker that only shares the store with the API) must carry it too, as children of
//! the request's span.
#![cfg(feature = "otel")]
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;
use serde_json::json;

use common::wait_for;

/// One span as the receiver got it.
#[derive(Clone, Debug)]
struct Got {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attrs: HashMap<String, String>,
}

type Spans = Arc<Mutex<Vec<Got>>>;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attrs(kvs: &[KeyValue]) -> HashMap<String, String> {
    kvs.iter()
        .filter_map(|kv| {
            let v = match kv.value.as_ref()?.value.as_ref()? {
                Any::StringValue(s) => s.clone(),
                Any::IntValue(i) => i.to_string(),
                Any::BoolValue(b) => b.to_string(),
                Any::DoubleValue(d) => d.to_string(),
                other => format!("{other:?}"),
            };
            Some((kv.key.clone(), v))
        })
        .collect()
}

/// `POST /v1/traces` as an OTLP/HTTP receiver answers it: protobuf in, an empty
/// `ExportTraceServiceResponse` out.
async fn traces(State(spans): State<Spans>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()) != Some(b"application/x-protobuf") {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE;
    }
    let Ok(req) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut got = spans.lock().unwrap();
    for rs in req.resource_spans {
        let resource = rs
            .resource
            .map(|r| attrs(&r.attributes))
            .unwrap_or_default();
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for ss in rs.scope_spans {
            for s in ss.spans {
                got.push(Got {
                    service: service.clone(),
                    name: s.name,
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_span_id: hex(&s.parent_span_id),
                    attrs: attrs(&s.attributes),
                });
            }
        }
    }
    StatusCode::OK
}

/// A receiver on a free loopback port: its base URL and what it received.
async fn receiver() -> (String, Spans) {
    let spans = Spans::default();
    let app = axum::Router::new()
        .route("/v1/traces", post(traces))
        .with_state(spans.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), spans)
}

/// A trace id and span id of the client's own (random, valid) and its `traceparent`.
fn client_trace() -> (String, String, String) {
    let trace_id = uuid::Uuid::now_v7().simple().to_string();
    let span_id = uuid::Uuid::now_v7().simple().to_string()[16..].to_owned();
    let traceparent = format!("00-{trace_id}-{span_id}-01");
    (trace_id, span_id, traceparent)
}

/// Creates and starts a noop scan that fans out into `fanout` more tasks, with `traceparent`,
/// and waits for it to complete; returns the scan id. In distributed mode the API refuses the
/// scan (422, "no live worker") until a worker advertised the scanner: retried until then.
async fn traced_scan(base: &str, traceparent: &str, fanout: u64) -> String {
    let http = reqwest::Client::new();
    let body = json!({
        "config": {
            "scanners": [{"name": "noop", "params": {"fanout": fanout}}],
            "targets": [{"kind": "url", "value": "noop://root"}]
        },
        "start": true
    });
    let resp = wait_for(Duration::from_secs(30), "a worker to take the scan", || {
        let (http, body) = (http.clone(), body.clone());
        async move {
            let resp = http
                .post(format!("{base}/scans"))
                .header("traceparent", traceparent)
                .json(&body)
                .send()
                .await
                .unwrap();
            if resp.status() != 422 {
                return Some(resp);
            }
            let text = resp.text().await.unwrap();
            assert!(text.contains("no live worker"), "{text}");
            None
        }
    })
    .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let scan: serde_json::Value = resp.json().await.unwrap();
    let id = scan["id"].as_str().unwrap().to_owned();
    assert!(
        scan.get("trace").is_none(),
        "the trace is not shown: {scan}"
    );
    let done = wait_for(Duration::from_secs(60), "the scan to end", || {
        let (http, base, id) = (http.clone(), base.to_owned(), id.clone());
        async move {
            common::status(&http, &base, &id)
                .await
                .filter(|s| matches!(s["state"].as_str(), Some("completed" | "failed")))
        }
    })
    .await;
    assert_eq!(done["state"], "completed", "{done}");
    id
}

/// Waits until the receiver has the scan's request span and `tasks` task spans of the scan;
/// returns them.
async fn exported(spans: &Spans, scan: &str, tasks: usize) -> (Got, Vec<Got>) {
    wait_for(
        Duration::from_secs(30),
        "the request span and every task span at the receiver",
        || {
            let got = spans.lock().unwrap().clone();
            async move {
                let request = got.iter().find(|s| {
                    s.name == "POST /api/v1/scans"
                        && s.attrs.get("http.response.status_code") == Some(&"201".to_owned())
                })?;
                let of_scan: Vec<Got> = got
                    .iter()
                    .filter(|s| {
                        s.name == "task" && s.attrs.get("scan_id").map(String::as_str) == Some(scan)
                    })
                    .cloned()
                    .collect();
                (of_scan.len() >= tasks).then(|| (request.clone(), of_scan))
            }
        },
    )
    .await
}

fn assert_one_trace(
    request: &Got,
    tasks: &[Got],
    trace_id: &str,
    client_span: &str,
    worker_service: &str,
) {
    assert_eq!(request.trace_id, trace_id, "request span: {request:?}");
    assert_eq!(
        request.parent_span_id, client_span,
        "request span: {request:?}"
    );
    assert_eq!(request.attrs["http.request.method"], "POST", "{request:?}");
    assert_eq!(request.attrs["http.route"], "/api/v1/scans", "{request:?}");
    assert!(
        !request.attrs["request_id"].is_empty(),
        "request span without request id: {request:?}"
    );
    for task in tasks {
        assert_eq!(task.trace_id, trace_id, "task span: {task:?}");
        assert_eq!(
            task.parent_span_id, request.span_id,
            "a task span is a child of the request that started its scan: {task:?}"
        );
        assert_eq!(task.attrs["scanner"], "noop", "{task:?}");
        assert!(!task.attrs["task_id"].is_empty(), "{task:?}");
        assert_eq!(task.service, worker_service, "{task:?}");
    }
    let ids: std::collections::HashSet<&str> =
        tasks.iter().map(|t| t.attrs["task_id"].as_str()).collect();
    assert_eq!(ids.len(), tasks.len(), "one span per task: {tasks:?}");
}

/// Embedded mode: one `argus serve` with its own workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scans_tasks_continue_the_trace_of_the_request_that_started_it() {
    let (endpoint, spans) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let server = common::serve(
        dir.path(),
        2,
        &[
            ("ARGUS_TELEMETRY__OTLP_ENDPOINT", &endpoint),
            // Export every 100 ms instead of every 5 s, so the test waits for little.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    let (trace_id, client_span, traceparent) = client_trace();
    let id = traced_scan(&server.base, &traceparent, 2).await;
    let (request, tasks) = exported(&spans, &id, 3).await;
    assert_eq!(request.service, "argus");
    assert_one_trace(&request, &tasks, &trace_id, &client_span, "argus");

    // A request without a trace context starts a trace of its own.
    let (other_trace, _, _) = client_trace();
    let http = reqwest::Client::new();
    let resp = http
        .get(format!("{}/scans/{id}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let get = wait_for(Duration::from_secs(30), "the GET request span", || {
        let got = spans.lock().unwrap().clone();
        async move { got.into_iter().find(|s| s.name == "GET /api/v1/scans/{id}") }
    })
    .await;
    assert_ne!(get.trace_id, trace_id);
    assert_ne!(get.trace_id, other_trace);
    assert_eq!(get.parent_span_id, "", "a root span: {get:?}");
}

/// A build without the `otel` feature refuses the endpoint; this one takes it and refuses a
/// malformed one or a sample ratio out of range, naming the key.
#[test]
fn bad_telemetry_config_is_refused_at_start() {
    for (key, value, says) in [
        (
            "ARGUS_TELEMETRY__OTLP_ENDPOINT",
            "collector:4318",
            "telemetry.otlp_endpoint",
        ),
        (
            "ARGUS_TELEMETRY__SAMPLE_RATIO",
            "1.5",
            "telemetry.sample_ratio",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_argus"));
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("ARGUS_TELEMETRY__OTLP_ENDPOINT", "http://127.0.0.1:4318")
            .env(key, value);
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{key}={value} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{key}={value}: {stderr}");
    }
}

/// Distributed mode: the API (`serve --workers 0`) and a worker are separate processes sharing
/// PostgreSQL and RabbitMQ; the worker finds the trace on the scan it reads from the store.
#[cfg(all(feature = "postgres", feature = "amqp"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_on_another_process_continue_the_trace() {
    let Some(pg) = argus_core::testkit::service_url("ARGUS_TEST_POSTGRES_URL") else {
        return;
    };
    let Some(amqp) = argus_core::testkit::service_url("ARGUS_TEST_AMQP_URL") else {
        return;
    };
    let db = Database::new(&pg);
    let (endpoint, spans) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let env = |service: &str| -> Vec<(String, String)> {
        vec![
            ("ARGUS_STORE__URL".into(), db.url.clone()),
            ("ARGUS_QUEUE__URL".into(), amqp.clone()),
            ("ARGUS_QUEUE__NAME".into(), format!("argus.t.{suffix}")),
            (
                "ARGUS_ARTIFACTS__URL".into(),
                format!("file://{}", dir.path().join("artifacts").display()),
            ),
            ("ARGUS_TELEMETRY__OTLP_ENDPOINT".into(), endpoint.clone()),
            ("ARGUS_TELEMETRY__SERVICE_NAME".into(), service.into()),
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
        ]
    };
    let api_dir = dir.path().join("api").display().to_string();
    let api = common::spawn_argus(
        "api",
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "0",
            "--data-dir",
            &api_dir,
        ],
        &env("argus-api"),
        true,
    );
    let worker_dir = dir.path().join("worker").display().to_string();
    let _worker = common::spawn_argus(
        "worker",
        &["worker", "--workers", "2", "--data-dir", &worker_dir],
        &env("argus-worker"),
        false,
    );
    let base = api.base.clone().unwrap();
    let (trace_id, client_span, traceparent) = client_trace();
    let id = traced_scan(&base, &traceparent, 2).await;
    let (request, tasks) = exported(&spans, &id, 3).await;
    assert_eq!(request.service, "argus-api");
    assert_one_trace(&request, &tasks, &trace_id, &client_span, "argus-worker");
}

/// A database of its own on the shared PostgreSQL, dropped afterwards.
#[cfg(all(feature = "postgres", feature = "amqp"))]
struct Database {
    admin: String,
    name: String,
    url: String,
}

#[cfg(all(feature = "postgres", feature = "amqp"))]
impl Database {
    fn new(admin: &str) -> Database {
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        let name = format!("argus_t_{}", &suffix[suffix.len() - 12..]);
        psql(admin, &format!("CREATE DATABASE {name}"));
        let mut url = url::Url::parse(admin).unwrap();
        url.set_path(&format!("/{name}"));
        Database {
            admin: admin.to_owned(),
            name,
            url: url.to_string(),
        }
    }
}

#[cfg(all(feature = "postgres", feature = "amqp"))]
impl Drop for Database {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .arg(&self.admin)
            .args([
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .status();
    }
}

#[cfg(all(feature = "postgres", feature = "amqp"))]
fn psql(url: &str, sql: &str) {
    let out = std::process::Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("psql is needed to create the test database");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
