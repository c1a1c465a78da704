//! Targets: what a scanner is pointed at.
//!
//! A [`Target`] is a kind plus a canonical value. It is only ever built through
//! [`Target::parse`], which validates and canonicalises the value (lower-cased domains, normalised
//! IPs and CIDRs, parsed URLs), so two spellings of the same target dedup to one key.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

use crate::error::CoreError;

/// The kinds of target Argus knows.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// A git repository: URL or local path.
    Repo,
    /// A storage location: `file://`, `s3://`, `az://`, `gs://`, `sharepoint://` plus a prefix.
    Location,
    /// One object inside a location.
    Object,
    /// A DNS name.
    Domain,
    /// One IPv4 or IPv6 address.
    Ip,
    /// An address block.
    Cidr,
    /// An http(s) URL.
    Url,
    /// An e-mail address.
    Email,
    /// A file uploaded to the API, by upload id.
    Upload,
    /// A network service: `host:port` (a DNS name or an address; IPv6 in brackets), as an open
    /// port is reported, so HTTP and TLS scanners can follow it.
    Service,
}

impl TargetKind {
    /// Every kind, in declaration order.
    pub const ALL: [TargetKind; 10] = [
        TargetKind::Repo,
        TargetKind::Location,
        TargetKind::Object,
        TargetKind::Domain,
        TargetKind::Ip,
        TargetKind::Cidr,
        TargetKind::Url,
        TargetKind::Email,
        TargetKind::Upload,
        TargetKind::Service,
    ];

    /// The wire name (`repo`, `domain`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Repo => "repo",
            TargetKind::Location => "location",
            TargetKind::Object => "object",
            TargetKind::Domain => "domain",
            TargetKind::Ip => "ip",
            TargetKind::Cidr => "cidr",
            TargetKind::Url => "url",
            TargetKind::Email => "email",
            TargetKind::Upload => "upload",
            TargetKind::Service => "service",
        }
    }

    /// Kinds tried, most specific first, when a target is given as a plain string (direct
    /// mode's argument, a Discovery run's `target`): see [`Target::guess`].
    pub const GUESS_ORDER: [TargetKind; 10] = [
        TargetKind::Ip,
        TargetKind::Cidr,
        TargetKind::Service,
        TargetKind::Email,
        TargetKind::Location,
        TargetKind::Url,
        TargetKind::Domain,
        TargetKind::Repo,
        TargetKind::Object,
        TargetKind::Upload,
    ];

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated, canonical target.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawTarget", into = "RawTarget")]
pub struct Target {
    kind: TargetKind,
    value: String,
}

/// The wire form of a target: `{"kind": "domain", "value": "example.com"}`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub kind: TargetKind,
    pub value: String,
}

// The OpenAPI schema of a Target is its wire form.
impl utoipa::PartialSchema for Target {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <RawTarget as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for Target {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <RawTarget as utoipa::ToSchema>::schemas(schemas);
    }
}

impl TryFrom<RawTarget> for Target {
    type Error = CoreError;
    fn try_from(raw: RawTarget) -> Result<Self, Self::Error> {
        Target::parse(raw.kind, &raw.value)
    }
}

impl From<Target> for RawTarget {
    fn from(t: Target) -> Self {
        RawTarget {
            kind: t.kind,
            value: t.value,
        }
    }
}

const LOCATION_SCHEMES: [&str; 5] = ["file", "s3", "az", "gs", "sharepoint"];

impl Target {
    /// Validates and canonicalises `value` as a target of `kind`.
    pub fn parse(kind: TargetKind, value: &str) -> Result<Self, CoreError> {
        let value = value.trim();
        let bad =
            |msg: &str| CoreError::invalid("/value", format!("not a valid {kind} target: {msg}"));
        if value.is_empty() {
            return Err(bad("empty"));
        }
        if value.len() > 4096 {
            return Err(bad("longer than 4096 characters"));
        }
        if value.chars().any(char::is_control) {
            return Err(bad("contains control characters"));
        }
        let canonical = match kind {
            TargetKind::Domain => {
                let d = value.trim_end_matches('.').to_ascii_lowercase();
                if !is_domain(&d) {
                    return Err(bad("expected a DNS name such as example.com"));
                }
                d
            }
            TargetKind::Ip => value
                .parse::<IpAddr>()
                .map_err(|_| bad("expected an IPv4 or IPv6 address"))?
                .to_string(),
            TargetKind::Cidr => {
                let (ip, prefix) = value
                    .split_once('/')
                    .ok_or_else(|| bad("expected address/prefix"))?;
                let ip: IpAddr = ip.parse().map_err(|_| bad("expected address/prefix"))?;
                let prefix: u8 = prefix.parse().map_err(|_| bad("prefix is not a number"))?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                if prefix > max {
                    return Err(bad("prefix too long"));
                }
                format!("{ip}/{prefix}")
            }
            TargetKind::Url => {
                let u = url::Url::parse(value).map_err(|e| bad(&e.to_string()))?;
                if u.host_str().is_none() && u.scheme() != "noop" {
                    return Err(bad("URL has no host"));
                }
                u.to_string()
            }
            TargetKind::Email => {
                let (local, domain) = value
                    .rsplit_once('@')
                    .ok_or_else(|| bad("expected name@domain"))?;
                let domain = domain.to_ascii_lowercase();
                if local.is_empty() || local.len() > 64 || !is_domain(&domain) {
                    return Err(bad("expected name@domain"));
                }
                format!("{local}@{domain}")
            }
            TargetKind::Location | TargetKind::Object => {
                let u = url::Url::parse(value).map_err(|e| bad(&e.to_string()))?;
                if !LOCATION_SCHEMES.contains(&u.scheme()) {
                    return Err(bad("scheme must be one of file, s3, az, gs, sharepoint"));
                }
                u.to_string()
            }
            TargetKind::Service => {
                let (host, port) = split_host_port(value)
                    .ok_or_else(|| bad("expected host:port, e.g. example.com:443 or [::1]:80"))?;
                let host = canonical_host(host).ok_or_else(|| {
                    bad("the host must be a DNS name or an IP address (IPv6 in brackets)")
                })?;
                let port: u16 = port
                    .parse()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?;
                join_host_port(&host, port)
            }
            TargetKind::Repo => value.to_owned(),
            TargetKind::Upload => {
                if !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err(bad("expected an upload id"));
                }
                value.to_owned()
            }
        };
        Ok(Target {
            kind,
            value: canonical,
        })
    }

    /// A plain string as the first kind of [`TargetKind::GUESS_ORDER`] that `accepts` and that
    /// it parses as; `None` when there is none.
    pub fn guess(value: &str, accepts: impl Fn(TargetKind) -> bool) -> Option<Target> {
        TargetKind::GUESS_ORDER
            .into_iter()
            .filter(|k| accepts(*k))
            .find_map(|k| Target::parse(k, value).ok())
    }

    /// The target's kind.
    pub fn kind(&self) -> TargetKind {
        self.kind
    }

    /// The canonical value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// A stable key for dedup within a scan: `kind:value`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind, self.value)
    }

    /// The host part used for scope checks (domains, URLs, e-mails, IPs).
    pub fn host(&self) -> Option<String> {
        match self.kind {
            TargetKind::Domain | TargetKind::Ip => Some(self.value.clone()),
            TargetKind::Url => url::Url::parse(&self.value)
                .ok()?
                .host_str()
                .map(str::to_owned),
            TargetKind::Email => self.value.rsplit_once('@').map(|(_, d)| d.to_owned()),
            TargetKind::Service => split_host_port(&self.value)
                .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']').to_owned()),
            TargetKind::Cidr => Some(self.value.clone()),
            _ => None,
        }
    }

    /// The port of a `service` target, or of a URL (its explicit or default port).
    pub fn port(&self) -> Option<u16> {
        match self.kind {
            TargetKind::Service => split_host_port(&self.value).and_then(|(_, p)| p.parse().ok()),
            TargetKind::Url => url::Url::parse(&self.value).ok()?.port_or_known_default(),
            _ => None,
        }
    }

    /// A `service` target for `host` (a DNS name or an address) and `port`.
    pub fn service(host: &str, port: u16) -> Result<Target, CoreError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Target::parse(TargetKind::Service, &join_host_port(host, port))
    }
}

/// `host:port` with an IPv6 host in brackets.
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Splits `host:port` / `[v6]:port` (the host keeps its brackets).
fn split_host_port(value: &str) -> Option<(&str, &str)> {
    if value.starts_with('[') {
        let end = value.find(']')?;
        let rest = value[end + 1..].strip_prefix(':')?;
        Some((&value[..=end], rest))
    } else {
        let (h, p) = value.rsplit_once(':')?;
        (!h.contains(':')).then_some((h, p))
    }
}

/// A lower-cased DNS name or a normalised address (IPv6 without brackets).
fn canonical_host(host: &str) -> Option<String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    let d = host.trim_end_matches('.').to_ascii_lowercase();
    is_domain(&d).then_some(d)
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalises_and_rejects() {
        let d = Target::parse(TargetKind::Domain, "WWW.Example.COM.").unwrap();
        assert_eq!(d.value(), "www.example.com");
        assert!(Target::parse(TargetKind::Domain, "bad_domain..com").is_err());
        assert_eq!(
            Target::parse(TargetKind::Ip, "::0001").unwrap().value(),
            "::1"
        );
        assert!(Target::parse(TargetKind::Cidr, "10.0.0.0/33").is_err());
        assert!(Target::parse(TargetKind::Location, "http://x/y").is_err());
        assert!(Target::parse(TargetKind::Location, "s3://bucket/prefix").is_ok());
        assert!(Target::parse(TargetKind::Email, "a@B.org").unwrap().value() == "a@b.org");
        assert!(Target::parse(TargetKind::Url, "").is_err());
        let t: Target = serde_json::from_str(r#"{"kind":"domain","value":"a.b"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"kind":"domain","value":"a.b"}"#
        );
        assert!(serde_json::from_str::<Target>(r#"{"kind":"ip","value":"300.1.1.1"}"#).is_err());
        assert_eq!(
            Target::parse(TargetKind::Url, "https://X.example/a")
                .unwrap()
                .host()
                .as_deref(),
            Some("x.example")
        );
    }

    #[test]
    fn services_are_host_and_port() {
        let s = Target::parse(TargetKind::Service, "WWW.Example.com:443").unwrap();
        assert_eq!(s.value(), "www.example.com:443");
        assert_eq!(s.host().as_deref(), Some("www.example.com"));
        assert_eq!(s.port(), Some(443));
        let v6 = Target::parse(TargetKind::Service, "[::0001]:8080").unwrap();
        assert_eq!(v6.value(), "[::1]:8080");
        assert_eq!(v6.host().as_deref(), Some("::1"));
        assert_eq!(Target::service("::1", 22).unwrap().value(), "[::1]:22");
        assert_eq!(
            Target::service("10.0.0.1", 22).unwrap().value(),
            "10.0.0.1:22"
        );
        for bad in [
            "example.com",
            "example.com:0",
            "example.com:70000",
            "::1:80",
            "a b:1",
            ":80",
        ] {
            assert!(Target::parse(TargetKind::Service, bad).is_err(), "{bad}");
        }
        let u = Target::parse(TargetKind::Url, "https://a.example/").unwrap();
        assert_eq!(u.port(), Some(443));
    }
}
