//! Request size and time limits.
//!
//! Two levels, because hyper parses headers before the router sees anything:
//! - [`ConnectionLimits`] configure hyper (see `serve`): its hard caps are set to twice the
//!   configured header limits, and its header read timeout closes a connection that sends no
//!   complete request head in time (a slow sender, an idle keep-alive connection, a TLS
//!   handshake that does not finish).
//! - [`header_limits`] and [`time_limit`] run as router layers, so the configured limits are
//!   answered with problem-details JSON (`431` `headers_too_large`, `503` `unavailable`) rather
//!   than hyper's bare status line; only a request past the hard caps gets the bare answer.
//!
//! The time limit bounds the time to the response head: a live stream (SSE, WebSocket) or a
//! large download answers at once and then streams for as long as it needs.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::{Code, Problem};

/// Default largest request head (request target plus headers), in bytes.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;
/// Default most request header fields.
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// Default request time limit.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Default time a connection has to deliver a request head (and a kept-alive one to start the
/// next).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Limits checked on each request by the router layers.
#[derive(Clone, Debug)]
pub struct RequestLimits {
    /// Largest request target plus header fields, in bytes (each field counted as
    /// `name: value` with its line end).
    pub max_header_bytes: usize,
    /// Most header fields (each repeated field counted once per occurrence).
    pub max_headers: usize,
    /// Longest time to the response head; `None`: no limit.
    pub request_timeout: Option<Duration>,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            request_timeout: Some(DEFAULT_REQUEST_TIMEOUT),
        }
    }
}

/// Limits hyper enforces per connection.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// The configured header byte limit; hyper's own cap is twice it (at least 64 KiB).
    pub max_header_bytes: usize,
    /// The configured header count; hyper's own cap is twice it.
    pub max_headers: usize,
    /// Time to receive a request head, to start the next one on a kept-alive connection, and
    /// to finish a TLS handshake; also the HTTP/2 keep-alive ping interval.
    pub header_read_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        }
    }
}

impl ConnectionLimits {
    /// hyper's read buffer cap, which bounds a request head: twice the configured limit so that
    /// heads between the two get a problem answer from [`header_limits`]; never below hyper's
    /// minimum of 8 KiB (it panics below), and at least 64 KiB so that request bodies still
    /// stream in large reads.
    pub(crate) fn hyper_buf_size(&self) -> usize {
        self.max_header_bytes.saturating_mul(2).max(64 * 1024)
    }

    /// hyper's header count cap.
    pub(crate) fn hyper_max_headers(&self) -> usize {
        self.max_headers.saturating_mul(2).max(1)
    }

    /// HTTP/2's header list cap (the decoded size, as the protocol counts it).
    pub(crate) fn h2_max_header_list(&self) -> u32 {
        u32::try_from(self.hyper_buf_size()).unwrap_or(u32::MAX)
    }
}

/// The size of a request head as [`RequestLimits::max_header_bytes`] counts it.
pub fn head_bytes(req: &Request) -> usize {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let fields: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    target + fields
}

/// Refuses a request whose head is over the configured limits with `431`.
pub(crate) async fn header_limits(
    State(limits): State<RequestLimits>,
    req: Request,
    next: Next,
) -> Response {
    let count = req.headers().len();
    if count > limits.max_headers {
        return too_large(format!(
            "the request has {count} header fields; at most {} are accepted (server.max_headers)",
            limits.max_headers
        ));
    }
    let bytes = head_bytes(&req);
    if bytes > limits.max_header_bytes {
        return too_large(format!(
            "the request target and headers take {bytes} bytes; at most {} are accepted \
             (server.max_header_bytes)",
            limits.max_header_bytes
        ));
    }
    next.run(req).await
}

fn too_large(detail: String) -> Response {
    Problem::new(Code::HeadersTooLarge, detail).into_response()
}

/// Answers `503` when the inner service has not produced a response head within the limit.
/// The handler's future is dropped, as when a client goes away.
pub(crate) async fn time_limit(
    State(timeout): State<Option<Duration>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(timeout) = timeout else {
        return next.run(req).await;
    };
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(%method, %path, limit_secs = timeout.as_secs_f64(), "request time limit reached");
            Problem::new(
                Code::Unavailable,
                format!(
                    "the request took longer than the server's time limit of {} s \
                     (server.request_timeout_secs)",
                    timeout.as_secs_f64()
                ),
            )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_caps_stay_above_the_configured_limits_and_hyper_minimum() {
        let tiny = ConnectionLimits {
            max_header_bytes: 100,
            max_headers: 0,
            header_read_timeout: Duration::from_secs(1),
        };
        assert_eq!(tiny.hyper_buf_size(), 64 * 1024);
        assert_eq!(tiny.hyper_max_headers(), 1);
        let big = ConnectionLimits {
            max_header_bytes: 1 << 20,
            max_headers: 300,
            header_read_timeout: Duration::from_secs(1),
        };
        assert_eq!(big.hyper_buf_size(), 2 << 20);
        assert_eq!(big.hyper_max_headers(), 600);
        let huge = ConnectionLimits {
            max_header_bytes: usize::MAX,
            ..big
        };
        assert_eq!(huge.h2_max_header_list(), u32::MAX);
    }

    #[test]
    fn head_bytes_counts_target_and_fields() {
        let req = axum::http::Request::builder()
            .uri("/a?b=c")
            .header("x-one", "12345")
            .body(axum::body::Body::empty())
            .unwrap();
        // "/a?b=c" (6) + "x-one" (5) + "12345" (5) + ": " and CRLF (4)
        assert_eq!(head_bytes(&req), 20);
    }
}
