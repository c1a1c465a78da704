//! Shared conformance suites: every `Store`, `Queue`, `ArtifactStore` and `Scanner`
//! implementation runs the same tests (embedded and real backends alike). Enable with the
//! `testkit` feature; a backend implements the suite's harness trait and invokes its macro
//! (`store_suite_tests!`, `queue_suite_tests!`, `scanner_suite_tests!`), which generates one
//! `#[test]` per case.

pub mod artifact_suite;
pub mod connector_suite;
pub mod queue_suite;
pub mod scanner_suite;
pub mod store_suite;

/// The URL of an external service a test needs (PostgreSQL, RabbitMQ, S3…), read from the
/// environment variable `var` (`.ci/run` sets them all).
///
/// Unset: returns `None` after printing why the test skips, so `cargo test` passes on a bare
/// machine — except under `CI=true`, where a missing service is a failure, never a skip.
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => {
            let ci = std::env::var("CI").map(|v| v == "true").unwrap_or(false);
            assert!(
                !ci,
                "{var} is not set but CI=true: the service this test needs must be configured"
            );
            eprintln!(
                "skipping: {var} is not set (set it to run this test against a real service)"
            );
            None
        }
    }
}
