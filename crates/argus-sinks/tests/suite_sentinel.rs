//! The `sentinel` destination against the local Entra ID + Logs Ingestion receiver
//! (`argus_sinks::testkit::sentinel`): the shared sink suite, token reuse and refresh, a wrong
//! secret, records and their sizes.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use argus_core::component::{BuildError, Doors, Factory};
use argus_core::door::FixedEnv;
use argus_core::sink::{Sink, SinkError};
use argus_sinks::encoding::sentinel::MAX_CALL_BYTES;
use argus_sinks::sentinel::SentinelFactory;
use argus_sinks::testkit::sentinel::{SentinelReceiver, SentinelReceiverConfig};
use argus_sinks::testkit::{outgoing, sample_events, SinkHarness, SUITE_SECRET};
use async_trait::async_trait;
use serde_json::{json, Value};

fn doors() -> Doors {
    let env = BTreeMap::from([
        ("SENTINEL_SECRET".to_owned(), SUITE_SECRET.to_owned()),
        ("SENTINEL_WRONG".to_owned(), "not-the-secret".to_owned()),
    ]);
    Doors::new(argus_scanners::process::door())
        .with_http(Arc::new(argus_scanners::http::ReqwestDoor::new()))
        .with_env(Arc::new(FixedEnv(env)))
}

fn config(endpoint: &str, token_url: &str, c: &SentinelReceiverConfig) -> Value {
    json!({
        "endpoint": endpoint,
        "token_url": token_url,
        "dcr_immutable_id": c.dcr_immutable_id,
        "stream": c.stream,
        "tenant_id": c.tenant_id,
        "client_id": c.client_id,
        "client_secret_env": "SENTINEL_SECRET",
        "timeout_ms": 5000,
    })
}

fn build(config: Value) -> Result<Arc<dyn Sink>, BuildError> {
    let config = serde_json::from_value(config).expect("a valid table");
    Ok(SentinelFactory
        .build(config, &doors())?
        .pop()
        .expect("one sink"))
}

struct SentinelHarness {
    receiver: SentinelReceiver,
    sink: Arc<dyn Sink>,
}

impl SentinelHarness {
    async fn start() -> Self {
        let receiver = SentinelReceiver::start(SentinelReceiverConfig::default())
            .await
            .unwrap();
        let sink = build(config(
            &receiver.url(),
            &receiver.token_url(),
            receiver.config(),
        ))
        .unwrap();
        SentinelHarness { receiver, sink }
    }
}

#[async_trait]
impl SinkHarness for SentinelHarness {
    fn sink(&self) -> Arc<dyn Sink> {
        self.sink.clone()
    }

    async fn received(&self) -> Vec<Value> {
        self.receiver
            .records()
            .into_iter()
            .map(|mut r| {
                r.as_object_mut().unwrap().remove("TimeGenerated");
                r
            })
            .collect()
    }

    async fn unreachable(&self) -> Option<Arc<dyn Sink>> {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let base = format!("http://127.0.0.1:{closed}");
        let token_url = format!("{base}/t/oauth2/v2.0/token");
        Some(build(config(&base, &token_url, self.receiver.config())).unwrap())
    }
}

argus_sinks::sink_suite_tests!(crate::SentinelHarness::start().await);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_carry_time_generated_from_the_event() {
    let h = SentinelHarness::start().await;
    let batch = outgoing(&sample_events(1, 3));
    h.sink.send(&batch).await.unwrap();
    let records = h.receiver.records();
    assert_eq!(records.len(), 3);
    for (o, r) in batch.iter().zip(&records) {
        let t = chrono::DateTime::parse_from_rfc3339(r["TimeGenerated"].as_str().unwrap()).unwrap();
        assert_eq!(t, o.event.time);
        assert_eq!(r["event_id"], o.event.event_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_serves_many_sends() {
    let h = SentinelHarness::start().await;
    for first in [1, 10, 20] {
        h.sink
            .send(&outgoing(&sample_events(first, 3)))
            .await
            .unwrap();
    }
    assert_eq!(h.receiver.uploads(), 3);
    assert_eq!(h.receiver.token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_renewed_once() {
    let h = SentinelHarness::start().await;
    h.sink.send(&outgoing(&sample_events(1, 2))).await.unwrap();
    // The receiver expires the token the sink still believes fresh: the upload gets a 401,
    // the sink fetches a new token and the same call goes through.
    h.receiver.expire_tokens();
    h.sink.send(&outgoing(&sample_events(3, 2))).await.unwrap();
    assert_eq!(h.receiver.token_requests(), 2);
    assert_eq!(h.receiver.records().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_close_to_expiry_is_renewed_before_use() {
    let h = SentinelHarness::start().await;
    // Within the 60 s margin: every send asks for a new token rather than risk a 401.
    h.receiver.set_expires_in(30);
    h.sink.send(&outgoing(&sample_events(1, 1))).await.unwrap();
    h.sink.send(&outgoing(&sample_events(2, 1))).await.unwrap();
    assert_eq!(h.receiver.token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_rejected_with_a_clear_message() {
    let h = SentinelHarness::start().await;
    let mut c = config(
        &h.receiver.url(),
        &h.receiver.token_url(),
        h.receiver.config(),
    );
    c["client_secret_env"] = Value::from("SENTINEL_WRONG");
    let sink = build(c).unwrap();
    match sink.send(&outgoing(&sample_events(1, 1))).await {
        Err(SinkError::Rejected(m)) => {
            assert!(m.contains("token request was refused"), "{m}");
            assert!(m.contains("SENTINEL_WRONG"), "{m}");
            assert!(m.contains("invalid_client"), "{m}");
            assert!(!m.contains("not-the-secret"), "{m}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(h.receiver.records().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_over_a_megabyte_are_split_and_an_oversized_record_rejected() {
    let h = SentinelHarness::start().await;
    let mut batch = outgoing(&sample_events(1, 6));
    for (i, o) in batch.iter_mut().enumerate() {
        let size = if i == 3 { MAX_CALL_BYTES } else { 300_000 };
        o.body["data"] = json!({ "blob": "q".repeat(size) });
    }
    match h.sink.send(&batch).await {
        Err(SinkError::Rejected(m)) => assert!(m.contains(" 4 ("), "{m}"),
        other => panic!("expected a rejection of event 4, got {other:?}"),
    }
    let ids: Vec<i64> = h
        .receiver
        .records()
        .iter()
        .map(|r| r["event_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2, 3, 5, 6], "the others were delivered");
    assert_eq!(
        h.receiver.uploads(),
        2,
        "three 300 KB records fit in one call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_refuses_what_the_api_refuses() {
    let h = SentinelHarness::start().await;
    let client = reqwest::Client::new();
    let upload = format!(
        "{}/dataCollectionRules/{}/streams/{}?api-version=2023-01-01",
        h.receiver.url(),
        h.receiver.config().dcr_immutable_id,
        h.receiver.config().stream
    );
    // No token, then an unknown one.
    let r = client.post(&upload).body("[]").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .post(&upload)
        .bearer_auth("made-up")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A real token: over 1 MB is 413, a record without TimeGenerated 400.
    let token: Value = client
        .post(h.receiver.token_url())
        .form(&[
            ("client_id", h.receiver.config().client_id.as_str()),
            ("client_secret", SUITE_SECRET),
            ("scope", "https://monitor.azure.com//.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let big = format!("[{{\"s\":\"{}\"}}]", "x".repeat(MAX_CALL_BYTES));
    let r = client
        .post(&upload)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = client
        .post(&upload)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(r#"[{"a":1}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[test]
fn settings_are_checked_and_the_endpoint_shows_no_secret() {
    let c = SentinelReceiverConfig::default();
    let mut t = config("https://dce.example.com", "https://login.example.com/t", &c);
    t.as_object_mut().unwrap().remove("stream");
    let e = build(t).err().unwrap().to_string();
    assert!(e.contains("sinks.sentinel.stream"), "{e}");

    let mut t = config("https://dce.example.com", "https://login.example.com/t", &c);
    t.as_object_mut().unwrap().remove("token_url");
    let sink = build(t).unwrap();
    assert_eq!(
        sink.endpoint(),
        format!(
            "https://dce.example.com/dataCollectionRules/{}/streams/{}?api-version=2023-01-01",
            c.dcr_immutable_id, c.stream
        )
    );
}
