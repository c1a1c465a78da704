//! The queue and the event bus over `amqps://` with a private CA, against the real RabbitMQ of
//! `ARGUS_TEST_AMQP_URL` (skips without it, fails without it under `CI=true`).
//!
//! The broker itself listens in plaintext, so each test puts a TLS-terminating proxy in front of
//! it: a real rustls server on a free loopback port, its certificate (for `localhost` only)
//! issued by a CA made here with rcgen, relaying the bytes of every accepted connection to the
//! broker. The client side is the production code path: `amqps://…@localhost:PORT/…
//! ?cacertfile=CA.pem`, a full TLS handshake with certificate and host-name verification, then
//! AMQP inside the tunnel. Checked: the queue conformance checks and the event bus work through
//! it; a wrong CA, no CA, or a host name the certificate does not name all fail with an error
//! that says so (and never shows the password); a proxy that requires client certificates
//! accepts `certfile`/`keyfile` and refuses a client without them.
#![cfg(feature = "amqp")]
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use argus_core::bus::EventBus;
use argus_core::event::{Event, EventData};
use argus_core::queue::Queue;
use argus_core::scan::{Priority, Progress};
use argus_core::testkit::queue_suite::{self, Fixture, QueueHarness};
use argus_core::testkit::service_url;
use argus_core::{CoreError, OrgId, ScanId};
use argus_queue::{AmqpEventBus, AmqpOptions, AmqpQueue};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};

/// A CA and a certificate it issued.
struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    cert: CertificateDer<'static>,
    key: Vec<u8>,
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    /// A fresh CA named `ca_name` and a certificate for `names`.
    fn new(ca_name: &str, names: &[&str]) -> Pki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = ca.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut leaf = rcgen::CertificateParams::new(names).unwrap();
        leaf.distinguished_name
            .push(rcgen::DnType::CommonName, "argus test peer");
        let leaf = leaf.signed_by(&key, &ca, &ca_key).unwrap();
        Pki {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            cert: leaf.der().clone(),
            cert_pem: leaf.pem(),
            key: key.serialize_der(),
            key_pem: key.serialize_pem(),
        }
    }

    fn write_ca(&self, dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, &self.ca_pem).unwrap();
        p
    }
}

/// A TLS-terminating relay to the broker; stops when dropped.
struct TlsProxy {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsProxy {
    /// Serves `server`'s certificate on a free loopback port and relays to `upstream`. With
    /// `client_ca`, the handshake requires a client certificate issued by that CA.
    async fn start(server: &Pki, upstream: String, client_ca: Option<&Pki>) -> TlsProxy {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(ca.ca_der.clone()).unwrap();
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(
                vec![server.cert.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server.key.clone())),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    // A failed handshake is what several tests want; the client reports it.
                    let Ok(mut tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    let Ok(mut broker) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
                });
            }
        });
        TlsProxy { port, task }
    }
}

/// The broker's `host:port` and the `amqps://` URL reaching it through a proxy on `port` under
/// `host`, with extra query parameters.
fn upstream(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!(
        "{}:{}",
        u.host_str().unwrap(),
        u.port_or_known_default().unwrap_or(5672)
    )
}

fn tls_url(url: &str, host: &str, port: u16, params: &[(&str, &Path)]) -> String {
    let mut u = url::Url::parse(url).unwrap();
    u.set_scheme("amqps").unwrap();
    u.set_host(Some(host)).unwrap();
    u.set_port(Some(port)).unwrap();
    for (k, v) in params {
        u.query_pairs_mut().append_pair(k, v.to_str().unwrap());
    }
    u.to_string()
}

fn opts() -> AmqpOptions {
    AmqpOptions {
        queue: format!("argus.test.tls.{}", uuid::Uuid::now_v7().simple()),
        // Above the conformance checks' largest claim batch, as in amqp_suite.rs.
        prefetch: 256,
        connect_timeout: Duration::from_secs(10),
    }
}

/// The plaintext broker URL, with a password for the leak checks when it has none.
fn broker() -> Option<String> {
    service_url("ARGUS_TEST_AMQP_URL")
}

/// Fresh queues reached through their own TLS proxy.
struct TlsRabbit {
    url: String,
    pki: Pki,
    dir: tempfile::TempDir,
}

/// Deletes the check's queues, then stops its proxy (tuple fields drop in order).
struct Cleanup(AmqpQueue);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let q = self.0.clone();
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async move {
                if let Err(e) = q.delete_topology().await {
                    eprintln!("cleanup of the check's queues failed: {e}");
                }
            });
        });
    }
}

#[async_trait::async_trait]
impl QueueHarness for TlsRabbit {
    async fn fresh(&self) -> Fixture {
        let proxy = TlsProxy::start(&self.pki, upstream(&self.url), None).await;
        let ca = self.pki.write_ca(self.dir.path(), "ca.pem");
        let url = tls_url(&self.url, "localhost", proxy.port, &[("cacertfile", &ca)]);
        let q = AmqpQueue::connect(&url, opts()).await.unwrap();
        Fixture::new(Arc::new(q.clone()), (Cleanup(q), proxy))
    }

    fn dedups_task_ids(&self) -> bool {
        false
    }
}

fn harness(url: String) -> TlsRabbit {
    TlsRabbit {
        url,
        pki: Pki::new("Argus AMQP test CA", &["localhost"]),
        dir: tempfile::tempdir().unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_enqueue_claim_ack_over_amqps_with_a_private_ca() {
    let Some(url) = broker() else { return };
    let h = harness(url);
    let fx = h.fresh().await;
    let scan = ScanId::new();
    let tasks: Vec<_> = (0..5)
        .map(|i| queue_suite::task(scan, Priority::Medium, i))
        .collect();
    fx.queue.enqueue(&tasks).await.unwrap();
    let mut got = Vec::new();
    while got.len() < tasks.len() {
        let batch = fx
            .queue
            .claim(
                tasks.len(),
                Duration::from_secs(30),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        assert!(!batch.is_empty(), "nothing delivered through the TLS proxy");
        got.extend(batch);
    }
    let mut ids: Vec<_> = got.iter().map(|d| d.task.id).collect();
    let mut want: Vec<_> = tasks.iter().map(|t| t.id).collect();
    ids.sort();
    want.sort();
    assert_eq!(ids, want);
    let leases: Vec<_> = got.iter().map(|d| d.lease).collect();
    fx.queue.ack(&leases).await.unwrap();
    let depth = fx.queue.depth().await.unwrap();
    assert_eq!((depth.ready, depth.leased), (0, 0), "{depth:?}");
    fx.queue.ping().await.unwrap();
    assert_eq!(fx.queue.backend(), "rabbitmq");
}

// Conformance checks through the tunnel: ordering, batching, wake-ups, delayed retry and dead
// letters exercise every kind of frame the queue sends and receives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_conformance_checks_over_amqps() {
    let Some(url) = broker() else { return };
    let h = harness(url);
    queue_suite::priority_then_fifo(&h).await;
    queue_suite::batch_claim_respects_max(&h).await;
    queue_suite::waiting_claimer_is_woken_by_enqueue(&h).await;
    queue_suite::retry_with_delay(&h).await;
    queue_suite::dead_letter_is_never_delivered(&h).await;
    queue_suite::ping_and_backend(&h).await;
}

fn progress_events(scan: ScanId, n: i64) -> Vec<Event> {
    let org = OrgId::parse("org-tls").unwrap();
    (1..=n)
        .map(|id| Event {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_bus_over_amqps_with_a_private_ca() {
    let Some(url) = broker() else { return };
    let pki = Pki::new("Argus AMQP test CA", &["localhost"]);
    let dir = tempfile::tempdir().unwrap();
    let ca = pki.write_ca(dir.path(), "ca.pem");
    let proxy = TlsProxy::start(&pki, upstream(&url), None).await;
    let tls = tls_url(&url, "localhost", proxy.port, &[("cacertfile", &ca)]);
    let exchange = format!("argus.test.tls.events.{}", uuid::Uuid::now_v7().simple());
    // One instance through TLS, the other in plaintext: both reach the same broker.
    let a = AmqpEventBus::connect(&tls, &exchange).await.unwrap();
    let b = AmqpEventBus::connect(&url, &exchange).await.unwrap();
    let mut on_a = a.subscribe();
    let mut on_b = b.subscribe();

    let sent = progress_events(ScanId::new(), 20);
    a.publish(&sent);
    for want in &sent {
        let got = tokio::time::timeout(Duration::from_secs(15), on_b.recv())
            .await
            .expect("B received nothing from the TLS publisher")
            .unwrap();
        assert_eq!(&*got, want);
    }
    let back = progress_events(ScanId::new(), 3);
    b.publish(&back);
    // A sees its own events locally, then B's through the tunnel.
    for want in sent.iter().chain(&back) {
        let got = tokio::time::timeout(Duration::from_secs(15), on_a.recv())
            .await
            .expect("A received nothing through the TLS connection")
            .unwrap();
        assert_eq!(&*got, want);
    }
}

/// Connects queue and bus to `url`, expecting both to fail; returns the queue's error text.
async fn both_refused(url: &str) -> String {
    let err = AmqpQueue::connect(url, opts())
        .await
        .expect_err("the queue connected");
    assert!(matches!(err, CoreError::Unavailable { .. }), "{err}");
    let bus = AmqpEventBus::connect(url, "argus.test.tls.refused")
        .await
        .expect_err("the bus connected");
    assert!(matches!(bus, CoreError::Unavailable { .. }), "{bus}");
    err.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_ca_missing_ca_and_wrong_host_name_are_refused() {
    let Some(url) = broker() else { return };
    let pki = Pki::new("Argus AMQP test CA", &["localhost"]);
    let other = Pki::new("Some other CA", &["localhost"]);
    let dir = tempfile::tempdir().unwrap();
    let good_ca = pki.write_ca(dir.path(), "ca.pem");
    let wrong_ca = other.write_ca(dir.path(), "other-ca.pem");
    let proxy = TlsProxy::start(&pki, upstream(&url), None).await;
    // Always a password in the URL, so that its absence from errors means something.
    let mut with_pw = url::Url::parse(&url).unwrap();
    with_pw.set_username("argus").unwrap();
    with_pw.set_password(Some("hunter2")).unwrap();
    let with_pw = with_pw.to_string();

    let wrong = tls_url(
        &with_pw,
        "localhost",
        proxy.port,
        &[("cacertfile", &wrong_ca)],
    );
    let shown = both_refused(&wrong).await;
    eprintln!("wrong CA: {shown}");
    assert!(shown.contains("certificate"), "{shown}");
    assert!(shown.contains("UnknownIssuer"), "{shown}");
    assert!(
        shown.contains("cacertfile"),
        "the error says where CAs come from: {shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("argus:****@localhost"), "{shown}");

    // The system store alone does not know the private CA.
    let none = tls_url(&with_pw, "localhost", proxy.port, &[]);
    let shown = both_refused(&none).await;
    assert!(shown.contains("UnknownIssuer"), "{shown}");

    // Right CA, but the certificate names `localhost`, not 127.0.0.1.
    let ip = tls_url(
        &with_pw,
        "127.0.0.1",
        proxy.port,
        &[("cacertfile", &good_ca)],
    );
    let shown = both_refused(&ip).await;
    eprintln!("wrong host: {shown}");
    assert!(shown.contains("not valid for name"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");

    // The same proxy with the right CA and name works (so the failures above are the CA's and
    // the name's, not the proxy's).
    let good = tls_url(&url, "localhost", proxy.port, &[("cacertfile", &good_ca)]);
    let q = AmqpQueue::connect(&good, opts()).await.unwrap();
    q.ping().await.unwrap();
    q.delete_topology().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tls_parameters_fail_at_start_up() {
    let Some(url) = broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-ca.pem");
    let url_missing = tls_url(&url, "localhost", 5671, &[("cacertfile", &missing)]);
    let err = AmqpQueue::connect(&url_missing, opts()).await.unwrap_err();
    assert!(matches!(err, CoreError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("missing-ca.pem"), "{err}");
    let err = AmqpEventBus::connect(&url_missing, "x").await.unwrap_err();
    assert!(matches!(err, CoreError::Invalid { .. }), "{err}");

    // A CA on a plaintext URL is a mistake, not a request for plaintext.
    let pki = Pki::new("Argus AMQP test CA", &["localhost"]);
    let ca = pki.write_ca(dir.path(), "ca.pem");
    let mut plain = url::Url::parse(&url).unwrap();
    plain
        .query_pairs_mut()
        .append_pair("cacertfile", ca.to_str().unwrap());
    let err = AmqpQueue::connect(plain.as_str(), opts())
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("amqps://"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_from_certfile_and_keyfile() {
    let Some(url) = broker() else { return };
    let server = Pki::new("Argus AMQP test CA", &["localhost"]);
    let client = Pki::new("Argus client CA", &["argus-worker"]);
    let dir = tempfile::tempdir().unwrap();
    let ca = server.write_ca(dir.path(), "ca.pem");
    let cert = dir.path().join("client.pem");
    let key = dir.path().join("client.key");
    std::fs::write(&cert, &client.cert_pem).unwrap();
    std::fs::write(&key, &client.key_pem).unwrap();
    let proxy = TlsProxy::start(&server, upstream(&url), Some(&client)).await;

    let with_cert = tls_url(
        &url,
        "localhost",
        proxy.port,
        &[("cacertfile", &ca), ("certfile", &cert), ("keyfile", &key)],
    );
    let q = AmqpQueue::connect(&with_cert, opts()).await.unwrap();
    q.ping().await.unwrap();
    q.delete_topology().await.unwrap();
    let bus = AmqpEventBus::connect(&with_cert, "argus.test.tls.mtls")
        .await
        .unwrap();
    drop(bus);

    let without = tls_url(&url, "localhost", proxy.port, &[("cacertfile", &ca)]);
    let shown = both_refused(&without).await;
    eprintln!("no client certificate: {shown}");
    assert!(shown.contains("CertificateRequired"), "{shown}");
    assert!(shown.contains("certfile and keyfile"), "{shown}");
}
