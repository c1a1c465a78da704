//! [`PgStore`]'s `TemplateStore`: scan templates.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use super::PgStore;
use argus_core::finding::Page;
use argus_core::template::{NewTemplate, Template};
use argus_core::{CoreError, OrgId, Result, TemplateId};
use async_trait::async_trait;
use sqlx::{Postgres, QueryBuilder};

use super::store::*;
use argus_core::store::TemplateStore;

#[async_trait]
impl TemplateStore for PgStore {
    async fn create_template(&self, t: NewTemplate) -> Result<Template> {
        lift(async {
            let row = sqlx::query(&format!(
                "INSERT INTO templates (id, org_id, user_id, name, description, config, \
                     created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6::json, $7, $7) RETURNING {TEMPLATE_COLS}"
            ))
            .bind(t.id.0)
            .bind(t.org.as_str())
            .bind(t.user.as_str())
            .bind(&t.name)
            .bind(&t.description)
            .bind(to_json(&t.config)?)
            .bind(now_ts())
            .fetch_one(&self.pool)
            .await?;
            Ok(template_from_row(&row)?)
        })
        .await
    }
    async fn get_template(&self, org: &OrgId, id: TemplateId) -> Result<Template> {
        lift(async {
            let row = sqlx::query(&format!(
                "SELECT {TEMPLATE_COLS} FROM templates WHERE id = $1 AND org_id = $2"
            ))
            .bind(id.0)
            .bind(org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CoreError::not_found("template", id))?;
            Ok(template_from_row(&row)?)
        })
        .await
    }
    async fn list_templates(
        &self,
        org: &OrgId,
        query: &argus_core::store::TemplateQuery,
    ) -> Result<Page<Template>> {
        lift(async {
            let limit = clamp_limit(query.limit);
            let mut qb = QueryBuilder::<Postgres>::new(format!(
                "SELECT {TEMPLATE_COLS} FROM templates WHERE org_id = "
            ));
            qb.push_bind(org.as_str().to_owned());
            if let Some(cur) = &query.cursor {
                let (name, id) = crate::template_cursor::decode(cur)?;
                qb.push(" AND (name, id) > (")
                    .push_bind(name)
                    .push(", ")
                    .push_bind(id)
                    .push(")");
            }
            qb.push(" ORDER BY name, id LIMIT ")
                .push_bind(i64::from(limit) + 1);
            let rows = qb.build().fetch_all(&self.pool).await?;
            let items = decode_all(&rows, template_from_row)?;
            Ok(crate::template_cursor::page(items, limit))
        })
        .await
    }
    async fn update_template(&self, t: NewTemplate) -> Result<Template> {
        lift(async {
            let row = sqlx::query(&format!(
                "UPDATE templates SET name = $1, description = $2, config = $3::json, \
                     updated_at = $4 \
                 WHERE id = $5 AND org_id = $6 RETURNING {TEMPLATE_COLS}"
            ))
            .bind(&t.name)
            .bind(&t.description)
            .bind(to_json(&t.config)?)
            .bind(now_ts())
            .bind(t.id.0)
            .bind(t.org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CoreError::not_found("template", t.id))?;
            Ok(template_from_row(&row)?)
        })
        .await
    }
    async fn delete_template(&self, org: &OrgId, id: TemplateId) -> Result<()> {
        lift(async {
            let r = sqlx::query("DELETE FROM templates WHERE id = $1 AND org_id = $2")
                .bind(id.0)
                .bind(org.as_str())
                .execute(&self.pool)
                .await?;
            if r.rows_affected() == 0 {
                return Err(CoreError::not_found("template", id).into());
            }
            Ok(())
        })
        .await
    }
}
