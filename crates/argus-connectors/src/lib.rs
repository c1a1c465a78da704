//! Storage connectors: implementations of [`argus_core::connector::Connector`], one folder per
//! connector (issue #12).
//!
//! - [`file`]: a local folder (`file:///path`).
//!
//! Every connector passes the shared suite `argus_core::testkit::connector_suite`
//! (`tests/connector_suite.rs`).

pub mod file;

pub use file::FileConnector;
