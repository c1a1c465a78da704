//! Storage connectors: implementations of [`argus_core::connector::Connector`], one folder per
//! connector (issue #12), and the openers that build them from location URLs and the named
//! credentials of the `[connectors]` config ([`config`]).
//!
//! - [`file`]: a local folder (`file:///path`).
//! - `object` (feature `object-store`): a prefix of an S3 bucket, an Azure Blob container or a
//!   GCS bucket, through `object_store`; also the one builder of `object_store` clients from
//!   URLs (`object::build_store`).
//! - [`sharepoint`]: a folder of a SharePoint document library, through Microsoft Graph.
//!
//! The binary builds the registry with [`config::registry`] (or adds [`config::openers`] to
//! one). Every connector passes the shared suite `argus_core::testkit::connector_suite`
//! (`tests/connector_suite.rs`).

pub mod config;
pub mod file;
#[cfg(feature = "object-store")]
pub mod object;
pub mod sharepoint;

pub use config::{openers, registry, ConfigError, ConnectorsConfig, CredentialConfig};
pub use file::{FileConnector, FileOpener};
#[cfg(feature = "object-store")]
pub use object::{ObjectConnector, ObjectOpener};
pub use sharepoint::{SharePointConnector, SharePointOpener};
