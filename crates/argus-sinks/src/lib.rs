//! Result forwarding destinations: one folder per destination, each an encoder (how a
//! [`SinkEvent`](argus_core::sink::SinkEvent) becomes bytes: `encoding/`) over a transport (how
//! bytes reach the destination: `transport/`) with its settings, registered in [`catalog()`].
//!
//! A destination only delivers batches ([`argus_core::sink::Sink::send`]); what to send, when to
//! retry, what to drop and where the cursor stands are the forwarder's
//! (`argus_engine::forward`), written once for every destination.
//!
//! Invariants every destination here keeps:
//! - `send` returns `Ok` only when the destination accepted (acknowledged, where the protocol
//!   acknowledges) every event of the batch; a refusal that retrying cannot fix is
//!   [`SinkError::Rejected`](argus_core::sink::SinkError::Rejected), anything else
//!   `Retryable`;
//! - credentials are read from the environment by the variable names the config gives
//!   (`token_env`, `secret_env`, …) when the sink is built, held in `Redacted`, and never
//!   appear in `endpoint()`, errors or logs;
//! - HTTP destinations use the process's one client (`Doors::http_client`) with a per-request
//!   timeout.

pub mod catalog;
pub mod cloudwatch_logs;
pub mod encoding;
pub mod pusher;
pub mod sentinel;
pub mod settings;
pub mod splunk_hec;
pub mod syslog;
#[cfg(feature = "testkit")]
// Test support: a failed expectation is the test's failure.
#[allow(clippy::expect_used, clippy::unwrap_used)]
pub mod testkit;
pub mod transport;
pub mod webhook;

pub use catalog::catalog;
