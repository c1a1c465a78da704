//! Local fakes of the SaaS storage services that cannot run here, each a real HTTP server on a
//! loopback port speaking the service's wire protocol.

#[cfg(feature = "object-store")]
pub mod gcs;
pub mod graph;
