//! [`SqliteStore`]'s `Coordination`: the leadership lease (`try_lead`, `resign`) and worker pools'
//! scanner advertisements.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use argus_core::{now_ms, Result};
use async_trait::async_trait;
use sqlx::Row;

use super::store::*;
use crate::rate::{rate_cost, rate_wait};
use argus_core::store::Coordination;

#[async_trait]
impl Coordination for SqliteStore {
    async fn try_lead(&self, role: &str, holder: &str, ttl: std::time::Duration) -> Result<bool> {
        let now = now_ms();
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
        // The upsert only overwrites a row held by the same holder or already expired; when the
        // condition fails nothing is returned, which is the "refused" answer.
        let row = sqlx::query(
            "INSERT INTO leaders (role, holder, expires_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT(role) DO UPDATE SET holder = excluded.holder, \
             expires_ms = excluded.expires_ms \
             WHERE leaders.holder = excluded.holder OR leaders.expires_ms <= ?4 \
             RETURNING holder",
        )
        .bind(role)
        .bind(holder)
        .bind(now.saturating_add(ttl))
        .bind(now)
        .fetch_optional(&self.db.writer)
        .await
        .map_err(db_err)?;
        Ok(row.is_some())
    }
    async fn reserve_rate(
        &self,
        key: &str,
        interval: std::time::Duration,
        permits: u32,
    ) -> Result<std::time::Duration> {
        let cost = rate_cost(interval, permits);
        let now = now_ms().saturating_mul(1000);
        let next: i64 = sqlx::query_scalar(
            "INSERT INTO rate_slots (key, next_us) VALUES (?1, ?2 + ?3) \
             ON CONFLICT(key) DO UPDATE SET next_us = max(rate_slots.next_us, ?2) + ?3 \
             RETURNING next_us",
        )
        .bind(key)
        .bind(now)
        .bind(cost)
        .fetch_one(&self.db.writer)
        .await
        .map_err(db_err)?;
        Ok(rate_wait(next, cost, now))
    }
    async fn resign(&self, role: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leaders WHERE role = ?1 AND holder = ?2")
            .bind(role)
            .bind(holder)
            .execute(&self.db.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }
    async fn advertise(
        &self,
        worker: &str,
        scanners: &[String],
        ttl: std::time::Duration,
    ) -> Result<()> {
        let expires =
            now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2));
        sqlx::query(
            "INSERT INTO workers (id, scanners, expires_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET scanners = excluded.scanners, \
                 expires_ms = excluded.expires_ms",
        )
        .bind(worker)
        .bind(to_json(&scanners)?)
        .bind(expires)
        .execute(&self.db.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }
    async fn withdraw(&self, worker: &str) -> Result<()> {
        sqlx::query("DELETE FROM workers WHERE id = ?1")
            .bind(worker)
            .execute(&self.db.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }
    async fn advertised_scanners(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT j.value FROM workers w, json_each(w.scanners) AS j \
             WHERE w.expires_ms > ?1 ORDER BY 1",
        )
        .bind(now_ms())
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(db_err))
            .collect()
    }
}
