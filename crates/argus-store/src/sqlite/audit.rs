//! [`SqliteStore`]'s `AuditStore`: the append-only audit log (`audit_log`).
//!
//! The semantics every backend keeps are in `argus_core::audit`. Ids commit in id order here
//! without further care: every write goes through the one writer connection, so a reader
//! never sees id N+1 while N is still uncommitted, and the forwarder's audit cursor never
//! skips a record. Ids are drawn from the events' sequence, so an audit record's id is never
//! an event's (both are forwarded, keyed by id). The table's triggers refuse updates and
//! deletes.

use argus_core::audit::{
    role_named, AuditOutcome, AuditQuery, AuditRecord, AuditStore, NewAuditRecord,
};
use argus_core::finding::Page;
use argus_core::{OrgId, Result, UserId};
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::rows::*;
use super::store::*;

const AUDIT_COLS: &str = "id, at, org_id, user_id, role, action, method, route, resource, \
     outcome, status, client, request_id";

fn audit_from_row(r: &SqliteRow) -> Result<AuditRecord> {
    let text = |col: &str| r.try_get::<String, _>(col).map_err(db_err);
    let role = text("role")?;
    let outcome = text("outcome")?;
    Ok(AuditRecord {
        id: r.try_get("id").map_err(db_err)?,
        at: ms_to_time(r.try_get("at").map_err(db_err)?),
        org_id: OrgId::parse(&text("org_id")?).map_err(|e| corrupt("audit org", e))?,
        user_id: UserId::parse(&text("user_id")?).map_err(|e| corrupt("audit user", e))?,
        role: role_named(&role).ok_or_else(|| corrupt("audit role", &role))?,
        action: text("action")?,
        method: text("method")?,
        route: text("route")?,
        resource: text("resource")?,
        outcome: AuditOutcome::parse(&outcome).map_err(|_| corrupt("audit outcome", &outcome))?,
        status: u16::try_from(r.try_get::<i64, _>("status").map_err(db_err)?).unwrap_or(0),
        client: r.try_get("client").map_err(db_err)?,
        request_id: text("request_id")?,
    })
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, record: NewAuditRecord) -> Result<AuditRecord> {
        // The id comes from the events' AUTOINCREMENT sequence (`sqlite_sequence`), bumped in
        // the same transaction, so audit records and events never share an id (forwarded
        // events are deduplicated on it downstream) and events never reuse one.
        let mut tx = self.begin().await?;
        let bumped: Option<i64> = sqlx::query_scalar(
            "UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'events' RETURNING seq",
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let id = match bumped {
            Some(id) => id,
            None => {
                // No event yet: start the sequence past every id in use.
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES ('events', \
                         max((SELECT coalesce(max(id), 0) FROM events), \
                             (SELECT coalesce(max(id), 0) FROM audit_log)) + 1) \
                     RETURNING seq",
                )
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                id
            }
        };
        sqlx::query(
            "INSERT INTO audit_log (id, at, org_id, user_id, role, action, method, route, \
                 resource, outcome, status, client, request_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )
        .bind(id)
        .bind(record.at.timestamp_millis())
        .bind(record.org_id.as_str())
        .bind(record.user_id.as_str())
        .bind(record.role.as_str())
        .bind(&record.action)
        .bind(&record.method)
        .bind(&record.route)
        .bind(&record.resource)
        .bind(record.outcome.as_str())
        .bind(i64::from(record.status))
        .bind(record.client.as_deref())
        .bind(&record.request_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(AuditRecord::stored(id, record))
    }

    async fn list_audit(&self, org: &OrgId, q: &AuditQuery) -> Result<Page<AuditRecord>> {
        let limit = clamp_limit(q.limit);
        let mut qb: QueryBuilder<'_, Sqlite> = QueryBuilder::new(format!(
            "SELECT {AUDIT_COLS} FROM audit_log WHERE org_id = "
        ));
        qb.push_bind(org.as_str().to_owned());
        qb.push(" AND id < ")
            .push_bind(q.before.unwrap_or(i64::MAX));
        if let Some(u) = &q.user {
            qb.push(" AND user_id = ").push_bind(u.clone());
        }
        if let Some(a) = &q.action {
            qb.push(" AND action = ").push_bind(a.clone());
        }
        if let Some(o) = q.outcome {
            qb.push(" AND outcome = ").push_bind(o.as_str());
        }
        if let Some(r) = &q.resource {
            // The resource itself or anything below it; no LIKE, so `%` and `_` mean themselves.
            let r = r.trim_end_matches('/').to_owned();
            qb.push(" AND (resource = ").push_bind(r.clone());
            qb.push(" OR substr(resource, 1, ")
                .push_bind(i64::try_from(r.chars().count() + 1).unwrap_or(i64::MAX));
            qb.push(") = ").push_bind(format!("{r}/")).push(")");
        }
        if let Some(t) = q.since {
            qb.push(" AND at >= ").push_bind(t.timestamp_millis());
        }
        if let Some(t) = q.until {
            qb.push(" AND at < ").push_bind(t.timestamp_millis());
        }
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = qb
            .build()
            .fetch_all(&self.db.reader)
            .await
            .map_err(db_err)?;
        let items = rows
            .iter()
            .map(audit_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::cursor::page(items, limit, |r| r.id.to_string()))
    }

    async fn audit_since(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLS} FROM audit_log WHERE id > ?1 ORDER BY id LIMIT ?2"
        ))
        .bind(after)
        .bind(i64::from(clamp_limit(limit)))
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn last_audit_id(&self) -> Result<i64> {
        let id: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM audit_log")
            .fetch_one(&self.db.reader)
            .await
            .map_err(db_err)?;
        Ok(id.unwrap_or(0))
    }
}
