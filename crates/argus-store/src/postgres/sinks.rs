//! [`PgStore`]'s `SinkStore`: the store-wide event feed of the forwarder, each sink's cursor
//! and counters, and the dead-letter list.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.
//!
//! `events_since` is a forwarder's only source, and its cursor moves past every id it read, so
//! it must never see event N+1 while a not-yet-committed N could still appear. It relies on
//! the same rule as `events_after`: every event writer draws its ids under the event lock
//! (`pg_advisory_xact_lock(EVENTS_LOCK)`, held until commit), so ids become visible in the
//! order they were drawn, and one statement's snapshot always holds a gap-free prefix of the
//! log. Nothing here may read events over several statements and merge them.

use super::rows::*;
use super::PgStore;
use argus_core::event::Event;
use argus_core::finding::Page;
use argus_core::ids::ScanId;
use argus_core::sink::{DeadLetter, NewDeadLetter, SinkState};
use argus_core::{OrgId, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;

use super::store::*;
use argus_core::store::SinkStore;

const SINK_COLS: &str = "name, cursor, sent, dropped, dead_lettered, last_error, last_error_at, \
     last_sent_at, holder, updated_at";

const DEAD_LETTER_COLS: &str = "id, sink, org_id, scan_id, event_id, event, error, attempts, at";

/// A time at the millisecond precision every backend stores (SQLite keeps milliseconds), so
/// a saved state reads back the same on both.
fn ms(t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    t.map(|t| ms_to_time(t.timestamp_millis()))
}

fn sink_state_from_row(r: &PgRow) -> Result<SinkState> {
    Ok(SinkState {
        name: get(r, "name")?,
        cursor: get(r, "cursor")?,
        sent: u64_of(get(r, "sent")?),
        dropped: u64_of(get(r, "dropped")?),
        dead_lettered: u64_of(get(r, "dead_lettered")?),
        last_error: get(r, "last_error")?,
        last_error_at: get(r, "last_error_at")?,
        last_sent_at: get(r, "last_sent_at")?,
        holder: get(r, "holder")?,
        updated_at: get(r, "updated_at")?,
    })
}

fn dead_letter_from_row(r: &PgRow) -> Result<DeadLetter> {
    Ok(DeadLetter {
        id: get(r, "id")?,
        sink: get(r, "sink")?,
        org_id: get(r, "org_id")?,
        scan_id: ScanId(get(r, "scan_id")?),
        event_id: get(r, "event_id")?,
        event: get::<Json<serde_json::Value>>(r, "event")?.0,
        error: get(r, "error")?,
        attempts: u32::try_from(get::<i32>(r, "attempts")?).unwrap_or(0),
        at: get(r, "at")?,
    })
}

#[async_trait]
impl SinkStore for PgStore {
    async fn events_since(&self, after: i64, limit: u32) -> Result<Vec<Event>> {
        // One statement, one snapshot: a gap-free prefix of the log (see the module docs). A
        // deleted scan's events are invisible at once, here as in `events_after`.
        lift(async {
            let rows = sqlx::query(&format!(
                "SELECT {EVENT_COLS} FROM events WHERE id > $1 \
                 AND NOT EXISTS (SELECT 1 FROM scan_cleanups c \
                     WHERE c.scan_id = events.scan_id AND c.deleted) \
                 ORDER BY id LIMIT $2"
            ))
            .bind(after)
            .bind(i64::from(clamp_limit(limit)))
            .fetch_all(&self.pool)
            .await?;
            Ok(rows.iter().map(event_from_row).collect::<Result<_>>()?)
        })
        .await
    }

    async fn last_event_id(&self) -> Result<i64> {
        // The highest *committed* id: the sequence's last value may belong to a transaction
        // still running (or rolled back), so it is not asked.
        lift(async {
            let id: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM events")
                .fetch_one(&self.pool)
                .await?;
            Ok(id.unwrap_or(0))
        })
        .await
    }

    async fn sink_state(&self, name: &str) -> Result<Option<SinkState>> {
        lift(async {
            let row = sqlx::query(&format!(
                "SELECT {SINK_COLS} FROM sink_states WHERE name = $1"
            ))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.as_ref().map(sink_state_from_row).transpose()?)
        })
        .await
    }

    async fn save_sink_state(&self, state: &SinkState) -> Result<()> {
        // The cursor keeps the larger of the stored and the saved value: a late write of a
        // process that lost the sink's lease cannot rewind it. The rest is the saver's. Racing
        // upserts are ordered by the row lock.
        lift(async {
            sqlx::query(
                "INSERT INTO sink_states (name, cursor, sent, dropped, dead_lettered, \
                     last_error, last_error_at, last_sent_at, holder, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (name) DO UPDATE SET \
                     cursor = GREATEST(sink_states.cursor, excluded.cursor), \
                     sent = excluded.sent, dropped = excluded.dropped, \
                     dead_lettered = excluded.dead_lettered, last_error = excluded.last_error, \
                     last_error_at = excluded.last_error_at, \
                     last_sent_at = excluded.last_sent_at, holder = excluded.holder, \
                     updated_at = excluded.updated_at",
            )
            .bind(pg_text(&state.name))
            .bind(state.cursor)
            .bind(i64_of(state.sent))
            .bind(i64_of(state.dropped))
            .bind(i64_of(state.dead_lettered))
            .bind(state.last_error.as_deref().map(pg_text))
            .bind(ms(state.last_error_at))
            .bind(ms(state.last_sent_at))
            .bind(state.holder.as_deref().map(pg_text))
            .bind(ms(state.updated_at))
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    async fn add_dead_letters(&self, letters: Vec<NewDeadLetter>) -> Result<()> {
        if letters.is_empty() {
            return Ok(());
        }
        let n = letters.len();
        let mut sinks = Vec::with_capacity(n);
        let mut orgs = Vec::with_capacity(n);
        let mut scans = Vec::with_capacity(n);
        let mut event_ids = Vec::with_capacity(n);
        let mut bodies = Vec::with_capacity(n);
        let mut errors = Vec::with_capacity(n);
        let mut attempts = Vec::with_capacity(n);
        for l in &letters {
            sinks.push(pg_text(&l.sink).into_owned());
            orgs.push(pg_text(&l.event.org_id).into_owned());
            scans.push(l.event.scan_id.0);
            event_ids.push(l.event.event_id);
            // JSON escapes a NUL inside a string, which the `json` type stores as it is.
            bodies.push(to_json(&l.body)?);
            errors.push(pg_text(&l.error).into_owned());
            attempts.push(i32_of(l.attempts));
        }
        // One statement (so one transaction) for the batch, rows in input order.
        lift(async {
            sqlx::query(
                "INSERT INTO sink_dead_letters \
                     (sink, org_id, scan_id, event_id, event, error, attempts, at) \
                 SELECT u.sink, u.org_id, u.scan_id, u.event_id, u.event::json, u.error, \
                     u.attempts, $8 \
                 FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::bigint[], $5::text[], \
                     $6::text[], $7::int[]) \
                     WITH ORDINALITY AS u(sink, org_id, scan_id, event_id, event, error, \
                         attempts, ord) \
                 ORDER BY u.ord",
            )
            .bind(&sinks)
            .bind(&orgs)
            .bind(&scans)
            .bind(&event_ids)
            .bind(&bodies)
            .bind(&errors)
            .bind(&attempts)
            .bind(now_ts())
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    async fn list_dead_letters(
        &self,
        org: &OrgId,
        sink: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Page<DeadLetter>> {
        let limit = clamp_limit(limit);
        lift(async {
            let rows = sqlx::query(&format!(
                "SELECT {DEAD_LETTER_COLS} FROM sink_dead_letters \
                 WHERE sink = $1 AND org_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4"
            ))
            .bind(pg_text(sink))
            .bind(org.as_str())
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
            let items = rows
                .iter()
                .map(dead_letter_from_row)
                .collect::<Result<Vec<_>>>()?;
            Ok(crate::cursor::page(items, limit, |d| d.id.to_string()))
        })
        .await
    }
}
