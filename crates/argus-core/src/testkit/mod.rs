//! Shared conformance suites: every `Store`, `Queue` and `ArtifactStore` implementation runs
//! the same tests (embedded and real backends alike). Enable with the `testkit` feature and call
//! e.g. `argus_core::testkit::store_suite::run_all(|| async { make_store() }).await`.

pub mod artifact_suite;
pub mod queue_suite;
pub mod store_suite;
