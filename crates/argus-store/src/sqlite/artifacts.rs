//! [`SqliteStore`]'s `ArtifactIndex`: artifact metadata (the blobs live in an `ArtifactStore`).
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use argus_core::artifact::ArtifactMeta;
use argus_core::{CoreError, OrgId, Result, ScanId};
use async_trait::async_trait;

use super::store::*;
use argus_core::store::ArtifactIndex;

#[async_trait]
impl ArtifactIndex for SqliteStore {
    async fn put_artifact(&self, meta: ArtifactMeta) -> Result<()> {
        let mut tx = self.begin().await?;
        scan_state_in(&mut tx, &meta.org_id, meta.scan_id).await?;
        sqlx::query(
            "INSERT INTO artifacts (scan_id, name, org_id, size, content_type, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (scan_id, name) DO UPDATE SET size = excluded.size, \
                 content_type = excluded.content_type, created_at = excluded.created_at",
        )
        .bind(meta.scan_id.to_string())
        .bind(meta.name.as_str())
        .bind(meta.org_id.as_str())
        .bind(i64_of(meta.size))
        .bind(&meta.content_type)
        .bind(meta.created_at.timestamp_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }
    async fn list_artifacts(&self, org: &OrgId, scan: ScanId) -> Result<Vec<ArtifactMeta>> {
        let mut conn = self.db.reader.acquire().await.map_err(db_err)?;
        scan_state_in(&mut conn, org, scan).await?;
        let rows = sqlx::query(&format!(
            "SELECT {ARTIFACT_COLS} FROM artifacts WHERE scan_id = ?1 AND org_id = ?2 ORDER BY name"
        ))
        .bind(scan.to_string())
        .bind(org.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(artifact_from_row).collect()
    }
    async fn get_artifact(&self, org: &OrgId, scan: ScanId, name: &str) -> Result<ArtifactMeta> {
        let row = sqlx::query(&format!(
            "SELECT {ARTIFACT_COLS} FROM artifacts WHERE scan_id = ?1 AND org_id = ?2 AND name = ?3 \
             {LIVE_SCAN}"
        ))
        .bind(scan.to_string())
        .bind(org.as_str())
        .bind(name)
        .fetch_optional(&self.db.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| CoreError::not_found("artifact", format!("{scan}/{name}")))?;
        artifact_from_row(&row)
    }
}
