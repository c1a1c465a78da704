//! [`SqliteStore`]'s `SinkStore`: the store-wide event feed of the forwarder, each sink's cursor
//! and counters, and the dead-letter list.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`. Event ids commit in id order here without
//! further care: every write goes through the one writer connection, so a reader never sees id
//! N+1 while N is still uncommitted, and a forwarder's cursor never skips an event.

use super::rows::*;
use argus_core::event::Event;
use argus_core::finding::Page;
use argus_core::sink::{DeadLetter, NewDeadLetter, SinkState};
use argus_core::{now_ms, OrgId, Result};
use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::store::*;
use argus_core::store::SinkStore;

const SINK_COLS: &str = "name, cursor, sent, dropped, dead_lettered, last_error, last_error_at, \
     last_sent_at, holder, updated_at";

const DEAD_LETTER_COLS: &str = "id, sink, org_id, scan_id, event_id, event, error, attempts, at";

fn u64_col(r: &SqliteRow, col: &str) -> Result<u64> {
    Ok(u64::try_from(r.try_get::<i64, _>(col).map_err(db_err)?).unwrap_or(0))
}

fn time_col(r: &SqliteRow, col: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    Ok(r.try_get::<Option<i64>, _>(col)
        .map_err(db_err)?
        .map(ms_to_time))
}

fn sink_state_from_row(r: &SqliteRow) -> Result<SinkState> {
    Ok(SinkState {
        name: r.try_get("name").map_err(db_err)?,
        cursor: r.try_get("cursor").map_err(db_err)?,
        sent: u64_col(r, "sent")?,
        dropped: u64_col(r, "dropped")?,
        dead_lettered: u64_col(r, "dead_lettered")?,
        last_error: r.try_get("last_error").map_err(db_err)?,
        last_error_at: time_col(r, "last_error_at")?,
        last_sent_at: time_col(r, "last_sent_at")?,
        holder: r.try_get("holder").map_err(db_err)?,
        updated_at: time_col(r, "updated_at")?,
    })
}

fn dead_letter_from_row(r: &SqliteRow) -> Result<DeadLetter> {
    Ok(DeadLetter {
        id: r.try_get("id").map_err(db_err)?,
        sink: r.try_get("sink").map_err(db_err)?,
        org_id: r.try_get("org_id").map_err(db_err)?,
        scan_id: parse(
            &r.try_get::<String, _>("scan_id").map_err(db_err)?,
            "scan id",
        )?,
        event_id: r.try_get("event_id").map_err(db_err)?,
        event: json(
            &r.try_get::<String, _>("event").map_err(db_err)?,
            "dead letter",
        )?,
        error: r.try_get("error").map_err(db_err)?,
        attempts: u32::try_from(r.try_get::<i64, _>("attempts").map_err(db_err)?).unwrap_or(0),
        at: ms_to_time(r.try_get("at").map_err(db_err)?),
    })
}

fn ms_of(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp_millis())
}

#[async_trait]
impl SinkStore for SqliteStore {
    async fn events_since(&self, after: i64, limit: u32) -> Result<Vec<Event>> {
        // A deleted scan's events are invisible at once, here as in `events_after`.
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLS} FROM events WHERE id > ?1 \
             AND NOT EXISTS (SELECT 1 FROM scan_cleanups c \
                 WHERE c.scan_id = events.scan_id AND c.deleted = 1) \
             ORDER BY id LIMIT ?2"
        ))
        .bind(after)
        .bind(i64::from(clamp_limit(limit)))
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn last_event_id(&self) -> Result<i64> {
        let id: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM events")
            .fetch_one(&self.db.reader)
            .await
            .map_err(db_err)?;
        Ok(id.unwrap_or(0))
    }

    async fn sink_state(&self, name: &str) -> Result<Option<SinkState>> {
        let row = sqlx::query(&format!(
            "SELECT {SINK_COLS} FROM sink_states WHERE name = ?1"
        ))
        .bind(name)
        .fetch_optional(&self.db.reader)
        .await
        .map_err(db_err)?;
        row.as_ref().map(sink_state_from_row).transpose()
    }

    async fn save_sink_state(&self, state: &SinkState) -> Result<()> {
        // The cursor keeps the larger of the stored and the saved value: a late write of a
        // process that lost the sink's lease cannot rewind it. The rest is the saver's.
        sqlx::query(
            "INSERT INTO sink_states (name, cursor, sent, dropped, dead_lettered, last_error, \
                 last_error_at, last_sent_at, holder, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (name) DO UPDATE SET cursor = max(sink_states.cursor, excluded.cursor), \
                 sent = excluded.sent, dropped = excluded.dropped, \
                 dead_lettered = excluded.dead_lettered, last_error = excluded.last_error, \
                 last_error_at = excluded.last_error_at, last_sent_at = excluded.last_sent_at, \
                 holder = excluded.holder, updated_at = excluded.updated_at",
        )
        .bind(&state.name)
        .bind(state.cursor)
        .bind(i64_of(state.sent))
        .bind(i64_of(state.dropped))
        .bind(i64_of(state.dead_lettered))
        .bind(state.last_error.as_deref())
        .bind(ms_of(state.last_error_at))
        .bind(ms_of(state.last_sent_at))
        .bind(state.holder.as_deref())
        .bind(ms_of(state.updated_at))
        .execute(&self.db.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn add_dead_letters(&self, letters: Vec<NewDeadLetter>) -> Result<()> {
        if letters.is_empty() {
            return Ok(());
        }
        // One statement (so one transaction) for the batch, rows in input order.
        let arr = letters
            .iter()
            .map(|l| {
                Ok(json!([
                    l.sink,
                    l.event.org_id,
                    l.event.scan_id.to_string(),
                    l.event.event_id,
                    to_json(&l.body)?,
                    l.error,
                    l.attempts
                ]))
            })
            .collect::<Result<Vec<Value>>>()?;
        sqlx::query(
            "INSERT INTO sink_dead_letters \
                 (sink, org_id, scan_id, event_id, event, error, attempts, at) \
             SELECT j.value->>0, j.value->>1, j.value->>2, j.value->>3, j.value->>4, \
                 j.value->>5, j.value->>6, ?1 \
             FROM json_each(?2) AS j ORDER BY j.key",
        )
        .bind(now_ms())
        .bind(to_json(&arr)?)
        .execute(&self.db.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn list_dead_letters(
        &self,
        org: &OrgId,
        sink: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Page<DeadLetter>> {
        let limit = clamp_limit(limit);
        let rows = sqlx::query(&format!(
            "SELECT {DEAD_LETTER_COLS} FROM sink_dead_letters \
             WHERE sink = ?1 AND org_id = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4"
        ))
        .bind(sink)
        .bind(org.as_str())
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_err)?;
        let items = rows
            .iter()
            .map(dead_letter_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::cursor::page(items, limit, |d| d.id.to_string()))
    }
}
