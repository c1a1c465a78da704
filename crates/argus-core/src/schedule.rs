//! Schedules: when a scan is started again and again — a cron expression in a time zone, what
//! happens when a slot comes while the previous scan still runs, and what happens to slots the
//! server was down for.
//!
//! This module holds the rules every backend shares: parsing and validating the expression
//! (five fields, or six with seconds first; no year field), the next slot after an instant, and
//! which slot (if any) is due at a tick ([`due`]). Firing exactly once per slot is the store's
//! job: it records the slot it fired in the same transaction as the scan it creates.
//!
//! Invariants:
//! - Slots are instants (UTC); the time zone only decides which instants match, so daylight
//!   saving changes neither skip nor double a slot beyond what the zone's clock does.
//! - [`due`] never returns a slot later than `now`, nor one at or before the last fired slot.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// What a slot does when the schedule's previous scan is still live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Concurrency {
    /// Start another scan beside it.
    Allow,
    /// Skip this slot.
    #[default]
    Forbid,
    /// Stop the live scan, then start the new one.
    Replace,
}

/// What happens to slots that passed while no scheduler ran (downtime).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedRuns {
    /// Drop them; the schedule resumes at its next slot.
    #[default]
    Skip,
    /// Run once for the newest of them, then resume.
    RunOnce,
}

/// A validated cron expression with its time zone.
#[derive(Clone, Debug)]
pub struct CronSpec {
    cron: croner::Cron,
    tz: Tz,
    expr: String,
}

impl CronSpec {
    /// Parses `expr` (5 fields, or 6 with seconds first) in the IANA zone `tz` (`UTC` when
    /// `None`). Errors name the field: `/cron` or `/timezone`.
    pub fn parse(expr: &str, tz: Option<&str>) -> Result<Self, CoreError> {
        let fields = expr.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(CoreError::invalid(
                "/cron",
                format!(
                    "a cron expression has 5 fields (minute hour day month weekday) or 6 with \
                     seconds first; this one has {fields}"
                ),
            ));
        }
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .year(croner::parser::Year::Disallowed)
            .build()
            .parse(expr)
            .map_err(|e| {
                CoreError::invalid("/cron", format!("not a valid cron expression: {e}"))
            })?;
        let tz = match tz {
            None => Tz::UTC,
            Some(name) => name.parse::<Tz>().map_err(|_| {
                CoreError::invalid(
                    "/timezone",
                    format!(
                        "unknown time zone {name:?}; use an IANA name such as Europe/Paris or UTC"
                    ),
                )
            })?,
        };
        Ok(CronSpec {
            cron,
            tz,
            expr: expr.trim().to_owned(),
        })
    }

    /// The expression as given (trimmed).
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The first slot strictly after `after`, if the expression ever matches again.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The newest slot at or before `at`.
    pub fn latest_at(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&at.with_timezone(&self.tz), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// What a scheduler tick does with one schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tick {
    /// The slot to fire now, if any.
    pub fire: Option<DateTime<Utc>>,
    /// When to look again: the first slot after `now`.
    pub next: Option<DateTime<Utc>>,
}

/// The slot due at `now` for a schedule whose next slot was `next_fire_at` and whose last fired
/// slot was `last_fired`. A slot is "on time" when it came no more than `grace` before `now`
/// (a tick's lateness); older ones were missed and follow `missed`.
pub fn due(
    spec: &CronSpec,
    next_fire_at: DateTime<Utc>,
    last_fired: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    grace: chrono::Duration,
    missed: MissedRuns,
) -> Tick {
    let next = spec.next_after(now);
    if now < next_fire_at {
        return Tick {
            fire: None,
            next: Some(next_fire_at),
        };
    }
    let fire = spec
        .latest_at(now)
        .filter(|slot| last_fired.is_none_or(|l| *slot > l))
        .filter(|slot| match missed {
            MissedRuns::RunOnce => true,
            MissedRuns::Skip => now - *slot <= grace,
        });
    Tick { fire, next }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn five_and_six_fields_parse_others_name_the_field() {
        assert!(CronSpec::parse("*/5 * * * *", None).is_ok());
        assert!(CronSpec::parse("30 */5 * * * *", Some("Europe/Paris")).is_ok());
        for bad in ["* * * *", "* * * * * * 2030", "61 * * * *", "bogus"] {
            let e = CronSpec::parse(bad, None).unwrap_err();
            assert!(
                matches!(&e, CoreError::Invalid { path, .. } if path == "/cron"),
                "{bad}: {e}"
            );
        }
        let e = CronSpec::parse("* * * * *", Some("Mars/Olympus")).unwrap_err();
        assert!(
            matches!(&e, CoreError::Invalid { path, .. } if path == "/timezone"),
            "{e}"
        );
    }

    #[test]
    fn seconds_come_first_in_six_fields() {
        let s = CronSpec::parse("15 * * * * *", None).unwrap();
        assert_eq!(
            s.next_after(t("2026-01-01T00:00:00Z")),
            Some(t("2026-01-01T00:00:15Z"))
        );
    }

    #[test]
    fn the_zone_decides_which_instants_match() {
        // 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
        let s = CronSpec::parse("0 9 * * *", Some("Europe/Paris")).unwrap();
        assert_eq!(
            s.next_after(t("2026-01-10T00:00:00Z")),
            Some(t("2026-01-10T08:00:00Z"))
        );
        assert_eq!(
            s.next_after(t("2026-07-10T00:00:00Z")),
            Some(t("2026-07-10T07:00:00Z"))
        );
    }

    #[test]
    fn a_tick_fires_the_slot_once_and_looks_ahead() {
        let s = CronSpec::parse("*/10 * * * *", None).unwrap();
        let slot = t("2026-03-01T12:10:00Z");
        let grace = chrono::Duration::seconds(30);
        // Before the slot: nothing.
        let tick = due(
            &s,
            slot,
            None,
            t("2026-03-01T12:09:59Z"),
            grace,
            MissedRuns::Skip,
        );
        assert_eq!(
            tick,
            Tick {
                fire: None,
                next: Some(slot)
            }
        );
        // At the slot (a little late): fire it, next is the following slot.
        let tick = due(
            &s,
            slot,
            None,
            t("2026-03-01T12:10:02Z"),
            grace,
            MissedRuns::Skip,
        );
        assert_eq!(tick.fire, Some(slot));
        assert_eq!(tick.next, Some(t("2026-03-01T12:20:00Z")));
        // Already fired: never again.
        let tick = due(
            &s,
            slot,
            Some(slot),
            t("2026-03-01T12:10:05Z"),
            grace,
            MissedRuns::Skip,
        );
        assert_eq!(tick.fire, None);
    }

    #[test]
    fn missed_slots_follow_the_policy() {
        let s = CronSpec::parse("0 * * * *", None).unwrap();
        let next_fire_at = Utc.with_ymd_and_hms(2026, 3, 1, 1, 0, 0).unwrap();
        let now = t("2026-03-01T04:20:00Z"); // down from before 01:00 until 04:20
        let grace = chrono::Duration::seconds(30);
        let skip = due(&s, next_fire_at, None, now, grace, MissedRuns::Skip);
        assert_eq!(skip.fire, None);
        assert_eq!(skip.next, Some(t("2026-03-01T05:00:00Z")));
        let once = due(&s, next_fire_at, None, now, grace, MissedRuns::RunOnce);
        assert_eq!(
            once.fire,
            Some(t("2026-03-01T04:00:00Z")),
            "the newest missed slot"
        );
        assert_eq!(once.next, Some(t("2026-03-01T05:00:00Z")));
    }
}
