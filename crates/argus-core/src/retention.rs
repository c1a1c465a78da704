//! Retention (`[retention]` in the config): how long an ended scan — with its findings, events
//! and artifacts — is kept, by default and per org, and which store query finds what expired.
//!
//! Plain data, no I/O: the binary fills [`Retention`] from its config; the engine's sweep
//! (`argus_engine::retention`) turns it into [`ExpiryQuery`]s for one instant and hands them to
//! [`ScanStore::expired_scans`](crate::store::ScanStore::expired_scans).
//!
//! Invariants:
//! - `0` days means keep forever, for the default and for an override alike; an org's override
//!   replaces the default for that org only.
//! - The queries of one instant partition the orgs: each override org is asked about on its own
//!   (`OrgScope::Only`), every other org by the default (`OrgScope::Except` the overrides), so no
//!   scan is judged by two cutoffs and an org kept forever is never asked about at all.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use crate::ids::OrgId;

/// The default number of days an ended scan is kept.
pub const DEFAULT_DAYS: u32 = 7;

/// Retention of every org: the default and per-org overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Days an ended scan is kept after it finished (0: forever).
    pub days: u32,
    /// Overrides by org id.
    pub orgs: BTreeMap<String, OrgRetention>,
}

/// One org's override; `None` keeps the default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrgRetention {
    pub days: Option<u32>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            days: DEFAULT_DAYS,
            orgs: BTreeMap::new(),
        }
    }
}

/// Which orgs an [`ExpiryQuery`] covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrgScope {
    /// This org only.
    Only(OrgId),
    /// Every org but these (the ones with an override).
    Except(Vec<OrgId>),
}

/// Ended scans of the orgs in `orgs` that finished before `before` have expired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiryQuery {
    pub orgs: OrgScope,
    pub before: DateTime<Utc>,
}

impl Retention {
    /// Days `org`'s ended scans are kept; `None` when they are kept forever.
    pub fn days_for(&self, org: &str) -> Option<u32> {
        let d = self.orgs.get(org).and_then(|o| o.days).unwrap_or(self.days);
        (d > 0).then_some(d)
    }

    /// The instant before which `org`'s ended scans have expired at `now`; `None`: never.
    pub fn cutoff(&self, org: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.days_for(org).map(|d| cutoff_of(d, now))
    }

    /// The store queries that find every expired scan at `now` (see the module invariants).
    /// Org ids of overrides that are not valid ids can name no scan and are skipped.
    pub fn queries(&self, now: DateTime<Utc>) -> Vec<ExpiryQuery> {
        let overridden: Vec<OrgId> = self
            .orgs
            .iter()
            .filter(|(_, o)| o.days.is_some())
            .filter_map(|(org, _)| OrgId::parse(org).ok())
            .collect();
        let mut out: Vec<ExpiryQuery> = overridden
            .iter()
            .filter_map(|org| {
                self.cutoff(org.as_str(), now).map(|before| ExpiryQuery {
                    orgs: OrgScope::Only(org.clone()),
                    before,
                })
            })
            .collect();
        if self.days > 0 {
            out.push(ExpiryQuery {
                orgs: OrgScope::Except(overridden),
                before: cutoff_of(self.days, now),
            });
        }
        out
    }

    /// True when nothing ever expires (no query at all).
    pub fn keeps_forever(&self) -> bool {
        self.days == 0 && self.orgs.values().all(|o| o.days.is_none_or(|d| d == 0))
    }
}

fn cutoff_of(days: u32, now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::days(i64::from(days))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn policy() -> Retention {
        let mut r = Retention::default();
        r.orgs
            .insert("long".into(), OrgRetention { days: Some(30) });
        r.orgs
            .insert("forever".into(), OrgRetention { days: Some(0) });
        r.orgs
            .insert("inherits".into(), OrgRetention { days: None });
        r
    }

    #[test]
    fn overrides_replace_the_default_and_zero_keeps_forever() {
        let r = policy();
        let now = t("2026-03-31T12:00:00Z");
        assert_eq!(r.days_for("any"), Some(7));
        assert_eq!(r.cutoff("any", now), Some(t("2026-03-24T12:00:00Z")));
        assert_eq!(r.cutoff("long", now), Some(t("2026-03-01T12:00:00Z")));
        assert_eq!(r.cutoff("forever", now), None);
        assert_eq!(r.cutoff("inherits", now), Some(t("2026-03-24T12:00:00Z")));
        assert!(!r.keeps_forever());
        let none = Retention {
            days: 0,
            ..Retention::default()
        };
        assert_eq!(none.cutoff("any", now), None);
        assert!(none.keeps_forever());
    }

    #[test]
    fn queries_partition_the_orgs() {
        let r = policy();
        let now = t("2026-03-31T12:00:00Z");
        let q = r.queries(now);
        let o = |s: &str| OrgId::parse(s).unwrap();
        assert_eq!(
            q,
            vec![
                ExpiryQuery {
                    orgs: OrgScope::Only(o("long")),
                    before: t("2026-03-01T12:00:00Z"),
                },
                // The default covers every org but the overridden ones — `forever` included,
                // which is therefore never asked about.
                ExpiryQuery {
                    orgs: OrgScope::Except(vec![o("forever"), o("long")]),
                    before: t("2026-03-24T12:00:00Z"),
                },
            ]
        );
        // Default forever: only the orgs with a positive override are asked about.
        let mut r = policy();
        r.days = 0;
        assert_eq!(
            r.queries(now),
            vec![ExpiryQuery {
                orgs: OrgScope::Only(o("long")),
                before: t("2026-03-01T12:00:00Z"),
            }]
        );
        assert!(!r.keeps_forever());
    }
}
