//! What the API tells operators about its requests: the HTTP metrics (`argus_http_requests_total`, `argus_http_request_duration_seconds`,
//! recorded in the engine's [`Metrics`](argus_engine::metrics::Metrics)).
//!
//! Invariants:
//! - Requests are labelled by the route template axum matched (`/api/v1/scans/{id}`), carried
//!   out of the router by [`audit::route_marker`](crate::audit), never by the raw path, so ids
//!   in paths cannot make new series; a request no route matched is `route="unmatched"`.
//! - The request's tracing span (request id, method, path without its query string) is made in
//!   `crate::http_span`.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::audit::matched_route;
use crate::AppState;

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
