//! [`PgStore`]'s `EventLog`: the event log: replay after an event id.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use super::PgStore;
use argus_core::event::Event;
use argus_core::{OrgId, Result, ScanId};
use async_trait::async_trait;

use super::store::*;
use argus_core::store::EventLog;

impl PgStore {
    pub(super) async fn events_after_q(
        &self,
        org: &OrgId,
        scan: Option<ScanId>,
        after: i64,
        limit: u32,
    ) -> PgResult<Vec<Event>> {
        let limit = i64::from(clamp_limit(limit));
        let mut conn = self.pool.acquire().await?;
        let rows = match scan {
            Some(scan) => {
                scan_state_in(&mut conn, org, scan, false).await?;
                sqlx::query(&format!(
                    "SELECT {EVENT_COLS} FROM events WHERE scan_id = $1 AND org_id = $2 \
                     AND id > $3 ORDER BY id LIMIT $4"
                ))
                .bind(scan.0)
                .bind(org.as_str())
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {EVENT_COLS} FROM events WHERE org_id = $1 AND id > $2 \
                     AND NOT EXISTS (SELECT 1 FROM scan_cleanups c \
                         WHERE c.scan_id = events.scan_id AND c.deleted) \
                     ORDER BY id LIMIT $3"
                ))
                .bind(org.as_str())
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
            }
        };
        Ok(rows.iter().map(event_from_row).collect::<Result<_>>()?)
    }
}

#[async_trait]
impl EventLog for PgStore {
    async fn events_after(
        &self,
        org: &OrgId,
        scan: Option<ScanId>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        lift(self.events_after_q(org, scan, after, limit)).await
    }
}
