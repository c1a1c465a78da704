//! The `Scanner` conformance suite (`argus_core::testkit::scanner_suite`) for `ports`, `http`
//! and `tls`, each against its own servers on 127.0.0.1 (a hanging server or a paced sweep for
//! the cancellation check).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use argus_core::scanner::Scanner;
use argus_core::target::{Target, TargetKind};
use argus_core::testkit::scanner_suite::{sample_target, Run, ScannerFixture, ScannerHarness};
use argus_recon::http::HttpScanner;
use argus_recon::ports::PortsScanner;
use argus_recon::testkit::web::{LocalServer, Route, TestCert};
use argus_recon::tls::TlsScanner;
use serde_json::json;

struct Net;

fn fixture(
    scanner: Arc<dyn Scanner>,
    targets: Vec<Target>,
    run: (Target, serde_json::Value),
    slow: (Target, serde_json::Value),
    bad: Vec<(serde_json::Value, String)>,
    guard: impl std::any::Any + Send,
) -> ScannerFixture {
    ScannerFixture::new(
        scanner.clone(),
        targets,
        Run {
            scanner: scanner.clone(),
            target: run.0,
            params: run.1,
        },
        Run {
            scanner,
            target: slow.0,
            params: slow.1,
        },
        bad,
        guard,
    )
}

#[async_trait::async_trait]
impl ScannerHarness for Net {
    async fn fixtures(&self) -> Vec<ScannerFixture> {
        let ssh = LocalServer::banner(b"SSH-2.0-suite\r\n").await;
        let web = LocalServer::http(vec![("/", Route::html("suite"))]).await;
        let tls = LocalServer::https(
            vec![("/", Route::html("suite"))],
            &TestCert::self_signed(&["suite.example.test"]),
        )
        .await;
        let hang = LocalServer::hanging().await;
        let lo = Target::parse(TargetKind::Ip, "127.0.0.1").unwrap();
        let svc = |s: &LocalServer| Target::service("127.0.0.1", s.port()).unwrap();
        let url = |u: String| Target::parse(TargetKind::Url, &u).unwrap();

        let ports = fixture(
            Arc::new(PortsScanner),
            vec![
                lo.clone(),
                Target::parse(TargetKind::Domain, "localhost").unwrap(),
                Target::parse(TargetKind::Cidr, "127.0.0.0/30").unwrap(),
            ],
            (lo.clone(), json!({"ports": ssh.port().to_string()})),
            (lo, json!({"ports": "1-65535", "per_host_rate": 20})),
            vec![
                (json!({"ports": "1-99999"}), "/ports".into()),
                (json!({"concurrency": 0}), "/concurrency".into()),
            ],
            (),
        );
        let http = fixture(
            Arc::new(HttpScanner),
            vec![url(web.url(false, "/")), svc(&web)],
            (url(web.url(false, "/")), json!({})),
            (url(hang.url(false, "/")), json!({"timeout_ms": 60000})),
            vec![(json!({"timeout_ms": "soon"}), "/timeout_ms".into())],
            (),
        );
        let tls_fx = fixture(
            Arc::new(TlsScanner),
            vec![
                svc(&tls),
                url(tls.url(true, "/")),
                sample_target(TargetKind::Domain),
            ],
            (svc(&tls), json!({})),
            (svc(&hang), json!({"timeout_ms": 60000})),
            vec![(json!({"warn_days": -1}), "/warn_days".into())],
            (ssh, web, tls, hang),
        );
        vec![ports, http, tls_fx]
    }
}

argus_core::scanner_suite_tests!(Net);

/// Every scanner this crate's catalog builds from the net side has a fixture above.
#[test]
fn the_catalog_registers_the_net_scanners() {
    use argus_core::component::{Doors, ScannerCatalog};
    let mut catalog = ScannerCatalog::scanners();
    argus_recon::catalog::register(&mut catalog);
    let reg = catalog
        .registry(
            &Default::default(),
            &Doors::new(argus_scanners::process::door()),
        )
        .unwrap();
    let names: Vec<&str> = reg.names().collect();
    for name in ["ports", "http", "tls"] {
        assert!(names.contains(&name), "{names:?}");
    }
}
