//! Recon end to end, against local servers only: an `argus serve` process (embedded backends),
//! a DNS server serving `example.test` (subdomains, mail policy, a record pointing outside the
//! zone), an HTTP server and a TLS server on loopback whose certificate names more hosts. One
//! scan from the apex domain reaches, by the shipped chaining rules, the subdomains, their
//! addresses, the open ports, the HTTP title and the TLS certificate; what lies outside the
//! scope (a CNAME to another zone, a SAN of another domain) is skipped and counted; chained
//! findings carry their lineage. Loopback is allowed explicitly (`network.allow`), as an
//! operator would; without it the guard refuses the same scan's addresses.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use argus_recon::testkit::dns::{TestDns, Zone};
use argus_recon::testkit::web::{LocalServer, Route, TestCert};
use serde_json::{json, Value};

fn zone() -> Zone {
    Zone::new()
        .soa(
            "example.test",
            "ns1.example.test",
            "hostmaster.example.test",
        )
        .addr("example.test", "127.0.0.1")
        .addr("www.example.test", "127.0.0.1")
        .addr("api.example.test", "127.0.0.1")
        .mx("example.test", 10, "mail.example.test")
        .addr("mail.example.test", "127.0.0.1")
        // Named only by the TLS certificate: reached through its SAN.
        .addr("vpn.example.test", "127.0.0.1")
        .txt("example.test", "v=spf1 mx -all")
        .txt("_dmarc.example.test", "v=DMARC1; p=none")
        // Points outside the zone: followed to the edge of the scope, no further.
        .cname("shop.example.test", "shops.partner-host.test")
        .addr("shops.partner-host.test", "127.0.0.1")
}

async fn findings(http: &reqwest::Client, base: &str, id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/scans/{id}/findings?limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = http.get(url).send().await.unwrap().json().await.unwrap();
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

async fn run_scan(base: &str, config: Value) -> (Value, Vec<Value>) {
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{base}/scans"))
        .json(&json!({ "config": config, "start": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let scan: Value = res.json().await.unwrap();
    let id = scan["id"].as_str().unwrap().to_owned();
    let done = common::wait_for(Duration::from_secs(120), "the recon scan to end", || {
        let http = http.clone();
        let id = id.clone();
        async move {
            let s = common::status(&http, base, &id).await?;
            matches!(s["state"].as_str(), Some("completed" | "failed")).then_some(s)
        }
    })
    .await;
    let items = findings(&http, base, &id).await;
    (done, items)
}

fn of_kind<'a>(items: &'a [Value], kind: &str) -> Vec<&'a Value> {
    items.iter().filter(|f| f["kind"] == kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_scan_from_the_apex_reaches_services_and_stops_at_the_scope() {
    let dns = TestDns::start(zone()).await.unwrap();
    let web = LocalServer::http(vec![("/", Route::html("Example Portal"))]).await;
    let cert = TestCert::self_signed(&[
        "www.example.test",
        "vpn.example.test",
        "cdn.other-brand.test",
    ]);
    let tls = LocalServer::https(vec![("/", Route::html("Secure Portal"))], &cert).await;
    let resolver = dns.addr().to_string();
    let ports = format!("{},{}", web.port(), tls.port());

    let data = tempfile::tempdir().unwrap();
    let server = common::serve(
        data.path(),
        4,
        &[
            ("ARGUS_NETWORK__ALLOW", "[\"127.0.0.0/8\"]"),
            ("ARGUS_SCANNERS__DNS__RESOLVER", &resolver),
            ("ARGUS_SCANNERS__SUBDOMAINS__RESOLVER", &resolver),
        ],
    );
    let config = json!({
        "scanners": [
            { "name": "dns" },
            { "name": "subdomains", "params": { "words": ["www", "api", "shop", "nothing-here"] } },
            { "name": "ports", "params": { "ports": ports, "banner_ms": 200 } },
            { "name": "http" },
            { "name": "tls" }
        ],
        "targets": [{ "kind": "domain", "value": "example.test" }],
        "recursion_depth": 4
    });
    let (done, items) = run_scan(&server.base, config.clone()).await;
    assert_eq!(done["state"], "completed", "{done}");

    // Subdomains by brute force; their records by dns.
    let subs: Vec<&str> = of_kind(&items, "subdomain")
        .iter()
        .map(|f| f["target"]["value"].as_str().unwrap_or_default())
        .collect();
    let sub_names: Vec<String> = of_kind(&items, "subdomain")
        .iter()
        .map(|f| f["title"].as_str().unwrap().to_owned())
        .collect();
    assert!(!subs.is_empty(), "no subdomain findings: {items:#?}");
    for name in ["www.example.test", "api.example.test"] {
        assert!(
            sub_names.iter().any(|t| t.contains(name)),
            "{name} not found: {sub_names:?}"
        );
    }
    let record_targets: Vec<&str> = of_kind(&items, "dns-record")
        .iter()
        .map(|f| f["target"]["value"].as_str().unwrap())
        .collect();
    assert!(
        record_targets.contains(&"example.test"),
        "{record_targets:?}"
    );
    assert!(
        record_targets.contains(&"www.example.test"),
        "{record_targets:?}"
    );

    // The address they resolve to, port-scanned: both listening ports open.
    let open: Vec<u64> = of_kind(&items, "open-port")
        .iter()
        .map(|f| f["data"]["port"].as_u64().unwrap())
        .collect();
    for p in [web.port(), tls.port()] {
        assert!(
            open.contains(&u64::from(p)),
            "port {p} not found open: {open:?}"
        );
    }

    // The services, probed: the HTTP title and the certificate.
    let pages = of_kind(&items, "http-service");
    assert!(
        pages.iter().any(|f| f["data"]["title"] == "Example Portal"),
        "{pages:#?}"
    );
    let certs = of_kind(&items, "tls-certificate");
    assert!(!certs.is_empty(), "no certificate: {items:#?}");
    let sans = certs[0]["data"].to_string();
    assert!(sans.contains("vpn.example.test"), "{sans}");

    // A SAN in scope is followed: dns ran on vpn.example.test, which only the certificate
    // names, and its lineage ends tls → dns; the SAN of another domain and the CNAME to
    // another zone are skipped and counted.
    let vpn = of_kind(&items, "dns-record")
        .into_iter()
        .find(|f| f["target"]["value"] == "vpn.example.test")
        .unwrap_or_else(|| panic!("the in-scope SAN was not followed: {record_targets:?}"));
    let vpn_chain: Vec<&str> = vpn["data"]["lineage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scanner"].as_str().unwrap())
        .collect();
    assert_eq!(
        vpn_chain[vpn_chain.len() - 2..],
        ["tls", "dns"],
        "{vpn_chain:?}"
    );
    let skipped: Vec<String> = of_kind(&items, "scope-skipped")
        .iter()
        .map(|f| f["data"]["skipped"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        skipped.contains(&"domain:cdn.other-brand.test".to_owned()),
        "{skipped:?}"
    );
    assert!(
        skipped.contains(&"domain:shops.partner-host.test".to_owned()),
        "{skipped:?}"
    );
    assert!(
        !items
            .iter()
            .any(|f| f["target"]["value"] == "cdn.other-brand.test"
                || f["target"]["value"] == "shops.partner-host.test"),
        "an out-of-scope target was scanned"
    );

    // Lineage: the page was reached through dns → ports → http.
    let page = pages
        .iter()
        .find(|f| f["data"]["title"] == "Example Portal")
        .unwrap();
    let chain: Vec<&str> = page["data"]["lineage"]
        .as_array()
        .unwrap_or_else(|| panic!("no lineage on {page}"))
        .iter()
        .map(|s| s["scanner"].as_str().unwrap())
        .collect();
    assert_eq!(chain.last(), Some(&"http"), "{chain:?}");
    assert!(chain.contains(&"ports"), "{chain:?}");
    assert!(!web.received().is_empty());

    // Without the operator's allowance, the same scan stops at the guard: the loopback
    // address is skipped with its reason, and no port is ever probed.
    drop(server);
    let data = tempfile::tempdir().unwrap();
    let strict = common::serve(
        data.path(),
        4,
        &[
            ("ARGUS_SCANNERS__DNS__RESOLVER", &resolver),
            ("ARGUS_SCANNERS__SUBDOMAINS__RESOLVER", &resolver),
        ],
    );
    let connections = web.connections();
    let (done, items) = run_scan(&strict.base, config).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert!(of_kind(&items, "open-port").is_empty(), "{items:#?}");
    let reasons: Vec<String> = of_kind(&items, "scope-skipped")
        .iter()
        .map(|f| format!("{} {}", f["description"], f["data"]))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("127.0.0.1") && r.contains("loopback")),
        "{reasons:?}"
    );
    assert_eq!(
        web.connections(),
        connections,
        "the guard let a connection through"
    );
}
