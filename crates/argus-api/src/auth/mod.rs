//! Identity and permissions: who a request acts as, and whether its role may call the route.
//!
//! Modes (`auth.mode`):
//! - `local`: every request acts as one configured principal, an admin. The zero-config
//!   default, allowed only on a loopback bind (`argus serve` refuses another address).
//! - `trusted-headers`: a gateway in front of Argus authenticates people and passes
//!   `X-User-ID`, `X-Org-ID` and optionally `X-User-Role`. The headers are honoured only from
//!   the configured proxy addresses or networks; a request without valid headers, or from
//!   any other peer, is 401. An empty proxy list trusts no peer (every request is 401). A
//!   header sent twice is ambiguous (which org?) and answers 400.
//! - `apikey`: every route but health and the API document needs `Authorization: Bearer …`
//!   with an Argus API key (`argus_…`, see `argus_engine::services::apikeys`) or, when
//!   `[auth.oidc]` is configured, a JWT of that issuer verified against its JWKS ([`jwt`]).
//!
//! Permissions: every operation of the OpenAPI document declares the permission it needs as
//! its security requirement — `security(("bearer" = ["read"]))`, `["write"]` or `["admin"]`
//! — or none at all (`security(())`: health and the document itself). [`authenticate`] reads
//! that declaration from the document for the route axum matched and enforces it, so the
//! permission a route documents is the permission it checks; a route the document does not
//! know is refused (fail closed). A known caller whose role lacks the permission is 403.
//!
//! Invariants:
//! - Every handler takes a [`Caller`] and passes its principal to every engine service call;
//!   the services scope every read and write by its org, so a record of another organisation
//!   is never visible (it is a 404). Tenancy is the services', roles are this module's.
//! - The identified [`Caller`] is put into the request's extensions for the handler and into
//!   the response's extensions (also on a 403) for the layers outside, such as the audit log.
//! - No credential is logged or kept: a refused key is logged by its public prefix only.

pub mod jwt;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use argus_core::ids::{OrgId, Permission, Principal, Role, UserId};

use crate::problem::{Code, Problem};
use crate::AppState;

/// The header carrying the user id in trusted-headers mode.
pub const USER_HEADER: &str = "x-user-id";
/// The header carrying the organisation id in trusted-headers mode.
pub const ORG_HEADER: &str = "x-org-id";
/// The header carrying the role in trusted-headers mode (optional).
pub const ROLE_HEADER: &str = "x-user-role";

/// How requests are identified.
#[derive(Clone, Debug)]
pub enum AuthConfig {
    /// Every request acts as this principal.
    Local { principal: Principal },
    /// `X-User-ID` / `X-Org-ID` (and `X-User-Role`) set by a trusted gateway; missing or
    /// invalid headers are 401.
    TrustedHeaders {
        /// Peers whose headers are honoured (single addresses are /32 or /128 networks);
        /// empty trusts no peer (every request is 401).
        trusted_proxies: Vec<IpNet>,
        /// The role of a request without `X-User-Role`.
        default_role: Role,
    },
    /// Bearer API keys, and JWTs of the configured OIDC issuer.
    ApiKey {
        /// `[auth.oidc]`, when JWTs are accepted too.
        oidc: Option<jwt::OidcConfig>,
    },
}

/// The principal a request acts as.
#[derive(Clone, Debug)]
pub struct Caller(pub Arc<Principal>);

impl std::ops::Deref for Caller {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

/// What a route needs: nothing, or a permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without identifying (health, the API document).
    Public,
    /// An identified caller whose role has this permission.
    Needs(Permission),
}

/// Resolved form of [`AuthConfig`] kept in the router state.
pub(crate) struct Auth {
    mode: Mode,
    /// (method, OpenAPI path) → what the route needs, read from the OpenAPI document.
    access: HashMap<(Method, String), Access>,
}

enum Mode {
    Local(Arc<Principal>),
    Trusted {
        proxies: Vec<IpNet>,
        default_role: Role,
    },
    Keys {
        jwt: Option<jwt::JwtVerifier>,
    },
}

impl Auth {
    /// The mode's name as `auth.mode` spells it: `local`, `trusted-headers` or `apikey`.
    pub(crate) fn mode_name(&self) -> &'static str {
        match &self.mode {
            Mode::Local(_) => "local",
            Mode::Trusted { .. } => "trusted-headers",
            Mode::Keys { .. } => "apikey",
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("mode", &self.mode_name())
            .field("routes", &self.access.len())
            .finish()
    }
}

/// Why the auth config cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("auth.oidc: {0}")]
    Oidc(#[from] jwt::JwtError),
}

impl Auth {
    pub(crate) fn new(
        config: AuthConfig,
        spec: &serde_json::Value,
    ) -> Result<Self, AuthSetupError> {
        let mode = match config {
            AuthConfig::Local { principal } => Mode::Local(Arc::new(principal)),
            AuthConfig::TrustedHeaders {
                trusted_proxies,
                default_role,
            } => Mode::Trusted {
                proxies: trusted_proxies,
                default_role,
            },
            AuthConfig::ApiKey { oidc } => Mode::Keys {
                jwt: oidc.map(jwt::JwtVerifier::new).transpose()?,
            },
        };
        Ok(Auth {
            mode,
            access: access_table(spec),
        })
    }
}

impl Auth {
    /// Bearer mode without a JWT verifier: for a config that could not be set up.
    pub(crate) fn refusing(spec: &serde_json::Value) -> Self {
        Auth {
            mode: Mode::Keys { jwt: None },
            access: access_table(spec),
        }
    }
}

/// Reads every operation's declared access from the OpenAPI document: no `security`, or a
/// requirement without schemes, is public; `{"bearer": ["write"]}` needs `write`. An
/// unreadable declaration needs `admin` (fail closed); a test checks there is none.
pub fn access_table(spec: &serde_json::Value) -> HashMap<(Method, String), Access> {
    let mut out = HashMap::new();
    let Some(paths) = spec.get("paths").and_then(|p| p.as_object()) else {
        return out;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                continue;
            };
            out.insert((method, path.clone()), declared_access(op));
        }
    }
    out
}

/// One operation's declared access (see [`access_table`]).
pub fn declared_access(op: &serde_json::Value) -> Access {
    let Some(reqs) = op.get("security").and_then(|s| s.as_array()) else {
        return Access::Public;
    };
    if reqs
        .iter()
        .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
    {
        return Access::Public;
    }
    let perm = reqs
        .iter()
        .filter_map(|r| r.get("bearer")?.as_array()?.first()?.as_str())
        .filter_map(Permission::parse)
        .min();
    Access::Needs(perm.unwrap_or(Permission::Admin))
}

/// Adds the answers of the auth layer (401, 403, and 400 for a repeated identity header) to
/// every operation that needs a caller, so the document lists what [`authenticate`] may answer.
pub fn document(spec: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let problem = |what: &str| {
        ResponseBuilder::new()
            .description(what)
            .content(
                crate::problem::PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
    };
    for item in spec.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
        ]
        .into_iter()
        .flatten()
        {
            let declared = serde_json::to_value(&*op).unwrap_or_default();
            let Access::Needs(p) = declared_access(&declared) else {
                continue;
            };
            let r = &mut op.responses.responses;
            r.entry("401".into()).or_insert_with(|| {
                problem("No valid identity (API key, JWT or trusted headers)").into()
            });
            r.entry("403".into()).or_insert_with(|| {
                problem(&format!(
                    "The caller's role lacks the `{}` permission",
                    p.as_str()
                ))
                .into()
            });
            r.entry("400".into()).or_insert_with(|| {
                problem("An identity header (e.g. Authorization) is sent more than once").into()
            });
        }
    }
}

/// The route's OpenAPI path for axum's matched path (`{*name}` is documented as `{name}`).
fn openapi_path(matched: &str) -> String {
    matched.replace("{*", "{")
}

/// The middleware: identifies the caller of every route that needs one and checks the
/// route's declared permission.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let auth = &state.auth;
    let access = match req.extensions().get::<MatchedPath>() {
        // No route matched: the fallback answers 404 without touching anything.
        None => return next.run(req).await,
        Some(m) => {
            let path = openapi_path(m.as_str());
            let method = if req.method() == Method::HEAD {
                Method::GET
            } else {
                req.method().clone()
            };
            match auth.access.get(&(method, path.clone())) {
                Some(a) => *a,
                // The interactive docs (not operations of the document) are public.
                None if path == "/docs" || path.starts_with("/docs/") => Access::Public,
                // So are the web UI's files: they hold no data, and the page calls the API
                // with the person's token like any other client.
                None if crate::ui::is_ui_route(&path) => Access::Public,
                // A documented path with another method: axum answers 405 without a handler.
                None if auth.access.keys().any(|(_, p)| *p == path) => Access::Public,
                None => {
                    tracing::error!(route = %path, "route missing from the OpenAPI document; refused");
                    return Problem::new(Code::Forbidden, "this route declares no permission")
                        .into_response();
                }
            }
        }
    };
    let Access::Needs(permission) = access else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let caller = match identify(&state, &parts).await {
        Ok(p) => Caller(p),
        Err(problem) => return problem.into_response(),
    };
    if !caller.role.allows(permission) {
        let mut res = Problem::new(
            Code::Forbidden,
            format!(
                "this needs the {} permission; role {} of {} does not have it (ask an admin \
                 of the organisation for a {} key)",
                permission.as_str(),
                caller.role,
                caller.org,
                permission.lowest_role()
            ),
        )
        .into_response();
        res.extensions_mut().insert(caller);
        return res;
    }
    parts.extensions.insert(caller.clone());
    let mut res = next.run(Request::from_parts(parts, body)).await;
    res.extensions_mut().insert(caller);
    res
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Set by `authenticate` for every route that needs a caller; a handler of a public
        // route has none to take.
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| unauthorized("this route identifies no caller"))
    }
}

async fn identify(state: &AppState, parts: &Parts) -> Result<Arc<Principal>, Problem> {
    match &state.auth.mode {
        Mode::Local(p) => Ok(p.clone()),
        Mode::Trusted {
            proxies,
            default_role,
        } => from_headers(parts, proxies, *default_role).map(Arc::new),
        Mode::Keys { jwt } => bearer(state, parts, jwt.as_ref()).await.map(Arc::new),
    }
}

async fn bearer(
    state: &AppState,
    parts: &Parts,
    jwt: Option<&jwt::JwtVerifier>,
) -> Result<Principal, Problem> {
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next();
    if values.next().is_some() {
        return Err(Problem::new(
            Code::BadRequest,
            "the Authorization header is sent more than once",
        ));
    }
    let token = value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            unauthorized(
                "send an API key or a token as `Authorization: Bearer …` (create a key with \
                 `argus admin apikey create --org ORG --role ROLE`)",
            )
        })?;
    if token.starts_with(argus_core::apikey::KEY_PREFIX) {
        return state
            .engine
            .api_keys()
            .authenticate(token)
            .await
            .map_err(|e| match e {
                argus_engine::services::KeyRefused::Store(e) => Problem::from(e),
                refused => {
                    let prefix: String = token.chars().take(6 + 12).collect();
                    tracing::info!(key = %prefix, reason = %refused, "API key refused");
                    unauthorized(refused.to_string())
                }
            });
    }
    match jwt {
        Some(v) if jwt::JwtVerifier::looks_like_jwt(token) => {
            v.verify(token).await.map_err(|e| {
                if e.is_unavailable() {
                    // The issuer's keys cannot be read: the token may be fine, retry later.
                    tracing::warn!(reason = %e, "cannot verify a bearer JWT");
                    Problem::new(
                        Code::Unavailable,
                        format!("cannot verify the token now: {e}"),
                    )
                } else {
                    tracing::info!(reason = %e, "bearer JWT refused");
                    unauthorized(format!("bearer token refused: {e}"))
                }
            })
        }
        Some(_) => Err(unauthorized(
            "the bearer token is neither an API key nor a JWT",
        )),
        None => Err(unauthorized(
            "the bearer token is not an Argus API key (argus_…)",
        )),
    }
}

fn from_headers(
    parts: &Parts,
    proxies: &[IpNet],
    default_role: Role,
) -> Result<Principal, Problem> {
    if proxies.is_empty() {
        return Err(unauthorized(
            "trusted-headers mode without auth.trusted_proxies trusts no peer",
        ));
    }
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical());
    if !peer.is_some_and(|ip| trusted(proxies, ip)) {
        return Err(unauthorized(
            "identity headers are honoured only from trusted proxies",
        ));
    }
    let header = |name: &str| {
        let mut values = parts.headers.get_all(name).iter();
        let value = values.next();
        if values.next().is_some() {
            return Err(Problem::new(
                Code::BadRequest,
                format!("the {name} header is sent more than once"),
            ));
        }
        value
            .map(|v| {
                v.to_str()
                    .map_err(|_| unauthorized(format!("unreadable {name} header")))
            })
            .transpose()
    };
    let required =
        |name: &str| header(name)?.ok_or_else(|| unauthorized(format!("missing {name} header")));
    let org = OrgId::parse(required(ORG_HEADER)?)
        .map_err(|_| unauthorized(format!("invalid {ORG_HEADER} header")))?;
    let user = UserId::parse(required(USER_HEADER)?)
        .map_err(|_| unauthorized(format!("invalid {USER_HEADER} header")))?;
    let role = match header(ROLE_HEADER)? {
        None => default_role,
        Some(r) => Role::parse(r).map_err(|_| {
            unauthorized(format!(
                "invalid {ROLE_HEADER} header: use admin, analyst or viewer"
            ))
        })?,
    };
    Ok(Principal { org, user, role })
}

/// Whether `ip` is inside one of the trusted networks (IPv4-mapped IPv6 compared as IPv4).
pub fn trusted(proxies: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    proxies.iter().any(|net| match (net, ip) {
        (IpNet::V6(n), IpAddr::V6(v6)) => n.contains(&v6),
        (IpNet::V4(n), IpAddr::V4(v4)) => n.contains(&v4),
        _ => false,
    })
}

fn unauthorized(detail: impl Into<String>) -> Problem {
    Problem::new(Code::Unauthorized, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn declared_access_reads_the_security_requirement() {
        assert_eq!(declared_access(&json!({})), Access::Public);
        assert_eq!(declared_access(&json!({"security": [{}]})), Access::Public);
        assert_eq!(
            declared_access(&json!({"security": [{"bearer": ["write"]}]})),
            Access::Needs(Permission::Write)
        );
        assert_eq!(
            declared_access(&json!({"security": [{"bearer": ["nonsense"]}]})),
            Access::Needs(Permission::Admin),
            "an unreadable declaration fails closed"
        );
    }

    #[test]
    fn trusted_networks_match_addresses_and_mapped_ones() {
        let nets: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        assert!(trusted(&nets, "10.1.2.3".parse().unwrap()));
        assert!(trusted(&nets, "::ffff:10.1.2.3".parse().unwrap()));
        assert!(trusted(&nets, "::1".parse().unwrap()));
        assert!(!trusted(&nets, "11.0.0.1".parse().unwrap()));
        assert!(!trusted(&nets, "127.0.0.1".parse().unwrap()));
    }
}
