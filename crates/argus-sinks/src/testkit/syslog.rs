//! Local syslog receivers (UDP, TCP, TLS) that check every message the way a strict SIEM
//! would, and decode it back into the [`SinkEvent`](argus_core::sink::SinkEvent) JSON the
//! shared suite compares.
//!
//! Every message is parsed with `syslog_loose` as RFC 5424 and must carry version 1, the
//! expected facility, HOSTNAME and APP-NAME, no PROCID, the event's kind as MSGID, a severity
//! matching the event's, and a timestamp equal to the event's `time`. Streams are read with
//! strict RFC 6587 octet counting (`NONZERO-DIGIT *DIGIT SP MSG`): bad framing is recorded as an
//! error and ends the connection. Anything wrong lands in [`SyslogReceiver::errors`] (the suite
//! harnesses fail on it) instead of being skipped silently.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Map, Value};
use syslog_loose::{Protocol, Variant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::encoding::rfc5424::{MsgFormat, SD_ID};

/// What every message must carry.
#[derive(Clone, Debug)]
pub struct Expect {
    /// Facility code.
    pub facility: u8,
    /// HOSTNAME (`None`: any, for a sink that reports the machine's name).
    pub hostname: Option<String>,
    pub app_name: String,
    pub format: MsgFormat,
}

impl Expect {
    /// Facility `local0` (16), host `argus-test` (set it in the sink's `hostname`), app
    /// `argus`, in `format`.
    pub fn new(format: MsgFormat) -> Self {
        Expect {
            facility: 16,
            hostname: Some("argus-test".into()),
            app_name: "argus".into(),
            format,
        }
    }
}

#[derive(Debug, Default)]
struct Log {
    /// Each message as received (a datagram, or a frame's MSG).
    raw: Vec<Vec<u8>>,
    /// Every byte read from streams, connection after connection.
    stream_bytes: Vec<u8>,
    events: Vec<Value>,
    errors: Vec<String>,
    connections: usize,
    handshake_failures: usize,
}

type SharedLog = Arc<Mutex<Log>>;

/// A receiver on 127.0.0.1, stopped (and its CA file removed) when dropped.
#[derive(Debug)]
pub struct SyslogReceiver {
    scheme: &'static str,
    addr: SocketAddr,
    log: SharedLog,
    task: JoinHandle<()>,
    ca_file: Option<PathBuf>,
}

impl Drop for SyslogReceiver {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(path) = &self.ca_file {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl SyslogReceiver {
    /// A UDP receiver: one message per datagram. Datagrams are drained by a thread of their
    /// own into a queue (with the largest receive buffer the system grants) and checked
    /// elsewhere, so a burst of a full batch is not dropped by the kernel while messages are
    /// being parsed.
    pub async fn udp(expect: Expect) -> Self {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let sock = socket2::SockRef::from(&socket);
        let _ = sock.set_recv_buffer_size(8 << 20);
        // Linux caps the buffer at net.core.rmem_max (×2); below about 1 MiB a burst of 500
        // datagrams overflows it on a busy machine and the full-batch check loses some.
        let granted = sock.recv_buffer_size().unwrap_or(0);
        if granted < 1 << 20 {
            eprintln!(
                "syslog UDP receiver: the receive buffer is {granted} bytes (raise \
                 net.core.rmem_max): bursts of a full batch may be dropped by the kernel"
            );
        }
        // Lets the thread notice, between datagrams, that the receiver was dropped.
        socket
            .set_read_timeout(Some(std::time::Duration::from_millis(50)))
            .expect("read timeout");
        let addr = socket.local_addr().expect("udp address");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 70_000];
            while !tx.is_closed() {
                match socket.recv_from(&mut buf) {
                    Ok((n, _)) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => return,
                }
            }
        });
        let log = SharedLog::default();
        let task = tokio::spawn({
            let log = log.clone();
            async move {
                while let Some(datagram) = rx.recv().await {
                    record(&log, &expect, datagram);
                }
            }
        });
        SyslogReceiver {
            scheme: "udp",
            addr,
            log,
            task,
            ca_file: None,
        }
    }

    /// A TCP receiver with octet-counting framing.
    pub async fn tcp(expect: Expect) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind tcp");
        let addr = listener.local_addr().expect("tcp address");
        let log = SharedLog::default();
        let task = tokio::spawn({
            let log = log.clone();
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    log.lock().unwrap().connections += 1;
                    tokio::spawn(read_frames(stream, log.clone(), expect.clone()));
                }
            }
        });
        SyslogReceiver {
            scheme: "tcp",
            addr,
            log,
            task,
            ca_file: None,
        }
    }

    /// A TLS receiver with octet-counting framing, its certificate (for `localhost` and
    /// 127.0.0.1) issued by a fresh CA whose PEM is in [`SyslogReceiver::ca_file`].
    pub async fn tls(expect: Expect) -> Self {
        let pki = TestPki::new();
        let ca_file =
            std::env::temp_dir().join(format!("argus-syslog-ca-{}.pem", uuid::Uuid::now_v7()));
        std::fs::write(&ca_file, &pki.ca_pem).expect("write CA file");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                pki.chain.clone(),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key.clone())),
            )
            .expect("server certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind tls");
        let addr = listener.local_addr().expect("tls address");
        let log = SharedLog::default();
        let task = tokio::spawn({
            let log = log.clone();
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let (acceptor, log, expect) = (acceptor.clone(), log.clone(), expect.clone());
                    tokio::spawn(async move {
                        match acceptor.accept(stream).await {
                            Ok(tls) => {
                                log.lock().unwrap().connections += 1;
                                read_frames(tls, log, expect).await;
                            }
                            // A client refusing the certificate ends up here: counted, for
                            // the tests that expect it.
                            Err(_) => log.lock().unwrap().handshake_failures += 1,
                        }
                    });
                }
            }
        });
        SyslogReceiver {
            scheme: "tls",
            addr,
            log,
            task,
            ca_file: Some(ca_file),
        }
    }

    /// The sink `url` reaching this receiver (`tls://localhost:port` for TLS, so the name
    /// check is exercised; `udp://127.0.0.1:port`, `tcp://127.0.0.1:port` otherwise).
    pub fn url(&self) -> String {
        match self.scheme {
            "tls" => format!("tls://localhost:{}", self.addr.port()),
            scheme => format!("{scheme}://{}", self.addr),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The PEM file of the CA that issued a TLS receiver's certificate.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// The events decoded so far, in arrival order.
    pub fn received(&self) -> Vec<Value> {
        self.log.lock().unwrap().events.clone()
    }

    /// Each message as received: a datagram, or a frame's MSG.
    pub fn raw(&self) -> Vec<Vec<u8>> {
        self.log.lock().unwrap().raw.clone()
    }

    /// Every byte read from the streams, connection after connection.
    pub fn stream_bytes(&self) -> Vec<u8> {
        self.log.lock().unwrap().stream_bytes.clone()
    }

    /// Every problem seen: bad framing, a message that does not parse or does not match.
    pub fn errors(&self) -> Vec<String> {
        self.log.lock().unwrap().errors.clone()
    }

    /// Connections accepted (after the TLS handshake, for TLS).
    pub fn connections(&self) -> usize {
        self.log.lock().unwrap().connections
    }

    /// TLS handshakes that failed.
    pub fn handshake_failures(&self) -> usize {
        self.log.lock().unwrap().handshake_failures
    }
}

/// A CA and a server certificate it issued for `localhost` and 127.0.0.1.
#[derive(Debug)]
pub struct TestPki {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The server's chain (leaf, CA), DER.
    pub chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// The server's PKCS#8 key, DER.
    pub key: Vec<u8>,
}

impl TestPki {
    pub fn new() -> Self {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "Argus syslog test CA");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = ca.self_signed(&ca_key).expect("CA certificate");
        let key = rcgen::KeyPair::generate().expect("server key");
        let leaf =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server params")
                .signed_by(&key, &ca, &ca_key)
                .expect("server certificate");
        TestPki {
            ca_pem: ca.pem(),
            chain: vec![leaf.der().clone(), ca.der().clone()],
            key: key.serialize_der(),
        }
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads octet-counted frames until the peer closes; a framing error is recorded and ends the
/// connection.
async fn read_frames<R: AsyncRead + Unpin>(mut stream: R, log: SharedLog, expect: Expect) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            Err(e) => {
                log.lock().unwrap().errors.push(format!("read: {e}"));
                return;
            }
        };
        if n == 0 {
            if !buf.is_empty() {
                log.lock().unwrap().errors.push(format!(
                    "connection closed inside a frame ({} bytes left)",
                    buf.len()
                ));
            }
            return;
        }
        log.lock()
            .unwrap()
            .stream_bytes
            .extend_from_slice(&chunk[..n]);
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match next_frame(&buf) {
                Ok(Some((used, msg))) => {
                    let msg = msg.to_vec();
                    buf.drain(..used);
                    record(&log, &expect, msg);
                }
                Ok(None) => break,
                Err(e) => {
                    log.lock().unwrap().errors.push(format!("framing: {e}"));
                    return;
                }
            }
        }
    }
}

/// The longest frame a receiver takes (a sanity bound against a garbage length).
const MAX_FRAME: usize = 16 << 20;

/// The first complete octet-counted frame of `buf` as (bytes used, MSG); `None` when more
/// bytes are needed; an error when `buf` does not start with `NONZERO-DIGIT *DIGIT SP`.
pub fn next_frame(buf: &[u8]) -> Result<Option<(usize, &[u8])>, String> {
    let Some(first) = buf.first() else {
        return Ok(None);
    };
    if !(b'1'..=b'9').contains(first) {
        return Err(format!(
            "a frame starts with {:?}, not a length",
            char::from(*first)
        ));
    }
    let digits = buf.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 9 {
        return Err("a frame length of more than 9 digits".into());
    }
    let Some(&after) = buf.get(digits) else {
        return Ok(None);
    };
    if after != b' ' {
        return Err(format!(
            "a frame length followed by {:?}, not a space",
            char::from(after)
        ));
    }
    let len: usize = std::str::from_utf8(&buf[..digits])
        .map_err(|e| e.to_string())?
        .parse()
        .map_err(|e| format!("frame length: {e}"))?;
    if len > MAX_FRAME {
        return Err(format!("a frame of {len} bytes"));
    }
    let start = digits + 1;
    match buf.get(start..start + len) {
        Some(msg) => Ok(Some((start + len, msg))),
        None => Ok(None),
    }
}

fn record(log: &SharedLog, expect: &Expect, message: Vec<u8>) {
    let decoded = std::str::from_utf8(&message)
        .map_err(|e| format!("not UTF-8: {e}"))
        .and_then(|text| decode(text, expect));
    let mut log = log.lock().unwrap();
    match decoded {
        Ok(event) => log.events.push(event),
        Err(e) => {
            let text = String::from_utf8_lossy(&message);
            let excerpt: String = text.chars().take(300).collect();
            log.errors.push(format!("{e}: {excerpt}"));
        }
    }
    log.raw.push(message);
}

/// The syslog severity code an event's JSON stands for.
fn expected_severity(event: &Value) -> Option<u8> {
    let severity = match event.get("severity").and_then(Value::as_str) {
        Some(s) => s,
        None if event["kind"] == "scan_lifecycle" => {
            if event["action"] == "failed" {
                "high"
            } else {
                "info"
            }
        }
        None => return None,
    };
    Some(match severity {
        "critical" => 2,
        "high" => 3,
        "medium" => 4,
        "low" => 5,
        "info" => 6,
        _ => return None,
    })
}

/// One message, checked against `expect` and decoded into the event JSON it carries.
pub fn decode(text: &str, expect: &Expect) -> Result<Value, String> {
    let m = syslog_loose::parse_message_with_year_exact(text, |_| 2000, Variant::RFC5424)?;
    if m.protocol != Protocol::RFC5424(1) {
        return Err(format!("protocol {:?}, not RFC 5424 version 1", m.protocol));
    }
    let facility = m.facility.map(|f| f as u8);
    if facility != Some(expect.facility) {
        return Err(format!(
            "facility {facility:?}, expected {}",
            expect.facility
        ));
    }
    if let Some(hostname) = &expect.hostname {
        if m.hostname != Some(hostname.as_str()) {
            return Err(format!("hostname {:?}, expected {hostname}", m.hostname));
        }
    }
    if m.appname != Some(expect.app_name.as_str()) {
        return Err(format!(
            "app name {:?}, expected {}",
            m.appname, expect.app_name
        ));
    }
    if m.procid.is_some() {
        return Err(format!("procid {:?}, expected -", m.procid));
    }
    let event = match expect.format {
        MsgFormat::Json => {
            if !m.structured_data.is_empty() {
                return Err("structured data in a json message".into());
            }
            let event: Value =
                serde_json::from_str(m.msg).map_err(|e| format!("MSG is not JSON: {e}"))?;
            if !event.is_object() {
                return Err("MSG is not a JSON object".into());
            }
            event
        }
        MsgFormat::Rfc5424 => {
            let event = from_structured_data(&m.structured_data)?;
            let expected = summary(&event);
            if m.msg != expected.trim() {
                return Err(format!("MSG {:?}, expected {expected:?}", m.msg));
            }
            event
        }
    };
    if m.msgid != event["kind"].as_str() {
        return Err(format!("msgid {:?}, kind {}", m.msgid, event["kind"]));
    }
    let severity = m.severity.map(|s| s as u8);
    if severity != expected_severity(&event) {
        return Err(format!("severity {severity:?} for {}", event["severity"]));
    }
    let time = m.timestamp.ok_or("no timestamp")?;
    if let Some(t) = event.get("time").and_then(Value::as_str) {
        let t = DateTime::<FixedOffset>::parse_from_rfc3339(t).map_err(|e| e.to_string())?;
        if t != time {
            return Err(format!("timestamp {time}, event time {t}"));
        }
    }
    Ok(event)
}

/// The summary the `rfc5424` format's MSG must be, from the decoded event.
fn summary(event: &Value) -> String {
    let text = |k: &str| event.get(k).and_then(Value::as_str);
    let s = if event["kind"] == "scan_result" {
        let mut s = text("severity").unwrap_or_default().to_owned();
        if let Some(scanner) = text("scanner") {
            s.push(' ');
            s.push_str(scanner);
        }
        s.push(':');
        if let Some(title) = text("title") {
            s.push(' ');
            s.push_str(title);
        }
        s
    } else {
        let mut s = format!("scan {}", text("scan_id").unwrap_or_default());
        if let Some(action) = text("action") {
            s.push(' ');
            s.push_str(action);
        }
        if let Some(reason) = text("reason") {
            s.push_str(&format!(" ({reason})"));
        }
        s
    };
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The event JSON rebuilt from the `argus@32473` element: `parent.child` names nest, ids and
/// versions are numbers, everything else a string.
fn from_structured_data(sd: &[syslog_loose::StructuredElement<&str>]) -> Result<Value, String> {
    let mut ours = sd.iter().filter(|e| e.id == SD_ID);
    let element = ours.next().ok_or("no argus@32473 structured data")?;
    if ours.next().is_some() || sd.len() != 1 {
        return Err(format!(
            "{} structured data elements, expected one",
            sd.len()
        ));
    }
    let mut event = Map::new();
    for (name, value) in element.params() {
        let value = match *name {
            "event_id" | "schema_version" => Value::from(
                value
                    .parse::<i64>()
                    .map_err(|e| format!("{name}={value:?}: {e}"))?,
            ),
            _ => Value::from(value),
        };
        match name.split_once('.') {
            Some((parent, child)) => {
                let slot = event
                    .entry(parent.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                let Some(map) = slot.as_object_mut() else {
                    return Err(format!("{parent} is both a value and an object"));
                };
                map.insert(child.to_owned(), value);
            }
            None => {
                if event.insert((*name).to_owned(), value).is_some() {
                    return Err(format!("parameter {name} twice"));
                }
            }
        }
    }
    for key in [
        "event_id",
        "kind",
        "org_id",
        "scan_id",
        "severity",
        "schema_version",
    ] {
        if !event.contains_key(key) {
            return Err(format!("no {key} parameter"));
        }
    }
    if event["kind"] == "scan_result" && !event.contains_key("title") {
        return Err("a scan_result without a title parameter".into());
    }
    Ok(Value::Object(event))
}
