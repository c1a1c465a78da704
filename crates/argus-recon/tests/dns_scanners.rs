//! `dns` and `subdomains` against the local DNS server (`argus_recon::testkit::dns`): records,
//! mail policies, the network guard, wildcard detection, passive sources over a local HTTP
//! responder, wordlist files and cancellation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::component::{Doors, Factory};
use argus_core::finding::{NewFinding, Severity};
use argus_core::ids::{OrgId, ScanId, TaskId};
use argus_core::net::{NetAccess, NetPolicy};
use argus_core::scan::Priority;
use argus_core::scanner::{Emission, Emitter, ScanError, Scanner, TaskContext, TaskInputs};
use argus_core::target::{Target, TargetKind};
use argus_core::task::Task;
use argus_recon::dns::{DnsConfig, DnsFactory, DnsScanner};
use argus_recon::subdomains::SubdomainsScanner;
use argus_recon::testkit::dns::{sample_zone, TestDns};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

struct Outcome {
    result: Result<(), ScanError>,
    findings: Vec<NewFinding>,
    targets: Vec<Target>,
}

impl Outcome {
    fn kinds(&self) -> BTreeSet<&str> {
        self.findings.iter().map(|f| f.kind.as_str()).collect()
    }
    fn finding(&self, kind: &str) -> &NewFinding {
        self.findings
            .iter()
            .find(|f| f.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} finding in {:?}", self.kinds()))
    }
    fn target_values(&self, kind: TargetKind) -> BTreeSet<String> {
        self.targets
            .iter()
            .filter(|t| t.kind() == kind)
            .map(|t| t.value().to_owned())
            .collect()
    }
    fn record(&self, rtype: &str) -> Vec<String> {
        self.findings
            .iter()
            .find(|f| f.kind == "dns-record" && f.data["type"] == rtype)
            .map(|f| {
                f.data["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

async fn run_with_cancel(
    scanner: &dyn Scanner,
    target: Target,
    params: Value,
    net: NetAccess,
    cancel: CancellationToken,
) -> Outcome {
    scanner.validate_params(&params).unwrap();
    let work = tempfile::tempdir().unwrap();
    let task = Task {
        id: TaskId::new(),
        scan_id: ScanId::new(),
        org_id: OrgId::parse("test").unwrap(),
        scanner: scanner.info().name,
        target,
        depth: 0,
        priority: Priority::Medium,
        max_attempts: 1,
        params: None,
        enumerates: false,
    };
    let (emit, mut rx) = Emitter::channel(64);
    let drain = tokio::spawn(async move {
        let (mut findings, mut targets) = (Vec::new(), Vec::new());
        while let Some(e) = rx.recv().await {
            match e {
                Emission::Finding(f) => {
                    f.validate().unwrap();
                    findings.push(f)
                }
                Emission::Target(t) => targets.push(t),
                other => panic!("unexpected emission {other:?}"),
            }
        }
        (findings, targets)
    });
    let ctx = TaskContext {
        task,
        params,
        cancel,
        work_dir: work.path().to_path_buf(),
        emit,
        inputs: TaskInputs::none(),
        net,
    };
    let result = scanner.run(&ctx).await;
    drop(ctx);
    let (findings, targets) = drain.await.unwrap();
    Outcome {
        result,
        findings,
        targets,
    }
}

async fn run(scanner: &dyn Scanner, target: Target, params: Value, net: NetAccess) -> Outcome {
    run_with_cancel(scanner, target, params, net, CancellationToken::new()).await
}

fn domain(d: &str) -> Target {
    Target::parse(TargetKind::Domain, d).unwrap()
}

fn email(e: &str) -> Target {
    Target::parse(TargetKind::Email, e).unwrap()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_reports_every_record_type_and_emits_what_it_learnt() {
    let server = TestDns::start(sample_zone()).await.unwrap();
    let params = json!({"resolver": server.addr().to_string()});
    let out = run(
        &DnsScanner::default(),
        domain("example.test"),
        params.clone(),
        NetAccess::unrestricted(),
    )
    .await;
    out.result.as_ref().unwrap();
    assert_eq!(out.record("A"), ["93.184.216.34"]);
    assert_eq!(out.record("AAAA"), ["2606:2800:220:1::1"]);
    assert_eq!(out.record("MX"), ["10 mail.example.test"]);
    assert_eq!(out.record("NS"), ["ns1.example.test", "ns2.example.test"]);
    assert_eq!(out.record("TXT"), ["v=spf1 mx -all"]);
    assert_eq!(out.record("SOA").len(), 1);
    assert!(out.record("SOA")[0].contains("ns1.example.test"));
    assert_eq!(out.record("CAA").len(), 1);
    assert!(
        out.record("CAA")[0].contains("letsencrypt.org"),
        "{:?}",
        out.record("CAA")
    );
    // The apex has no CNAME: no finding for it.
    assert!(out.record("CNAME").is_empty());
    assert!(out.findings.iter().all(|f| f.severity == Severity::Info));
    assert_eq!(
        out.target_values(TargetKind::Ip),
        set(&["93.184.216.34", "2606:2800:220:1::1"])
    );
    assert_eq!(
        out.target_values(TargetKind::Domain),
        set(&["mail.example.test", "ns1.example.test", "ns2.example.test"])
    );

    // A CNAME: reported and followed.
    let out = run(
        &DnsScanner::default(),
        domain("blog.example.test"),
        json!({"resolver": server.addr().to_string(), "record_types": ["CNAME", "A"]}),
        NetAccess::unrestricted(),
    )
    .await;
    out.result.as_ref().unwrap();
    assert_eq!(out.record("CNAME"), ["www.example.test"]);
    assert_eq!(out.record("A"), ["93.184.216.34"]);
    assert_eq!(
        out.target_values(TargetKind::Domain),
        set(&["www.example.test"])
    );

    // A name that does not exist: no records, no error.
    let out = run(
        &DnsScanner::default(),
        domain("nothing.example.test"),
        params,
        NetAccess::unrestricted(),
    )
    .await;
    out.result.as_ref().unwrap();
    assert!(out.findings.is_empty() && out.targets.is_empty());
    assert!(server.queries() >= 8 + 2 + 8);
}

async fn mail(server: &TestDns, address: &str) -> Outcome {
    let out = run(
        &DnsScanner::default(),
        email(address),
        json!({"resolver": server.addr().to_string()}),
        NetAccess::unrestricted(),
    )
    .await;
    out.result.as_ref().unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_policies_good_and_bad() {
    let server = TestDns::start(sample_zone()).await.unwrap();

    let good = mail(&server, "security@good-mail.test").await;
    assert_eq!(good.kinds(), BTreeSet::from(["email-policy"]));
    let summary = good.finding("email-policy");
    assert_eq!(summary.data["mx"], json!(["10 mx.good-mail.test"]));
    assert_eq!(summary.data["dmarc_policy"], "reject");
    assert_eq!(
        good.target_values(TargetKind::Domain),
        set(&["mx.good-mail.test"])
    );

    let bad = mail(&server, "a@bad-mail.test").await;
    let spf = bad.finding("spf-permissive");
    assert_eq!(spf.severity, Severity::High);
    assert_eq!(spf.data["record"], "v=spf1 +all");
    assert_eq!(bad.finding("dmarc-permissive").severity, Severity::Low);
    assert!(!bad.kinds().contains("mx-missing"));

    let neutral = mail(&server, "a@neutral-mail.test").await;
    assert_eq!(neutral.finding("spf-permissive").severity, Severity::Medium);
    assert_eq!(neutral.finding("dmarc-missing").severity, Severity::Medium);

    let none = mail(&server, "a@no-mail.test").await;
    for k in ["mx-missing", "spf-missing", "dmarc-missing"] {
        none.finding(k);
    }
    assert_eq!(none.finding("spf-missing").severity, Severity::Medium);
    assert!(none.targets.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_keeps_private_addresses_out_of_the_chain() {
    let server = TestDns::start(sample_zone()).await.unwrap();
    // The operator's resolver (config) is trusted even on loopback.
    let doors = Doors::new(argus_scanners::process::door());
    let scanner = DnsFactory
        .build(
            DnsConfig {
                resolver: Some(server.addr().to_string()),
            },
            &doors,
        )
        .unwrap()
        .remove(0);
    let target = domain("internal.example.test");
    let params = json!({"record_types": ["A"]});

    let strict = run(
        &*scanner,
        target.clone(),
        params.clone(),
        NetAccess::default(),
    )
    .await;
    strict.result.as_ref().unwrap();
    assert_eq!(strict.record("A"), ["10.0.0.1"]);
    assert!(strict.target_values(TargetKind::Ip).is_empty());
    let skipped = strict.finding("scope-skipped");
    assert_eq!(skipped.data["address"], "10.0.0.1");
    assert_eq!(skipped.data["class"], "private");

    let open = run(&*scanner, target, params, NetAccess::unrestricted()).await;
    open.result.as_ref().unwrap();
    assert_eq!(open.target_values(TargetKind::Ip), set(&["10.0.0.1"]));
    assert!(!open.kinds().contains("scope-skipped"));

    // A resolver named in the params is the tenant's: loopback is refused before any query.
    let before = server.queries();
    let refused = run(
        &DnsScanner::default(),
        domain("example.test"),
        json!({"resolver": server.addr().to_string()}),
        NetAccess::default(),
    )
    .await;
    refused.result.as_ref().unwrap();
    assert_eq!(refused.kinds(), BTreeSet::from(["scope-skipped"]));
    assert_eq!(refused.finding("scope-skipped").data["name"], "resolver");
    assert_eq!(server.queries(), before);
    // Unless the operator allows loopback.
    let lo = NetAccess::new(NetPolicy {
        allow_private: false,
        allow: vec!["127.0.0.0/8".parse().unwrap()],
    });
    let allowed = run(
        &DnsScanner::default(),
        domain("example.test"),
        json!({"resolver": server.addr().to_string(), "record_types": ["A"]}),
        lo,
    )
    .await;
    assert_eq!(allowed.record("A"), ["93.184.216.34"]);
}

fn names(out: &Outcome) -> BTreeSet<String> {
    out.findings
        .iter()
        .filter(|f| f.kind == "subdomain")
        .map(|f| f.data["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brute_force_finds_names_from_words_and_wordlists() {
    let server = TestDns::start(sample_zone()).await.unwrap();
    let out = run(
        &SubdomainsScanner::default(),
        domain("example.test"),
        json!({"resolver": server.addr().to_string(),
               "words": ["www", "api", "blog", "nothere", "internal", "missing"]}),
        NetAccess::unrestricted(),
    )
    .await;
    out.result.as_ref().unwrap();
    let want = set(&[
        "www.example.test",
        "api.example.test",
        "blog.example.test",
        "internal.example.test",
    ]);
    assert_eq!(names(&out), want);
    assert_eq!(out.target_values(TargetKind::Domain), want);
    assert!(!out.kinds().contains("dns-wildcard"));
    let www = out
        .findings
        .iter()
        .find(|f| f.data["name"] == "www.example.test")
        .unwrap();
    assert_eq!(www.data["addresses"], json!(["93.184.216.34"]));
    assert_eq!(www.data["sources"], json!(["brute"]));

    // A wordlist file on the server; the shipped list otherwise finds the sample's names too.
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("words.txt");
    std::fs::write(&list, "# test list\ndev\nmail\nzzz-none\n").unwrap();
    let out = run(
        &SubdomainsScanner::default(),
        domain("example.test"),
        json!({"resolver": server.addr().to_string(), "wordlist": list.to_str().unwrap()}),
        NetAccess::unrestricted(),
    )
    .await;
    out.result.as_ref().unwrap();
    assert_eq!(names(&out), set(&["dev.example.test", "mail.example.test"]));

    let before = server.queries();
    let out = run(
        &SubdomainsScanner::default(),
        domain("example.test"),
        json!({"resolver": server.addr().to_string()}),
        NetAccess::unrestricted(),
    )
    .await;
    out.result.as_ref().unwrap();
    for n in [
        "www", "api", "dev", "mail", "blog", "ns1", "ns2", "internal",
    ] {
        assert!(
            names(&out).contains(&format!("{n}.example.test")),
            "{n}: {:?}",
            names(&out)
        );
    }
    let shipped = argus_recon::subdomains::parse_words(argus_recon::subdomains::SHIPPED_WORDLIST);
    // Two queries (A, AAAA) per word and per wildcard probe.
    assert!(server.queries() - before >= 2 * shipped.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_is_detected_and_its_answers_dropped() {
    let server = TestDns::start(sample_zone()).await.unwrap();
    let out = run(
        &SubdomainsScanner::default(),
        domain("wild.example.test"),
        json!({"resolver": server.addr().to_string(),
               "words": ["real", "www", "api", "anything"]}),
        NetAccess::unrestricted(),
    )
    .await;
    out.result.as_ref().unwrap();
    let wc = out.finding("dns-wildcard");
    assert_eq!(wc.data["addresses"], json!(["93.184.216.99"]));
    // Only the name with an answer of its own is kept.
    assert_eq!(names(&out), set(&["real.wild.example.test"]));
}

/// A one-shot-per-connection HTTP responder: answers every request with `body` as JSON and
/// records the request lines.
async fn http_responder(body: &'static str) -> (SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf)
                    .lines()
                    .next()
                    .unwrap()
                    .to_owned();
                log.lock().unwrap().push(head);
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                s.write_all(resp.as_bytes()).await.unwrap();
            });
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passive_sources_add_names_under_the_domain() {
    let server = TestDns::start(sample_zone()).await.unwrap();
    let (http, requests) = http_responder(
        r#"[{"issuer_name": "x", "name_value": "api.example.test\n*.cdn.example.test\nexample.test", "common_name": "old.example.test"},
            {"name_value": "www.other.test\nexample.test.evil.test"}]"#,
    )
    .await;
    let params = json!({
        "resolver": server.addr().to_string(),
        "brute": false,
        "passive_urls": [format!("http://{http}/?q=%25.{{domain}}&output=json")],
    });
    let out = run(
        &SubdomainsScanner::default(),
        domain("example.test"),
        params.clone(),
        NetAccess::unrestricted(),
    )
    .await;
    out.result.as_ref().unwrap();
    assert_eq!(
        names(&out),
        set(&["api.example.test", "cdn.example.test", "old.example.test"])
    );
    let api = out
        .findings
        .iter()
        .find(|f| f.data["name"] == "api.example.test")
        .unwrap();
    assert_eq!(api.data["sources"], json!(["passive"]));
    assert_eq!(api.data["addresses"], json!(["93.184.216.80"]));
    assert_eq!(
        requests.lock().unwrap().as_slice(),
        ["GET /?q=%25.example.test&output=json HTTP/1.1"]
    );

    // A source named in the params on loopback is refused by the default guard (the resolver
    // here is the config's, trusted).
    let guarded = run(
        &SubdomainsScanner::new(Some(server.addr()), Vec::new()),
        domain("example.test"),
        json!({"brute": false, "passive_urls": [format!("http://{http}/{{domain}}")]}),
        NetAccess::default(),
    )
    .await;
    guarded.result.as_ref().unwrap();
    assert!(names(&guarded).is_empty());
    assert_eq!(requests.lock().unwrap().len(), 1);
    // The same source from the config is the operator's and trusted.
    let trusted = run(
        &SubdomainsScanner::new(
            Some(server.addr()),
            vec![format!("http://{http}/{{domain}}")],
        ),
        domain("example.test"),
        json!({"brute": false}),
        NetAccess::default(),
    )
    .await;
    trusted.result.as_ref().unwrap();
    assert_eq!(names(&trusted).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_stops_a_hanging_brute_force() {
    let server = TestDns::start(sample_zone()).await.unwrap();
    for scanner in [
        Arc::new(SubdomainsScanner::default()) as Arc<dyn Scanner>,
        Arc::new(DnsScanner::default()),
    ] {
        let before = server.queries();
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        let params = json!({"resolver": server.addr().to_string(), "timeout_ms": 600000});
        let s = scanner.clone();
        let running = tokio::spawn(async move {
            run_with_cancel(
                &*s,
                domain("x.slow.test"),
                params,
                NetAccess::unrestricted(),
                token,
            )
            .await
        });
        // Under way once the server saw a query (it never answers names under slow.test).
        while server.queries() == before {
            tokio::task::yield_now().await;
        }
        let at = Instant::now();
        cancel.cancel();
        let out = tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .unwrap()
            .unwrap();
        assert!(at.elapsed() <= Duration::from_secs(1), "{:?}", at.elapsed());
        assert!(
            matches!(out.result, Err(ScanError::Cancelled)),
            "{:?}",
            out.result
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_names_are_asked_again_then_given_up() {
    let server = TestDns::start(sample_zone()).await.unwrap();
    let before = server.queries();
    let out = run(
        &SubdomainsScanner::default(),
        domain("slow.test"),
        json!({"resolver": server.addr().to_string(), "words": ["a", "b"], "timeout_ms": 100}),
        NetAccess::unrestricted(),
    )
    .await;
    out.result.as_ref().unwrap();
    assert!(names(&out).is_empty());
    // Two names, A and AAAA, each sent twice (besides the wildcard probes).
    assert!(
        server.queries() - before >= 8,
        "{}",
        server.queries() - before
    );
}
