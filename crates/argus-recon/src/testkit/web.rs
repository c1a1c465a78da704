//! Web and TCP servers on 127.0.0.1 for tests: a tiny HTTP/1.1 responder with configurable
//! routes (status, headers, body: titles, redirects, fingerprints), the same over TLS with an
//! rcgen certificate for given names (valid, expired, or issued by a test CA), a server that
//! sends a banner on connect, and one that accepts and never answers (cancellation tests).
//! Every server logs what it received with an arrival time (rate-limit tests) and stops when
//! dropped.
//!
//! The HTTP side reads one request head per connection and answers with `Connection: close`;
//! that is all the scanners of this crate need.

// Test support: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One canned response.
#[derive(Clone, Debug)]
pub struct Route {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Route {
    /// `200` with an HTML page titled `title`.
    pub fn html(title: &str) -> Self {
        Route {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: format!(
                "<!doctype html><html><head><title>{title}</title></head><body>hello</body></html>"
            )
            .into_bytes(),
        }
    }

    /// `status` with a `Location` header.
    pub fn redirect(status: u16, location: &str) -> Self {
        Route {
            status,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
        }
    }

    /// Any status and body.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Route {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// What a server received: a request (`path`, `host`) or a bare connection (`path` empty).
#[derive(Clone, Debug)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub host: Option<String>,
}

/// A certificate and its key for the TLS servers.
#[derive(Debug)]
pub struct TestCert {
    /// Leaf first, then the issuer when there is one.
    pub chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

fn leaf_params(sans: &[&str]) -> rcgen::CertificateParams {
    let mut p =
        rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("certificate params");
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(
        rcgen::DnType::CommonName,
        sans.first().copied().unwrap_or("argus test"),
    );
    p.distinguished_name = dn;
    p
}

impl TestCert {
    /// A self-signed certificate for `sans`, valid now (rcgen's default validity: 1975–4096).
    pub fn self_signed(sans: &[&str]) -> Self {
        Self::build(leaf_params(sans))
    }

    /// A self-signed certificate for `sans` that expired on 2001-01-01.
    pub fn expired(sans: &[&str]) -> Self {
        let mut p = leaf_params(sans);
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
        Self::build(p)
    }

    /// A self-signed certificate for `sans` valid until January 1st of `year`.
    pub fn valid_until(sans: &[&str], year: i32) -> Self {
        let mut p = leaf_params(sans);
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(year, 1, 1);
        Self::build(p)
    }

    /// A certificate for `sans` issued by a test CA; the chain holds both.
    pub fn issued(sans: &[&str]) -> Self {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "Argus Test CA");
        ca.distinguished_name = dn;
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca.self_signed(&ca_key).expect("CA certificate");
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let leaf = leaf_params(sans)
            .signed_by(&key, &ca, &ca_key)
            .expect("leaf certificate");
        TestCert {
            chain: vec![leaf.der().clone(), ca.der().clone()],
            key: key.serialize_der(),
        }
    }

    fn build(p: rcgen::CertificateParams) -> Self {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = p.self_signed(&key).expect("certificate");
        TestCert {
            chain: vec![cert.der().clone()],
            key: key.serialize_der(),
        }
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                self.chain.clone(),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone())),
            )
            .expect("server certificate");
        Arc::new(cfg)
    }
}

/// A server on 127.0.0.1, stopped when dropped.
#[derive(Debug)]
pub struct LocalServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone, Copy)]
enum Mode {
    Http,
    Hang,
}

impl LocalServer {
    /// Plain HTTP with `routes` by exact path; other paths answer 404.
    pub async fn http(routes: Vec<(&str, Route)>) -> Self {
        Self::start(routes, None, Mode::Http).await
    }

    /// HTTPS with `cert`, serving `routes`.
    pub async fn https(routes: Vec<(&str, Route)>, cert: &TestCert) -> Self {
        Self::start(routes, Some(cert.server_config()), Mode::Http).await
    }

    /// Accepts connections and never sends a byte (nor reads one).
    pub async fn hanging() -> Self {
        Self::start(Vec::new(), None, Mode::Hang).await
    }

    /// Sends `banner` to every connection, then waits for the client to close.
    pub async fn banner(banner: &[u8]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let log: Arc<Mutex<Vec<Received>>> = Arc::default();
        let connections: Arc<AtomicUsize> = Arc::default();
        let banner = banner.to_vec();
        let task = {
            let (log, connections) = (log.clone(), connections.clone());
            tokio::spawn(async move {
                while let Ok((mut s, _)) = listener.accept().await {
                    connections.fetch_add(1, Ordering::SeqCst);
                    log.lock().unwrap().push(Received {
                        at: Instant::now(),
                        path: String::new(),
                        host: None,
                    });
                    let banner = banner.clone();
                    tokio::spawn(async move {
                        let _ = s.write_all(&banner).await;
                        let mut sink = [0u8; 256];
                        while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
                    });
                }
            })
        };
        LocalServer {
            addr,
            log,
            connections,
            task,
        }
    }

    async fn start(
        routes: Vec<(&str, Route)>,
        tls: Option<Arc<rustls::ServerConfig>>,
        mode: Mode,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let log: Arc<Mutex<Vec<Received>>> = Arc::default();
        let connections: Arc<AtomicUsize> = Arc::default();
        let routes: Arc<BTreeMap<String, Route>> =
            Arc::new(routes.into_iter().map(|(p, r)| (p.to_owned(), r)).collect());
        let task = {
            let (log, connections) = (log.clone(), connections.clone());
            tokio::spawn(async move {
                let mut held = Vec::new();
                while let Ok((s, _)) = listener.accept().await {
                    connections.fetch_add(1, Ordering::SeqCst);
                    if let Mode::Hang = mode {
                        log.lock().unwrap().push(Received {
                            at: Instant::now(),
                            path: String::new(),
                            host: None,
                        });
                        held.push(s);
                        continue;
                    }
                    let (log, routes, tls) = (log.clone(), routes.clone(), tls.clone());
                    tokio::spawn(async move {
                        match tls {
                            Some(cfg) => {
                                if let Ok(s) = tokio_rustls::TlsAcceptor::from(cfg).accept(s).await
                                {
                                    serve(s, &routes, &log).await;
                                }
                            }
                            None => serve(s, &routes, &log).await,
                        }
                    });
                }
            })
        };
        LocalServer {
            addr,
            log,
            connections,
            task,
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT{path}` (or `https://` with `tls`).
    pub fn url(&self, tls: bool, path: &str) -> String {
        format!(
            "{}://{}{path}",
            if tls { "https" } else { "http" },
            self.addr
        )
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// What was received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }
}

/// Reads one request head and answers it.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    routes: &BTreeMap<String, Route>,
    log: &Mutex<Vec<Received>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match s.read(&mut buf).await {
            Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_owned();
    let host = text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("host").then(|| v.trim().to_owned())
    });
    log.lock().unwrap().push(Received {
        at: Instant::now(),
        path: path.clone(),
        host,
    });
    let route = routes
        .get(&path)
        .cloned()
        .unwrap_or_else(|| Route::new(404, "not found"));
    let mut out = format!("HTTP/1.1 {} X\r\n", route.status);
    for (k, v) in &route.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        route.body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&route.body);
    let _ = s.write_all(&bytes).await;
    let _ = s.shutdown().await;
}
