//! The `Scanner` conformance suite (`argus_core::testkit::scanner_suite`) for `dns` and
//! `subdomains`, against the local DNS server (`argus_recon::testkit::dns`): the runs ask
//! `example.test`, the slow runs ask names under `slow.test`, which the server never answers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use argus_core::scanner::Scanner;
use argus_core::target::{Target, TargetKind};
use argus_core::testkit::scanner_suite::{Run, ScannerFixture, ScannerHarness};
use argus_recon::dns::DnsScanner;
use argus_recon::subdomains::SubdomainsScanner;
use argus_recon::testkit::dns::{sample_zone, TestDns};
use serde_json::json;

fn domain(d: &str) -> Target {
    Target::parse(TargetKind::Domain, d).unwrap()
}

mod dns {
    use super::*;

    struct Dns;

    #[async_trait::async_trait]
    impl ScannerHarness for Dns {
        async fn fixtures(&self) -> Vec<ScannerFixture> {
            let server = TestDns::start(sample_zone()).await.unwrap();
            let resolver = server.addr().to_string();
            let scanner: Arc<dyn Scanner> = Arc::new(DnsScanner::default());
            vec![ScannerFixture::new(
                scanner.clone(),
                vec![
                    domain("example.test"),
                    Target::parse(TargetKind::Email, "security@bad-mail.test").unwrap(),
                ],
                Run {
                    scanner: scanner.clone(),
                    target: domain("example.test"),
                    params: json!({"resolver": resolver}),
                },
                Run {
                    scanner,
                    target: domain("x.slow.test"),
                    params: json!({"resolver": resolver, "timeout_ms": 600000}),
                },
                vec![
                    (json!({"timeout_ms": "wrong"}), "/timeout_ms".into()),
                    (json!({"resolver": "dns.example"}), "/resolver".into()),
                    (json!({"record_types": ["PTR"]}), "/record_types/0".into()),
                ],
                server,
            )]
        }
    }

    argus_core::scanner_suite_tests!(Dns);
}

mod subdomains {
    use super::*;

    struct Subdomains;

    #[async_trait::async_trait]
    impl ScannerHarness for Subdomains {
        async fn fixtures(&self) -> Vec<ScannerFixture> {
            let server = TestDns::start(sample_zone()).await.unwrap();
            let resolver = server.addr().to_string();
            let scanner: Arc<dyn Scanner> = Arc::new(SubdomainsScanner::default());
            vec![ScannerFixture::new(
                scanner.clone(),
                vec![domain("example.test")],
                Run {
                    scanner: scanner.clone(),
                    target: domain("example.test"),
                    params: json!({"resolver": resolver, "words": ["www", "api", "nothere"]}),
                },
                Run {
                    scanner,
                    target: domain("slow.test"),
                    params: json!({"resolver": resolver, "timeout_ms": 600000}),
                },
                vec![
                    (json!({"concurrency": 0}), "/concurrency".into()),
                    (
                        json!({"wordlist": "/nonexistent/argus/words.txt"}),
                        "/wordlist".into(),
                    ),
                ],
                server,
            )]
        }
    }

    argus_core::scanner_suite_tests!(Subdomains);
}
