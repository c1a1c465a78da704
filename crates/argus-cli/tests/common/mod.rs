//! Helpers for tests that run the real `argus` binary.
#![allow(
    clippy::disallowed_methods,
    clippy::expect_used,
    clippy::unwrap_used,
    dead_code
)]

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
    let mut child = cmd.spawn().expect("spawn argus serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("argus serve exited before listening")
            .expect("read stderr");
        if let Some(rest) = line.strip_prefix("argus listening on http://") {
            break rest.split_whitespace().next().expect("addr").to_string();
        }
    };
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            eprintln!("[argus] {l}");
        }
    });
    Server {
        child,
        base: format!("http://{addr}/api/v1"),
    }
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
