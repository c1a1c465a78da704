//! The contract between the remediation service (which creates clean and push scans) and the
//! scanners that run them (`git-clean`, `git-push`, in `argus-secrets`): scanner names, typed
//! params, and the names of the files they hand each other.
//!
//! The flow: a secrets scan keeps a sealed copy of each repository it scanned
//! ([`repo_copy_name`]); `POST /scans/{id}/clean` creates a clean scan (`source_scan_id` = the
//! secrets scan) whose task finds the selected secrets again by SHA-256 and rewrites history,
//! leaving the cleaned repository as public artifacts ([`CLEANED_BUNDLE`] and its archives);
//! `POST /scans/{id}/push` creates a push scan (`source_scan_id` = the clean scan) whose task
//! pushes that bundle to a remote. Each derived scan receives its input as a private file of its
//! own ([`crate::scanner::TaskInputs`]), copied there by the service after the caller's org was
//! checked.
//!
//! Invariants:
//! - The params of these scanners are written by the platform only: the scans service refuses
//!   internal scanners ([`is_internal`]) in client-made scan configs and templates, so a client
//!   cannot point one at another scan's files or pick its own hashes.
//! - Params carry hashes, rule ids and credential references, never a secret value or a token.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use crate::artifact::ArtifactName;
use crate::error::Result;
use crate::target::Target;

/// Registry name of the history-cleaning scanner.
pub const CLEAN_SCANNER: &str = "git-clean";

/// Registry name of the push scanner.
pub const PUSH_SCANNER: &str = "git-push";

/// `ScannerInfo::source` of scanners that only the platform may put in a scan.
pub const INTERNAL_SOURCE: &str = "internal";

/// Whether `scanner` is one only the platform may put in a scan.
pub fn is_internal(scanner: &str) -> bool {
    scanner == CLEAN_SCANNER || scanner == PUSH_SCANNER
}

/// The cleaned repository as a git bundle of every ref (a clean scan's public artifact).
pub const CLEANED_BUNDLE: &str = "cleaned/repo.bundle";
/// The cleaned repository as a bare mirror in a `.tar.gz`.
pub const CLEANED_TAR_GZ: &str = "cleaned/repo.tar.gz";
/// The cleaned repository as a bare mirror in a `.zip`.
pub const CLEANED_ZIP: &str = "cleaned/repo.zip";
/// `old-id new-id` per rewritten commit (git-filter-repo's `commit-map` format).
pub const COMMIT_MAP: &str = "cleaned/commit-map.txt";
/// The rewrite's report (counts, refs updated, signatures dropped) as JSON.
pub const CLEAN_REPORT: &str = "cleaned/report.json";

/// The private name of a repo target's sealed copy, kept by the secrets scan:
/// `private/secrets/<first 16 hex of SHA-256(target key)>/repo.bundle.sealed`. Stable per
/// target, so each repository of a scan has its own and a re-delivered task replaces its own.
/// A clean scan receives it under the same name.
pub fn repo_copy_name(target: &Target) -> Result<ArtifactName> {
    let h = hex::encode(Sha256::digest(target.key().as_bytes()));
    ArtifactName::private(&format!("secrets/{}/repo.bundle.sealed", &h[..16]))
}

/// The private name under which a push scan receives the cleaned bundle.
pub fn push_input_name() -> Result<ArtifactName> {
    ArtifactName::private("push/repo.bundle")
}

/// One selected secret, as the clean task finds it again: by the SHA-256 of its value, under
/// the rule that found it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SelectedSecret {
    pub sha256: String,
    pub rule_id: String,
}

/// Params of a `git-clean` task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanParams {
    pub selected: Vec<SelectedSecret>,
    /// Text written in place of each selected value.
    pub replacement: String,
    /// Per-rule replacement text (rule id → text), over `replacement`.
    #[serde(default)]
    pub replace_rules: BTreeMap<String, String>,
    /// Also replace the values in commit and tag messages.
    #[serde(default)]
    pub messages: bool,
    /// The source scan's `credential` param, for cloning again when no sealed copy was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Params of a `git-push` task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushParams {
    /// A configured credential by name (`[secrets.credentials.NAME]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// A credential of the external credentials service, fetched at the moment of use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_id: Option<String>,
    /// The user the credentials service is asked for (`X-User-ID`): the push's creator.
    pub user_id: String,
    #[serde(default)]
    pub refs: Vec<String>,
    #[serde(default)]
    pub mirror: bool,
    #[serde(default)]
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::TargetKind;

    #[test]
    fn repo_copy_names_are_private_and_per_target() {
        let a = Target::parse(TargetKind::Repo, "https://example.com/a.git").unwrap();
        let b = Target::parse(TargetKind::Repo, "https://example.com/b.git").unwrap();
        let na = repo_copy_name(&a).unwrap();
        assert!(na.is_private());
        assert_ne!(na, repo_copy_name(&b).unwrap());
        assert_eq!(na, repo_copy_name(&a).unwrap());
        assert!(push_input_name().unwrap().is_private());
        for public in [
            CLEANED_BUNDLE,
            CLEANED_TAR_GZ,
            CLEANED_ZIP,
            COMMIT_MAP,
            CLEAN_REPORT,
        ] {
            assert!(!ArtifactName::parse(public).unwrap().is_private());
        }
    }

    #[test]
    fn params_refuse_unknown_fields() {
        let bad = serde_json::json!({"selected": [], "replacement": "x", "token": "t"});
        assert!(serde_json::from_value::<CleanParams>(bad).is_err());
        assert!(is_internal(CLEAN_SCANNER) && is_internal(PUSH_SCANNER) && !is_internal("secrets"));
    }
}
