//! Row decoding and encoding helpers shared by the SQLite store: column lists, row → domain
//! type conversions, the error mapping and the opaque pagination cursor.
//!
//! Invariant: a row that cannot be decoded is a `Backend` error (corrupt data), never a panic.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use std::str::FromStr;

use argus_core::artifact::{ArtifactMeta, ArtifactName};
use argus_core::event::{Event, EventData, EventKind};
use argus_core::finding::{Finding, Severity, Triage};
use argus_core::scan::{Priority, Progress, Scan, ScanState};
use argus_core::task::Task;
use argus_core::template::Template;
use argus_core::{CoreError, OrgId, Result, UserId};

pub(crate) const SCAN_COLS: &str =
    "id, org_id, user_id, name, config, template_id, source_scan_id, state, reason, \
     enqueued, done, failed, expected_total, enqueue_done, findings, created_at, updated_at, \
     started_at, finished_at, v_clean, v_malicious, v_suspicious, v_error, v_skipped, trace, stuck_since";

pub(crate) const FINDING_COLS: &str = "id, scan_id, org_id, task_id, scanner, kind, severity, \
     title, description, target, location, fingerprint, data, secret, triage, previous_triage, created_at, \
     updated_at";

pub(crate) const TASK_COLS: &str =
    "id, scan_id, org_id, scanner, target, depth, priority, max_attempts, params, enum_state";

pub(crate) const EVENT_COLS: &str = "id, scan_id, org_id, kind, data, at";

pub(crate) const TEMPLATE_COLS: &str =
    "id, org_id, user_id, name, description, config, created_at, updated_at";

pub(crate) const ARTIFACT_COLS: &str = "scan_id, name, org_id, size, content_type, created_at";

/// Maps a sqlx error to the core error kinds. Messages never carry the connection string
/// (sqlx's SQLite errors only name the failing statement's cause).
pub(crate) fn db_err(e: sqlx::Error) -> CoreError {
    match e {
        sqlx::Error::RowNotFound => CoreError::not_found("record", "requested"),
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            CoreError::Unavailable {
                what: "database",
                message: e.to_string(),
            }
        }
        sqlx::Error::Database(ref d) => {
            if d.is_unique_violation() {
                return CoreError::Conflict {
                    message: "record already exists".into(),
                    state: None,
                };
            }
            // SQLITE_BUSY / SQLITE_LOCKED (and their extended codes): retry later.
            let busy = d
                .code()
                .and_then(|c| c.parse::<i64>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6));
            if busy {
                CoreError::Unavailable {
                    what: "database",
                    message: d.message().to_owned(),
                }
            } else {
                CoreError::Backend(d.message().to_owned())
            }
        }
        other => CoreError::Backend(other.to_string()),
    }
}

pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> CoreError {
    CoreError::Backend(format!("corrupt {what} in database: {detail}"))
}

pub(crate) fn ms_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub(crate) fn get<'r, T>(row: &'r SqliteRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(col).map_err(db_err)
}

pub(crate) fn parse<T: FromStr>(s: &str, what: &str) -> Result<T> {
    s.parse::<T>().map_err(|_| corrupt(what, s))
}

pub(crate) fn json<T: DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| corrupt(what, e))
}

fn opt_json<T: DeserializeOwned>(s: Option<String>, what: &str) -> Result<Option<T>> {
    match s {
        None => Ok(None),
        Some(s) => serde_json::from_str::<Option<T>>(&s).map_err(|e| corrupt(what, e)),
    }
}

pub(crate) fn org(s: &str) -> Result<OrgId> {
    OrgId::parse(s).map_err(|_| corrupt("org id", s))
}

pub(crate) fn scan_state(s: &str) -> Result<ScanState> {
    ScanState::parse(s).ok_or_else(|| corrupt("scan state", s))
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn progress_from_row(r: &SqliteRow) -> Result<Progress> {
    Ok(Progress {
        enqueued: u64_of(get(r, "enqueued")?),
        done: u64_of(get(r, "done")?),
        failed: u64_of(get(r, "failed")?),
        expected_total: get::<Option<i64>>(r, "expected_total")?.map(u64_of),
        enqueue_done: get::<i64>(r, "enqueue_done")? != 0,
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

pub(crate) fn scan_from_row(r: &SqliteRow) -> Result<Scan> {
    let user: String = get(r, "user_id")?;
    Ok(Scan {
        id: parse(&get::<String>(r, "id")?, "scan id")?,
        org_id: org(&get::<String>(r, "org_id")?)?,
        user_id: UserId::parse(&user).map_err(|_| corrupt("user id", &user))?,
        name: get(r, "name")?,
        config: json(&get::<String>(r, "config")?, "scan config")?,
        template_id: get::<Option<String>>(r, "template_id")?
            .map(|s| parse(&s, "template id"))
            .transpose()?,
        source_scan_id: get::<Option<String>>(r, "source_scan_id")?
            .map(|s| parse(&s, "scan id"))
            .transpose()?,
        state: scan_state(&get::<String>(r, "state")?)?,
        reason: get(r, "reason")?,
        progress: progress_from_row(r)?,
        created_at: ms_to_time(get(r, "created_at")?),
        updated_at: ms_to_time(get(r, "updated_at")?),
        started_at: get::<Option<i64>>(r, "started_at")?.map(ms_to_time),
        finished_at: get::<Option<i64>>(r, "finished_at")?.map(ms_to_time),
        trace: get(r, "trace")?,
        stuck_since: get::<Option<i64>>(r, "stuck_since")?.map(ms_to_time),
    })
}

pub(crate) fn finding_from_row(r: &SqliteRow) -> Result<Finding> {
    let triage: String = get(r, "triage")?;
    Ok(Finding {
        id: parse(&get::<String>(r, "id")?, "finding id")?,
        scan_id: parse(&get::<String>(r, "scan_id")?, "scan id")?,
        org_id: org(&get::<String>(r, "org_id")?)?,
        task_id: get::<Option<String>>(r, "task_id")?
            .map(|s| parse(&s, "task id"))
            .transpose()?,
        scanner: get(r, "scanner")?,
        kind: get(r, "kind")?,
        severity: Severity::from_rank(u8::try_from(get::<i64>(r, "severity")?).unwrap_or(0)),
        title: get(r, "title")?,
        description: get(r, "description")?,
        target: json(&get::<String>(r, "target")?, "finding target")?,
        location: json(&get::<String>(r, "location")?, "finding location")?,
        fingerprint: get(r, "fingerprint")?,
        data: opt_json::<serde_json::Value>(get(r, "data")?, "finding data")?
            .unwrap_or(serde_json::Value::Null),
        secret: opt_json(get(r, "secret")?, "finding secret")?,
        triage: Triage::parse(&triage).ok_or_else(|| corrupt("triage", &triage))?,
        previous_triage: get::<Option<String>>(r, "previous_triage")?
            .map(|t| Triage::parse(&t).ok_or_else(|| corrupt("previous triage", &t)))
            .transpose()?,
        created_at: ms_to_time(get(r, "created_at")?),
        updated_at: ms_to_time(get(r, "updated_at")?),
    })
}

pub(crate) fn task_from_row(r: &SqliteRow) -> Result<Task> {
    Ok(Task {
        id: parse(&get::<String>(r, "id")?, "task id")?,
        scan_id: parse(&get::<String>(r, "scan_id")?, "scan id")?,
        org_id: org(&get::<String>(r, "org_id")?)?,
        scanner: get(r, "scanner")?,
        target: json(&get::<String>(r, "target")?, "task target")?,
        depth: u32::try_from(get::<i64>(r, "depth")?).unwrap_or(0),
        priority: Priority::from_rank(u8::try_from(get::<i64>(r, "priority")?).unwrap_or(5)),
        max_attempts: u32::try_from(get::<i64>(r, "max_attempts")?).unwrap_or(1),
        params: opt_json(get(r, "params")?, "task params")?,
        enumerates: get::<Option<i64>>(r, "enum_state")?.is_some(),
    })
}

pub(crate) fn event_from_row(r: &SqliteRow) -> Result<Event> {
    let kind: String = get(r, "kind")?;
    Ok(Event {
        id: get(r, "id")?,
        scan_id: parse(&get::<String>(r, "scan_id")?, "scan id")?,
        org_id: org(&get::<String>(r, "org_id")?)?,
        data: EventData::from_json(
            EventKind::parse(&kind).ok_or_else(|| corrupt("event kind", &kind))?,
            json(&get::<String>(r, "data")?, "event data")?,
        )
        .map_err(|e| corrupt("event data", e))?,
        at: ms_to_time(get(r, "at")?),
    })
}

pub(crate) fn template_from_row(r: &SqliteRow) -> Result<Template> {
    let user: String = get(r, "user_id")?;
    Ok(Template {
        id: parse(&get::<String>(r, "id")?, "template id")?,
        org_id: org(&get::<String>(r, "org_id")?)?,
        user_id: UserId::parse(&user).map_err(|_| corrupt("user id", &user))?,
        name: get(r, "name")?,
        description: get(r, "description")?,
        config: json(&get::<String>(r, "config")?, "template config")?,
        created_at: ms_to_time(get(r, "created_at")?),
        updated_at: ms_to_time(get(r, "updated_at")?),
    })
}

pub(crate) fn artifact_from_row(r: &SqliteRow) -> Result<ArtifactMeta> {
    let name: String = get(r, "name")?;
    Ok(ArtifactMeta {
        scan_id: parse(&get::<String>(r, "scan_id")?, "scan id")?,
        org_id: org(&get::<String>(r, "org_id")?)?,
        name: ArtifactName::parse(&name).map_err(|_| corrupt("artifact name", &name))?,
        size: u64_of(get(r, "size")?),
        content_type: get(r, "content_type")?,
        created_at: ms_to_time(get(r, "created_at")?),
    })
}

pub(crate) use crate::cursor::Cursor;

/// Page size: 0 means the default of 100, anything else is clamped to 1..=1000.
pub(crate) fn clamp_limit(limit: u32) -> u32 {
    if limit == 0 {
        100
    } else {
        limit.min(1000)
    }
}
