//! Per-organisation quotas (`[quotas]` in the config): how many scans an org may have running
//! at once and how many of its tasks may be in flight at once.
//!
//! Plain data, no I/O: the binary fills it from its config, the engine checks the running-scans
//! limit when a scan starts (`CoreError::QuotaExceeded`) and the running-tasks limit at
//! dispatch — in its relay (tasks handed to a broker) and, through the embedded queue's
//! options, when a task is claimed — so tasks of an org over its limit wait while other orgs'
//! tasks go.
//!
//! `0` means unlimited everywhere; an org's override replaces the default for that org only,
//! key by key (an override that leaves a key out inherits the default).

use std::collections::BTreeMap;

/// The quotas of every org: defaults and per-org overrides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Quotas {
    /// Scans an org may have queued, running or paused at once (0: unlimited).
    pub max_running_scans: u32,
    /// Tasks of an org that may be in flight at once: claimed and running on the embedded
    /// queue, handed to the broker and not finished on a distributed deployment (0: unlimited).
    pub max_running_tasks: u32,
    /// Overrides by org id.
    pub orgs: BTreeMap<String, OrgQuota>,
}

/// One org's overrides; `None` keeps the default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrgQuota {
    pub max_running_scans: Option<u32>,
    pub max_running_tasks: Option<u32>,
}

impl Quotas {
    /// The running-scans limit of `org`; `None` when unlimited.
    pub fn running_scans(&self, org: &str) -> Option<u32> {
        let n = self
            .orgs
            .get(org)
            .and_then(|o| o.max_running_scans)
            .unwrap_or(self.max_running_scans);
        (n > 0).then_some(n)
    }

    /// The running-tasks limit of `org`; `None` when unlimited.
    pub fn running_tasks(&self, org: &str) -> Option<u32> {
        let n = self
            .orgs
            .get(org)
            .and_then(|o| o.max_running_tasks)
            .unwrap_or(self.max_running_tasks);
        (n > 0).then_some(n)
    }

    /// True when some org has a running-tasks limit (the dispatch paths skip the per-org
    /// accounting otherwise).
    pub fn limits_tasks(&self) -> bool {
        self.max_running_tasks > 0
            || self
                .orgs
                .values()
                .any(|o| o.max_running_tasks.is_some_and(|n| n > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_defaults_key_by_key_and_zero_is_unlimited() {
        let mut q = Quotas {
            max_running_scans: 2,
            max_running_tasks: 0,
            orgs: BTreeMap::new(),
        };
        q.orgs.insert(
            "big".into(),
            OrgQuota {
                max_running_scans: Some(0),
                max_running_tasks: Some(10),
            },
        );
        q.orgs.insert(
            "half".into(),
            OrgQuota {
                max_running_scans: None,
                max_running_tasks: Some(5),
            },
        );
        assert_eq!(q.running_scans("any"), Some(2));
        assert_eq!(q.running_tasks("any"), None);
        assert_eq!(q.running_scans("big"), None);
        assert_eq!(q.running_tasks("big"), Some(10));
        assert_eq!(q.running_scans("half"), Some(2));
        assert!(q.limits_tasks());
        assert!(!Quotas::default().limits_tasks());
    }
}
