//! The API-keys service: creating, listing and revoking keys, and authenticating a bearer key.
//!
//! Keys are `argus_<prefix>_<secret>` (see `argus_core::apikey`): 12 + 40 characters from
//! the OS's random source (about 60 + 238 bits). Only an Argon2id hash of the whole key is
//! stored. Authentication finds the record by prefix (a token not shaped like a key, or with
//! an unknown prefix, costs no hash), verifies the hash, then checks revocation and expiry.
//!
//! Argon2 is slow on purpose (tens of milliseconds), too slow to pay on every request of a
//! client polling a scan, so a verified key is remembered for [`CACHE_TTL`] under the SHA-256
//! of the whole key (never the key itself). Revoking through this process clears the cache at
//! once; another replica notices within [`CACHE_TTL`]. Expiry is checked on every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use argus_core::apikey::{key_prefix, ApiKey, KEY_PREFIX, PREFIX_LEN, SECRET_LEN};
use argus_core::error::{CoreError, Result};
use argus_core::ids::{ApiKeyId, OrgId, Principal, Role, UserId};

use crate::Engine;

/// How long a verified key is trusted without reading the store again.
pub const CACHE_TTL: Duration = Duration::from_secs(30);
/// Most remembered keys (a full cache is cleared: it refills at one hash per key).
const CACHE_MAX: usize = 10_000;

/// Verified keys by SHA-256 of the whole key.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<[u8; 32], Cached>>,
}

#[derive(Clone)]
struct Cached {
    principal: Principal,
    expires_at: Option<DateTime<Utc>>,
    checked: Instant,
}

impl KeyCache {
    fn get(&self, digest: &[u8; 32]) -> Option<Cached> {
        let map = self.entries.lock().ok()?;
        map.get(digest)
            .filter(|c| c.checked.elapsed() < CACHE_TTL)
            .cloned()
    }

    fn put(&self, digest: [u8; 32], entry: Cached) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(digest, entry);
        }
    }

    fn clear(&self) {
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }
}

/// A new key: its record and the key itself, shown once.
#[derive(Clone, Debug)]
pub struct CreatedKey {
    pub record: ApiKey,
    pub key: String,
}

/// What a new key is for.
#[derive(Clone, Debug)]
pub struct NewKey {
    pub org: OrgId,
    pub role: Role,
    pub name: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// Who creates it (`user@org`, or `cli`).
    pub created_by: String,
}

/// The API-keys service.
pub struct ApiKeys<'a> {
    pub(crate) engine: &'a Engine,
}

/// Why a bearer key was refused (all answer 401; the reason is for logs).
#[derive(Debug, thiserror::Error)]
pub enum KeyRefused {
    #[error("not an Argus API key")]
    Malformed,
    #[error("unknown or wrong API key")]
    Unknown,
    #[error("API key revoked")]
    Revoked,
    #[error("API key expired")]
    Expired,
    #[error(transparent)]
    Store(#[from] CoreError),
}

fn random_chars(n: usize, alphabet: &[u8]) -> String {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        OsRng.fill_bytes(&mut buf);
        for b in buf {
            // Rejection sampling keeps every character equally likely.
            let limit = 256 - 256 % alphabet.len();
            if usize::from(b) < limit && out.len() < n {
                out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
            }
        }
    }
    out
}

const LOWER_DIGITS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn hash_key(key: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(key.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Backend(format!("hashing an API key: {e}")))
}

fn verify_hash(key: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(key.as_bytes(), &h)
            .is_ok()
    })
}

fn check_name(name: &str) -> Result<()> {
    if name.len() > 100 || name.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "/name",
            "a key name is at most 100 characters without control characters",
        ));
    }
    Ok(())
}

impl ApiKeys<'_> {
    /// Creates a key; the returned `key` is the only copy of it.
    pub async fn create(&self, new: NewKey) -> Result<CreatedKey> {
        check_name(&new.name)?;
        let now = Utc::now();
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(CoreError::invalid("/expires_at", "must be in the future"));
        }
        let prefix = random_chars(PREFIX_LEN, LOWER_DIGITS);
        let secret = random_chars(SECRET_LEN, ALNUM);
        let key = format!("{KEY_PREFIX}{prefix}_{secret}");
        let record = ApiKey {
            id: ApiKeyId::new(),
            org: new.org,
            name: new.name,
            role: new.role,
            prefix: format!("{KEY_PREFIX}{prefix}"),
            created_by: new.created_by,
            created_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        let hash = hash_key(&key)?;
        let store = self.engine.store();
        store.insert_api_key(&stored_form(&record), &hash).await?;
        Ok(CreatedKey { record, key })
    }

    /// Keys of `org` (every org with `None`: the operator's CLI), newest first.
    pub async fn list(&self, org: Option<&OrgId>) -> Result<Vec<ApiKey>> {
        let keys = self.engine.store().list_api_keys(org).await?;
        Ok(keys.into_iter().map(shown_form).collect())
    }

    /// Revokes a key of `org` (any org with `None`); effective at once in this process.
    pub async fn revoke(&self, org: Option<&OrgId>, id: ApiKeyId) -> Result<ApiKey> {
        let key = self
            .engine
            .store()
            .revoke_api_key(org, id, Utc::now())
            .await?;
        self.engine.api_key_cache.clear();
        Ok(shown_form(key))
    }

    /// The principal a bearer key acts as: the key's org and role, user `key-<prefix>`.
    pub async fn authenticate(&self, token: &str) -> std::result::Result<Principal, KeyRefused> {
        let prefix = key_prefix(token).ok_or(KeyRefused::Malformed)?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = Utc::now();
        let cache = &self.engine.api_key_cache;
        if let Some(hit) = cache.get(&digest) {
            if hit.expires_at.is_some_and(|at| at <= now) {
                return Err(KeyRefused::Expired);
            }
            return Ok(hit.principal);
        }
        let store = self.engine.store();
        let stored = store
            .api_key_by_prefix(prefix)
            .await?
            .ok_or(KeyRefused::Unknown)?;
        // Hashing is CPU-bound for tens of milliseconds: off the async threads.
        let (token_owned, hash) = (token.to_owned(), stored.hash.clone());
        let ok = tokio::task::spawn_blocking(move || verify_hash(&token_owned, &hash))
            .await
            .map_err(|e| CoreError::Backend(format!("verifying an API key: {e}")))?;
        if !ok {
            return Err(KeyRefused::Unknown);
        }
        let key = stored.key;
        if key.revoked_at.is_some() {
            return Err(KeyRefused::Revoked);
        }
        if key.expires_at.is_some_and(|at| at <= now) {
            return Err(KeyRefused::Expired);
        }
        let user = UserId::parse(&format!("key-{prefix}"))?;
        let principal = Principal {
            org: key.org.clone(),
            user,
            role: key.role,
        };
        if let Err(e) = store.touch_api_key(key.id, now).await {
            tracing::debug!(error = %e, "cannot record an API key's last use");
        }
        cache.put(
            digest,
            Cached {
                principal: principal.clone(),
                expires_at: key.expires_at,
                checked: Instant::now(),
            },
        );
        Ok(principal)
    }
}

/// The store keeps the random part only as `prefix` (what `key_prefix` returns); records
/// shown to people carry the readable `argus_<prefix>`.
fn stored_form(key: &ApiKey) -> ApiKey {
    let mut k = key.clone();
    k.prefix = k
        .prefix
        .strip_prefix(KEY_PREFIX)
        .unwrap_or(&k.prefix)
        .to_string();
    k
}

fn shown_form(mut key: ApiKey) -> ApiKey {
    if !key.prefix.starts_with(KEY_PREFIX) {
        key.prefix = format!("{KEY_PREFIX}{}", key.prefix);
    }
    key
}

/// Parses a duration such as `30d`, `12h`, `90m` or `3600s` (for `--expires`).
pub fn parse_ttl(s: &str) -> Result<chrono::Duration> {
    let s = s.trim();
    let bad = || {
        CoreError::invalid(
            "/expires",
            format!("{s:?} is not a duration: write a number and a unit, e.g. 30d, 12h, 90m"),
        )
    };
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    if n <= 0 || n > 36_500 * 86_400 {
        return Err(bad());
    }
    let d = match unit {
        "d" => chrono::Duration::try_days(n),
        "h" => chrono::Duration::try_hours(n),
        "m" => chrono::Duration::try_minutes(n),
        "s" => chrono::Duration::try_seconds(n),
        "w" => chrono::Duration::try_weeks(n),
        _ => None,
    };
    d.filter(|d| *d <= chrono::Duration::days(36_500))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_well_formed() {
        let a = random_chars(SECRET_LEN, ALNUM);
        let b = random_chars(SECRET_LEN, ALNUM);
        assert_ne!(a, b);
        assert_eq!(a.len(), SECRET_LEN);
        let p = random_chars(PREFIX_LEN, LOWER_DIGITS);
        let key = format!("{KEY_PREFIX}{p}_{a}");
        assert_eq!(key_prefix(&key), Some(p.as_str()));
    }

    #[test]
    fn hashes_verify_only_the_same_key() {
        let h = hash_key("argus_abc_def").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("argus_abc_def"));
        assert!(verify_hash("argus_abc_def", &h));
        assert!(!verify_hash("argus_abc_deF", &h));
        assert!(!verify_hash("argus_abc_def", "not a hash"));
    }

    #[test]
    fn ttls_parse_with_units_and_refuse_garbage() {
        assert_eq!(parse_ttl("30d").unwrap(), chrono::Duration::days(30));
        assert_eq!(parse_ttl("12h").unwrap(), chrono::Duration::hours(12));
        assert_eq!(parse_ttl("2w").unwrap(), chrono::Duration::weeks(2));
        for bad in [
            "",
            "d",
            "0d",
            "-1d",
            "30",
            "30y",
            "1.5d",
            "99999999999999999999d",
        ] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
