//! Identifier newtypes.
//!
//! Record ids are UUID v7 (time-ordered, so primary-key order is creation order and cursor
//! pagination is stable). Organisation and user ids are short opaque strings supplied by the
//! identity layer and validated here (1–128 chars of `[A-Za-z0-9._@-]`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

use crate::error::CoreError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = CoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| CoreError::invalid("/id", concat!("not a valid ", $what, " id (expected a UUID)")))
            }
        }
    };
}

uuid_id!(
    /// Identifies a scan.
    ScanId, "scan"
);
uuid_id!(
    /// Identifies a task (one unit of work on the queue).
    TaskId, "task"
);
uuid_id!(
    /// Identifies a finding.
    FindingId, "finding"
);
uuid_id!(
    /// Identifies a template.
    TemplateId, "template"
);
uuid_id!(
    /// Identifies a schedule.
    ScheduleId, "schedule"
);
uuid_id!(
    /// Identifies a registered connector.
    ConnectorId, "connector"
);
uuid_id!(
    /// Identifies an API key (not the key itself: the id is public).
    ApiKeyId, "API key"
);

macro_rules! name_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an id.
            pub fn parse(s: &str) -> Result<Self, CoreError> {
                let ok = !s.is_empty()
                    && s.len() <= 128
                    && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
                if ok {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(CoreError::invalid(
                        concat!("/", $what),
                        "must be 1-128 characters of letters, digits, '.', '_', '@' or '-'",
                    ))
                }
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = CoreError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_id!(
    /// An organisation: the tenant boundary. Every record carries one; every query is scoped by it.
    OrgId, "org"
);
name_id!(
    /// A user within an organisation.
    UserId, "user"
);

/// What a principal may do within its organisation: each role grants the [`Permission`]s of
/// the roles below it (`viewer` < `analyst` < `admin`). The API enforces the permission every
/// route declares (see `argus_api::auth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including the organisation's settings.
    Admin,
    /// Runs scans and triages findings.
    Analyst,
    /// Reads.
    Viewer,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Analyst, Role::Admin];

    /// Whether this role grants `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::Read => true,
            Permission::Write => matches!(self, Role::Analyst | Role::Admin),
            Permission::Admin => self == Role::Admin,
        }
    }

    /// Parses a role name (`admin`, `analyst`, `viewer`).
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        match s {
            "admin" => Ok(Role::Admin),
            "analyst" => Ok(Role::Analyst),
            "viewer" => Ok(Role::Viewer),
            other => Err(CoreError::invalid(
                "/role",
                format!("unknown role {other:?}: use admin, analyst or viewer"),
            )),
        }
    }

    /// The role's name as it is written in config and headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a route needs of its caller's role. Declared once per route, in its OpenAPI operation
/// (`security(("bearer" = ["write"]))`), and enforced from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Reading the organisation's records (every role).
    Read,
    /// Creating, running, triaging, cleaning and pushing (`analyst`, `admin`).
    Write,
    /// Managing the organisation: API keys, the audit log, forwarding (`admin`).
    Admin,
}

impl Permission {
    /// The permission's name as the OpenAPI document writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Admin => "admin",
        }
    }

    /// Parses a permission name (`read`, `write`, `admin`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Permission::Read),
            "write" => Some(Permission::Write),
            "admin" => Some(Permission::Admin),
            _ => None,
        }
    }

    /// The lowest role that has this permission.
    pub fn lowest_role(self) -> Role {
        match self {
            Permission::Read => Role::Viewer,
            Permission::Write => Role::Analyst,
            Permission::Admin => Role::Admin,
        }
    }
}

/// Who is acting: the organisation and user every new record is stamped with, and the role
/// the engine's services check the action against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub org: OrgId,
    pub user: UserId,
    pub role: Role,
}

impl Principal {
    /// The single local principal used when no identity layer is configured. It may do
    /// everything ([`Role::Admin`]), as every caller could before roles existed.
    pub fn local(org: &str, user: &str) -> Result<Self, CoreError> {
        Ok(Self {
            org: OrgId::parse(org)?,
            user: UserId::parse(user)?,
            role: Role::Admin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = ScanId::new();
        assert_eq!(id.to_string().parse::<ScanId>().unwrap(), id);
        assert!("not-a-uuid".parse::<ScanId>().is_err());
        assert!(OrgId::parse("acme-1").is_ok());
        assert!(OrgId::parse("").is_err());
        assert!(OrgId::parse("a b").is_err());
        assert!(UserId::parse(&"x".repeat(129)).is_err());
    }
}
