//! The span of each HTTP request (made by the router's `TraceLayer`).
//!
//! One `request` span per request, named for OpenTelemetry by method and route template
//! (`POST /api/v1/scans`, never the raw path with its ids), with the request id the audit layer
//! put on the request, and the answer's status recorded when it leaves. A W3C `traceparent`
//! header from the client makes the span a child of the caller's trace; the scans service then
//! carries that trace on to the scan's tasks (`argus_engine::trace`).
//!
//! The span is at info level, so every line logged while a request is handled carries its
//! `request_id`, `method` and `path` (the JSON log format flattens span fields); the binary's
//! trace exporter takes it whatever the log level.
//!
//! Invariants: a span never fails a request (a malformed `traceparent` is ignored and the
//! request starts a trace of its own); no header value but the request id and the trace context
//! is read, so no credential reaches a span.

use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use tracing::field::Empty;

use crate::audit::REQUEST_ID;

/// The target of the request span, for filters that want it at any log level.
pub const SPAN_TARGET: &str = "argus_api::request";

/// The W3C trace context header.
const TRACEPARENT: &str = "traceparent";

/// The `request` span of `req`, a child of the caller's trace when it sent one.
pub(crate) fn make_span<B>(req: &Request<B>) -> tracing::Span {
    let method = req.method().as_str();
    // Set by the router before the layers around each route run; absent for unmatched paths.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    let request_id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok());
    let path = req.uri().path();
    // `method` and `path` are what the JSON log lines show; the dotted names are OpenTelemetry's
    // semantic conventions for the exported span.
    let span = tracing::info_span!(
        target: SPAN_TARGET,
        "request",
        otel.name = %name,
        otel.kind = "server",
        otel.status_code = Empty,
        method = %method,
        path = %path,
        http.request.method = %method,
        http.route = route,
        url.path = %path,
        request_id = request_id,
        http.response.status_code = Empty,
    );
    let parent = req.headers().get(TRACEPARENT).and_then(|v| v.to_str().ok());
    argus_engine::trace::set_parent(&span, parent);
    span
}

/// Records the answer's status on the span (an error status for 5xx) and logs the request's
/// end at debug level, as `tower_http`'s default did.
pub(crate) fn on_response<B>(res: &Response<B>, latency: Duration, span: &tracing::Span) {
    let status = res.status().as_u16();
    span.record("http.response.status_code", status);
    if res.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    tracing::debug!(
        target: "tower_http::trace::on_response",
        parent: span,
        latency = %format_args!("{} ms", latency.as_millis()),
        status,
        "finished processing request"
    );
}
