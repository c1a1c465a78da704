//! Storage connectors: implementations of [`argus_core::connector::Connector`], one folder per
//! connector (issue #12).
//!
//! - [`file`]: a local folder (`file:///path`).
//! - `object` (feature `object-store`): a prefix of an S3 bucket, an Azure Blob container or a
//!   GCS bucket, through `object_store`.
//!
//! Every connector passes the shared suite `argus_core::testkit::connector_suite`
//! (`tests/connector_suite.rs`).

pub mod file;
#[cfg(feature = "object-store")]
pub mod object;

pub use file::FileConnector;
#[cfg(feature = "object-store")]
pub use object::ObjectConnector;
