//! Argus domain model and the traits at the seams.
//!
//! This crate knows nothing of HTTP, SQL, AMQP or processes: it holds the vocabulary every other
//! crate speaks (targets, scans, tasks, findings, events, templates, artifacts), the scan
//! lifecycle rules, and the traits that backends implement:
//! [`Store`](store::Store), [`Queue`](queue::Queue), [`ArtifactStore`](artifact::ArtifactStore),
//! [`Scanner`](scanner::Scanner) and [`EventBus`](bus::EventBus); the component shape
//! ([`component::Factory`], [`component::Doors`]) that scanners (and later connectors, sinks
//! and actions) are built through; and what the doors speak ([`door`]).
//!
//! Invariants kept here:
//! - Identifiers and targets are parsed into newtypes at the edge; once constructed they are valid.
//! - Lifecycle transitions are decided by [`scan::ScanState::apply`] only; backends persist the
//!   result with a conditional update so two racing callers cannot both win.
//! - Secret values are wrapped in [`redacted::Redacted`], whose `Debug`/`Display` never show them.

pub mod apikey;
pub mod artifact;
pub mod audit;
pub mod bus;
pub mod chain;
pub mod component;
pub mod connector;
pub mod connector_config;
pub mod detector;
pub mod door;
pub mod error;
pub mod event;
pub mod finding;
pub mod ids;
pub mod json;
pub mod net;
pub mod queue;
pub mod quota;
pub mod redacted;
pub mod remediation;
pub mod retention;
pub mod sarif;
pub mod scan;
pub mod scanner;
pub mod schedule;
pub mod sink;
pub mod store;
pub mod target;
pub mod task;
pub mod template;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::{CoreError, Result};
pub use ids::{
    ConnectorId, FindingId, OrgId, Permission, Principal, Role, ScanId, ScheduleId, TaskId,
    TemplateId, UserId,
};

/// Milliseconds since the Unix epoch; the one clock unit used in the model and the backends.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
