//! Findings: what scanners report.
//!
//! Invariants: a finding's `fingerprint` is stable across scans (it never includes scan or task
//! ids), insertion is idempotent on `(scan, fingerprint)`, and secret values are reduced to a
//! [`SecretDigest`] (preview + SHA-256) before a finding is built.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

use crate::error::CoreError;
use crate::ids::{FindingId, OrgId, ScanId, TaskId};
use crate::target::Target;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
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
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a wire name, also accepting common tool spellings (`unknown`, `informational`,
    /// `moderate`, `warning`, `error`).
    pub fn parse_lenient(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "info" | "informational" | "unknown" | "none" | "note" => Severity::Info,
            "low" => Severity::Low,
            "medium" | "moderate" | "warning" => Severity::Medium,
            "high" | "error" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    /// Numeric rank (0 = info … 4 = critical), used for sorting in stores.
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// Inverse of [`Severity::rank`].
    pub fn from_rank(r: u8) -> Self {
        Self::ALL[usize::from(r.min(4))]
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a finding stands in triage.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Triage {
    #[default]
    Open,
    Selected,
    FalsePositive,
    Accepted,
    Fixed,
}

impl Triage {
    /// Every triage state.
    pub const ALL: [Triage; 5] = [
        Triage::Open,
        Triage::Selected,
        Triage::FalsePositive,
        Triage::Accepted,
        Triage::Fixed,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Triage::Open => "open",
            Triage::Selected => "selected",
            Triage::FalsePositive => "false_positive",
            Triage::Accepted => "accepted",
            Triage::Fixed => "fixed",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether a later scan's finding with the same fingerprint (same org, same target) starts
    /// in this state instead of `open`. Only judgements about the finding itself carry over: a
    /// false positive stays one and an accepted risk stays accepted. `selected` (chosen for one
    /// clean-up) and `fixed` (a secret that comes back is a new problem) start `open` again;
    /// the finding's `previous_triage` still shows them.
    pub fn carries_over(self) -> bool {
        matches!(self, Triage::FalsePositive | Triage::Accepted)
    }
}

/// How many findings are in each triage state (of one scan, or of its secret findings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TriageCounts {
    pub open: u64,
    pub selected: u64,
    pub false_positive: u64,
    pub accepted: u64,
    pub fixed: u64,
}

impl TriageCounts {
    /// Adds `n` findings in state `t`.
    pub fn add(&mut self, t: Triage, n: u64) {
        let slot = match t {
            Triage::Open => &mut self.open,
            Triage::Selected => &mut self.selected,
            Triage::FalsePositive => &mut self.false_positive,
            Triage::Accepted => &mut self.accepted,
            Triage::Fixed => &mut self.fixed,
        };
        *slot += n;
    }

    /// Every finding counted.
    pub fn total(&self) -> u64 {
        self.open + self.selected + self.false_positive + self.accepted + self.fixed
    }
}

/// Where in the target a finding was seen. All fields optional; scanners fill what applies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A secret reduced to what may be stored: first/last three characters and a SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecretDigest {
    pub preview: String,
    pub sha256: String,
}

impl SecretDigest {
    /// Digests a secret value. Values of 8 characters or fewer are fully masked.
    pub fn of(secret: &str) -> Self {
        let chars: Vec<char> = secret.chars().collect();
        let preview = if chars.len() <= 8 {
            "*".repeat(chars.len().max(3))
        } else {
            let head: String = chars[..3].iter().collect();
            let tail: String = chars[chars.len() - 3..].iter().collect();
            format!("{head}…{tail}")
        };
        SecretDigest {
            preview,
            sha256: hex::encode(Sha256::digest(secret.as_bytes())),
        }
    }
}

/// A finding as a scanner reports it, before it is stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewFinding {
    pub kind: String,
    pub severity: Severity,
    pub title: String,
    pub description: Option<String>,
    pub target: Target,
    pub location: Location,
    pub fingerprint: String,
    pub data: serde_json::Value,
    pub secret: Option<SecretDigest>,
}

impl NewFinding {
    /// Builds a finding whose fingerprint is the SHA-256 of `parts` joined (stable across scans).
    pub fn new(
        kind: impl Into<String>,
        severity: Severity,
        title: impl Into<String>,
        target: Target,
        fingerprint_parts: &[&str],
    ) -> Self {
        NewFinding {
            kind: kind.into(),
            severity,
            title: title.into(),
            description: None,
            target,
            location: Location::default(),
            fingerprint: fingerprint(fingerprint_parts),
            data: serde_json::Value::Null,
            secret: None,
        }
    }

    /// Rejects findings a store must not accept (empty fields, oversized data).
    pub fn validate(&self) -> Result<(), CoreError> {
        if self.kind.is_empty() || self.kind.len() > 128 {
            return Err(CoreError::invalid("/kind", "must be 1-128 characters"));
        }
        if self.title.is_empty() {
            return Err(CoreError::invalid("/title", "must not be empty"));
        }
        if self.fingerprint.is_empty() || self.fingerprint.len() > 256 {
            return Err(CoreError::invalid(
                "/fingerprint",
                "must be 1-256 characters",
            ));
        }
        Ok(())
    }
}

/// SHA-256 over the parts, separated by a unit separator so `["ab","c"]` ≠ `["a","bc"]`.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update([0x1f]);
        }
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// A stored finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    pub id: FindingId,
    pub scan_id: ScanId,
    #[schema(value_type = String)]
    pub org_id: OrgId,
    pub task_id: Option<TaskId>,
    pub scanner: String,
    pub kind: String,
    pub severity: Severity,
    pub title: String,
    pub description: Option<String>,
    pub target: Target,
    pub location: Location,
    pub fingerprint: String,
    /// Scanner-specific details: any JSON value, `null` when the scanner gave none.
    pub data: serde_json::Value,
    pub secret: Option<SecretDigest>,
    pub triage: Triage,
    /// The triage this fingerprint last had in an earlier scan of the same org and target
    /// (`null` when it was never triaged, or was set back to `open`). `false_positive` and
    /// `accepted` also carry into `triage` ([`Triage::carries_over`]).
    #[serde(default)]
    pub previous_triage: Option<Triage>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Sort orders for finding lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingSort {
    /// Oldest first (insertion order).
    #[default]
    Created,
    /// Newest first.
    CreatedDesc,
    /// Most severe first, then oldest.
    Severity,
}

/// Filters and paging for finding lists.
#[derive(Clone, Debug, Default)]
pub struct FindingQuery {
    pub kind: Option<String>,
    pub severity: Option<Severity>,
    /// At or above this severity.
    pub min_severity: Option<Severity>,
    pub scanner: Option<String>,
    pub triage: Option<Triage>,
    pub sort: FindingSort,
    /// Opaque cursor returned by the previous page.
    pub cursor: Option<String>,
    pub limit: u32,
}

/// One page of results plus the cursor for the next page (absent on the last page).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_hides_secret() {
        let d = SecretDigest::of("AKIAABCDEFGHIJKLMNOP");
        assert_eq!(d.preview, "AKI…NOP");
        assert_eq!(d.sha256.len(), 64);
        assert_eq!(SecretDigest::of("short").preview, "*****");
    }

    #[test]
    fn fingerprint_separates_parts() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_eq!(fingerprint(&["x"]), fingerprint(&["x"]));
    }

    #[test]
    fn severity_order_and_parse() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        assert_eq!(Severity::parse_lenient("Moderate"), Some(Severity::Medium));
        assert_eq!(Severity::from_rank(Severity::High.rank()), Severity::High);
    }
}
