//! API keys: long-lived bearer credentials of one organisation and role (`auth.mode = "apikey"`).
//!
//! A key reads `argus_<prefix>_<secret>`. The prefix (12 lowercase letters and digits) is
//! public: it is stored in clear, unique, and used to find the key's record; the whole key is
//! stored only as an Argon2id hash (PHC string), so the database never holds a usable key.
//! The plaintext exists once, in the answer to its creation.
//!
//! Invariants every [`ApiKeyStore`] keeps (checked by the store suite): prefixes are unique;
//! listing and revoking are scoped by org when one is given (an operator's CLI passes none);
//! revoking is idempotent and keeps the record (revoked keys stay listed, for the audit trail).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ids::{ApiKeyId, OrgId, Role};

/// The text every key starts with (also how a bearer token is told from a JWT).
pub const KEY_PREFIX: &str = "argus_";
/// Length of the public, random part after [`KEY_PREFIX`].
pub const PREFIX_LEN: usize = 12;
/// Length of the secret part.
pub const SECRET_LEN: usize = 40;

/// An API key's record (never the key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    #[schema(value_type = String)]
    pub org: OrgId,
    /// A label for people (`ci`, `splunk-forwarder`).
    pub name: String,
    pub role: Role,
    /// The public part: `argus_<prefix>` identifies the key in lists and logs.
    pub prefix: String,
    /// Who created it (`user@org`, or `cli` for `argus admin apikey create`).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last time a request authenticated with it (updated at most once per cache period).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether the key may authenticate at `now`.
    pub fn usable_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// A key's record with its stored hash (what authentication reads).
#[derive(Clone, Debug)]
pub struct StoredApiKey {
    pub key: ApiKey,
    /// Argon2id PHC string of the whole key.
    pub hash: String,
}

/// Splits `argus_<prefix>_<secret>` into its prefix; `None` when `token` is not shaped like a
/// key (so it costs no store lookup and no hash).
pub fn key_prefix(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(KEY_PREFIX)?;
    let (prefix, secret) = rest.split_once('_')?;
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    (ok(prefix, PREFIX_LEN)
        && secret.len() == SECRET_LEN
        && secret.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then_some(prefix)
}

/// API keys' records.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new key; a prefix that exists already is a `Conflict`.
    async fn insert_api_key(&self, key: &ApiKey, hash: &str) -> Result<()>;
    /// The key with this prefix, of any org (authentication comes before the org is known).
    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<StoredApiKey>>;
    /// Keys of `org` (every org with `None`), newest first.
    async fn list_api_keys(&self, org: Option<&OrgId>) -> Result<Vec<ApiKey>>;
    /// Marks the key revoked at `at` (kept if already revoked) and returns it; `NotFound` when
    /// no key has this id in `org` (in any org with `None`).
    async fn revoke_api_key(
        &self,
        org: Option<&OrgId>,
        id: ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<ApiKey>;
    /// Records that the key authenticated a request at `at`.
    async fn touch_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_prefix_accepts_only_the_key_shape() {
        let secret = "a".repeat(SECRET_LEN);
        let good = format!("argus_abcdefgh1234_{secret}");
        assert_eq!(key_prefix(&good), Some("abcdefgh1234"));
        for bad in [
            "".to_string(),
            "argus_".to_string(),
            format!("argus_ABCDEFGH1234_{secret}"),
            format!("argus_abcdefgh123_{secret}"),
            format!("argus_abcdefgh1234_{}", "a".repeat(SECRET_LEN - 1)),
            format!("argus_abcdefgh1234_{}!", "a".repeat(SECRET_LEN - 1)),
            format!("xargus_abcdefgh1234_{secret}"),
            "eyJhbGciOiJFUzI1NiJ9.e30.sig".to_string(),
        ] {
            assert_eq!(key_prefix(&bad), None, "{bad}");
        }
    }
}
