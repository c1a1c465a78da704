//! Content detectors and verdicts: what a file scanner (YARA, ClamAV, an external scanning
//! service, archive descent around any of them) says about one object's bytes.
//!
//! A [`Detector`] looks at one [`Content`] — a file on local disk or bytes in memory — and
//! returns an [`Outcome`]: a [`VerdictKind`] plus the [`Hit`]s behind it. The platform's object
//! scanner (one task per object of a location) wraps a detector: it reads the object through
//! its connector, asks the detector, records a [`Verdict`] per object, turns malicious and
//! suspicious verdicts into findings and takes the connector's action.
//!
//! Invariants every detector keeps:
//! - It never panics on hostile content and never expands content without limits: anything it
//!   cannot judge is [`VerdictKind::Skipped`] (too large, encrypted) or an error, not a guess.
//! - It honours the cancellation token within a second.
//! - [`Detector::version`] changes whenever the same bytes could get another outcome (new
//!   rules, new signatures): the verdict cache is keyed by (content SHA-256, version).

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// The verdict on one object.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// Nothing found.
    Clean,
    /// A detection the engine calls malware (a ClamAV signature, a YARA rule tagged or
    /// configured as malicious).
    Malicious,
    /// A detection that needs a person to look (a YARA rule not marked malicious, an archive
    /// bomb, a heuristic).
    Suspicious,
    /// The object could not be scanned (read failed, engine down after retries).
    Error,
    /// Deliberately not scanned (too large, encrypted archive).
    Skipped,
}

impl VerdictKind {
    /// Every kind, in declaration order.
    pub const ALL: [VerdictKind; 5] = [
        VerdictKind::Clean,
        VerdictKind::Malicious,
        VerdictKind::Suspicious,
        VerdictKind::Error,
        VerdictKind::Skipped,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Clean => "clean",
            VerdictKind::Malicious => "malicious",
            VerdictKind::Suspicious => "suspicious",
            VerdictKind::Error => "error",
            VerdictKind::Skipped => "skipped",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the verdict calls for the connector's action and a finding.
    pub fn is_detection(self) -> bool {
        matches!(self, VerdictKind::Malicious | VerdictKind::Suspicious)
    }

    /// The worse of two verdicts (malicious > suspicious > error > skipped > clean), to fold
    /// the verdicts of an archive's entries into the archive's.
    pub fn worst(self, other: VerdictKind) -> VerdictKind {
        fn rank(v: VerdictKind) -> u8 {
            match v {
                VerdictKind::Clean => 0,
                VerdictKind::Skipped => 1,
                VerdictKind::Error => 2,
                VerdictKind::Suspicious => 3,
                VerdictKind::Malicious => 4,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the bytes are.
#[derive(Clone, Debug)]
pub enum Blob {
    /// A file on local disk (a `file://` object, or a download spooled to the task's folder).
    File(PathBuf),
    /// Bytes in memory (a small download, an upload, an archive entry).
    Bytes(Bytes),
}

/// One object's content as a detector sees it.
#[derive(Clone, Debug)]
pub struct Content {
    /// The object's key (or `archive.zip!inner/path` inside an archive): for messages and hits.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    pub blob: Blob,
}

impl Content {
    /// Content held in memory.
    pub fn bytes(name: impl Into<String>, bytes: Bytes) -> Self {
        Content {
            name: name.into(),
            size: bytes.len() as u64,
            blob: Blob::Bytes(bytes),
        }
    }

    /// Content in a local file of `size` bytes.
    pub fn file(name: impl Into<String>, path: PathBuf, size: u64) -> Self {
        Content {
            name: name.into(),
            size,
            blob: Blob::File(path),
        }
    }
}

/// One detection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hit {
    /// The engine that made it (`yara`, `clamav`, `http`, `archive`).
    pub engine: String,
    /// Rule or signature name (`Eicar-Signature`, `SuspiciousPowerShell`, `zip-bomb`).
    pub signature: String,
    /// What the hit means for the verdict.
    pub verdict: VerdictKind,
    /// Rule tags (YARA), empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Rule metadata (YARA `meta:`), engine details otherwise.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Object)]
    pub meta: serde_json::Map<String, serde_json::Value>,
    /// The path inside an archive where the hit was, when it was in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inner_path: Option<String>,
}

/// What a detector says about one content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub verdict: VerdictKind,
    /// Every hit, in the engine's order (empty when clean).
    pub hits: Vec<Hit>,
    /// Why it was skipped or failed, or what else the engine said.
    pub detail: Option<String>,
}

impl Outcome {
    /// Nothing found.
    pub fn clean() -> Self {
        Outcome {
            verdict: VerdictKind::Clean,
            hits: Vec::new(),
            detail: None,
        }
    }

    /// Not scanned, and why.
    pub fn skipped(why: impl Into<String>) -> Self {
        Outcome {
            verdict: VerdictKind::Skipped,
            hits: Vec::new(),
            detail: Some(why.into()),
        }
    }

    /// The verdict of these hits: the worst of theirs, clean when there are none.
    pub fn from_hits(hits: Vec<Hit>) -> Self {
        let verdict = hits
            .iter()
            .fold(VerdictKind::Clean, |v, h| v.worst(h.verdict));
        Outcome {
            verdict,
            hits,
            detail: None,
        }
    }
}

/// Why a detector could not judge a content.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    /// The engine is not reachable (clamd down, scanning service refusing): may succeed on
    /// another attempt.
    #[error("engine unavailable: {0}")]
    Unavailable(String),
    /// The content could not be read.
    #[error("cannot read {0}")]
    Read(String),
    /// The engine failed on this content.
    #[error("{0}")]
    Failed(String),
    /// The cancellation token fired.
    #[error("cancelled")]
    Cancelled,
}

/// A content detector. See the module docs for the invariants.
#[async_trait]
pub trait Detector: Send + Sync + fmt::Debug {
    /// The engine's name (`yara`, `clamav`, `http`), used in hits and verdicts.
    fn engine(&self) -> &str;

    /// The rule-set or signature version: part of the verdict cache key.
    fn version(&self) -> String;

    /// Whether a verdict may be cached under [`Detector::version`] now. An engine that does not
    /// know its version yet (clamd before its first answer) says no: a cache key that will not
    /// change with new signatures would keep stale verdicts.
    fn cacheable(&self) -> bool {
        true
    }

    /// Judges one content.
    async fn scan(
        &self,
        content: &Content,
        cancel: &CancellationToken,
    ) -> Result<Outcome, DetectorError>;
}

impl NewVerdict {
    /// Refuses a verdict the store could not key: an empty or oversized key.
    pub fn validate(&self) -> Result<(), String> {
        if self.key.is_empty() || self.key.len() > 4096 {
            return Err(format!(
                "verdict key must be 1..=4096 bytes, got {}",
                self.key.len()
            ));
        }
        Ok(())
    }
}

/// What was done to an object after its verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionRecord {
    /// `none`, `tag`, `move` or `delete`.
    pub action: String,
    /// `done`, `unsupported` or `failed`.
    pub outcome: String,
    /// Where a moved object went, why an action was unsupported or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The verdict on one object of a scan, as the store keeps it (one per `(scan, key)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewVerdict {
    /// The object's URL (location URL joined with the key): unique within a scan.
    pub key: String,
    pub verdict: VerdictKind,
    /// Engines that looked, comma-separated (`yara`, `clamav,yara`).
    pub engine: String,
    /// The first hit's signature or rule, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hits: Vec<Hit>,
    /// Object size in bytes.
    pub size: u64,
    /// Hex SHA-256 of the content, when it was read whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Time spent judging the object, in milliseconds.
    pub duration_ms: u64,
    /// Whether the outcome came from the verdict cache.
    #[serde(default)]
    pub cached: bool,
    /// Why it was skipped or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The connector's action on a detection, with its outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionRecord>,
}

/// Verdicts of a scan by kind: part of its progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerdictCounts {
    pub clean: u64,
    pub malicious: u64,
    pub suspicious: u64,
    pub error: u64,
    pub skipped: u64,
}

impl VerdictCounts {
    /// No verdict at all (scans that are not file scans).
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// Every verdict.
    pub fn total(&self) -> u64 {
        self.clean + self.malicious + self.suspicious + self.error + self.skipped
    }

    /// The counter of `kind`.
    pub fn get_mut(&mut self, kind: VerdictKind) -> &mut u64 {
        match kind {
            VerdictKind::Clean => &mut self.clean,
            VerdictKind::Malicious => &mut self.malicious,
            VerdictKind::Suspicious => &mut self.suspicious,
            VerdictKind::Error => &mut self.error,
            VerdictKind::Skipped => &mut self.skipped,
        }
    }

    /// Adds `other`.
    pub fn add(&mut self, other: &VerdictCounts) {
        self.clean += other.clean;
        self.malicious += other.malicious;
        self.suspicious += other.suspicious;
        self.error += other.error;
        self.skipped += other.skipped;
    }
}

/// A recorded verdict, as lists return it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verdict {
    pub scan_id: crate::ScanId,
    #[serde(flatten)]
    pub verdict: NewVerdict,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A verdict list's filter and page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerdictQuery {
    /// Only verdicts of this kind.
    pub verdict: Option<VerdictKind>,
    /// Opaque position from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size (the store caps it).
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(v: VerdictKind) -> Hit {
        Hit {
            engine: "t".into(),
            signature: "s".into(),
            verdict: v,
            tags: vec![],
            meta: Default::default(),
            inner_path: None,
        }
    }

    #[test]
    fn the_worst_hit_decides() {
        assert_eq!(Outcome::from_hits(vec![]).verdict, VerdictKind::Clean);
        let o = Outcome::from_hits(vec![
            hit(VerdictKind::Suspicious),
            hit(VerdictKind::Malicious),
            hit(VerdictKind::Clean),
        ]);
        assert_eq!(o.verdict, VerdictKind::Malicious);
        assert_eq!(
            VerdictKind::Skipped.worst(VerdictKind::Error),
            VerdictKind::Error
        );
        for k in VerdictKind::ALL {
            assert_eq!(VerdictKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::json!(k.as_str())
            );
        }
    }
}
