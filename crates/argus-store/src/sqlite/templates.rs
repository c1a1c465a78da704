//! [`SqliteStore`]'s `TemplateStore`: scan templates.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use argus_core::finding::Page;
use argus_core::template::{NewTemplate, Template};
use argus_core::{now_ms, CoreError, OrgId, Result, TemplateId};
use async_trait::async_trait;
use sqlx::{QueryBuilder, Sqlite};

use super::store::*;
use argus_core::store::TemplateStore;

#[async_trait]
impl TemplateStore for SqliteStore {
    async fn create_template(&self, t: NewTemplate) -> Result<Template> {
        let row = sqlx::query(&format!(
            "INSERT INTO templates (id, org_id, user_id, name, description, config, created_at, \
                 updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) RETURNING {TEMPLATE_COLS}"
        ))
        .bind(t.id.to_string())
        .bind(t.org.as_str())
        .bind(t.user.as_str())
        .bind(&t.name)
        .bind(&t.description)
        .bind(to_json(&t.config)?)
        .bind(now_ms())
        .fetch_one(&self.db.writer)
        .await
        .map_err(db_err)?;
        template_from_row(&row)
    }
    async fn get_template(&self, org: &OrgId, id: TemplateId) -> Result<Template> {
        let row = sqlx::query(&format!(
            "SELECT {TEMPLATE_COLS} FROM templates WHERE id = ?1 AND org_id = ?2"
        ))
        .bind(id.to_string())
        .bind(org.as_str())
        .fetch_optional(&self.db.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| CoreError::not_found("template", id))?;
        template_from_row(&row)
    }
    async fn list_templates(
        &self,
        org: &OrgId,
        query: &argus_core::store::TemplateQuery,
    ) -> Result<Page<Template>> {
        let limit = clamp_limit(query.limit);
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {TEMPLATE_COLS} FROM templates WHERE org_id = "
        ));
        qb.push_bind(org.as_str().to_owned());
        if let Some(cur) = &query.cursor {
            let (name, id) = crate::template_cursor::decode(cur)?;
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
            .map(template_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::template_cursor::page(items, limit))
    }
    async fn update_template(&self, t: NewTemplate) -> Result<Template> {
        let row = sqlx::query(&format!(
            "UPDATE templates SET name = ?1, description = ?2, config = ?3, updated_at = ?4 \
             WHERE id = ?5 AND org_id = ?6 RETURNING {TEMPLATE_COLS}"
        ))
        .bind(&t.name)
        .bind(&t.description)
        .bind(to_json(&t.config)?)
        .bind(now_ms())
        .bind(t.id.to_string())
        .bind(t.org.as_str())
        .fetch_optional(&self.db.writer)
        .await
        .map_err(db_err)?
        .ok_or_else(|| CoreError::not_found("template", t.id))?;
        template_from_row(&row)
    }
    async fn delete_template(&self, org: &OrgId, id: TemplateId) -> Result<()> {
        let r = sqlx::query("DELETE FROM templates WHERE id = ?1 AND org_id = ?2")
            .bind(id.to_string())
            .bind(org.as_str())
            .execute(&self.db.writer)
            .await
            .map_err(db_err)?;
        if r.rows_affected() == 0 {
            return Err(CoreError::not_found("template", id));
        }
        Ok(())
    }
}
