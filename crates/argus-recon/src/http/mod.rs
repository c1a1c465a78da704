//! `http`: what a web server serves at a URL or a service (`host:port`): status, title,
//! `Server` header, content type, the redirect chain, a SHA-256 of the body (first
//! `max_body_bytes`), and technology fingerprints (`data/fingerprints.toml`).
//!
//! Requests go through reqwest over rustls, accepting any certificate (recon looks at what is
//! served, the `tls` scanner judges certificates). Redirects are followed here, hop by hop (at
//! most `max_redirects`), so the chain is recorded and every hop passes the network guard:
//! names through [`guard::GuardedResolver`] at connect time, address literals checked before
//! the request. A refused address is reported as a `scope-skipped` finding, not an error.
//! A service is probed as `http://` first (`https://` first on ports that usually speak TLS),
//! then the other scheme when the first fails or answers that it wanted TLS.
//! Redirects to another host are emitted as `url` targets.

mod fingerprint;
pub(crate) mod guard;
mod params;

pub use fingerprint::{Detected, Evidence, Technology};
pub use params::HttpParams;

use std::sync::Arc;
use std::time::Duration;

use crate::enabled::EnabledConfig;
use argus_core::component::{BuildError, Doors, Factory};
use argus_core::finding::{NewFinding, Severity};
use argus_core::net::{Denied, NetAccess};
use argus_core::scanner::{ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use argus_scanners::schema::ParamsSchema;
use async_trait::async_trait;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

use crate::ports::service::usually_tls;

/// Registry name.
pub const HTTP: &str = "http";

/// The HTTP probe.
#[derive(Debug, Default, Clone, Copy)]
pub struct HttpScanner;

/// Builds `http` unless `[scanners.http] enabled = false`.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpFactory;

impl Factory for HttpFactory {
    type Built = dyn Scanner;
    type Config = EnabledConfig;

    fn name(&self) -> &'static str {
        HTTP
    }

    fn build(
        &self,
        config: EnabledConfig,
        _doors: &Doors,
    ) -> Result<Vec<Arc<dyn Scanner>>, BuildError> {
        Ok(config.build(HttpScanner))
    }
}

/// One hop of a redirect chain.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Hop {
    pub url: String,
    pub status: u16,
    pub location: String,
}

/// What one probe found at the end of its redirects.
#[derive(Debug)]
pub struct Page {
    pub start: Url,
    pub url: Url,
    pub status: u16,
    pub redirects: Vec<Hop>,
    pub title: Option<String>,
    pub server: Option<String>,
    pub content_type: Option<String>,
    pub body_sha256: String,
    pub body_bytes: u64,
    pub body_truncated: bool,
    pub technologies: Vec<Detected>,
    /// A plain-HTTP 400 that says the port wanted TLS (nginx: "The plain HTTP request was sent
    /// to HTTPS port").
    pub tls_hint: bool,
}

/// Why a probe found nothing.
#[derive(Debug)]
enum Miss {
    /// The guard refused an address.
    Refused(Vec<Denied>),
    /// No HTTP answer (closed, not HTTP, timed out, TLS failed).
    Failed(String),
}

/// The first `<title>` of an HTML body, whitespace collapsed, a few entities decoded, at most
/// 256 characters.
pub fn title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let t = body[start..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let t: String = t.chars().take(256).collect();
    (!t.is_empty()).then_some(t)
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// A client for one task: any certificate, no automatic redirects, no proxy (the guard judges
/// the address actually connected to), names resolved through the guard.
///
/// The one HTTP client outside the HTTP door (`argus_scanners::http`), on purpose: the door's
/// shared client resolves names without the network guard, verifies certificates and pools
/// connections across tasks, and a connection pooled under one task's permissive policy must
/// not serve another task's stricter one. So each task builds its own, with its own policy.
fn client(p: &HttpParams, resolver: &guard::GuardedResolver) -> Result<reqwest::Client, ScanError> {
    let builder = reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(resolver.clone()))
        .timeout(Duration::from_millis(p.timeout_ms))
        .connect_timeout(Duration::from_millis(p.timeout_ms))
        .user_agent(p.user_agent.clone());
    // See above: a per-task client is what keeps the guard at connect time.
    #[allow(clippy::disallowed_methods)]
    let built = builder.build();
    built.map_err(|e| ScanError::Failed(format!("http: cannot build the client: {e}")))
}

/// Follows `start` through its redirects and reads the final page.
async fn fetch(
    client: &reqwest::Client,
    resolver: &guard::GuardedResolver,
    net: &NetAccess,
    p: &HttpParams,
    start: &Url,
) -> Result<Page, Miss> {
    let mut url = start.clone();
    let mut redirects = Vec::new();
    loop {
        // Names are judged by the resolver at connect time; literals never reach it.
        let literal = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(std::net::IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(std::net::IpAddr::V6(v6)),
            _ => None,
        };
        if let Some(Err(d)) = literal.map(|ip| net.policy.check(ip)) {
            return Err(Miss::Refused(vec![d]));
        }
        net.rate.acquire(1).await;
        let mut resp = match client.get(url.clone()).send().await {
            Ok(r) => r,
            Err(e) => {
                let refused = resolver.take_refused();
                return Err(if refused.is_empty() {
                    Miss::Failed(format!("{url}: {}", error_chain(&e)))
                } else {
                    Miss::Refused(refused)
                });
            }
        };
        let status = resp.status();
        let location = status
            .is_redirection()
            .then(|| header(&resp, "location"))
            .flatten();
        if let Some(location) = location {
            if redirects.len() < p.max_redirects as usize {
                if let Ok(next) = url.join(&location) {
                    if matches!(next.scheme(), "http" | "https") {
                        redirects.push(Hop {
                            url: url.to_string(),
                            status: status.as_u16(),
                            location: next.to_string(),
                        });
                        url = next;
                        continue;
                    }
                }
            }
        }
        let server = header(&resp, "server");
        let content_type = header(&resp, "content-type");
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let cookies: Vec<String> = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| {
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                v.split_once('=').map(|(name, _)| name.trim().to_owned())
            })
            .collect();
        let mut body = Vec::new();
        let mut truncated = false;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    let room = (p.max_body_bytes as usize).saturating_sub(body.len());
                    if chunk.len() > room {
                        body.extend_from_slice(&chunk[..room]);
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                // A body cut short still says what the server is.
                Err(_) => {
                    truncated = true;
                    break;
                }
            }
        }
        let text = String::from_utf8_lossy(&body);
        let title = title(&text);
        let tls_hint = url.scheme() == "http"
            && status.as_u16() == 400
            && text.to_ascii_lowercase().contains("https");
        let technologies = Evidence {
            headers,
            cookies,
            body: &text,
            title: title.as_deref(),
        }
        .detect(fingerprint::shipped());
        return Ok(Page {
            start: start.clone(),
            url,
            status: status.as_u16(),
            redirects,
            title,
            server,
            content_type,
            body_sha256: hex::encode(Sha256::digest(&body)),
            body_bytes: body.len() as u64,
            body_truncated: truncated,
            technologies,
            tls_hint,
        });
    }
}

/// An error with its sources (reqwest's own message hides the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

/// The URLs to try for a target, in order.
fn candidates(target: &Target) -> Result<Vec<Url>, ScanError> {
    let bad = |e: url::ParseError| ScanError::Failed(format!("http: {target}: {e}"));
    match target.kind() {
        TargetKind::Url => Ok(vec![Url::parse(target.value()).map_err(bad)?]),
        TargetKind::Service => {
            let port = target.port().unwrap_or(80);
            let http = Url::parse(&format!("http://{}/", target.value())).map_err(bad)?;
            let https = Url::parse(&format!("https://{}/", target.value())).map_err(bad)?;
            Ok(if usually_tls(port) {
                vec![https, http]
            } else {
                vec![http, https]
            })
        }
        _ => Err(ScanError::Failed(format!("http: cannot probe {target}"))),
    }
}

fn finding(target: &Target, page: &Page) -> NewFinding {
    let shown = page.title.as_deref().unwrap_or("no title");
    let mut f = NewFinding::new(
        "http-service",
        Severity::Info,
        format!("HTTP {} at {}: {shown}", page.status, page.url),
        target.clone(),
        &["http-service", page.start.as_str()],
    );
    f.location.url = Some(page.url.to_string());
    f.data = json!({
        "url": page.start.as_str(),
        "final_url": page.url.as_str(),
        "status": page.status,
        "title": page.title,
        "server": page.server,
        "content_type": page.content_type,
        "redirects": page.redirects,
        "body_sha256": page.body_sha256,
        "body_bytes": page.body_bytes,
        "body_truncated": page.body_truncated,
        "technologies": page.technologies,
    });
    f
}

#[async_trait]
impl Scanner for HttpScanner {
    fn info(&self) -> ScannerInfo {
        ScannerInfo {
            name: HTTP.into(),
            description: "Probes a URL or a host:port service over HTTP(S): status, title, server, redirect chain, body hash, technology fingerprints."
                .into(),
            source: "builtin".into(),
            target_kinds: vec![TargetKind::Url, TargetKind::Service],
            params_schema: params::schema().schema().clone(),
            available: true,
            detail: None,
        }
    }

    fn validate_params(&self, params: &Value) -> Result<(), CoreError> {
        params::schema().validate(params)
    }

    fn check_target(&self, target: &Target, _params: &Value) -> Result<(), CoreError> {
        if target.kind() == TargetKind::Url {
            let scheme = Url::parse(target.value())
                .map(|u| u.scheme().to_owned())
                .unwrap_or_default();
            if !matches!(scheme.as_str(), "http" | "https") {
                return Err(CoreError::invalid(
                    "/value",
                    format!("the http scanner probes http and https URLs, not {scheme}:"),
                ));
            }
        }
        Ok(())
    }

    fn emits(&self) -> Vec<TargetKind> {
        vec![TargetKind::Url]
    }

    async fn run(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        if ctx.cancel.is_cancelled() {
            return Err(ScanError::Cancelled);
        }
        tokio::select! {
            r = self.probe(ctx) => r,
            () = ctx.cancel.cancelled() => Err(ScanError::Cancelled),
        }
    }
}

impl HttpScanner {
    async fn probe(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        let p: HttpParams =
            ParamsSchema::read(&ctx.params).map_err(|e| ScanError::Failed(format!("http {e}")))?;
        let target = &ctx.task.target;
        let resolver = guard::GuardedResolver::new(ctx.net.policy.clone());
        let client = client(&p, &resolver)?;
        let mut found = None;
        // A plain answer asking for TLS, kept in case https:// does not answer either.
        let mut asked_tls = None;
        let mut misses = Vec::new();
        let mut refused: Vec<Denied> = Vec::new();
        for url in candidates(target)? {
            match fetch(&client, &resolver, &ctx.net, &p, &url).await {
                Ok(page) if page.tls_hint && target.kind() == TargetKind::Service => {
                    asked_tls.get_or_insert(page);
                }
                Ok(page) => {
                    found = Some(page);
                    break;
                }
                Err(Miss::Refused(d)) => {
                    refused = d;
                    break;
                }
                Err(Miss::Failed(m)) => misses.push(m),
            }
        }
        let found = found.or(asked_tls);
        let mut seen = std::collections::BTreeSet::new();
        for d in &refused {
            if seen.insert(d.ip) {
                ctx.emit.finding(crate::ports::skipped(target, d)).await?;
            }
        }
        let Some(page) = found else {
            if !refused.is_empty() || target.kind() == TargetKind::Service {
                // A service that does not speak HTTP is an answer, not a failure.
                return Ok(());
            }
            return Err(ScanError::Failed(format!(
                "http: no answer: {}",
                misses.join("; ")
            )));
        };
        ctx.emit.finding(finding(target, &page)).await?;
        let start_host = page.start.host_str().map(str::to_owned);
        let mut emitted = std::collections::BTreeSet::new();
        for hop in &page.redirects {
            let Ok(next) = Url::parse(&hop.location) else {
                continue;
            };
            if next.host_str().map(str::to_owned) != start_host && emitted.insert(next.to_string())
            {
                if let Ok(t) = Target::parse(TargetKind::Url, next.as_str()) {
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
    fn titles() {
        assert_eq!(
            title("<html><TITLE lang=en>\n  Hello &amp;\n World </title>").as_deref(),
            Some("Hello & World")
        );
        assert_eq!(title("<title></title>"), None);
        assert_eq!(title("no title here"), None);
    }

    #[test]
    fn service_candidates_try_the_likely_scheme_first() {
        let s = Target::service("127.0.0.1", 8443).unwrap();
        let c = candidates(&s).unwrap();
        assert_eq!(c[0].as_str(), "https://127.0.0.1:8443/");
        let s = Target::service("::1", 8080).unwrap();
        assert_eq!(candidates(&s).unwrap()[0].as_str(), "http://[::1]:8080/");
    }

    #[test]
    fn only_web_urls_are_accepted() {
        let ftp = Target::parse(TargetKind::Url, "ftp://example.com/").unwrap();
        assert!(HttpScanner.check_target(&ftp, &json!({})).is_err());
        let web = Target::parse(TargetKind::Url, "https://example.com/").unwrap();
        assert!(HttpScanner.check_target(&web, &json!({})).is_ok());
    }
}
