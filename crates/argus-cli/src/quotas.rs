//! `[quotas]`: per-organisation limits and the relay's fair-dispatch window, mapped onto
//! `argus_core::quota::Quotas` and `EngineConfig::scan_window` (see `argus_engine::quota` and
//! `argus_engine::relay` for what each limit does, and `docs/config.md`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use argus_core::quota::{OrgQuota, Quotas};

/// The `[quotas]` section.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QuotasSection {
    /// Scans an org may have queued, running or paused at once; 0: unlimited.
    pub max_running_scans: u32,
    /// An org's tasks in flight at once (claimed, or handed to the broker and not finished);
    /// 0: unlimited.
    pub max_running_tasks: u32,
    /// Most tasks of one scan the relay keeps handed to a broker queue and not finished;
    /// 0 publishes everything at once (no fairness between scans on a broker).
    pub scan_window: u32,
    /// `[quotas.orgs.<org>]`: overrides for one org.
    pub orgs: BTreeMap<String, OrgQuotaSection>,
}

/// `[quotas.orgs.<org>]`: a key left out keeps the default.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OrgQuotaSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_running_scans: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_running_tasks: Option<u32>,
}

impl Default for QuotasSection {
    fn default() -> Self {
        QuotasSection {
            max_running_scans: 0,
            max_running_tasks: 0,
            scan_window: argus_engine::DEFAULT_SCAN_WINDOW,
            orgs: BTreeMap::new(),
        }
    }
}

impl QuotasSection {
    /// The engine's (and the embedded queue's) view of the limits.
    pub fn quotas(&self) -> Quotas {
        Quotas {
            max_running_scans: self.max_running_scans,
            max_running_tasks: self.max_running_tasks,
            orgs: self
                .orgs
                .iter()
                .map(|(org, o)| {
                    (
                        org.clone(),
                        OrgQuota {
                            max_running_scans: o.max_running_scans,
                            max_running_tasks: o.max_running_tasks,
                        },
                    )
                })
                .collect(),
        }
    }
}
