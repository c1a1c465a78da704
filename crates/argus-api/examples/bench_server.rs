//! A throwaway embedded server for load-testing the API by hand:
//! `cargo run --release -p argus-api --example bench_server` prints a scan URL to point `wrk` at
//! (`wrk -t2 -c64 -d10s --latency <url>`), then serves until killed. No workers run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;

use argus_api::{ApiConfig, AuthConfig, Meta};
use argus_core::bus::LocalEventBus;
use argus_core::ids::Principal;
use argus_core::scan::{Priority, ScanConfig, ScannerSpec, Scope};
use argus_core::target::{Target, TargetKind};
use argus_engine::services::CreateScan;
use argus_engine::{Backends, Engine, EngineConfig};
use argus_store::local::LocalArtifactStore;
use argus_store::sqlite::EmbeddedQueue;
use argus_store::sqlite::SqliteStore;
use argus_store::SqliteDb;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("argus.db")).await.unwrap();
    let backends = Backends {
        store: Arc::new(SqliteStore::new(db.clone()).await.unwrap()),
        queue: Arc::new(EmbeddedQueue::new(db).await.unwrap()),
        artifacts: Arc::new(LocalArtifactStore::new(dir.path().join("artifacts")).unwrap()),
        bus: Arc::new(LocalEventBus::default()),
    };
    let config = EngineConfig {
        work_root: dir.path().join("work"),
        ..EngineConfig::default()
    };
    let engine = Engine::new(
        backends,
        argus_scanners::registry_with(&argus_scanners::RegistryOptions {
            noop: true,
            ..Default::default()
        })
        .unwrap(),
        config,
    );
    let who = Principal::local("acme", "alice").unwrap();
    let scan = engine
        .scans()
        .create(
            &who,
            CreateScan {
                name: Some("bench".into()),
                config: ScanConfig {
                    scanners: vec![ScannerSpec {
                        name: "noop".into(),
                        params: serde_json::json!({}),
                    }],
                    targets: vec![Target::parse(TargetKind::Url, "noop://bench").unwrap()],
                    recursion_depth: 0,
                    max_duration: None,
                    max_results: None,
                    priority: Priority::Medium,
                    max_attempts: 3,
                    scope: Scope::default(),
                    labels: Default::default(),
                    rate_limit: None,
                    max_tasks: None,
                },
                template_id: None,
                start: false,
            },
        )
        .await
        .unwrap();
    let router = argus_api::router(
        engine,
        ApiConfig::new(AuthConfig::Local { principal: who }, Meta::default()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!(
        "http://{}/api/v1/scans/{}",
        listener.local_addr().unwrap(),
        scan.id
    );
    argus_api::serve(listener, router, std::future::pending())
        .await
        .unwrap();
}
