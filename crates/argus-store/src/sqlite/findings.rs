//! [`SqliteStore`]'s `FindingStore`: findings: lists with filters, sort and cursor, one finding,
//! triage.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use argus_core::finding::{Finding, FindingQuery, FindingSort, Page, Triage, TriageCounts};
use argus_core::target::Target;
use argus_core::{now_ms, CoreError, FindingId, OrgId, Result, ScanId};
use async_trait::async_trait;
use serde_json::json;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::HashSet;

use super::store::*;
use argus_core::store::FindingStore;

#[async_trait]
impl FindingStore for SqliteStore {
    async fn list_findings(
        &self,
        org: &OrgId,
        scan: ScanId,
        query: &FindingQuery,
    ) -> Result<Page<Finding>> {
        let mut conn = self.db.reader.acquire().await.map_err(db_err)?;
        scan_state_in(&mut conn, org, scan).await?;
        let limit = clamp_limit(query.limit);
        let sort = sort_name(query.sort);
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {FINDING_COLS} FROM findings WHERE scan_id = "
        ));
        qb.push_bind(scan.to_string())
            .push(" AND org_id = ")
            .push_bind(org.as_str().to_owned());
        push_finding_filters(&mut qb, query);
        if let Some(cur) = &query.cursor {
            let c = Cursor::decode(cur, sort)?;
            match query.sort {
                FindingSort::Created => {
                    qb.push(" AND (created_at, id) > (")
                        .push_bind(c.c)
                        .push(", ")
                        .push_bind(c.i)
                        .push(")");
                }
                FindingSort::CreatedDesc => {
                    qb.push(" AND (created_at, id) < (")
                        .push_bind(c.c)
                        .push(", ")
                        .push_bind(c.i)
                        .push(")");
                }
                FindingSort::Severity => {
                    qb.push(" AND (severity < ")
                        .push_bind(c.r)
                        .push(" OR (severity = ")
                        .push_bind(c.r)
                        .push(" AND (created_at, id) > (")
                        .push_bind(c.c)
                        .push(", ")
                        .push_bind(c.i)
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
        let rows = qb.build().fetch_all(&mut *conn).await.map_err(db_err)?;
        let items = rows
            .iter()
            .map(finding_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::cursor::page(items, limit, |f| {
            Cursor::after_finding(sort, f)
        }))
    }
    async fn get_finding(&self, org: &OrgId, id: FindingId) -> Result<Finding> {
        let row = sqlx::query(&format!(
            "SELECT {FINDING_COLS} FROM findings WHERE id = ?1 AND org_id = ?2 {LIVE_SCAN}"
        ))
        .bind(id.to_string())
        .bind(org.as_str())
        .fetch_optional(&self.db.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| CoreError::not_found("finding", id))?;
        finding_from_row(&row)
    }
    async fn set_triage(&self, org: &OrgId, id: FindingId, triage: Triage) -> Result<Finding> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE findings SET triage = ?1, updated_at = ?2 WHERE id = ?3 AND org_id = ?4 \
             {LIVE_SCAN} RETURNING {FINDING_COLS}"
        ))
        .bind(triage.as_str())
        .bind(now_ms())
        .bind(id.to_string())
        .bind(org.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or_else(|| CoreError::not_found("finding", id))?;
        let finding = finding_from_row(&row)?;
        let key = vec![(finding.target.key(), finding.fingerprint.clone())];
        remember(&mut tx, org, &key, triage, now_ms()).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(finding)
    }
    async fn select_findings(
        &self,
        org: &OrgId,
        scan: ScanId,
        select: &[FindingId],
        false_positives: &[FindingId],
    ) -> Result<TriageCounts> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        scan_state_in(&mut tx, org, scan).await?;
        let mut missing_select = Vec::new();
        let mut missing_fp = Vec::new();
        for (ids, triage, missing) in [
            (select, Triage::Selected, &mut missing_select),
            (false_positives, Triage::FalsePositive, &mut missing_fp),
        ] {
            if ids.is_empty() {
                continue;
            }
            let rows = sqlx::query(
                "UPDATE findings SET triage = ?1, updated_at = ?2 \
                 WHERE scan_id = ?3 AND org_id = ?4 AND id IN (SELECT value FROM json_each(?5)) \
                 RETURNING id, target, fingerprint",
            )
            .bind(triage.as_str())
            .bind(now)
            .bind(scan.to_string())
            .bind(org.as_str())
            .bind(ids_json(ids.iter())?)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
            let mut found = HashSet::with_capacity(rows.len());
            let mut keys = Vec::with_capacity(rows.len());
            for r in &rows {
                let id: String = r.try_get(0).map_err(db_err)?;
                found.insert(parse(&id, "finding id")?);
                let target: Target = json(
                    &r.try_get::<String, _>(1).map_err(db_err)?,
                    "finding target",
                )?;
                keys.push((target.key(), r.try_get::<String, _>(2).map_err(db_err)?));
            }
            *missing = crate::plan::missing(ids, &found);
            remember(&mut tx, org, &keys, triage, now).await?;
        }
        if !missing_select.is_empty() || !missing_fp.is_empty() {
            // Dropping the transaction rolls every update back: all or nothing.
            return Err(crate::plan::unknown_findings(
                scan,
                &missing_select,
                &missing_fp,
            ));
        }
        let counts = counts_in(&mut tx, org, scan, false).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(counts)
    }
    async fn triage_counts(
        &self,
        org: &OrgId,
        scan: ScanId,
        secrets_only: bool,
    ) -> Result<TriageCounts> {
        let mut conn = self.db.reader.acquire().await.map_err(db_err)?;
        scan_state_in(&mut conn, org, scan).await?;
        counts_in(&mut conn, org, scan, secrets_only).await
    }
}

/// Writes `triage` into the org's triage memory for each `(target key, fingerprint)`; `open`
/// forgets them.
async fn remember(
    c: &mut SqliteConnection,
    org: &OrgId,
    keys: &[(String, String)],
    triage: Triage,
    now: i64,
) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let arr = to_json(&keys.iter().map(|(t, f)| json!([t, f])).collect::<Vec<_>>())?;
    let q = if triage == Triage::Open {
        sqlx::query(
            "DELETE FROM triage_memory WHERE org_id = ?1 AND (target_key, fingerprint) IN \
             (SELECT j.value->>0, j.value->>1 FROM json_each(?2) AS j)",
        )
        .bind(org.as_str())
        .bind(arr)
    } else {
        sqlx::query(
            "INSERT INTO triage_memory (org_id, target_key, fingerprint, triage, updated_at) \
             SELECT ?1, j.value->>0, j.value->>1, ?3, ?4 FROM json_each(?2) AS j WHERE true \
             ON CONFLICT (org_id, target_key, fingerprint) DO UPDATE \
             SET triage = excluded.triage, updated_at = excluded.updated_at",
        )
        .bind(org.as_str())
        .bind(arr)
        .bind(triage.as_str())
        .bind(now)
    };
    q.execute(&mut *c).await.map_err(db_err)?;
    Ok(())
}

/// A scan's findings counted by triage (the caller checked the scan is the org's).
async fn counts_in(
    c: &mut SqliteConnection,
    org: &OrgId,
    scan: ScanId,
    secrets_only: bool,
) -> Result<TriageCounts> {
    let rows = sqlx::query(&format!(
        "SELECT triage, COUNT(*) FROM findings WHERE scan_id = ?1 AND org_id = ?2 {} \
         GROUP BY triage",
        if secrets_only {
            // A finding without a secret stores JSON `null` here (the insert's JSON path).
            "AND secret IS NOT NULL AND secret <> 'null'"
        } else {
            ""
        }
    ))
    .bind(scan.to_string())
    .bind(org.as_str())
    .fetch_all(&mut *c)
    .await
    .map_err(db_err)?;
    let mut counts = TriageCounts::default();
    for r in &rows {
        let t: String = r.try_get(0).map_err(db_err)?;
        let n: i64 = r.try_get(1).map_err(db_err)?;
        let t = Triage::parse(&t).ok_or_else(|| corrupt("triage", &t))?;
        counts.add(t, u64::try_from(n).unwrap_or(0));
    }
    Ok(counts)
}
