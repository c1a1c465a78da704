//! `dns`: the DNS records of a domain, and the mail policy of an e-mail address's domain.
//!
//! For a `domain` target it asks A, AAAA, CNAME, MX, NS, TXT, SOA and CAA (or the
//! `record_types` given) and reports one `dns-record` finding (info) per record type that has
//! records, with the type, the values and the TTL in `data`. It emits what it learnt for the
//! engine's chaining: each A/AAAA address as an `ip` target, and each CNAME, MX and NS host as a
//! `domain` target.
//!
//! For an `email` target it asks the domain's MX records, its SPF record (TXT `v=spf1`) and its
//! DMARC record (TXT `v=DMARC1` at `_dmarc.<domain>`), reports one `email-policy` finding (info)
//! with all three, and one finding per weakness ([`email`]: no SPF, SPF `+all`/`?all`, no
//! DMARC, DMARC `p=none`, no MX). MX hosts are emitted as `domain` targets.
//!
//! Network guard: an address the guard refuses is never emitted; it is reported as a
//! `scope-skipped` finding (info; `data`: `address`, `class`, `name`, `reason`), so a scan's
//! results say why the chain stopped there. The server asked is the `resolver` param's, which
//! passes the guard like any address a tenant names (a refused one ends the task with a
//! `scope-skipped` finding for it and nothing else), else `[scanners.dns] resolver` (the
//! operator's, trusted), else the system's. Each query waits for the task's rate gate.

mod email;
mod params;
#[cfg(test)]
mod tests;

pub use params::DnsParams;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::finding::{NewFinding, Severity};
use argus_core::net::Denied;
use argus_core::scanner::{ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use argus_scanners::schema::ParamsSchema;
use async_trait::async_trait;
use hickory_resolver::proto::rr::{RData, RecordType};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::resolve::{self, ResolveError, TokioResolver};

/// Registry name.
pub const DNS: &str = "dns";

/// `[scanners.dns]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DnsConfig {
    /// The DNS server tasks ask when their params name none (`ip:port` or `ip`); trusted, so
    /// it may be a private resolver. Default: the system's (`/etc/resolv.conf`).
    pub resolver: Option<String>,
}

impl ComponentConfig for DnsConfig {}

/// Builds `dns`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DnsFactory;

impl Factory for DnsFactory {
    type Built = dyn Scanner;
    type Config = DnsConfig;

    fn name(&self) -> &'static str {
        DNS
    }

    fn build(
        &self,
        config: DnsConfig,
        _doors: &Doors,
    ) -> Result<Vec<Arc<dyn Scanner>>, BuildError> {
        let resolver = config
            .resolver
            .as_deref()
            .map(resolve::parse_server)
            .transpose()
            .map_err(|e| BuildError::config("scanners.dns.resolver", e))?;
        Ok(vec![Arc::new(DnsScanner { resolver })])
    }
}

/// The `dns` scanner.
#[derive(Clone, Debug, Default)]
pub struct DnsScanner {
    /// The configured server (trusted), if any.
    resolver: Option<SocketAddr>,
}

impl DnsScanner {
    /// A scanner whose tasks ask `resolver` unless their params name another.
    pub fn new(resolver: Option<SocketAddr>) -> Self {
        DnsScanner { resolver }
    }
}

/// A `scope-skipped` finding for an address the guard refused.
pub(crate) fn skipped(target: &Target, name: &str, denied: &Denied) -> NewFinding {
    let ip = denied.ip.to_string();
    let mut f = NewFinding::new(
        "scope-skipped",
        Severity::Info,
        format!(
            "{name} → {ip} not followed: {} address",
            denied.class.as_str()
        ),
        target.clone(),
        &["scope-skipped", &target.key(), name, &ip],
    );
    f.data = json!({
        "address": ip,
        "class": denied.class.as_str(),
        "name": name,
        "reason": denied.to_string(),
    });
    f
}

/// The server a task asks, or the finding that says why it may not ask the one it named.
pub(crate) fn server_for(
    ctx: &TaskContext,
    param: Option<&str>,
    config: Option<SocketAddr>,
) -> Result<Result<Option<SocketAddr>, NewFinding>, ScanError> {
    let param = param
        .map(resolve::parse_server)
        .transpose()
        .map_err(|e| ScanError::Failed(e.to_string()))?;
    Ok(
        resolve::choose_server(param, config, &ctx.net.policy).map_err(|denied| {
            let mut f = skipped(&ctx.task.target, "resolver", &denied);
            f.title = format!(
                "DNS server {} not asked: {} address",
                denied.ip,
                denied.class.as_str()
            );
            f
        }),
    )
}

/// Refuses a `resolver` param that is not an address, naming `/resolver`.
pub(crate) fn validate_resolver(params: &Value) -> Result<(), CoreError> {
    if let Some(r) = params.get("resolver").and_then(Value::as_str) {
        resolve::parse_server(r).map_err(|e| CoreError::invalid("/resolver", e.to_string()))?;
    }
    Ok(())
}

/// A record's value as text: addresses and names plain (names without the final dot), MX as
/// `preference host`, TXT as its strings joined, others as their zone-file form.
fn value_of(r: &RData) -> String {
    match r {
        RData::CNAME(n) => host_of(&n.0),
        RData::NS(n) => host_of(&n.0),
        RData::MX(mx) => format!("{} {}", mx.preference, host_of(&mx.exchange)),
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| String::from_utf8_lossy(s))
            .collect::<String>(),
        other => other.to_string(),
    }
}

fn host_of(n: &hickory_resolver::proto::rr::Name) -> String {
    n.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// Waits for the rate gate, then asks.
async fn ask(
    ctx: &TaskContext,
    resolver: &TokioResolver,
    name: &str,
    rtype: RecordType,
) -> Result<Vec<RData>, ResolveError> {
    ctx.net.rate.acquire(1).await;
    resolve::lookup(resolver, name, rtype).await
}

fn parse_type(s: &str) -> Option<RecordType> {
    Some(match s {
        "A" => RecordType::A,
        "AAAA" => RecordType::AAAA,
        "CNAME" => RecordType::CNAME,
        "MX" => RecordType::MX,
        "NS" => RecordType::NS,
        "TXT" => RecordType::TXT,
        "SOA" => RecordType::SOA,
        "CAA" => RecordType::CAA,
        _ => return None,
    })
}

impl DnsScanner {
    async fn domain(
        &self,
        ctx: &TaskContext,
        resolver: &TokioResolver,
        domain: &str,
        p: &DnsParams,
    ) -> Result<(), ScanError> {
        let target = &ctx.task.target;
        let types: Vec<RecordType> = match &p.record_types {
            Some(ts) => ts.iter().filter_map(|t| parse_type(t)).collect(),
            None => params::DEFAULT_TYPES
                .iter()
                .filter_map(|t| parse_type(t))
                .collect(),
        };
        let answers =
            futures::future::join_all(types.iter().map(|t| ask(ctx, resolver, domain, *t))).await;
        let mut failures = Vec::new();
        let mut ips: BTreeSet<IpAddr> = BTreeSet::new();
        let mut hosts: BTreeSet<String> = BTreeSet::new();
        for (rtype, answer) in types.iter().zip(answers) {
            let records = match answer {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(%domain, %rtype, error = %e, "dns lookup failed");
                    failures.push(format!("{rtype}: {e}"));
                    continue;
                }
            };
            if records.is_empty() {
                continue;
            }
            let mut values: Vec<String> = records.iter().map(value_of).collect();
            values.sort();
            values.dedup();
            for r in &records {
                match r {
                    RData::A(_) | RData::AAAA(_) => ips.extend(r.ip_addr()),
                    RData::CNAME(n) => {
                        hosts.insert(host_of(&n.0));
                    }
                    RData::NS(n) => {
                        hosts.insert(host_of(&n.0));
                    }
                    RData::MX(mx) => {
                        hosts.insert(host_of(&mx.exchange));
                    }
                    _ => {}
                }
            }
            let rt = rtype.to_string();
            let mut parts = vec!["dns-record", target.value(), rt.as_str()];
            parts.extend(values.iter().map(String::as_str));
            let mut f = NewFinding::new(
                "dns-record",
                Severity::Info,
                format!("{domain} {rt}: {}", values.join(", ")),
                target.clone(),
                &parts,
            );
            f.data = json!({"name": domain, "type": rt, "values": values});
            ctx.emit.finding(f).await?;
        }
        if failures.len() == types.len() && !types.is_empty() {
            return Err(ScanError::Retryable(format!(
                "dns: every lookup of {domain} failed: {}",
                failures.join("; ")
            )));
        }
        let (allowed, denied) = ctx.net.policy.filter(ips);
        for d in &denied {
            ctx.emit.finding(skipped(target, domain, d)).await?;
        }
        for ip in allowed {
            if let Ok(t) = Target::parse(TargetKind::Ip, &ip.to_string()) {
                ctx.emit.target(t).await?;
            }
        }
        for h in hosts {
            // A root or malformed host (`MX 0 .` = no mail) is not a target.
            if let Ok(t) = Target::parse(TargetKind::Domain, &h) {
                ctx.emit.target(t).await?;
            }
        }
        Ok(())
    }

    async fn email(
        &self,
        ctx: &TaskContext,
        resolver: &TokioResolver,
        domain: &str,
    ) -> Result<(), ScanError> {
        let target = &ctx.task.target;
        let dmarc_name = format!("_dmarc.{domain}");
        let (mx, txt, dmarc) = tokio::join!(
            ask(ctx, resolver, domain, RecordType::MX),
            ask(ctx, resolver, domain, RecordType::TXT),
            ask(ctx, resolver, &dmarc_name, RecordType::TXT),
        );
        let retry = |e: ResolveError| ScanError::Retryable(format!("dns: {e}"));
        let (mx, txt, dmarc) = (
            mx.map_err(retry)?,
            txt.map_err(retry)?,
            dmarc.map_err(retry)?,
        );
        let mut mx_values: Vec<String> = mx.iter().map(value_of).collect();
        mx_values.sort();
        let txt_values: Vec<String> = txt.iter().map(value_of).collect();
        let dmarc_values: Vec<String> = dmarc.iter().map(value_of).collect();
        let spf = email::spf_records(&txt_values);
        let dmarc_recs = email::dmarc_records(&dmarc_values);
        let mut f = NewFinding::new(
            "email-policy",
            Severity::Info,
            format!("mail policy of {domain}"),
            target.clone(),
            &["email-policy", target.value()],
        );
        f.data = json!({
            "domain": domain,
            "mx": mx_values,
            "spf": spf,
            "dmarc": dmarc_recs,
            "dmarc_policy": dmarc_recs.first().and_then(|r| email::dmarc_policy(r)),
        });
        ctx.emit.finding(f).await?;
        let issues = [
            email::mx_issue(domain, &mx_values),
            email::spf_issue(domain, &txt_values),
            email::dmarc_issue(domain, &dmarc_values),
        ];
        for issue in issues.into_iter().flatten() {
            let mut f = NewFinding::new(
                issue.kind,
                issue.severity,
                issue.title,
                target.clone(),
                &[issue.kind, domain],
            );
            f.data = json!({"domain": domain, "record": issue.record});
            ctx.emit.finding(f).await?;
        }
        for r in &mx {
            if let RData::MX(m) = r {
                if let Ok(t) = Target::parse(TargetKind::Domain, &host_of(&m.exchange)) {
                    ctx.emit.target(t).await?;
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Scanner for DnsScanner {
    fn info(&self) -> ScannerInfo {
        ScannerInfo {
            name: DNS.into(),
            description: "DNS records of a domain (A, AAAA, CNAME, MX, NS, TXT, SOA, CAA), and the MX, SPF and DMARC policy of an e-mail address's domain.".into(),
            source: "builtin".into(),
            target_kinds: vec![TargetKind::Domain, TargetKind::Email],
            params_schema: params::schema().schema().clone(),
            available: true,
            detail: None,
        }
    }

    fn validate_params(&self, params: &Value) -> Result<(), CoreError> {
        params::schema().validate(params)?;
        validate_resolver(params)
    }

    fn emits(&self) -> Vec<TargetKind> {
        vec![TargetKind::Ip, TargetKind::Domain]
    }

    async fn run(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        if ctx.cancel.is_cancelled() {
            return Err(ScanError::Cancelled);
        }
        let p: DnsParams =
            ParamsSchema::read(&ctx.params).map_err(|e| ScanError::Failed(format!("dns {e}")))?;
        let server = match server_for(ctx, p.resolver.as_deref(), self.resolver)? {
            Ok(s) => s,
            Err(refused) => return ctx.emit.finding(refused).await,
        };
        let resolver = resolve::resolver(server, Duration::from_millis(p.timeout_ms), 16)
            .map_err(|e| ScanError::Failed(format!("dns: {e}")))?;
        let target = ctx.task.target.clone();
        let work = async {
            match target.kind() {
                TargetKind::Domain => self.domain(ctx, &resolver, target.value(), &p).await,
                TargetKind::Email => match target.host() {
                    Some(domain) => self.email(ctx, &resolver, &domain).await,
                    None => Err(ScanError::Failed(format!("dns: {target} has no domain"))),
                },
                other => Err(ScanError::Failed(format!(
                    "dns does not scan {other} targets"
                ))),
            }
        };
        tokio::select! {
            r = work => r,
            _ = ctx.cancel.cancelled() => Err(ScanError::Cancelled),
        }
    }
}
