//! Row decoding and encoding helpers of the PostgreSQL store: column lists, row → domain type
//! conversions, text sanitising and the opaque pagination cursor.
//!
//! Invariant: a row that cannot be decoded is a `Backend` error (corrupt data), never a panic.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::Row;
use std::borrow::Cow;
use uuid::Uuid;

use argus_core::artifact::{ArtifactMeta, ArtifactName};
use argus_core::event::{Event, EventData, EventKind};
use argus_core::finding::{Finding, Severity, Triage};
use argus_core::ids::{FindingId, ScanId, TaskId, TemplateId};
use argus_core::scan::{Priority, Progress, Scan, ScanState};
use argus_core::task::Task;
use argus_core::template::Template;
use argus_core::{CoreError, OrgId, Result, UserId};

use super::db_err;

pub(crate) const SCAN_COLS: &str =
    "id, org_id, user_id, name, config, template_id, source_scan_id, state, reason, \
     enqueued, done, failed, expected_total, enqueue_done, findings, created_at, updated_at, \
     started_at, finished_at, v_clean, v_malicious, v_suspicious, v_error, v_skipped, trace, stuck_since";

pub(crate) const FINDING_COLS: &str = "id, scan_id, org_id, task_id, scanner, kind, severity, \
     title, description, target, location, fingerprint, data, secret, triage, previous_triage, \
     created_at, updated_at";

pub(crate) const EVENT_COLS: &str = "id, scan_id, org_id, kind, data, at";

pub(crate) const TEMPLATE_COLS: &str =
    "id, org_id, user_id, name, description, config, created_at, updated_at";

pub(crate) const ARTIFACT_COLS: &str = "scan_id, name, org_id, size, content_type, created_at";

/// The store's clock: now, at the millisecond precision every backend stores.
pub(crate) fn now_ts() -> DateTime<Utc> {
    ms_to_time(argus_core::now_ms())
}

pub(crate) fn ms_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// PostgreSQL `text` cannot hold NUL; scanner output can. NULs become U+FFFD so that a batch of
/// results is never refused for good (a refused batch would be re-delivered forever).
pub(crate) fn pg_text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// [`pg_text`] for an owned string (no copy when there is nothing to replace).
pub(crate) fn pg_owned(s: String) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s
    }
}

/// Serialises a value for a `json` column (bound as text and cast in SQL).
pub(crate) fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| CoreError::Backend(format!("cannot encode JSON: {e}")))
}

pub(crate) fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> CoreError {
    CoreError::Backend(format!("corrupt {what} in database: {detail}"))
}

pub(crate) fn get<'r, T>(row: &'r PgRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(col).map_err(db_err)
}

fn json<T: DeserializeOwned>(row: &PgRow, col: &str) -> Result<T> {
    Ok(get::<Json<T>>(row, col)?.0)
}

fn opt_json<T: DeserializeOwned>(row: &PgRow, col: &str) -> Result<Option<T>> {
    Ok(get::<Option<Json<Option<T>>>>(row, col)?.and_then(|j| j.0))
}

pub(crate) fn org(s: &str) -> Result<OrgId> {
    OrgId::parse(s).map_err(|_| corrupt("org id", s))
}

pub(crate) fn scan_state(s: &str) -> Result<ScanState> {
    ScanState::parse(s).ok_or_else(|| corrupt("scan state", s))
}

pub(crate) fn progress_from_row(r: &PgRow) -> Result<Progress> {
    Ok(Progress {
        enqueued: u64_of(get(r, "enqueued")?),
        done: u64_of(get(r, "done")?),
        failed: u64_of(get(r, "failed")?),
        expected_total: get::<Option<i64>>(r, "expected_total")?.map(u64_of),
        enqueue_done: get(r, "enqueue_done")?,
        findings: u64_of(get(r, "findings")?),
        verdicts: argus_core::detector::VerdictCounts {
            clean: u64_of(get(r, "v_clean")?),
            malicious: u64_of(get(r, "v_malicious")?),
            suspicious: u64_of(get(r, "v_suspicious")?),
            error: u64_of(get(r, "v_error")?),
            skipped: u64_of(get(r, "v_skipped")?),
        },
    })
}

pub(crate) fn scan_from_row(r: &PgRow) -> Result<Scan> {
    let user: String = get(r, "user_id")?;
    Ok(Scan {
        id: ScanId(get(r, "id")?),
        org_id: org(&get::<String>(r, "org_id")?)?,
        user_id: UserId::parse(&user).map_err(|_| corrupt("user id", &user))?,
        name: get(r, "name")?,
        config: json(r, "config")?,
        template_id: get::<Option<Uuid>>(r, "template_id")?.map(TemplateId),
        source_scan_id: get::<Option<Uuid>>(r, "source_scan_id")?.map(ScanId),
        state: scan_state(&get::<String>(r, "state")?)?,
        reason: get(r, "reason")?,
        progress: progress_from_row(r)?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
        started_at: get(r, "started_at")?,
        finished_at: get(r, "finished_at")?,
        trace: get(r, "trace")?,
        stuck_since: get(r, "stuck_since")?,
    })
}

pub(crate) fn finding_from_row(r: &PgRow) -> Result<Finding> {
    let triage: String = get(r, "triage")?;
    Ok(Finding {
        id: FindingId(get(r, "id")?),
        scan_id: ScanId(get(r, "scan_id")?),
        org_id: org(&get::<String>(r, "org_id")?)?,
        task_id: get::<Option<Uuid>>(r, "task_id")?.map(TaskId),
        scanner: get(r, "scanner")?,
        kind: get(r, "kind")?,
        severity: Severity::from_rank(u8::try_from(get::<i16>(r, "severity")?).unwrap_or(0)),
        title: get(r, "title")?,
        description: get(r, "description")?,
        target: json(r, "target")?,
        location: json(r, "location")?,
        fingerprint: get(r, "fingerprint")?,
        data: json(r, "data")?,
        secret: opt_json(r, "secret")?,
        triage: Triage::parse(&triage).ok_or_else(|| corrupt("triage", &triage))?,
        previous_triage: get::<Option<String>>(r, "previous_triage")?
            .map(|t| Triage::parse(&t).ok_or_else(|| corrupt("previous triage", &t)))
            .transpose()?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

/// Decodes a ledger row; the columns may carry a table alias in the query but not in the row.
pub(crate) fn task_from_row(r: &PgRow) -> Result<Task> {
    Ok(Task {
        id: TaskId(get(r, "id")?),
        scan_id: ScanId(get(r, "scan_id")?),
        org_id: org(&get::<String>(r, "org_id")?)?,
        scanner: get(r, "scanner")?,
        target: json(r, "target")?,
        depth: u32::try_from(get::<i32>(r, "depth")?).unwrap_or(0),
        priority: Priority::from_rank(u8::try_from(get::<i16>(r, "priority")?).unwrap_or(5)),
        max_attempts: u32::try_from(get::<i32>(r, "max_attempts")?).unwrap_or(1),
        params: opt_json(r, "params")?,
        enumerates: get::<Option<i16>>(r, "enum_state")?.is_some(),
    })
}

pub(crate) fn event_from_row(r: &PgRow) -> Result<Event> {
    let kind: String = get(r, "kind")?;
    Ok(Event {
        id: get(r, "id")?,
        scan_id: ScanId(get(r, "scan_id")?),
        org_id: org(&get::<String>(r, "org_id")?)?,
        data: EventData::from_json(
            EventKind::parse(&kind).ok_or_else(|| corrupt("event kind", &kind))?,
            json(r, "data")?,
        )
        .map_err(|e| corrupt("event data", e))?,
        at: get(r, "at")?,
    })
}

pub(crate) fn template_from_row(r: &PgRow) -> Result<Template> {
    let user: String = get(r, "user_id")?;
    Ok(Template {
        id: TemplateId(get(r, "id")?),
        org_id: org(&get::<String>(r, "org_id")?)?,
        user_id: UserId::parse(&user).map_err(|_| corrupt("user id", &user))?,
        name: get(r, "name")?,
        description: get(r, "description")?,
        config: json(r, "config")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

pub(crate) fn artifact_from_row(r: &PgRow) -> Result<ArtifactMeta> {
    let name: String = get(r, "name")?;
    Ok(ArtifactMeta {
        scan_id: ScanId(get(r, "scan_id")?),
        org_id: org(&get::<String>(r, "org_id")?)?,
        name: ArtifactName::parse(&name).map_err(|_| corrupt("artifact name", &name))?,
        size: u64_of(get(r, "size")?),
        content_type: get(r, "content_type")?,
        created_at: get(r, "created_at")?,
    })
}

pub(crate) use crate::cursor::Cursor;

/// A decoded cursor with its values in column types.
pub(crate) struct CursorPos {
    pub rank: i16,
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    /// Decodes a cursor of the sort `sort` into column types.
    pub(crate) fn position(s: &str, sort: &str) -> Result<CursorPos> {
        let c = Cursor::decode(s, sort)?;
        let bad = crate::cursor::bad;
        Ok(CursorPos {
            rank: i16::try_from(c.r).map_err(|_| bad())?,
            at: DateTime::from_timestamp_millis(c.c).ok_or_else(bad)?,
            id: Uuid::parse_str(&c.i).map_err(|_| bad())?,
        })
    }
}

/// Page size: 0 means the default of 100, anything else is clamped to 1..=1000.
pub(crate) fn clamp_limit(limit: u32) -> u32 {
    if limit == 0 {
        100
    } else {
        limit.min(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_replaced_only_when_present() {
        assert!(matches!(pg_text("plain"), Cow::Borrowed("plain")));
        assert_eq!(pg_text("a\0b"), "a\u{FFFD}b");
    }

    #[test]
    fn cursor_round_trip_and_sort_check() {
        let id = Uuid::now_v7();
        let enc = Cursor {
            s: "created".into(),
            r: 3,
            c: 1_700_000_000_123,
            i: id.to_string(),
        }
        .encode();
        let pos = Cursor::position(&enc, "created").unwrap();
        assert_eq!(
            (pos.rank, pos.at.timestamp_millis(), pos.id),
            (3, 1_700_000_000_123, id)
        );
        assert!(Cursor::position(&enc, "severity").is_err());
        assert!(Cursor::position("%%%", "created").is_err());
    }
}
