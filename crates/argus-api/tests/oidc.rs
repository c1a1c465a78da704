#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]
//! OIDC bearer tokens against a real local issuer: an axum server on 127.0.0.1 serving
//! `/.well-known/openid-configuration` and a JWKS (counting requests), keys generated here
//! (RSA, EC P-256 and P-384, Ed25519), tokens signed with `jsonwebtoken`.
//!
//! The cache's timing rules run on a manual clock, so rotation, the periodic refresh and the
//! refetch limit are checked by moving the clock and counting the server's requests, without
//! sleeping. Token `exp`/`nbf` use the system clock (as in production), with margins of hours.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argus_api::auth::jwt::{Clock, JwtError, JwtVerifier, OidcConfig};
use argus_core::ids::Role;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const REALM: &str = "/realms/argus";
const AUDIENCE: &str = "argus-api";

// ---------------------------------------------------------------- the issuer

struct IssuerState {
    /// The `issuer` the discovery document names.
    issuer: String,
    /// Where the issuer really is.
    own_url: String,
    jwks: Mutex<Value>,
    /// While set, both documents answer 503.
    failing: AtomicBool,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
}

struct Issuer {
    /// The issuer URL (`http://127.0.0.1:PORT/realms/argus`).
    url: String,
    state: Arc<IssuerState>,
}

impl Issuer {
    /// Serves `keys` as the JWKS.
    async fn start(keys: &[&TestKey]) -> Issuer {
        Self::start_naming(keys, None).await
    }

    /// Like [`Issuer::start`], with the discovery document naming `named_issuer` instead of itself.
    async fn start_naming(keys: &[&TestKey], named_issuer: Option<&str>) -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let url = format!("http://{addr}{REALM}");
        let state = Arc::new(IssuerState {
            issuer: named_issuer.map_or_else(|| url.clone(), str::to_owned),
            own_url: url.clone(),
            jwks: Mutex::new(jwks(keys)),
            failing: AtomicBool::new(false),
            discovery_hits: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route(
                &format!("{REALM}/.well-known/openid-configuration"),
                get(discovery),
            )
            .route(
                &format!("{REALM}/protocol/openid-connect/certs"),
                get(certs),
            )
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Issuer { url, state }
    }

    fn serve(&self, keys: &[&TestKey]) {
        *self.state.jwks.lock().unwrap() = jwks(keys);
    }

    fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    fn config(&self) -> OidcConfig {
        OidcConfig {
            issuer: self.url.clone(),
            audience: AUDIENCE.into(),
            ..OidcConfig::default()
        }
    }
}

async fn discovery(State(s): State<Arc<IssuerState>>) -> Response {
    s.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if s.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Json(json!({
        "issuer": s.issuer,
        "jwks_uri": format!("{}/protocol/openid-connect/certs", s.own_url),
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
    .into_response()
}

async fn certs(State(s): State<Arc<IssuerState>>) -> Response {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if s.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Json(s.jwks.lock().unwrap().clone()).into_response()
}

// ---------------------------------------------------------------- keys and tokens

struct TestKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    /// The public JWK, as the issuer publishes it.
    jwk: Value,
    /// The public key in PEM (for the key-confusion test).
    public_pem: String,
}

impl TestKey {
    fn from_rcgen(
        kid: &str,
        alg: Algorithm,
        rcgen_alg: &'static rcgen::SignatureAlgorithm,
    ) -> Self {
        let pair = rcgen::KeyPair::generate_for(rcgen_alg).unwrap();
        if alg == Algorithm::EdDSA {
            return Self::ed25519(kid, &pair);
        }
        let pem = pair.serialize_pem();
        let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
        Self::finish(kid, alg, encoding, pair.public_key_pem())
    }

    /// ring writes Ed25519 keys as PKCS#8 v2 (seed and public key), which the RustCrypto
    /// backend of `jsonwebtoken` does not read: the seed is re-wrapped as PKCS#8 v1 (RFC 8410),
    /// and the JWK is written from the raw public key.
    fn ed25519(kid: &str, pair: &rcgen::KeyPair) -> Self {
        let v2 = pair.serialize_der();
        // SEQUENCE (length varies), version 1, the Ed25519 OID, OCTET STRING { OCTET STRING seed }.
        const V2_AFTER_LENGTH: [u8; 14] = [
            0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
        ];
        assert_eq!(
            v2[2..16],
            V2_AFTER_LENGTH,
            "unexpected PKCS#8 layout from ring"
        );
        let mut v1 = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        v1.extend_from_slice(&v2[16..48]);
        let public = pair.public_key_raw();
        assert_eq!(public.len(), 32);
        TestKey {
            kid: kid.to_owned(),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(&v1),
            jwk: json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(public),
                "alg": "EdDSA",
                "use": "sig",
                "kid": kid,
            }),
            public_pem: pair.public_key_pem(),
        }
    }

    fn finish(kid: &str, alg: Algorithm, encoding: EncodingKey, public_pem: String) -> Self {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        let mut jwk = serde_json::to_value(jwk).unwrap();
        jwk["use"] = json!("sig");
        TestKey {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk,
            public_pem,
        }
    }

    fn es256(kid: &str) -> Self {
        Self::from_rcgen(kid, Algorithm::ES256, &rcgen::PKCS_ECDSA_P256_SHA256)
    }

    /// The same key under another algorithm of its family (RSA: RS256 and PS256).
    fn with_alg(&self, kid: &str, alg: Algorithm) -> Self {
        Self::finish(kid, alg, self.encoding.clone(), self.public_pem.clone())
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// A token signed by this key but naming another key id.
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// One 2048-bit RSA key for the whole file (generating it takes a moment).
fn rsa_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        use rsa::Generate;
        let private = rsa::PrivateKey::generate();
        let der = private.to_pkcs1_der().unwrap();
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        TestKey::finish("rsa-1", Algorithm::RS256, encoding, public_pem)
    })
}

fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims that pass every check of `issuer`'s default config.
fn claims(issuer: &Issuer) -> Value {
    json!({
        "iss": issuer.url,
        "aud": AUDIENCE,
        "sub": "alice@example.org",
        "org": "acme",
        "role": "analyst",
        "iat": now(),
        "nbf": now() - 10,
        "exp": now() + 3600,
    })
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// The cache's clock, moved by hand.
struct ManualClock {
    start: Instant,
    offset_secs: AtomicU64,
}

impl ManualClock {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            offset_secs: AtomicU64::new(0),
        })
    }

    fn advance(&self, secs: u64) {
        self.offset_secs.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + Duration::from_secs(self.offset_secs.load(Ordering::SeqCst))
    }
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn valid_tokens_of_every_key_type_map_to_a_principal() {
    let rsa = rsa_key();
    let ps256 = rsa.with_alg("rsa-pss", Algorithm::PS256);
    let es256 = TestKey::es256("ec-256");
    let es384 = TestKey::from_rcgen("ec-384", Algorithm::ES384, &rcgen::PKCS_ECDSA_P384_SHA384);
    let eddsa = TestKey::from_rcgen("ed-1", Algorithm::EdDSA, &rcgen::PKCS_ED25519);
    let keys = [rsa, &ps256, &es256, &es384, &eddsa];
    let issuer = Issuer::start(&keys).await;
    let verifier = JwtVerifier::new(issuer.config()).unwrap();

    for key in keys {
        let token = key.sign(&claims(&issuer));
        assert!(JwtVerifier::looks_like_jwt(&token));
        let p = verifier
            .verify(&token)
            .await
            .unwrap_or_else(|e| panic!("{:?} token refused: {e}", key.alg));
        assert_eq!(p.org.as_str(), "acme");
        assert_eq!(p.user.as_str(), "alice@example.org");
        assert_eq!(p.role, Role::Analyst);
    }
    // Discovery and the JWKS were read once, then served from the cache.
    assert_eq!(issuer.discovery_hits(), 1);
    assert_eq!(issuer.jwks_hits(), 1);
    assert!(!JwtVerifier::looks_like_jwt("argus_0123456789abcdef"));
}

#[tokio::test]
async fn claims_map_through_the_configured_names() {
    let key = TestKey::es256("k1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = JwtVerifier::new(OidcConfig {
        org_claim: "https://argus.example/org".into(),
        user_claim: "email".into(),
        role_claim: "groups".into(),
        default_role: Some(Role::Viewer),
        ..issuer.config()
    })
    .unwrap();
    let mut c = claims(&issuer);
    c["https://argus.example/org"] = json!("globex");
    c["email"] = json!("bob@globex.example");
    c["sub"] = json!("auth0|12345"); // not a valid user id, but not the configured claim
    c["groups"] = json!(["everyone", "viewer", "admin", "analyst"]);
    let p = verifier.verify(&key.sign(&c)).await.unwrap();
    assert_eq!(p.org.as_str(), "globex");
    assert_eq!(p.user.as_str(), "bob@globex.example");
    assert_eq!(p.role, Role::Admin, "the highest role of the list wins");

    // No Argus role in the claim (absent, or a list without one): the default role.
    c["groups"] = json!(["everyone"]);
    assert_eq!(
        verifier.verify(&key.sign(&c)).await.unwrap().role,
        Role::Viewer
    );
    c.as_object_mut().unwrap().remove("groups");
    assert_eq!(
        verifier.verify(&key.sign(&c)).await.unwrap().role,
        Role::Viewer
    );

    // An explicit JWKS URL skips discovery.
    let direct = JwtVerifier::new(OidcConfig {
        jwks_url: Some(format!("{}/protocol/openid-connect/certs", issuer.url)),
        ..issuer.config()
    })
    .unwrap();
    let before = issuer.discovery_hits();
    direct.verify(&key.sign(&claims(&issuer))).await.unwrap();
    assert_eq!(issuer.discovery_hits(), before);
}

#[tokio::test]
async fn refuses_tokens_that_fail_a_check() {
    let rsa = rsa_key();
    let key = TestKey::es256("k1");
    let issuer = Issuer::start(&[&key, rsa]).await;
    let verifier = JwtVerifier::new(issuer.config()).unwrap();
    let good = claims(&issuer);
    let with = |field: &str, value: Value| {
        let mut c = good.clone();
        c[field] = value;
        c
    };
    let without = |field: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(field);
        c
    };

    // Tampering: the payload of a valid token swapped for one naming another org (the
    // signature is over the original).
    let valid = key.sign(&good);
    let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
    parts[1] = b64(&with("org", json!("victim-org")));
    let tampered = parts.join(".");
    // A flipped signature byte.
    let mut sig = URL_SAFE_NO_PAD
        .decode(valid.split('.').nth(2).unwrap())
        .unwrap();
    sig[10] ^= 1;
    let bad_sig = format!(
        "{}.{}",
        valid.rsplit_once('.').unwrap().0,
        URL_SAFE_NO_PAD.encode(sig)
    );
    // Unsigned (`alg: none`) and HMAC keyed with the published public key (key confusion).
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": "k1"})),
        b64(&good)
    );
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("k1".into());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &good,
        &EncodingKey::from_secret(key.public_pem.as_bytes()).unwrap(),
    )
    .unwrap();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("rsa-1".into());
    let hs256_rsa = jsonwebtoken::encode(
        &hs_header,
        &good,
        &EncodingKey::from_secret(rsa.public_pem.as_bytes()).unwrap(),
    )
    .unwrap();
    // An EC token naming the RSA key's id.
    let mismatched = key.sign_as("rsa-1", &good);
    // Signed by a key the issuer does not publish.
    let stranger = TestKey::es256("stranger").sign(&good);
    let impostor = TestKey::es256("k1").sign(&good);

    type Expected = fn(&JwtError) -> bool;
    let cases: Vec<(&str, String, Expected)> = vec![
        (
            "wrong issuer",
            key.sign(&with("iss", json!("https://evil.example"))),
            |e| matches!(e, JwtError::WrongIssuer),
        ),
        (
            "no issuer",
            key.sign(&without("iss")),
            |e| matches!(e, JwtError::MissingClaim(c) if c == "iss"),
        ),
        (
            "wrong audience",
            key.sign(&with("aud", json!("other-api"))),
            |e| matches!(e, JwtError::WrongAudience),
        ),
        (
            "audience list without ours",
            key.sign(&with("aud", json!(["a", "b"]))),
            |e| matches!(e, JwtError::WrongAudience),
        ),
        (
            "no audience",
            key.sign(&without("aud")),
            |e| matches!(e, JwtError::MissingClaim(c) if c == "aud"),
        ),
        (
            "expired",
            key.sign(&with("exp", json!(now() - 3600))),
            |e| matches!(e, JwtError::Expired),
        ),
        (
            "no expiry",
            key.sign(&without("exp")),
            |e| matches!(e, JwtError::MissingClaim(c) if c == "exp"),
        ),
        (
            "not yet valid",
            key.sign(&with("nbf", json!(now() + 3600))),
            |e| matches!(e, JwtError::NotYetValid),
        ),
        ("tampered payload", tampered, |e| {
            matches!(e, JwtError::BadSignature)
        }),
        ("flipped signature bit", bad_sig, |e| {
            matches!(e, JwtError::BadSignature)
        }),
        ("impostor key with a published kid", impostor, |e| {
            matches!(e, JwtError::BadSignature)
        }),
        ("alg none", none, |e| matches!(e, JwtError::Malformed)),
        ("HS256 keyed with the EC public key", hs256, |e| {
            matches!(e, JwtError::UnsupportedAlgorithm(_))
        }),
        ("HS256 keyed with the RSA public key", hs256_rsa, |e| {
            matches!(e, JwtError::UnsupportedAlgorithm(_))
        }),
        ("EC token naming the RSA key", mismatched, |e| {
            matches!(e, JwtError::KeyMismatch)
        }),
        ("unknown kid", stranger, |e| {
            matches!(e, JwtError::UnknownKey)
        }),
        (
            "missing org claim",
            key.sign(&without("org")),
            |e| matches!(e, JwtError::MissingClaim(c) if c == "org"),
        ),
        (
            "org not an org id",
            key.sign(&with("org", json!("acme corp/../x"))),
            |e| matches!(e, JwtError::InvalidClaim { claim, .. } if claim == "org"),
        ),
        (
            "org not a string",
            key.sign(&with("org", json!(42))),
            |e| matches!(e, JwtError::InvalidClaim { claim, .. } if claim == "org"),
        ),
        (
            "user not a user id",
            key.sign(&with("sub", json!("auth0|123"))),
            |e| matches!(e, JwtError::InvalidClaim { claim, .. } if claim == "sub"),
        ),
        (
            "missing user claim",
            key.sign(&without("sub")),
            |e| matches!(e, JwtError::MissingClaim(c) if c == "sub"),
        ),
        (
            "bad role value",
            key.sign(&with("role", json!("superuser"))),
            |e| matches!(e, JwtError::InvalidClaim { claim, .. } if claim == "role"),
        ),
        (
            "role of the wrong case",
            key.sign(&with("role", json!("Admin"))),
            |e| matches!(e, JwtError::InvalidClaim { claim, .. } if claim == "role"),
        ),
        (
            "role list without a role",
            key.sign(&with("role", json!(["everyone"]))),
            |e| matches!(e, JwtError::MissingClaim(c) if c == "role"),
        ),
        (
            "missing role, no default",
            key.sign(&without("role")),
            |e| matches!(e, JwtError::MissingClaim(c) if c == "role"),
        ),
        ("not a JWT", "argus_0123456789abcdef".into(), |e| {
            matches!(e, JwtError::Malformed)
        }),
        ("garbage parts", "eyJhbGciOi.eyJzdWIi.c2ln".into(), |e| {
            matches!(e, JwtError::Malformed)
        }),
    ];
    for (what, token, expected) in cases {
        let err = verifier
            .verify(&token)
            .await
            .expect_err(&format!("{what}: accepted"));
        assert!(expected(&err), "{what}: refused with {err:?}");
        assert!(!err.is_unavailable(), "{what}");
        // Errors carry no token contents.
        let text = format!("{err} {err:?}");
        for leaked in [
            "acme",
            "alice",
            "victim",
            "evil",
            "superuser",
            "stranger",
            "k1",
            "rsa-1",
        ] {
            assert!(
                !text.contains(leaked),
                "{what}: {text:?} contains {leaked:?}"
            );
        }
    }
    // The valid token still passes (nothing above poisoned the cache), and the stream of
    // unknown or mismatched keys cost at most one refetch.
    verifier.verify(&valid).await.unwrap();
    assert!(issuer.jwks_hits() <= 2, "{} JWKS reads", issuer.jwks_hits());
}

#[tokio::test]
async fn unknown_kid_refetches_pick_up_rotation_and_storms_are_bounded() {
    let old = TestKey::es256("2026-old");
    let new = TestKey::es256("2026-new");
    let issuer = Issuer::start(&[&old]).await;
    let clock = ManualClock::new();
    let verifier = JwtVerifier::with_clock(issuer.config(), clock.clone()).unwrap();
    let c = claims(&issuer);

    verifier.verify(&old.sign(&c)).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 1);

    // The IdP rotates: the new key replaces the old one.
    issuer.serve(&[&new]);
    // Within 30 s of the last read, an unknown kid does not refetch.
    clock.advance(29);
    assert!(matches!(
        verifier.verify(&new.sign(&c)).await,
        Err(JwtError::UnknownKey)
    ));
    assert_eq!(issuer.jwks_hits(), 1);
    // After it, the first unknown kid refetches, and the new key verifies.
    clock.advance(2);
    let p = verifier.verify(&new.sign(&c)).await.unwrap();
    assert_eq!(p.org.as_str(), "acme");
    assert_eq!(issuer.jwks_hits(), 2);
    // The removed key is gone from the cache.
    assert!(matches!(
        verifier.verify(&old.sign(&c)).await,
        Err(JwtError::UnknownKey)
    ));
    assert_eq!(issuer.jwks_hits(), 2);

    // A storm of tokens with made-up key ids, concurrently: right after a read, none refetches;
    // 30 s later, exactly one of them does.
    let storm = |round: usize| {
        let verifier = verifier.clone();
        let c = c.clone();
        let forger = TestKey::es256("forger");
        async move {
            let tokens: Vec<String> = (0..64)
                .map(|i| forger.sign_as(&format!("forged-{round}-{i}"), &c))
                .collect();
            let results =
                futures::future::join_all(tokens.iter().map(|t| verifier.verify(t))).await;
            for r in results {
                assert!(matches!(r, Err(JwtError::UnknownKey)), "{r:?}");
            }
        }
    };
    storm(0).await;
    assert_eq!(issuer.jwks_hits(), 2);
    clock.advance(31);
    storm(1).await;
    assert_eq!(
        issuer.jwks_hits(),
        3,
        "one refetch per 30 s, however many bad tokens"
    );
    // The valid key is still served from the cache throughout.
    verifier.verify(&new.sign(&c)).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 3);
}

#[tokio::test]
async fn periodic_refresh_picks_up_added_and_removed_keys() {
    let old = TestKey::es256("old");
    let new = TestKey::es256("new");
    let issuer = Issuer::start(&[&old]).await;
    let clock = ManualClock::new();
    let verifier = JwtVerifier::with_clock(
        OidcConfig {
            jwks_refresh_secs: 120,
            ..issuer.config()
        },
        clock.clone(),
    )
    .unwrap();
    let c = claims(&issuer);

    verifier.verify(&old.sign(&c)).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 1);
    issuer.serve(&[&new]);
    // Before the interval the cache is used as it is.
    clock.advance(119);
    verifier.verify(&old.sign(&c)).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 1);
    // Past it, the next request re-reads the JWKS before verifying: the new key is known
    // without an unknown-kid refetch ...
    clock.advance(2);
    verifier.verify(&new.sign(&c)).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 2);
    // ... and the removed key is refused (no further read: the set was just read).
    assert!(matches!(
        verifier.verify(&old.sign(&c)).await,
        Err(JwtError::UnknownKey)
    ));
    assert_eq!(issuer.jwks_hits(), 2);
}

#[tokio::test]
async fn an_unreachable_issuer_is_reported_and_not_hammered() {
    let key = TestKey::es256("k1");
    let issuer = Issuer::start(&[&key]).await;
    let clock = ManualClock::new();
    let verifier = JwtVerifier::with_clock(
        OidcConfig {
            jwks_url: Some(format!("{}/protocol/openid-connect/certs", issuer.url)),
            jwks_refresh_secs: 300,
            ..issuer.config()
        },
        clock.clone(),
    )
    .unwrap();
    let token = key.sign(&claims(&issuer));

    // Down from the start: 503-worthy errors, one request per 30 s however many tokens.
    issuer.state.failing.store(true, Ordering::SeqCst);
    for _ in 0..5 {
        let err = verifier.verify(&token).await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        assert!(err.to_string().contains("503"), "{err}");
    }
    assert_eq!(issuer.jwks_hits(), 1);
    clock.advance(30);
    issuer.state.failing.store(false, Ordering::SeqCst);
    verifier.verify(&token).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 2);

    // Down at refresh time: the cached keys stay in use, and the failed refresh is retried
    // only after 30 s.
    issuer.state.failing.store(true, Ordering::SeqCst);
    clock.advance(301);
    verifier.verify(&token).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 3);
    verifier.verify(&token).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 3);
    clock.advance(30);
    issuer.state.failing.store(false, Ordering::SeqCst);
    verifier.verify(&token).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 4);
    // Refreshed: the next read is a full interval away.
    clock.advance(299);
    verifier.verify(&token).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 4);
}

#[tokio::test]
async fn discovery_must_name_the_configured_issuer() {
    let key = TestKey::es256("k1");
    // The document claims another issuer than the one it is read from.
    let issuer = Issuer::start_naming(&[&key], Some("https://idp.example/realms/argus")).await;
    let verifier = JwtVerifier::new(issuer.config()).unwrap();
    let err = verifier
        .verify(&key.sign(&claims(&issuer)))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.to_string().contains("idp.example"), "{err}");
    assert_eq!(issuer.jwks_hits(), 0);
}

#[tokio::test]
async fn config_refuses_plain_http_to_a_remote_issuer() {
    for issuer in [
        "http://idp.example/realms/argus",
        "ftp://idp.example",
        "not a url",
        "",
    ] {
        let r = JwtVerifier::new(OidcConfig {
            issuer: issuer.into(),
            ..OidcConfig::default()
        });
        assert!(matches!(r, Err(JwtError::Config(_))), "{issuer:?}");
    }
    let r = JwtVerifier::new(OidcConfig {
        issuer: "https://idp.example/realms/argus".into(),
        jwks_url: Some("http://idp.example/certs".into()),
        ..OidcConfig::default()
    });
    assert!(matches!(r, Err(JwtError::Config(_))));
    // The documented keys and defaults, from TOML as the config file gives them.
    let parsed: OidcConfig = toml::from_str(
        r#"
        issuer = "https://idp.example/realms/argus"
        audience = "argus-api"
        default_role = "viewer"
        "#,
    )
    .unwrap();
    assert_eq!(parsed.org_claim, "org");
    assert_eq!(parsed.role_claim, "role");
    assert_eq!(parsed.user_claim, "sub");
    assert_eq!(parsed.default_role, Some(Role::Viewer));
    assert_eq!(parsed.jwks_refresh_secs, 600);
    assert_eq!(parsed.leeway_secs, 60);
    assert!(toml::from_str::<OidcConfig>("isuer = \"x\"").is_err());
}

/// Through the API (mode `apikey` with `[auth.oidc]`): a JWT acts as its org and role — an
/// analyst token may create a scan but not list API keys, another org's token sees nothing of
/// it — and API keys keep working beside JWTs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_accepts_jwts_as_their_org_and_role() {
    let key = TestKey::es256("ec-api");
    let issuer = Issuer::start(&[&key]).await;
    let s = common::start_with(common::Options {
        auth: argus_api::AuthConfig::ApiKey {
            oidc: Some(issuer.config()),
        },
        ..common::Options::default()
    })
    .await;
    let send = |token: String, method: &str, path: &str, body: Option<Value>| {
        let mut req = s
            .http
            .request(method.parse().unwrap(), s.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let res = req.send().await.unwrap();
            (
                res.status().as_u16(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let analyst = key.sign(&claims(&issuer));
    let mut viewer_claims = claims(&issuer);
    viewer_claims["role"] = json!("viewer");
    let viewer = key.sign(&viewer_claims);
    let mut other_claims = claims(&issuer);
    other_claims["org"] = json!("globex");
    other_claims["role"] = json!("admin");
    let other = key.sign(&other_claims);

    let config = common::noop_config(json!({}), &["noop://t/0"]);
    let (status, scan) = send(
        analyst.clone(),
        "POST",
        "/api/v1/scans",
        Some(json!({"config": config})),
    )
    .await;
    assert_eq!(status, 201, "{scan}");
    assert_eq!(scan["org_id"], "acme", "{scan}");
    let path = format!("/api/v1/scans/{}", scan["id"].as_str().unwrap());
    assert_eq!(send(viewer.clone(), "GET", &path, None).await.0, 200);
    assert_eq!(
        send(
            viewer,
            "POST",
            "/api/v1/scans",
            Some(json!({"config": config}))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        send(analyst.clone(), "GET", "/api/v1/apikeys", None)
            .await
            .0,
        403
    );
    assert_eq!(send(other.clone(), "GET", &path, None).await.0, 404);
    assert_eq!(send(other, "GET", "/api/v1/apikeys", None).await.0, 200);

    // A token of another issuer's key, and a tampered one, are 401.
    let stranger = TestKey::es256("ec-api");
    assert_eq!(
        send(stranger.sign(&claims(&issuer)), "GET", &path, None)
            .await
            .0,
        401
    );
    let mut tampered = analyst.clone();
    tampered.insert(tampered.len() - 2, 'A');
    assert_eq!(send(tampered, "GET", &path, None).await.0, 401);

    // API keys still work beside JWTs.
    let created = s
        .engine
        .api_keys()
        .create(argus_engine::services::NewKey {
            org: argus_core::ids::OrgId::parse("acme").unwrap(),
            role: Role::Viewer,
            name: String::new(),
            expires_at: None,
            created_by: "test".into(),
        })
        .await
        .unwrap();
    assert_eq!(send(created.key, "GET", &path, None).await.0, 200);
}
