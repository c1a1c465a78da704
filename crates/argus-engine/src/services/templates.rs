//! The templates service: named, reusable scan configurations, and scans made from them.
//!
//! Invariants: every call is scoped by `who.org` (another org's template is `NotFound`); a
//! template's config is validated like a scan's ([`Scans::validate_config`]) when it is stored,
//! and the scan made from it is validated again when it is created (the scanners may have
//! changed since).

use argus_core::error::Result;
use argus_core::finding::Page;
use argus_core::ids::{Principal, TemplateId};
use argus_core::scan::{Scan, ScanConfig};
use argus_core::store::TemplateQuery;
use argus_core::template::{NewTemplate, Template};

use super::scans::{given_name, CreateScan, FromTemplate, Scans};
use crate::Engine;

/// The templates service (see the module docs); [`Engine::templates`] hands it out.
#[derive(Clone, Copy, Debug)]
pub struct Templates<'e> {
    pub(crate) engine: &'e Engine,
}

impl Templates<'_> {
    /// The caller's org's templates, by name then id, one page at a time.
    pub async fn list(&self, who: &Principal, query: &TemplateQuery) -> Result<Page<Template>> {
        self.engine.store().list_templates(&who.org, query).await
    }

    /// One template of the caller's org.
    pub async fn get(&self, who: &Principal, id: TemplateId) -> Result<Template> {
        self.engine.store().get_template(&who.org, id).await
    }

    /// Validates and stores a new template.
    pub async fn create(
        &self,
        who: &Principal,
        name: String,
        description: Option<String>,
        config: ScanConfig,
    ) -> Result<Template> {
        self.scans().validate_config(&config)?;
        let name = given_name(&name)?;
        self.engine
            .store()
            .create_template(NewTemplate {
                id: TemplateId::new(),
                org: who.org.clone(),
                user: who.user.clone(),
                name,
                description,
                config,
            })
            .await
    }

    /// Validates and replaces a template.
    pub async fn update(
        &self,
        who: &Principal,
        id: TemplateId,
        name: String,
        description: Option<String>,
        config: ScanConfig,
    ) -> Result<Template> {
        self.scans().validate_config(&config)?;
        let name = given_name(&name)?;
        self.engine
            .store()
            .update_template(NewTemplate {
                id,
                org: who.org.clone(),
                user: who.user.clone(),
                name,
                description,
                config,
            })
            .await
    }

    /// Deletes a template (scans made from it are kept).
    pub async fn delete(&self, who: &Principal, id: TemplateId) -> Result<()> {
        self.engine.store().delete_template(&who.org, id).await
    }

    /// Creates a scan from a template's config, with optional overrides.
    pub async fn scan_from(
        &self,
        who: &Principal,
        id: TemplateId,
        overrides: FromTemplate,
    ) -> Result<Scan> {
        let template = self.get(who, id).await?;
        let mut config = template.config;
        if let Some(targets) = overrides.targets {
            config.targets = targets;
        }
        let name = overrides.name.unwrap_or(template.name);
        // The template was just read in the caller's org: no second existence check.
        self.scans()
            .create_unchecked(
                who,
                CreateScan {
                    name: Some(name),
                    config,
                    template_id: Some(id),
                    start: overrides.start,
                },
            )
            .await
    }

    fn scans(&self) -> Scans<'_> {
        self.engine.scans()
    }
}
