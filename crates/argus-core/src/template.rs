//! Templates: named, reusable scan configurations.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{OrgId, TemplateId, UserId};
use crate::scan::ScanConfig;

/// A stored template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Template {
    pub id: TemplateId,
    #[schema(value_type = String)]
    pub org_id: OrgId,
    #[schema(value_type = String)]
    pub user_id: UserId,
    pub name: String,
    pub description: Option<String>,
    pub config: ScanConfig,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A request to create or replace a template.
#[derive(Clone, Debug)]
pub struct NewTemplate {
    pub id: TemplateId,
    pub org: OrgId,
    pub user: UserId,
    pub name: String,
    pub description: Option<String>,
    pub config: ScanConfig,
}
