//! The cross-process event bus on a real RabbitMQ (`ARGUS_TEST_AMQP_URL`; skips without it, fails
//! without it under `CI=true`): two bus instances on one (uuid-named) exchange stand for two
//! processes.
#![cfg(feature = "amqp")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use argus_core::bus::EventBus;
use argus_core::event::{Event, EventData};
use argus_core::scan::Progress;
use argus_core::testkit::service_url;
use argus_core::{CoreError, OrgId, ScanId};
use argus_queue::AmqpEventBus;
use tokio::sync::broadcast;
use tokio::time::Instant;

fn events(scan: ScanId, ids: std::ops::Range<i64>) -> Vec<Event> {
    let org = OrgId::parse("org-bus").unwrap();
    ids.map(|id| Event {
        id,
        scan_id: scan,
        org_id: org.clone(),
        data: EventData::Progress(Progress {
            done: u64::try_from(id).unwrap(),
            ..Progress::default()
        }),
        at: chrono::Utc::now(),
    })
    .collect()
}

/// Receives until `n` events arrived or the deadline passes.
async fn receive(rx: &mut broadcast::Receiver<std::sync::Arc<Event>>, n: usize) -> Vec<Event> {
    let end = Instant::now() + Duration::from_secs(15);
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout_at(end, rx.recv()).await {
            Ok(Ok(e)) => out.push((*e).clone()),
            Ok(Err(e)) => panic!("receiver failed: {e}"),
            Err(_) => break,
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_on_one_instance_reach_another_in_order() {
    let Some(url) = service_url("ARGUS_TEST_AMQP_URL") else {
        return;
    };
    let exchange = format!("argus.test.events.{}", uuid::Uuid::now_v7().simple());
    let a = AmqpEventBus::connect(&url, &exchange).await.unwrap();
    let b = AmqpEventBus::connect(&url, &exchange).await.unwrap();
    let mut on_a = a.subscribe();
    let mut on_b = b.subscribe();

    let scan = ScanId::new();
    let sent = events(scan, 1..501);
    for chunk in sent.chunks(50) {
        a.publish(chunk);
    }

    let got = receive(&mut on_b, sent.len()).await;
    assert_eq!(
        got.len(),
        sent.len(),
        "B received {} of {}",
        got.len(),
        sent.len()
    );
    assert_eq!(
        got, sent,
        "B receives A's events intact and in publish order"
    );
    // A's own subscribers get them too, exactly once (locally, not again through the broker).
    let mine = receive(&mut on_a, sent.len()).await;
    assert_eq!(mine, sent);

    // And the other way round, with a second scan interleaved.
    let other = ScanId::new();
    let back: Vec<Event> = events(other, 1000..1100);
    b.publish(&back);
    let got = receive(&mut on_a, back.len()).await;
    assert_eq!(got, back);

    // Nothing extra arrives anywhere: no echo of A's events on A, none of B's on B twice.
    let b_own = receive(&mut on_b, back.len()).await;
    assert_eq!(b_own, back);
    let quiet_a = tokio::time::timeout(Duration::from_millis(300), on_a.recv()).await;
    assert!(quiet_a.is_err(), "A received an extra event: {quiet_a:?}");
    let quiet_b = tokio::time::timeout(Duration::from_millis(300), on_b.recv()).await;
    assert!(quiet_b.is_err(), "B received an extra event: {quiet_b:?}");
    assert_eq!((a.dropped(), b.dropped()), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_broker_is_reported_without_the_password() {
    // Needs no broker: port 1 on loopback refuses at once. Still only run where a broker is
    // configured, like the other checks of this file.
    if service_url("ARGUS_TEST_AMQP_URL").is_none() {
        return;
    }
    let err = AmqpEventBus::connect("amqp://argus:hunter2@127.0.0.1:1/%2f", "argus.events")
        .await
        .expect_err("connected to a closed port");
    assert!(matches!(err, CoreError::Unavailable { .. }), "{err}");
    let shown = err.to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("argus:****@127.0.0.1:1"), "{shown}");

    let err = argus_queue::AmqpQueue::connect(
        "amqp://argus:hunter2@127.0.0.1:1/%2f",
        argus_queue::AmqpOptions::default(),
    )
    .await
    .expect_err("connected to a closed port");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = argus_queue::AmqpQueue::connect("not a url", argus_queue::AmqpOptions::default())
        .await
        .expect_err("accepted a malformed URL");
    assert!(matches!(err, CoreError::Invalid { .. }), "{err}");
}
