//! [`PgStore`]'s `ArtifactIndex`: artifact metadata (the blobs live in an `ArtifactStore`).
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use super::PgStore;
use argus_core::artifact::ArtifactMeta;
use argus_core::{CoreError, OrgId, Result, ScanId};
use async_trait::async_trait;

use super::store::*;
use argus_core::store::ArtifactIndex;

#[async_trait]
impl ArtifactIndex for PgStore {
    async fn put_artifact(&self, meta: ArtifactMeta) -> Result<()> {
        // One statement: the scan must exist in the org (a key-share lock keeps it from being
        // deleted meanwhile without blocking `record`), then the upsert.
        lift(async {
            let written: Option<i32> = sqlx::query_scalar(
                "WITH s AS (SELECT id FROM scans WHERE id = $1 AND org_id = $2 FOR KEY SHARE) \
                 INSERT INTO artifacts (scan_id, name, org_id, size, content_type, created_at) \
                 SELECT s.id, $3, $2, $4, $5, $6 FROM s \
                 ON CONFLICT (scan_id, name) DO UPDATE SET size = excluded.size, \
                     content_type = excluded.content_type, created_at = excluded.created_at \
                 RETURNING 1",
            )
            .bind(meta.scan_id.0)
            .bind(meta.org_id.as_str())
            .bind(meta.name.as_str())
            .bind(i64_of(meta.size))
            .bind(pg_text(&meta.content_type).as_ref())
            .bind(meta.created_at)
            .fetch_optional(&self.pool)
            .await?;
            if written.is_none() {
                return Err(scan_not_found(meta.scan_id).into());
            }
            Ok(())
        })
        .await
    }
    async fn list_artifacts(&self, org: &OrgId, scan: ScanId) -> Result<Vec<ArtifactMeta>> {
        lift(async {
            let mut conn = self.pool.acquire().await?;
            scan_state_in(&mut conn, org, scan, false).await?;
            let rows = sqlx::query(&format!(
                "SELECT {ARTIFACT_COLS} FROM artifacts WHERE scan_id = $1 AND org_id = $2 \
                 ORDER BY name"
            ))
            .bind(scan.0)
            .bind(org.as_str())
            .fetch_all(&mut *conn)
            .await?;
            Ok(decode_all(&rows, artifact_from_row)?)
        })
        .await
    }
    async fn get_artifact(&self, org: &OrgId, scan: ScanId, name: &str) -> Result<ArtifactMeta> {
        lift(async {
            let row = sqlx::query(&format!(
                "SELECT {ARTIFACT_COLS} FROM artifacts WHERE scan_id = $1 AND org_id = $2 \
                 AND name = $3 {LIVE_SCAN}"
            ))
            .bind(scan.0)
            .bind(org.as_str())
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CoreError::not_found("artifact", format!("{scan}/{name}")))?;
            Ok(artifact_from_row(&row)?)
        })
        .await
    }
}
