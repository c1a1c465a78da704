//! The HTTP edge of the server: what stands between a socket and the router.
//!
//! - [`serve`]: the accept loop — plain HTTP or HTTPS (rustls, certificate reloadable on
//!   demand, see [`tls`]), HTTP/1.1 and HTTP/2, connection limits (header bytes and count,
//!   header read time, which also bounds idle keep-alive connections and the TLS handshake),
//!   graceful shutdown, the peer address as `ConnectInfo<SocketAddr>` and, under TLS, HSTS on
//!   every answer.
//! - [`apply`]: request layers put around the finished router — CORS ([`cors`]), header
//!   limits and the request time limit ([`limits`]), per-address and per-key rate limits
//!   ([`rate`]).
//!
//! Invariants:
//! - Every answer these layers make themselves is a problem-details JSON (`431`
//!   `headers_too_large`, `429` `rate_limited` with `Retry-After`, `503` `unavailable` for the
//!   time limit). Only hyper's hard caps below the router (twice the configured header limits,
//!   a header read that never ends) answer bare or close the connection: nothing reaches the
//!   router to answer with.
//! - The layers wrap the router from the outside, so a CORS preflight is answered and a
//!   rate-limited request is refused before authentication or any handler runs, and they work
//!   the same whatever `router()` grows inside.
//! - Off by default: no CORS headers, no rate limits. Header limits and the time limit are
//!   always on, with defaults no legitimate client reaches.

pub mod cors;
pub mod limits;
pub mod rate;
mod serve;
pub mod tls;

use axum::Router;

pub use cors::CorsConfig;
pub use limits::{ConnectionLimits, RequestLimits};
pub use rate::RateLimitConfig;
pub use serve::{serve, Transport};
pub use tls::{ReloadableTls, TlsError, TlsFiles};

/// Invalid edge settings, found before the server starts.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("server.cors.allowed_origins: {0}")]
    CorsOrigin(String),
    #[error("server.cors.{field}: {detail}")]
    Cors { field: &'static str, detail: String },
}

/// The request layers' settings (connection settings are in [`Transport`]).
#[derive(Clone, Debug, Default)]
pub struct EdgeConfig {
    pub cors: CorsConfig,
    pub limits: RequestLimits,
    pub rate: RateLimitConfig,
}

/// Puts the edge's request layers around `router` (outermost first: CORS, header limits, rate
/// limits, time limit). Checks the settings: a CORS origin that is not `scheme://host[:port]`
/// is an error here, not a surprise in a browser.
pub fn apply(router: Router, config: &EdgeConfig) -> Result<Router, EdgeError> {
    // `Router::layer` wraps what is already there: the last one added runs first.
    let mut router = router.layer(axum::middleware::from_fn_with_state(
        config.limits.request_timeout,
        limits::time_limit,
    ));
    if let Some(limiter) = rate::RateLimiter::new(&config.rate) {
        router = router.layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(limiter),
            rate::rate_limit,
        ));
    }
    router = router.layer(axum::middleware::from_fn_with_state(
        config.limits.clone(),
        limits::header_limits,
    ));
    if let Some(cors) = cors::layer(&config.cors)? {
        router = router.layer(cors);
    }
    Ok(router)
}
