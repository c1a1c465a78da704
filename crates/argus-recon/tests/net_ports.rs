//! The `ports` scanner against real listeners on 127.0.0.1: exactly the listening ports are
//! found, with banners and service guesses; service targets are emitted; blocks over the cap
//! and malformed port lists are refused at creation; the network guard refuses loopback unless
//! allowed (and then nothing reaches the listener); the rate gate and the per-host rate pace
//! the attempts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod net_support;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Instant;

use argus_core::net::{NetAccess, NetPolicy};
use argus_core::scanner::Scanner;
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use argus_recon::ports::PortsScanner;
use argus_recon::testkit::web::{LocalServer, Route};
use net_support::{counting_access, released_ports, run, run_with};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn ports_param(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_exactly_the_listening_ports_with_banners() {
    let ssh = LocalServer::banner(b"SSH-2.0-OpenSSH_9.6p1 Debian\r\n").await;
    let ftp = LocalServer::banner(b"220 ProFTPD Server ready\r\n").await;
    let web = LocalServer::http(vec![("/", Route::html("x"))]).await;
    let closed = released_ports(40).await;
    let open: BTreeSet<u16> = [ssh.port(), ftp.port(), web.port()].into();
    let mut all: Vec<u16> = closed.clone();
    all.extend(&open);
    all.sort_unstable();

    let target = Target::parse(TargetKind::Ip, "127.0.0.1").unwrap();
    let out = run(
        &PortsScanner,
        target,
        json!({"ports": ports_param(&all), "banner_ms": 300}),
    )
    .await;
    out.result.as_ref().unwrap();
    let found: BTreeSet<u16> = out
        .of_kind("open-port")
        .iter()
        .map(|f| f.data["port"].as_u64().unwrap() as u16)
        .collect();
    assert_eq!(found, open);
    assert_eq!(out.findings.len(), 3, "{:#?}", out.findings);

    let by_port = |p: u16| {
        out.findings
            .iter()
            .find(|f| f.data["port"] == json!(p))
            .unwrap()
            .clone()
    };
    let s = by_port(ssh.port());
    assert_eq!(s.data["banner"], "SSH-2.0-OpenSSH_9.6p1 Debian");
    assert_eq!(s.data["service"], "ssh");
    assert_eq!(s.data["service_source"], "banner");
    assert_eq!(s.data["address"], "127.0.0.1");
    assert_eq!(by_port(ftp.port()).data["service"], "ftp");
    // The web server says nothing first.
    assert!(by_port(web.port()).data["banner"].is_null());

    let want: Vec<String> = open.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    assert_eq!(out.target_values(), want);
    assert!(out.targets.iter().all(|t| t.kind() == TargetKind::Service));
    assert_eq!(PortsScanner.emits(), vec![TargetKind::Service]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_is_scanned_on_its_addresses_and_services_keep_the_name() {
    let ssh = LocalServer::banner(b"SSH-2.0-test\r\n").await;
    let target = Target::parse(TargetKind::Domain, "localhost").unwrap();
    let out = run(
        &PortsScanner,
        target,
        json!({"ports": ssh.port().to_string(), "banner_ms": 300}),
    )
    .await;
    out.result.as_ref().unwrap();
    let open = out.of_kind("open-port");
    // localhost may also resolve to ::1, where nothing listens on this port.
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0].data["host"], "localhost");
    assert_eq!(
        out.target_values(),
        vec![format!("localhost:{}", ssh.port())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_is_scanned_address_by_address() {
    let web = LocalServer::http(vec![]).await;
    let target = Target::parse(TargetKind::Cidr, "127.0.0.1/32").unwrap();
    let out = run(
        &PortsScanner,
        target,
        json!({"ports": web.port().to_string()}),
    )
    .await;
    out.result.as_ref().unwrap();
    assert_eq!(out.of_kind("open-port").len(), 1);
    assert_eq!(
        out.target_values(),
        vec![format!("127.0.0.1:{}", web.port())]
    );
}

#[test]
fn blocks_over_the_cap_and_bad_port_lists_are_refused_at_creation() {
    let s = PortsScanner;
    let big = Target::parse(TargetKind::Cidr, "10.0.0.0/19").unwrap();
    match s.check_target(&big, &json!({})) {
        Err(CoreError::Invalid { message, .. }) => {
            assert!(
                message.contains("8192") && message.contains("4096"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(s.check_target(&big, &json!({"max_hosts": 8192})).is_ok());
    for bad in ["0", "65536", "80-70000", "22,ssh", "443-80", "top-0", ""] {
        match s.validate_params(&json!({"ports": bad})) {
            Err(CoreError::Invalid { path, .. }) => assert_eq!(path, "/ports", "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_refuses_loopback_unless_allowed() {
    let ssh = LocalServer::banner(b"SSH-2.0-guarded\r\n").await;
    let target = Target::parse(TargetKind::Ip, "127.0.0.1").unwrap();
    let params = json!({"ports": ssh.port().to_string(), "banner_ms": 300});

    // The server default: public addresses only.
    let out = run_with(
        &PortsScanner,
        target.clone(),
        params.clone(),
        NetAccess::default(),
        CancellationToken::new(),
    )
    .await;
    out.result.as_ref().unwrap();
    assert!(out.of_kind("open-port").is_empty());
    let skipped = out.of_kind("scope-skipped");
    assert_eq!(skipped.len(), 1, "{:#?}", out.findings);
    assert_eq!(skipped[0].data["address"], "127.0.0.1");
    assert_eq!(skipped[0].data["class"], "loopback");
    assert!(out.targets.is_empty());
    assert_eq!(ssh.connections(), 0, "a refused address was connected to");

    // A block of which the guard refuses every address: each reported once.
    let block = Target::parse(TargetKind::Cidr, "127.0.0.0/30").unwrap();
    let out = run_with(
        &PortsScanner,
        block,
        params.clone(),
        NetAccess::default(),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(out.of_kind("scope-skipped").len(), 2);
    assert_eq!(ssh.connections(), 0);

    // Allowed range by range.
    let allowed = NetAccess::new(NetPolicy {
        allow_private: false,
        allow: vec!["127.0.0.0/8".parse().unwrap()],
    });
    let out = run_with(
        &PortsScanner,
        target.clone(),
        params.clone(),
        allowed,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(out.of_kind("open-port").len(), 1);
    assert!(out.of_kind("scope-skipped").is_empty());
    assert_eq!(ssh.connections(), 1);

    // No guard at all.
    let out = run(&PortsScanner, target, params).await;
    assert_eq!(out.of_kind("open-port").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attempt_passes_the_rate_gate() {
    let closed = released_ports(25).await;
    let (net, gate) = counting_access();
    let target = Target::parse(TargetKind::Ip, "127.0.0.1").unwrap();
    let out = run_with(
        &PortsScanner,
        target,
        json!({"ports": ports_param(&closed)}),
        net,
        CancellationToken::new(),
    )
    .await;
    out.result.as_ref().unwrap();
    assert_eq!(gate.0.load(Ordering::SeqCst), 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_host_rate_spaces_attempts() {
    // 11 attempts at 20 a second to one address cannot take less than 10 intervals.
    let closed = released_ports(11).await;
    let target = Target::parse(TargetKind::Ip, "127.0.0.1").unwrap();
    let started = Instant::now();
    let out = run(
        &PortsScanner,
        target,
        json!({"ports": ports_param(&closed), "per_host_rate": 20}),
    )
    .await;
    out.result.as_ref().unwrap();
    assert!(
        started.elapsed().as_millis() >= 500,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_sweep_stops_and_says_so() {
    let target = Target::parse(TargetKind::Ip, "127.0.0.1").unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let out = run_with(
        &PortsScanner,
        target,
        json!({"ports": "1-65535", "per_host_rate": 10}),
        NetAccess::unrestricted(),
        cancel,
    )
    .await;
    assert!(matches!(
        out.result,
        Err(argus_core::scanner::ScanError::Cancelled)
    ));
}
