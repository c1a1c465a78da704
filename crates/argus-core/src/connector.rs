//! The `Connector` trait: one storage location (a local folder, a bucket prefix, a document
//! library) seen as a flat, ordered set of objects that can be listed page by page, read as a
//! byte stream and acted on (quarantine, delete).
//!
//! Semantics every implementation keeps (checked by `testkit::connector_suite`):
//! - Keys are relative to the location, `/`-separated, never empty, never absolute and never
//!   containing `.` or `..` segments ([`check_key`]); a connector never reaches outside its
//!   location, whatever key it is handed.
//! - [`Connector::list`] returns objects in ascending key order, at most `limit` per page, with a
//!   continuation to pass back for the next page; `None` means the listing is complete. Listing
//!   from a continuation returns exactly the objects after it, so an enumeration checkpointed on
//!   the continuation resumes with nothing listed twice and nothing skipped. A page never needs
//!   the whole listing in memory.
//! - A missing object is [`ConnectorError::NotFound`], for `read` and for `act` alike.
//! - An action the backend cannot take is [`ActionOutcome::Unsupported`], not an error: the
//!   caller records it on the verdict.

use std::fmt;
use std::io;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_core::Stream;
use serde::{Deserialize, Serialize};

/// One object of a location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// The key, relative to the location (see the module docs).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The backend's version tag (ETag, or a size-and-time tag for files), when it has one.
    pub etag: Option<String>,
    /// Last modification time, when the backend reports one.
    pub modified: Option<DateTime<Utc>>,
}

/// One page of a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectPage {
    /// Objects in ascending key order.
    pub objects: Vec<ObjectInfo>,
    /// Pass back to [`Connector::list`] for the next page; `None` when the listing is complete.
    pub continuation: Option<String>,
}

/// What to do with an object (a connector's action policy on a malicious verdict).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Leave it.
    None,
    /// Tag it (object tags or metadata where the backend has them).
    Tag { name: String, value: String },
    /// Move it under a quarantine prefix (kept with its key below the prefix).
    Move { prefix: String },
    /// Delete it.
    Delete,
}

/// What an action did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ActionOutcome {
    /// Nothing was asked ([`Action::None`]).
    Nothing,
    /// Taken; `detail` says where a moved object went.
    Done { detail: Option<String> },
    /// The backend cannot take this action (tags on a plain folder): recorded, not an error.
    Unsupported { reason: String },
}

/// Why a connector call failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// No such object.
    #[error("object not found: {0}")]
    NotFound(String),
    /// The backend refused access (credentials, permissions).
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// A key or argument that cannot be valid here (`..`, an absolute path, a bad continuation).
    #[error("invalid: {0}")]
    Invalid(String),
    /// Anything else the backend reported (I/O, network, throttling after retries).
    #[error("{0}")]
    Backend(String),
}

impl ConnectorError {
    /// Maps an I/O error on `key`: not-found and permission errors keep their meaning.
    pub fn io(key: &str, e: &io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::NotFound => ConnectorError::NotFound(key.to_owned()),
            io::ErrorKind::PermissionDenied => {
                ConnectorError::PermissionDenied(format!("{key}: {e}"))
            }
            _ => ConnectorError::Backend(format!("{key}: {e}")),
        }
    }
}

/// An object's content, as it arrives.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// What a connector is, for logs and the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    /// The URL scheme it serves (`file`, `s3`, `az`, `gs`, `sharepoint`).
    pub scheme: String,
    /// Its location as a URL, without credentials.
    pub location: String,
    /// The actions it can take (`none` is always possible).
    pub actions: Vec<String>,
}

/// A storage location. See the module docs for the semantics every implementation keeps.
#[async_trait]
pub trait Connector: Send + Sync + fmt::Debug {
    /// What this connector is.
    fn describe(&self) -> ConnectorInfo;

    /// Up to `limit` objects whose key starts with `prefix`, after `continuation` (from the
    /// previous page of the same listing), in ascending key order.
    async fn list(
        &self,
        prefix: &str,
        continuation: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, ConnectorError>;

    /// The content of `key`.
    async fn read(&self, key: &str) -> Result<ByteStream, ConnectorError>;

    /// Takes `action` on `key`.
    async fn act(&self, key: &str, action: &Action) -> Result<ActionOutcome, ConnectorError>;

    /// The local file holding `key`, for a connector whose objects are files on this machine
    /// (checked as [`Connector::read`] checks: a key, inside the location, not a link), so a
    /// detector can scan it in place instead of through a copy. `None` for remote backends.
    fn local_path(&self, key: &str) -> Option<std::path::PathBuf> {
        let _ = key;
        None
    }
}

/// Opens connectors for the location URLs of some schemes (`file`; `s3`, `az`, `gs`;
/// `sharepoint`), with the named credentials its config holds. Registered in
/// [`ConnectorRegistry`](crate::component::ConnectorRegistry).
///
/// A location URL is `scheme://` + bucket, container, site or nothing (`file:///path`) + a
/// path naming the folder or prefix the connector is confined to. An opener keeps the
/// operator's rules: a cloud location without a credential uses the server's own identity only
/// when the operator allowed it; a credential is used only for the locations it names.
pub trait ConnectorOpener: Send + Sync + fmt::Debug {
    /// The URL schemes served.
    fn schemes(&self) -> &'static [&'static str];

    /// Checks without I/O that `location` can be opened with `credential`: the URL is
    /// well-formed for the scheme, the credential exists and may be used there.
    fn check(&self, location: &url::Url, credential: Option<&str>) -> Result<(), ConnectorError>;

    /// Opens a connector confined to `location`.
    fn open(
        &self,
        location: &url::Url,
        credential: Option<&str>,
    ) -> Result<std::sync::Arc<dyn Connector>, ConnectorError>;
}

/// The URL of object `key` of `location` (the location URL with the key's segments appended,
/// percent-encoded as URLs need): what an object task's target says.
pub fn object_url(location: &url::Url, key: &str) -> url::Url {
    let mut u = location.clone();
    if let Ok(mut segs) = u.path_segments_mut() {
        segs.pop_if_empty();
        segs.extend(key.split('/'));
    }
    u
}

/// Refuses keys that could leave the location or are not keys at all (see the module docs).
pub fn check_key(key: &str) -> Result<(), ConnectorError> {
    let bad = |why: &str| Err(ConnectorError::Invalid(format!("key {key:?}: {why}")));
    if key.is_empty() {
        return bad("empty");
    }
    if key.starts_with('/') || key.contains('\\') || key.contains('\0') {
        return bad("must be relative, with '/' separators");
    }
    if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad("empty, '.' or '..' segment");
    }
    Ok(())
}

/// Refuses a quarantine prefix that is not a clean relative path (a prefix is a key's folder).
pub fn check_prefix(prefix: &str) -> Result<(), ConnectorError> {
    check_key(prefix.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_could_leave_the_location_are_refused() {
        for ok in ["a", "a/b.txt", "dir/sub/file", "with space/é"] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a/./b",
            "a//b",
            "a/",
            "c:\\x",
            "a\0b",
            ".",
        ] {
            assert!(
                matches!(check_key(bad), Err(ConnectorError::Invalid(_))),
                "{bad:?}"
            );
        }
        assert!(check_prefix("quarantine/").is_ok());
        assert!(check_prefix("../q").is_err());
    }

    #[test]
    fn object_urls_append_the_key_to_the_location() {
        let loc = url::Url::parse("s3://bucket/some/prefix/").unwrap();
        assert_eq!(
            object_url(&loc, "a b/é.txt").as_str(),
            "s3://bucket/some/prefix/a%20b/%C3%A9.txt"
        );
        let loc = url::Url::parse("file:///srv/data").unwrap();
        assert_eq!(object_url(&loc, "x/y").as_str(), "file:///srv/data/x/y");
    }

    #[test]
    fn actions_and_outcomes_have_a_tagged_wire_form() {
        let a = Action::Move {
            prefix: "quarantine/".into(),
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"action": "move", "prefix": "quarantine/"})
        );
        assert_eq!(serde_json::from_value::<Action>(v).unwrap(), a);
        assert_eq!(
            serde_json::to_value(ActionOutcome::Nothing).unwrap(),
            serde_json::json!({"outcome": "nothing"})
        );
    }
}
