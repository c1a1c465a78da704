//! Registered connectors: a storage location an organisation scans again and again, stored with
//! the scanners to run on it, the named credential to reach it and what to do with what they
//! find. (`connector.rs` is the storage *trait* that reads a location; this is the record.)
//!
//! Invariants kept here:
//! - A connector's `location` is a target of kind `location` (`file://`, `s3://`, `az://`,
//!   `gs://`, `sharepoint://`), parsed by [`Target::parse`]; anything else is `Invalid` at
//!   `/location`.
//! - `credential` is the *name* of a server-side credential (`[connectors.credentials]`), never
//!   a secret: it is validated as a short name, so a pasted key or token is refused rather than
//!   stored.
//! - `scanners` is never empty; whether the scanners exist and take these params is the
//!   engine's check (it builds the scan a full scan would run and validates it as scan
//!   creation does), not this module's.
//!
//! The store semantics (org scoping, names unique per org) are in `store.rs`
//! ([`ConnectorStore`](crate::store::ConnectorStore)).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::detector::VerdictCounts;
use crate::error::CoreError;
use crate::ids::{ConnectorId, OrgId, ScanId, UserId};
use crate::scan::{Scan, ScanState, ScannerSpec};
use crate::target::{Target, TargetKind};

/// The longest credential name accepted.
pub const MAX_CREDENTIAL_NAME: usize = 128;
/// The most scanners one connector may name.
pub const MAX_SCANNERS: usize = 16;
/// The quarantine prefix when none is given.
pub const DEFAULT_QUARANTINE_PREFIX: &str = "quarantine/";

/// What a full scan does with an object judged malicious (the file scanners' `action` param).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PolicyAction {
    /// Report only.
    #[default]
    None,
    /// Tag the object.
    Tag,
    /// Move it under `quarantine_prefix`.
    Move,
    /// Delete it.
    Delete,
}

impl PolicyAction {
    /// The wire name (`none`, `tag`, `move`, `delete`).
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyAction::None => "none",
            PolicyAction::Tag => "tag",
            PolicyAction::Move => "move",
            PolicyAction::Delete => "delete",
        }
    }
}

fn default_quarantine() -> String {
    DEFAULT_QUARANTINE_PREFIX.to_owned()
}

/// A connector's action policy: what its full scans do on a detection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionPolicy {
    /// What to do with a malicious object (default `none`).
    #[serde(default)]
    pub action: PolicyAction,
    /// Where `move` puts objects, inside the location (default `quarantine/`).
    #[serde(default = "default_quarantine")]
    #[schema(default = "quarantine/", min_length = 1, max_length = 1024)]
    pub quarantine_prefix: String,
    /// Also act on suspicious verdicts (default false).
    #[serde(default)]
    pub act_on_suspicious: bool,
}

impl Default for ActionPolicy {
    fn default() -> Self {
        ActionPolicy {
            action: PolicyAction::None,
            quarantine_prefix: default_quarantine(),
            act_on_suspicious: false,
        }
    }
}

impl ActionPolicy {
    /// The params the file scanners read for this policy; empty for the default policy, so a
    /// connector that never acts can use scanners that have no action params at all.
    pub fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        if *self != ActionPolicy::default() {
            m.insert("action".into(), self.action.as_str().into());
            m.insert(
                "quarantine_prefix".into(),
                self.quarantine_prefix.clone().into(),
            );
            m.insert("act_on_suspicious".into(), self.act_on_suspicious.into());
        }
        m
    }
}

/// A stored connector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegisteredConnector {
    pub id: ConnectorId,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub name: String,
    pub location: Target,
    pub credential: Option<String>,
    pub scanners: Vec<ScannerSpec>,
    pub action: ActionPolicy,
    /// The scan most recently started by a full scan of this connector.
    pub last_full_scan: Option<ScanId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A connector's last full scan, as it stands now (the API's view).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LastFullScan {
    pub id: ScanId,
    pub state: ScanState,
    /// Verdicts so far, by kind.
    pub verdicts: VerdictCounts,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<&Scan> for LastFullScan {
    fn from(s: &Scan) -> Self {
        LastFullScan {
            id: s.id,
            state: s.state,
            verdicts: s.progress.verdicts,
            started_at: s.started_at,
            finished_at: s.finished_at,
        }
    }
}

/// A connector as the API shows it: the record with its last full scan resolved (absent before
/// the first full scan, or once that scan has been deleted).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConnectorView {
    pub id: ConnectorId,
    pub name: String,
    pub location: Target,
    /// The name of the server credential it uses (never the secret).
    pub credential: Option<String>,
    pub scanners: Vec<ScannerSpec>,
    pub action: ActionPolicy,
    /// The scan its last full scan started, as it stands now.
    pub last_full_scan: Option<LastFullScan>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ConnectorView {
    /// The view of `c`, given its last full scan when that scan still exists.
    pub fn new(c: RegisteredConnector, last_full_scan: Option<&Scan>) -> Self {
        ConnectorView {
            id: c.id,
            name: c.name,
            location: c.location,
            credential: c.credential,
            scanners: c.scanners,
            action: c.action,
            last_full_scan: last_full_scan.map(LastFullScan::from),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A request to store a connector, or to replace one's name, location, credential, scanners and
/// policy (its `last_full_scan` and `created_at` are kept).
#[derive(Clone, Debug)]
pub struct NewConnectorRecord {
    pub id: ConnectorId,
    pub org: OrgId,
    pub user: UserId,
    pub name: String,
    pub location: Target,
    pub credential: Option<String>,
    pub scanners: Vec<ScannerSpec>,
    pub action: ActionPolicy,
}

impl NewConnectorRecord {
    /// The checks that need no registry: the location's kind, the credential name, the scanner
    /// count and the quarantine prefix. Errors are `Invalid` at the request field.
    pub fn validate_shape(&self) -> Result<(), CoreError> {
        check_location(&self.location)?;
        if let Some(c) = &self.credential {
            check_credential_name(c)?;
        }
        if self.scanners.is_empty() {
            return Err(CoreError::invalid("/scanners", "name at least one scanner"));
        }
        if self.scanners.len() > MAX_SCANNERS {
            return Err(CoreError::invalid(
                "/scanners",
                format!("at most {MAX_SCANNERS} scanners"),
            ));
        }
        let q = &self.action.quarantine_prefix;
        if q.trim().is_empty() || q.len() > 1024 || q.chars().any(char::is_control) {
            return Err(CoreError::invalid(
                "/action/quarantine_prefix",
                "must be 1-1024 characters without control characters",
            ));
        }
        Ok(())
    }
}

/// A connector's location must be a `location` target.
pub fn check_location(t: &Target) -> Result<(), CoreError> {
    if t.kind() != TargetKind::Location {
        return Err(CoreError::invalid(
            "/location",
            format!(
                "must be a target of kind location (file://, s3://, az://, gs://, sharepoint://), not {}",
                t.kind()
            ),
        ));
    }
    Ok(())
}

/// A credential is referred to by name: 1-128 characters of letters, digits, `.`, `_` or `-`.
pub fn check_credential_name(name: &str) -> Result<(), CoreError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_CREDENTIAL_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "/credential",
            "must name a server credential: 1-128 letters, digits, '.', '_' or '-' (never the secret itself)",
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(location: Target) -> NewConnectorRecord {
        NewConnectorRecord {
            id: ConnectorId::new(),
            org: OrgId::parse("o").unwrap(),
            user: UserId::parse("u").unwrap(),
            name: "n".into(),
            location,
            credential: None,
            scanners: vec![ScannerSpec {
                name: "yara".into(),
                params: serde_json::json!({}),
            }],
            action: ActionPolicy::default(),
        }
    }

    #[test]
    fn shape_checks_name_the_field() {
        let loc = Target::parse(TargetKind::Location, "s3://bucket/p/").unwrap();
        assert!(record(loc.clone()).validate_shape().is_ok());
        let dom = Target::parse(TargetKind::Domain, "example.com").unwrap();
        let path = |r: NewConnectorRecord| match r.validate_shape() {
            Err(CoreError::Invalid { path, .. }) => path,
            other => panic!("{other:?}"),
        };
        assert_eq!(path(record(dom)), "/location");
        let mut r = record(loc.clone());
        r.credential = Some("AKIA/secret+value".into());
        assert_eq!(path(r), "/credential");
        let mut r = record(loc.clone());
        r.scanners.clear();
        assert_eq!(path(r), "/scanners");
        let mut r = record(loc);
        r.action.quarantine_prefix = " ".into();
        assert_eq!(path(r), "/action/quarantine_prefix");
    }

    #[test]
    fn policy_params_only_when_acting() {
        assert!(ActionPolicy::default().params().is_empty());
        let p: ActionPolicy =
            serde_json::from_value(serde_json::json!({"action": "move"})).unwrap();
        assert_eq!(
            serde_json::Value::Object(p.params()),
            serde_json::json!({"action": "move", "quarantine_prefix": "quarantine/", "act_on_suspicious": false})
        );
        assert!(
            serde_json::from_value::<ActionPolicy>(serde_json::json!({"action": "burn"})).is_err()
        );
    }
}
