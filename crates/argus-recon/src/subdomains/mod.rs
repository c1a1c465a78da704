//! `subdomains`: the names under a domain, by wordlist brute force and passive sources.
//!
//! - **Brute force**: each label of the wordlist (the shipped `data/subdomains.txt`, a
//!   `wordlist` file on the server, or inline `words`) is asked as `label.<domain>` (A and
//!   AAAA) of the first server the task asks, in bulk over one UDP socket per core ([`bulk`]):
//!   `concurrency` names (twice as many queries) in flight, each query waiting for the task's
//!   rate gate, unanswered ones sent three times in all.
//! - **Wildcard detection** first: three random labels are asked; if any answers, the domain
//!   has a wildcard, reported as one `dns-wildcard` finding, and a brute-forced name whose
//!   addresses all belong to the wildcard's answers is dropped (it exists only through the
//!   wildcard).
//! - **Passive sources**: each URL template of `passive_urls` (param, else
//!   `[scanners.subdomains] passive_urls`) with `{domain}` replaced is fetched and read as
//!   crt.sh's JSON (`[{"name_value": "a.example.com\nb.example.com"}, …]`); names under the
//!   domain are kept (`*.` prefixes removed) and resolved for their addresses. A source that
//!   fails is logged and skipped. A source from the params is the tenant's: its host is
//!   resolved here, each address passes the network guard, and the request goes to the checked
//!   addresses only, through a one-request client pinned to them (the HTTP door's shared
//!   client resolves by itself, so it cannot hold the guard at connect time). A source from
//!   `[scanners.subdomains] passive_urls` is the operator's, trusted, and goes through the
//!   shared client.
//!
//! Each subdomain found is one `subdomain` finding (info; `data`: `name`, `addresses`,
//! `sources` of `brute`/`passive`) and one `domain` target; only names strictly under the
//! target domain are reported. The DNS server asked follows the rules of [`crate::dns`]: the
//! param's passes the guard, the config's is trusted, else the system's.

mod bulk;
mod params;
#[cfg(test)]
mod tests;

pub use params::SubdomainsParams;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::finding::{NewFinding, Severity};
use argus_core::net::NetPolicy;
use argus_core::scanner::{ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use argus_scanners::schema::ParamsSchema;
use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::resolve::{self, TokioResolver};

/// Registry name.
pub const SUBDOMAINS: &str = "subdomains";

/// The shipped wordlist: common labels, one per line.
pub const SHIPPED_WORDLIST: &str = include_str!("../../data/subdomains.txt");

/// Random labels asked to detect a wildcard.
const WILDCARD_PROBES: usize = 3;
/// Largest passive source answer read.
const MAX_PASSIVE_BYTES: usize = 64 << 20;
/// How long one passive source may take.
const PASSIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// `[scanners.subdomains]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SubdomainsConfig {
    /// The DNS server tasks ask when their params name none (trusted).
    pub resolver: Option<String>,
    /// Passive sources used when the params name none (trusted), e.g.
    /// `https://crt.sh/?q=%25.{domain}&output=json`.
    pub passive_urls: Vec<String>,
}

impl ComponentConfig for SubdomainsConfig {}

/// Builds `subdomains`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SubdomainsFactory;

impl Factory for SubdomainsFactory {
    type Built = dyn Scanner;
    type Config = SubdomainsConfig;

    fn name(&self) -> &'static str {
        SUBDOMAINS
    }

    fn build(
        &self,
        config: SubdomainsConfig,
        doors: &Doors,
    ) -> Result<Vec<Arc<dyn Scanner>>, BuildError> {
        let resolver = config
            .resolver
            .as_deref()
            .map(resolve::parse_server)
            .transpose()
            .map_err(|e| BuildError::config("scanners.subdomains.resolver", e))?;
        for u in &config.passive_urls {
            check_template(u)
                .map_err(|e| BuildError::config("scanners.subdomains.passive_urls", e))?;
        }
        Ok(vec![Arc::new(SubdomainsScanner {
            resolver,
            passive_urls: config.passive_urls,
            // Absent where the process opened no HTTP door (tests); passive sources then get
            // a client of their own.
            http: doors.http_client::<reqwest::Client>(SUBDOMAINS).ok(),
        })])
    }
}

/// The `subdomains` scanner.
#[derive(Clone, Debug, Default)]
pub struct SubdomainsScanner {
    resolver: Option<SocketAddr>,
    passive_urls: Vec<String>,
    /// The process's shared HTTP client (the HTTP door), for the operator's passive sources.
    http: Option<reqwest::Client>,
}

impl SubdomainsScanner {
    /// A scanner asking `resolver` and `passive_urls` unless the params name others.
    pub fn new(resolver: Option<SocketAddr>, passive_urls: Vec<String>) -> Self {
        SubdomainsScanner {
            resolver,
            passive_urls,
            http: None,
        }
    }
}

/// A passive URL template must be an http(s) URL once `{domain}` is filled in.
fn check_template(t: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(&t.replace("{domain}", "example.com"))
        .map_err(|e| format!("'{t}' is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(format!("'{t}' is not an http(s) URL"));
    }
    Ok(u)
}

/// The labels of a wordlist text: one per line, trimmed, lower case, `#` comments and blank
/// lines skipped, each a valid label or dotted labels (`dev.eu`).
pub fn parse_words(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.split('#')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|l| {
            !l.is_empty()
                && l.len() < 200
                && l.split('.').all(|p| {
                    !p.is_empty()
                        && p.len() <= 63
                        && p.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
        })
        .collect()
}

/// The names of a crt.sh-shaped JSON answer that lie strictly under `domain`.
pub fn passive_names(body: &[u8], domain: &str) -> Result<BTreeSet<String>, String> {
    #[derive(Deserialize)]
    struct Entry {
        #[serde(default)]
        name_value: String,
        #[serde(default)]
        common_name: Option<String>,
    }
    let entries: Vec<Entry> =
        serde_json::from_slice(body).map_err(|e| format!("not crt.sh JSON: {e}"))?;
    let suffix = format!(".{domain}");
    Ok(entries
        .iter()
        .flat_map(|e| e.name_value.lines().chain(e.common_name.as_deref()))
        .map(|n| {
            n.trim()
                .trim_start_matches("*.")
                .trim_end_matches('.')
                .to_ascii_lowercase()
        })
        .filter(|n| n.ends_with(&suffix))
        .filter(|n| Target::parse(TargetKind::Domain, n).is_ok())
        .collect())
}

/// A one-request client for a passive source: with `policy`, an address literal must pass it
/// and a name connects only to the addresses of it that pass (the http scanner's
/// [`GuardedResolver`](crate::http::guard::GuardedResolver), checked at connect time).
fn guarded_client(url: &url::Url, policy: Option<&NetPolicy>) -> Result<reqwest::Client, String> {
    let host = url.host_str().unwrap_or_default();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("argus/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(policy) = policy {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            policy.check(ip).map_err(|d| format!("{host}: {d}"))?;
        }
        builder = builder.dns_resolver(Arc::new(crate::http::guard::GuardedResolver::new(
            policy.clone(),
        )));
    }
    // The shared client of the HTTP door resolves names without the guard; this one-request
    // client is the exception the guard needs.
    #[allow(clippy::disallowed_methods)]
    let built = builder.build();
    built.map_err(|e| format!("HTTP client: {e}"))
}

/// Brute-force shards: one per core, at most four.
fn shards() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .min(4)
}

/// What was learnt about one subdomain.
#[derive(Debug, Default)]
struct Found {
    addresses: BTreeSet<IpAddr>,
    sources: BTreeSet<&'static str>,
}

/// Asks one name's addresses after the rate gate; `None` when it has none or the query failed
/// (a failure is counted).
async fn resolve_name(
    ctx: &TaskContext,
    resolver: &TokioResolver,
    name: &str,
) -> Result<Vec<IpAddr>, resolve::ResolveError> {
    ctx.net.rate.acquire(2).await;
    // Every address is kept: they are reported, never connected to.
    let a = resolve::lookup_ips(resolver, name, &NetPolicy::allow_all()).await?;
    Ok(a.all())
}

impl SubdomainsScanner {
    /// The labels to try.
    fn words(&self, p: &SubdomainsParams) -> Result<Vec<String>, ScanError> {
        if !p.brute {
            return Ok(Vec::new());
        }
        let mut words = Vec::new();
        if let Some(path) = &p.wordlist {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ScanError::Failed(format!("subdomains: wordlist {path}: {e}")))?;
            words.extend(parse_words(&text));
        }
        if let Some(ws) = &p.words {
            words.extend(parse_words(&ws.join("\n")));
        }
        if p.wordlist.is_none() && p.words.is_none() {
            words = parse_words(SHIPPED_WORDLIST);
        }
        let mut seen = BTreeSet::new();
        words.retain(|w| seen.insert(w.clone()));
        Ok(words)
    }

    /// The wildcard's addresses, empty when the domain has no wildcard.
    async fn wildcard(
        &self,
        ctx: &TaskContext,
        resolver: &TokioResolver,
        domain: &str,
    ) -> BTreeSet<IpAddr> {
        let probes = (0..WILDCARD_PROBES).map(|_| {
            let name = format!("{}.{domain}", resolve::random_label());
            async move { resolve_name(ctx, resolver, &name).await }
        });
        futures::future::join_all(probes)
            .await
            .into_iter()
            .filter_map(Result::ok)
            .flatten()
            .collect()
    }

    /// The brute-forced names that answer with addresses of their own (not only the
    /// wildcard's), asked in bulk of `server` (see [`bulk`]).
    async fn brute(
        &self,
        ctx: &TaskContext,
        bulk: bulk::Bulk,
        domain: &str,
        words: Vec<String>,
        wildcard: &BTreeSet<IpAddr>,
    ) -> Result<Vec<(String, Vec<IpAddr>)>, ScanError> {
        let names = words.iter().map(|w| format!("{w}.{domain}")).collect();
        let outcomes = bulk
            .resolve_sharded(names, ctx.net.rate.clone(), shards())
            .await
            .map_err(|e| ScanError::Retryable(format!("subdomains: DNS socket: {e}")))?;
        let mut found = Vec::new();
        let (mut failed, mut dropped) = (0u64, 0u64);
        for (name, ips) in outcomes {
            match ips {
                None => failed += 1,
                Some(ips) if ips.is_empty() => {}
                Some(ips) if !wildcard.is_empty() && ips.iter().all(|ip| wildcard.contains(ip)) => {
                    dropped += 1;
                }
                Some(ips) => found.push((name, ips)),
            }
        }
        if failed > 0 || dropped > 0 {
            tracing::info!(%domain, failed, dropped, "subdomains brute force done");
        }
        Ok(found)
    }

    /// Fetches one passive source. A trusted one (`policy` is `None`) goes through the
    /// process's shared client when there is one; a tenant's connects only to addresses that
    /// pass `policy`.
    async fn fetch(
        &self,
        template: &str,
        domain: &str,
        policy: Option<&NetPolicy>,
    ) -> Result<BTreeSet<String>, String> {
        let url = check_template(&template.replace("{domain}", domain))?;
        let client = match (&self.http, policy) {
            (Some(shared), None) => shared.clone(),
            _ => guarded_client(&url, policy)?,
        };
        let mut resp = client
            .get(url.clone())
            .timeout(PASSIVE_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("{url}: HTTP {}", resp.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_PASSIVE_BYTES {
                return Err(format!(
                    "{url}: answer larger than {MAX_PASSIVE_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        passive_names(&body, domain).map_err(|e| format!("{url}: {e}"))
    }

    async fn work(
        &self,
        ctx: &TaskContext,
        resolver: &TokioResolver,
        bulk_server: SocketAddr,
        p: &SubdomainsParams,
    ) -> Result<(), ScanError> {
        let target = &ctx.task.target;
        let domain = target.value().to_owned();
        let words = self.words(p)?;
        let mut found: BTreeMap<String, Found> = BTreeMap::new();

        // Passive sources: the params' are the tenant's and pass the guard.
        let (templates, policy) = match &p.passive_urls {
            Some(urls) => (urls.clone(), Some(&ctx.net.policy)),
            None => (self.passive_urls.clone(), None),
        };
        for t in &templates {
            match self.fetch(t, &domain, policy).await {
                Ok(names) => {
                    for n in names {
                        found.entry(n).or_default().sources.insert("passive");
                    }
                }
                Err(e) => tracing::warn!(source = %t, error = %e, "passive source skipped"),
            }
        }
        let passive: Vec<String> = found.keys().cloned().collect();
        let concurrency = usize::try_from(p.concurrency).unwrap_or(usize::MAX);
        let mut lookups = futures::stream::iter(passive.into_iter().map(|name| async move {
            let r = resolve_name(ctx, resolver, &name).await;
            (name, r)
        }))
        .buffer_unordered(concurrency.max(1));
        let mut resolved = Vec::new();
        while let Some((name, r)) = lookups.next().await {
            if let Ok(ips) = r {
                resolved.push((name, ips));
            }
        }
        drop(lookups);
        for (name, ips) in resolved {
            if let Some(f) = found.get_mut(&name) {
                f.addresses.extend(ips);
            }
        }

        if !words.is_empty() {
            let wildcard = self.wildcard(ctx, resolver, &domain).await;
            if !wildcard.is_empty() {
                let addrs: Vec<String> = wildcard.iter().map(IpAddr::to_string).collect();
                let mut f = NewFinding::new(
                    "dns-wildcard",
                    Severity::Info,
                    format!("*.{domain} answers every name ({})", addrs.join(", ")),
                    target.clone(),
                    &["dns-wildcard", &domain],
                );
                f.data = json!({"name": format!("*.{domain}"), "addresses": addrs});
                ctx.emit.finding(f).await?;
            }
            let bulk = bulk::Bulk {
                server: bulk_server,
                timeout: Duration::from_millis(p.timeout_ms),
                attempts: 3,
                window: concurrency.saturating_mul(2),
            };
            let brute = self.brute(ctx, bulk, &domain, words, &wildcard).await?;
            for (name, ips) in brute {
                let f = found.entry(name).or_default();
                f.addresses.extend(ips);
                f.sources.insert("brute");
            }
        }

        let suffix = format!(".{domain}");
        for (name, f) in found {
            if !name.ends_with(&suffix) {
                continue;
            }
            let Ok(t) = Target::parse(TargetKind::Domain, &name) else {
                continue;
            };
            let addrs: Vec<String> = f.addresses.iter().map(IpAddr::to_string).collect();
            let sources: Vec<&str> = f.sources.iter().copied().collect();
            let mut finding = NewFinding::new(
                "subdomain",
                Severity::Info,
                if addrs.is_empty() {
                    format!("subdomain {name}")
                } else {
                    format!("subdomain {name} ({})", addrs.join(", "))
                },
                target.clone(),
                &["subdomain", &domain, &name],
            );
            finding.data = json!({"name": name, "addresses": addrs, "sources": sources});
            ctx.emit.finding(finding).await?;
            ctx.emit.target(t).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Scanner for SubdomainsScanner {
    fn info(&self) -> ScannerInfo {
        ScannerInfo {
            name: SUBDOMAINS.into(),
            description: "Subdomains of a domain: wordlist brute force with wildcard detection, and passive sources (crt.sh-style JSON).".into(),
            source: "builtin".into(),
            target_kinds: vec![TargetKind::Domain],
            params_schema: params::schema().schema().clone(),
            available: true,
            detail: None,
        }
    }

    fn validate_params(&self, params: &Value) -> Result<(), CoreError> {
        params::schema().validate(params)?;
        crate::dns::validate_resolver(params)?;
        if let Some(path) = params.get("wordlist").and_then(Value::as_str) {
            // The engine checked the path against the local-access policy before this.
            if !std::path::Path::new(path).is_file() {
                return Err(CoreError::invalid(
                    "/wordlist",
                    format!("no wordlist file at {path}"),
                ));
            }
        }
        if let Some(urls) = params.get("passive_urls").and_then(Value::as_array) {
            for (i, u) in urls.iter().enumerate() {
                if let Some(u) = u.as_str() {
                    check_template(u)
                        .map_err(|e| CoreError::invalid(format!("/passive_urls/{i}"), e))?;
                }
            }
        }
        Ok(())
    }

    fn local_paths(&self, params: &Value) -> Vec<(String, PathBuf)> {
        params
            .get("wordlist")
            .and_then(Value::as_str)
            .map(|p| vec![("/wordlist".to_owned(), PathBuf::from(p))])
            .unwrap_or_default()
    }

    fn emits(&self) -> Vec<TargetKind> {
        vec![TargetKind::Domain]
    }

    async fn run(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        if ctx.cancel.is_cancelled() {
            return Err(ScanError::Cancelled);
        }
        let p: SubdomainsParams = ParamsSchema::read(&ctx.params)
            .map_err(|e| ScanError::Failed(format!("subdomains {e}")))?;
        let server = match crate::dns::server_for(ctx, p.resolver.as_deref(), self.resolver)? {
            Ok(s) => s,
            Err(refused) => return ctx.emit.finding(refused).await,
        };
        let concurrency = usize::try_from(p.concurrency).unwrap_or(usize::MAX);
        let resolver = resolve::resolver(
            server,
            Duration::from_millis(p.timeout_ms),
            concurrency.saturating_mul(2),
        )
        .map_err(|e| ScanError::Failed(format!("subdomains: {e}")))?;
        // The brute force asks the first of the servers the resolver asks.
        let bulk_server = resolve::servers(server)
            .ok()
            .and_then(|s| s.first().copied())
            .ok_or_else(|| ScanError::Failed("subdomains: no DNS server".into()))?;
        tokio::select! {
            r = self.work(ctx, &resolver, bulk_server, &p) => r,
            _ = ctx.cancel.cancelled() => Err(ScanError::Cancelled),
        }
    }
}
