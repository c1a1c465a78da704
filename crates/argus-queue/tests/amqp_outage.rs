//! A broker outage mid-work, through a TCP proxy this test cuts and restores (needs
//! `ARGUS_TEST_AMQP_URL`; skips without it, fails without it under `CI=true`).
//!
//! While cut: `ping`, `enqueue` and `depth` fail promptly with `Unavailable`, and acks with the
//! dead connection's leases are no-ops. After restore, without rebuilding the `AmqpQueue`: the
//! deliveries held when the connection died come back (attempt 2), every task enqueued before the
//! cut is delivered, and new work flows again.
#![cfg(feature = "amqp")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argus_core::queue::{Queue, QueueDepth};
use argus_core::scan::Priority;
use argus_core::testkit::queue_suite::task;
use argus_core::testkit::service_url;
use argus_core::{CoreError, ScanId, TaskId};
use argus_queue::{AmqpOptions, AmqpQueue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;

const LONG: Duration = Duration::from_secs(120);

/// A TCP forwarder to the broker that can be cut (every connection closed, new ones refused)
/// and restored.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
    flowing: Arc<watch::Sender<bool>>,
    accept: AbortHandle,
}

/// Copies one direction, holding bytes while the proxy is stalled.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut flowing: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if flowing.wait_for(|f| *f).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let flowing = Arc::new(watch::Sender::new(true));
        let (up2, conns2, flowing2) = (Arc::clone(&up), Arc::clone(&conns), Arc::clone(&flowing));
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound); // refused while cut
                    continue;
                }
                let flowing = flowing2.subscribe();
                let pipe = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(upstream).await {
                        let (ri, wi) = inbound.into_split();
                        let (ro, wo) = outbound.into_split();
                        tokio::join!(pump(ri, wo, flowing.clone()), pump(ro, wi, flowing));
                    }
                });
                conns2.lock().unwrap().push(pipe.abort_handle());
            }
        })
        .abort_handle();
        Proxy {
            addr,
            up,
            conns,
            flowing,
            accept,
        }
    }

    /// Stops forwarding bytes but keeps every connection open: a broker that hangs, or a network
    /// that drops packets without resetting anything.
    fn stall(&self) {
        self.flowing.send_replace(false);
    }

    /// Forwards again, held bytes first.
    fn unstall(&self) {
        self.flowing.send_replace(true);
    }

    /// Closes every proxied connection (both ends) and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// `url` with its host and port replaced by `addr`.
fn via(url: &str, addr: SocketAddr) -> (String, SocketAddr) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, rest) = match rest.rsplit_once('@') {
        Some((u, r)) => (format!("{u}@"), r),
        None => (String::new(), rest),
    };
    let (hostport, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let upstream: SocketAddr = hostport.parse().expect("test URL must use an IPv4 address");
    (format!("{scheme}://{userinfo}{addr}{path}"), upstream)
}

/// Whether `limit` (from `start`) has passed: every wait below polls with such a deadline.
fn before(start: Instant, limit: Duration) -> bool {
    start.elapsed() < limit
}

/// A proxy to the broker of `url` and a fresh queue connected through it.
async fn behind_proxy(url: &str, prefetch: u16) -> (Proxy, AmqpQueue) {
    let upstream = via(url, "127.0.0.1:1".parse().unwrap()).1;
    let proxy = Proxy::start(upstream).await;
    let (proxied, _) = via(url, proxy.addr);
    let q = AmqpQueue::connect(
        &proxied,
        AmqpOptions {
            queue: format!("argus.test.{}", uuid::Uuid::now_v7().simple()),
            prefetch,
            connect_timeout: Duration::from_secs(2),
        },
    )
    .await
    .unwrap();
    (proxy, q)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_loses_nothing_and_recovers_without_restart() {
    let Some(url) = service_url("ARGUS_TEST_AMQP_URL") else {
        return;
    };
    let (proxy, q) = behind_proxy(&url, 4).await;

    // Prefetch 4 < 10 tasks: some stay in the broker, some are buffered here, some leased.
    let scan = ScanId::new();
    let tasks: Vec<_> = (0..10).map(|n| task(scan, Priority::Medium, n)).collect();
    q.enqueue(&tasks).await.unwrap();
    let mut held = Vec::new();
    let t0 = Instant::now();
    while held.len() < 3 && before(t0, Duration::from_secs(15)) {
        held.extend(
            q.claim(3 - held.len(), LONG, Duration::from_secs(1))
                .await
                .unwrap(),
        );
    }
    assert_eq!(held.len(), 3, "3 deliveries before the cut");
    assert!(held.iter().all(|d| d.attempt == 1));
    q.ping().await.unwrap();

    // --- the broker goes away mid-work ---
    proxy.cut();
    let cut_at = Instant::now();
    let mut failed = None;
    while failed.is_none() && before(cut_at, Duration::from_secs(5)) {
        let t0 = Instant::now();
        failed = q.ping().await.err();
        assert!(
            t0.elapsed() < Duration::from_millis(1500),
            "ping took {:?}",
            t0.elapsed()
        );
    }
    let err = failed.expect("ping keeps succeeding after the cut");
    assert!(
        matches!(err, CoreError::Unavailable { .. }),
        "ping error: {err}"
    );
    // The loss is noticed (not just met by a failing call): the queue says it is reconnecting,
    // naming the broker without its password.
    let mut noticed = None;
    while noticed.is_none() && before(cut_at, Duration::from_secs(5)) {
        if let Err(e) = q.ping().await {
            let shown = e.to_string();
            assert!(!shown.contains(":guest@"), "password shown: {shown}");
            noticed = shown.contains("reconnecting").then_some(shown);
        }
        tokio::task::yield_now().await;
    }
    let shown = noticed.expect("the connection loss was not noticed within 5 s");
    assert!(shown.contains(":****@"), "{shown}");

    let extra = task(scan, Priority::High, 100);
    let t0 = Instant::now();
    let err = q
        .enqueue(std::slice::from_ref(&extra))
        .await
        .expect_err("enqueue succeeded while the broker is unreachable");
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "enqueue took {:?} to fail",
        t0.elapsed()
    );
    assert!(
        matches!(err, CoreError::Unavailable { .. }),
        "enqueue error: {err}"
    );
    assert!(
        !err.to_string().contains(":guest@"),
        "password shown: {err}"
    );
    assert!(matches!(
        q.depth().await,
        Err(CoreError::Unavailable { .. })
    ));
    // Leases of the dead connection: stale, so no-ops rather than errors.
    let old: Vec<_> = held.iter().map(|d| d.lease).collect();
    q.ack(&old).await.unwrap();
    q.renew(&old, LONG).await.unwrap();

    // --- the broker comes back; the same queue object recovers by itself ---
    proxy.restore();
    let restored_at = Instant::now();
    let mut back = false;
    while !back && before(restored_at, Duration::from_secs(30)) {
        back = q.ping().await.is_ok();
        tokio::task::yield_now().await;
    }
    assert!(back, "no reconnection within 30 s of the restore");

    // Worked like a worker of concurrency 4 (the prefetch): each batch is acked before the next.
    let mut seen: HashMap<TaskId, u32> = HashMap::new();
    let t0 = Instant::now();
    while seen.len() < tasks.len() && before(t0, Duration::from_secs(30)) {
        let got = q.claim(4, LONG, Duration::from_millis(500)).await.unwrap();
        for d in &got {
            assert!(
                seen.insert(d.task.id, d.attempt).is_none(),
                "{} delivered twice",
                d.task.id
            );
        }
        // The old tokens are still no-ops: they release none of the new leases.
        q.ack(&old).await.unwrap();
        assert_eq!(q.depth().await.unwrap().leased, got.len() as u64);
        q.ack(&got.iter().map(|d| d.lease).collect::<Vec<_>>())
            .await
            .unwrap();
    }
    assert!(
        seen.len() == tasks.len(),
        "only {} of {} tasks came back after the outage",
        seen.len(),
        tasks.len()
    );
    let expected: HashSet<TaskId> = tasks.iter().map(|t| t.id).collect();
    assert_eq!(seen.keys().copied().collect::<HashSet<_>>(), expected);
    for d in &held {
        assert_eq!(
            seen[&d.task.id], 2,
            "a delivery held when the connection died comes back as attempt 2"
        );
    }
    assert!(seen.values().all(|a| (1..=2).contains(a)), "{seen:?}");

    // New work flows on the same object.
    q.enqueue(std::slice::from_ref(&extra)).await.unwrap();
    let t0 = Instant::now();
    let mut again = None;
    while again.is_none() && before(t0, Duration::from_secs(15)) {
        again = q
            .claim(1, LONG, Duration::from_secs(1))
            .await
            .unwrap()
            .pop();
    }
    let again = again.expect("a task enqueued after the restore is delivered");
    assert_eq!((again.task.id, again.attempt), (extra.id, 1));
    q.ack(&[again.lease]).await.unwrap();
    let empty = QueueDepth::default();
    assert_eq!(q.depth().await.unwrap(), empty);

    q.delete_topology().await.unwrap();
}

/// A broker that stops answering without closing anything: `ping` still answers (fails) within
/// about a second, so `/readyz` turns 503 promptly; when traffic flows again the queue works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_fails_within_a_second_when_the_broker_stalls() {
    let Some(url) = service_url("ARGUS_TEST_AMQP_URL") else {
        return;
    };
    let (proxy, q) = behind_proxy(&url, 4).await;
    q.ping().await.unwrap();

    proxy.stall();
    let t0 = Instant::now();
    let err = q
        .ping()
        .await
        .expect_err("ping succeeded through a stalled connection");
    assert!(
        t0.elapsed() < Duration::from_millis(1500),
        "ping took {:?} to fail",
        t0.elapsed()
    );
    assert!(matches!(err, CoreError::Unavailable { .. }), "{err}");

    proxy.unstall();
    let t0 = Instant::now();
    let mut ok = false;
    while !ok && before(t0, Duration::from_secs(30)) {
        ok = q.ping().await.is_ok();
        tokio::task::yield_now().await;
    }
    assert!(ok, "ping does not recover once traffic flows again");
    let t = task(ScanId::new(), Priority::Low, 1);
    q.enqueue(std::slice::from_ref(&t)).await.unwrap();
    let mut got = None;
    while got.is_none() && before(t0, Duration::from_secs(30)) {
        got = q
            .claim(1, LONG, Duration::from_secs(1))
            .await
            .unwrap()
            .pop();
    }
    let d = got.expect("no delivery after the stall");
    assert_eq!(d.task.id, t.id);
    q.ack(&[d.lease]).await.unwrap();
    q.delete_topology().await.unwrap();
}

/// The event bus resubscribes by itself: after its connection was cut and restored, a bus
/// instance receives (and sends) events again, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_bus_resubscribes_after_a_reconnect() {
    use argus_core::bus::EventBus;
    use argus_core::event::{Event, EventData};
    use argus_core::scan::Progress;

    let Some(url) = service_url("ARGUS_TEST_AMQP_URL") else {
        return;
    };
    let upstream = via(&url, "127.0.0.1:1".parse().unwrap()).1;
    let proxy = Proxy::start(upstream).await;
    let (proxied, _) = via(&url, proxy.addr);
    let exchange = format!("argus.test.events.{}", uuid::Uuid::now_v7().simple());
    let direct = argus_queue::AmqpEventBus::connect(&url, &exchange)
        .await
        .unwrap();
    let cut_off = argus_queue::AmqpEventBus::connect(&proxied, &exchange)
        .await
        .unwrap();
    let mut rx_cut = cut_off.subscribe();
    let mut rx_direct = direct.subscribe();
    let scan = ScanId::new();
    let org = argus_core::OrgId::parse("org-bus").unwrap();
    let event = |id: i64| Event {
        id,
        scan_id: scan,
        org_id: org.clone(),
        data: EventData::Progress(Progress::default()),
        at: chrono::Utc::now(),
    };

    proxy.cut();
    proxy.restore();
    // Probe until the cut-off instance hears the other one again.
    let t0 = Instant::now();
    let mut heard = false;
    let mut probe = 0;
    while !heard && before(t0, Duration::from_secs(30)) {
        probe += 1;
        direct.publish(&[event(probe)]);
        heard = tokio::time::timeout(Duration::from_millis(200), rx_cut.recv())
            .await
            .is_ok_and(|r| r.is_ok());
    }
    assert!(heard, "no event received within 30 s of the restore");

    // Both directions, in order.
    let batch: Vec<Event> = (10_000..10_100).map(event).collect();
    direct.publish(&batch);
    cut_off.publish(&batch);
    let want: Vec<i64> = batch.iter().map(|e| e.id).collect();
    for (name, rx) in [("cut-off", &mut rx_cut), ("direct", &mut rx_direct)] {
        // Each side sees the batch twice, its own copy locally and the other's through the
        // broker, possibly interleaved: split greedily into two copies, each must be in order.
        let (mut p1, mut p2) = (0, 0);
        let t0 = Instant::now();
        while (p1 < want.len() || p2 < want.len()) && before(t0, Duration::from_secs(15)) {
            match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
                Ok(Ok(e)) if e.id >= 10_000 => {
                    if want.get(p1) == Some(&e.id) {
                        p1 += 1;
                    } else if want.get(p2) == Some(&e.id) {
                        p2 += 1;
                    } else {
                        panic!("{name}: {} out of order (copies at {p1} and {p2})", e.id);
                    }
                }
                Ok(Ok(_)) => {} // late probes
                Ok(Err(e)) => panic!("{name}: {e}"),
                Err(_) => {}
            }
        }
        assert_eq!(
            (p1, p2),
            (want.len(), want.len()),
            "{name}: both copies, complete"
        );
    }
}
