//! The `[server]` settings of the HTTP edge (`[server.tls]`, `[server.cors]`,
//! `[server.rate_limit]`, header and time limits), turned into `argus_api::edge` values, and
//! the SIGHUP certificate reload of `argus serve`.
//!
//! Invariant: everything here is checked before the server opens its backends, so a bad
//! certificate or origin stops `argus serve` with a message naming the setting, before it has
//! done anything.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use argus_api::edge::{self, ReloadableTls, TlsFiles, Transport};

use crate::config::Config;

/// `[server.tls]`: HTTPS with this certificate chain and key (PEM); both or neither.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// The server certificate, then any intermediates.
    pub cert: Option<PathBuf>,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
}

/// `[server.cors]`: browser pages of other origins allowed to call the API.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CorsSection {
    /// `scheme://host[:port]` origins, or `["*"]`; empty: CORS off (no CORS headers).
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    /// Seconds a browser may cache a preflight answer.
    pub max_age_secs: u64,
}

impl Default for CorsSection {
    fn default() -> Self {
        let d = edge::CorsConfig::default();
        CorsSection {
            allowed_origins: d.allowed_origins,
            allowed_methods: d.allowed_methods,
            allowed_headers: d.allowed_headers,
            max_age_secs: d.max_age.as_secs(),
        }
    }
}

/// `[server.rate_limit]`: requests a minute, with bursts of as many; 0: off.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSection {
    /// Per client address (IPv6: per /64).
    pub per_address: u32,
    /// Per bearer token (`Authorization: Bearer …`).
    pub per_key: u32,
}

/// The edge of `argus serve`, checked.
pub struct Edge {
    pub transport: Transport,
    pub config: edge::EdgeConfig,
}

impl Edge {
    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.transport.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

/// Reads and checks the edge settings of `cfg` (loads the certificate when TLS is on).
pub fn load(cfg: &Config) -> anyhow::Result<Edge> {
    let s = &cfg.server;
    let tls = match (&s.tls.cert, &s.tls.key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(
            ReloadableTls::load(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            })
            .context("invalid configuration: server.tls")?,
        ),
        _ => anyhow::bail!(
            "invalid configuration: server.tls needs both cert and key (ARGUS_SERVER__TLS__CERT, \
             ARGUS_SERVER__TLS__KEY), or neither for plain HTTP"
        ),
    };
    let secs = |n: u64| (n > 0).then(|| Duration::from_secs(n));
    let header_read_timeout = secs(s.header_read_timeout_secs).ok_or_else(|| {
        anyhow::anyhow!(
            "invalid configuration: server.header_read_timeout_secs must be at least 1: without \
             it a client that sends nothing holds its connection forever"
        )
    })?;
    let transport = Transport {
        tls,
        limits: edge::ConnectionLimits {
            max_header_bytes: s.max_header_bytes,
            max_headers: s.max_headers,
            header_read_timeout,
        },
    };
    let config = edge::EdgeConfig {
        cors: edge::CorsConfig {
            allowed_origins: s.cors.allowed_origins.clone(),
            allowed_methods: s.cors.allowed_methods.clone(),
            allowed_headers: s.cors.allowed_headers.clone(),
            max_age: Duration::from_secs(s.cors.max_age_secs),
        },
        limits: edge::RequestLimits {
            max_header_bytes: s.max_header_bytes,
            max_headers: s.max_headers,
            request_timeout: secs(s.request_timeout_secs),
        },
        rate: edge::RateLimitConfig {
            per_address: s.rate_limit.per_address,
            per_key: s.rate_limit.per_key,
            trusted_proxies: cfg.auth.proxy_networks()?,
        },
    };
    // Checks the CORS settings now, before anything opens.
    edge::cors::layer(&config.cors).map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    Ok(Edge { transport, config })
}

/// Reloads the certificate on each SIGHUP until `stop`: a pair that does not load is logged
/// and the old one kept. Registered before the server says it listens, so a SIGHUP from then
/// on never takes the default action (ending the process).
#[cfg(unix)]
pub fn reload_on_sighup(
    tls: Arc<ReloadableTls>,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                got = hup.recv() => if got.is_none() { break },
            }
            let files = tls.files().clone();
            let reloaded = {
                let tls = tls.clone();
                tokio::task::spawn_blocking(move || tls.reload()).await
            };
            match reloaded {
                Ok(Ok(())) => tracing::info!(
                    cert = %files.cert.display(),
                    "TLS certificate reloaded; new connections use it"
                ),
                Ok(Err(e)) => tracing::error!(
                    error = %e,
                    "TLS certificate reload failed; still serving the previous certificate"
                ),
                Err(e) => tracing::error!(error = %e, "TLS certificate reload did not finish"),
            }
        }
    }))
}

#[cfg(not(unix))]
pub fn reload_on_sighup(
    _tls: Arc<ReloadableTls>,
    _stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    Ok(tokio::spawn(async {}))
}
