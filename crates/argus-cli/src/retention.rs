//! `[retention]`: how long ended scans are kept (default and per org) and how often the
//! scheduler sweeps, mapped onto `argus_core::retention::Retention` and
//! `EngineConfig::retention_interval` (see `argus_engine::retention` for what a sweep removes,
//! and `docs/config.md` / `docs/operations.md`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use argus_core::retention::{OrgRetention, Retention, DEFAULT_DAYS};

/// The `[retention]` section.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSection {
    /// Days an ended scan (with its findings, events and artifacts) is kept after it finished;
    /// 0: forever.
    pub days: u32,
    /// How often the scheduler runs the sweep, e.g. `1h`, `30m`.
    pub interval: String,
    /// `[retention.orgs.<org>]`: overrides for one org.
    pub orgs: BTreeMap<String, OrgRetentionSection>,
}

/// `[retention.orgs.<org>]`: a key left out keeps the default.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OrgRetentionSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
}

impl Default for RetentionSection {
    fn default() -> Self {
        RetentionSection {
            days: DEFAULT_DAYS,
            interval: "1h".into(),
            orgs: BTreeMap::new(),
        }
    }
}

impl RetentionSection {
    /// The engine's view of the policy.
    pub fn retention(&self) -> Retention {
        Retention {
            days: self.days,
            orgs: self
                .orgs
                .iter()
                .map(|(org, o)| (org.clone(), OrgRetention { days: o.days }))
                .collect(),
        }
    }

    /// `interval` as a duration; an error names the key.
    pub fn interval(&self) -> anyhow::Result<Duration> {
        argus_engine::services::apikeys::parse_ttl(&self.interval)
            .ok()
            .and_then(|d| d.to_std().ok())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "invalid configuration: retention.interval {:?}: write a number and a unit, e.g. 1h, 30m",
                    self.interval
                )
            })
    }

    /// Checks what serde cannot: the interval parses and override keys are org ids.
    pub fn check(&self) -> anyhow::Result<()> {
        self.interval()?;
        for org in self.orgs.keys() {
            argus_core::ids::OrgId::parse(org).map_err(|_| {
                anyhow::anyhow!(
                    "invalid configuration: retention.orgs.{org}: not an org id (letters, digits, '.', '_' and '-')"
                )
            })?;
        }
        Ok(())
    }
}
