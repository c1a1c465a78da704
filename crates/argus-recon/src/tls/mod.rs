//! `tls`: the certificate a TLS service presents, and what is wrong with it.
//!
//! Accepts a `service` (`host:port`), an `https` URL, or a `domain` (port 443). Connects to
//! the host's addresses in turn (each checked by the network guard right before the connect; a
//! refused one is reported as `scope-skipped`), handshakes with SNI when the host is a name,
//! through a verifier that accepts every certificate ([`verify`]), and reports:
//! - `tls-certificate` (info): subject, issuer, SANs, validity, serial, SHA-256, protocol
//!   version, cipher suite, chain length;
//! - `tls-certificate-expired` (high), `tls-certificate-expiring` (medium, within
//!   `warn_days`), `tls-certificate-self-signed` (low).
//!
//! The certificate's DNS names are emitted as `domain` targets (a wildcard as its base
//! domain). A service that does not speak TLS is an answer, not a failure.

mod cert;
mod params;
mod verify;

pub use cert::{san_domain, CertInfo};
pub use params::TlsParams;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::enabled::EnabledConfig;
use argus_core::component::{BuildError, Doors, Factory};
use argus_core::finding::{NewFinding, Severity};
use argus_core::scanner::{ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use argus_scanners::schema::ParamsSchema;
use async_trait::async_trait;
use rustls::pki_types::ServerName;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Registry name.
pub const TLS: &str = "tls";

/// The TLS certificate inspector.
#[derive(Debug, Default, Clone, Copy)]
pub struct TlsScanner;

/// Builds `tls` unless `[scanners.tls] enabled = false`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TlsFactory;

impl Factory for TlsFactory {
    type Built = dyn Scanner;
    type Config = EnabledConfig;

    fn name(&self) -> &'static str {
        TLS
    }

    fn build(
        &self,
        config: EnabledConfig,
        _doors: &Doors,
    ) -> Result<Vec<Arc<dyn Scanner>>, BuildError> {
        Ok(config.build(TlsScanner))
    }
}

/// What one handshake showed.
#[derive(Debug)]
struct Handshake {
    address: SocketAddr,
    leaf: CertInfo,
    chain_length: usize,
    protocol: String,
    cipher_suite: String,
}

/// The host and port a target names.
fn endpoint(target: &Target) -> Result<(String, u16), String> {
    let host = target
        .host()
        .ok_or_else(|| format!("{target} names no host"))?;
    let port = match target.kind() {
        TargetKind::Domain => 443,
        TargetKind::Url | TargetKind::Service => target
            .port()
            .ok_or_else(|| format!("{target} names no port"))?,
        _ => return Err(format!("cannot inspect {target}")),
    };
    Ok((host, port))
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| unix.to_string())
}

async fn handshake_once(
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    address: SocketAddr,
    limit: Duration,
) -> Result<Handshake, String> {
    let tcp = timeout(limit, TcpStream::connect(address))
        .await
        .map_err(|_| format!("{address}: connect timed out"))?
        .map_err(|e| format!("{address}: {e}"))?;
    let tls = timeout(
        limit,
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .map_err(|_| format!("{address}: handshake timed out"))?
    .map_err(|e| format!("{address}: handshake: {e}"))?;
    let (_, conn) = tls.get_ref();
    let chain = conn.peer_certificates().unwrap_or_default();
    let leaf = chain
        .first()
        .ok_or_else(|| format!("{address}: no certificate presented"))?;
    let leaf = cert::parse(leaf.as_ref()).map_err(|e| format!("{address}: certificate: {e}"))?;
    Ok(Handshake {
        address,
        leaf,
        chain_length: chain.len(),
        protocol: conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default(),
        cipher_suite: conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
    })
}

fn findings(
    target: &Target,
    host: &str,
    port: u16,
    h: &Handshake,
    warn_days: u32,
) -> Vec<NewFinding> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let endpoint = format!("{host}:{port}");
    let c = &h.leaf;
    let days_left = (c.not_after - now).div_euclid(86_400);
    let data = json!({
        "host": host,
        "port": port,
        "address": h.address.ip().to_string(),
        "sni": host.parse::<IpAddr>().is_err().then_some(host),
        "subject": c.subject,
        "issuer": c.issuer,
        "dns_names": c.dns_names,
        "ip_addresses": c.ip_addresses,
        "not_before": rfc3339(c.not_before),
        "not_after": rfc3339(c.not_after),
        "days_left": days_left,
        "serial": c.serial,
        "sha256": c.sha256,
        "self_signed": c.self_signed,
        "protocol": h.protocol,
        "cipher_suite": h.cipher_suite,
        "chain_length": h.chain_length,
    });
    let make = |kind: &str, severity: Severity, title: String| {
        let mut f = NewFinding::new(
            kind,
            severity,
            title,
            target.clone(),
            &[kind, &endpoint, &c.sha256],
        );
        f.data = data.clone();
        f
    };
    let mut out = vec![make(
        "tls-certificate",
        Severity::Info,
        format!(
            "TLS certificate at {endpoint}: {} (issued by {})",
            c.subject, c.issuer
        ),
    )];
    if c.not_after < now {
        out.push(make(
            "tls-certificate-expired",
            Severity::High,
            format!(
                "Expired TLS certificate at {endpoint} (expired {})",
                rfc3339(c.not_after)
            ),
        ));
    } else if days_left < i64::from(warn_days) {
        out.push(make(
            "tls-certificate-expiring",
            Severity::Medium,
            format!(
                "TLS certificate at {endpoint} expires in {days_left} days ({})",
                rfc3339(c.not_after)
            ),
        ));
    }
    if c.self_signed {
        out.push(make(
            "tls-certificate-self-signed",
            Severity::Low,
            format!("Self-signed TLS certificate at {endpoint}"),
        ));
    }
    out
}

#[async_trait]
impl Scanner for TlsScanner {
    fn info(&self) -> ScannerInfo {
        ScannerInfo {
            name: TLS.into(),
            description: "Inspects the certificate a TLS service presents (names, issuer, validity, protocol, cipher); flags expired, expiring and self-signed ones; certificate names become domain targets."
                .into(),
            source: "builtin".into(),
            target_kinds: vec![TargetKind::Domain, TargetKind::Url, TargetKind::Service],
            params_schema: params::schema().schema().clone(),
            available: true,
            detail: None,
        }
    }

    fn validate_params(&self, params: &Value) -> Result<(), CoreError> {
        params::schema().validate(params)
    }

    fn check_target(&self, target: &Target, _params: &Value) -> Result<(), CoreError> {
        if target.kind() == TargetKind::Url && !target.value().starts_with("https://") {
            return Err(CoreError::invalid(
                "/value",
                "the tls scanner inspects https URLs (or host:port services)",
            ));
        }
        Ok(())
    }

    fn emits(&self) -> Vec<TargetKind> {
        vec![TargetKind::Domain]
    }

    async fn run(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        if ctx.cancel.is_cancelled() {
            return Err(ScanError::Cancelled);
        }
        tokio::select! {
            r = self.inspect(ctx) => r,
            () = ctx.cancel.cancelled() => Err(ScanError::Cancelled),
        }
    }
}

impl TlsScanner {
    async fn inspect(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        let p: TlsParams =
            ParamsSchema::read(&ctx.params).map_err(|e| ScanError::Failed(format!("tls {e}")))?;
        let target = &ctx.task.target;
        let (host, port) = endpoint(target).map_err(|e| ScanError::Failed(format!("tls: {e}")))?;
        let ips = crate::ports::hosts::resolve(&host)
            .await
            .map_err(|e| ScanError::Failed(format!("tls: cannot resolve {host}: {e}")))?;
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(host.clone())
                .map_err(|e| ScanError::Failed(format!("tls: {host}: {e}")))?,
        };
        let config = Arc::new(
            verify::client_config()
                .map_err(|e| ScanError::Failed(format!("tls: client config: {e}")))?,
        );
        let limit = Duration::from_millis(p.timeout_ms);
        let mut misses = Vec::new();
        let mut done = None;
        for ip in ips {
            // Right before the connect: what the name resolves to now is what is judged.
            if let Err(d) = ctx.net.policy.check(ip) {
                ctx.emit.finding(crate::ports::skipped(target, &d)).await?;
                continue;
            }
            ctx.net.rate.acquire(1).await;
            match handshake_once(
                config.clone(),
                name.clone(),
                SocketAddr::new(ip, port),
                limit,
            )
            .await
            {
                Ok(h) => {
                    done = Some(h);
                    break;
                }
                Err(m) => misses.push(m),
            }
        }
        let Some(h) = done else {
            if misses.is_empty() || target.kind() == TargetKind::Service {
                // Every address refused, or a service that does not speak TLS: an answer.
                return Ok(());
            }
            return Err(ScanError::Failed(format!("tls: {}", misses.join("; "))));
        };
        for f in findings(target, &host, port, &h, p.warn_days) {
            ctx.emit.finding(f).await?;
        }
        let mut seen = std::collections::BTreeSet::new();
        for san in &h.leaf.dns_names {
            let d = san_domain(san);
            if d != host && seen.insert(d.clone()) {
                if let Ok(t) = Target::parse(TargetKind::Domain, &d) {
                    ctx.emit.target(t).await?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let d = Target::parse(TargetKind::Domain, "example.com").unwrap();
        assert_eq!(endpoint(&d).unwrap(), ("example.com".into(), 443));
        let u = Target::parse(TargetKind::Url, "https://example.com:8443/x").unwrap();
        assert_eq!(endpoint(&u).unwrap(), ("example.com".into(), 8443));
        let s = Target::service("::1", 993).unwrap();
        assert_eq!(endpoint(&s).unwrap(), ("::1".into(), 993));
        let http = Target::parse(TargetKind::Url, "http://example.com/").unwrap();
        assert!(TlsScanner.check_target(&http, &json!({})).is_err());
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
