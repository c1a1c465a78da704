//! The connection manager: one AMQP connection at a time, re-established in the background.
//!
//! A [`Setup`] turns a fresh connection into a *session* (channels, topology, consumers). The
//! manager publishes the current session as `Some(Live)` in a watch channel and `None` while
//! there is none, so callers either get a live session at once or fail fast.
//!
//! Invariants:
//! - Generations start at 1 and grow by one per connection attempt; a session's generation never
//!   changes, so anything stamped with it (lease tokens, buffered deliveries) can be recognised as
//!   stale once its session is gone.
//! - A session is declared dead when lapin reports a connection error, when the connection leaves
//!   the connected state, or when [`Setup::healthy`] says a channel or consumer is gone (a channel
//!   error closes only that channel; reconnecting rebuilds everything from a known state). The
//!   manager then publishes `None`, calls [`Setup::lost`] exactly once for that generation, closes
//!   the old connection (so the broker re-queues what it had delivered on it) and reconnects.
//! - The broker URL is only ever shown masked.
//! - An `amqps://` URL's TLS settings (see [`super::tls`]) are read once, in [`Conn::new`], and
//!   used for every connection of the manager.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use argus_core::redacted::Redacted;
use argus_core::{CoreError, Result};
use async_trait::async_trait;
use futures::StreamExt;
use lapin::tcp::OwnedTLSConfig;
use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::{mask_url, unavailable};

/// First pause after a failed connection attempt.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the session's health is checked besides lapin's own error events.
const HEALTH_EVERY: Duration = Duration::from_millis(200);
/// Heartbeat asked for unless the URL sets one: a silently dead peer is noticed within ~2×.
const DEFAULT_HEARTBEAT_SECS: u16 = 10;
/// How long closing a connection may take before it is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// One established connection and the session built on it.
pub(crate) struct Live<S> {
    pub(crate) generation: u64,
    pub(crate) conn: Connection,
    pub(crate) session: S,
}

/// Builds a session on a fresh connection and is told when it is gone.
#[async_trait]
pub(crate) trait Setup: Send + Sync + 'static {
    type Session: Send + Sync + 'static;

    /// Opens channels and declares topology on `conn`.
    async fn setup(
        &self,
        conn: &Connection,
        generation: u64,
    ) -> std::result::Result<Self::Session, lapin::Error>;

    /// Whether every channel and consumer of the session is still usable.
    fn healthy(&self, session: &Self::Session) -> bool;

    /// The session of `generation` is gone (called once, before reconnecting).
    fn lost(&self, generation: u64);
}

/// Keeps one connection to the broker alive.
pub(crate) struct Conn<S> {
    uri: Redacted<AMQPUri>,
    tls: Redacted<OwnedTLSConfig>,
    masked: String,
    name: String,
    connect_timeout: Duration,
    live: watch::Sender<Option<Arc<Live<S>>>>,
    generation: AtomicU64,
    closed: AtomicBool,
    close_signal: Notify,
}

impl<S: Send + Sync + 'static> Conn<S> {
    /// Parses `url` (never echoing it) and prepares a manager; nothing is connected yet.
    pub(crate) fn new(url: &str, name: &str, connect_timeout: Duration) -> Result<Self> {
        let masked = mask_url(url);
        let mut uri = AMQPUri::from_str(url).map_err(|e| {
            // The parser's message describes the defect, not the URL, but keep it short anyway.
            CoreError::invalid("/amqp_url", format!("{masked}: {e}"))
        })?;
        let tls = super::tls::tls_config(url, &uri.scheme)?;
        if uri.query.heartbeat.is_none() {
            uri.query.heartbeat = Some(DEFAULT_HEARTBEAT_SECS);
        }
        if uri.query.connection_timeout.is_none() {
            uri.query.connection_timeout =
                Some(u64::try_from(connect_timeout.as_millis()).unwrap_or(u64::MAX));
        }
        let (live, _) = watch::channel(None);
        Ok(Conn {
            uri: Redacted::new(uri),
            tls,
            masked,
            name: name.to_owned(),
            connect_timeout,
            live,
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            close_signal: Notify::new(),
        })
    }

    /// The broker URL without its password, for logs and errors.
    pub(crate) fn masked(&self) -> &str {
        &self.masked
    }

    /// The current session, if connected.
    pub(crate) fn current(&self) -> Option<Arc<Live<S>>> {
        self.live.borrow().clone()
    }

    /// The current session or an `Unavailable` error saying why there is none.
    pub(crate) fn require(&self) -> Result<Arc<Live<S>>> {
        self.current().ok_or_else(|| {
            if self.closed.load(Ordering::SeqCst) {
                unavailable(format!("{}: closed", self.masked))
            } else {
                unavailable(format!("{}: not connected (reconnecting)", self.masked))
            }
        })
    }

    /// Waits until a session is up or `deadline` passes.
    pub(crate) async fn wait_live(&self, deadline: Instant) -> Option<Arc<Live<S>>> {
        let mut rx = self.live.subscribe();
        let wait = async {
            rx.wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|l| l.clone())
        };
        tokio::time::timeout_at(deadline, wait).await.ok().flatten()
    }

    /// Waits (without limit) until a session is up; `None` once the manager is closed.
    pub(crate) async fn wait_live_forever(&self) -> Option<Arc<Live<S>>> {
        let mut rx = self.live.subscribe();
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return None;
            }
            if let Some(live) = rx.borrow_and_update().clone() {
                return Some(live);
            }
            tokio::select! {
                r = rx.changed() => if r.is_err() { return None },
                () = self.close_signal.notified() => {}
            }
        }
    }

    /// Connects and builds a session, within `connect_timeout`.
    pub(crate) async fn connect<T: Setup<Session = S>>(&self, setup: &T) -> Result<Arc<Live<S>>> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(unavailable(format!("{}: closed", self.masked)));
        }
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let attempt = async {
            let props =
                ConnectionProperties::default().with_connection_name(self.name.clone().into());
            let conn = Connection::connect_uri_with_config(
                self.uri.expose().clone(),
                props,
                self.tls.expose().clone(),
                lapin::runtime::default_runtime()?,
            )
            .await?;
            match setup.setup(&conn, generation).await {
                Ok(session) => Ok((conn, session)),
                Err(e) => {
                    let _ = tokio::time::timeout(
                        CLOSE_TIMEOUT,
                        conn.close(200, "argus: setup failed".into()),
                    )
                    .await;
                    Err(e)
                }
            }
        };
        match tokio::time::timeout(self.connect_timeout, attempt).await {
            Ok(Ok((conn, session))) => Ok(Arc::new(Live {
                generation,
                conn,
                session,
            })),
            Ok(Err(e)) => {
                let text = e.to_string();
                // rustls names the defect (UnknownIssuer, not valid for name …); say where the
                // trusted CAs come from so the fix is obvious.
                let tls = self.masked.starts_with("amqps:");
                let hint = if tls && text.contains("CertificateRequired") {
                    " (amqps: the broker wants a client certificate: certfile and keyfile)"
                } else if tls && text.contains("certificate") {
                    " (amqps: the broker's certificate must chain to the system CA store or to the \
                     URL's cacertfile, and name the URL's host)"
                } else {
                    ""
                };
                Err(unavailable(format!("{}: {text}{hint}", self.masked)))
            }
            Err(_) => Err(unavailable(format!(
                "{}: no connection within {:?}",
                self.masked, self.connect_timeout
            ))),
        }
    }

    /// Makes `live` the current session (the first one, made by the owner's `connect`).
    pub(crate) fn install(&self, live: Arc<Live<S>>) {
        self.live.send_replace(Some(live));
    }

    /// Watches the current session and replaces it whenever it dies, until [`Conn::close`].
    pub(crate) async fn supervise<T: Setup<Session = S>>(&self, setup: &T) {
        let mut backoff = MIN_BACKOFF;
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            if let Some(live) = self.current() {
                self.wait_broken(&live, setup).await;
                if self.closed.load(Ordering::SeqCst) {
                    return;
                }
                self.live.send_replace(None);
                setup.lost(live.generation);
                tracing::warn!(broker = %self.masked, generation = live.generation, "rabbitmq connection lost; reconnecting");
                let _ = tokio::time::timeout(
                    CLOSE_TIMEOUT,
                    live.conn.close(320, "argus: reconnecting".into()),
                )
                .await;
                drop(live);
            }
            match self.connect(setup).await {
                Ok(live) => {
                    tracing::info!(broker = %self.masked, generation = live.generation, "rabbitmq connected");
                    backoff = MIN_BACKOFF;
                    if self.closed.load(Ordering::SeqCst) {
                        return;
                    }
                    self.live.send_replace(Some(live));
                }
                Err(e) => {
                    let pause = jitter(backoff);
                    tracing::warn!(error = %e, retry_in = ?pause, "rabbitmq connection failed");
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = self.close_signal.notified() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Returns once `live` is unusable (or the manager is closed).
    async fn wait_broken<T: Setup<Session = S>>(&self, live: &Live<S>, setup: &T) {
        let events = live.conn.events_listener();
        tokio::pin!(events);
        let mut tick = tokio::time::interval(HEALTH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if self.closed.load(Ordering::SeqCst)
                || !live.conn.status().connected()
                || !setup.healthy(&live.session)
            {
                return;
            }
            tokio::select! {
                ev = events.next() => match ev {
                    Some(lapin::Event::Error(e)) => {
                        tracing::debug!(error = %e, "rabbitmq connection error");
                        return;
                    }
                    Some(_) => {}
                    None => return,
                },
                _ = tick.tick() => {}
                () = self.close_signal.notified() => return,
            }
        }
    }

    /// Stops reconnecting and closes the current connection (unacked deliveries go back to the
    /// broker at once). Afterwards every call fails with `Unavailable`.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.close_signal.notify_waiters();
        if let Some(live) = self.live.send_replace(None) {
            let _ =
                tokio::time::timeout(CLOSE_TIMEOUT, live.conn.close(200, "argus: closing".into()))
                    .await;
        }
    }
}

/// `d` plus up to half of it again, so that many workers reconnecting after one outage spread
/// out. Sub-second clock bits are random enough for that.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    let half = u64::try_from(d.as_millis() / 2).unwrap_or(0).max(1);
    d + Duration::from_millis(u64::from(nanos) % half)
}

/// Aborts background tasks when the last handle of their owner is dropped.
#[derive(Default)]
pub(crate) struct Tasks(std::sync::Mutex<Vec<tokio::task::AbortHandle>>);

impl Tasks {
    pub(crate) fn add(&self, handle: &tokio::task::JoinHandle<()>) {
        match self.0.lock() {
            Ok(mut v) => v.push(handle.abort_handle()),
            Err(p) => p.into_inner().push(handle.abort_handle()),
        }
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        let handles = match self.0.get_mut() {
            Ok(v) => v,
            Err(p) => p.into_inner(),
        };
        for h in handles.drain(..) {
            h.abort();
        }
    }
}
