//! The `cloudwatch_logs` destination against moto's server, which speaks CloudWatch Logs'
//! real AWS JSON wire (the same server `.ci/run` starts for the S3 tests, on one port for
//! every service): the shared sink suite, and round trips read back with `GetLogEvents`
//! (signed as well, with the crate's SigV4).
//!
//! Environment: `ARGUS_TEST_S3_ENDPOINT` (`http://127.0.0.1:PORT`, moto's URL, set by
//! `.ci/run`). The moto tests skip with a printed reason when it is unset and fail under
//! `CI=true`. Every harness writes to its own log stream, so tests never see each other's
//! events.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use argus_core::component::{BuildError, Doors, Factory};
use argus_core::door::FixedEnv;
use argus_core::redacted::Redacted;
use argus_core::sink::{Outgoing, Sink, SinkError};
use argus_sinks::cloudwatch_logs::CloudWatchLogsFactory;
use argus_sinks::encoding::cloudwatch::MAX_MESSAGE_BYTES;
use argus_sinks::testkit::{outgoing, sample_events, SinkHarness, SUITE_SECRET};
use argus_sinks::transport::sigv4::{self, Credentials, Scope};
use async_trait::async_trait;
use serde_json::{json, Value};
use url::Url;

const KEY_ID: &str = "AKIAARGUSTESTKEY0001";
const REGION: &str = "us-east-1";

fn moto() -> Option<String> {
    argus_core::testkit::service_url("ARGUS_TEST_S3_ENDPOINT")
}

fn doors() -> Doors {
    let env = BTreeMap::from([
        ("CW_KEY".to_owned(), KEY_ID.to_owned()),
        ("CW_SECRET".to_owned(), SUITE_SECRET.to_owned()),
    ]);
    Doors::new(argus_scanners::process::door())
        .with_http(Arc::new(argus_scanners::http::ReqwestDoor::new()))
        .with_env(Arc::new(FixedEnv(env)))
}

fn config(endpoint: &str, group: &str, stream: &str, create: bool) -> Value {
    json!({
        "region": REGION,
        "endpoint": endpoint,
        "log_group": group,
        "log_stream": stream,
        "create": create,
        "access_key_id_env": "CW_KEY",
        "secret_access_key_env": "CW_SECRET",
        "session_token_env": "CW_NO_TOKEN",
        "timeout_ms": 5000,
    })
}

fn build(config: Value) -> Result<Arc<dyn Sink>, BuildError> {
    let config = serde_json::from_value(config).expect("a valid table");
    Ok(CloudWatchLogsFactory
        .build(config, &doors())?
        .pop()
        .expect("one sink"))
}

fn unique(what: &str) -> String {
    format!("argus-{what}-{}", uuid::Uuid::now_v7().simple())
}

/// A log stream on moto and a sink writing to it (creating it on the first send).
struct CloudWatchHarness {
    endpoint: String,
    group: String,
    stream: String,
    sink: Arc<dyn Sink>,
}

impl CloudWatchHarness {
    async fn start() -> Option<Self> {
        let endpoint = moto()?;
        let group = unique("group");
        let stream = unique("stream");
        let sink = build(config(&endpoint, &group, &stream, true)).unwrap();
        Some(CloudWatchHarness {
            endpoint,
            group,
            stream,
            sink,
        })
    }

    /// Every message of the stream, oldest first, as CloudWatch stored it.
    async fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        // GetLogEvents pages forward until the token stops changing.
        for _ in 0..100 {
            let mut body = json!({
                "logGroupName": self.group,
                "logStreamName": self.stream,
                "startFromHead": true,
            });
            if let Some(t) = &token {
                body["nextToken"] = Value::from(t.clone());
            }
            let Ok(answer) = call(&self.endpoint, "GetLogEvents", &body).await else {
                return out; // not created yet
            };
            let events = answer["events"].as_array().cloned().unwrap_or_default();
            out.extend(
                events
                    .iter()
                    .map(|e| e["message"].as_str().unwrap().to_owned()),
            );
            let next = answer["nextForwardToken"].as_str().map(str::to_owned);
            if events.is_empty() || next.is_none() || next == token {
                break;
            }
            token = next;
        }
        out
    }
}

/// Calls a CloudWatch Logs action on moto, signed; the answer's JSON, or the error text.
async fn call(endpoint: &str, action: &str, body: &Value) -> Result<Value, String> {
    let url = Url::parse(endpoint).unwrap();
    let body = body.to_string().into_bytes();
    let target = format!("Logs_20140328.{action}");
    let headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", target.as_str()),
    ];
    let credentials = Credentials {
        access_key_id: KEY_ID.into(),
        secret_access_key: Redacted::new(SUITE_SECRET.into()),
        session_token: None,
    };
    let signed = sigv4::sign(
        &credentials,
        Scope {
            region: REGION,
            service: "logs",
        },
        sigv4::Request {
            method: "POST",
            url: &url,
            headers: &headers,
            body: &body,
        },
        chrono::Utc::now(),
    );
    let mut request = reqwest::Client::new().post(url);
    for (k, v) in headers
        .iter()
        .copied()
        .chain(signed.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    {
        request = request.header(k, v);
    }
    let response = request.body(body).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {text}"));
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[async_trait]
impl SinkHarness for CloudWatchHarness {
    fn sink(&self) -> Arc<dyn Sink> {
        self.sink.clone()
    }

    async fn received(&self) -> Vec<Value> {
        self.messages()
            .await
            .iter()
            .map(|m| serde_json::from_str(m).expect("each message is the body's JSON"))
            .collect()
    }

    async fn unreachable(&self) -> Option<Arc<dyn Sink>> {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let endpoint = format!("http://127.0.0.1:{closed}/");
        Some(build(config(&endpoint, &self.group, &self.stream, true)).unwrap())
    }
}

mod suite {
    argus_sinks::sink_suite_tests!(match crate::CloudWatchHarness::start().await {
        Some(h) => h,
        None => return,
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_the_compact_bodies_in_time_order() {
    let Some(h) = CloudWatchHarness::start().await else {
        return;
    };
    let now = chrono::Utc::now();
    let mut batch: Vec<Outgoing> = outgoing(&sample_events(1, 4));
    // Recent times (inside CloudWatch's window), given out of order: the second event is
    // the oldest and must come first.
    for (o, secs_ago) in batch.iter_mut().zip([30, 40, 20, 10]) {
        o.event.time = now - chrono::Duration::seconds(secs_ago);
        o.body["time"] = Value::from(o.event.time.to_rfc3339());
    }
    h.sink.send(&batch).await.unwrap();
    let expected: Vec<String> = [1, 0, 2, 3]
        .iter()
        .map(|&i| batch[i].body.to_string())
        .collect();
    assert_eq!(h.messages().await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_a_request_is_split_and_a_huge_message_cut() {
    let Some(h) = CloudWatchHarness::start().await else {
        return;
    };
    // 12 bodies of ~100 KB: more than one request's 1 MiB; and one over 256 KiB.
    let mut batch = outgoing(&sample_events(1, 13));
    for (i, o) in batch.iter_mut().enumerate() {
        let size = if i == 12 { 300_000 } else { 100_000 };
        o.body["data"] = json!({ "blob": "y".repeat(size) });
    }
    h.sink.send(&batch).await.unwrap();
    let got = h.messages().await;
    assert_eq!(got.len(), 13);
    for (o, m) in batch.iter().zip(&got).take(12) {
        assert_eq!(*m, o.body.to_string());
    }
    assert_eq!(got[12].len(), MAX_MESSAGE_BYTES);
    assert!(batch[12].body.to_string().starts_with(&got[12]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_stream_without_create_is_rejected_with_a_hint() {
    let Some(endpoint) = moto() else {
        return;
    };
    let sink = build(config(
        &endpoint,
        &unique("group"),
        &unique("stream"),
        false,
    ))
    .unwrap();
    match sink.send(&outgoing(&sample_events(1, 1))).await {
        Err(SinkError::Rejected(m)) => {
            assert!(m.contains("ResourceNotFoundException"), "{m}");
            assert!(m.contains("create = true"), "{m}");
            assert!(!m.contains(SUITE_SECRET), "{m}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_accepts_a_group_and_stream_that_exist() {
    let Some(h) = CloudWatchHarness::start().await else {
        return;
    };
    h.sink.send(&outgoing(&sample_events(1, 1))).await.unwrap();
    // A second sink (another process) creates the same group and stream: already there.
    let again = build(config(&h.endpoint, &h.group, &h.stream, true)).unwrap();
    again.send(&outgoing(&sample_events(2, 1))).await.unwrap();
    assert_eq!(h.messages().await.len(), 2);
}

#[test]
fn required_settings_and_credentials_are_checked_at_build() {
    let mut c = config("http://127.0.0.1:1/", "g", "s", false);
    c.as_object_mut().unwrap().remove("region");
    let e = build(c).err().unwrap().to_string();
    assert!(e.contains("sinks.cloudwatch_logs.region"), "{e}");

    let mut c = config("http://127.0.0.1:1/", "g", "s", false);
    c["secret_access_key_env"] = Value::from("CW_UNSET");
    let e = build(c).err().unwrap().to_string();
    assert!(e.contains("CW_UNSET"), "{e}");

    let sink = build(config("http://127.0.0.1:1/", "g", "s", false)).unwrap();
    assert!(!sink.endpoint().contains(SUITE_SECRET));
    assert!(!sink.endpoint().contains(KEY_ID));
    assert_eq!(sink.max_batch(), 10_000);
}

/// What the sink puts on the wire is what it signed: a local server captures one
/// `PutLogEvents` request and its signature is recomputed from the received method, host,
/// headers and body (a header or body changed after signing, or a `Host` with a different
/// port, would not match).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_sent_is_the_request_signed() {
    use axum::http::HeaderMap;
    use std::sync::Mutex;

    type Captured = Arc<Mutex<Option<(HeaderMap, Vec<u8>)>>>;
    let captured: Captured = Arc::default();
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::post(
                |axum::extract::State(c): axum::extract::State<Captured>,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    *c.lock().unwrap() = Some((headers, body.to_vec()));
                    "{}"
                },
            ),
        )
        .with_state(captured.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let sink = build(config(&endpoint, "g", "s", false)).unwrap();
    sink.send(&outgoing(&sample_events(1, 2))).await.unwrap();
    let (headers, body) = captured.lock().unwrap().take().unwrap();
    let h = |k: &str| headers.get(k).unwrap().to_str().unwrap().to_owned();
    assert_eq!(h("x-amz-target"), "Logs_20140328.PutLogEvents");
    assert_eq!(h("content-type"), "application/x-amz-json-1.1");
    assert_eq!(
        h("host"),
        Url::parse(&endpoint).unwrap()[url::Position::BeforeHost..url::Position::AfterPort]
    );
    let at = chrono::NaiveDateTime::parse_from_str(&h("x-amz-date"), "%Y%m%dT%H%M%SZ")
        .unwrap()
        .and_utc();
    let target = h("x-amz-target");
    let content_type = h("content-type");
    let url = Url::parse(&endpoint).unwrap();
    let expected = sigv4::sign(
        &Credentials {
            access_key_id: KEY_ID.into(),
            secret_access_key: Redacted::new(SUITE_SECRET.into()),
            session_token: None,
        },
        Scope {
            region: REGION,
            service: "logs",
        },
        sigv4::Request {
            method: "POST",
            url: &url,
            headers: &[
                ("content-type", content_type.as_str()),
                ("x-amz-target", target.as_str()),
            ],
            body: &body,
        },
        at,
    );
    let authorization = &expected.headers.last().unwrap().1;
    assert_eq!(h("authorization"), *authorization);
    assert!(authorization.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target,"));
    let sent: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent["logGroupName"], "g");
    assert_eq!(sent["logEvents"].as_array().unwrap().len(), 2);
}
