//! Identity: who a request acts as.
//!
//! Two modes for now (API keys come later):
//! - `Local`: every request acts as one configured principal.
//! - `TrustedHeaders`: a gateway in front of Argus authenticates users and passes `X-User-ID`
//!   and `X-Org-ID`. The headers are honoured only from the configured proxy addresses; a request
//!   without valid headers, or from an untrusted peer, is 401. An empty proxy list trusts no peer
//!   (every request is 401): trusting every peer would let anyone claim any org, so `argus serve`
//!   refuses to start with that config, and the router fails closed if given it anyway.
//!   A header sent twice is ambiguous (which org?) and answers 400 rather than picking one.
//!
//! Invariant: every handler takes a [`Caller`] and passes its principal to every engine service
//! call; the services scope every read and write by its org, so a record of another
//! organisation is never visible (it is a 404). Every caller acts as an admin until roles are
//! enforced.

pub mod jwt;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use argus_core::ids::{OrgId, Principal, Role, UserId};

use crate::problem::{Code, Problem};
use crate::AppState;

/// The header carrying the user id in trusted-headers mode.
pub const USER_HEADER: &str = "x-user-id";
/// The header carrying the organisation id in trusted-headers mode.
pub const ORG_HEADER: &str = "x-org-id";

/// How requests are identified.
#[derive(Clone, Debug)]
pub enum AuthConfig {
    /// Every request acts as this principal.
    Local { principal: Principal },
    /// `X-User-ID` / `X-Org-ID` set by a trusted gateway; missing or invalid headers are 401.
    TrustedHeaders {
        /// The configured local principal. Requests never fall back to it (a request without
        /// valid headers is 401); it is kept so the config shape is the same in both modes.
        default: Principal,
        /// Peers whose headers are honoured; empty trusts no peer (every request is 401).
        trusted_proxies: Vec<IpAddr>,
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

/// Resolved form of [`AuthConfig`] kept in the router state (the local principal is shared, so
/// identifying a request allocates nothing).
#[derive(Debug)]
pub(crate) enum Auth {
    Local(Arc<Principal>),
    Trusted { proxies: Vec<IpAddr> },
}

impl From<AuthConfig> for Auth {
    fn from(c: AuthConfig) -> Self {
        match c {
            AuthConfig::Local { principal } => Auth::Local(Arc::new(principal)),
            AuthConfig::TrustedHeaders {
                trusted_proxies,
                default: _,
            } => Auth::Trusted {
                proxies: trusted_proxies
                    .into_iter()
                    .map(|ip| ip.to_canonical())
                    .collect(),
            },
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match &state.auth {
            Auth::Local(p) => Ok(Caller(p.clone())),
            Auth::Trusted { proxies } => identify(parts, proxies).map(|p| Caller(Arc::new(p))),
        }
    }
}

fn identify(parts: &Parts, proxies: &[IpAddr]) -> Result<Principal, Problem> {
    if proxies.is_empty() {
        return Err(unauthorized(
            "trusted-headers mode without auth.trusted_proxies trusts no peer",
        ));
    }
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical());
    if !peer.is_some_and(|ip| proxies.contains(&ip)) {
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
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| unauthorized(format!("missing or unreadable {name} header")))
    };
    let org = OrgId::parse(header(ORG_HEADER)?)
        .map_err(|_| unauthorized(format!("invalid {ORG_HEADER} header")))?;
    let user = UserId::parse(header(USER_HEADER)?)
        .map_err(|_| unauthorized(format!("invalid {USER_HEADER} header")))?;
    // Roles are not enforced yet: a gateway's user may do what every caller could so far.
    Ok(Principal {
        org,
        user,
        role: Role::Admin,
    })
}

fn unauthorized(detail: impl Into<String>) -> Problem {
    Problem::new(Code::Unauthorized, detail)
}
