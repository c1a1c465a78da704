//! Attack-surface recon: the built-in network scanners `dns`, `subdomains`, `ports`, `http` and
//! `tls`, one folder each, registered in [`catalog`].
//!
//! Invariants every scanner here keeps:
//! - every address it sends a packet to passes the task's network guard
//!   (`TaskContext::net.policy`) after its own resolution, at connect time; a refused address is
//!   skipped and reported, never an error of the task;
//! - requests are paced by the task's rate gate (`TaskContext::net.rate`);
//! - what it discovers is emitted as targets (domains, addresses, services, URLs) for the
//!   engine's chaining rules; it never starts other scanners itself;
//! - cancellation is honoured within a second.

pub mod catalog;
pub mod dns;
pub mod enabled;
pub mod http;
pub mod ports;
pub mod resolve;
pub mod subdomains;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod tls;
