//! The `splunk_hec` destination against a local HTTP Event Collector speaking HEC's protocol
//! (`argus_sinks::testkit::hec`): the shared suite with and without indexer acknowledgement,
//! the envelope's fields, how answers are classified, acknowledgements and request splitting.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use argus_core::component::{BuildError, Doors};
use argus_core::door::FixedEnv;
use argus_core::sink::{Sink, SinkError};
use argus_sinks::splunk_hec::{Config, SplunkHecSink};
use argus_sinks::testkit::hec::{HecOptions, HecReceiver};
use argus_sinks::testkit::{outgoing, sample_events, SinkHarness, SUITE_SECRET};
use async_trait::async_trait;
use serde_json::{json, Value};

const TOKEN_VAR: &str = "ARGUS_TEST_HEC_TOKEN";

fn doors() -> Doors {
    let env = FixedEnv(BTreeMap::from([(
        TOKEN_VAR.to_owned(),
        SUITE_SECRET.to_owned(),
    )]));
    Doors::new(argus_scanners::process::door())
        .with_http(Arc::new(argus_scanners::http::ReqwestDoor::new()))
        .with_env(Arc::new(env))
}

/// A sink built through the catalog from `table` (plus `token_env`), as a `[[sinks]]` entry
/// would be.
fn build(mut table: Value) -> Result<Arc<dyn Sink>, BuildError> {
    if table.get("token_env").is_none() {
        table["token_env"] = json!(TOKEN_VAR);
    }
    let catalog = argus_sinks::catalog();
    let factory = catalog.get("splunk_hec").unwrap();
    let mut built = factory.build_raw("sinks.splunk_hec", Some(&table), &doors())?;
    assert_eq!(built.len(), 1);
    Ok(built.remove(0))
}

fn sink_for(receiver: &HecReceiver, extra: Value) -> Arc<dyn Sink> {
    let mut table = json!({ "url": receiver.url() });
    for (k, v) in extra.as_object().unwrap() {
        table[k] = v.clone();
    }
    build(table).unwrap()
}

async fn collector(acks: bool, ack_after_polls: u32) -> HecReceiver {
    let mut options = HecOptions::new(SUITE_SECRET);
    options.acks = acks;
    options.ack_after_polls = ack_after_polls;
    HecReceiver::start_with(options).await.unwrap()
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

struct HecHarness {
    receiver: HecReceiver,
    sink: Arc<dyn Sink>,
    acks: bool,
}

impl HecHarness {
    async fn start(acks: bool) -> Self {
        // Acks are held back for two polls, so every send of the suite waits for them.
        let receiver = collector(acks, 2).await;
        let sink = sink_for(&receiver, json!({"acks": acks, "ack_poll_ms": 10}));
        HecHarness {
            receiver,
            sink,
            acks,
        }
    }
}

#[async_trait]
impl SinkHarness for HecHarness {
    fn sink(&self) -> Arc<dyn Sink> {
        self.sink.clone()
    }

    async fn received(&self) -> Vec<Value> {
        self.receiver
            .events()
            .into_iter()
            .map(|e| e.event)
            .collect()
    }

    async fn unreachable(&self) -> Option<Arc<dyn Sink>> {
        let url = format!("http://127.0.0.1:{}", closed_port());
        Some(build(json!({"url": url, "acks": self.acks, "timeout_ms": 2000})).unwrap())
    }
}

mod without_acks {
    argus_sinks::sink_suite_tests!(crate::HecHarness::start(false).await);
}

mod with_acks {
    argus_sinks::sink_suite_tests!(crate::HecHarness::start(true).await);
}

#[tokio::test]
async fn the_envelope_carries_index_sourcetype_source_host_and_time() {
    let receiver = collector(false, 0).await;
    let sink = sink_for(
        &receiver,
        json!({"index": "security", "sourcetype": "argus:test", "source": "argus-eu", "host": "scanner-1"}),
    );
    let events = sample_events(1, 3);
    sink.send(&outgoing(&events)).await.unwrap();
    let got = receiver.events();
    assert_eq!(got.len(), 3);
    for (sent, got) in events.iter().zip(&got) {
        assert_eq!(got.index.as_deref(), Some("security"));
        assert_eq!(got.sourcetype.as_deref(), Some("argus:test"));
        assert_eq!(got.source.as_deref(), Some("argus-eu"));
        assert_eq!(got.host.as_deref(), Some("scanner-1"));
        let millis = (got.time.unwrap() * 1000.0).round() as i64;
        assert_eq!(millis, sent.time.timestamp_millis());
        assert_eq!(got.event["event_id"], sent.event_id);
    }
}

#[tokio::test]
async fn defaults_leave_index_and_host_to_the_collector() {
    let receiver = collector(false, 0).await;
    let sink = sink_for(&receiver, json!({}));
    assert_eq!(sink.max_batch(), 100);
    assert_eq!(sink.default_max_attempts(), None);
    sink.send(&outgoing(&sample_events(1, 1))).await.unwrap();
    let got = receiver.events();
    assert_eq!(got[0].sourcetype.as_deref(), Some("argus:event"));
    assert_eq!(got[0].source.as_deref(), Some("argus"));
    assert_eq!(got[0].index, None);
    assert_eq!(got[0].host, None);
}

#[tokio::test]
async fn a_wrong_token_is_rejected_and_not_shown() {
    let receiver = HecReceiver::start("another-token").await.unwrap();
    let sink = sink_for(&receiver, json!({}));
    match sink.send(&outgoing(&sample_events(1, 2))).await {
        Err(SinkError::Rejected(message)) => {
            assert!(message.contains("403"), "{message}");
            assert!(message.contains("Invalid token"), "{message}");
            assert!(!message.contains(SUITE_SECRET), "{message}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(receiver.events().is_empty());
}

#[tokio::test]
async fn a_busy_collector_is_retryable_and_the_batch_goes_through_once_it_is_back() {
    let receiver = collector(false, 0).await;
    let sink = sink_for(&receiver, json!({}));
    let batch = outgoing(&sample_events(1, 4));
    receiver.set_down(true);
    match sink.send(&batch).await {
        Err(SinkError::Retryable(message)) => assert!(message.contains("503"), "{message}"),
        other => panic!("expected a retryable error, got {other:?}"),
    }
    assert!(receiver.events().is_empty());
    receiver.set_down(false);
    sink.send(&batch).await.unwrap();
    assert_eq!(receiver.events().len(), 4);
}

#[tokio::test]
async fn a_busy_collector_while_acks_are_awaited_is_retryable() {
    let receiver = collector(true, 0).await;
    receiver.hold_acks(true);
    let sink = sink_for(&receiver, json!({"acks": true, "ack_poll_ms": 10}));
    let send = {
        let sink = sink.clone();
        tokio::spawn(async move { sink.send(&outgoing(&sample_events(1, 2))).await })
    };
    wait_until(|| receiver.ack_polls() >= 1).await;
    receiver.set_down(true);
    match send.await.unwrap() {
        Err(SinkError::Retryable(message)) => assert!(message.contains("503"), "{message}"),
        other => panic!("expected a retryable error, got {other:?}"),
    }
}

/// Polls `condition` every 10 ms for at most 10 s and fails the test if it never holds.
async fn wait_until(condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_returns_only_once_every_ack_id_is_true() {
    let receiver = collector(true, 0).await;
    receiver.hold_acks(true);
    let sink = sink_for(&receiver, json!({"acks": true, "ack_poll_ms": 10}));
    let send = {
        let sink = sink.clone();
        tokio::spawn(async move { sink.send(&outgoing(&sample_events(1, 5))).await })
    };
    // The events are in and the sink keeps asking; while the acks are held it must not have
    // returned.
    wait_until(|| receiver.ack_polls() >= 3).await;
    assert_eq!(receiver.events().len(), 5);
    assert_eq!(receiver.unacked(), vec![0]);
    assert!(!send.is_finished(), "send returned before its ack was true");
    receiver.hold_acks(false);
    send.await.unwrap().unwrap();
    assert_eq!(receiver.acked(), vec![0]);
    assert!(receiver.unacked().is_empty());
}

#[tokio::test]
async fn delayed_acks_are_polled_until_true() {
    let receiver = collector(true, 3).await;
    let sink = sink_for(&receiver, json!({"acks": true, "ack_poll_ms": 5}));
    sink.send(&outgoing(&sample_events(1, 3))).await.unwrap();
    // Three `false` answers, then the `true` that let `send` return.
    assert_eq!(receiver.ack_polls(), 4);
    assert_eq!(receiver.acked(), vec![0]);
    sink.send(&outgoing(&sample_events(4, 3))).await.unwrap();
    assert_eq!(receiver.acked(), vec![0, 1]);
    // Every request of the sink went on one channel.
    let channels: std::collections::BTreeSet<_> =
        receiver.events().into_iter().map(|e| e.channel).collect();
    assert_eq!(channels.len(), 1);
    assert!(channels.iter().all(Option::is_some));
}

#[tokio::test]
async fn acks_that_never_come_are_retryable_after_the_timeout() {
    let receiver = collector(true, 0).await;
    receiver.hold_acks(true);
    let sink = sink_for(
        &receiver,
        json!({"acks": true, "ack_poll_ms": 10, "ack_timeout_ms": 200}),
    );
    match sink.send(&outgoing(&sample_events(1, 2))).await {
        Err(SinkError::Retryable(message)) => {
            assert!(message.contains("not acknowledged"), "{message}")
        }
        other => panic!("expected a retryable error, got {other:?}"),
    }
    assert!(receiver.ack_polls() >= 2);
}

#[tokio::test]
async fn acks_on_against_a_collector_without_acks_still_deliver() {
    // The token has indexer acknowledgement off: the collector takes the events, gives no
    // ackId, and the sink counts them as sent rather than resending them for ever.
    let receiver = collector(false, 0).await;
    let sink = sink_for(&receiver, json!({"acks": true}));
    sink.send(&outgoing(&sample_events(1, 2))).await.unwrap();
    assert_eq!(receiver.events().len(), 2);
    assert_eq!(receiver.ack_polls(), 0);
}

async fn splits_by_bytes(acks: bool) {
    const LIMIT: usize = 2500;
    let mut options = HecOptions::new(SUITE_SECRET);
    options.acks = acks;
    options.ack_after_polls = 1;
    // The collector refuses (413) anything larger, so a request over the limit fails the send.
    options.max_content_length = LIMIT;
    let receiver = HecReceiver::start_with(options).await.unwrap();
    let sink = sink_for(
        &receiver,
        json!({"batch_bytes": LIMIT, "acks": acks, "ack_poll_ms": 5}),
    );
    let events = sample_events(1, 12);
    sink.send(&outgoing(&events)).await.unwrap();
    let sizes = receiver.request_sizes();
    assert!(sizes.len() > 1, "{sizes:?}");
    assert!(sizes.iter().all(|&s| s <= LIMIT), "{sizes:?}");
    let ids: Vec<i64> = receiver
        .events()
        .iter()
        .map(|e| e.event["event_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (1..=12).collect::<Vec<_>>());
    if acks {
        // One ack id per request, all of them awaited.
        assert_eq!(receiver.acked().len(), sizes.len());
        assert!(receiver.unacked().is_empty());
    }
}

#[tokio::test]
async fn a_batch_over_batch_bytes_goes_as_several_requests() {
    splits_by_bytes(false).await;
}

#[tokio::test]
async fn a_batch_over_batch_bytes_goes_as_several_acknowledged_requests() {
    splits_by_bytes(true).await;
}

#[tokio::test]
async fn more_events_than_max_events_go_as_several_requests() {
    let receiver = collector(false, 0).await;
    let sink = sink_for(&receiver, json!({"max_events": 10}));
    assert_eq!(sink.max_batch(), 10);
    sink.send(&outgoing(&sample_events(1, 25))).await.unwrap();
    assert_eq!(receiver.request_sizes().len(), 3);
    assert_eq!(receiver.events().len(), 25);
}

#[tokio::test]
async fn an_event_larger_than_batch_bytes_rejects_the_batch_before_sending() {
    let receiver = collector(false, 0).await;
    let sink = sink_for(&receiver, json!({"batch_bytes": 300}));
    match sink.send(&outgoing(&sample_events(1, 2))).await {
        Err(SinkError::Rejected(message)) => assert!(message.contains("batch_bytes"), "{message}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(receiver.request_sizes().is_empty());
}

#[tokio::test]
async fn the_token_never_shows() {
    let receiver = collector(true, 0).await;
    let config: Config = serde_json::from_value(json!({
        "url": receiver.url(), "token_env": TOKEN_VAR, "acks": true,
    }))
    .unwrap();
    let sink = SplunkHecSink::build(config, &doors()).unwrap();
    let debug = format!("{sink:?}");
    assert!(!debug.contains(SUITE_SECRET), "{debug}");
    assert_eq!(
        sink.endpoint(),
        format!("{}/services/collector/event", receiver.url())
    );
}

#[test]
fn build_errors_name_the_problem_and_never_a_value() {
    let err = build(json!({"url": "http://127.0.0.1:8088", "token_env": "ARGUS_NO_SUCH_VAR"}))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("ARGUS_NO_SUCH_VAR"), "{err}");
    let err = build(json!({"token_env": TOKEN_VAR}))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("url"), "{err}");
    let err = build(json!({"url": "http://127.0.0.1:8088", "tokn": "x"}))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("tokn"), "{err}");
    let err = build(json!({"url": "http://127.0.0.1:8088", "batch_bytes": 0}))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("batch_bytes"), "{err}");
    // Without a `token_env` at all.
    let catalog = argus_sinks::catalog();
    let factory = catalog.get("splunk_hec").unwrap();
    let err = factory
        .build_raw(
            "sinks.splunk_hec",
            Some(&json!({"url": "http://127.0.0.1:8088"})),
            &doors(),
        )
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("token_env"), "{err}");
}

/// The receiver itself answers as HEC does to what the sink never sends.
#[tokio::test]
async fn the_collector_refuses_like_hec() {
    let receiver = collector(true, 0).await;
    let client = reqwest::Client::new();
    let url = format!("{}/services/collector/event", receiver.url());
    let post = |auth: Option<&str>, channel: bool, body: &str| {
        let mut r = client.post(&url).body(body.to_owned());
        if let Some(auth) = auth {
            r = r.header("Authorization", auth);
        }
        if channel {
            r = r.header(
                "X-Splunk-Request-Channel",
                "11111111-2222-3333-4444-555555555555",
            );
        }
        r.send()
    };
    let good = format!("Splunk {SUITE_SECRET}");
    let cases: Vec<(Option<&str>, bool, &str, u16, u64)> = vec![
        (None, true, r#"{"event":1}"#, 401, 2),
        (Some("Bearer x"), true, r#"{"event":1}"#, 401, 3),
        (Some("Splunk wrong"), true, r#"{"event":1}"#, 403, 4),
        (Some(&good), false, r#"{"event":1}"#, 400, 10),
        (Some(&good), true, "", 400, 5),
        (Some(&good), true, r#"{"event":1}{"event":"#, 400, 6),
        (Some(&good), true, r#"{"event":1}{"time":1}"#, 400, 12),
        (Some(&good), true, r#"{"event":1}{"event":2}"#, 200, 0),
    ];
    for (auth, channel, body, status, code) in cases {
        let r = post(auth, channel, body).await.unwrap();
        let got = r.status().as_u16();
        let answer: Value = r.json().await.unwrap();
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["code"], code, "{body}: {answer}");
    }
    let malformed = post(Some(&good), true, r#"{"event":1}{"event":"#)
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(malformed["invalid-event-number"], 1);
    // Only the good request was recorded.
    assert_eq!(receiver.events().len(), 2);
}
