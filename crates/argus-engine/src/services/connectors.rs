//! The connectors service: registered storage locations (`argus_core::connector_config`) and
//! their full scans.
//!
//! A connector is checked at registration the way the scan it will start is checked at scan
//! creation: the service builds that scan's config ([`full_scan_config`]: each scanner's params
//! merged with the connector's credential name and action policy, the location as the one
//! target, the same defaults as a `POST /scans` body) and runs it through
//! [`Scans::validate_config`] — scanners exist, params match their schemas, `check_target`
//! (a cloud location without a credential, a `file://` location outside `scan.local_roots`) —
//! so a connector that could never scan is refused when it is created or updated, with the
//! field named in the request's terms (`/location`, `/scanners/0/params/...`, `/credential`).
//!
//! Invariants: every call is scoped by `who.org` (another org's connector is `NotFound`, read,
//! write or full scan alike); a full scan is an ordinary scan created and started through the
//! scans service (validated again, since scanners may have changed; whether its scanners can run
//! here is checked then), labelled `connector=<id>`; the connector records it as its last full
//! scan only after the scan was created. A last full scan that has been deleted since is shown
//! as absent, not as an error.

use std::collections::HashMap;

use argus_core::connector_config::{
    check_location, ActionPolicy, ConnectorView, NewConnectorRecord, RegisteredConnector,
};
use argus_core::error::{CoreError, Result};
use argus_core::finding::Page;
use argus_core::ids::{ConnectorId, Principal, ScanId};
use argus_core::scan::{Scan, ScanConfig, ScannerSpec};
use argus_core::store::ConnectorQuery;
use argus_core::target::Target;

use super::scans::{given_name, CreateScan, Scans};
use crate::Engine;

/// Params a connector sets on every scanner from its own fields; a scanner spec may not set
/// them itself (one place to say which credential and which action, not one per scanner).
const CONNECTOR_PARAMS: [&str; 4] = [
    "credential",
    "action",
    "quarantine_prefix",
    "act_on_suspicious",
];

/// What a client registers (create) or replaces (update).
#[derive(Clone, Debug)]
pub struct ConnectorSpec {
    pub name: String,
    pub location: Target,
    /// The name of a server credential, never the secret.
    pub credential: Option<String>,
    pub scanners: Vec<ScannerSpec>,
    pub action: ActionPolicy,
}

/// A connector with its last full scan, when that scan still exists.
#[derive(Clone, Debug)]
pub struct ConnectorWithScan {
    pub connector: RegisteredConnector,
    pub last_full_scan: Option<Scan>,
}

impl From<ConnectorWithScan> for ConnectorView {
    fn from(c: ConnectorWithScan) -> Self {
        ConnectorView::new(c.connector, c.last_full_scan.as_ref())
    }
}

/// The connectors service (see the module docs); [`Engine::connectors`] hands it out.
#[derive(Clone, Copy, Debug)]
pub struct Connectors<'e> {
    pub(crate) engine: &'e Engine,
}

impl Connectors<'_> {
    /// The caller's org's connectors, by name then id, one page at a time, each with its last
    /// full scan (read in one query for the page).
    pub async fn list(
        &self,
        who: &Principal,
        query: &ConnectorQuery,
    ) -> Result<Page<ConnectorWithScan>> {
        let page = self.engine.store().list_connectors(&who.org, query).await?;
        let ids: Vec<ScanId> = page.items.iter().filter_map(|c| c.last_full_scan).collect();
        // `scans_by_ids` reads across orgs (it is the workers' call); keep only the caller's.
        let mut scans: HashMap<ScanId, Scan> = self
            .engine
            .store()
            .scans_by_ids(&ids)
            .await?
            .into_iter()
            .filter(|s| s.org_id == who.org)
            .map(|s| (s.id, s))
            .collect();
        let items = page
            .items
            .into_iter()
            .map(|connector| ConnectorWithScan {
                last_full_scan: connector.last_full_scan.and_then(|id| scans.remove(&id)),
                connector,
            })
            .collect();
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// One connector of the caller's org with its last full scan.
    pub async fn get(&self, who: &Principal, id: ConnectorId) -> Result<ConnectorWithScan> {
        let connector = self.engine.store().get_connector(&who.org, id).await?;
        let last_full_scan = match connector.last_full_scan {
            None => None,
            Some(scan) => match self.engine.store().get_scan(&who.org, scan).await {
                Ok(s) => Some(s),
                // Deleted since: the connector simply has no last full scan to show.
                Err(CoreError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
        };
        Ok(ConnectorWithScan {
            connector,
            last_full_scan,
        })
    }

    /// Validates and stores a new connector (see the module docs); a name the org already
    /// uses is `Conflict`.
    pub async fn create(&self, who: &Principal, spec: ConnectorSpec) -> Result<ConnectorWithScan> {
        let record = self.checked(who, ConnectorId::new(), spec)?;
        let name = record.name.clone();
        let connector = self
            .engine
            .store()
            .create_connector(record)
            .await
            .map_err(|e| name_conflict(e, &name))?;
        Ok(ConnectorWithScan {
            connector,
            last_full_scan: None,
        })
    }

    /// Validates and replaces a connector's name, location, credential, scanners and policy
    /// (its last full scan is kept).
    pub async fn update(
        &self,
        who: &Principal,
        id: ConnectorId,
        spec: ConnectorSpec,
    ) -> Result<ConnectorWithScan> {
        let record = self.checked(who, id, spec)?;
        let name = record.name.clone();
        self.engine
            .store()
            .update_connector(record)
            .await
            .map_err(|e| name_conflict(e, &name))?;
        self.get(who, id).await
    }

    /// Deletes a connector (its scans are kept).
    pub async fn delete(&self, who: &Principal, id: ConnectorId) -> Result<()> {
        self.engine.store().delete_connector(&who.org, id).await
    }

    /// Creates and starts a scan of the whole location with the connector's scanners and
    /// policy, records it as the connector's last full scan, and returns it.
    ///
    /// If the connector is deleted between the scan's creation and the record, the scan runs
    /// and the call answers `NotFound` (the connector is gone; the scan is in the scan list).
    pub async fn full_scan(&self, who: &Principal, id: ConnectorId) -> Result<Scan> {
        let connector = self.engine.store().get_connector(&who.org, id).await?;
        let mut config = full_scan_config(&connector)?;
        config
            .labels
            .insert("connector".into(), connector.id.to_string());
        let name: String = format!("full scan of {}", connector.name)
            .chars()
            .take(200)
            .collect();
        let scan = self
            .scans()
            .create(
                who,
                CreateScan {
                    name: Some(name),
                    config,
                    template_id: None,
                    start: true,
                },
            )
            .await
            .map_err(to_connector_paths)?;
        self.engine
            .store()
            .set_last_full_scan(&who.org, id, scan.id)
            .await?;
        Ok(scan)
    }

    /// The record to store, after every check that needs no store.
    fn checked(
        &self,
        who: &Principal,
        id: ConnectorId,
        spec: ConnectorSpec,
    ) -> Result<NewConnectorRecord> {
        let name = connector_name(&spec.name)?;
        check_location(&spec.location)?;
        for (i, s) in spec.scanners.iter().enumerate() {
            if let Some(key) = s
                .params
                .as_object()
                .and_then(|p| CONNECTOR_PARAMS.iter().find(|k| p.contains_key(**k)))
            {
                return Err(CoreError::invalid(
                    format!("/scanners/{i}/params/{key}"),
                    format!(
                        "'{key}' is set on the connector (`credential`, `action`), not per scanner"
                    ),
                ));
            }
        }
        let record = NewConnectorRecord {
            id,
            org: who.org.clone(),
            user: who.user.clone(),
            name,
            location: spec.location,
            credential: spec.credential,
            scanners: spec.scanners,
            action: spec.action,
        };
        record.validate_shape()?;
        let config = full_scan_config_of(
            &record.location,
            record.credential.as_deref(),
            &record.scanners,
            &record.action,
        )?;
        self.scans()
            .validate_config(&config)
            .map_err(to_connector_paths)?;
        Ok(record)
    }

    fn scans(&self) -> Scans<'_> {
        self.engine.scans()
    }
}

/// The config of a connector's full scan: what `POST /api/v1/scans` would get for its
/// scanners (params merged with the credential and the policy) and its location, with every
/// other field at the API's default.
pub fn full_scan_config(c: &RegisteredConnector) -> Result<ScanConfig> {
    full_scan_config_of(&c.location, c.credential.as_deref(), &c.scanners, &c.action)
}

fn full_scan_config_of(
    location: &Target,
    credential: Option<&str>,
    scanners: &[ScannerSpec],
    action: &ActionPolicy,
) -> Result<ScanConfig> {
    let merged: Vec<ScannerSpec> = scanners
        .iter()
        .map(|s| {
            let mut params = match &s.params {
                serde_json::Value::Object(m) => m.clone(),
                // Left as it is: scan validation says "params must be a JSON object".
                _ => return s.clone(),
            };
            if let Some(c) = credential {
                params.insert("credential".into(), c.into());
            }
            params.extend(action.params());
            ScannerSpec {
                name: s.name.clone(),
                params: serde_json::Value::Object(params),
            }
        })
        .collect();
    // Through serde, so the defaults are exactly those of a scan created over the API.
    serde_json::from_value(serde_json::json!({
        "scanners": merged,
        "targets": [location],
    }))
    .map_err(|e| CoreError::invalid("/", format!("cannot build the full scan's config: {e}")))
}

/// Scan-config error paths in the connector request's terms: `/config/scanners/{i}/…` is
/// `/scanners/{i}/…` (params the connector merged in point at the connector's field), any
/// target is the location.
fn to_connector_paths(e: CoreError) -> CoreError {
    let CoreError::Invalid { path, message } = e else {
        return e;
    };
    let path = if let Some(rest) = path.strip_prefix("/config/scanners/") {
        let merged = rest
            .split_once("/params/")
            .map(|(_, key)| key.split('/').next().unwrap_or(key))
            .filter(|k| CONNECTOR_PARAMS.contains(k));
        match merged {
            Some("credential") => "/credential".to_owned(),
            Some(key) => format!("/action/{key}"),
            None => format!("/scanners/{rest}"),
        }
    } else if path.starts_with("/config/targets") {
        "/location".to_owned()
    } else if let Some(rest) = path.strip_prefix("/config") {
        rest.to_owned()
    } else {
        path
    };
    CoreError::Invalid { path, message }
}

/// A name as for scans and templates (1-200 characters, not blank, stored trimmed), without
/// control characters (the name is shown in lists and scan names).
fn connector_name(name: &str) -> Result<String> {
    let name = given_name(name)?;
    if name.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "/name",
            "must not contain control characters",
        ));
    }
    Ok(name)
}

/// The store's `Conflict` on create or update of a connector is the name taken (ids are fresh).
fn name_conflict(e: CoreError, name: &str) -> CoreError {
    match e {
        CoreError::Conflict { .. } => CoreError::Conflict {
            message: format!("a connector named '{name}' already exists in this organisation"),
            state: None,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use argus_core::target::TargetKind;

    #[test]
    fn full_scan_config_merges_credential_and_policy() {
        let loc = Target::parse(TargetKind::Location, "s3://b/p/").unwrap();
        let scanners = vec![ScannerSpec {
            name: "yara".into(),
            params: serde_json::json!({"archives": false}),
        }];
        let quiet = full_scan_config_of(&loc, None, &scanners, &ActionPolicy::default()).unwrap();
        assert_eq!(
            quiet.scanners[0].params,
            serde_json::json!({"archives": false})
        );
        assert_eq!(quiet.targets, vec![loc.clone()]);
        let policy: ActionPolicy = serde_json::from_value(
            serde_json::json!({"action": "delete", "act_on_suspicious": true}),
        )
        .unwrap();
        let acting = full_scan_config_of(&loc, Some("aws"), &scanners, &policy).unwrap();
        assert_eq!(
            acting.scanners[0].params,
            serde_json::json!({"archives": false, "credential": "aws", "action": "delete",
                "quarantine_prefix": "quarantine/", "act_on_suspicious": true})
        );
    }

    #[test]
    fn error_paths_speak_the_connector_request() {
        let path = |p: &str| match to_connector_paths(CoreError::invalid(p, "m")) {
            CoreError::Invalid { path, .. } => path,
            other => panic!("{other:?}"),
        };
        assert_eq!(path("/config/scanners/1/name"), "/scanners/1/name");
        assert_eq!(
            path("/config/scanners/0/params/rules"),
            "/scanners/0/params/rules"
        );
        assert_eq!(path("/config/scanners/0/params/credential"), "/credential");
        assert_eq!(path("/config/scanners/2/params/action"), "/action/action");
        assert_eq!(path("/config/targets/0/value"), "/location");
        assert_eq!(path("/config/targets"), "/location");
        assert_eq!(path("/config/max_tasks"), "/max_tasks");
    }
}
