//! OIDC/JWT bearer verification (mode `apikey` with `[auth.oidc]`). Placeholder interface; the
//! implementation lands with its tests.

use argus_core::ids::{Principal, Role};

/// `[auth.oidc]`: the issuer whose JWTs the API accepts as bearer tokens (mode `apikey`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// Expected `iss`; also where `/.well-known/openid-configuration` is read when `jwks_url`
    /// is unset.
    pub issuer: String,
    /// JWKS document URL (optional; discovered from the issuer otherwise).
    pub jwks_url: Option<String>,
    /// Expected `aud` (required unless empty).
    pub audience: String,
    /// Claim holding the organisation id (default `org`).
    pub org_claim: String,
    /// Claim holding the role: `admin`, `analyst` or `viewer` (default `role`).
    pub role_claim: String,
    /// Role when the claim is absent: `None` refuses the token.
    pub default_role: Option<Role>,
    /// Claim holding the user id (default `sub`).
    pub user_claim: String,
    /// How often the JWKS is re-read even without an unknown `kid`, in seconds.
    pub jwks_refresh_secs: u64,
    /// Clock skew tolerated on `exp`/`nbf`, in seconds.
    pub leeway_secs: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
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

/// Why a bearer JWT was refused.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("JWT verification is not available in this build")]
    Unavailable,
}

/// Verifies bearer JWTs; cheap to clone, shared by every request.
#[derive(Clone, Debug)]
pub struct JwtVerifier {
    _config: std::sync::Arc<OidcConfig>,
}

impl JwtVerifier {
    /// A verifier for `config` (no network here).
    pub fn new(config: OidcConfig) -> Result<Self, JwtError> {
        Ok(JwtVerifier {
            _config: std::sync::Arc::new(config),
        })
    }

    /// Verifies the token and maps its claims to a principal.
    pub async fn verify(&self, _token: &str) -> Result<Principal, JwtError> {
        Err(JwtError::Unavailable)
    }

    /// Whether `token` looks like a JWT (three base64url parts).
    pub fn looks_like_jwt(token: &str) -> bool {
        token.split('.').count() == 3
    }
}
