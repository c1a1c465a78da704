//! Stream transport: TCP or TLS, one persistent connection reused across batches.
//!
//! The caller hands over a batch already framed (syslog's RFC 6587 octet counting); it is
//! written whole and then flushed. Stream syslog has no acknowledgement, so `Ok` means the
//! bytes were handed to the kernel (and, for TLS, encrypted) without error.
//!
//! Invariants:
//! - at most one connection, behind a [`tokio::sync::Mutex`], so the frames of two batches
//!   never interleave;
//! - a failed connect, handshake or write is [`SinkError::Retryable`] and drops the
//!   connection: the next batch connects again;
//! - before a reused connection is written to, it is checked for a close by the peer with
//!   non-blocking reads (a syslog receiver never sends, so what is readable is an end of
//!   stream, an error, or TLS session tickets): writing into a connection the receiver already
//!   closed would "succeed" and lose the batch;
//! - a connect (with its TLS handshake) takes at most the connect timeout and a batch's write
//!   at most [`WRITE_TIMEOUT`], so a stalled receiver cannot hold the sink forever.

use std::fmt;
use std::io::{self, Read as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use argus_core::sink::SinkError;
use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The longest one batch's write and flush may take.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// A destination host and port (shared with the UDP transport).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub host: url::Host<String>,
    pub port: u16,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Host`'s Display brackets IPv6 addresses.
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl Peer {
    /// Every address the host stands for (a name is resolved now, not once at build time, so
    /// a moved receiver is found on reconnect).
    pub async fn addresses(&self) -> Result<Vec<SocketAddr>, SinkError> {
        let addrs: Vec<SocketAddr> = match &self.host {
            url::Host::Ipv4(ip) => vec![SocketAddr::from((*ip, self.port))],
            url::Host::Ipv6(ip) => vec![SocketAddr::from((*ip, self.port))],
            url::Host::Domain(name) => tokio::net::lookup_host((name.as_str(), self.port))
                .await
                .map_err(|e| SinkError::Retryable(format!("syslog: resolving {self}: {e}")))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(SinkError::Retryable(format!(
                "syslog: {self} resolves to no address"
            )));
        }
        Ok(addrs)
    }

    /// The first address the host stands for.
    pub async fn resolve(&self) -> Result<SocketAddr, SinkError> {
        let addrs = self.addresses().await?;
        addrs
            .first()
            .copied()
            .ok_or_else(|| SinkError::Retryable(format!("syslog: {self} resolves to no address")))
    }
}

/// TLS settings of a stream transport.
#[derive(Clone)]
pub struct Tls {
    pub connector: TlsConnector,
    /// The name the server's certificate must carry.
    pub server_name: ServerName<'static>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// TLS (1.2 or 1.3, ring provider) trusting `roots`, checking `server_name`.
    pub fn new(
        roots: rustls::RootCertStore,
        server_name: ServerName<'static>,
    ) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }
}

enum Conn {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    async fn write_all_and_flush(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Conn::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
        }
    }

    /// Whether the peer closed (or broke) the connection. A syslog receiver never sends, so
    /// what is waiting to be read can only be an end of stream, an error, or (TLS) handshake
    /// leftovers such as session tickets. Read with non-blocking system calls rather than
    /// through tokio, whose cached readiness may not have seen the close yet.
    fn closed_by_peer(&mut self) -> bool {
        match self {
            Conn::Tcp(s) => tcp_closed(s),
            Conn::Tls(s) => {
                let (tcp, tls) = s.get_mut();
                tls_closed(tcp, tls)
            }
        }
    }
}

/// How many reads a liveness check makes before it calls a talkative peer alive.
const PROBE_READS: usize = 64;

fn tcp_closed(tcp: &TcpStream) -> bool {
    let sock = socket2::SockRef::from(tcp);
    let mut reader: &socket2::Socket = &sock;
    let mut buf = [0u8; 1024];
    for _ in 0..PROBE_READS {
        match reader.read(&mut buf) {
            Ok(0) => return true,
            // Nothing a receiver says matters to us: discarded.
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
    false
}

fn tls_closed(tcp: &TcpStream, tls: &mut rustls::ClientConnection) -> bool {
    let sock = socket2::SockRef::from(tcp);
    let mut reader: &socket2::Socket = &sock;
    let mut plain = [0u8; 1024];
    for _ in 0..PROBE_READS {
        match tls.read_tls(&mut reader) {
            Ok(0) => return true,
            Ok(_) => {
                if tls.process_new_packets().is_err() {
                    return true;
                }
                loop {
                    match tls.reader().read(&mut plain) {
                        // A close_notify.
                        Ok(0) => return true,
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => return true,
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
    false
}

/// TCP or TLS to one host and port.
pub struct StreamTransport {
    peer: Peer,
    tls: Option<Tls>,
    connect_timeout: Duration,
    conn: Mutex<Option<Conn>>,
}

impl fmt::Debug for StreamTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamTransport")
            .field("peer", &self.peer)
            .field("tls", &self.tls)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl StreamTransport {
    /// A transport to `peer` (TLS when `tls` is given); nothing is opened until the first
    /// send.
    pub fn new(peer: Peer, tls: Option<Tls>, connect_timeout: Duration) -> Self {
        StreamTransport {
            peer,
            tls,
            connect_timeout,
            conn: Mutex::new(None),
        }
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "tls"
        } else {
            "tcp"
        }
    }

    fn error(&self, what: impl fmt::Display) -> SinkError {
        SinkError::Retryable(format!("syslog: {}://{}: {what}", self.scheme(), self.peer))
    }

    /// Writes `bytes` (one or more framed messages) whole and flushes.
    pub async fn send(&self, bytes: &[u8]) -> Result<(), SinkError> {
        let mut slot = self.conn.lock().await;
        let reusable = match slot.take() {
            Some(mut c) => (!c.closed_by_peer()).then_some(c),
            None => None,
        };
        let mut conn = match reusable {
            Some(c) => c,
            None => self.connect().await?,
        };
        match tokio::time::timeout(WRITE_TIMEOUT, conn.write_all_and_flush(bytes)).await {
            Ok(Ok(())) => {
                *slot = Some(conn);
                Ok(())
            }
            // The connection is dropped: part of the batch may have been written, and the
            // framing cannot be resumed mid-message.
            Ok(Err(e)) => Err(self.error(e)),
            Err(_) => Err(self.error(format!(
                "writing did not finish within {}s",
                WRITE_TIMEOUT.as_secs()
            ))),
        }
    }

    async fn connect(&self) -> Result<Conn, SinkError> {
        match tokio::time::timeout(self.connect_timeout, self.connect_now()).await {
            Ok(result) => result,
            Err(_) => Err(self.error(format!(
                "no connection within {}ms",
                self.connect_timeout.as_millis()
            ))),
        }
    }

    async fn connect_now(&self) -> Result<Conn, SinkError> {
        let mut last = None;
        let mut tcp = None;
        for addr in self.peer.addresses().await? {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = match (tcp, last) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(self.error(e)),
            (None, None) => return Err(self.error("no address")),
        };
        // The whole batch is flushed at once; no reason to hold back its tail.
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(Conn::Tcp(tcp)),
            Some(tls) => tls
                .connector
                .connect(tls.server_name.clone(), tcp)
                .await
                .map(|s| Conn::Tls(Box::new(s)))
                .map_err(|e| self.error(format!("TLS handshake: {e}"))),
        }
    }
}
