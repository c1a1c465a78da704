//! The `tls` scanner against real TLS servers on 127.0.0.1 with rcgen certificates: names,
//! validity and chain are reported; SANs become domain targets (wildcards as their base);
//! expired, expiring and self-signed certificates are flagged; SNI carries the name; the guard
//! refuses loopback before connecting; a service without TLS is no failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod net_support;

use argus_core::finding::Severity;
use argus_core::net::NetAccess;
use argus_core::scanner::Scanner;
use argus_core::target::{Target, TargetKind};
use argus_recon::testkit::web::{LocalServer, Route, TestCert};
use argus_recon::tls::TlsScanner;
use net_support::{run, run_with};
use serde_json::json;
use tokio_util::sync::CancellationToken;

async fn serve(cert: &TestCert) -> LocalServer {
    LocalServer::https(vec![("/", Route::html("tls"))], cert).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_the_certificate_and_chains_its_names() {
    let cert = TestCert::self_signed(&["app.example.test", "*.wild.example.test", "127.0.0.1"]);
    let server = serve(&cert).await;
    let svc = Target::service("127.0.0.1", server.port()).unwrap();
    let out = run(&TlsScanner, svc, json!({})).await;
    out.result.as_ref().unwrap();
    let info = out.of_kind("tls-certificate");
    assert_eq!(info.len(), 1, "{:#?}", out.findings);
    let d = &info[0].data;
    assert_eq!(
        d["dns_names"],
        json!(["app.example.test", "*.wild.example.test"])
    );
    assert_eq!(d["ip_addresses"], json!(["127.0.0.1"]));
    assert_eq!(d["subject"], "CN=app.example.test");
    assert_eq!(d["issuer"], "CN=app.example.test");
    assert_eq!(d["self_signed"], true);
    assert_eq!(d["chain_length"], 1);
    assert_eq!(d["protocol"], "TLSv1_3");
    assert!(
        d["cipher_suite"].as_str().unwrap().starts_with("TLS13_"),
        "{d}"
    );
    assert!(d["sni"].is_null(), "no SNI for an address");
    assert!(!d["serial"].as_str().unwrap().is_empty());
    assert_eq!(d["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        out.target_values(),
        vec![
            "app.example.test".to_owned(),
            "wild.example.test".to_owned()
        ]
    );
    assert!(out.targets.iter().all(|t| t.kind() == TargetKind::Domain));
    let low = out.of_kind("tls-certificate-self-signed");
    assert_eq!(low.len(), 1);
    assert_eq!(low[0].severity, Severity::Low);
    assert!(out.of_kind("tls-certificate-expired").is_empty());
    assert!(out.of_kind("tls-certificate-expiring").is_empty());
    assert_eq!(TlsScanner.emits(), vec![TargetKind::Domain]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_expiring_certificates_are_flagged() {
    let expired = serve(&TestCert::expired(&["old.example.test"])).await;
    let out = run(
        &TlsScanner,
        Target::service("127.0.0.1", expired.port()).unwrap(),
        json!({}),
    )
    .await;
    let high = out.of_kind("tls-certificate-expired");
    assert_eq!(high.len(), 1, "{:#?}", out.findings);
    assert_eq!(high[0].severity, Severity::High);
    assert_eq!(high[0].data["not_after"], "2001-01-01T00:00:00Z");

    // Valid for a year or two more: "expiring" only with a long warning window.
    let year = 1970
        + (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 31_556_952) as i32;
    let soon = serve(&TestCert::valid_until(&["soon.example.test"], year + 2)).await;
    let svc = Target::service("127.0.0.1", soon.port()).unwrap();
    let out = run(&TlsScanner, svc.clone(), json!({})).await;
    assert!(out.of_kind("tls-certificate-expiring").is_empty());
    let out = run(&TlsScanner, svc, json!({"warn_days": 3650})).await;
    let medium = out.of_kind("tls-certificate-expiring");
    assert_eq!(medium.len(), 1, "{:#?}", out.findings);
    assert_eq!(medium[0].severity, Severity::Medium);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issued_certificate_sends_its_chain_and_sni() {
    let server = serve(&TestCert::issued(&["localhost"])).await;
    let svc = Target::parse(TargetKind::Service, &format!("localhost:{}", server.port())).unwrap();
    let out = run(&TlsScanner, svc, json!({})).await;
    out.result.as_ref().unwrap();
    let d = &out.of_kind("tls-certificate")[0].data;
    assert_eq!(d["chain_length"], 2);
    assert_eq!(d["issuer"], "CN=Argus Test CA");
    assert_eq!(d["self_signed"], false);
    assert_eq!(d["sni"], "localhost");
    assert!(out.of_kind("tls-certificate-self-signed").is_empty());
    // The target's own name is not rediscovered.
    assert!(out.targets.is_empty());

    let url = Target::parse(
        TargetKind::Url,
        &format!("https://127.0.0.1:{}/", server.port()),
    )
    .unwrap();
    let out = run(&TlsScanner, url, json!({})).await;
    assert_eq!(out.of_kind("tls-certificate").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_refuses_loopback_and_plain_services_are_no_failure() {
    let server = serve(&TestCert::self_signed(&["x.example.test"])).await;
    let svc = Target::service("127.0.0.1", server.port()).unwrap();
    let out = run_with(
        &TlsScanner,
        svc,
        json!({}),
        NetAccess::default(),
        CancellationToken::new(),
    )
    .await;
    out.result.as_ref().unwrap();
    assert_eq!(out.of_kind("scope-skipped").len(), 1, "{:#?}", out.findings);
    assert!(out.of_kind("tls-certificate").is_empty());
    assert_eq!(server.connections(), 0);

    let plain = LocalServer::http(vec![]).await;
    let out = run(
        &TlsScanner,
        Target::service("127.0.0.1", plain.port()).unwrap(),
        json!({"timeout_ms": 2000}),
    )
    .await;
    out.result.as_ref().unwrap();
    assert!(out.findings.is_empty());
}
