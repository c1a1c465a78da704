#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]
//! The syslog destination against local receivers: the shared sink suite over UDP, TCP and
//! TLS in both formats, and the wire details the suite does not see (escaping, framing bytes,
//! truncation, TLS trust, reconnecting).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::SecondsFormat;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use argus_core::component::{Doors, Factory};
use argus_core::door::FixedEnv;
use argus_core::sink::{Outgoing, Sink, SinkError, SinkPayload};
use argus_sinks::encoding::rfc5424::MsgFormat;
use argus_sinks::syslog::{SyslogFactory, SyslogSink};
use argus_sinks::testkit::syslog::{next_frame, Expect, SyslogReceiver, TestPki};
use argus_sinks::testkit::{outgoing, sample_events, wait_for, SinkHarness};

fn doors() -> Doors {
    Doors::new(argus_scanners::process::door())
}

fn format_name(format: MsgFormat) -> &'static str {
    match format {
        MsgFormat::Rfc5424 => "rfc5424",
        MsgFormat::Json => "json",
    }
}

/// The config of a sink delivering to `receiver` in `format`, with `extra` keys on top.
fn config_for(receiver: &SyslogReceiver, format: MsgFormat, extra: Value) -> Value {
    let mut config = json!({
        "url": receiver.url(),
        "format": format_name(format),
        "hostname": "argus-test",
    });
    if let Some(ca) = receiver.ca_file() {
        config["ca_file"] = json!(ca);
    }
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        config[k] = v;
    }
    config
}

fn build(config: Value) -> Arc<dyn Sink> {
    let config = serde_json::from_value(config).expect("config");
    let mut sinks = SyslogFactory.build(config, &doors()).expect("build");
    assert_eq!(sinks.len(), 1);
    sinks.remove(0)
}

fn build_direct(config: Value) -> SyslogSink {
    let config = serde_json::from_value(config).expect("config");
    SyslogSink::new(config, &FixedEnv::default()).expect("build")
}

async fn receiver(scheme: &str, format: MsgFormat) -> SyslogReceiver {
    let expect = Expect::new(format);
    match scheme {
        "udp" => SyslogReceiver::udp(expect).await,
        "tcp" => SyslogReceiver::tcp(expect).await,
        "tls" => SyslogReceiver::tls(expect).await,
        other => panic!("no receiver for {other}"),
    }
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

struct SyslogHarness {
    scheme: &'static str,
    format: MsgFormat,
    receiver: SyslogReceiver,
    sink: Arc<dyn Sink>,
}

impl SyslogHarness {
    async fn start(scheme: &'static str, format: MsgFormat) -> Self {
        let receiver = receiver(scheme, format).await;
        let sink = build(config_for(&receiver, format, json!({})));
        SyslogHarness {
            scheme,
            format,
            receiver,
            sink,
        }
    }
}

#[async_trait]
impl SinkHarness for SyslogHarness {
    fn sink(&self) -> Arc<dyn Sink> {
        self.sink.clone()
    }

    async fn received(&self) -> Vec<Value> {
        let errors = self.receiver.errors();
        assert!(
            errors.is_empty(),
            "the receiver saw bad messages: {errors:#?}"
        );
        self.receiver.received()
    }

    async fn unreachable(&self) -> Option<Arc<dyn Sink>> {
        if self.scheme == "udp" {
            return None;
        }
        let mut config = config_for(&self.receiver, self.format, json!({}));
        config["url"] = json!(format!(
            "{}://localhost:{}",
            self.scheme,
            closed_port().await
        ));
        Some(build(config))
    }
}

mod udp_json {
    argus_sinks::sink_suite_tests!(
        crate::SyslogHarness::start("udp", argus_sinks::encoding::rfc5424::MsgFormat::Json).await
    );
}

mod tcp_rfc5424 {
    argus_sinks::sink_suite_tests!(
        crate::SyslogHarness::start("tcp", argus_sinks::encoding::rfc5424::MsgFormat::Rfc5424)
            .await
    );
}

mod tcp_json {
    argus_sinks::sink_suite_tests!(
        crate::SyslogHarness::start("tcp", argus_sinks::encoding::rfc5424::MsgFormat::Json).await
    );
}

mod tls_json {
    argus_sinks::sink_suite_tests!(
        crate::SyslogHarness::start("tls", argus_sinks::encoding::rfc5424::MsgFormat::Json).await
    );
}

mod tls_rfc5424 {
    argus_sinks::sink_suite_tests!(
        crate::SyslogHarness::start("tls", argus_sinks::encoding::rfc5424::MsgFormat::Rfc5424)
            .await
    );
}

mod udp_rfc5424 {
    argus_sinks::sink_suite_tests!(
        crate::SyslogHarness::start("udp", argus_sinks::encoding::rfc5424::MsgFormat::Rfc5424)
            .await
    );
}

const AWKWARD_TITLE: &str =
    "line one\nline two\r\n] \"quoted\" \\ back\\slash \\n not-a-newline [x] ü 日本 🚀 =end";

/// A result whose title holds line breaks, `]`, `"`, backslashes and non-ASCII text.
fn awkward_event() -> Outgoing {
    let mut event = sample_events(500, 1).remove(0);
    let SinkPayload::ScanResult(r) = &mut event.payload else {
        panic!("sample 0 is a result");
    };
    r.title = AWKWARD_TITLE.into();
    Outgoing::new(event)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_awkward_title_round_trips_in_every_format_and_transport() {
    for (scheme, format) in [
        ("tcp", MsgFormat::Rfc5424),
        ("udp", MsgFormat::Rfc5424),
        ("tcp", MsgFormat::Json),
        ("udp", MsgFormat::Json),
        ("tls", MsgFormat::Json),
    ] {
        let h = SyslogHarness::start(scheme, format).await;
        h.sink.send(&[awkward_event()]).await.expect("sent");
        let got = wait_for(&h, 1, Duration::from_secs(10)).await;
        assert_eq!(got.len(), 1, "{scheme} {format:?}");
        assert_eq!(got[0]["title"], AWKWARD_TITLE, "{scheme} {format:?}");
        assert_eq!(got[0]["event_id"], 500);
        // One message, and no raw line break outside a structured-data value.
        let raw = String::from_utf8(h.receiver.raw().remove(0)).unwrap();
        match format {
            MsgFormat::Json => assert!(!raw.contains('\n') && !raw.contains('\r'), "{raw}"),
            MsgFormat::Rfc5424 => {
                let msg = raw.rsplit_once("\"]").unwrap().1;
                assert!(!msg.contains('\n') && !msg.contains('\r'), "{msg:?}");
                assert!(msg.contains("line one line two"), "{msg:?}");
                assert!(raw.contains(r#"title="line one"#), "{raw}");
                assert!(raw.contains(r#"\] \"quoted\" \\ back\\slash \\n"#), "{raw}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_wrong_ca_is_retryable_and_sends_nothing() {
    let receiver = SyslogReceiver::tls(Expect::new(MsgFormat::Json)).await;
    let other_ca = std::env::temp_dir().join(format!(
        "argus-syslog-other-ca-{}.pem",
        uuid::Uuid::now_v7()
    ));
    std::fs::write(&other_ca, TestPki::new().ca_pem).unwrap();
    let sink = build(config_for(
        &receiver,
        MsgFormat::Json,
        json!({ "ca_file": other_ca }),
    ));
    let result = sink.send(&outgoing(&sample_events(1, 2))).await;
    let _ = std::fs::remove_file(&other_ca);
    match result {
        Err(SinkError::Retryable(e)) => assert!(e.contains("TLS"), "{e}"),
        other => panic!("expected a retryable error, got {other:?}"),
    }
    assert_eq!(receiver.connections(), 0);
    assert!(receiver.received().is_empty());

    // The right CA but a name the certificate does not carry: refused as well.
    let sink = build(config_for(
        &receiver,
        MsgFormat::Json,
        json!({ "server_name": "siem.example.com" }),
    ));
    match sink.send(&outgoing(&sample_events(1, 2))).await {
        Err(SinkError::Retryable(e)) => assert!(e.contains("TLS"), "{e}"),
        other => panic!("expected a retryable error, got {other:?}"),
    }
    assert!(receiver.received().is_empty());

    // And the right CA with the certificate's IP address as the host: accepted.
    let mut config = config_for(&receiver, MsgFormat::Json, json!({}));
    config["url"] = json!(format!("tls://127.0.0.1:{}", receiver.addr().port()));
    build(config)
        .send(&outgoing(&sample_events(1, 2)))
        .await
        .expect("127.0.0.1 is in the certificate");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while receiver.received().len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(receiver.received().len(), 2, "{:?}", receiver.errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_datagrams_are_cut_at_max_message_on_a_char_boundary() {
    let receiver = SyslogReceiver::udp(Expect::new(MsgFormat::Json)).await;
    let mut event = sample_events(1, 1).remove(0);
    let SinkPayload::ScanResult(r) = &mut event.payload else {
        panic!("sample 0 is a result");
    };
    // Three-byte characters: of three consecutive limits, at least one falls inside one.
    r.title = "日".repeat(400);
    let out = Outgoing::new(event);
    let full = build_direct(config_for(
        &receiver,
        MsgFormat::Json,
        json!({ "max_message": 65_000 }),
    ))
    .message(&out);
    assert!(full.len() > 1200);
    let limits = [1000usize, 1001, 1002];
    for max in limits {
        build(config_for(
            &receiver,
            MsgFormat::Json,
            json!({ "max_message": max }),
        ))
        .send(std::slice::from_ref(&out))
        .await
        .expect("sent");
    }
    // The default limit (8192) leaves this message whole.
    build(config_for(&receiver, MsgFormat::Json, json!({})))
        .send(std::slice::from_ref(&out))
        .await
        .expect("sent");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while receiver.raw().len() < 4 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let raw = receiver.raw();
    assert_eq!(raw.len(), 4);
    let mut shorter = 0;
    for (datagram, max) in raw.iter().zip(limits) {
        assert!(datagram.len() <= max, "{} > {max}", datagram.len());
        assert!(datagram.len() > max - 4);
        std::str::from_utf8(datagram).expect("cut on a character boundary");
        assert_eq!(&full[..datagram.len()], &datagram[..]);
        if datagram.len() < max {
            shorter += 1;
        }
    }
    assert!(shorter >= 1, "no limit fell inside a character");
    assert_eq!(raw[3], full);
    // The cut messages are not valid JSON any more; the whole one decodes.
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(receiver.received()[0]["title"], "日".repeat(400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_three_is_framed_byte_exact_on_one_connection() {
    let receiver = SyslogReceiver::tcp(Expect {
        facility: 19,
        app_name: "argus-fwd".into(),
        ..Expect::new(MsgFormat::Json)
    })
    .await;
    let sink = build(config_for(
        &receiver,
        MsgFormat::Json,
        json!({ "facility": "local3", "app_name": "argus-fwd" }),
    ));
    let batch = outgoing(&sample_events(1, 3));
    sink.send(&batch).await.expect("sent");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while receiver.raw().len() < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Built here by hand, apart from the encoder: local3 = 19, so PRI = 152 + severity.
    let mut expected = Vec::new();
    for o in &batch {
        let severity = match o.event.severity().as_str() {
            "critical" => 2,
            "high" => 3,
            "medium" => 4,
            "low" => 5,
            _ => 6,
        };
        let msg = format!(
            "<{}>1 {} argus-test argus-fwd - {} - {}",
            19 * 8 + severity,
            o.event.time.to_rfc3339_opts(SecondsFormat::Micros, true),
            o.event.kind().as_str(),
            serde_json::to_string(&o.body).unwrap(),
        );
        expected.extend_from_slice(format!("{} {msg}", msg.len()).as_bytes());
    }
    assert_eq!(
        String::from_utf8(receiver.stream_bytes()).unwrap(),
        String::from_utf8(expected).unwrap()
    );
    assert!(receiver.errors().is_empty(), "{:?}", receiver.errors());
    assert_eq!(receiver.received().len(), 3);

    // The next batches reuse the connection.
    sink.send(&batch).await.expect("again");
    sink.send(&batch).await.expect("and again");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while receiver.raw().len() < 9 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(receiver.raw().len(), 9);
    assert_eq!(receiver.connections(), 1);
}

#[test]
fn the_frame_parser_is_strict() {
    assert_eq!(
        next_frame(b"5 hello3 abc").unwrap(),
        Some((7, &b"hello"[..]))
    );
    assert_eq!(next_frame(b"5 hel").unwrap(), None);
    assert_eq!(next_frame(b"12").unwrap(), None);
    assert!(next_frame(b"05 hello").is_err());
    assert!(next_frame(b"<13>1 ...").is_err());
    assert!(next_frame(b"5\thello").is_err());
    assert!(next_frame(b"1234567890 x").is_err());
}

/// Reads one octet-counted frame from a raw stream.
async fn read_frame<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut buf = Vec::new();
    loop {
        if let Some((_, msg)) = next_frame(&buf).unwrap() {
            return msg.to_vec();
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed before a whole frame");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A one-connection-at-a-time receiver under the test's control: plain TCP, or TLS with a
/// certificate for 127.0.0.1.
struct ManualReceiver {
    listener: TcpListener,
    tls: Option<(tokio_rustls::TlsAcceptor, std::path::PathBuf)>,
}

impl ManualReceiver {
    async fn start(tls: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tls = tls.then(|| {
            let pki = TestPki::new();
            let ca = std::env::temp_dir().join(format!(
                "argus-syslog-manual-ca-{}.pem",
                uuid::Uuid::now_v7()
            ));
            std::fs::write(&ca, &pki.ca_pem).unwrap();
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    pki.chain.clone(),
                    rustls::pki_types::PrivateKeyDer::Pkcs8(pki.key.clone().into()),
                )
                .unwrap();
            (tokio_rustls::TlsAcceptor::from(Arc::new(config)), ca)
        });
        ManualReceiver { listener, tls }
    }

    fn config(&self) -> Value {
        let port = self.listener.local_addr().unwrap().port();
        match &self.tls {
            None => json!({
                "url": format!("tcp://127.0.0.1:{port}"),
                "format": "json",
                "hostname": "argus-test",
            }),
            Some((_, ca)) => json!({
                "url": format!("tls://127.0.0.1:{port}"),
                "format": "json",
                "hostname": "argus-test",
                "ca_file": ca,
            }),
        }
    }

    /// Accepts one connection, reads one frame and closes (with a TLS close_notify first).
    async fn take_one_and_close(&self) -> Vec<u8> {
        let (tcp, _) = self.listener.accept().await.unwrap();
        match &self.tls {
            None => {
                let mut tcp = tcp;
                read_frame(&mut tcp).await
            }
            Some((acceptor, _)) => {
                let mut tls = acceptor.accept(tcp).await.unwrap();
                let msg = read_frame(&mut tls).await;
                tls.shutdown().await.unwrap();
                msg
            }
        }
    }
}

impl Drop for ManualReceiver {
    fn drop(&mut self) {
        if let Some((_, ca)) = &self.tls {
            let _ = std::fs::remove_file(ca);
        }
    }
}

/// The receiver closes the kept connection between two batches: the sink notices before it
/// writes the second and connects again.
async fn a_closed_connection_is_replaced(tls: bool) {
    let receiver = Arc::new(ManualReceiver::start(tls).await);
    let sink = build(receiver.config());
    let first = tokio::spawn({
        let receiver = receiver.clone();
        async move { receiver.take_one_and_close().await }
    });
    sink.send(&outgoing(&sample_events(1, 1)))
        .await
        .expect("first");
    let msg = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the first batch arrives")
        .unwrap();
    assert!(String::from_utf8(msg).unwrap().contains("\"event_id\":1"));

    let second = tokio::spawn({
        let receiver = receiver.clone();
        async move { receiver.take_one_and_close().await }
    });
    sink.send(&outgoing(&sample_events(2, 1)))
        .await
        .expect("sent on a new connection");
    let msg = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the second batch arrives on a second connection")
        .unwrap();
    assert!(String::from_utf8(msg).unwrap().contains("\"event_id\":2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_connection_the_receiver_closed_is_replaced() {
    a_closed_connection_is_replaced(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_connection_the_receiver_closed_is_replaced() {
    a_closed_connection_is_replaced(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_connection_is_kept_across_batches() {
    let receiver = SyslogReceiver::tls(Expect::new(MsgFormat::Rfc5424)).await;
    let sink = build(config_for(&receiver, MsgFormat::Rfc5424, json!({})));
    for first in [1, 11, 21] {
        sink.send(&outgoing(&sample_events(first, 10)))
            .await
            .expect("sent");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while receiver.received().len() < 30 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(receiver.received().len(), 30, "{:?}", receiver.errors());
    assert_eq!(receiver.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_batch_opens_nothing() {
    let receiver = SyslogReceiver::tcp(Expect::new(MsgFormat::Json)).await;
    let sink = build(config_for(&receiver, MsgFormat::Json, json!({})));
    sink.send(&[]).await.expect("nothing to do");
    assert_eq!(receiver.connections(), 0);
    assert_eq!(sink.endpoint(), receiver.url());
    assert_eq!(sink.kind(), "syslog");
}
