//! The `pusher` destination against the local Pusher HTTP API receiver
//! (`argus_sinks::testkit::pusher`), which checks signatures as Pusher's server does: the
//! shared sink suite (what a subscriber of each scan channel got), channel naming, reduced
//! bodies, and tampered, stale or wrongly keyed requests refused.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use argus_core::component::{BuildError, Doors, Factory};
use argus_core::door::FixedEnv;
use argus_core::sink::{Sink, SinkError};
use argus_sinks::encoding::pusher::MAX_DATA_BYTES;
use argus_sinks::pusher::{signed_query, PusherFactory};
use argus_sinks::testkit::pusher::{PusherReceiver, PusherReceiverConfig};
use argus_sinks::testkit::{outgoing, sample_events, SinkHarness, SUITE_SECRET};
use async_trait::async_trait;
use serde_json::{json, Value};

fn doors() -> Doors {
    let env = BTreeMap::from([
        ("PUSHER_SECRET".to_owned(), SUITE_SECRET.to_owned()),
        ("PUSHER_WRONG".to_owned(), "another-secret".to_owned()),
    ]);
    Doors::new(argus_scanners::process::door())
        .with_http(Arc::new(argus_scanners::http::ReqwestDoor::new()))
        .with_env(Arc::new(FixedEnv(env)))
}

fn config(url: &str, c: &PusherReceiverConfig) -> Value {
    json!({
        "app_id": c.app_id,
        "key": c.key,
        "secret_env": "PUSHER_SECRET",
        "url": url,
        "timeout_ms": 5000,
    })
}

fn build(config: Value) -> Result<Arc<dyn Sink>, BuildError> {
    let config = serde_json::from_value(config).expect("a valid table");
    Ok(PusherFactory
        .build(config, &doors())?
        .pop()
        .expect("one sink"))
}

struct PusherHarness {
    receiver: PusherReceiver,
    sink: Arc<dyn Sink>,
}

impl PusherHarness {
    async fn start() -> Self {
        let receiver = PusherReceiver::start(PusherReceiverConfig::default())
            .await
            .unwrap();
        let sink = build(config(&receiver.url(), receiver.config())).unwrap();
        PusherHarness { receiver, sink }
    }
}

#[async_trait]
impl SinkHarness for PusherHarness {
    fn sink(&self) -> Arc<dyn Sink> {
        self.sink.clone()
    }

    /// What subscribers of the scan channels got (each event is on exactly one).
    async fn received(&self) -> Vec<Value> {
        self.receiver
            .events()
            .into_iter()
            .filter(|e| e.channel.starts_with("argus-scan-"))
            .map(|e| e.data)
            .collect()
    }

    async fn unreachable(&self) -> Option<Arc<dyn Sink>> {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{closed}");
        Some(build(config(&url, self.receiver.config())).unwrap())
    }
}

argus_sinks::sink_suite_tests!(crate::PusherHarness::start().await);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_go_to_the_org_and_scan_channels_under_the_kind() {
    let h = PusherHarness::start().await;
    let mut batch = outgoing(&sample_events(1, 5));
    batch[0].event.org_id = "acme corp/eu".into();
    h.sink.send(&batch[..1]).await.unwrap();
    let got = h.receiver.events();
    let channels: Vec<&str> = got.iter().map(|e| e.channel.as_str()).collect();
    let scan = format!("argus-scan-{}", batch[0].event.scan_id);
    assert_eq!(channels, vec!["argus-org-acme_corp_eu", scan.as_str()]);
    assert!(got.iter().all(|e| e.name == "scan_result"));
    assert_eq!(got[0].data, batch[0].body);

    // A lifecycle event is named by its kind; a configured name and prefix replace both.
    h.sink.send(&batch[4..5]).await.unwrap();
    assert_eq!(h.receiver.events()[2].name, "scan_lifecycle");
    let mut c = config(&h.receiver.url(), h.receiver.config());
    c["event_name"] = Value::from("argus-event");
    c["channel_prefix"] = Value::from("team-a");
    build(c).unwrap().send(&batch[1..2]).await.unwrap();
    let last = h.receiver.events();
    assert_eq!(last[4].channel, "team-a-org-acme");
    assert_eq!(last[4].name, "argus-event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_10kb_arrives_reduced_and_marked() {
    let h = PusherHarness::start().await;
    let mut batch = outgoing(&sample_events(1, 1));
    batch[0].body["description"] = Value::from("d".repeat(3 * MAX_DATA_BYTES));
    h.sink.send(&batch).await.unwrap();
    let got = &h.receiver.events()[0].data;
    assert_eq!(got["truncated"], true);
    assert_eq!(got["event_id"], 1);
    assert!(got.to_string().len() <= MAX_DATA_BYTES);
    assert!(h.receiver.refusals().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_rejected() {
    let h = PusherHarness::start().await;
    let mut c = config(&h.receiver.url(), h.receiver.config());
    c["secret_env"] = Value::from("PUSHER_WRONG");
    match build(c)
        .unwrap()
        .send(&outgoing(&sample_events(1, 1)))
        .await
    {
        Err(SinkError::Rejected(m)) => {
            assert!(m.contains("401"), "{m}");
            assert!(!m.contains("another-secret"), "{m}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(h.receiver.events().is_empty());
}

/// Requests signed by hand: the untouched one is accepted, then a tampered signature, a body
/// changed after signing and a stale timestamp are each refused with 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_or_stale_requests_are_refused() {
    let h = PusherHarness::start().await;
    let c = h.receiver.config().clone();
    let path = format!("/apps/{}/events", c.app_id);
    let body = br#"{"name":"e","channels":["argus-scan-x"],"data":"{\"n\":1}"}"#.to_vec();
    let client = reqwest::Client::new();
    let post = |query: String, body: Vec<u8>| {
        let url = format!("{}{path}?{query}", h.receiver.url());
        let client = client.clone();
        async move {
            client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let now = chrono::Utc::now().timestamp();
    let good = signed_query(&c.key, &c.secret, &path, &body, now);
    assert_eq!(post(good.clone(), body.clone()).await, 200);

    // One hex digit of the signature changed.
    let last = good.chars().last().unwrap();
    let flipped = if last == '0' { '1' } else { '0' };
    let tampered = format!("{}{flipped}", &good[..good.len() - 1]);
    assert_eq!(post(tampered, body.clone()).await, 401);

    // The body changed after signing.
    let other = br#"{"name":"e","channels":["argus-scan-x"],"data":"{\"n\":2}"}"#.to_vec();
    assert_eq!(post(good, other).await, 401);

    // Signed correctly, but 11 minutes ago.
    let stale = signed_query(&c.key, &c.secret, &path, &body, now - 660);
    assert_eq!(post(stale, body.clone()).await, 401);

    let reasons: Vec<String> = h.receiver.refusals().into_iter().map(|r| r.1).collect();
    assert!(reasons[0].starts_with("Invalid signature"), "{reasons:?}");
    assert!(reasons[1].starts_with("MD5 of body"), "{reasons:?}");
    assert!(reasons[2].starts_with("Timestamp expired"), "{reasons:?}");
    assert_eq!(h.receiver.events().len(), 1);
}

#[test]
fn settings_are_checked_and_the_endpoint_shows_no_secret() {
    let c = PusherReceiverConfig::default();
    let mut t = config("http://127.0.0.1:1", &c);
    t.as_object_mut().unwrap().remove("url");
    let e = build(t.clone()).err().unwrap().to_string();
    assert!(e.contains("cluster, host or url"), "{e}");

    t["cluster"] = Value::from("eu");
    let sink = build(t).unwrap();
    assert_eq!(
        sink.endpoint(),
        format!("https://api-eu.pusher.com/apps/{}/events", c.app_id)
    );
    assert!(!sink.endpoint().contains(SUITE_SECRET));

    let mut t = config("http://127.0.0.1:1", &c);
    t["secret_env"] = Value::from("PUSHER_UNSET");
    let e = build(t).err().unwrap().to_string();
    assert!(e.contains("PUSHER_UNSET"), "{e}");
}
