//! Name resolution shared by the recon scanners: one way to build a resolver and one way to
//! turn a name into addresses the task may reach.
//!
//! - [`resolver`] builds a `hickory` resolver that asks one given server (a `resolver` param,
//!   a `[scanners.<name>] resolver` setting) or the servers of `/etc/resolv.conf`. Answers are
//!   not cached past their use (TTLs are capped at zero), so wildcard probes and repeated
//!   lookups always reach the server; names are asked as given (no search domains, no hosts
//!   file).
//! - [`choose_server`] decides which server a task asks: a param-given server is the tenant's
//!   choice and passes the task's network guard like any other address (a tenant must not
//!   reach a private resolver of the operator's network through it); a config-given one is the
//!   operator's and is trusted.
//! - [`lookup_ips`] resolves a name and splits the answer by the network guard: the addresses
//!   the task may reach and the refusals, which the caller reports (never an error).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use argus_core::net::{Denied, NetPolicy};
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RecordType;
pub use hickory_resolver::TokioResolver;

/// Where the system's servers are listed when no server is given.
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// Why a resolver could not be built or a lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No server given and none found in `/etc/resolv.conf`.
    #[error("no DNS server: none given and {0}")]
    NoServer(String),
    /// A `resolver` value that is not `ip` or `ip:port`.
    #[error("'{0}' is not a DNS server address (expected ip or ip:port, e.g. 127.0.0.1:5353)")]
    BadAddress(String),
    /// The server did not answer usefully (timeout, refusal, server failure).
    #[error("DNS lookup of {name} failed: {message}")]
    Lookup { name: String, message: String },
}

impl ResolveError {
    /// Whether another attempt may succeed (a timeout, a busy server).
    pub fn is_transient(&self) -> bool {
        matches!(self, ResolveError::Lookup { .. })
    }
}

/// Parses a server address: `ip:port`, `[v6]:port` or a bare `ip` (port 53).
pub fn parse_server(s: &str) -> Result<SocketAddr, ResolveError> {
    let s = s.trim();
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    s.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| ResolveError::BadAddress(s.to_owned()))
}

/// The server a task asks: the param's (checked by `policy`), else the config's (trusted),
/// else `None` (the system's). `Err(Denied)` when the param names a refused address.
pub fn choose_server(
    param: Option<SocketAddr>,
    config: Option<SocketAddr>,
    policy: &NetPolicy,
) -> Result<Option<SocketAddr>, Denied> {
    match param {
        Some(addr) => policy.check(addr.ip()).map(|()| Some(addr)),
        None => Ok(config),
    }
}

/// A resolver asking `server` (else the servers of `/etc/resolv.conf`), each query given up
/// after `timeout` and tried twice. `concurrency` bounds the queries in flight on one
/// connection (brute force asks many at once).
pub fn resolver(
    server: Option<SocketAddr>,
    timeout: Duration,
    concurrency: usize,
) -> Result<TokioResolver, ResolveError> {
    let servers = servers(server)?;
    let name_servers = servers
        .iter()
        .map(|addr| {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            ns
        })
        .collect();
    let config = ResolverConfig::from_name_servers(name_servers);
    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.attempts = 2;
    opts.ndots = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    // No answer outlives its lookup: a wildcard probe and the brute force after it see the
    // server's answers, not a cache's.
    opts.positive_max_ttl = Some(Duration::ZERO);
    opts.negative_max_ttl = Some(Duration::ZERO);
    opts.max_active_requests = concurrency.max(32);
    opts.num_concurrent_reqs = 1;
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    *builder.options_mut() = opts;
    builder.build().map_err(|e| ResolveError::Lookup {
        name: "(resolver)".into(),
        message: e.to_string(),
    })
}

/// The servers a resolver built with `server` asks: that one, else the system's.
pub fn servers(server: Option<SocketAddr>) -> Result<Vec<SocketAddr>, ResolveError> {
    match server {
        Some(addr) => Ok(vec![addr]),
        None => system_servers(),
    }
}

/// The `nameserver` lines of `/etc/resolv.conf`, port 53.
fn system_servers() -> Result<Vec<SocketAddr>, ResolveError> {
    let text = std::fs::read_to_string(RESOLV_CONF)
        .map_err(|e| ResolveError::NoServer(format!("{RESOLV_CONF}: {e}")))?;
    let servers: Vec<SocketAddr> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.split_whitespace().next())
        // A scoped IPv6 address (`fe80::1%eth0`) keeps its address part.
        .filter_map(|a| a.split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    if servers.is_empty() {
        return Err(ResolveError::NoServer(format!(
            "{RESOLV_CONF} lists no nameserver"
        )));
    }
    Ok(servers)
}

/// A name as an absolute DNS name (`example.com.`), so no search domain is appended.
pub fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// What [`lookup_ips`] found: the addresses the task may reach and those the guard refused.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Addresses {
    pub allowed: Vec<IpAddr>,
    pub denied: Vec<Denied>,
}

impl Addresses {
    /// Whether the name has no address at all.
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty() && self.denied.is_empty()
    }

    /// Every address, allowed or not, sorted.
    pub fn all(&self) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self
            .allowed
            .iter()
            .copied()
            .chain(self.denied.iter().map(|d| d.ip))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// The records of type `rtype` answering `name` (CNAMEs followed by the server are left out
/// unless `rtype` is CNAME). A name that does not exist or has no such records is `Ok(empty)`.
pub async fn lookup(
    resolver: &TokioResolver,
    name: &str,
    rtype: RecordType,
) -> Result<Vec<hickory_resolver::proto::rr::RData>, ResolveError> {
    match resolver.lookup(fqdn(name), rtype).await {
        Ok(found) => Ok(found
            .answers()
            .iter()
            .filter(|r| r.record_type() == rtype)
            .map(|r| r.data.clone())
            .collect()),
        Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(Vec::new()),
        Err(e) => Err(ResolveError::Lookup {
            name: name.to_owned(),
            message: e.to_string(),
        }),
    }
}

/// The A and AAAA addresses of `name`, split by `policy`. A name without addresses is
/// `Ok(empty)`.
pub async fn lookup_ips(
    resolver: &TokioResolver,
    name: &str,
    policy: &NetPolicy,
) -> Result<Addresses, ResolveError> {
    let (v4, v6) = tokio::join!(
        lookup(resolver, name, RecordType::A),
        lookup(resolver, name, RecordType::AAAA)
    );
    let mut ips: Vec<IpAddr> = Vec::new();
    for r in v4?.into_iter().chain(v6?) {
        if let Some(ip) = r.ip_addr() {
            ips.push(ip);
        }
    }
    ips.sort();
    ips.dedup();
    let (allowed, denied) = policy.filter(ips);
    Ok(Addresses { allowed, denied })
}

/// A DNS label no one registered: `argus-` and 16 random hex digits (wildcard probes).
pub fn random_label() -> String {
    use std::hash::{BuildHasher, Hasher};
    // `RandomState` is seeded from the OS once per process and varied per instance.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("argus-{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_parse_with_and_without_port() {
        assert_eq!(
            parse_server("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(
            parse_server("9.9.9.9").unwrap(),
            "9.9.9.9:53".parse().unwrap()
        );
        assert_eq!(
            parse_server("[::1]:53").unwrap(),
            "[::1]:53".parse().unwrap()
        );
        assert_eq!(parse_server("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert!(parse_server("dns.example").is_err());
    }

    #[test]
    fn a_param_server_passes_the_guard_a_config_server_is_trusted() {
        let strict = NetPolicy::public_only();
        let lo: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let public: SocketAddr = "9.9.9.9:53".parse().unwrap();
        assert!(choose_server(Some(lo), None, &strict).is_err());
        assert_eq!(
            choose_server(Some(public), Some(lo), &strict).unwrap(),
            Some(public)
        );
        assert_eq!(choose_server(None, Some(lo), &strict).unwrap(), Some(lo));
        assert_eq!(choose_server(None, None, &strict).unwrap(), None);
        assert_eq!(
            choose_server(Some(lo), None, &NetPolicy::allow_all()).unwrap(),
            Some(lo)
        );
    }

    #[test]
    fn random_labels_differ() {
        assert_ne!(random_label(), random_label());
        assert!(random_label().starts_with("argus-"));
    }
}
