//! Bearer JWTs from an OpenID Connect issuer (`[auth.oidc]`): the gateway pattern of the
//! DeployGuard design, with the identity proven by the issuer's signature instead of trusted
//! headers.
//!
//! A token is accepted only when all of these hold:
//! - its header names an asymmetric algorithm (RS256/384/512, PS256/384/512, ES256, ES384,
//!   EdDSA). `none` and the HMAC algorithms are refused before any key is looked up: with a
//!   JWKS, a symmetric "key" would be public, so anyone could sign with it;
//! - it is signed by a key of the issuer's JWKS, found by `kid` (a token without `kid` is
//!   accepted only when exactly one published key fits its algorithm), and that key fits the
//!   header's algorithm (family, curve, and the JWK's own `alg` when it names one). Keys embedded
//!   in the token (`jwk`, `jku`, `x5u` headers) are never used;
//! - `iss` is the configured issuer, `aud` contains the configured audience (unless that is
//!   empty), `exp` is present and not past and `nbf` (when present) is reached, both within the
//!   configured leeway;
//! - the org and user claims are strings that are valid [`OrgId`]/[`UserId`] values, and the
//!   role claim names a role (or is absent with a `default_role` configured).
//!
//! The JWKS is read only over HTTPS (plain HTTP only from a loopback host, for local IdPs and
//! tests), lazily on the first token, and cached:
//! - it is re-read when it is older than `jwks_refresh_secs` (the request that notices does the
//!   fetch; concurrent requests keep using the cached keys meanwhile), so keys added or removed
//!   at the issuer are picked up;
//! - a token whose `kid` is not in the cache triggers one re-read, at most once per
//!   [`UNKNOWN_KID_REFETCH`] since the previous fetch of any kind, so a flood of tokens with
//!   made-up key ids costs the issuer at most one request per 30 s;
//! - fetches are single-flight (one at a time, behind an async mutex), and a failed fetch is not
//!   retried for `min(30 s, jwks_refresh_secs)`; while a refresh fails the previous keys stay in
//!   use.
//!
//! Errors never carry token contents (no claim values, no key id): only the names of configured
//! claims and fixed reasons, so they can be logged and answered as they are.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use reqwest::Url;
use serde_json::{Map, Value};

use argus_core::ids::{OrgId, Principal, Role, UserId};

/// Shortest time between two JWKS fetches caused by tokens with an unknown `kid`.
pub const UNKNOWN_KID_REFETCH: Duration = Duration::from_secs(30);
/// Time limit of one HTTP request to the issuer (discovery or JWKS).
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest discovery or JWKS document read (a JWKS holds a handful of keys).
const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Longest token looked at: real tokens are a few KiB; this bounds the work a junk header costs.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// The algorithms a token may name; everything else (`none`, HS*) is refused.
const ACCEPTED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// `[auth.oidc]`: the issuer whose JWTs the API accepts as bearer tokens (mode `apikey`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// Expected `iss`; also where `/.well-known/openid-configuration` is read when `jwks_url` is unset.
    pub issuer: String,
    /// JWKS document URL (optional; discovered from the issuer otherwise).
    pub jwks_url: Option<String>,
    /// Expected `aud` (required unless empty).
    pub audience: String,
    /// Claim holding the organisation id (default `org`).
    pub org_claim: String,
    /// Claim holding the role: `admin`, `analyst` or `viewer` (default `role`); a string or an array of strings (highest wins).
    pub role_claim: String,
    /// Role when the claim is absent: `None` refuses the token (default None).
    pub default_role: Option<argus_core::ids::Role>,
    /// Claim holding the user id (default `sub`).
    pub user_claim: String,
    /// How often the JWKS is re-read even without an unknown `kid`, in seconds (default 600).
    pub jwks_refresh_secs: u64,
    /// Clock skew tolerated on `exp`/`nbf`, in seconds (default 60).
    pub leeway_secs: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            jwks_url: None,
            audience: String::new(),
            org_claim: "org".into(),
            role_claim: "role".into(),
            default_role: None,
            user_claim: "sub".into(),
            jwks_refresh_secs: 600,
            leeway_secs: 60,
        }
    }
}

/// Why a token was refused, or why the verifier cannot work. Never carries token contents.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// The `[auth.oidc]` settings cannot work (checked by [`JwtVerifier::new`]).
    #[error("{0}")]
    Config(String),
    /// Not a JWT: wrong shape, bad base64 or JSON, or an unknown algorithm name (`none`).
    #[error("the bearer token is not a well-formed JWT")]
    Malformed,
    /// A known algorithm that is refused (the HMAC family).
    #[error("tokens signed with {0} are not accepted (asymmetric algorithms only)")]
    UnsupportedAlgorithm(&'static str),
    /// No key of the issuer's JWKS has the token's key id.
    #[error("the token is signed with a key the issuer does not publish")]
    UnknownKey,
    /// The published key with the token's key id is not one for the token's algorithm.
    #[error("the token's algorithm does not fit the issuer's key")]
    KeyMismatch,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    #[error("the token is meant for another audience")]
    WrongAudience,
    /// `exp` has passed (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still ahead (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// A claim the configuration requires is absent.
    #[error("the token has no `{0}` claim")]
    MissingClaim(String),
    /// A claim is present but unusable.
    #[error("the token's `{claim}` claim is invalid: {reason}")]
    InvalidClaim {
        /// The claim's name (from the configuration or the JWT standard, never the token).
        claim: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The issuer's discovery document or JWKS cannot be read, and no keys are cached.
    #[error("the issuer's signing keys cannot be read: {0}")]
    JwksUnavailable(String),
}

impl JwtError {
    /// Whether the fault is on the issuer's side (its keys cannot be read) rather than the
    /// token's: an answer of 503 rather than 401.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, JwtError::JwksUnavailable(_))
    }
}

/// A monotonic time source for the cache's refresh rules; tests substitute a manual one so the
/// rules can be checked without waiting. (Token `exp`/`nbf` are always checked against the
/// system clock.)
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Verifies bearer JWTs; cheap to clone (Arc inside), shared by every request.
#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.inner.config.issuer)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: OidcConfig,
    /// `config.jwks_url`, checked; `None` means discovery through the issuer.
    jwks_url: Option<Url>,
    /// The discovery document's URL.
    discovery_url: Url,
    refresh_every: Duration,
    /// How long a failed fetch blocks the next attempt (cold start and periodic refresh).
    retry_after_failure: Duration,
    /// One validation per accepted algorithm: `jsonwebtoken` checks the header's algorithm
    /// against it, so each token is verified with exactly the algorithm its key fits.
    validations: Vec<(Algorithm, Validation)>,
    http: reqwest::Client,
    /// The cached key set. A std lock: never held across an await, only to swap an `Arc`.
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Held while fetching, so fetches are single-flight; the state of the fetch schedule.
    fetch: tokio::sync::Mutex<FetchState>,
    clock: Arc<dyn Clock>,
}

#[derive(Default)]
struct FetchState {
    /// When the last fetch (successful or not) started.
    last_attempt: Option<Instant>,
    /// Why the last fetch failed, for requests refused while the retry is held back.
    last_error: Option<String>,
    /// The JWKS URL found through discovery (forgotten when a JWKS fetch fails, so a moved
    /// `jwks_uri` is rediscovered).
    discovered: Option<Url>,
}

struct KeySet {
    fetched_at: Instant,
    by_kid: HashMap<String, Key>,
    /// Keys published without a `kid`.
    unnamed: Vec<Key>,
}

struct Key {
    decoding: DecodingKey,
    family: AlgorithmFamily,
    /// The JWK's `alg`, when it names one: then only that algorithm may use the key.
    alg: Option<Algorithm>,
    /// The curve of an EC or OKP key.
    curve: Option<EllipticCurve>,
}

impl Key {
    fn fits(&self, alg: Algorithm) -> bool {
        if self.family != alg.family() || self.alg.is_some_and(|a| a != alg) {
            return false;
        }
        match (alg, &self.curve) {
            (Algorithm::ES256, Some(c)) => *c == EllipticCurve::P256,
            (Algorithm::ES384, Some(c)) => *c == EllipticCurve::P384,
            (Algorithm::EdDSA, Some(c)) => *c == EllipticCurve::Ed25519,
            _ => true,
        }
    }
}

enum Lookup<'a> {
    Found(&'a Key),
    Mismatch,
    Missing,
}

impl KeySet {
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Lookup<'_> {
        match kid {
            Some(kid) => match self.by_kid.get(kid) {
                Some(key) if key.fits(alg) => Lookup::Found(key),
                Some(_) => Lookup::Mismatch,
                None => Lookup::Missing,
            },
            None => {
                // Without a key id the key must be unambiguous: trying several keys in turn
                // would let a token pick among them.
                let mut fitting = self
                    .by_kid
                    .values()
                    .chain(self.unnamed.iter())
                    .filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Lookup::Found(key),
                    _ => Lookup::Missing,
                }
            }
        }
    }
}

impl JwtVerifier {
    /// Checks the configuration and prepares the verifier; no network here (the JWKS is read
    /// on the first token).
    pub fn new(config: OidcConfig) -> Result<Self, JwtError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// [`JwtVerifier::new`] with another clock for the cache's refresh rules (tests).
    pub fn with_clock(config: OidcConfig, clock: Arc<dyn Clock>) -> Result<Self, JwtError> {
        if config.issuer.is_empty() {
            return Err(JwtError::Config("`issuer` is required".into()));
        }
        let issuer_url = checked_url("issuer", &config.issuer)?;
        let jwks_url = match config.jwks_url.as_deref() {
            None | Some("") => None,
            Some(u) => Some(checked_url("jwks_url", u)?),
        };
        let discovery_url = checked_url(
            "issuer",
            &format!(
                "{}/.well-known/openid-configuration",
                config.issuer.trim_end_matches('/')
            ),
        )?;
        for (name, value) in [
            ("org_claim", &config.org_claim),
            ("user_claim", &config.user_claim),
            ("role_claim", &config.role_claim),
        ] {
            if value.is_empty() {
                return Err(JwtError::Config(format!("`{name}` must not be empty")));
            }
        }
        if config.jwks_refresh_secs == 0 {
            return Err(JwtError::Config(
                "`jwks_refresh_secs` must be at least 1 (0 would read the JWKS on every request)"
                    .into(),
            ));
        }
        ensure_crypto_provider()?;

        let mut http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT / 2)
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("argus/", env!("CARGO_PKG_VERSION")));
        // With an HTTPS issuer, a redirect must not downgrade the key download to plain HTTP.
        if issuer_url.scheme() == "https" && jwks_url.as_ref().is_none_or(|u| u.scheme() == "https")
        {
            http = http.https_only(true);
        }
        // The identity layer's own client rather than the scanners' shared one (the HTTP door):
        // key downloads carry their own policy (HTTPS only when the issuer is, short timeouts,
        // few redirects), and the API does not reach into the scanners' doors. Built only when
        // OIDC is configured.
        #[allow(clippy::disallowed_methods)]
        let http = http
            .build()
            .map_err(|e| JwtError::Config(format!("cannot build the HTTP client: {e}")))?;

        let validations = ACCEPTED
            .iter()
            .map(|&alg| (alg, validation(&config, alg)))
            .collect();
        let refresh_every = Duration::from_secs(config.jwks_refresh_secs);
        Ok(Self {
            inner: Arc::new(Inner {
                jwks_url,
                discovery_url,
                retry_after_failure: refresh_every.min(UNKNOWN_KID_REFETCH),
                refresh_every,
                validations,
                http,
                keys: RwLock::new(None),
                fetch: tokio::sync::Mutex::new(FetchState::default()),
                clock,
                config,
            }),
        })
    }

    /// Verifies signature (by `kid` against the cached JWKS), `iss`, `aud`, `exp`/`nbf`, maps claims to a Principal.
    pub async fn verify(&self, token: &str) -> Result<Principal, JwtError> {
        if token.len() > MAX_TOKEN_BYTES || !Self::looks_like_jwt(token) {
            return Err(JwtError::Malformed);
        }
        // An algorithm name `jsonwebtoken` does not know (`none` among them) fails here.
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
        let alg = header.alg;
        let validation = self
            .inner
            .validations
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, v)| v)
            .ok_or(JwtError::UnsupportedAlgorithm(algorithm_name(alg)))?;
        let kid = header.kid.as_deref();

        let keys = self.inner.current_keys().await?;
        let refreshed;
        let key = match keys.find(kid, alg) {
            Lookup::Found(key) => key,
            Lookup::Mismatch => return Err(JwtError::KeyMismatch),
            Lookup::Missing => {
                refreshed = self.inner.refetch_for_unknown_key(&keys).await?;
                match refreshed.find(kid, alg) {
                    Lookup::Found(key) => key,
                    Lookup::Mismatch => return Err(JwtError::KeyMismatch),
                    Lookup::Missing => return Err(JwtError::UnknownKey),
                }
            }
        };

        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, validation)
            .map_err(|e| map_decode_error(e.into_kind()))?;
        self.inner.principal(&data.claims)
    }

    /// Whether `token` looks like a JWT (three base64url parts), so the caller can tell it from an API key (`argus_…`).
    ///
    /// The header and payload must be non-empty; the signature may be empty (an unsigned
    /// token is still a JWT, and [`JwtVerifier::verify`] refuses it).
    pub fn looks_like_jwt(token: &str) -> bool {
        let b64url = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let mut parts = token.split('.');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(h), Some(p), Some(s), None) => {
                !h.is_empty() && !p.is_empty() && b64url(h) && b64url(p) && b64url(s)
            }
            _ => false,
        }
    }
}

impl Inner {
    fn snapshot(&self) -> Option<Arc<KeySet>> {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The keys to verify with: the cache, refreshed first when it is older than the refresh
    /// interval, fetched first when there is none.
    async fn current_keys(&self) -> Result<Arc<KeySet>, JwtError> {
        if let Some(keys) = self.snapshot() {
            if self.clock.now().duration_since(keys.fetched_at) < self.refresh_every {
                return Ok(keys);
            }
            // Stale: whoever gets the lock refreshes; the others go on with the cached keys
            // rather than queue behind the issuer.
            if let Ok(mut state) = self.fetch.try_lock() {
                let fresh_enough = self.snapshot().is_some_and(|k| {
                    self.clock.now().duration_since(k.fetched_at) < self.refresh_every
                });
                if !fresh_enough && !self.held_back(&state) {
                    if let Err(e) = self.fetch_locked(&mut state).await {
                        tracing::warn!(issuer = %self.config.issuer, error = %e, "JWKS refresh failed; keeping the cached keys");
                    }
                }
            }
            return Ok(self.snapshot().unwrap_or(keys));
        }
        // Nothing cached: wait for the fetch in flight, or make one.
        let mut state = self.fetch.lock().await;
        if let Some(keys) = self.snapshot() {
            return Ok(keys);
        }
        if self.held_back(&state) {
            return Err(JwtError::JwksUnavailable(
                state
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "the last attempt failed".into()),
            ));
        }
        self.fetch_locked(&mut state).await
    }

    /// Whether the last fetch failed too recently to try again.
    fn held_back(&self, state: &FetchState) -> bool {
        state.last_error.is_some()
            && state
                .last_attempt
                .is_some_and(|t| self.clock.now().duration_since(t) < self.retry_after_failure)
    }

    /// Re-reads the JWKS for a token whose key is not in `seen`, unless the keys were read
    /// less than [`UNKNOWN_KID_REFETCH`] ago (then `seen` or a newer set is returned as is).
    async fn refetch_for_unknown_key(&self, seen: &Arc<KeySet>) -> Result<Arc<KeySet>, JwtError> {
        let mut state = self.fetch.lock().await;
        // Another request refreshed while this one waited: look in that set first.
        if let Some(current) = self.snapshot() {
            if !Arc::ptr_eq(&current, seen) {
                return Ok(current);
            }
        }
        if state
            .last_attempt
            .is_some_and(|t| self.clock.now().duration_since(t) < UNKNOWN_KID_REFETCH)
        {
            return Ok(Arc::clone(seen));
        }
        tracing::info!(issuer = %self.config.issuer, "token with an unknown key id; re-reading the JWKS");
        self.fetch_locked(&mut state).await
    }

    /// Fetches the JWKS (discovering its URL first when needed) and installs it. The caller
    /// holds the fetch lock.
    async fn fetch_locked(&self, state: &mut FetchState) -> Result<Arc<KeySet>, JwtError> {
        state.last_attempt = Some(self.clock.now());
        match self.fetch_key_set(state).await {
            Ok(set) => {
                state.last_error = None;
                let set = Arc::new(set);
                *self
                    .keys
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::clone(&set));
                Ok(set)
            }
            Err(e) => {
                state.last_error = Some(e.clone());
                Err(JwtError::JwksUnavailable(e))
            }
        }
    }

    async fn fetch_key_set(&self, state: &mut FetchState) -> Result<KeySet, String> {
        let url = match (&self.jwks_url, &state.discovered) {
            (Some(url), _) | (None, Some(url)) => url.clone(),
            (None, None) => {
                let url = self.discover().await?;
                state.discovered = Some(url.clone());
                url
            }
        };
        let document = match self.get_json(&url).await {
            Ok(d) => d,
            Err(e) => {
                state.discovered = None;
                return Err(e);
            }
        };
        let set = parse_key_set(&document, self.clock.now())
            .map_err(|e| format!("{}: {e}", shown(&url)))?;
        tracing::info!(
            issuer = %self.config.issuer,
            keys = set.by_kid.len() + set.unnamed.len(),
            "read the issuer's JWKS"
        );
        Ok(set)
    }

    /// Reads `jwks_uri` from the issuer's discovery document, which must name the configured
    /// issuer (OpenID Connect Discovery 1.0 §4.3).
    async fn discover(&self) -> Result<Url, String> {
        let doc = self.get_json(&self.discovery_url).await?;
        let at = shown(&self.discovery_url);
        match doc.get("issuer").and_then(Value::as_str) {
            Some(iss) if iss == self.config.issuer => {}
            Some(iss) => {
                return Err(format!(
                    "{at}: the document is for issuer {iss:?}, not the configured {:?}",
                    self.config.issuer
                ))
            }
            None => return Err(format!("{at}: the document has no `issuer`")),
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}: the document has no `jwks_uri`"))?;
        checked_url("jwks_uri", jwks_uri).map_err(|e| format!("{at}: {e}"))
    }

    async fn get_json(&self, url: &Url) -> Result<Value, String> {
        let at = shown(url);
        let mut response = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {at}: {}", e.without_url()))?;
        if !response.status().is_success() {
            return Err(format!("GET {at}: HTTP {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(format!("GET {at}: larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {at}: {}", e.without_url()))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("GET {at}: larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {at}: not JSON: {e}"))
    }

    /// Maps the verified claims to the principal.
    fn principal(&self, claims: &Map<String, Value>) -> Result<Principal, JwtError> {
        let c = &self.config;
        let org = OrgId::parse(string_claim(claims, &c.org_claim)?).map_err(|_| {
            JwtError::InvalidClaim {
                claim: c.org_claim.clone(),
                reason:
                    "not a valid organisation id (1-128 of letters, digits, '.', '_', '@', '-')",
            }
        })?;
        let user = UserId::parse(string_claim(claims, &c.user_claim)?).map_err(|_| {
            JwtError::InvalidClaim {
                claim: c.user_claim.clone(),
                reason: "not a valid user id (1-128 of letters, digits, '.', '_', '@', '-')",
            }
        })?;
        let role = match claims.get(&c.role_claim) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                Some(parse_role(s).ok_or_else(|| JwtError::InvalidClaim {
                    claim: c.role_claim.clone(),
                    reason: "not one of admin, analyst, viewer",
                })?)
            }
            // A list (IdP roles or groups) may hold names unrelated to Argus: those are ignored,
            // and the highest Argus role wins. A list with none is like an absent claim.
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .filter_map(parse_role)
                .max_by_key(|r| role_rank(*r)),
            Some(_) => {
                return Err(JwtError::InvalidClaim {
                    claim: c.role_claim.clone(),
                    reason: "not a string or an array of strings",
                })
            }
        };
        let role = role
            .or(c.default_role)
            .ok_or_else(|| JwtError::MissingClaim(c.role_claim.clone()))?;
        Ok(Principal { org, user, role })
    }
}

/// The `jsonwebtoken` crate needs a process-wide crypto provider; this build enables only the
/// RustCrypto one, which is then picked automatically. Should another crate in the build also
/// enable the aws-lc one, the choice is ambiguous and the RustCrypto provider is installed here.
fn ensure_crypto_provider() -> Result<(), JwtError> {
    use jsonwebtoken::crypto::CryptoProvider;
    if CryptoProvider::try_get_default().is_none() {
        // Losing a race to another installer is fine: some provider is then installed.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    }
    CryptoProvider::try_get_default()
        .map(|_| ())
        .ok_or_else(|| JwtError::Config("no JWT crypto provider available".into()))
}

fn validation(config: &OidcConfig, alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = config.leeway_secs;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.set_issuer(&[config.issuer.as_str()]);
    let mut required = vec!["exp", "iss"];
    if config.audience.is_empty() {
        v.validate_aud = false;
    } else {
        v.set_audience(&[config.audience.as_str()]);
        required.push("aud");
    }
    v.set_required_spec_claims(&required);
    v
}

/// Parses `https://…` (or `http://` to a loopback host) for the setting `name`.
fn checked_url(name: &str, value: &str) -> Result<Url, JwtError> {
    let url =
        Url::parse(value).map_err(|e| JwtError::Config(format!("`{name}` is not a URL: {e}")))?;
    let loopback = url.host_str().is_some_and(|h| {
        let h = h.trim_start_matches('[').trim_end_matches(']');
        h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    });
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(JwtError::Config(format!(
            "`{name}` must be an https:// URL (plain http only to a loopback host): keys read \
             over plain HTTP could be replaced on the way"
        ))),
    }
}

/// The URL for messages, without credentials.
fn shown(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// Builds the key set from a JWKS document, skipping keys that cannot verify signatures
/// (encryption keys, symmetric keys, unknown types): one odd key must not disable the others.
fn parse_key_set(document: &Value, now: Instant) -> Result<KeySet, String> {
    let entries = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("not a JWKS document (no `keys` array)")?;
    let mut set = KeySet {
        fetched_at: now,
        by_kid: HashMap::new(),
        unnamed: Vec::new(),
    };
    for entry in entries {
        let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
            tracing::debug!("skipping a JWKS entry that is not a JWK");
            continue;
        };
        let Some(key) = signing_key(&jwk) else {
            continue;
        };
        match jwk.common.key_id {
            Some(kid) => {
                set.by_kid.insert(kid, key);
            }
            None => set.unnamed.push(key),
        }
    }
    if set.by_kid.is_empty() && set.unnamed.is_empty() {
        tracing::warn!("the issuer's JWKS holds no usable signing key");
    }
    Ok(set)
}

fn signing_key(jwk: &Jwk) -> Option<Key> {
    let common = &jwk.common;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let alg = match common.key_algorithm {
        Some(ka) => match Algorithm::try_from(ka) {
            Ok(a) if ACCEPTED.contains(&a) => Some(a),
            // An encryption algorithm, or HS*: not a key to verify with.
            _ => return None,
        },
        None => None,
    };
    let curve = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => None,
        AlgorithmParameters::EllipticCurve(p)
            if matches!(p.curve, EllipticCurve::P256 | EllipticCurve::P384) =>
        {
            Some(p.curve.clone())
        }
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Some(p.curve.clone())
        }
        // Symmetric (`oct`) keys, curves without an accepted algorithm, unknown key types.
        _ => return None,
    };
    let decoding = DecodingKey::from_jwk(jwk).ok()?;
    let family = decoding.family();
    if family == AlgorithmFamily::Hmac {
        return None;
    }
    // The Ed25519 verifier of `jsonwebtoken` slices the first 32 bytes of the key without a
    // length check: a short `x` from the issuer would panic there, so it is dropped here.
    if family == AlgorithmFamily::Ed && decoding.try_get_as_bytes().map_or(true, |b| b.len() != 32)
    {
        return None;
    }
    Some(Key {
        decoding,
        family,
        alg,
        curve,
    })
}

fn string_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Result<&'a str, JwtError> {
    match claims.get(name) {
        None | Some(Value::Null) => Err(JwtError::MissingClaim(name.to_owned())),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(JwtError::InvalidClaim {
            claim: name.to_owned(),
            reason: "not a string",
        }),
    }
}

fn parse_role(s: &str) -> Option<Role> {
    [Role::Admin, Role::Analyst, Role::Viewer]
        .into_iter()
        .find(|r| r.as_str() == s)
}

fn role_rank(role: Role) -> u8 {
    match role {
        Role::Viewer => 0,
        Role::Analyst => 1,
        Role::Admin => 2,
    }
}

fn algorithm_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        _ => "this algorithm",
    }
}

fn map_decode_error(kind: jsonwebtoken::errors::ErrorKind) -> JwtError {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::InvalidSignature => JwtError::BadSignature,
        K::ExpiredSignature => JwtError::Expired,
        K::ImmatureSignature => JwtError::NotYetValid,
        K::InvalidIssuer => JwtError::WrongIssuer,
        K::InvalidAudience => JwtError::WrongAudience,
        // The names come from the validation (exp, iss, aud, nbf), not from the token.
        K::MissingRequiredClaim(claim) => JwtError::MissingClaim(claim),
        K::InvalidClaimFormat(claim) => JwtError::InvalidClaim {
            claim,
            reason: "malformed",
        },
        K::InvalidAlgorithm
        | K::InvalidEcdsaKey
        | K::InvalidEddsaKey
        | K::InvalidRsaKey(_)
        | K::InvalidKeyFormat => JwtError::KeyMismatch,
        _ => JwtError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_jwts_from_api_keys() {
        assert!(JwtVerifier::looks_like_jwt("eyJh.eyJz.c2ln"));
        assert!(JwtVerifier::looks_like_jwt("eyJh.eyJz."));
        assert!(!JwtVerifier::looks_like_jwt("argus_abc123"));
        assert!(!JwtVerifier::looks_like_jwt("a.b"));
        assert!(!JwtVerifier::looks_like_jwt("a.b.c.d"));
        assert!(!JwtVerifier::looks_like_jwt(".b.c"));
        assert!(!JwtVerifier::looks_like_jwt("a+/.b.c"));
    }

    #[test]
    fn refuses_unusable_configs() {
        let base = OidcConfig {
            issuer: "https://idp.example".into(),
            ..OidcConfig::default()
        };
        assert!(JwtVerifier::new(base.clone()).is_ok());
        for bad in [
            OidcConfig {
                issuer: String::new(),
                ..base.clone()
            },
            OidcConfig {
                issuer: "http://idp.example".into(),
                ..base.clone()
            },
            OidcConfig {
                jwks_url: Some("ftp://idp.example/keys".into()),
                ..base.clone()
            },
            OidcConfig {
                org_claim: String::new(),
                ..base.clone()
            },
            OidcConfig {
                jwks_refresh_secs: 0,
                ..base.clone()
            },
        ] {
            assert!(matches!(JwtVerifier::new(bad), Err(JwtError::Config(_))));
        }
        assert!(JwtVerifier::new(OidcConfig {
            issuer: "http://127.0.0.1:8080/realms/x".into(),
            ..base
        })
        .is_ok());
    }

    #[test]
    fn role_lists_take_the_highest_known_role() {
        let v = JwtVerifier::new(OidcConfig {
            issuer: "https://idp.example".into(),
            ..OidcConfig::default()
        })
        .unwrap();
        let claims = |role: Value| {
            let mut m = Map::new();
            m.insert("org".into(), "acme".into());
            m.insert("sub".into(), "u1".into());
            m.insert("role".into(), role);
            m
        };
        let p = v
            .inner
            .principal(&claims(serde_json::json!([
                "viewer",
                "offline_access",
                "analyst"
            ])))
            .unwrap();
        assert_eq!(p.role, Role::Analyst);
        assert!(matches!(
            v.inner
                .principal(&claims(serde_json::json!(["offline_access"]))),
            Err(JwtError::MissingClaim(_))
        ));
        assert!(matches!(
            v.inner.principal(&claims(serde_json::json!(7))),
            Err(JwtError::InvalidClaim { .. })
        ));
    }
}
