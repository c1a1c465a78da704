//! [`PgStore`]'s `FindingStore`: findings: lists with filters, sort and cursor, one finding,
//! triage.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use super::PgStore;
use argus_core::finding::{Finding, FindingQuery, FindingSort, Page, Triage, TriageCounts};
use argus_core::target::Target;
use argus_core::{CoreError, FindingId, OrgId, Result, ScanId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use std::collections::HashSet;

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
        retrying(|| self.set_triage_tx(org, id, triage)).await
    }
    async fn select_findings(
        &self,
        org: &OrgId,
        scan: ScanId,
        select: &[FindingId],
        false_positives: &[FindingId],
    ) -> Result<TriageCounts> {
        retrying(|| self.select_findings_tx(org, scan, select, false_positives)).await
    }
    async fn triage_counts(
        &self,
        org: &OrgId,
        scan: ScanId,
        secrets_only: bool,
    ) -> Result<TriageCounts> {
        lift(async {
            let mut conn = self.pool.acquire().await?;
            scan_state_in(&mut conn, org, scan, false).await?;
            counts_in(&mut conn, org, scan, secrets_only).await
        })
        .await
    }
}

impl PgStore {
    async fn set_triage_tx(&self, org: &OrgId, id: FindingId, triage: Triage) -> PgResult<Finding> {
        let now = now_ts();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE findings SET triage = $1, updated_at = $2 WHERE id = $3 AND org_id = $4 \
             {LIVE_SCAN} RETURNING {FINDING_COLS}"
        ))
        .bind(triage.as_str())
        .bind(now)
        .bind(id.0)
        .bind(org.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| CoreError::not_found("finding", id))?;
        let finding = finding_from_row(&row)?;
        let key = [(finding.target.key(), finding.fingerprint.clone())];
        remember(&mut tx, org, &key, triage, now).await?;
        tx.commit().await?;
        Ok(finding)
    }

    async fn select_findings_tx(
        &self,
        org: &OrgId,
        scan: ScanId,
        select: &[FindingId],
        false_positives: &[FindingId],
    ) -> PgResult<TriageCounts> {
        let now = now_ts();
        let mut tx = self.pool.begin().await?;
        // Locks the scan row against a concurrent delete while its findings change.
        scan_state_in(&mut tx, org, scan, true).await?;
        let mut missing_select = Vec::new();
        let mut missing_fp = Vec::new();
        for (ids, triage, missing) in [
            (select, Triage::Selected, &mut missing_select),
            (false_positives, Triage::FalsePositive, &mut missing_fp),
        ] {
            if ids.is_empty() {
                continue;
            }
            let rows: Vec<(uuid::Uuid, Json<Target>, String)> = sqlx::query_as(
                "UPDATE findings SET triage = $1, updated_at = $2 \
                 WHERE scan_id = $3 AND org_id = $4 AND id = ANY($5) \
                 RETURNING id, target, fingerprint",
            )
            .bind(triage.as_str())
            .bind(now)
            .bind(scan.0)
            .bind(org.as_str())
            .bind(uuids(ids, |i| i.0))
            .fetch_all(&mut *tx)
            .await?;
            let found: HashSet<FindingId> = rows.iter().map(|r| FindingId(r.0)).collect();
            let keys: Vec<(String, String)> = rows
                .into_iter()
                .map(|(_, target, fp)| (target.0.key(), fp))
                .collect();
            *missing = crate::plan::missing(ids, &found);
            remember(&mut tx, org, &keys, triage, now).await?;
        }
        if !missing_select.is_empty() || !missing_fp.is_empty() {
            // Dropping the transaction rolls every update back: all or nothing.
            return Err(crate::plan::unknown_findings(scan, &missing_select, &missing_fp).into());
        }
        let counts = counts_in(&mut tx, org, scan, false).await?;
        tx.commit().await?;
        Ok(counts)
    }
}

/// Writes `triage` into the org's triage memory for each `(target key, fingerprint)`; `open`
/// forgets them. Keys are sorted so concurrent writers lock memory rows in one order.
async fn remember(
    c: &mut PgConnection,
    org: &OrgId,
    keys: &[(String, String)],
    triage: Triage,
    now: DateTime<Utc>,
) -> PgResult<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut keys = keys.to_vec();
    keys.sort();
    keys.dedup();
    let (targets, fps): (Vec<String>, Vec<String>) = keys.into_iter().unzip();
    if triage == Triage::Open {
        sqlx::query(
            "DELETE FROM triage_memory m USING UNNEST($2::text[], $3::text[]) AS u(t, f) \
             WHERE m.org_id = $1 AND m.target_key = u.t AND m.fingerprint = u.f",
        )
        .bind(org.as_str())
        .bind(&targets)
        .bind(&fps)
        .execute(&mut *c)
        .await?;
    } else {
        sqlx::query(
            "INSERT INTO triage_memory (org_id, target_key, fingerprint, triage, updated_at) \
             SELECT $1, u.t, u.f, $4, $5 FROM UNNEST($2::text[], $3::text[]) AS u(t, f) \
             ON CONFLICT (org_id, target_key, fingerprint) DO UPDATE \
             SET triage = excluded.triage, updated_at = excluded.updated_at",
        )
        .bind(org.as_str())
        .bind(&targets)
        .bind(&fps)
        .bind(triage.as_str())
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// A scan's findings counted by triage (the caller checked the scan is the org's).
async fn counts_in(
    c: &mut PgConnection,
    org: &OrgId,
    scan: ScanId,
    secrets_only: bool,
) -> PgResult<TriageCounts> {
    let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT triage, COUNT(*) FROM findings WHERE scan_id = $1 AND org_id = $2 {} \
         GROUP BY triage",
        if secrets_only {
            "AND secret IS NOT NULL AND secret::text <> 'null'"
        } else {
            ""
        }
    ))
    .bind(scan.0)
    .bind(org.as_str())
    .fetch_all(&mut *c)
    .await?;
    let mut counts = TriageCounts::default();
    for (t, n) in rows {
        let t = Triage::parse(&t).ok_or_else(|| corrupt("triage", &t))?;
        counts.add(t, u64_of(n));
    }
    Ok(counts)
}
