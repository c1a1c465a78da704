//! Cross-origin requests from browsers (CORS).
//!
//! Off unless origins are listed: without the layer no answer carries
//! `Access-Control-Allow-*` headers, so a browser page from another origin cannot read the API.
//! Credentials (cookies) are never allowed: the API takes bearer tokens, which a page sends in
//! `Authorization` itself, so no ambient browser credential can be ridden by another site.
//!
//! Invariant: each listed origin is checked at start-up to be a bare `scheme://host[:port]`
//! (what browsers send in `Origin`), since one with a path or a trailing slash would never
//! match and silently allow nothing.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::EdgeError;

/// Default methods a cross-origin page may use.
pub const DEFAULT_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// Default request headers a cross-origin page may send.
pub const DEFAULT_HEADERS: [&str; 3] = ["authorization", "content-type", "last-event-id"];
/// Answer headers a cross-origin page may read besides the always-readable ones.
const EXPOSED: [&str; 3] = ["location", "retry-after", "content-disposition"];
/// Default time a browser may cache a preflight answer.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

/// CORS settings.
#[derive(Clone, Debug)]
pub struct CorsConfig {
    /// Origins allowed to call the API (`https://console.example.com`), or `["*"]` for any;
    /// empty: CORS off.
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    /// How long a browser may cache a preflight answer.
    pub max_age: Duration,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            allowed_origins: Vec::new(),
            allowed_methods: DEFAULT_METHODS.iter().map(|s| (*s).to_owned()).collect(),
            allowed_headers: DEFAULT_HEADERS.iter().map(|s| (*s).to_owned()).collect(),
            max_age: DEFAULT_MAX_AGE,
        }
    }
}

/// The layer for `config`; `None` when no origin is listed.
pub fn layer(config: &CorsConfig) -> Result<Option<CorsLayer>, EdgeError> {
    if config.allowed_origins.is_empty() {
        return Ok(None);
    }
    let origins = if config.allowed_origins.iter().any(|o| o.trim() == "*") {
        if config.allowed_origins.len() > 1 {
            return Err(EdgeError::CorsOrigin(
                "\"*\" allows every origin and cannot be listed with others".into(),
            ));
        }
        AllowOrigin::any()
    } else {
        let list = config
            .allowed_origins
            .iter()
            .map(|o| origin(o))
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(list)
    };
    let methods = config
        .allowed_methods
        .iter()
        .map(|m| {
            m.trim()
                .to_ascii_uppercase()
                .parse::<Method>()
                .map_err(|_| EdgeError::Cors {
                    field: "allowed_methods",
                    detail: format!("'{m}' is not an HTTP method"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let headers = config
        .allowed_headers
        .iter()
        .map(|h| {
            HeaderName::try_from(h.trim()).map_err(|_| EdgeError::Cors {
                field: "allowed_headers",
                detail: format!("'{h}' is not a header name"),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods(methods)
            .allow_headers(headers)
            .expose_headers(EXPOSED.map(HeaderName::from_static))
            .allow_credentials(false)
            .max_age(config.max_age),
    ))
}

/// Checks that `s` is an origin as browsers send it: `scheme://host[:port]`, nothing after.
fn origin(s: &str) -> Result<HeaderValue, EdgeError> {
    let s = s.trim();
    let bad = |why: &str| EdgeError::CorsOrigin(format!("'{s}' {why}"));
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| bad("is not an origin such as https://console.example.com"))?;
    if !matches!(scheme, "http" | "https") {
        return Err(bad("must start with http:// or https://"));
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return Err(bad(
            "must be scheme://host[:port] only (no path, no trailing slash, no user)",
        ));
    }
    if host_port(rest).is_none() {
        return Err(bad("has no valid host[:port]"));
    }
    HeaderValue::from_str(s).map_err(|_| bad("is not a valid header value"))
}

/// `Some` when `rest` reads as `host[:port]`: a bracketed IPv6 address, or a name or IPv4
/// address of the usual characters, and a numeric port.
fn host_port(rest: &str) -> Option<()> {
    let (host, port) = if let Some(after) = rest.strip_prefix('[') {
        let (v6, tail) = after.split_once(']')?;
        v6.parse::<std::net::Ipv6Addr>().ok()?;
        (None, tail.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(rest), None),
        }
    };
    if let Some(h) = host {
        let ok = !h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !ok {
            return None;
        }
    }
    if let Some(p) = port {
        p.parse::<u16>().ok()?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origins(origins: &[&str]) -> CorsConfig {
        CorsConfig {
            allowed_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            ..CorsConfig::default()
        }
    }

    #[test]
    fn off_without_origins() {
        assert!(layer(&CorsConfig::default()).unwrap().is_none());
    }

    #[test]
    fn origins_must_be_bare() {
        for good in [
            "https://console.example.com",
            "http://localhost:3000",
            "https://[::1]:8443",
            "*",
        ] {
            assert!(layer(&with_origins(&[good])).unwrap().is_some(), "{good}");
        }
        for bad in [
            "console.example.com",
            "https://console.example.com/",
            "https://console.example.com/app",
            "ftp://example.com",
            "https://user@example.com",
            "https://example.com:port",
            "https://",
        ] {
            assert!(layer(&with_origins(&[bad])).is_err(), "{bad}");
        }
        assert!(layer(&with_origins(&["*", "https://a.example"])).is_err());
    }

    #[test]
    fn methods_and_headers_are_checked() {
        let mut c = with_origins(&["https://a.example"]);
        c.allowed_methods = vec!["get".into(), "FETCH ME".into()];
        assert!(layer(&c).is_err());
        let mut c = with_origins(&["https://a.example"]);
        c.allowed_headers = vec!["bad header".into()];
        assert!(layer(&c).is_err());
    }
}
