//! [`SqliteStore`]'s `ApiKeyStore`. Semantics in `argus_core::apikey`; a duplicate prefix is
//! the unique violation `db_err` turns into `Conflict`.

use super::rows::*;
use argus_core::apikey::{ApiKey, ApiKeyStore, StoredApiKey};
use argus_core::ids::{ApiKeyId, Role};
use argus_core::{CoreError, OrgId, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::store::*;

const COLS: &str = "id, org_id, name, role, prefix, hash, created_by, created_at, expires_at, \
     revoked_at, last_used_at";

fn time_col(r: &SqliteRow, col: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(r.try_get::<Option<i64>, _>(col)
        .map_err(db_err)?
        .map(ms_to_time))
}

fn stored_from_row(r: &SqliteRow) -> Result<StoredApiKey> {
    let text = |col: &str| r.try_get::<String, _>(col).map_err(db_err);
    let org = text("org_id")?;
    let role = text("role")?;
    Ok(StoredApiKey {
        key: ApiKey {
            id: parse(&text("id")?, "API key id")?,
            org: OrgId::parse(&org).map_err(|_| corrupt("org id", &org))?,
            name: text("name")?,
            role: Role::parse(&role).map_err(|_| corrupt("role", &role))?,
            prefix: text("prefix")?,
            created_by: text("created_by")?,
            created_at: ms_to_time(r.try_get("created_at").map_err(db_err)?),
            expires_at: time_col(r, "expires_at")?,
            revoked_at: time_col(r, "revoked_at")?,
            last_used_at: time_col(r, "last_used_at")?,
        },
        hash: text("hash")?,
    })
}

fn ms(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp_millis())
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn insert_api_key(&self, key: &ApiKey, hash: &str) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO api_keys ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ))
        .bind(key.id.to_string())
        .bind(key.org.as_str())
        .bind(&key.name)
        .bind(key.role.as_str())
        .bind(&key.prefix)
        .bind(hash)
        .bind(&key.created_by)
        .bind(key.created_at.timestamp_millis())
        .bind(ms(key.expires_at))
        .bind(ms(key.revoked_at))
        .bind(ms(key.last_used_at))
        .execute(&self.db.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<StoredApiKey>> {
        let row = sqlx::query(&format!("SELECT {COLS} FROM api_keys WHERE prefix = ?1"))
            .bind(prefix)
            .fetch_optional(&self.db.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(stored_from_row).transpose()
    }

    async fn list_api_keys(&self, org: Option<&OrgId>) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM api_keys WHERE ?1 IS NULL OR org_id = ?1 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(org.map(OrgId::as_str))
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| stored_from_row(r).map(|s| s.key))
            .collect()
    }

    async fn revoke_api_key(
        &self,
        org: Option<&OrgId>,
        id: ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<ApiKey> {
        let row = sqlx::query(&format!(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?3) \
             WHERE id = ?1 AND (?2 IS NULL OR org_id = ?2) RETURNING {COLS}"
        ))
        .bind(id.to_string())
        .bind(org.map(OrgId::as_str))
        .bind(at.timestamp_millis())
        .fetch_optional(&self.db.writer)
        .await
        .map_err(db_err)?;
        match row {
            Some(r) => Ok(stored_from_row(&r)?.key),
            None => Err(CoreError::not_found("API key", id)),
        }
    }

    async fn touch_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1")
            .bind(id.to_string())
            .bind(at.timestamp_millis())
            .execute(&self.db.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
