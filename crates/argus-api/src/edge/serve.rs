//! The accept loop: one task per connection, plain or TLS, HTTP/1.1 or HTTP/2.
//!
//! Invariants:
//! - Accepting never waits on a client: the TLS handshake and the wait for a first byte run in
//!   the connection's own task, bounded by the header read timeout, so a client that connects
//!   and sends nothing holds one task for that long, and nobody else waits.
//! - Under TLS the protocol is the one ALPN agreed (`h2`, else HTTP/1.1), so hyper never waits
//!   to guess it; in plain HTTP hyper reads the first bytes (HTTP/2 prior knowledge or 1.1).
//! - Every request carries `ConnectInfo<SocketAddr>` (the TCP peer) for identity and rate
//!   limits, as `axum::serve` gave it.
//! - Graceful shutdown: on `shutdown` the listener closes, live streams are told to end
//!   ([`crate::live::Shutdown`]), connections in a handshake are dropped, served connections
//!   finish their requests in flight, and `serve` returns when the last one closed.
//! - Under TLS every answer carries `Strict-Transport-Security`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::limits::ConnectionLimits;
use super::tls::ReloadableTls;

/// HSTS value sent under TLS: one year, the usual floor for preload lists; no
/// `includeSubDomains`, since the server cannot know what else runs under its domain.
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// How long HTTP/2 waits for a keep-alive ping's answer before closing.
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// How connections are served.
#[derive(Clone, Debug, Default)]
pub struct Transport {
    /// HTTPS with this (reloadable) certificate; `None`: plain HTTP.
    pub tls: Option<Arc<ReloadableTls>>,
    pub limits: ConnectionLimits,
}

/// Serves `router` on `listener` until `shutdown` resolves (see the module invariants).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    transport: Transport,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Live streams (SSE, WebSocket) never end on their own; they watch this token so that a
    // graceful shutdown is not held open by them.
    let streams = CancellationToken::new();
    let router = router.layer(axum::Extension(crate::live::Shutdown(streams.clone())));
    let conn = Arc::new(ConnCtx {
        router,
        builder: builder(&transport.limits),
        tls: transport.tls,
        limits: transport.limits,
        stop: CancellationToken::new(),
    });
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                if !is_connection_error(&e) {
                    // Out of file descriptors and the like: back off instead of spinning, as
                    // hyper's and axum's loops do.
                    tracing::error!(error = %e, "accepting a connection failed");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                continue;
            }
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        tokio::spawn(conn.clone().run(tcp, peer, graceful.watcher()));
    }
    drop(listener);
    streams.cancel();
    conn.stop.cancel();
    graceful.shutdown().await;
    Ok(())
}

fn builder(limits: &ConnectionLimits) -> Builder<TokioExecutor> {
    let mut b = Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.hyper_buf_size())
        .max_headers(limits.hyper_max_headers());
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(limits.h2_max_header_list())
        .keep_alive_interval(limits.header_read_timeout)
        .keep_alive_timeout(H2_PING_TIMEOUT);
    b
}

/// Accept errors that concern one connection only (the peer gave up before we took it).
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// What every connection task shares.
struct ConnCtx {
    router: Router,
    builder: Builder<TokioExecutor>,
    tls: Option<Arc<ReloadableTls>>,
    limits: ConnectionLimits,
    /// Cancelled at shutdown: connections not yet served are dropped.
    stop: CancellationToken,
}

impl ConnCtx {
    async fn run(self: Arc<Self>, tcp: TcpStream, peer: SocketAddr, watcher: Watcher) {
        let wait = self.limits.header_read_timeout;
        match self.tls.clone() {
            None => {
                // hyper reads the first bytes to tell HTTP/2 from 1.1, without a time limit:
                // wait for them here, under one.
                let mut first = [0u8; 1];
                let ready = tokio::select! {
                    () = self.stop.cancelled() => return,
                    r = tokio::time::timeout(wait, tcp.peek(&mut first)) => r,
                };
                match ready {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => return,
                }
                let svc = self.service(peer, false);
                let conn = self
                    .builder
                    .serve_connection_with_upgrades(TokioIo::new(tcp), svc);
                if let Err(e) = watcher.watch(conn.into_owned()).await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            }
            Some(tls) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
                let handshake = tokio::select! {
                    () = self.stop.cancelled() => return,
                    r = tokio::time::timeout(wait, acceptor.accept(tcp)) => r,
                };
                let stream = match handshake {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                let builder = if h2 {
                    self.builder.clone().http2_only()
                } else {
                    self.builder.clone().http1_only()
                };
                let svc = self.service(peer, true);
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
                if let Err(e) = watcher.watch(conn.into_owned()).await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            }
        }
    }

    /// The router as a hyper service for one connection: adds the peer address to each
    /// request and, under TLS, HSTS to each answer.
    fn service(
        &self,
        peer: SocketAddr,
        hsts: bool,
    ) -> impl hyper::service::Service<
        Request<Incoming>,
        Response = axum::response::Response,
        Error = Infallible,
        Future = impl Future<Output = Result<axum::response::Response, Infallible>> + Send,
    > + Clone {
        let router = self.router.clone();
        hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let call = router.clone().oneshot(req);
            async move {
                let mut res = call.await?;
                if hsts {
                    res.headers_mut()
                        .insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
                }
                Ok(res)
            }
        })
    }
}
