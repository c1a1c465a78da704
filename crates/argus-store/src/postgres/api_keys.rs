//! [`PgStore`]'s `ApiKeyStore`. Semantics in `argus_core::apikey`; a duplicate prefix is the
//! unique violation (23505) that `db_err` turns into `Conflict`.

use super::rows::*;
use super::PgStore;
use argus_core::apikey::{ApiKey, ApiKeyStore, StoredApiKey};
use argus_core::ids::{ApiKeyId, Role};
use argus_core::{CoreError, OrgId, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;

use super::store::*;

const COLS: &str = "id, org_id, name, role, prefix, hash, created_by, created_at, expires_at, \
     revoked_at, last_used_at";

/// Times at the millisecond precision every backend stores, so a key reads back the same on
/// both.
fn ms(t: DateTime<Utc>) -> DateTime<Utc> {
    ms_to_time(t.timestamp_millis())
}

fn stored_from_row(r: &PgRow) -> Result<StoredApiKey> {
    let role: String = get(r, "role")?;
    Ok(StoredApiKey {
        key: ApiKey {
            id: ApiKeyId(get(r, "id")?),
            org: org(&get::<String>(r, "org_id")?)?,
            name: get(r, "name")?,
            role: Role::parse(&role).map_err(|_| corrupt("role", &role))?,
            prefix: get(r, "prefix")?,
            created_by: get(r, "created_by")?,
            created_at: get(r, "created_at")?,
            expires_at: get(r, "expires_at")?,
            revoked_at: get(r, "revoked_at")?,
            last_used_at: get(r, "last_used_at")?,
        },
        hash: get(r, "hash")?,
    })
}

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn insert_api_key(&self, key: &ApiKey, hash: &str) -> Result<()> {
        lift(async {
            sqlx::query(&format!(
                "INSERT INTO api_keys ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .bind(key.id.0)
            .bind(key.org.as_str())
            .bind(pg_text(&key.name))
            .bind(key.role.as_str())
            .bind(&key.prefix)
            .bind(hash)
            .bind(pg_text(&key.created_by))
            .bind(ms(key.created_at))
            .bind(key.expires_at.map(ms))
            .bind(key.revoked_at.map(ms))
            .bind(key.last_used_at.map(ms))
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<StoredApiKey>> {
        lift(async {
            let row = sqlx::query(&format!("SELECT {COLS} FROM api_keys WHERE prefix = $1"))
                .bind(pg_text(prefix))
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.as_ref().map(stored_from_row).transpose()?)
        })
        .await
    }

    async fn list_api_keys(&self, org: Option<&OrgId>) -> Result<Vec<ApiKey>> {
        lift(async {
            let rows = sqlx::query(&format!(
                "SELECT {COLS} FROM api_keys WHERE $1::text IS NULL OR org_id = $1 \
                 ORDER BY created_at DESC, id DESC"
            ))
            .bind(org.map(OrgId::as_str))
            .fetch_all(&self.pool)
            .await?;
            Ok(rows
                .iter()
                .map(|r| stored_from_row(r).map(|s| s.key))
                .collect::<Result<_>>()?)
        })
        .await
    }

    async fn revoke_api_key(
        &self,
        org: Option<&OrgId>,
        id: ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<ApiKey> {
        let row = lift(async {
            Ok(sqlx::query(&format!(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $3) \
                 WHERE id = $1 AND ($2::text IS NULL OR org_id = $2) RETURNING {COLS}"
            ))
            .bind(id.0)
            .bind(org.map(OrgId::as_str))
            .bind(ms(at))
            .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        match row {
            Some(r) => Ok(stored_from_row(&r)?.key),
            None => Err(CoreError::not_found("API key", id)),
        }
    }

    async fn touch_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<()> {
        lift(async {
            sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
                .bind(id.0)
                .bind(ms(at))
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }
}
