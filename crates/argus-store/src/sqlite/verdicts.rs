//! [`SqliteStore`]'s `VerdictStore`: a file scan's verdicts in key order, by kind, with a
//! cursor. Verdicts are written by `record` (`ledger.rs`), once per `(scan, key)`.

use argus_core::detector::{Verdict, VerdictQuery};
use argus_core::finding::Page;
use argus_core::store::VerdictStore;
use argus_core::{OrgId, Result, ScanId};
use async_trait::async_trait;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::rows::*;
use super::store::*;
use crate::cursor::KeyCursor;

#[async_trait]
impl VerdictStore for SqliteStore {
    async fn list_verdicts(
        &self,
        org: &OrgId,
        scan: ScanId,
        query: &VerdictQuery,
    ) -> Result<Page<Verdict>> {
        let mut conn = self.db.reader.acquire().await.map_err(db_err)?;
        scan_state_in(&mut conn, org, scan).await?;
        let limit = clamp_limit(query.limit);
        let list = KeyCursor::verdict_list(query.verdict);
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT key, body, created_at FROM verdicts WHERE scan_id = ",
        );
        qb.push_bind(scan.to_string())
            .push(" AND org_id = ")
            .push_bind(org.as_str().to_owned());
        if let Some(kind) = query.verdict {
            qb.push(" AND verdict = ").push_bind(kind.as_str());
        }
        if let Some(cur) = &query.cursor {
            qb.push(" AND key > ")
                .push_bind(KeyCursor::decode(cur, &list)?);
        }
        qb.push(" ORDER BY key LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = qb.build().fetch_all(&mut *conn).await.map_err(db_err)?;
        let items = rows
            .iter()
            .map(|r| {
                let body: String = r.try_get("body").map_err(db_err)?;
                Ok(Verdict {
                    scan_id: scan,
                    verdict: serde_json::from_str(&body).map_err(|e| {
                        argus_core::CoreError::Backend(format!("corrupt verdict in database: {e}"))
                    })?,
                    created_at: ms_to_time(r.try_get("created_at").map_err(db_err)?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::cursor::page(items, limit, |v| {
            KeyCursor::after(&list, &v.verdict.key)
        }))
    }
}
