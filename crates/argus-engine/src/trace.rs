//! Trace context across processes: how a task's span joins the trace of the request that
//! started its scan.
//!
//! The engine knows `tracing` only. Turning a span into a W3C `traceparent` and back needs an
//! OpenTelemetry SDK, which only the binary links (`argus-cli`, feature `otel`); it installs a
//! [`Propagation`] once at start-up, and without one every function here does nothing. So the
//! engine, the API and the store stay free of OpenTelemetry, and a build without it pays
//! nothing.
//!
//! The carrier is the scan: when a scan starts, the scans service reads the `traceparent` of the
//! current span (the API request's) and stores it on the scan (`ScanStore::set_scan_trace`)
//! before its tasks enter the ledger; a worker, in this process or another, reads the scan with
//! the tasks it claimed and makes that context the parent of each task's span
//! ([`set_parent`]). Nothing travels in the queue messages or the ledger rows.
//!
//! Invariants: a trace is diagnostics, never a reason to fail. A missing hook, a span without a
//! valid context or a malformed stored value leave the span as it is (a root of its own).

use std::sync::OnceLock;

/// Reads and sets the trace context of `tracing` spans (installed by the binary).
pub trait Propagation: Send + Sync + 'static {
    /// The W3C `traceparent` of `span`'s context, when it belongs to a valid trace.
    fn traceparent(&self, span: &tracing::Span) -> Option<String>;
    /// Makes the remote context `traceparent` the parent of `span` (a malformed value is
    /// ignored). Must be called before the span is first entered.
    fn set_parent(&self, span: &tracing::Span, traceparent: &str);
}

static HOOK: OnceLock<Box<dyn Propagation>> = OnceLock::new();

/// Installs the process's propagation; false if one was installed already (it stays).
pub fn install(propagation: impl Propagation) -> bool {
    HOOK.set(Box::new(propagation)).is_ok()
}

/// The `traceparent` of the current span, if a propagation is installed and the span is in a
/// valid trace.
pub fn current() -> Option<String> {
    HOOK.get()?.traceparent(&tracing::Span::current())
}

/// Makes `traceparent` (when given) the parent of `span`; does nothing without a propagation.
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>) {
    if let (Some(hook), Some(tp)) = (HOOK.get(), traceparent) {
        hook.set_parent(span, tp);
    }
}
