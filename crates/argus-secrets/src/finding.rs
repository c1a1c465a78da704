//! Findings: what the engine reports, serialisable with serde.
//!
//! Invariant: a [`Finding`] never serialises the secret itself. The optional full value lives in
//! [`Finding::secret`] (skipped by serde, redacted by `Debug`) and only exists when the caller set
//! [`crate::ScanPolicy::keep_secret_values`] (direct mode with `--show-secrets`).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// How bad a leaked secret of this kind is.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Lower-case name as used in rule files, JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!("unknown severity {other:?}")),
        }
    }
}

/// How sure the rule is that a match is a real secret (not a lookalike).
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    #[default]
    Medium,
    High,
}

impl Confidence {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// A secret value held in memory. `Debug` and `Display` print `[REDACTED]`; the value is only
/// reachable through [`SecretValue::expose`], so it cannot leak into logs by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wrap a value.
    pub fn new(value: String) -> Self {
        SecretValue(value)
    }
    /// The raw value. Call only to show it to the person who asked (`--show-secrets`).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// One place where a secret appears.
///
/// For git history: the commit that introduced the blob at `path` (a blob that appears unchanged in
/// later commits is not repeated), with its author and date. For files: `commit` is `None`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// Path relative to the repository or scanned folder root (`/`-separated).
    pub path: String,
    /// 1-based line of the start of the secret.
    pub line: u32,
    /// 1-based column (in bytes) of the start of the secret.
    pub column: u32,
    /// 1-based line of the end of the secret (differs from `line` for multi-line secrets).
    pub end_line: u32,
    /// Commit id (hex) for git history findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Commit author name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Commit author e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Commit author date, RFC 3339 UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Blob id (hex) for git findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
    /// How the secret was encoded at this location (`base64`: found by decoding the block that
    /// starts at `line`/`column`); absent for plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// A leaked secret: one rule, one secret value, one path, with every location where it appears.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Finding {
    pub rule_id: String,
    pub rule_name: String,
    pub severity: Severity,
    pub confidence: Confidence,
    /// Stable identity: hash of rule id, secret SHA-256 and path (never commit ids).
    pub fingerprint: String,
    /// First and last 3 characters of the secret (`abc…xyz`), or `…` only for short secrets.
    pub preview: String,
    /// Hex SHA-256 of the secret value.
    pub sha256: String,
    /// Locations, oldest commit first; the first is where the secret was introduced.
    pub locations: Vec<Location>,
    /// Tags of the rule (cloud, aws, private-key...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Full value; only present when the scan kept secret values. Never serialised.
    #[serde(skip)]
    pub secret: Option<SecretValue>,
}

impl Finding {
    /// The first (introducing) location. Every finding has at least one.
    pub fn primary(&self) -> Option<&Location> {
        self.locations.first()
    }
}

/// Preview of a secret: first and last three characters; short values show nothing of themselves.
pub(crate) fn preview(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 10 {
        return "…".to_string();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}…{tail}")
}

/// Stable fingerprint: the first 128 bits of SHA-256(rule id, secret hash, path).
pub(crate) fn fingerprint(rule_id: &str, sha256_hex: &str, path: &str) -> String {
    let mut h = Sha256::new();
    h.update(rule_id.as_bytes());
    h.update([0]);
    h.update(sha256_hex.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    hex::encode(&h.finalize()[..16])
}
