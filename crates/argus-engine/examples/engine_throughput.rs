//! In-process throughput probe (no HTTP): one scan whose root `noop` task fans out into N
//! no-op tasks on the embedded backends. `cargo run --release -p argus-engine --example
//! engine_throughput -- 100000 512`. The benchmark of record is `benches/run.sh` (through the server).

use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::bus::LocalEventBus;
use argus_core::ids::Principal;
use argus_core::scan::{Priority, ScanConfig, ScanState, ScannerSpec, Scope};
use argus_core::target::{Target, TargetKind};
use argus_engine::services::CreateScan;
use argus_engine::{Backends, Engine, EngineConfig};
use argus_store::local::LocalArtifactStore;
use argus_store::sqlite::EmbeddedQueue;
use argus_store::sqlite::SqliteStore;
use argus_store::SqliteDb;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(512);
    let dir = tempfile::tempdir()?;
    let db = SqliteDb::open(&dir.path().join("argus.db")).await?;
    let store = SqliteStore::new(db.clone()).await?;
    let queue = EmbeddedQueue::new(db).await?;
    let backends = Backends {
        store: Arc::new(store.with_inline_queue(Arc::new(queue.clone()))),
        queue: Arc::new(queue),
        artifacts: Arc::new(LocalArtifactStore::new(dir.path().join("artifacts"))?),
        bus: Arc::new(LocalEventBus::default()),
    };
    let config = EngineConfig {
        concurrency,
        work_root: dir.path().join("work"),
        ..EngineConfig::default()
    };
    let engine = Engine::new(
        backends,
        argus_scanners::registry_with(&argus_scanners::RegistryOptions {
            noop: true,
            ..Default::default()
        })?,
        config,
    );
    let shutdown = CancellationToken::new();
    argus_engine::relay::spawn(engine.clone(), shutdown.clone());
    argus_engine::worker::spawn(engine.clone(), shutdown.clone());
    let who = Principal::local("bench", "bench")?;
    let t0 = Instant::now();
    let scan = engine
        .scans()
        .create(
            &who,
            CreateScan {
                name: None,
                config: ScanConfig {
                    scanners: vec![ScannerSpec {
                        name: "noop".into(),
                        params: serde_json::json!({"fanout": n}),
                    }],
                    targets: vec![Target::parse(TargetKind::Url, "noop://root")?],
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
                start: true,
            },
        )
        .await?;
    loop {
        let s = engine.scans().get(&who, scan.id).await?;
        if s.state == ScanState::Completed {
            let secs = t0.elapsed().as_secs_f64();
            println!(
                "{} tasks in {:.2}s = {:.0} tasks/s ({:.1} µs/task)",
                s.progress.done,
                secs,
                s.progress.done as f64 / secs,
                secs * 1e6 / s.progress.done as f64
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    Ok(())
}
