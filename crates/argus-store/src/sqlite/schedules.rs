//! [`SqliteStore`]'s `ScheduleStore`: schedules and their fire history.
//!
//! The semantics every backend keeps are in `argus_core::schedule::ScheduleStore`. A tick is
//! recorded by one conditional `UPDATE` (compare-and-set on `next_fire_at`, `last_slot` only
//! forwards), so a scheduler that lost its lease mid-tick changes nothing.

use super::rows::*;
use argus_core::finding::Page;
use argus_core::schedule::{
    FireOutcome, NewSchedule, Schedule, ScheduleDef, ScheduleQuery, ScheduleStore, TickRecord,
};
use argus_core::{now_ms, CoreError, OrgId, Result, ScanId, ScheduleId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite};

use super::store::*;

const COLS: &str = "id, org_id, user_id, name, def, next_fire_at, last_slot, last_scan_id, \
                    last_outcome, created_at, updated_at";

fn from_row(r: &SqliteRow) -> Result<Schedule> {
    let user: String = get(r, "user_id")?;
    Ok(Schedule {
        id: parse(&get::<String>(r, "id")?, "schedule id")?,
        org_id: org(&get::<String>(r, "org_id")?)?,
        user_id: UserId::parse(&user).map_err(|_| corrupt("user id", &user))?,
        name: get(r, "name")?,
        def: json::<ScheduleDef>(&get::<String>(r, "def")?, "schedule definition")?,
        next_fire_at: get::<Option<i64>>(r, "next_fire_at")?.map(ms_to_time),
        last_slot: get::<Option<i64>>(r, "last_slot")?.map(ms_to_time),
        last_scan_id: get::<Option<String>>(r, "last_scan_id")?
            .map(|s| parse::<ScanId>(&s, "scan id"))
            .transpose()?,
        last_outcome: get::<Option<String>>(r, "last_outcome")?
            .map(|s| json::<FireOutcome>(&s, "fire outcome"))
            .transpose()?,
        created_at: ms_to_time(get(r, "created_at")?),
        updated_at: ms_to_time(get(r, "updated_at")?),
    })
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

#[async_trait]
impl ScheduleStore for SqliteStore {
    async fn create_schedule(&self, s: NewSchedule) -> Result<Schedule> {
        let row = sqlx::query(&format!(
            "INSERT INTO schedules (id, org_id, user_id, name, def, next_fire_at, created_at, \
                 updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) RETURNING {COLS}"
        ))
        .bind(s.id.to_string())
        .bind(s.org.as_str())
        .bind(s.user.as_str())
        .bind(&s.name)
        .bind(to_json(&s.def)?)
        .bind(s.next_fire_at.map(ms))
        .bind(now_ms())
        .fetch_one(&self.db.writer)
        .await
        .map_err(db_err)?;
        from_row(&row)
    }

    async fn get_schedule(&self, org: &OrgId, id: ScheduleId) -> Result<Schedule> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM schedules WHERE id = ?1 AND org_id = ?2"
        ))
        .bind(id.to_string())
        .bind(org.as_str())
        .fetch_optional(&self.db.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| CoreError::not_found("schedule", id))?;
        from_row(&row)
    }

    async fn list_schedules(&self, org: &OrgId, query: &ScheduleQuery) -> Result<Page<Schedule>> {
        let limit = clamp_limit(query.limit);
        let mut qb =
            QueryBuilder::<Sqlite>::new(format!("SELECT {COLS} FROM schedules WHERE org_id = "));
        qb.push_bind(org.as_str().to_owned());
        if let Some(cur) = &query.cursor {
            let (name, id) = crate::schedule_cursor::decode(cur)?;
            qb.push(" AND (name, id) > (")
                .push_bind(name)
                .push(", ")
                .push_bind(id.to_string())
                .push(")");
        }
        qb.push(" ORDER BY name, id LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = qb
            .build()
            .fetch_all(&self.db.reader)
            .await
            .map_err(db_err)?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        Ok(crate::schedule_cursor::page(items, limit))
    }

    async fn update_schedule(&self, s: NewSchedule) -> Result<Schedule> {
        let row = sqlx::query(&format!(
            "UPDATE schedules SET name = ?1, def = ?2, next_fire_at = ?3, updated_at = ?4 \
             WHERE id = ?5 AND org_id = ?6 RETURNING {COLS}"
        ))
        .bind(&s.name)
        .bind(to_json(&s.def)?)
        .bind(s.next_fire_at.map(ms))
        .bind(now_ms())
        .bind(s.id.to_string())
        .bind(s.org.as_str())
        .fetch_optional(&self.db.writer)
        .await
        .map_err(db_err)?
        .ok_or_else(|| CoreError::not_found("schedule", s.id))?;
        from_row(&row)
    }

    async fn delete_schedule(&self, org: &OrgId, id: ScheduleId) -> Result<()> {
        let r = sqlx::query("DELETE FROM schedules WHERE id = ?1 AND org_id = ?2")
            .bind(id.to_string())
            .bind(org.as_str())
            .execute(&self.db.writer)
            .await
            .map_err(db_err)?;
        if r.rows_affected() == 0 {
            return Err(CoreError::not_found("schedule", id));
        }
        Ok(())
    }

    async fn due_schedules(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Schedule>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM schedules WHERE next_fire_at IS NOT NULL AND next_fire_at <= ?1 \
             ORDER BY next_fire_at, id LIMIT ?2"
        ))
        .bind(ms(now))
        .bind(i64::from(clamp_limit(limit)))
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(from_row).collect()
    }

    async fn schedule_ticked(&self, id: ScheduleId, tick: &TickRecord) -> Result<bool> {
        let (slot, scan, outcome) = match &tick.fired {
            Some((slot, scan, outcome)) => (
                Some(ms(*slot)),
                scan.map(|s| s.to_string()),
                Some(to_json(outcome)?),
            ),
            None => (None, None, None),
        };
        let r = sqlx::query(
            "UPDATE schedules SET next_fire_at = ?1, \
                 last_slot = COALESCE(?2, last_slot), \
                 last_scan_id = CASE WHEN ?2 IS NULL THEN last_scan_id ELSE ?3 END, \
                 last_outcome = COALESCE(?4, last_outcome) \
             WHERE id = ?5 AND next_fire_at = ?6 \
               AND (?2 IS NULL OR last_slot IS NULL OR last_slot < ?2)",
        )
        .bind(tick.next_fire_at.map(ms))
        .bind(slot)
        .bind(scan)
        .bind(outcome)
        .bind(id.to_string())
        .bind(ms(tick.expected_next))
        .execute(&self.db.writer)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }
}
