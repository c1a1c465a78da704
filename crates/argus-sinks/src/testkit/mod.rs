//! Test support (feature `testkit`): the shared suite every destination passes, sample events,
//! and local receivers that speak each destination's wire protocol (one file per receiver).
//!
//! A destination's suite line, in `tests/sink_suite.rs`:
//! ```ignore
//! mod syslog_tcp {
//!     argus_sinks::sink_suite_tests!(crate::SyslogTcpHarness::start().await);
//! }
//! ```

pub mod hec;
pub mod pusher;
pub mod sentinel;
pub mod syslog;
pub mod webhook;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use std::sync::Arc;

use argus_core::finding::{Location, SecretDigest, Severity};
use argus_core::ids::{FindingId, ScanId};
use argus_core::scan::ScanState;
use argus_core::sink::{
    LifecycleAction, Outgoing, ScanLifecycle, ScanResult, Sink, SinkError, SinkEvent, SinkPayload,
    MASKED, SCHEMA_VERSION,
};

/// A destination under test: a running local receiver and a sink pointed at it.
#[async_trait]
pub trait SinkHarness: Send + Sync {
    /// The sink, delivering to this harness's receiver.
    fn sink(&self) -> Arc<dyn Sink>;

    /// Every event the receiver decoded so far, in arrival order, each as the JSON object of
    /// the [`SinkEvent`] it carried (the receiver undoes the destination's envelope: syslog
    /// header and framing, HEC's `event`, CloudWatch's `message`, …) after checking the
    /// request's authentication exactly as the real service does.
    async fn received(&self) -> Vec<Value>;

    /// A sink of the same kind whose destination does not answer (nothing listens), or `None`
    /// for a transport that cannot tell (UDP).
    async fn unreachable(&self) -> Option<Arc<dyn Sink>>;
}

/// `n` sample events with ids `first..first+n`: results of every severity (one with a secret
/// digest, one with a malware verdict and action) and lifecycle events between them.
pub fn sample_events(first: i64, n: usize) -> Vec<SinkEvent> {
    let scan = ScanId::new();
    (0..n)
        .map(|i| {
            let id = first + i as i64;
            let payload = if i % 5 == 4 {
                SinkPayload::ScanLifecycle(ScanLifecycle {
                    action: LifecycleAction::Completed,
                    from: ScanState::Running,
                    to: ScanState::Completed,
                    reason: None,
                    counters: None,
                })
            } else {
                let severity = Severity::ALL[i % Severity::ALL.len()];
                SinkPayload::ScanResult(ScanResult {
                    finding_id: FindingId::new(),
                    task_id: None,
                    scanner: if i % 2 == 0 { "secrets" } else { "yara" }.into(),
                    target_kind: "repo".into(),
                    target: "https://git.example.com/team/app.git".into(),
                    location: Location {
                        path: Some(format!("src/config-{i}.py")),
                        line: Some(i as u64 + 1),
                        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
                        url: None,
                    },
                    finding_kind: "aws-access-key-id".into(),
                    severity,
                    title: format!("finding number {i} with \"quotes\", ] brackets and ü"),
                    description: None,
                    rule: Some("aws-access-key-id".into()),
                    verdict: (i % 2 == 1).then(|| "malicious".into()),
                    action: None,
                    fingerprint: format!("fp-{id}"),
                    secret: (i % 2 == 0).then(|| SecretDigest::of("AKIAEXAMPLEEXAMPLE12")),
                    data: json!({ "n": i }),
                })
            };
            SinkEvent {
                schema: "argus.event".into(),
                schema_version: SCHEMA_VERSION,
                event_id: id,
                time: Utc
                    .timestamp_millis_opt(1_780_000_000_000 + id * 1000)
                    .single()
                    .unwrap_or_else(Utc::now),
                org_id: "acme".into(),
                scan_id: scan,
                payload,
            }
        })
        .collect()
}

/// The events as sent unchanged.
pub fn outgoing(events: &[SinkEvent]) -> Vec<Outgoing> {
    events.iter().cloned().map(Outgoing::new).collect()
}

/// Polls `harness.received()` until it holds at least `n` events or `within` passes, and
/// returns what it holds then.
pub async fn wait_for(harness: &dyn SinkHarness, n: usize, within: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let got = harness.received().await;
        if got.len() >= n || tokio::time::Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ids(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e["event_id"].as_i64().unwrap_or(-1))
        .collect()
}

/// Three batches arrive, every event once, in order, with its id, kind, scan and severity.
pub async fn delivers_every_event_in_order(h: &dyn SinkHarness) {
    let sink = h.sink();
    let events = sample_events(1, 30);
    for chunk in events.chunks(10) {
        sink.send(&outgoing(chunk))
            .await
            .expect("the receiver is up");
    }
    let got = wait_for(h, 30, Duration::from_secs(10)).await;
    assert_eq!(ids(&got), (1..=30).collect::<Vec<_>>());
    for (sent, got) in events.iter().zip(&got) {
        assert_eq!(got["kind"], sent.kind().as_str());
        assert_eq!(got["scan_id"], sent.scan_id.to_string());
        assert_eq!(got["schema_version"], SCHEMA_VERSION);
        if let SinkPayload::ScanResult(r) = &sent.payload {
            assert_eq!(got["severity"], r.severity.as_str());
            assert_eq!(got["title"], r.title);
        }
    }
}

/// A batch of the sink's own maximum size goes through whole.
pub async fn takes_a_full_batch(h: &dyn SinkHarness) {
    let sink = h.sink();
    let n = sink.max_batch().clamp(1, 1000);
    sink.send(&outgoing(&sample_events(100, n)))
        .await
        .expect("a full batch");
    let got = wait_for(h, n, Duration::from_secs(20)).await;
    assert_eq!(ids(&got), (100..100 + n as i64).collect::<Vec<_>>());
}

/// A destination that does not answer is a retryable error, not a success or a panic.
pub async fn unreachable_is_retryable(h: &dyn SinkHarness) {
    let Some(sink) = h.unreachable().await else {
        return;
    };
    match sink.send(&outgoing(&sample_events(1, 2))).await {
        Err(SinkError::Retryable(_)) => {}
        other => panic!("expected a retryable error, got {other:?}"),
    }
}

/// Sending a batch again (at-least-once) is accepted; the receiver sees the same ids twice.
pub async fn resending_is_accepted(h: &dyn SinkHarness) {
    let sink = h.sink();
    let batch = outgoing(&sample_events(7, 3));
    sink.send(&batch).await.expect("first");
    sink.send(&batch).await.expect("again");
    let got = wait_for(h, 6, Duration::from_secs(10)).await;
    assert_eq!(ids(&got), vec![7, 8, 9, 7, 8, 9]);
}

/// What goes out is the body (masked, truncated), not the event as it was.
pub async fn sends_the_masked_body(h: &dyn SinkHarness) {
    let sink = h.sink();
    let mut batch = outgoing(&sample_events(40, 2));
    for o in &mut batch {
        o.body["title"] = Value::from(MASKED);
        if let Some(map) = o.body.as_object_mut() {
            map.remove("secret");
        }
    }
    sink.send(&batch).await.expect("the receiver is up");
    let got = wait_for(h, 2, Duration::from_secs(10)).await;
    assert_eq!(ids(&got), vec![40, 41]);
    for e in &got {
        if e["kind"] == "scan_result" {
            assert_eq!(e["title"], MASKED, "{e}");
            assert!(e.get("secret").is_none(), "{e}");
        }
    }
}

/// The endpoint shown to operators carries no credential of the sink's config.
pub async fn endpoint_shows_no_credentials(h: &dyn SinkHarness) {
    let shown = h.sink().endpoint();
    for needle in [SUITE_SECRET, "Splunk ", "Bearer "] {
        assert!(!shown.contains(needle), "{shown}");
    }
}

/// The credential every harness configures (token, HMAC secret, key), so the suite can check
/// that it is never shown.
pub const SUITE_SECRET: &str = "suite-secret-3f9a1c";

/// One `#[tokio::test]` per check of the shared sink suite, for a harness expression
/// (evaluated inside each test).
#[macro_export]
macro_rules! sink_suite_tests {
    ($harness:expr) => {
        $crate::sink_suite_tests!(@each $harness;
            delivers_every_event_in_order,
            takes_a_full_batch,
            unreachable_is_retryable,
            resending_is_accepted,
            sends_the_masked_body,
            endpoint_shows_no_credentials,
        );
    };
    (@each $harness:expr; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let harness = $harness;
                $crate::testkit::$check(&harness).await;
            }
        )*
    };
}
