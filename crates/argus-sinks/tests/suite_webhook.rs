//! The `webhook` destination against a local receiver that verifies its signatures
//! (`argus_sinks::testkit::webhook`): the shared suite in single and batch mode, the
//! signature and headers, and how answers are classified.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use argus_core::component::{BuildError, Doors};
use argus_core::door::FixedEnv;
use argus_core::sink::{Sink, SinkError};
use argus_sinks::testkit::webhook::{WebhookReceiver, TOLERANCE};
use argus_sinks::testkit::{outgoing, sample_events, SinkHarness, SUITE_SECRET};
use argus_sinks::webhook::{
    signature_header, verify_signature, Config, WebhookSink, USER_AGENT_VALUE,
};
use async_trait::async_trait;
use serde_json::{json, Value};

const SECRET_VAR: &str = "ARGUS_TEST_WEBHOOK_SECRET";

fn doors() -> Doors {
    let env = FixedEnv(BTreeMap::from([(
        SECRET_VAR.to_owned(),
        SUITE_SECRET.to_owned(),
    )]));
    Doors::new(argus_scanners::process::door())
        .with_http(Arc::new(argus_scanners::http::ReqwestDoor::new()))
        .with_env(Arc::new(env))
}

/// A sink built through the catalog from `table`, as a `[[sinks]]` entry would be.
fn build(table: Value) -> Result<Arc<dyn Sink>, BuildError> {
    let catalog = argus_sinks::catalog();
    let factory = catalog.get("webhook").unwrap();
    let mut built = factory.build_raw("sinks.webhook", Some(&table), &doors())?;
    assert_eq!(built.len(), 1);
    Ok(built.remove(0))
}

/// A signing sink for `receiver`, with `extra` settings.
fn sink_for(receiver: &WebhookReceiver, extra: Value) -> Arc<dyn Sink> {
    let mut table = json!({ "url": receiver.url(), "secret_env": SECRET_VAR });
    for (k, v) in extra.as_object().unwrap() {
        table[k] = v.clone();
    }
    build(table).unwrap()
}

async fn signed_receiver() -> WebhookReceiver {
    WebhookReceiver::start(Some(SUITE_SECRET)).await.unwrap()
}

struct WebhookHarness {
    receiver: WebhookReceiver,
    sink: Arc<dyn Sink>,
    batch: bool,
}

impl WebhookHarness {
    async fn start(batch: bool) -> Self {
        let receiver = signed_receiver().await;
        let sink = sink_for(&receiver, json!({ "batch": batch }));
        WebhookHarness {
            receiver,
            sink,
            batch,
        }
    }
}

#[async_trait]
impl SinkHarness for WebhookHarness {
    fn sink(&self) -> Arc<dyn Sink> {
        self.sink.clone()
    }

    async fn received(&self) -> Vec<Value> {
        self.receiver.events()
    }

    async fn unreachable(&self) -> Option<Arc<dyn Sink>> {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        Some(
            build(json!({
                "url": format!("http://127.0.0.1:{port}/hook"),
                "secret_env": SECRET_VAR,
                "batch": self.batch,
                "timeout_ms": 2000,
            }))
            .unwrap(),
        )
    }
}

mod single {
    argus_sinks::sink_suite_tests!(crate::WebhookHarness::start(false).await);
}

mod batched {
    argus_sinks::sink_suite_tests!(crate::WebhookHarness::start(true).await);
}

#[tokio::test]
async fn every_request_is_signed_over_its_exact_body_with_its_headers() {
    let receiver = signed_receiver().await;
    let sink = sink_for(
        &receiver,
        json!({"headers": {"X-Team": "secops", "Authorization": "Bearer static"}}),
    );
    sink.send(&outgoing(&sample_events(10, 2))).await.unwrap();
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(receiver.unauthorized(), 0);
    for (request, id) in requests.iter().zip(10..) {
        assert_eq!(request.path, "/hook");
        assert_eq!(request.event_id(), Some(id.to_string().as_str()));
        assert_eq!(request.json()["event_id"], id);
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.header("user-agent"), Some(USER_AGENT_VALUE));
        assert_eq!(request.header("x-team"), Some("secops"));
        assert_eq!(request.header("authorization"), Some("Bearer static"));
        let signature = request.signature().unwrap();
        assert!(
            signature.starts_with("t=") && signature.contains(",v1="),
            "{signature}"
        );
        assert!(verify_signature(
            SUITE_SECRET.as_bytes(),
            signature,
            &request.body,
            chrono::Utc::now(),
            TOLERANCE
        ));
    }
}

#[tokio::test]
async fn a_batch_is_one_request_named_by_its_first_event() {
    let receiver = signed_receiver().await;
    let sink = sink_for(&receiver, json!({"batch": true}));
    assert_eq!(sink.max_batch(), 500);
    sink.send(&outgoing(&sample_events(20, 3))).await.unwrap();
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].event_id(), Some("20"));
    let body = requests[0].json();
    let ids: Vec<i64> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![20, 21, 22]);
}

#[tokio::test]
async fn a_tampered_body_fails_verification_and_the_receiver_refuses_it() {
    let receiver = signed_receiver().await;
    let sink = sink_for(&receiver, json!({}));
    sink.send(&outgoing(&sample_events(1, 1))).await.unwrap();
    let request = &receiver.requests()[0];
    let signature = request.signature().unwrap().to_owned();
    let now = chrono::Utc::now();
    let secret = SUITE_SECRET.as_bytes();
    assert!(verify_signature(
        secret,
        &signature,
        &request.body,
        now,
        TOLERANCE
    ));
    let tampered = String::from_utf8(request.body.to_vec())
        .unwrap()
        .replace("\"event_id\":1", "\"event_id\":2");
    assert_ne!(tampered.as_bytes(), &request.body[..]);
    assert!(!verify_signature(
        secret,
        &signature,
        tampered.as_bytes(),
        now,
        TOLERANCE
    ));
    assert!(!verify_signature(
        b"not-the-secret",
        &signature,
        &request.body,
        now,
        TOLERANCE
    ));

    // The same through the receiver: the tampered body with the original signature, a
    // correct signature that is ten minutes old, and no signature at all are refused.
    let client = reqwest::Client::new();
    let stale = signature_header(secret, now.timestamp() - 600, tampered.as_bytes());
    for header in [Some(signature.as_str()), Some(stale.as_str()), None] {
        let mut post = client.post(receiver.url()).body(tampered.clone());
        if let Some(header) = header {
            post = post.header("X-Argus-Signature", header);
        }
        assert_eq!(post.send().await.unwrap().status().as_u16(), 401);
    }
    assert_eq!(receiver.unauthorized(), 3);
    // A fresh, correct signature over the same bytes goes through.
    let fresh = signature_header(secret, now.timestamp(), tampered.as_bytes());
    let answer = client
        .post(receiver.url())
        .header("X-Argus-Signature", fresh)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    assert_eq!(receiver.requests().len(), 2);
}

#[tokio::test]
async fn a_signing_sink_with_the_wrong_secret_is_rejected() {
    let receiver = WebhookReceiver::start(Some("the-receivers-own-secret"))
        .await
        .unwrap();
    let sink = sink_for(&receiver, json!({}));
    match sink.send(&outgoing(&sample_events(1, 1))).await {
        Err(SinkError::Rejected(message)) => {
            assert!(message.contains("401"), "{message}");
            assert!(!message.contains(SUITE_SECRET), "{message}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_400_is_rejected() {
    let receiver = signed_receiver().await;
    receiver.fail_always(400);
    let sink = sink_for(&receiver, json!({}));
    match sink.send(&outgoing(&sample_events(1, 3))).await {
        Err(SinkError::Rejected(message)) => assert!(message.contains("400"), "{message}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    // The first refusal stops the batch.
    assert_eq!(receiver.attempts(), 1);
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn a_500_is_retryable_and_the_retry_goes_through() {
    let receiver = signed_receiver().await;
    receiver.fail_next(2, 500);
    let sink = sink_for(&receiver, json!({"batch": true}));
    let batch = outgoing(&sample_events(1, 3));
    for _ in 0..2 {
        match sink.send(&batch).await {
            Err(SinkError::Retryable(message)) => assert!(message.contains("500"), "{message}"),
            other => panic!("expected a retryable error, got {other:?}"),
        }
    }
    sink.send(&batch).await.unwrap();
    assert_eq!(receiver.attempts(), 3);
    assert_eq!(receiver.events().len(), 3);
}

#[tokio::test]
async fn without_secret_env_there_is_no_signature_header() {
    let receiver = WebhookReceiver::start(None).await.unwrap();
    let sink = build(json!({"url": receiver.url()})).unwrap();
    sink.send(&outgoing(&sample_events(5, 2))).await.unwrap();
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.signature(), None);
        assert!(request.event_id().is_some());
    }
}

#[tokio::test]
async fn max_attempts_is_the_default_of_the_entry() {
    let receiver = signed_receiver().await;
    assert_eq!(
        sink_for(&receiver, json!({})).default_max_attempts(),
        Some(5)
    );
    assert_eq!(sink_for(&receiver, json!({})).max_batch(), 100);
}

#[tokio::test]
async fn the_secret_and_the_query_never_show() {
    let receiver = signed_receiver().await;
    let config: Config = serde_json::from_value(json!({
        "url": format!("{}?token=abc", receiver.url()),
        "secret_env": SECRET_VAR,
        "headers": {"X-Api-Key": "static-key-42"},
    }))
    .unwrap();
    let sink = WebhookSink::build(config, &doors()).unwrap();
    let debug = format!("{sink:?}");
    assert!(!debug.contains(SUITE_SECRET), "{debug}");
    assert!(!debug.contains("static-key-42"), "{debug}");
    assert_eq!(sink.endpoint(), receiver.url());
}

#[test]
fn build_errors_name_the_problem() {
    let err = build(json!({"url": "http://127.0.0.1:9/", "secret_env": "ARGUS_NO_SUCH_VAR"}))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("ARGUS_NO_SUCH_VAR"), "{err}");
    let err = build(json!({})).err().unwrap().to_string();
    assert!(err.contains("url"), "{err}");
    let err = build(json!({"url": "http://127.0.0.1:9/", "headers": {"X-Argus-Signature": "x"}}))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("X-Argus-Signature"), "{err}");
    let err = build(json!({"url": "http://127.0.0.1:9/", "batched": true}))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("batched"), "{err}");
}
