//! Test harness: a real Argus server on 127.0.0.1:0 — SQLite store and embedded queue in a
//! temporary folder, local artifacts, the in-process bus, the scanner registry (`noop`, the
//! built-in tools and the fixture tools in `tests/fixtures/tools`), the engine's workers, relay
//! and monitor — plus small HTTP, SSE and polling helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_api::{ApiConfig, AuthConfig, Meta};
use argus_core::bus::LocalEventBus;
use argus_core::ids::Principal;
use argus_core::store::Store;
use argus_engine::{Backends, Engine, EngineConfig};
use argus_store::local::LocalArtifactStore;
use argus_store::sqlite::EmbeddedQueue;
use argus_store::sqlite::SqliteStore;
use argus_store::SqliteDb;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// Options of a test server.
pub struct Options {
    pub auth: AuthConfig,
    pub body_limit: usize,
    pub concurrency: usize,
    pub claim_batch: usize,
    pub workers: bool,
    /// Events a live-stream follower may fall behind on the in-process bus before it lags.
    pub bus_capacity: usize,
    /// Server folders scans may read (`scan.local_roots`); the fixtures live in temp folders.
    pub local_roots: Vec<PathBuf>,
    /// Chaining rules (default: the shipped ones).
    pub chain_rules: argus_core::chain::ChainRules,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            auth: AuthConfig::Local {
                principal: Principal::local("acme", "alice").unwrap(),
            },
            body_limit: argus_api::DEFAULT_BODY_LIMIT,
            concurrency: 8,
            claim_batch: 8,
            workers: true,
            bus_capacity: 4096,
            local_roots: vec![std::env::temp_dir()],
            chain_rules: argus_core::chain::ChainRules::shipped(),
        }
    }
}

/// A running server; everything stops when it is dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    /// The engine's store, for tests that set up what the API cannot (the API itself reaches it
    /// only through the engine's services).
    pub store: Arc<dyn Store>,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    shutdown: CancellationToken,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn fixture_tools() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tools")
}

pub async fn start() -> Server {
    start_with(Options::default()).await
}

// The test's own HTTP client calls the server under test; the HTTP door is for components.
#[allow(clippy::disallowed_methods)]
pub async fn start_with(opts: Options) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("argus.db")).await.unwrap();
    // Wired as `argus serve` wires it: the store publishes new tasks inline.
    let store = SqliteStore::new(db.clone()).await.unwrap();
    let queue = EmbeddedQueue::new(db).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store.with_inline_queue(Arc::new(queue.clone())));
    let backends = Backends {
        store: store.clone(),
        queue: Arc::new(queue),
        artifacts: Arc::new(LocalArtifactStore::new(dir.path().join("artifacts")).unwrap()),
        bus: Arc::new(LocalEventBus::new(opts.bus_capacity)),
    };
    let config = EngineConfig {
        concurrency: opts.concurrency,
        claim_batch: opts.claim_batch,
        lease: Duration::from_secs(30),
        work_root: dir.path().join("work"),
        retry_backoff: Duration::from_millis(20),
        monitor_interval: Duration::from_millis(100),
        local_roots: opts.local_roots.clone(),
        chain_rules: opts.chain_rules.clone(),
        ..EngineConfig::default()
    };
    let registry = argus_scanners::registry_with(&argus_scanners::RegistryOptions {
        user_tool_dir: Some(&fixture_tools()),
        noop: true,
        ..Default::default()
    })
    .unwrap();
    let engine = Engine::new(backends, registry, config);
    let shutdown = CancellationToken::new();
    argus_engine::relay::spawn(engine.clone(), shutdown.clone());
    argus_engine::monitor::spawn(engine.clone(), shutdown.clone());
    if opts.workers {
        argus_engine::worker::spawn(engine.clone(), shutdown.clone());
    }
    let meta = Meta {
        version: "0.0.0-test".into(),
        build: "test".into(),
        backends: [
            ("store", "sqlite"),
            ("queue", "embedded"),
            ("artifacts", "local"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        ..Meta::default()
    };
    let router = argus_api::router(
        engine.clone(),
        ApiConfig {
            auth: opts.auth,
            body_limit: opts.body_limit,
            meta,
            upload_limit: 64 * 1024,
            ui: argus_api::ui::UiSource::Embedded,
            metrics: true,
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = shutdown.clone();
    let served = tokio::spawn(async move {
        argus_api::serve(listener, router, async move { stop.cancelled().await })
            .await
            .unwrap();
    });
    Server {
        addr,
        engine,
        store,
        http: reqwest::Client::new(),
        dir,
        shutdown,
        served: Some(served),
    }
}

impl Server {
    /// Starts a graceful shutdown and waits (up to `timeout`) for `serve` to return.
    pub async fn shut_down(&mut self, timeout: Duration) {
        self.shutdown.cancel();
        let served = self.served.take().unwrap();
        tokio::time::timeout(timeout, served)
            .await
            .expect("serve did not return after shutdown")
            .unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let res = self.http.get(self.url(path)).send().await.unwrap();
        read(res).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        read(res).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .put(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        read(res).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .patch(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        read(res).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        let res = self.http.delete(self.url(path)).send().await.unwrap();
        read(res).await
    }

    /// Creates a scan through the API (201 expected) and returns its JSON.
    pub async fn create_scan(&self, config: Value, start: bool) -> Value {
        let (status, body) = self
            .post("/api/v1/scans", json!({ "config": config, "start": start }))
            .await;
        assert_eq!(status, 201, "create scan: {body}");
        body
    }

    /// Polls the scan until `pred` holds (deadline: `timeout`); returns the last scan JSON.
    pub async fn wait_scan(
        &self,
        id: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, scan) = self.get(&format!("/api/v1/scans/{id}")).await;
            assert_eq!(status, 200, "{scan}");
            if pred(&scan) {
                return scan;
            }
            assert!(
                Instant::now() < deadline,
                "condition not reached in {timeout:?}: {scan}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wait_state(&self, id: &str, state: &str, timeout: Duration) -> Value {
        self.wait_scan(id, timeout, |s| s["state"] == state).await
    }

    /// Opens an SSE stream at `path` (with an optional `Last-Event-ID`).
    pub async fn sse(&self, path: &str, last_event_id: Option<i64>) -> SseStream {
        let mut req = self
            .http
            .get(self.url(path))
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream"),
            "{:?}",
            res.headers()
        );
        SseStream {
            body: Box::pin(res.bytes_stream()),
            buf: String::new(),
        }
    }
}

/// Status and JSON body (or `null` for an empty body) of a response; error bodies must be
/// problem details.
pub async fn read(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = res.bytes().await.unwrap();
    if status >= 400 {
        assert_eq!(
            ct, "application/problem+json",
            "status {status} without a problem body"
        );
    }
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    if status >= 400 {
        assert_eq!(body["status"], status, "{body}");
        assert!(body["code"].is_string() && body["type"].is_string() && body["title"].is_string());
    }
    (status, body)
}

/// One parsed SSE event.
#[derive(Clone, Debug, PartialEq)]
pub struct Sse {
    pub id: i64,
    pub event: String,
    pub data: Value,
}

pub struct SseStream {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: String,
}

impl SseStream {
    /// The next event (comments and keep-alives skipped); `None` when the stream ended.
    pub async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(pos) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..pos + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse::<i64>().unwrap());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if let Some(id) = id {
                    return Some(Sse {
                        id,
                        event,
                        data: serde_json::from_str(&data).unwrap(),
                    });
                }
                continue;
            }
            match self.body.next().await {
                Some(chunk) => self
                    .buf
                    .push_str(std::str::from_utf8(&chunk.unwrap()).unwrap()),
                None => return None,
            }
        }
    }

    /// Every event until the stream ends (bounded by `timeout`).
    pub async fn collect(&mut self, timeout: Duration) -> Vec<Sse> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline, self.next()).await {
            out.push(e);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stream did not end in {timeout:?}"
        );
        out
    }
}

/// A noop scan config.
pub fn noop_config(params: Value, targets: &[&str]) -> Value {
    json!({
        "scanners": [{ "name": "noop", "params": params }],
        "targets": targets.iter().map(|t| json!({ "kind": "url", "value": t })).collect::<Vec<_>>(),
    })
}

/// `noop://t/0` … `noop://t/{n-1}`.
pub fn noop_targets(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("noop://t/{i}")).collect()
}

/// The `to` state of a `state` event.
pub fn state_to(e: &Sse) -> Option<&str> {
    (e.event == "state")
        .then(|| e.data["data"]["to"].as_str())
        .flatten()
}
