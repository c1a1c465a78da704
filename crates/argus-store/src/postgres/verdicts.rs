//! [`PgStore`]'s `VerdictStore`: a file scan's verdicts in key order, by kind, with a cursor.
//! Verdicts are written by `record` (`ledger.rs`), once per `(scan, key)`.

use argus_core::detector::{Verdict, VerdictQuery};
use argus_core::finding::Page;
use argus_core::store::VerdictStore;
use argus_core::{CoreError, OrgId, Result, ScanId};
use async_trait::async_trait;
use sqlx::{Postgres, QueryBuilder, Row};

use super::store::*;
use super::PgStore;
use crate::cursor::KeyCursor;

impl PgStore {
    async fn list_verdicts_q(
        &self,
        org: &OrgId,
        scan: ScanId,
        query: &VerdictQuery,
    ) -> PgResult<Page<Verdict>> {
        let mut conn = self.pool.acquire().await?;
        scan_state_in(&mut conn, org, scan, false).await?;
        let limit = super::rows::clamp_limit(query.limit);
        let list = KeyCursor::verdict_list(query.verdict);
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT key, body::text AS body, created_at FROM verdicts WHERE scan_id = ",
        );
        qb.push_bind(scan.0)
            .push(" AND org_id = ")
            .push_bind(org.as_str().to_owned());
        if let Some(kind) = query.verdict {
            qb.push(" AND verdict = ").push_bind(kind.as_str());
        }
        if let Some(cur) = &query.cursor {
            // `key` is `COLLATE "C"`: byte order, as SQLite compares, and the index's order.
            qb.push(" AND key > ")
                .push_bind(KeyCursor::decode(cur, &list)?);
        }
        qb.push(" ORDER BY key LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = qb.build().fetch_all(&mut *conn).await?;
        let items = rows
            .iter()
            .map(|r| {
                let body: String = r.try_get("body")?;
                Ok(Verdict {
                    scan_id: scan,
                    verdict: serde_json::from_str(&body).map_err(|e| {
                        CoreError::Backend(format!("corrupt verdict in database: {e}"))
                    })?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<PgResult<Vec<_>>>()?;
        Ok(crate::cursor::page(items, limit, |v| {
            KeyCursor::after(&list, &v.verdict.key)
        }))
    }
}

#[async_trait]
impl VerdictStore for PgStore {
    async fn list_verdicts(
        &self,
        org: &OrgId,
        scan: ScanId,
        query: &VerdictQuery,
    ) -> Result<Page<Verdict>> {
        lift(self.list_verdicts_q(org, scan, query)).await
    }
}
