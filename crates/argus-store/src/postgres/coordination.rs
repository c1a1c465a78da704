//! [`PgStore`]'s `Coordination`: the leadership lease (`try_lead`, `resign`) and worker pools'
//! scanner advertisements.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use super::PgStore;
use argus_core::Result;
use async_trait::async_trait;
use std::time::Duration;

use super::store::*;
use crate::rate::{rate_cost, rate_wait};
use argus_core::store::Coordination;

#[async_trait]
impl Coordination for PgStore {
    async fn try_lead(&self, role: &str, holder: &str, ttl: Duration) -> Result<bool> {
        // The upsert only overwrites a row held by the same holder or already expired, both
        // judged by the database clock; when the condition fails nothing is returned, which is
        // the "refused" answer. Racing first inserts are settled by the primary key.
        lift(async {
            let row: Option<String> = sqlx::query_scalar(
                "INSERT INTO leaders (role, holder, expires_at) \
                 VALUES ($1, $2, now() + make_interval(secs => $3)) \
                 ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, \
                     expires_at = excluded.expires_at \
                 WHERE leaders.holder = excluded.holder OR leaders.expires_at <= now() \
                 RETURNING holder",
            )
            .bind(role)
            .bind(holder)
            .bind(ttl.as_secs_f64())
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.is_some())
        })
        .await
    }
    async fn reserve_rate(&self, key: &str, interval: Duration, permits: u32) -> Result<Duration> {
        let cost = rate_cost(interval, permits);
        // One statement, judged by the database clock: racing processes are ordered by the
        // row lock of the upsert.
        lift(async {
            let (next, now): (i64, i64) = sqlx::query_as(
                "WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS us) \
                 INSERT INTO rate_slots (key, next_us) SELECT $1, us + $2 FROM clock \
                 ON CONFLICT (key) DO UPDATE \
                     SET next_us = GREATEST(rate_slots.next_us + $2, excluded.next_us) \
                 RETURNING next_us, (SELECT us FROM clock)",
            )
            .bind(key)
            .bind(cost)
            .fetch_one(&self.pool)
            .await?;
            Ok(rate_wait(next, cost, now))
        })
        .await
    }
    async fn resign(&self, role: &str, holder: &str) -> Result<()> {
        lift(async {
            sqlx::query("DELETE FROM leaders WHERE role = $1 AND holder = $2")
                .bind(role)
                .bind(holder)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }
    async fn advertise(&self, worker: &str, scanners: &[String], ttl: Duration) -> Result<()> {
        lift(async {
            sqlx::query(
                "INSERT INTO workers (id, scanners, expires_at) \
                 VALUES ($1, $2::json, now() + make_interval(secs => $3)) \
                 ON CONFLICT (id) DO UPDATE SET scanners = excluded.scanners, \
                     expires_at = excluded.expires_at",
            )
            .bind(worker)
            .bind(to_json(&scanners)?)
            .bind(ttl.as_secs_f64())
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }
    async fn withdraw(&self, worker: &str) -> Result<()> {
        lift(async {
            sqlx::query("DELETE FROM workers WHERE id = $1")
                .bind(worker)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }
    async fn advertised_scanners(&self) -> Result<Vec<String>> {
        lift(async {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT j.value FROM workers w, json_array_elements_text(w.scanners) \
                     AS j(value) \
                 WHERE w.expires_at > now() ORDER BY 1",
            )
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        })
        .await
    }
}
