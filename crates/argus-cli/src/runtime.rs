//! Backend choice and process roles: builds the engine from config and runs `serve` / `worker`.
//!
//! This is the only place that names concrete backends; the engine and the API see traits.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use argus_core::bus::LocalEventBus;
use argus_core::ids::Principal;
use argus_core::scanner::ScannerRegistry;
use argus_engine::{Backends, Engine, EngineConfig};
use argus_queue::embedded::EmbeddedQueue;
use argus_store::local::LocalArtifactStore;
use argus_store::sqlite::SqliteStore;
use argus_store::SqliteDb;

use crate::config::{AuthMode, Config, LogConfig};

/// Sets up tracing to stderr (`RUST_LOG` wins over `log.level`).
pub fn init_logging(cfg: &LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if cfg.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The scanner registry: built-ins plus the user tool folder.
pub fn registry(cfg: &Config) -> anyhow::Result<ScannerRegistry> {
    argus_scanners::registry(cfg.tools.dir.as_deref()).context("loading scanners")
}

/// Opens the configured backends and builds the engine.
pub async fn engine(cfg: &Config) -> anyhow::Result<Arc<Engine>> {
    if cfg.queue.url != "embedded" {
        anyhow::bail!(
            "queue.url '{}' is not supported by this build: use 'embedded'",
            crate::config::mask_url(&cfg.queue.url)
        );
    }
    let db_path = cfg.sqlite_path()?;
    let db = SqliteDb::open(&db_path)
        .await
        .with_context(|| format!("opening the database at {}", db_path.display()))?;
    let store = SqliteStore::new(db.clone())
        .await
        .context("migrating the store")?;
    let queue = EmbeddedQueue::new(db)
        .await
        .context("migrating the queue")?;
    let artifacts_dir = cfg.artifacts_dir()?;
    let artifacts = LocalArtifactStore::new(&artifacts_dir)
        .with_context(|| format!("opening the artifact folder {}", artifacts_dir.display()))?;
    let backends = Backends {
        store: Arc::new(store),
        queue: Arc::new(queue),
        artifacts: Arc::new(artifacts),
        bus: Arc::new(LocalEventBus::default()),
    };
    let engine_cfg = EngineConfig {
        worker_id: format!("{}-{}", hostname(), std::process::id()),
        concurrency: cfg.worker.workers.max(1),
        claim_batch: cfg.worker.claim_batch.max(1),
        lease: Duration::from_secs(cfg.worker.lease_secs.max(1)),
        work_root: cfg.server.data_dir.join("work"),
        retry_backoff: Duration::from_millis(cfg.worker.retry_backoff_ms),
        ..EngineConfig::default()
    };
    Ok(Engine::new(backends, registry(cfg)?, engine_cfg))
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "argus".into())
}

fn principal(cfg: &Config) -> anyhow::Result<Principal> {
    Principal::local(&cfg.auth.org, &cfg.auth.user).context("auth.org / auth.user")
}

/// Resolves when SIGINT or SIGTERM arrives.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// `argus serve`: API + workers + relay + monitor in one process.
pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    let engine = engine(&cfg).await?;
    let shutdown = CancellationToken::new();
    let mut handles = vec![
        argus_engine::relay::spawn(engine.clone(), shutdown.clone()),
        argus_engine::monitor::spawn(engine.clone(), shutdown.clone()),
    ];
    if cfg.worker.workers > 0 {
        handles.push(argus_engine::worker::spawn(
            engine.clone(),
            shutdown.clone(),
        ));
    }
    let auth = match cfg.auth.mode {
        AuthMode::Local => argus_api::AuthConfig::Local {
            principal: principal(&cfg)?,
        },
        AuthMode::TrustedHeaders => argus_api::AuthConfig::TrustedHeaders {
            default: principal(&cfg)?,
            trusted_proxies: cfg.auth.trusted_proxies.clone(),
        },
    };
    let mut backends = BTreeMap::new();
    backends.insert("store".to_string(), engine.store().backend().to_string());
    backends.insert("queue".to_string(), engine.queue().backend().to_string());
    backends.insert(
        "artifacts".to_string(),
        engine.artifacts().backend().to_string(),
    );
    let api_cfg = argus_api::ApiConfig {
        auth,
        body_limit: cfg.server.body_limit,
        meta: argus_api::Meta {
            version: env!("CARGO_PKG_VERSION").to_string(),
            build: option_env!("ARGUS_BUILD").unwrap_or("dev").to_string(),
            backends,
        },
    };
    let router = argus_api::router(engine.clone(), api_cfg);
    let listener = tokio::net::TcpListener::bind(cfg.server.bind)
        .await
        .with_context(|| {
            format!(
                "binding {} (is another server running? use --bind)",
                cfg.server.bind
            )
        })?;
    let addr = listener.local_addr()?;
    // Machine-readable line for scripts and tests that bind port 0.
    eprintln!("argus listening on http://{addr} (docs at http://{addr}/docs)");
    tracing::info!(%addr, workers = cfg.worker.workers, "serving");
    let stop = shutdown.clone();
    let served = argus_api::serve(listener, router, async move {
        shutdown_signal().await;
        stop.cancel();
    })
    .await;
    shutdown.cancel();
    for h in handles {
        let _ = h.await;
    }
    served.context("serving HTTP")
}

/// `argus worker`: workers + relay + monitor, no API.
pub async fn worker(cfg: Config) -> anyhow::Result<()> {
    let engine = engine(&cfg).await?;
    let shutdown = CancellationToken::new();
    let handles = vec![
        argus_engine::relay::spawn(engine.clone(), shutdown.clone()),
        argus_engine::monitor::spawn(engine.clone(), shutdown.clone()),
        argus_engine::worker::spawn(engine.clone(), shutdown.clone()),
    ];
    tracing::info!(workers = cfg.worker.workers, "worker started");
    shutdown_signal().await;
    shutdown.cancel();
    for h in handles {
        let _ = h.await;
    }
    Ok(())
}
