//! `ports`: a TCP connect scan of an address, a name's addresses or a CIDR block, with banner
//! grabbing and a service guess for every open port.
//!
//! Each open port is a finding (`open-port`: address, port, banner, service guess) and a
//! discovered `service` target (`host:port`, the name when the task's target is a name) for the
//! HTTP and TLS scanners to follow. Every address passes the network guard after resolution,
//! before the first connection: a refused one is skipped and reported once as a
//! `scope-skipped` finding. Attempts are bounded in flight (`concurrency`), paced per address
//! (`per_host_rate`) and by the task's rate gate, and spread over a few worker tasks so a full
//! 65,535-port sweep uses every core; ports are probed port-major across hosts so a per-host
//! limit does not serialise a block scan.
//!
//! Folder: `mod.rs` (scanner, factory), `params.rs`, `spec.rs` (port lists), `probe.rs` (one
//! connect and banner read), `service.rs` (guesses), `hosts.rs` (resolution and CIDR expansion,
//! shared with the `http` and `tls` scanners).

pub(crate) mod hosts;
mod params;
mod probe;
pub(crate) mod service;
pub mod spec;

pub use params::PortsParams;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::enabled::EnabledConfig;
use argus_core::component::{BuildError, Doors, Factory};
use argus_core::finding::{NewFinding, Severity};
use argus_core::net::{Denied, IpNet, NetAccess};
use argus_core::scanner::{ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use argus_scanners::schema::ParamsSchema;
use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use probe::{HostPacer, Open, ProbeOptions};

/// Registry name.
pub const PORTS: &str = "ports";

/// The TCP port scanner.
#[derive(Debug, Default, Clone, Copy)]
pub struct PortsScanner;

/// Builds `ports` unless `[scanners.ports] enabled = false`.
#[derive(Clone, Copy, Debug, Default)]
pub struct PortsFactory;

impl Factory for PortsFactory {
    type Built = dyn Scanner;
    type Config = EnabledConfig;

    fn name(&self) -> &'static str {
        PORTS
    }

    fn build(
        &self,
        config: EnabledConfig,
        _doors: &Doors,
    ) -> Result<Vec<Arc<dyn Scanner>>, BuildError> {
        Ok(config.build(PortsScanner))
    }
}

fn read(params: &Value) -> Result<PortsParams, ScanError> {
    ParamsSchema::read(params).map_err(|e| ScanError::Failed(format!("ports {e}")))
}

/// A `scope-skipped` finding: `ip` was not scanned because the network guard refused it.
pub(crate) fn skipped(target: &Target, denied: &Denied) -> NewFinding {
    let ip = denied.ip.to_string();
    let mut f = NewFinding::new(
        "scope-skipped",
        Severity::Info,
        format!("Not scanned: {ip} is a {} address", denied.class.as_str()),
        target.clone(),
        &["scope-skipped", &target.key(), &ip],
    );
    f.description = Some(denied.to_string());
    f.data = json!({"address": ip, "class": denied.class, "reason": denied.to_string()});
    f
}

/// The addresses a task scans: `(label, address)` where the label is the name services are
/// reported under; refusals by the guard come back separately.
async fn addresses(
    target: &Target,
    p: &PortsParams,
    net: &NetAccess,
) -> Result<(Vec<(String, IpAddr)>, Vec<Denied>), ScanError> {
    let (label, ips): (Option<String>, Vec<IpAddr>) = match target.kind() {
        TargetKind::Cidr => {
            let block: IpNet = target
                .value()
                .parse()
                .map_err(|e| ScanError::Failed(format!("ports: bad block {target}: {e}")))?;
            let ips = hosts::expand(&block, p.max_hosts).ok_or_else(|| {
                ScanError::Failed(format!(
                    "ports: {block} holds more than {} addresses",
                    p.max_hosts
                ))
            })?;
            (None, ips)
        }
        _ => {
            let host = target
                .host()
                .ok_or_else(|| ScanError::Failed(format!("ports: {target} names no host")))?;
            let ips = hosts::resolve(&host)
                .await
                .map_err(|e| ScanError::Failed(format!("ports: cannot resolve {host}: {e}")))?;
            let ips: Vec<IpAddr> = ips.into_iter().take(p.max_hosts as usize).collect();
            let named = target.kind() == TargetKind::Domain;
            (named.then_some(host), ips)
        }
    };
    let (ok, denied) = net.policy.filter(ips);
    let ok = ok
        .into_iter()
        .map(|ip| (label.clone().unwrap_or_else(|| ip.to_string()), ip))
        .collect();
    Ok((ok, denied))
}

/// The finding for one open port.
fn open_port(target: &Target, label: &str, ip: IpAddr, open: &Open) -> NewFinding {
    let banner = String::from_utf8_lossy(&open.banner);
    let banner = banner.trim_end_matches(['\r', '\n', '\0']);
    let guess = service::guess(open.port, &open.banner);
    let name = guess.map_or("unknown", |(s, _)| s);
    let port = open.port.to_string();
    let addr = ip.to_string();
    let mut f = NewFinding::new(
        "open-port",
        Severity::Info,
        format!("Open port {}/tcp on {addr} ({name})", open.port),
        target.clone(),
        &["open-port", &addr, &port],
    );
    f.data = json!({
        "host": label,
        "address": addr,
        "port": open.port,
        "protocol": "tcp",
        "service": guess.map(|(s, _)| s),
        "service_source": guess.map(|(_, from)| from),
        "banner": (!banner.is_empty()).then_some(banner),
    });
    f
}

#[async_trait]
impl Scanner for PortsScanner {
    fn info(&self) -> ScannerInfo {
        ScannerInfo {
            name: PORTS.into(),
            description: "TCP connect scan with banner grabbing: open ports become findings and service targets (host:port)."
                .into(),
            source: "builtin".into(),
            target_kinds: vec![TargetKind::Ip, TargetKind::Domain, TargetKind::Cidr],
            params_schema: params::schema().schema().clone(),
            available: true,
            detail: None,
        }
    }

    fn validate_params(&self, params: &Value) -> Result<(), CoreError> {
        params::schema().validate(params)?;
        let p: PortsParams = ParamsSchema::read(params).map_err(|e| CoreError::invalid("", e))?;
        spec::parse(&p.ports).map_err(|e| CoreError::invalid("/ports", e.to_string()))?;
        Ok(())
    }

    fn check_target(&self, target: &Target, params: &Value) -> Result<(), CoreError> {
        if target.kind() != TargetKind::Cidr {
            return Ok(());
        }
        let cap = ParamsSchema::read::<PortsParams>(params)
            .map(|p| p.max_hosts)
            .unwrap_or(params::DEFAULT_MAX_HOSTS);
        let block: IpNet = target
            .value()
            .parse()
            .map_err(|e| CoreError::invalid("/value", format!("not an address block: {e}")))?;
        let n = argus_core::net::address_count(&block);
        if n > u128::from(cap) {
            return Err(CoreError::invalid(
                "/value",
                format!(
                    "{block} holds {n} addresses, more than the ports scanner's cap of {cap} \
                     per target (param max_hosts); split the block or raise max_hosts"
                ),
            ));
        }
        Ok(())
    }

    fn emits(&self) -> Vec<TargetKind> {
        vec![TargetKind::Service]
    }

    async fn run(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        if ctx.cancel.is_cancelled() {
            return Err(ScanError::Cancelled);
        }
        let p = read(&ctx.params)?;
        let ports = spec::parse(&p.ports).map_err(|e| ScanError::Failed(format!("ports: {e}")))?;
        let target = &ctx.task.target;
        let (hosts, denied) = tokio::select! {
            r = addresses(target, &p, &ctx.net) => r?,
            () = ctx.cancel.cancelled() => return Err(ScanError::Cancelled),
        };
        for d in &denied {
            ctx.emit.finding(skipped(target, d)).await?;
        }
        if hosts.is_empty() || ports.is_empty() {
            return Ok(());
        }

        let sweep = Arc::new(Sweep {
            ips: hosts.iter().map(|(_, ip)| *ip).collect(),
            ports,
            next: AtomicUsize::new(0),
            pacer: HostPacer::new(hosts.len(), p.per_host_rate),
            net: ctx.net.clone(),
            opts: ProbeOptions {
                connect_timeout: Duration::from_millis(p.timeout_ms),
                banner_wait: Duration::from_millis(p.banner_ms),
                banner_bytes: p.banner_bytes as usize,
            },
        });
        // A few worker tasks, each with its share of the attempts in flight: one task polling
        // thousands of sockets would keep the sweep on one core.
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8)
            .min(p.concurrency as usize);
        let per_worker = (p.concurrency as usize).div_ceil(workers);
        let (tx, mut rx) = mpsc::channel::<Open>(1024);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..workers {
            set.spawn(sweep.clone().work(per_worker, tx.clone()));
        }
        drop(tx);

        let mut emitted = HashSet::new();
        loop {
            let open = tokio::select! {
                open = rx.recv() => open,
                () = ctx.cancel.cancelled() => {
                    set.abort_all();
                    return Err(ScanError::Cancelled);
                }
            };
            let Some(open) = open else { break };
            let Some((label, ip)) = hosts.get(open.host) else {
                continue;
            };
            ctx.emit
                .finding(open_port(target, label, *ip, &open))
                .await?;
            if emitted.insert((label.clone(), open.port)) {
                if let Ok(service) = Target::service(label, open.port) {
                    ctx.emit.target(service).await?;
                }
            }
        }
        while let Some(r) = set.join_next().await {
            if let Err(e) = r {
                if e.is_panic() {
                    return Err(ScanError::Failed(format!(
                        "ports: a probe worker failed: {e}"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// One task's sweep, shared by its workers: attempt `i` probes port `ports[i / hosts]` on host
/// `i % hosts`.
struct Sweep {
    ips: Vec<IpAddr>,
    ports: Vec<u16>,
    next: AtomicUsize,
    pacer: Option<HostPacer>,
    net: NetAccess,
    opts: ProbeOptions,
}

impl Sweep {
    async fn work(self: Arc<Self>, in_flight: usize, tx: mpsc::Sender<Open>) {
        let total = self.ips.len() * self.ports.len();
        let attempts = futures::stream::iter(std::iter::from_fn(|| {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            (i < total).then_some(i)
        }));
        let mut results = attempts
            .map(|i| {
                let this = self.clone();
                async move {
                    let (host, port) = (i % this.ips.len(), this.ports[i / this.ips.len()]);
                    if let Some(pacer) = &this.pacer {
                        pacer.wait(host).await;
                    }
                    this.net.rate.acquire(1).await;
                    probe::probe(host, this.ips[host], port, this.opts).await
                }
            })
            .buffer_unordered(in_flight.max(1));
        while let Some(r) = results.next().await {
            if let Some(open) = r {
                if tx.send(open).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_checked_with_paths() {
        let s = PortsScanner;
        assert!(s.validate_params(&Value::Null).is_ok());
        assert!(s.validate_params(&json!({"ports": "1-1024,8080"})).is_ok());
        for (bad, path) in [
            (json!({"ports": "1-70000"}), "/ports"),
            (json!({"ports": "abc"}), "/ports"),
            (json!({"ports": 80}), "/ports"),
            (json!({"concurrency": 0}), "/concurrency"),
            (json!({"max_hosts": "many"}), "/max_hosts"),
        ] {
            match s.validate_params(&bad) {
                Err(CoreError::Invalid { path: got, .. }) => assert_eq!(got, path, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn typed_defaults_agree_with_the_schema() {
        let p: PortsParams = ParamsSchema::read(&Value::Null).unwrap();
        assert_eq!(p, PortsParams::default());
        let d = argus_scanners::schema::defaults(params::schema().schema());
        let from_schema: PortsParams = ParamsSchema::read(&Value::Object(d)).unwrap();
        assert_eq!(from_schema, p);
    }

    #[test]
    fn blocks_over_the_cap_are_refused_at_creation() {
        let s = PortsScanner;
        let small = Target::parse(TargetKind::Cidr, "10.0.0.0/24").unwrap();
        assert!(s.check_target(&small, &json!({})).is_ok());
        let big = Target::parse(TargetKind::Cidr, "10.0.0.0/16").unwrap();
        match s.check_target(&big, &json!({})) {
            Err(CoreError::Invalid { path, message }) => {
                assert_eq!(path, "/value");
                assert!(
                    message.contains("4096") && message.contains("max_hosts"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(s.check_target(&big, &json!({"max_hosts": 65536})).is_ok());
    }
}
