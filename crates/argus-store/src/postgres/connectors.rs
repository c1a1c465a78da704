//! [`PgStore`]'s `ConnectorStore`: registered connectors.
//!
//! The semantics every backend keeps are in `argus_core::store` (`ConnectorStore`); this
//! backend's choices and its locking are in the module docs of `store.rs`. Names are unique per
//! org by the `connectors_org_name` index (byte order, `COLLATE "C"`, as on SQLite), so a
//! duplicate name is the unique violation (23505) that `db_err` turns into `Conflict`, in the
//! statement that writes.

use argus_core::connector_config::{NewConnectorRecord, RegisteredConnector};
use argus_core::finding::Page;
use argus_core::store::{ConnectorQuery, ConnectorStore};
use argus_core::target::{Target, TargetKind};
use argus_core::{ConnectorId, CoreError, OrgId, Result, ScanId, UserId};
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::rows::{clamp_limit, get, now_ts, org, to_json};
use super::store::*;
use super::PgStore;

const COLS: &str = "id, org_id, user_id, name, location, credential, scanners, action, \
     last_full_scan, created_at, updated_at";

fn corrupt(what: &str, detail: impl std::fmt::Display) -> CoreError {
    CoreError::Backend(format!("corrupt {what} in database: {detail}"))
}

fn connector_from_row(r: &PgRow) -> Result<RegisteredConnector> {
    let user: String = get(r, "user_id")?;
    let location: String = get(r, "location")?;
    Ok(RegisteredConnector {
        id: ConnectorId(get(r, "id")?),
        org_id: org(&get::<String>(r, "org_id")?)?,
        user_id: UserId::parse(&user).map_err(|_| corrupt("user id", &user))?,
        name: get(r, "name")?,
        location: Target::parse(TargetKind::Location, &location)
            .map_err(|_| corrupt("connector location", &location))?,
        credential: get(r, "credential")?,
        scanners: get::<Json<_>>(r, "scanners")?.0,
        action: get::<Json<_>>(r, "action")?.0,
        last_full_scan: get::<Option<Uuid>>(r, "last_full_scan")?.map(ScanId),
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

fn not_found(id: ConnectorId) -> CoreError {
    CoreError::not_found("connector", id)
}

#[async_trait]
impl ConnectorStore for PgStore {
    async fn create_connector(&self, c: NewConnectorRecord) -> Result<RegisteredConnector> {
        lift(async {
            let row = sqlx::query(&format!(
                "INSERT INTO connectors (id, org_id, user_id, name, location, credential, \
                     scanners, action, last_full_scan, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8::json, NULL, $9, $9) \
                 RETURNING {COLS}"
            ))
            .bind(c.id.0)
            .bind(c.org.as_str())
            .bind(c.user.as_str())
            .bind(&c.name)
            .bind(c.location.value())
            .bind(&c.credential)
            .bind(to_json(&c.scanners)?)
            .bind(to_json(&c.action)?)
            .bind(now_ts())
            .fetch_one(&self.pool)
            .await?;
            Ok(connector_from_row(&row)?)
        })
        .await
    }

    async fn get_connector(&self, org: &OrgId, id: ConnectorId) -> Result<RegisteredConnector> {
        lift(async {
            let row = sqlx::query(&format!(
                "SELECT {COLS} FROM connectors WHERE id = $1 AND org_id = $2"
            ))
            .bind(id.0)
            .bind(org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| not_found(id))?;
            Ok(connector_from_row(&row)?)
        })
        .await
    }

    async fn list_connectors(
        &self,
        org: &OrgId,
        query: &ConnectorQuery,
    ) -> Result<Page<RegisteredConnector>> {
        lift(async {
            let limit = clamp_limit(query.limit);
            let mut qb = QueryBuilder::<Postgres>::new(format!(
                "SELECT {COLS} FROM connectors WHERE org_id = "
            ));
            qb.push_bind(org.as_str().to_owned());
            if let Some(cur) = &query.cursor {
                let (name, id) = crate::connector_cursor::decode(cur)?;
                qb.push(" AND (name, id) > (")
                    .push_bind(name)
                    .push(", ")
                    .push_bind(id)
                    .push(")");
            }
            qb.push(" ORDER BY name, id LIMIT ")
                .push_bind(i64::from(limit) + 1);
            let rows = qb.build().fetch_all(&self.pool).await?;
            let items = decode_all(&rows, connector_from_row)?;
            Ok(crate::connector_cursor::page(items, limit))
        })
        .await
    }

    async fn update_connector(&self, c: NewConnectorRecord) -> Result<RegisteredConnector> {
        lift(async {
            let row = sqlx::query(&format!(
                "UPDATE connectors SET name = $1, location = $2, credential = $3, \
                     scanners = $4::json, action = $5::json, updated_at = $6 \
                 WHERE id = $7 AND org_id = $8 RETURNING {COLS}"
            ))
            .bind(&c.name)
            .bind(c.location.value())
            .bind(&c.credential)
            .bind(to_json(&c.scanners)?)
            .bind(to_json(&c.action)?)
            .bind(now_ts())
            .bind(c.id.0)
            .bind(c.org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| not_found(c.id))?;
            Ok(connector_from_row(&row)?)
        })
        .await
    }

    async fn delete_connector(&self, org: &OrgId, id: ConnectorId) -> Result<()> {
        lift(async {
            let r = sqlx::query("DELETE FROM connectors WHERE id = $1 AND org_id = $2")
                .bind(id.0)
                .bind(org.as_str())
                .execute(&self.pool)
                .await?;
            if r.rows_affected() == 0 {
                return Err(not_found(id).into());
            }
            Ok(())
        })
        .await
    }

    async fn set_last_full_scan(
        &self,
        org: &OrgId,
        id: ConnectorId,
        scan: ScanId,
    ) -> Result<RegisteredConnector> {
        lift(async {
            let row = sqlx::query(&format!(
                "UPDATE connectors SET last_full_scan = $1, updated_at = $2 \
                 WHERE id = $3 AND org_id = $4 RETURNING {COLS}"
            ))
            .bind(scan.0)
            .bind(now_ts())
            .bind(id.0)
            .bind(org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| not_found(id))?;
            Ok(connector_from_row(&row)?)
        })
        .await
    }
}
