//! What the API tells operators about its requests: the `request` tracing span of every request
//! and the HTTP metrics (`argus_http_requests_total`, `argus_http_request_duration_seconds`,
//! recorded in the engine's [`Metrics`](argus_engine::metrics::Metrics)).
//!
//! Invariants:
//! - Requests are labelled by the route template axum matched (`/api/v1/scans/{id}`), carried
//!   out of the router by [`audit::route_marker`](crate::audit), never by the raw path, so ids
//!   in paths cannot make new series; a request no route matched is `route="unmatched"`.
//! - The span carries the request id ([`REQUEST_ID`], set by the audit layer outside it), the
//!   method and the path without its query string (a query may carry a token), so every log
//!   line of a request names it; the JSON log format flattens these fields into the line.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::audit::{matched_route, REQUEST_ID};
use crate::AppState;

/// The span every request's handling runs in (info level, so info lines of handlers carry it).
pub(crate) fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %request_id,
    )
}

/// Counts the request and times it to the response head (a streamed body, such as an event
/// stream, is not waited for).
pub(crate) async fn http_metrics(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let res = next.run(req).await;
    state.engine.metrics().http_request(
        method.as_str(),
        matched_route(&res),
        res.status().as_u16(),
        started.elapsed(),
    );
    res
}
