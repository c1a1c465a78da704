//! [`PgStore`]'s `FindingStore`: findings: lists with filters, sort and cursor, one finding,
//! triage.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use super::PgStore;
use argus_core::finding::{Finding, FindingQuery, FindingSort, Page, Triage};
use argus_core::{CoreError, FindingId, OrgId, Result, ScanId};
use async_trait::async_trait;
use sqlx::{Postgres, QueryBuilder};

use super::store::*;
use argus_core::store::FindingStore;

impl PgStore {
    pub(super) async fn list_findings_q(
        &self,
        org: &OrgId,
        scan: ScanId,
        query: &FindingQuery,
    ) -> PgResult<Page<Finding>> {
        let mut conn = self.pool.acquire().await?;
        scan_state_in(&mut conn, org, scan, false).await?;
        let limit = clamp_limit(query.limit);
        let sort = sort_name(query.sort);
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {FINDING_COLS} FROM findings WHERE scan_id = "
        ));
        qb.push_bind(scan.0)
            .push(" AND org_id = ")
            .push_bind(org.as_str().to_owned());
        push_finding_filters(&mut qb, query);
        if let Some(cur) = &query.cursor {
            let c = Cursor::position(cur, sort)?;
            match query.sort {
                FindingSort::Created => {
                    qb.push(" AND (created_at, id) > (")
                        .push_bind(c.at)
                        .push(", ")
                        .push_bind(c.id)
                        .push(")");
                }
                FindingSort::CreatedDesc => {
                    qb.push(" AND (created_at, id) < (")
                        .push_bind(c.at)
                        .push(", ")
                        .push_bind(c.id)
                        .push(")");
                }
                FindingSort::Severity => {
                    qb.push(" AND (severity < ")
                        .push_bind(c.rank)
                        .push(" OR (severity = ")
                        .push_bind(c.rank)
                        .push(" AND (created_at, id) > (")
                        .push_bind(c.at)
                        .push(", ")
                        .push_bind(c.id)
                        .push(")))");
                }
            }
        }
        qb.push(match query.sort {
            FindingSort::Created => " ORDER BY created_at, id",
            FindingSort::CreatedDesc => " ORDER BY created_at DESC, id DESC",
            FindingSort::Severity => " ORDER BY severity DESC, created_at, id",
        });
        qb.push(" LIMIT ").push_bind(i64::from(limit) + 1);
        let rows = qb.build().fetch_all(&mut *conn).await?;
        let items = rows
            .iter()
            .map(finding_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::cursor::page(items, limit, |f| {
            Cursor::after_finding(sort, f)
        }))
    }
}

#[async_trait]
impl FindingStore for PgStore {
    async fn list_findings(
        &self,
        org: &OrgId,
        scan: ScanId,
        query: &FindingQuery,
    ) -> Result<Page<Finding>> {
        lift(self.list_findings_q(org, scan, query)).await
    }
    async fn get_finding(&self, org: &OrgId, id: FindingId) -> Result<Finding> {
        lift(async {
            let row = sqlx::query(&format!(
                "SELECT {FINDING_COLS} FROM findings WHERE id = $1 AND org_id = $2 {LIVE_SCAN}"
            ))
            .bind(id.0)
            .bind(org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CoreError::not_found("finding", id))?;
            Ok(finding_from_row(&row)?)
        })
        .await
    }
    async fn set_triage(&self, org: &OrgId, id: FindingId, triage: Triage) -> Result<Finding> {
        lift(async {
            let row = sqlx::query(&format!(
                "UPDATE findings SET triage = $1, updated_at = $2 WHERE id = $3 AND org_id = $4 \
                 {LIVE_SCAN} RETURNING {FINDING_COLS}"
            ))
            .bind(triage.as_str())
            .bind(now_ts())
            .bind(id.0)
            .bind(org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CoreError::not_found("finding", id))?;
            Ok(finding_from_row(&row)?)
        })
        .await
    }
}
