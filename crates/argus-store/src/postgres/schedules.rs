//! [`PgStore`]'s `ScheduleStore`: schedules and their fire history.
//!
//! The semantics every backend keeps are in `argus_core::schedule::ScheduleStore`. A tick is
//! recorded by one conditional `UPDATE` (compare-and-set on `next_fire_at`, `last_slot` only
//! forwards): of two schedulers racing on a slot (an expired lease still ticking), one row
//! update wins and the other changes nothing.

use super::rows::*;
use super::PgStore;
use argus_core::finding::Page;
use argus_core::schedule::{
    FireOutcome, NewSchedule, Schedule, ScheduleDef, ScheduleQuery, ScheduleStore, TickRecord,
};
use argus_core::{CoreError, OrgId, Result, ScanId, ScheduleId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder};

use super::store::*;

const COLS: &str = "id, org_id, user_id, name, def, next_fire_at, last_slot, last_scan_id, \
                    last_outcome, created_at, updated_at";

fn from_row(r: &PgRow) -> Result<Schedule> {
    let user: String = get(r, "user_id")?;
    Ok(Schedule {
        id: ScheduleId(get(r, "id")?),
        org_id: org(&get::<String>(r, "org_id")?)?,
        user_id: UserId::parse(&user).map_err(|_| corrupt("user id", &user))?,
        name: get(r, "name")?,
        def: get::<Json<ScheduleDef>>(r, "def")?.0,
        next_fire_at: get(r, "next_fire_at")?,
        last_slot: get(r, "last_slot")?,
        last_scan_id: get::<Option<uuid::Uuid>>(r, "last_scan_id")?.map(ScanId),
        last_outcome: get::<Option<Json<FireOutcome>>>(r, "last_outcome")?.map(|j| j.0),
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

#[async_trait]
impl ScheduleStore for PgStore {
    async fn create_schedule(&self, s: NewSchedule) -> Result<Schedule> {
        lift(async {
            let row = sqlx::query(&format!(
                "INSERT INTO schedules (id, org_id, user_id, name, def, next_fire_at, \
                     created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5::json, $6, $7, $7) RETURNING {COLS}"
            ))
            .bind(s.id.0)
            .bind(s.org.as_str())
            .bind(s.user.as_str())
            .bind(pg_text(&s.name).as_ref())
            .bind(to_json(&s.def)?)
            .bind(s.next_fire_at)
            .bind(now_ts())
            .fetch_one(&self.pool)
            .await?;
            Ok(from_row(&row)?)
        })
        .await
    }

    async fn get_schedule(&self, org: &OrgId, id: ScheduleId) -> Result<Schedule> {
        lift(async {
            let row = sqlx::query(&format!(
                "SELECT {COLS} FROM schedules WHERE id = $1 AND org_id = $2"
            ))
            .bind(id.0)
            .bind(org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CoreError::not_found("schedule", id))?;
            Ok(from_row(&row)?)
        })
        .await
    }

    async fn list_schedules(&self, org: &OrgId, query: &ScheduleQuery) -> Result<Page<Schedule>> {
        lift(async {
            let limit = clamp_limit(query.limit);
            let mut qb = QueryBuilder::<Postgres>::new(format!(
                "SELECT {COLS} FROM schedules WHERE org_id = "
            ));
            qb.push_bind(org.as_str().to_owned());
            if let Some(cur) = &query.cursor {
                let (name, id) = crate::schedule_cursor::decode(cur)?;
                qb.push(" AND (name, id) > (")
                    .push_bind(name)
                    .push(", ")
                    .push_bind(id)
                    .push(")");
            }
            qb.push(" ORDER BY name, id LIMIT ")
                .push_bind(i64::from(limit) + 1);
            let rows = qb.build().fetch_all(&self.pool).await?;
            let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
            Ok(crate::schedule_cursor::page(items, limit))
        })
        .await
    }

    async fn update_schedule(&self, s: NewSchedule) -> Result<Schedule> {
        lift(async {
            let row = sqlx::query(&format!(
                "UPDATE schedules SET name = $1, def = $2::json, next_fire_at = $3, \
                     updated_at = $4 \
                 WHERE id = $5 AND org_id = $6 RETURNING {COLS}"
            ))
            .bind(pg_text(&s.name).as_ref())
            .bind(to_json(&s.def)?)
            .bind(s.next_fire_at)
            .bind(now_ts())
            .bind(s.id.0)
            .bind(s.org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CoreError::not_found("schedule", s.id))?;
            Ok(from_row(&row)?)
        })
        .await
    }

    async fn delete_schedule(&self, org: &OrgId, id: ScheduleId) -> Result<()> {
        lift(async {
            let r = sqlx::query("DELETE FROM schedules WHERE id = $1 AND org_id = $2")
                .bind(id.0)
                .bind(org.as_str())
                .execute(&self.pool)
                .await?;
            if r.rows_affected() == 0 {
                return Err(CoreError::not_found("schedule", id).into());
            }
            Ok(())
        })
        .await
    }

    async fn due_schedules(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Schedule>> {
        lift(async {
            let rows = sqlx::query(&format!(
                "SELECT {COLS} FROM schedules \
                 WHERE next_fire_at IS NOT NULL AND next_fire_at <= $1 \
                 ORDER BY next_fire_at, id LIMIT $2"
            ))
            .bind(now)
            .bind(i64::from(clamp_limit(limit)))
            .fetch_all(&self.pool)
            .await?;
            Ok(rows.iter().map(from_row).collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn schedule_ticked(&self, id: ScheduleId, tick: &TickRecord) -> Result<bool> {
        lift(async {
            let (slot, scan, outcome) = match &tick.fired {
                Some((slot, scan, outcome)) => {
                    (Some(*slot), scan.map(|s| s.0), Some(to_json(outcome)?))
                }
                None => (None, None, None),
            };
            let r = sqlx::query(
                "UPDATE schedules SET next_fire_at = $1, \
                     last_slot = COALESCE($2, last_slot), \
                     last_scan_id = CASE WHEN $2::timestamptz IS NULL THEN last_scan_id \
                                         ELSE $3 END, \
                     last_outcome = COALESCE($4::json, last_outcome) \
                 WHERE id = $5 AND next_fire_at = $6 \
                   AND ($2::timestamptz IS NULL OR last_slot IS NULL OR last_slot < $2)",
            )
            .bind(tick.next_fire_at)
            .bind(slot)
            .bind(scan)
            .bind(outcome)
            .bind(id.0)
            .bind(tick.expected_next)
            .execute(&self.pool)
            .await?;
            Ok(r.rows_affected() == 1)
        })
        .await
    }
}
