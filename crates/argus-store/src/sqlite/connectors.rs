//! [`SqliteStore`]'s `ConnectorStore`: registered connectors.
//!
//! The semantics every backend keeps are in `argus_core::store` (`ConnectorStore`); this
//! backend's choices and its locking are in the module docs of `store.rs`. Names are unique per
//! org by the `connectors_org_name` index, so a duplicate name is the unique violation that
//! `db_err` turns into `Conflict`, in the same statement that writes (no read-then-write race).

use argus_core::connector_config::{NewConnectorRecord, RegisteredConnector};
use argus_core::finding::Page;
use argus_core::store::{ConnectorQuery, ConnectorStore};
use argus_core::target::{Target, TargetKind};
use argus_core::{now_ms, ConnectorId, CoreError, OrgId, Result, ScanId, UserId};
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::rows::{clamp_limit, db_err, ms_to_time};
use super::store::*;

const COLS: &str = "id, org_id, user_id, name, location, credential, scanners, action, \
     last_full_scan, created_at, updated_at";

fn corrupt(what: &str, detail: impl std::fmt::Display) -> CoreError {
    CoreError::Backend(format!("corrupt {what} in database: {detail}"))
}

fn get<'r, T>(row: &'r SqliteRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(col).map_err(db_err)
}

fn uuid_col(s: &str, what: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|_| corrupt(what, s))
}

fn json_col<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| corrupt(what, e))
}

fn connector_from_row(r: &SqliteRow) -> Result<RegisteredConnector> {
    let org: String = get(r, "org_id")?;
    let user: String = get(r, "user_id")?;
    let location: String = get(r, "location")?;
    Ok(RegisteredConnector {
        id: ConnectorId(uuid_col(&get::<String>(r, "id")?, "connector id")?),
        org_id: OrgId::parse(&org).map_err(|_| corrupt("org id", &org))?,
        user_id: UserId::parse(&user).map_err(|_| corrupt("user id", &user))?,
        name: get(r, "name")?,
        location: Target::parse(TargetKind::Location, &location)
            .map_err(|_| corrupt("connector location", &location))?,
        credential: get(r, "credential")?,
        scanners: json_col(&get::<String>(r, "scanners")?, "connector scanners")?,
        action: json_col(&get::<String>(r, "action")?, "connector action")?,
        last_full_scan: get::<Option<String>>(r, "last_full_scan")?
            .map(|s| uuid_col(&s, "scan id").map(ScanId))
            .transpose()?,
        created_at: ms_to_time(get(r, "created_at")?),
        updated_at: ms_to_time(get(r, "updated_at")?),
    })
}

fn not_found(id: ConnectorId) -> CoreError {
    CoreError::not_found("connector", id)
}

#[async_trait]
impl ConnectorStore for SqliteStore {
    async fn create_connector(&self, c: NewConnectorRecord) -> Result<RegisteredConnector> {
        let row = sqlx::query(&format!(
            "INSERT INTO connectors (id, org_id, user_id, name, location, credential, scanners, \
                 action, last_full_scan, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, ?9) RETURNING {COLS}"
        ))
        .bind(c.id.to_string())
        .bind(c.org.as_str())
        .bind(c.user.as_str())
        .bind(&c.name)
        .bind(c.location.value())
        .bind(&c.credential)
        .bind(to_json(&c.scanners)?)
        .bind(to_json(&c.action)?)
        .bind(now_ms())
        .fetch_one(&self.db.writer)
        .await
        .map_err(db_err)?;
        connector_from_row(&row)
    }

    async fn get_connector(&self, org: &OrgId, id: ConnectorId) -> Result<RegisteredConnector> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM connectors WHERE id = ?1 AND org_id = ?2"
        ))
        .bind(id.to_string())
        .bind(org.as_str())
        .fetch_optional(&self.db.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| not_found(id))?;
        connector_from_row(&row)
    }

    async fn list_connectors(
        &self,
        org: &OrgId,
        query: &ConnectorQuery,
    ) -> Result<Page<RegisteredConnector>> {
        let limit = clamp_limit(query.limit);
        let mut qb =
            QueryBuilder::<Sqlite>::new(format!("SELECT {COLS} FROM connectors WHERE org_id = "));
        qb.push_bind(org.as_str().to_owned());
        if let Some(cur) = &query.cursor {
            let (name, id) = crate::connector_cursor::decode(cur)?;
            qb.push(" AND (name, id) > (")
                .push_bind(name)
                .push(", ")
                .push_bind(id.to_string())
                .push(")");
        }
        qb.push(" ORDER BY name, id LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = qb
            .build()
            .fetch_all(&self.db.reader)
            .await
            .map_err(db_err)?;
        let items = rows
            .iter()
            .map(connector_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::connector_cursor::page(items, limit))
    }

    async fn update_connector(&self, c: NewConnectorRecord) -> Result<RegisteredConnector> {
        let row = sqlx::query(&format!(
            "UPDATE connectors SET name = ?1, location = ?2, credential = ?3, scanners = ?4, \
                 action = ?5, updated_at = ?6 \
             WHERE id = ?7 AND org_id = ?8 RETURNING {COLS}"
        ))
        .bind(&c.name)
        .bind(c.location.value())
        .bind(&c.credential)
        .bind(to_json(&c.scanners)?)
        .bind(to_json(&c.action)?)
        .bind(now_ms())
        .bind(c.id.to_string())
        .bind(c.org.as_str())
        .fetch_optional(&self.db.writer)
        .await
        .map_err(db_err)?
        .ok_or_else(|| not_found(c.id))?;
        connector_from_row(&row)
    }

    async fn delete_connector(&self, org: &OrgId, id: ConnectorId) -> Result<()> {
        let r = sqlx::query("DELETE FROM connectors WHERE id = ?1 AND org_id = ?2")
            .bind(id.to_string())
            .bind(org.as_str())
            .execute(&self.db.writer)
            .await
            .map_err(db_err)?;
        if r.rows_affected() == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }

    async fn set_last_full_scan(
        &self,
        org: &OrgId,
        id: ConnectorId,
        scan: ScanId,
    ) -> Result<RegisteredConnector> {
        let row = sqlx::query(&format!(
            "UPDATE connectors SET last_full_scan = ?1, updated_at = ?2 \
             WHERE id = ?3 AND org_id = ?4 RETURNING {COLS}"
        ))
        .bind(scan.to_string())
        .bind(now_ms())
        .bind(id.to_string())
        .bind(org.as_str())
        .fetch_optional(&self.db.writer)
        .await
        .map_err(db_err)?
        .ok_or_else(|| not_found(id))?;
        connector_from_row(&row)
    }
}
