//! Helpers for tests that run the real `argus` binary.
#![allow(
    clippy::disallowed_methods,
    clippy::expect_used,
    clippy::unwrap_used,
    dead_code
)]

pub mod proxy;
pub mod stack;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `argus serve` on port 0 with the given data dir and extra env; waits for the
/// "listening" line and returns the API base URL.
pub fn serve(data_dir: &Path, workers: usize, env: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_argus"));
    cmd.env("ARGUS_SCANNERS__NOOP__ENABLED", "true");
    cmd.args([
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--workers",
        &workers.to_string(),
        "--data-dir",
    ])
    .arg(data_dir)
    .env("RUST_LOG", "warn")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    listen(cmd)
}

/// A running `argus` process of any role (its stderr is echoed with a prefix).
pub struct Proc {
    pub child: Child,
    /// `http://ADDR/api/v1` for processes that serve HTTP.
    pub base: Option<String>,
    /// Every stderr line the process printed so far (also echoed with a prefix).
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Proc {
    /// Whether some stderr line so far contains `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `argus <args…>` with `env`; when `listens`, waits for the "listening" line.
pub fn spawn_argus(label: &str, args: &[&str], env: &[(String, String)], listens: bool) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_argus"));
    cmd.env("ARGUS_SCANNERS__NOOP__ENABLED", "true");
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .env("ARGUS_LOG__FORMAT", "text")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn argus");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut base = None;
    if listens {
        let addr = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("argus {label} exited before listening"))
                .expect("read stderr");
            eprintln!("[{label}] {line}");
            if let Some(origin) = listening_origin(&line) {
                break origin;
            }
        };
        base = Some(format!("{addr}/api/v1"));
    }
    let label = label.to_string();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            eprintln!("[{label}] {l}");
            sink.lock().unwrap().push(l);
        }
    });
    Proc { child, base, log }
}

/// Every finding fingerprint of a scan, walking all pages; panics on a duplicate.
pub async fn all_fingerprints(
    http: &reqwest::Client,
    base: &str,
    id: &str,
) -> std::collections::HashSet<String> {
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = http
            .get(format!("{base}/scans/{id}/findings"))
            .query(&[("limit", "1000")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c)]);
        }
        let page: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
        for f in page["items"].as_array().unwrap() {
            assert!(
                seen.insert(f["fingerprint"].as_str().unwrap().to_string()),
                "duplicate finding {f}"
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    seen
}

/// Polls `f` until it returns `Some`, failing the test after `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn status(http: &reqwest::Client, base: &str, id: &str) -> Option<serde_json::Value> {
    let r = http
        .get(format!("{base}/scans/{id}/status"))
        .send()
        .await
        .ok()?;
    r.json().await.ok()
}

/// Spawns a prepared `argus serve` command (stderr piped), waits for its "listening" line and
/// returns the server; the rest of its stderr is echoed.
pub fn listen(mut cmd: Command) -> Server {
    let mut child = cmd.spawn().expect("spawn argus");
    let stderr = child.stderr.take().expect("stderr must be piped");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("argus exited before listening")
            .expect("read stderr");
        eprintln!("[argus] {line}");
        if let Some(origin) = listening_origin(&line) {
            break origin;
        }
    };
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            eprintln!("[argus] {l}");
        }
    });
    Server {
        child,
        base: format!("{addr}/api/v1"),
    }
}

/// `http://ADDR` or `https://ADDR` from the server's "listening" line.
pub fn listening_origin(line: &str) -> Option<String> {
    let rest = line.strip_prefix("argus listening on ")?;
    let url = rest.split_whitespace().next()?;
    (url.starts_with("http://") || url.starts_with("https://")).then(|| url.to_string())
}

/// Creates a scan (`POST /scans` with `body`), insisting on 201; returns its id.
pub async fn create_scan(http: &reqwest::Client, base: &str, body: &serde_json::Value) -> String {
    let resp = http
        .post(format!("{base}/scans"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let scan: serde_json::Value = resp.json().await.unwrap();
    scan["id"].as_str().unwrap().to_string()
}

/// Runs `git` in `repo` with a fixed identity and no global config, insisting on success.
pub fn git(repo: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(repo)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "git {args:?}");
}
