//! [`PgStore`]'s `AuditStore`: the append-only audit log (`audit_log`).
//!
//! The semantics every backend keeps are in `argus_core::audit`. The forwarder's audit feed
//! ([`AuditStore::audit_since`]) moves its cursor past every id it read, so it must never see
//! record N+1 while a not-yet-committed N could still appear: every append draws its id under
//! the audit lock (`pg_advisory_xact_lock(AUDIT_LOCK)`, taken in the inserting statement itself
//! and held until it commits), so ids become visible in the order they were drawn and one
//! statement's snapshot holds a gap-free prefix of the log — the rule the event log follows
//! with its own lock. Ids come from the events' sequence (`event_ids`), so an audit record's
//! id is never an event's (both are forwarded, keyed by id); an audit id is only a gap in the
//! event log, as a rolled-back event's is. The table's triggers refuse updates, deletes and truncation.

use argus_core::audit::{
    role_named, AuditOutcome, AuditQuery, AuditRecord, AuditStore, NewAuditRecord,
};
use argus_core::finding::Page;
use argus_core::{OrgId, Result, UserId};
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder};

use super::rows::*;
use super::store::*;
use super::PgStore;

/// The advisory lock key of audit appends (`argusaud`), distinct from the event lock's.
const AUDIT_LOCK: i64 = 0x6172_6775_7361_7564;

const AUDIT_COLS: &str = "id, at, org_id, user_id, role, action, method, route, resource, \
     outcome, status, client, request_id";

fn audit_from_row(r: &PgRow) -> Result<AuditRecord> {
    let role: String = get(r, "role")?;
    let outcome: String = get(r, "outcome")?;
    let user: String = get(r, "user_id")?;
    Ok(AuditRecord {
        id: get(r, "id")?,
        at: get(r, "at")?,
        org_id: org(&get::<String>(r, "org_id")?)?,
        user_id: UserId::parse(&user).map_err(|e| corrupt("audit user", e))?,
        role: role_named(&role).ok_or_else(|| corrupt("audit role", &role))?,
        action: get(r, "action")?,
        method: get(r, "method")?,
        route: get(r, "route")?,
        resource: get(r, "resource")?,
        outcome: AuditOutcome::parse(&outcome).map_err(|_| corrupt("audit outcome", &outcome))?,
        status: u16::try_from(get::<i32>(r, "status")?).unwrap_or(0),
        client: get(r, "client")?,
        request_id: get(r, "request_id")?,
    })
}

#[async_trait]
impl AuditStore for PgStore {
    async fn append_audit(&self, record: NewAuditRecord) -> Result<AuditRecord> {
        let at = ms_to_time(record.at.timestamp_millis());
        lift(async {
            // The lock is taken before the row (and so its id) is made: `FROM l` forces it.
            let id: i64 = sqlx::query_scalar(
                "WITH l AS MATERIALIZED (SELECT pg_advisory_xact_lock($1)) \
                 INSERT INTO audit_log (at, org_id, user_id, role, action, method, route, \
                     resource, outcome, status, client, request_id) \
                 SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM l \
                 RETURNING id",
            )
            .bind(AUDIT_LOCK)
            .bind(at)
            .bind(pg_text(record.org_id.as_str()))
            .bind(pg_text(record.user_id.as_str()))
            .bind(record.role.as_str())
            .bind(pg_text(&record.action))
            .bind(pg_text(&record.method))
            .bind(pg_text(&record.route))
            .bind(pg_text(&record.resource))
            .bind(record.outcome.as_str())
            .bind(i32::from(record.status))
            .bind(record.client.as_deref().map(pg_text))
            .bind(pg_text(&record.request_id))
            .fetch_one(&self.pool)
            .await?;
            Ok(id)
        })
        .await
        .map(|id| AuditRecord::stored(id, record))
    }

    async fn list_audit(&self, org: &OrgId, q: &AuditQuery) -> Result<Page<AuditRecord>> {
        let limit = clamp_limit(q.limit);
        let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
            "SELECT {AUDIT_COLS} FROM audit_log WHERE org_id = "
        ));
        qb.push_bind(org.as_str().to_owned());
        qb.push(" AND id < ")
            .push_bind(q.before.unwrap_or(i64::MAX));
        if let Some(u) = &q.user {
            qb.push(" AND user_id = ").push_bind(pg_owned(u.clone()));
        }
        if let Some(a) = &q.action {
            qb.push(" AND action = ").push_bind(pg_owned(a.clone()));
        }
        if let Some(o) = q.outcome {
            qb.push(" AND outcome = ").push_bind(o.as_str());
        }
        if let Some(r) = &q.resource {
            // The resource itself or anything below it; no LIKE, so `%` and `_` mean themselves.
            let r = pg_owned(r.trim_end_matches('/').to_owned());
            qb.push(" AND (resource = ").push_bind(r.clone());
            qb.push(" OR substr(resource, 1, ")
                .push_bind(i32::try_from(r.chars().count() + 1).unwrap_or(i32::MAX));
            qb.push(") = ").push_bind(format!("{r}/")).push(")");
        }
        if let Some(t) = q.since {
            qb.push(" AND at >= ").push_bind(t);
        }
        if let Some(t) = q.until {
            qb.push(" AND at < ").push_bind(t);
        }
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        lift(async {
            let rows = qb.build().fetch_all(&self.pool).await?;
            let items = rows
                .iter()
                .map(audit_from_row)
                .collect::<Result<Vec<_>>>()?;
            Ok(crate::cursor::page(items, limit, |r| r.id.to_string()))
        })
        .await
    }

    async fn audit_since(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>> {
        // One statement, one snapshot: a gap-free prefix of the log (see the module docs).
        lift(async {
            let rows = sqlx::query(&format!(
                "SELECT {AUDIT_COLS} FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2"
            ))
            .bind(after)
            .bind(i64::from(clamp_limit(limit)))
            .fetch_all(&self.pool)
            .await?;
            Ok(rows.iter().map(audit_from_row).collect::<Result<_>>()?)
        })
        .await
    }

    async fn last_audit_id(&self) -> Result<i64> {
        lift(async {
            let id: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM audit_log")
                .fetch_one(&self.pool)
                .await?;
            Ok(id.unwrap_or(0))
        })
        .await
    }
}
