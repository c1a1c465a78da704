//! The `http` scanner against real servers on 127.0.0.1: title, `Server`, content type, body
//! hash and fingerprints of the final page; the redirect chain hop by hop (another host's
//! URLs emitted as targets); services probed over http and, when that fails, https; the guard
//! refuses loopback by literal, by name and in the middle of a redirect chain, before any
//! byte reaches the server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod net_support;

use argus_core::net::{NetAccess, NetPolicy};
use argus_core::scanner::{ScanError, Scanner};
use argus_core::target::{Target, TargetKind};
use argus_recon::http::HttpScanner;
use argus_recon::testkit::web::{LocalServer, Route, TestCert};
use net_support::{counting_access, run, run_with};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

fn url(s: &str) -> Target {
    Target::parse(TargetKind::Url, s).unwrap()
}

const WP_BODY: &str = r#"<!doctype html><html><head><title>  Acme   Blog &amp; News </title>
<meta name="generator" content="WordPress 6.4.2">
<link rel="stylesheet" href="/wp-content/themes/acme/style.css">
<script src="/wp-includes/js/jquery/jquery.min.js"></script></head><body>hi</body></html>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_title_server_hash_and_technologies() {
    let web = LocalServer::http(vec![(
        "/",
        Route::new(200, WP_BODY)
            .header("Server", "nginx/1.25.3")
            .header("X-Powered-By", "PHP/8.2.12")
            .header("Content-Type", "text/html; charset=UTF-8")
            .header(
                "Set-Cookie",
                "wordpress_test_cookie=WP+Cookie+check; path=/",
            ),
    )])
    .await;
    let start = web.url(false, "/");
    let out = run(&HttpScanner, url(&start), json!({})).await;
    out.result.as_ref().unwrap();
    let f = out.of_kind("http-service");
    assert_eq!(f.len(), 1, "{:#?}", out.findings);
    let d = &f[0].data;
    assert_eq!(d["status"], 200);
    assert_eq!(d["title"], "Acme Blog & News");
    assert_eq!(d["server"], "nginx/1.25.3");
    assert_eq!(d["content_type"], "text/html; charset=UTF-8");
    assert_eq!(d["final_url"], start);
    assert_eq!(d["redirects"], json!([]));
    assert_eq!(
        d["body_sha256"],
        hex::encode(Sha256::digest(WP_BODY.as_bytes()))
    );
    assert_eq!(d["body_bytes"], WP_BODY.len());
    assert_eq!(d["body_truncated"], false);
    let tech = |name: &str| {
        d["technologies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
    };
    assert_eq!(tech("nginx").unwrap()["version"], "1.25.3");
    assert_eq!(tech("PHP").unwrap()["version"], "8.2.12");
    assert_eq!(tech("WordPress").unwrap()["version"], "6.4.2");
    assert!(tech("jQuery").is_some());
    assert!(tech("Apache HTTP Server").is_none());
    assert!(tech("Drupal").is_none());
    assert_eq!(web.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_and_records_redirects_and_emits_other_hosts() {
    let web = LocalServer::http(vec![("/c", Route::html("Landed"))]).await;
    // Another host name for the landing server: followed, and emitted for chaining.
    let web2 = LocalServer::http(vec![
        ("/a", Route::redirect(301, "/b")),
        (
            "/b",
            Route::redirect(302, &format!("http://localhost:{}/c", web.port())),
        ),
    ])
    .await;
    let start = web2.url(false, "/a");
    let out = run(&HttpScanner, url(&start), json!({})).await;
    out.result.as_ref().unwrap();
    let d = &out.of_kind("http-service")[0].data;
    assert_eq!(d["title"], "Landed");
    assert_eq!(d["final_url"], format!("http://localhost:{}/c", web.port()));
    let hops = d["redirects"].as_array().unwrap();
    assert_eq!(hops.len(), 2, "{hops:#?}");
    assert_eq!(hops[0]["url"], start);
    assert_eq!(hops[0]["status"], 301);
    assert_eq!(hops[0]["location"], web2.url(false, "/b"));
    assert_eq!(hops[1]["status"], 302);
    assert_eq!(
        out.target_values(),
        vec![format!("http://localhost:{}/c", web.port())]
    );
    assert_eq!(
        web.received()[0].host.as_deref(),
        Some(&*format!("localhost:{}", web.port()))
    );

    // The redirect limit: the chain stops at the first hop and that answer is reported.
    let out = run(&HttpScanner, url(&start), json!({"max_redirects": 0})).await;
    let d = &out.of_kind("http-service")[0].data;
    assert_eq!(d["status"], 301);
    assert_eq!(d["redirects"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_read_up_to_the_limit() {
    let body = "x".repeat(10_000);
    let web = LocalServer::http(vec![("/", Route::new(200, body.clone()))]).await;
    let out = run(
        &HttpScanner,
        url(&web.url(false, "/")),
        json!({"max_body_bytes": 1000}),
    )
    .await;
    let d = &out.of_kind("http-service")[0].data;
    assert_eq!(d["body_bytes"], 1000);
    assert_eq!(d["body_truncated"], true);
    assert_eq!(
        d["body_sha256"],
        hex::encode(Sha256::digest(&body.as_bytes()[..1000]))
    );
    assert!(d["title"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_are_probed_over_http_then_https() {
    let plain = LocalServer::http(vec![("/", Route::html("Plain"))]).await;
    let svc = Target::service("127.0.0.1", plain.port()).unwrap();
    let out = run(&HttpScanner, svc, json!({})).await;
    let d = &out.of_kind("http-service")[0].data;
    assert_eq!(d["final_url"], plain.url(false, "/"));
    assert_eq!(d["title"], "Plain");

    let cert = TestCert::self_signed(&["localhost"]);
    let tls = LocalServer::https(vec![("/", Route::html("Secure"))], &cert).await;
    let svc = Target::service("127.0.0.1", tls.port()).unwrap();
    let out = run(&HttpScanner, svc, json!({})).await;
    out.result.as_ref().unwrap();
    let d = &out.of_kind("http-service")[0].data;
    assert_eq!(d["final_url"], tls.url(true, "/"));
    assert_eq!(d["title"], "Secure");

    // A service that speaks no HTTP at all: an answer, not a failure.
    let ssh = LocalServer::banner(b"SSH-2.0-x\r\n").await;
    let svc = Target::service("127.0.0.1", ssh.port()).unwrap();
    let out = run(&HttpScanner, svc, json!({"timeout_ms": 2000})).await;
    out.result.as_ref().unwrap();
    assert!(out.findings.is_empty(), "{:#?}", out.findings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_refuses_loopback_before_any_byte_is_sent() {
    let web = LocalServer::http(vec![("/", Route::html("secret"))]).await;
    for start in [
        web.url(false, "/"),
        format!("http://localhost:{}/", web.port()),
    ] {
        let out = run_with(
            &HttpScanner,
            url(&start),
            json!({}),
            NetAccess::default(),
            CancellationToken::new(),
        )
        .await;
        out.result.as_ref().unwrap();
        assert!(out.of_kind("http-service").is_empty(), "{start}");
        let skipped = out.of_kind("scope-skipped");
        assert!(!skipped.is_empty(), "{start}: {:#?}", out.findings);
        assert_eq!(skipped[0].data["class"], "loopback");
    }
    assert_eq!(web.connections(), 0);

    // Allowed to 127.0.0.1 only: a redirect to 127.0.0.2 is refused mid-chain.
    let hop = LocalServer::http(vec![(
        "/",
        Route::redirect(302, &format!("http://127.0.0.2:{}/", web.port())),
    )])
    .await;
    let only_one = NetAccess::new(NetPolicy {
        allow_private: false,
        allow: vec!["127.0.0.1/32".parse().unwrap()],
    });
    let out = run_with(
        &HttpScanner,
        url(&hop.url(false, "/")),
        json!({}),
        only_one,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(hop.received().len(), 1);
    assert_eq!(out.of_kind("scope-skipped")[0].data["address"], "127.0.0.2");
    assert_eq!(web.connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_passes_the_rate_gate_and_dead_urls_fail() {
    let web = LocalServer::http(vec![
        ("/a", Route::redirect(301, "/b")),
        ("/b", Route::html("b")),
    ])
    .await;
    let (net, gate) = counting_access();
    let out = run_with(
        &HttpScanner,
        url(&web.url(false, "/a")),
        json!({}),
        net,
        CancellationToken::new(),
    )
    .await;
    out.result.as_ref().unwrap();
    assert_eq!(gate.0.load(std::sync::atomic::Ordering::SeqCst), 2);

    let closed = net_support::released_ports(1).await[0];
    let out = run(
        &HttpScanner,
        url(&format!("http://127.0.0.1:{closed}/")),
        json!({}),
    )
    .await;
    assert!(
        matches!(out.result, Err(ScanError::Failed(_))),
        "{:?}",
        out.result
    );
    assert_eq!(HttpScanner.emits(), vec![TargetKind::Url]);
}
