//! The HTTP edge of `argus serve`, through the real binary over real sockets: HTTPS with a
//! certificate reloaded on SIGHUP, HSTS, CORS, rate limits, header and time limits, idle
//! connections.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{spawn_argus, wait_for, Proc};

/// A test CA and one server certificate it signed for 127.0.0.1 and localhost.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    cert_der: Vec<u8>,
    key_pem: String,
}

fn pki(name: &str) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("Argus edge test CA {name}"),
    );
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
    }
}

/// An HTTPS client that trusts `ca` only, on a fresh connection pool (each client's first
/// request opens a new connection, so it sees the certificate served now).
fn client_trusting(ca: &str, http1: bool) -> reqwest::Client {
    let b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .tls_info(true)
        .https_only(true)
        // A guard against a hang, not a timing assertion.
        .timeout(Duration::from_secs(30));
    let b = if http1 { b.http1_only() } else { b };
    b.build().unwrap()
}

/// The DER of the certificate the server presented on this answer's connection.
fn peer_cert(res: &reqwest::Response) -> Vec<u8> {
    res.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("TLS info with the peer certificate")
        .to_vec()
}

fn write_pair(dir: &Path, cert_pem: &str, key_pem: &str) {
    // Written beside and renamed into place, as a certificate manager does, so the server
    // never reads half a file.
    for (name, text) in [("cert.pem", cert_pem), ("key.pem", key_pem)] {
        let tmp = dir.join(format!("{name}.new"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
}

/// `argus serve` (no workers) with `config` as its config file and `env`.
fn serve_with(dir: &Path, config: &str, env: &[(&str, &str)]) -> Proc {
    let file = dir.join("argus.toml");
    std::fs::write(&file, config).unwrap();
    let data = dir.join("data");
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    spawn_argus(
        "edge",
        &[
            "--config",
            file.to_str().unwrap(),
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &env,
        true,
    )
}

/// `http(s)://ADDR` of a server.
fn origin(p: &Proc) -> String {
    p.base
        .as_deref()
        .unwrap()
        .trim_end_matches("/api/v1")
        .to_owned()
}

fn addr(p: &Proc) -> String {
    let o = origin(p);
    o.split_once("://").unwrap().1.to_owned()
}

fn sighup(p: &Proc) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(p.child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
}

/// Number of stderr lines so far containing `needle`.
fn count_logged(p: &Proc, needle: &str) -> usize {
    p.log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_hsts_and_a_certificate_reloaded_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let first = pki("one");
    write_pair(dir.path(), &first.cert_pem, &first.key_pem);
    let config = format!(
        "[server.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        dir.path().join("cert.pem").display(),
        dir.path().join("key.pem").display()
    );
    let server = serve_with(
        dir.path(),
        &config,
        &[("RUST_LOG", "warn,argus::edge=info")],
    );
    let origin = origin(&server);
    assert!(origin.starts_with("https://"), "{origin}");

    // HTTP/2 (ALPN) and HTTP/1.1 both work; every answer, errors too, carries HSTS.
    for http1 in [false, true] {
        let c = client_trusting(&first.ca_pem, http1);
        let res = c.get(format!("{origin}/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.version(),
            if http1 {
                reqwest::Version::HTTP_11
            } else {
                reqwest::Version::HTTP_2
            }
        );
        assert_eq!(
            res.headers()["strict-transport-security"],
            "max-age=31536000"
        );
        assert_eq!(peer_cert(&res), first.cert_der);
        let missing = c
            .get(format!("{origin}/api/v1/nothing"))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        assert_eq!(
            missing.headers()["strict-transport-security"],
            "max-age=31536000"
        );
        assert_eq!(
            missing.headers()["content-type"],
            "application/problem+json"
        );
    }
    // HTTPS only: plain HTTP on the same port gets no HTTP answer.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    assert!(plain
        .get(format!("http://{}/healthz", addr(&server)))
        .send()
        .await
        .is_err());

    // A bad new pair (the second CA's certificate with an unrelated key) is refused on SIGHUP
    // and the server keeps serving the first certificate.
    let second = pki("two");
    let stray_key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    write_pair(dir.path(), &second.cert_pem, &stray_key);
    sighup(&server);
    wait_for(
        Duration::from_secs(30),
        "the failed reload's log line",
        || {
            let seen = server.logged("TLS certificate reload failed");
            async move { seen.then_some(()) }
        },
    )
    .await;
    let res = client_trusting(&first.ca_pem, false)
        .get(format!("{origin}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(peer_cert(&res), first.cert_der);

    // The good second pair: after the reload, new connections present it.
    write_pair(dir.path(), &second.cert_pem, &second.key_pem);
    let before = count_logged(&server, "TLS certificate reloaded");
    sighup(&server);
    wait_for(Duration::from_secs(30), "the reload's log line", || {
        let n = count_logged(&server, "TLS certificate reloaded");
        async move { (n > before).then_some(()) }
    })
    .await;
    let res = client_trusting(&second.ca_pem, false)
        .get(format!("{origin}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(peer_cert(&res), second.cert_der);
    // A client that trusts only the first CA no longer gets in.
    assert!(client_trusting(&first.ca_pem, false)
        .get(format!("{origin}/healthz"))
        .send()
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_configured_or_broken_certificate_stops_the_server_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let run = |config: &str| {
        let file = dir.path().join("argus.toml");
        std::fs::write(&file, config).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_argus"))
            .arg("--config")
            .arg(&file)
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "0",
                "--data-dir",
            ])
            .arg(dir.path().join("data"))
            .output()
            .unwrap()
    };
    let cert = dir.path().join("cert.pem");
    let out = run(&format!("[server.tls]\ncert = \"{}\"\n", cert.display()));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("server.tls needs both cert and key"),
        "{stderr}"
    );

    std::fs::write(&cert, "not a certificate").unwrap();
    std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
    let out = run(&format!(
        "[server.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        dir.path().join("key.pem").display()
    ));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.tls"), "{stderr}");
    assert!(stderr.contains("cert.pem"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");
    assert!(
        !dir.path().join("data").exists(),
        "the backends were opened before the certificate was checked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_has_no_hsts_and_no_cors_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(dir.path(), "", &[]);
    let origin = origin(&server);
    assert!(origin.starts_with("http://"), "{origin}");
    let http = reqwest::Client::new();
    let res = http
        .get(format!("{origin}/api/v1/meta"))
        .header("origin", "https://console.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("strict-transport-security").is_none());
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{origin}/api/v1/scans"))
        .header("origin", "https://console.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        !preflight
            .headers()
            .keys()
            .any(|k| k.as_str().starts_with("access-control-")),
        "{:?}",
        preflight.headers()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_listed_origins_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(
        dir.path(),
        "[server.cors]\nallowed_origins = [\"https://console.example.com\"]\n",
        &[],
    );
    let origin = origin(&server);
    let http = reqwest::Client::new();
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{origin}/api/v1/scans"))
        .header("origin", "https://console.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let h = preflight.headers();
    assert_eq!(
        h["access-control-allow-origin"],
        "https://console.example.com"
    );
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(headers.contains("authorization"), "{headers}");
    assert!(h.get("access-control-allow-credentials").is_none());
    assert!(h.get("access-control-max-age").is_some());

    let res = http
        .get(format!("{origin}/api/v1/meta"))
        .header("origin", "https://console.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://console.example.com"
    );
    // Another origin gets no grant (the browser then hides the answer from that page).
    let res = http
        .get(format!("{origin}/api/v1/meta"))
        .header("origin", "https://evil.example.net")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());

    // A bad origin is refused at start-up, naming the setting.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[server.cors]\nallowed_origins = [\"https://console.example.com/\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_argus"))
        .arg("--config")
        .arg(&bad)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "0",
            "--data-dir",
        ])
        .arg(dir.path().join("bad-data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.cors.allowed_origins"), "{stderr}");
}

async fn problem(res: reqwest::Response) -> serde_json::Value {
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after_per_key_and_per_address() {
    let dir = tempfile::tempdir().unwrap();
    // 6 a minute per address, 2 per key: refills take 10 s and 30 s a request, far longer
    // than this test's requests take, so the counts below are exact.
    let server = serve_with(
        dir.path(),
        "[server.rate_limit]\nper_address = 6\nper_key = 2\n",
        &[],
    );
    let url = format!("{}/meta", server.base.as_deref().unwrap());
    let http = reqwest::Client::new();
    let get = |token: Option<&'static str>| {
        let mut req = http.get(&url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    // Key A: two answered, the third refused for the key.
    for _ in 0..2 {
        assert_eq!(get(Some("argus_aaaa_one")).await.unwrap().status(), 200);
    }
    let res = get(Some("argus_aaaa_one")).await.unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "Retry-After {retry}");
    let p = problem(res).await;
    assert_eq!(p["code"], "rate_limited");
    assert_eq!(p["status"], 429);
    assert_eq!(p["retry_after"], retry);
    assert!(p["detail"].as_str().unwrap().contains("per_key"), "{p}");
    // The same visible prefix with another secret is another key: not refused.
    assert_eq!(get(Some("argus_aaaa_two")).await.unwrap().status(), 200);
    // The address has now spent 4 of 6 (a refused request spends the address's token too).
    assert_eq!(get(None).await.unwrap().status(), 200);
    assert_eq!(get(None).await.unwrap().status(), 200);
    let res = get(None).await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let p = problem(res).await;
    assert!(p["detail"].as_str().unwrap().contains("per_address"), "{p}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_limits_answer_431_problems() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(
        dir.path(),
        "[server]\nmax_headers = 20\nmax_header_bytes = 4096\n",
        &[],
    );
    let url = format!("{}/meta", server.base.as_deref().unwrap());
    let http = reqwest::Client::new();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);

    let mut req = http.get(&url);
    for i in 0..25 {
        req = req.header(format!("x-filler-{i}"), "1");
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 431);
    let p = problem(res).await;
    assert_eq!(p["code"], "headers_too_large");
    assert!(p["detail"].as_str().unwrap().contains("max_headers"), "{p}");

    let res = http
        .get(&url)
        .header("x-big", "a".repeat(5000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 431);
    let p = problem(res).await;
    assert!(
        p["detail"].as_str().unwrap().contains("max_header_bytes"),
        "{p}"
    );

    // Far past the limits hyper itself refuses (bare 431, connection closed): still an
    // answer or a closed connection, never a hang, and the server goes on serving.
    let huge = http
        .get(&url)
        .header("x-huge", "a".repeat(512 * 1024))
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    match huge {
        Ok(res) => assert_eq!(res.status(), 431),
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_time_limit_gets_a_503_problem_and_idle_connections_close() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(
        dir.path(),
        "[server]\nrequest_timeout_secs = 1\nheader_read_timeout_secs = 1\n",
        &[],
    );
    let addr = addr(&server);

    // A body that never arrives: the handler waits for it until the time limit answers.
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(
        format!(
            "POST /api/v1/scans HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
             content-length: 100\r\n\r\n{{\"na"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let text = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let n = tcp.read(&mut buf).await.unwrap();
            answer.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&answer).into_owned();
            if n == 0 || (text.contains("\"code\"") && text.ends_with('}')) {
                break text;
            }
        }
    })
    .await
    .expect("no answer: the time limit did not fire");
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    assert!(text.contains("\"code\":\"unavailable\""), "{text}");
    assert!(text.contains("request_timeout_secs"), "{text}");

    // A connection that sends nothing is closed after the header read timeout.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(60), idle.read(&mut buf))
        .await
        .expect("an idle connection was kept open")
        .unwrap_or(0);
    assert_eq!(n, 0, "the server sent something to an idle connection");

    // So is a kept-alive one after its answer.
    let mut kept = tokio::net::TcpStream::connect(&addr).await.unwrap();
    kept.write_all(format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(60), async {
        let mut got = Vec::new();
        loop {
            match kept.read(&mut buf).await {
                Ok(0) | Err(_) => break got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("a kept-alive connection was kept open");
    let text = String::from_utf8_lossy(&closed);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}
