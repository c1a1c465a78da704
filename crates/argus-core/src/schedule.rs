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

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::finding::Page;
use crate::ids::{OrgId, ScanId, ScheduleId, TemplateId, UserId};
use crate::scan::ScanConfig;
use crate::target::Target;

/// What a slot does when the schedule's previous scan is still live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// What a schedule starts and when: the part a person writes (`POST`/`PUT /schedules`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScheduleDef {
    /// Cron expression: 5 fields (minute hour day-of-month month day-of-week), or 6 with
    /// seconds first. `0 2 * * *` is 02:00 every day.
    pub cron: String,
    /// IANA time zone the expression is read in (`Europe/Paris`); `UTC` by default.
    #[serde(default = "utc")]
    pub timezone: String,
    /// Start scans from this template (of the schedule's org)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<TemplateId>,
    /// …with these targets instead of the template's (only with `template_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<Target>>,
    /// Or start scans of this config (exactly one of `template_id` and `config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ScanConfig>,
    #[serde(default)]
    pub concurrency: Concurrency,
    #[serde(default)]
    pub missed_runs: MissedRuns,
    /// A disabled schedule keeps its definition and fires nothing.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn utc() -> String {
    "UTC".to_owned()
}

fn yes() -> bool {
    true
}

impl ScheduleDef {
    /// Checks the parts that need no store or registry: the expression, the zone, and that the
    /// schedule names exactly one of a template and a config. Returns the parsed expression.
    pub fn check(&self) -> Result<CronSpec, CoreError> {
        let spec = CronSpec::parse(&self.cron, Some(&self.timezone))?;
        match (&self.template_id, &self.config) {
            (Some(_), Some(_)) => Err(CoreError::invalid(
                "/config",
                "give either template_id or config, not both",
            )),
            (None, None) => Err(CoreError::invalid(
                "/template_id",
                "a schedule starts scans of a template (template_id) or of a config (config)",
            )),
            (None, Some(_)) if self.targets.is_some() => Err(CoreError::invalid(
                "/targets",
                "targets replace a template's targets; with config, put them in config.targets",
            )),
            _ => Ok(spec),
        }
    }
}

/// The outcome of a schedule's last fired slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum FireOutcome {
    /// A scan was started (`last_scan_id`).
    Started,
    /// The previous scan was still live and the policy is `forbid`.
    SkippedOverlap,
    /// The scan could not be created or started (the reason: a removed template, a quota, a
    /// scanner no longer available…).
    Failed(String),
}

/// A stored schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Schedule {
    pub id: ScheduleId,
    #[schema(value_type = String)]
    pub org_id: OrgId,
    #[schema(value_type = String)]
    pub user_id: UserId,
    pub name: String,
    #[serde(flatten)]
    pub def: ScheduleDef,
    /// The next slot the scheduler will look at; none while disabled or when the expression
    /// never matches again.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The newest slot fired (a slot fires at most once).
    pub last_slot: Option<DateTime<Utc>>,
    /// The scan the last fired slot started (or, when it was skipped for an overlap, the live
    /// scan it waited for).
    pub last_scan_id: Option<ScanId>,
    /// What the last fired slot did.
    pub last_outcome: Option<FireOutcome>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A schedule to create or replace. `next_fire_at` is computed by the service.
#[derive(Clone, Debug)]
pub struct NewSchedule {
    pub id: ScheduleId,
    pub org: OrgId,
    pub user: UserId,
    pub name: String,
    pub def: ScheduleDef,
    pub next_fire_at: Option<DateTime<Utc>>,
}

/// What one scheduler tick did with one schedule (see [`ScheduleStore::schedule_ticked`]).
#[derive(Clone, Debug, PartialEq)]
pub struct TickRecord {
    /// The `next_fire_at` the tick read; the record applies only if it is still the stored
    /// one (an edit or another scheduler in between wins).
    pub expected_next: DateTime<Utc>,
    /// The new `next_fire_at`.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The slot fired, if one was, with what it did.
    pub fired: Option<(DateTime<Utc>, Option<ScanId>, FireOutcome)>,
}

/// Paging for schedule lists (by name, then id).
#[derive(Clone, Debug, Default)]
pub struct ScheduleQuery {
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size: 0 means the default of 100, anything else is clamped to 1..=1000.
    pub limit: u32,
}

/// Durable schedules. Invariants every backend keeps (checked by `testkit::store_suite`):
/// - org-scoped reads and writes: another org's schedules are `NotFound`;
/// - [`schedule_ticked`](ScheduleStore::schedule_ticked) is a compare-and-set on
///   `next_fire_at` and never moves `last_slot` backwards, so two schedulers racing (an expired
///   lease still ticking) record a slot once;
/// - an update keeps the fire history (`last_*`) and takes the new `next_fire_at`.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Creates a schedule (`Conflict` on a duplicate id).
    async fn create_schedule(&self, s: NewSchedule) -> Result<Schedule, CoreError>;
    /// One schedule of `org`.
    async fn get_schedule(&self, org: &OrgId, id: ScheduleId) -> Result<Schedule, CoreError>;
    /// `org`'s schedules by name, then id.
    async fn list_schedules(
        &self,
        org: &OrgId,
        query: &ScheduleQuery,
    ) -> Result<Page<Schedule>, CoreError>;
    /// Replaces a schedule's name, definition and `next_fire_at`.
    async fn update_schedule(&self, s: NewSchedule) -> Result<Schedule, CoreError>;
    /// Deletes a schedule (its scans stay).
    async fn delete_schedule(&self, org: &OrgId, id: ScheduleId) -> Result<(), CoreError>;
    /// Schedules of every org whose `next_fire_at` is at or before `now`, soonest first.
    async fn due_schedules(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Schedule>, CoreError>;
    /// Records a tick (see the trait docs); returns whether it applied.
    async fn schedule_ticked(&self, id: ScheduleId, tick: &TickRecord) -> Result<bool, CoreError>;
}

/// The id of the scan a schedule starts for a slot: the same for every process that fires the
/// slot, so the scan's primary key makes the start idempotent (a slot fired twice — two
/// schedulers across a lease hand-over, a crash between the scan and the record — finds its
/// scan already there). Shaped as a UUID v7 of the slot's time, so scans still list in time
/// order.
pub fn slot_scan_id(schedule: ScheduleId, slot: DateTime<Utc>) -> ScanId {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(schedule.0.as_bytes());
    h.update(slot.timestamp_millis().to_be_bytes());
    let digest = h.finalize();
    let mut rand = [0u8; 10];
    rand.copy_from_slice(&digest[..10]);
    let millis = u64::try_from(slot.timestamp_millis()).unwrap_or(0);
    ScanId(uuid::Builder::from_unix_timestamp_millis(millis, &rand).into_uuid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_slot_has_one_scan_id_in_time_order() {
        let (a, b) = (ScheduleId::new(), ScheduleId::new());
        let slot = t("2026-03-01T02:00:00Z");
        assert_eq!(slot_scan_id(a, slot), slot_scan_id(a, slot));
        assert_ne!(slot_scan_id(a, slot), slot_scan_id(b, slot));
        let later = slot_scan_id(a, t("2026-03-02T02:00:00Z"));
        assert_ne!(later, slot_scan_id(a, slot));
        assert!(slot_scan_id(a, slot) < later, "ids sort by slot");
        assert_eq!(later.0.get_version_num(), 7);
    }

    #[test]
    fn a_definition_names_a_template_or_a_config() {
        let def = |template: bool, config: bool, targets: bool| ScheduleDef {
            cron: "0 2 * * *".into(),
            timezone: "UTC".into(),
            template_id: template.then(TemplateId::new),
            targets: targets.then(Vec::new),
            config: config.then(|| {
                serde_json::from_value(serde_json::json!({
                    "scanners": [{"name": "noop"}],
                    "targets": [{"kind": "url", "value": "noop://x"}]
                }))
                .unwrap()
            }),
            concurrency: Concurrency::Forbid,
            missed_runs: MissedRuns::Skip,
            enabled: true,
        };
        assert!(def(true, false, true).check().is_ok());
        assert!(def(false, true, false).check().is_ok());
        for (bad, path) in [
            (def(true, true, false), "/config"),
            (def(false, false, false), "/template_id"),
            (def(false, true, true), "/targets"),
        ] {
            let e = bad.check().unwrap_err();
            assert!(
                matches!(&e, CoreError::Invalid { path: p, .. } if p == path),
                "{e}"
            );
        }
        let mut zone = def(true, false, false);
        zone.timezone = "Nowhere/Else".into();
        assert!(zone.check().is_err());
        // Defaults of the wire form.
        let parsed: ScheduleDef = serde_json::from_value(
            serde_json::json!({"cron": "* * * * *", "template_id": TemplateId::new()}),
        )
        .unwrap();
        assert_eq!(
            (
                parsed.timezone.as_str(),
                parsed.concurrency,
                parsed.missed_runs,
                parsed.enabled
            ),
            ("UTC", Concurrency::Forbid, MissedRuns::Skip, true)
        );
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
