//! Artifacts: blobs a scan produces (tool output, cloned repositories, reports), kept under
//! `scans/{scan_id}/{name}` in an [`ArtifactStore`].
//!
//! Invariants:
//! - An [`ArtifactName`] is a relative path of safe segments (no `..`, no absolute paths, no
//!   backslashes, no empty or hidden segments), so no key can escape its scan's folder whatever
//!   the backend.
//! - Names under [`PRIVATE_DIR`] (`private/…`) are the platform's own files (a scan's sealed
//!   repository copy): they live in the scan's folder, so they go when the scan's artifacts go,
//!   but they have no metadata in the store, are never listed and never served. Only
//!   [`Emission::PrivateFile`](crate::scanner::Emission::PrivateFile) may write them.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_core::Stream;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::pin::Pin;

use crate::error::{CoreError, Result};
use crate::ids::{OrgId, ScanId};

/// A stream of bytes; artifacts are never buffered whole.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// A validated artifact name (relative path inside the scan's folder).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ArtifactName(String);

impl ArtifactName {
    /// Validates a name: 1–255 bytes, `/`-separated segments of `[A-Za-z0-9._-]`, none of
    /// which is empty, `.`, `..` or starts with `.`.
    pub fn parse(s: &str) -> Result<Self> {
        let ok = !s.is_empty()
            && s.len() <= 255
            && s.split('/').all(|seg| {
                !seg.is_empty()
                    && !seg.starts_with('.')
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            });
        if ok {
            Ok(ArtifactName(s.to_owned()))
        } else {
            Err(CoreError::invalid(
                "/name",
                "artifact names are relative paths of letters, digits, '.', '_' and '-'",
            ))
        }
    }

    /// A private name: `private/{name}` (see [`PRIVATE_DIR`]).
    pub fn private(name: &str) -> Result<Self> {
        Self::parse(&format!("{PRIVATE_DIR}/{name}"))
    }

    /// True for names under [`PRIVATE_DIR`]: never listed, never served.
    pub fn is_private(&self) -> bool {
        self.0
            .strip_prefix(PRIVATE_DIR)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// First segment of private artifact names (see the module invariants).
pub const PRIVATE_DIR: &str = "private";

impl TryFrom<String> for ArtifactName {
    type Error = CoreError;
    fn try_from(s: String) -> Result<Self> {
        ArtifactName::parse(&s)
    }
}

impl From<ArtifactName> for String {
    fn from(v: ArtifactName) -> String {
        v.0
    }
}

/// Where an artifact lives: its scan and its name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArtifactKey {
    pub scan_id: ScanId,
    pub name: ArtifactName,
}

impl ArtifactKey {
    /// The backend-neutral object key `scans/{scan_id}/{name}`.
    pub fn object_key(&self) -> String {
        format!("scans/{}/{}", self.scan_id, self.name.as_str())
    }
}

/// Metadata of a stored artifact (kept in the `Store`, content in the `ArtifactStore`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArtifactMeta {
    pub scan_id: crate::ids::ScanId,
    #[schema(value_type = String)]
    pub org_id: OrgId,
    #[schema(value_type = String)]
    pub name: ArtifactName,
    pub size: u64,
    pub content_type: String,
    pub created_at: DateTime<Utc>,
}

/// Blob storage for artifacts. Implementations: local disk (embedded), object storage (later).
#[async_trait]
pub trait ArtifactStore: Send + Sync + 'static {
    /// Short backend name for `/meta` and `/readyz` (`local`, `s3`, …).
    fn backend(&self) -> &'static str;

    /// Stores a stream under `key`, replacing any previous content; returns the byte count.
    async fn put(&self, key: &ArtifactKey, data: ByteStream) -> Result<u64>;

    /// Stores a local file under `key` (streamed, not read into memory); returns the byte count.
    async fn put_file(&self, key: &ArtifactKey, path: &Path) -> Result<u64>;

    /// Streams the content of `key`; `NotFound` when absent.
    async fn get(&self, key: &ArtifactKey) -> Result<ByteStream>;

    /// Removes every artifact of a scan (idempotent).
    async fn delete_scan(&self, scan: ScanId) -> Result<()>;

    /// Cheap reachability check for `/readyz`.
    async fn ping(&self) -> Result<()>;

    /// Every scan folder the store holds (`scans/{scan_id}/`, private files included), with its
    /// object count, size and newest modification: the retention sweep
    /// (`argus_engine::retention`) removes the folders of scans the store no longer knows.
    /// Entries under `scans/` that are not scan ids are not listed. The default lists nothing,
    /// so a store that cannot list never has anything taken for an orphan.
    async fn list_scans(&self) -> Result<Vec<StoredScan>> {
        Ok(Vec::new())
    }
}

/// One scan folder of an [`ArtifactStore`] (see [`ArtifactStore::list_scans`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredScan {
    pub scan_id: ScanId,
    /// Files (objects) in the folder, temporary ones of writes in progress included.
    pub objects: u64,
    pub bytes: u64,
    /// The newest modification of anything in the folder (the folder's own when it is empty).
    pub last_modified: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape() {
        for bad in [
            "",
            "../x",
            "a/../b",
            "/etc/passwd",
            "a\\b",
            ".hidden",
            "a//b",
            "a/./b",
            "x y",
        ] {
            assert!(ArtifactName::parse(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["stdout.txt", "tool/out.jsonl", "repo.bundle"] {
            assert!(ArtifactName::parse(good).is_ok(), "{good:?} refused");
            assert!(!ArtifactName::parse(good).unwrap().is_private());
        }
    }

    #[test]
    fn private_names_are_recognised() {
        let p = ArtifactName::private("secrets/ab/repo.bundle.sealed").unwrap();
        assert_eq!(p.as_str(), "private/secrets/ab/repo.bundle.sealed");
        assert!(p.is_private());
        assert!(ArtifactName::parse("private").unwrap().is_private());
        assert!(!ArtifactName::parse("privateer/x").unwrap().is_private());
        assert!(ArtifactName::private("../x").is_err());
    }
}
