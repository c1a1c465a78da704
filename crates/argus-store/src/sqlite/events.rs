//! [`SqliteStore`]'s `EventLog`: the event log: replay after an event id.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use argus_core::event::Event;
use argus_core::{OrgId, Result, ScanId};
use async_trait::async_trait;

use super::store::*;
use argus_core::store::EventLog;

#[async_trait]
impl EventLog for SqliteStore {
    async fn events_after(
        &self,
        org: &OrgId,
        scan: Option<ScanId>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let limit = i64::from(clamp_limit(limit));
        let mut conn = self.db.reader.acquire().await.map_err(db_err)?;
        let rows = match scan {
            Some(scan) => {
                scan_state_in(&mut conn, org, scan).await?;
                sqlx::query(&format!(
                    "SELECT {EVENT_COLS} FROM events WHERE scan_id = ?1 AND org_id = ?2 AND id > ?3 \
                     ORDER BY id LIMIT ?4"
                ))
                .bind(scan.to_string())
                .bind(org.as_str())
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {EVENT_COLS} FROM events WHERE org_id = ?1 AND id > ?2 \
                     AND NOT EXISTS (SELECT 1 FROM scan_cleanups c \
                         WHERE c.scan_id = events.scan_id AND c.deleted = 1) \
                     ORDER BY id LIMIT ?3"
                ))
                .bind(org.as_str())
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await
            }
        }
        .map_err(db_err)?;
        rows.iter().map(event_from_row).collect()
    }
}
