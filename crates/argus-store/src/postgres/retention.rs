//! [`PgStore`]'s retention queries (`ScanStore::expired_scans`, `expire_scan`): ended scans
//! past their cutoff, found through the `scans_ended` / `scans_org_ended` indexes (0014).
//!
//! A scan is expired when it ended, finished before the cutoff and no derived scan (clean,
//! push: `source_scan_id`) of it has not ended. `expire_scan` locks the scan row first and
//! only then checks for derived scans in a later statement (a fresh snapshot under READ
//! COMMITTED), while `create_scan` of a derived scan holds a share lock on its source: so a
//! derived scan created at the same moment either commits first and is seen (the source
//! stays), or waits and then finds its source gone.

use argus_core::retention::{ExpiryQuery, OrgScope};
use argus_core::scan::Scan;
use argus_core::{OrgId, Result, ScanId};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

use super::rows::*;
use super::store::*;
use super::PgStore;

/// True when a derived scan of `s` has not ended.
const NEEDED_BY_DERIVED: &str = "EXISTS (SELECT 1 FROM scans d \
     WHERE d.org_id = s.org_id AND d.source_scan_id = s.id \
     AND d.state NOT IN ('completed', 'failed', 'cancelled'))";

impl PgStore {
    pub(super) async fn expired_scans_impl(
        &self,
        query: &ExpiryQuery,
        limit: u32,
    ) -> Result<Vec<Scan>> {
        lift(async {
            let cols = SCAN_COLS
                .split(',')
                .map(|c| format!("s.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ");
            let mut qb = QueryBuilder::<Postgres>::new(format!(
                "SELECT {cols} FROM scans s \
                 WHERE s.state IN ('completed', 'failed', 'cancelled') AND s.finished_at < "
            ));
            qb.push_bind(query.before);
            match &query.orgs {
                OrgScope::Only(org) => {
                    qb.push(" AND s.org_id = ")
                        .push_bind(org.as_str().to_owned());
                }
                OrgScope::Except(orgs) if !orgs.is_empty() => {
                    qb.push(" AND s.org_id <> ALL(")
                        .push_bind(
                            orgs.iter()
                                .map(|o| o.as_str().to_owned())
                                .collect::<Vec<_>>(),
                        )
                        .push(")");
                }
                OrgScope::Except(_) => {}
            }
            qb.push(" AND NOT ")
                .push(NEEDED_BY_DERIVED)
                .push(" ORDER BY s.finished_at, s.id LIMIT ")
                .push_bind(i64::from(limit.max(1)));
            let rows = qb.build().fetch_all(&self.pool).await?;
            Ok(rows.iter().map(scan_from_row).collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn expire_scan_tx(
        &self,
        org: &OrgId,
        id: ScanId,
        before: DateTime<Utc>,
    ) -> PgResult<bool> {
        let mut tx = self.pool.begin().await?;
        let ended: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM scans WHERE id = $1 AND org_id = $2 \
             AND state IN ('completed', 'failed', 'cancelled') AND finished_at < $3 FOR UPDATE",
        )
        .bind(id.0)
        .bind(org.as_str())
        .bind(before)
        .fetch_optional(&mut *tx)
        .await?;
        if ended.is_none() {
            return Ok(false);
        }
        // A later statement: it sees every derived scan committed while we waited for the lock.
        let needed: bool = sqlx::query_scalar(&format!(
            "SELECT {NEEDED_BY_DERIVED} FROM scans s WHERE s.id = $1"
        ))
        .bind(id.0)
        .fetch_one(&mut *tx)
        .await?;
        if needed {
            return Ok(false);
        }
        // As `delete_scan`: the row goes now, its children in the janitor's batches.
        add_cleanup(&mut tx, id, true, now_ts()).await?;
        sqlx::query("DELETE FROM scans WHERE id = $1 AND org_id = $2")
            .bind(id.0)
            .bind(org.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn expire_scan_impl(
        &self,
        org: &OrgId,
        id: ScanId,
        before: DateTime<Utc>,
    ) -> Result<bool> {
        retrying(|| self.expire_scan_tx(org, id, before)).await
    }
}
