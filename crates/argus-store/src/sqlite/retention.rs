//! [`SqliteStore`]'s retention queries (`ScanStore::expired_scans`, `expire_scan`): ended scans
//! past their cutoff, found through the `scans_ended` / `scans_org_ended` indexes (0014).
//!
//! A scan is expired when it ended, finished before the cutoff and no derived scan (clean,
//! push: `source_scan_id`) of it has not ended. `expire_scan` re-checks that inside the
//! writer's `BEGIN IMMEDIATE` transaction, so a derived scan created at the same moment is
//! either seen (the source stays) or created after the source is gone.

use argus_core::retention::{ExpiryQuery, OrgScope};
use argus_core::scan::Scan;
use argus_core::{now_ms, OrgId, Result, ScanId};
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite};

use super::rows::*;
use super::store::*;

/// The expiry condition on `scans s` (cutoff bound as `?` by the caller after this text).
const NEEDED_BY_DERIVED: &str = "NOT EXISTS (SELECT 1 FROM scans d \
     WHERE d.org_id = s.org_id AND d.source_scan_id = s.id \
     AND d.state NOT IN ('completed', 'failed', 'cancelled'))";

impl SqliteStore {
    pub(super) async fn expired_scans_impl(
        &self,
        query: &ExpiryQuery,
        limit: u32,
    ) -> Result<Vec<Scan>> {
        let cols = SCAN_COLS
            .split(',')
            .map(|c| format!("s.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {cols} FROM scans s WHERE s.state IN ('completed', 'failed', 'cancelled') \
             AND s.finished_at < "
        ));
        qb.push_bind(query.before.timestamp_millis());
        match &query.orgs {
            OrgScope::Only(org) => {
                qb.push(" AND s.org_id = ")
                    .push_bind(org.as_str().to_owned());
            }
            OrgScope::Except(orgs) if !orgs.is_empty() => {
                qb.push(" AND s.org_id NOT IN (SELECT value FROM json_each(")
                    .push_bind(ids_json(orgs.iter().map(|o| o.as_str()))?)
                    .push("))");
            }
            OrgScope::Except(_) => {}
        }
        qb.push(" AND ")
            .push(NEEDED_BY_DERIVED)
            .push(" ORDER BY s.finished_at, s.id LIMIT ")
            .push_bind(i64::from(limit.max(1)));
        let rows = qb
            .build()
            .fetch_all(&self.db.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(scan_from_row).collect()
    }

    pub(super) async fn expire_scan_impl(
        &self,
        org: &OrgId,
        id: ScanId,
        before: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let still: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT 1 FROM scans s WHERE s.id = ?1 AND s.org_id = ?2 \
             AND s.state IN ('completed', 'failed', 'cancelled') AND s.finished_at < ?3 \
             AND {NEEDED_BY_DERIVED}"
        ))
        .bind(id.to_string())
        .bind(org.as_str())
        .bind(before.timestamp_millis())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if still.is_none() {
            return Ok(false);
        }
        // As `delete_scan`: the row goes now, its children in the janitor's batches.
        add_cleanup(&mut tx, id, true, now_ms()).await?;
        sqlx::query("DELETE FROM scans WHERE id = ?1 AND org_id = ?2")
            .bind(id.to_string())
            .bind(org.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }
}
