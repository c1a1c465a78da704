//! Backend choice and process roles: builds the engine from config and runs `serve` / `worker`.
//!
//! This is the only place that names concrete backends; the engine and the API see traits.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use argus_core::artifact::ArtifactStore;
use argus_core::bus::{EventBus, LocalEventBus};
use argus_core::component::{Doors, ScannerCatalog};
use argus_core::door::EnvDoor;
use argus_core::ids::Principal;
use argus_core::queue::Queue;
use argus_core::scanner::ScannerRegistry;
use argus_core::store::Store;
use argus_engine::{Backends, Engine, EngineConfig, ScannerSource};
use argus_store::local::LocalArtifactStore;
use argus_store::sqlite::EmbeddedQueue;
use argus_store::sqlite::SqliteStore;
use argus_store::SqliteDb;

use crate::config::{
    mask_url, ArtifactsBackend, AuthMode, Config, LogConfig, QueueBackend, StoreBackend,
};

/// Sets up tracing to stderr (`RUST_LOG` wins over `log.level`); `json` writes flat lines with
/// the fields of the spans around each event (see [`crate::logfmt`]).
pub fn init_logging(cfg: &LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = if cfg.format == "json" {
        crate::logfmt::json_builder()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init()
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init()
    };
}

/// Every crate's scanner catalog, in registration order: the one list of where scanners come
/// from. A crate with scanners adds one line here; each scanner is one line in its crate's
/// `catalog.rs`.
pub fn scanner_catalog() -> ScannerCatalog {
    let mut catalog = ScannerCatalog::scanners();
    argus_scanners::catalog::register(&mut catalog);
    argus_secrets::catalog::register(&mut catalog);
    argus_malware::catalog::register(&mut catalog);
    argus_recon::catalog::register(&mut catalog);
    catalog
}

/// Scanner factories whose table is a top-level section of the config instead of
/// `[scanners.<name>]`: their keys and `ARGUS_<SECTION>__*` variables predate the catalog and
/// stay valid. [`scanner_tables`] maps them, here and nowhere else.
pub const TOP_LEVEL_TABLES: [&str; 2] = ["tools", "secrets"];

/// The table of every scanner factory: the `[scanners.<name>]` tables as configured (untouched),
/// plus `[tools]` as the `tools` table and `[secrets]` as the `secrets` table.
pub fn scanner_tables(cfg: &Config) -> anyhow::Result<BTreeMap<String, serde_json::Value>> {
    let mut tables = cfg.scanners.clone();
    tables.insert("tools".into(), serde_json::to_value(&cfg.tools)?);
    tables.insert("secrets".into(), serde_json::to_value(&cfg.secrets)?);
    Ok(tables)
}

/// The environment door: components read the variables their config names through it.
#[derive(Debug)]
struct ProcessEnv;

impl EnvDoor for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// The doors scanners are built with: the process door, the one HTTP client, this process's
/// environment, the storage connectors of `[connectors]` (credentials read now, through the
/// environment door), and the artifact store when the backends are open.
pub fn doors(cfg: &Config, artifacts: Option<Arc<dyn ArtifactStore>>) -> anyhow::Result<Doors> {
    doors_for(&cfg.connectors, artifacts)
}

/// The doors of direct mode: as [`doors`], except that cloud locations without a named
/// credential use the person's own identity (their environment, their instance role), as
/// `git` and `ssh` do for `argus scan secrets`.
pub fn direct_doors(cfg: &Config) -> anyhow::Result<Doors> {
    let mut connectors = cfg.connectors.clone();
    connectors.allow_ambient_credentials = true;
    doors_for(&connectors, None)
}

fn doors_for(
    connectors: &argus_connectors::ConnectorsConfig,
    artifacts: Option<Arc<dyn ArtifactStore>>,
) -> anyhow::Result<Doors> {
    let http: Arc<dyn argus_core::door::HttpDoor> =
        Arc::new(argus_scanners::http::ReqwestDoor::new());
    let registry = argus_connectors::registry(connectors, &ProcessEnv, http.clone())
        .context("loading [connectors]")?;
    let doors = Doors::new(argus_scanners::process::door())
        .with_http(http)
        .with_env(Arc::new(ProcessEnv))
        .with_connectors(Arc::new(registry));
    Ok(match artifacts {
        Some(a) => doors.with_artifacts(a),
        None => doors,
    })
}

/// The scanner registry without backends (listing scanners, direct mode): every factory of
/// [`scanner_catalog`] built from the config (`noop` only with `scanners.noop.enabled`).
pub fn registry(cfg: &Config) -> anyhow::Result<ScannerRegistry> {
    registry_with(cfg, &direct_doors(cfg)?)
}

/// The scanner registry built with `doors`.
pub fn registry_with(cfg: &Config, doors: &Doors) -> anyhow::Result<ScannerRegistry> {
    scanner_catalog()
        .registry(&scanner_tables(cfg)?, doors)
        .map_err(anyhow::Error::new)
        .context("loading scanners")
}

/// The chaining rules at `path`, or the shipped ones; a file that does not parse or names an
/// unknown kind is an error naming the file and the rule.
pub fn chain_rules(
    path: Option<&std::path::Path>,
) -> anyhow::Result<argus_core::chain::ChainRules> {
    let Some(p) = path else {
        return Ok(argus_core::chain::ChainRules::shipped());
    };
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("reading chain rules {}", p.display()))?;
    argus_core::chain::ChainRules::from_toml(&text)
        .with_context(|| format!("checking chain rules in {}", p.display()))
}

/// Opens the configured backends and builds the engine.
pub async fn engine(cfg: &Config) -> anyhow::Result<Arc<Engine>> {
    let backends = backends(cfg).await?;
    let doors = doors(cfg, Some(backends.artifacts.clone()))?;
    let registry = registry_with(cfg, &doors)?;
    let sinks = crate::sinks::build(&cfg.sinks, &doors).context("loading [[sinks]]")?;
    let engine_cfg = EngineConfig {
        worker_id: format!("{}-{}", hostname(), std::process::id()),
        concurrency: cfg.worker.workers.max(1),
        claim_batch: cfg.worker.claim_batch.max(1),
        lease: Duration::from_secs(cfg.worker.lease_secs.max(1)),
        work_root: cfg.server.data_dir.join("work"),
        retry_backoff: Duration::from_millis(cfg.worker.retry_backoff_ms),
        shutdown_grace: Duration::from_secs(cfg.worker.shutdown_grace_secs),
        local_roots: cfg.scan.local_roots.clone(),
        max_tasks: cfg.scan.max_tasks.max(1),
        network: cfg.network.policy()?,
        chain_rules: chain_rules(cfg.scan.chain_rules.as_deref())?,
        rate_limits: cfg.network.rate_limits(),
        quotas: cfg.quotas.quotas(),
        scan_window: cfg.quotas.scan_window,
        stuck_after: cfg.scan.stuck_after()?,
        retention: cfg.retention.retention(),
        retention_interval: cfg.retention.interval()?,
        // Embedded: this process (or another on the same data dir, with the same registry)
        // runs every task. A broker queue: workers elsewhere say what they can run.
        scanners: match cfg.queue_backend()? {
            QueueBackend::Embedded => ScannerSource::Local,
            QueueBackend::Amqp(_) => ScannerSource::Advertised,
        },
        ..EngineConfig::default()
    };
    let engine = Engine::new(backends, registry, engine_cfg);
    engine
        .install_sinks(sinks)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    Ok(engine)
}

/// Opens store, queue, artifact store and event bus as the config's URLs say.
async fn backends(cfg: &Config) -> anyhow::Result<Backends> {
    let store_backend = cfg.store_backend()?;
    let queue_backend = cfg.queue_backend()?;
    // The embedded queue lives in the SQLite database, so it needs that store; the store then
    // puts new tasks on it in the ledger's own transaction (`InlineQueue`).
    let (store, queue, bus): (Arc<dyn Store>, Arc<dyn Queue>, Arc<dyn EventBus>) =
        match (&store_backend, &queue_backend) {
            (StoreBackend::Sqlite(path), queue_backend) => {
                let db = SqliteDb::open(path)
                    .await
                    .with_context(|| format!("opening the database at {}", path.display()))?;
                let store = SqliteStore::new(db.clone())
                    .await
                    .context("migrating the store")?;
                match queue_backend {
                    QueueBackend::Embedded => {
                        // The running-tasks quota is applied where tasks are claimed.
                        let opts = argus_store::sqlite::EmbeddedQueueOptions {
                            quotas: cfg.quotas.quotas(),
                            ..Default::default()
                        };
                        let queue = EmbeddedQueue::with_options(db, opts)
                            .await
                            .context("migrating the queue")?;
                        (
                            Arc::new(store.with_inline_queue(Arc::new(queue.clone()))),
                            Arc::new(queue),
                            Arc::new(LocalEventBus::default()),
                        )
                    }
                    // A broker queue: the relay publishes the store's tasks.
                    QueueBackend::Amqp(url) => {
                        let (queue, bus) = open_amqp(cfg, url).await?;
                        (Arc::new(store), queue, bus)
                    }
                }
            }
            (StoreBackend::Postgres(_), QueueBackend::Embedded) => anyhow::bail!(
                "queue.url 'embedded' keeps the queue inside the SQLite store; with a PostgreSQL store use queue.url = \"amqp://…\""
            ),
            (StoreBackend::Postgres(url), QueueBackend::Amqp(queue_url)) => {
                let store = open_postgres(cfg, url, true).await?;
                let (queue, bus) = open_amqp(cfg, queue_url).await?;
                (store, queue, bus)
            }
        };
    let artifacts: Arc<dyn ArtifactStore> = match cfg.artifacts_backend()? {
        ArtifactsBackend::Local(dir) => Arc::new(
            LocalArtifactStore::new(&dir)
                .with_context(|| format!("opening the artifact folder {}", dir.display()))?,
        ),
        ArtifactsBackend::Object(url) => open_object_store(cfg, &url)?,
    };
    Ok(Backends {
        store,
        queue,
        artifacts,
        bus,
    })
}

#[cfg(feature = "postgres")]
async fn open_postgres(cfg: &Config, url: &str, migrate: bool) -> anyhow::Result<Arc<dyn Store>> {
    let opts = argus_store::postgres::PgOptions {
        max_connections: cfg.store.max_connections.max(1),
        migrate,
    };
    let store = argus_store::postgres::PgStore::connect(url, opts)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", mask_url(url)))?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_cfg: &Config, url: &str, _migrate: bool) -> anyhow::Result<Arc<dyn Store>> {
    anyhow::bail!(
        "store.url '{}' needs PostgreSQL support, which this build leaves out: rebuild with `--features distributed` (or `postgres`)",
        mask_url(url)
    )
}

#[cfg(feature = "amqp")]
async fn open_amqp(cfg: &Config, url: &str) -> anyhow::Result<(Arc<dyn Queue>, Arc<dyn EventBus>)> {
    let opts = argus_queue::amqp::AmqpOptions {
        queue: cfg.queue.name.clone(),
        prefetch: u16::try_from(cfg.worker.workers.max(1)).unwrap_or(u16::MAX),
        ..argus_queue::amqp::AmqpOptions::default()
    };
    let queue = argus_queue::amqp::AmqpQueue::connect(url, opts)
        .await
        .with_context(|| format!("connecting to RabbitMQ at {}", mask_url(url)))?;
    let bus = argus_queue::amqp::AmqpEventBus::connect(url, &format!("{}.events", cfg.queue.name))
        .await
        .with_context(|| format!("connecting the event bus to {}", mask_url(url)))?;
    Ok((Arc::new(queue), Arc::new(bus)))
}

#[cfg(not(feature = "amqp"))]
async fn open_amqp(
    _cfg: &Config,
    url: &str,
) -> anyhow::Result<(Arc<dyn Queue>, Arc<dyn EventBus>)> {
    anyhow::bail!(
        "queue.url '{}' needs RabbitMQ support, which this build leaves out: rebuild with `--features distributed` (or `amqp`)",
        mask_url(url)
    )
}

#[cfg(feature = "object-store")]
fn open_object_store(cfg: &Config, url: &str) -> anyhow::Result<Arc<dyn ArtifactStore>> {
    let opts = argus_store::object::ObjectOptions {
        endpoint: cfg.artifacts.endpoint.clone(),
        region: cfg.artifacts.region.clone(),
        allow_http: cfg.artifacts.allow_http,
    };
    let store = argus_store::object::ObjectArtifactStore::from_url(url, opts)
        .with_context(|| format!("opening the artifact store {}", mask_url(url)))?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "object-store"))]
fn open_object_store(_cfg: &Config, url: &str) -> anyhow::Result<Arc<dyn ArtifactStore>> {
    anyhow::bail!(
        "artifacts.url '{}' needs object-storage support, which this build leaves out: rebuild with `--features distributed` (or `object-store`)",
        mask_url(url)
    )
}

/// `argus migrate`: applies the store's (and the embedded queue's) migrations, then exits.
pub async fn migrate(cfg: &Config) -> anyhow::Result<String> {
    match cfg.store_backend()? {
        StoreBackend::Sqlite(path) => {
            let db = SqliteDb::open(&path)
                .await
                .with_context(|| format!("opening the database at {}", path.display()))?;
            SqliteStore::new(db.clone())
                .await
                .context("migrating the store")?;
            EmbeddedQueue::new(db.clone())
                .await
                .context("migrating the queue")?;
            // Leaves no WAL behind and releases the owner lock.
            db.close().await;
            Ok(format!("sqlite database {} is up to date", path.display()))
        }
        StoreBackend::Postgres(url) => {
            open_postgres(cfg, &url, true).await?;
            Ok(format!(
                "postgres database {} is up to date",
                mask_url(&url)
            ))
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "argus".into())
}

fn principal(cfg: &Config) -> anyhow::Result<Principal> {
    Principal::local(&cfg.auth.org, &cfg.auth.user).context("auth.org / auth.user")
}

/// The API's identity layer from `[auth]`, refusing configs that would let any client act as
/// anyone: local mode on an address other than loopback, trusted headers from every peer.
pub fn auth_config(cfg: &Config) -> anyhow::Result<argus_api::AuthConfig> {
    let bind = cfg.server.bind.ip();
    Ok(match cfg.auth.mode {
        AuthMode::Local => {
            if !bind.is_loopback() {
                anyhow::bail!(
                    "refusing to serve on {bind} without authentication: auth.mode = \"local\" \
                     lets every client act as an admin, so it is only for a loopback bind. Set \
                     auth.mode = \"apikey\" (ARGUS_AUTH__MODE=apikey) and create a key with \
                     `argus admin apikey create --org ORG --role admin`, or auth.mode = \
                     \"trusted-headers\" with auth.trusted_proxies behind a gateway; or bind \
                     127.0.0.1 (--bind 127.0.0.1:8080)"
                );
            }
            argus_api::AuthConfig::Local {
                principal: principal(cfg)?,
            }
        }
        AuthMode::TrustedHeaders => {
            let trusted_proxies = cfg.auth.proxy_networks()?;
            if trusted_proxies.is_empty() {
                anyhow::bail!(
                    "invalid configuration: auth.mode = \"trusted-headers\" needs \
                     auth.trusted_proxies (ARGUS_AUTH__TRUSTED_PROXIES): list the gateway \
                     addresses or networks allowed to set X-Org-ID and X-User-ID; with an \
                     empty list any client could claim any org"
                );
            }
            argus_api::AuthConfig::TrustedHeaders {
                trusted_proxies,
                default_role: cfg.auth.trusted_role,
            }
        }
        AuthMode::Apikey => {
            if let Some(oidc) = &cfg.auth.oidc {
                argus_api::auth::jwt::JwtVerifier::new(oidc.clone())
                    .map_err(|e| anyhow::anyhow!("invalid configuration: auth.oidc: {e}"))?;
            }
            argus_api::AuthConfig::ApiKey {
                oidc: cfg.auth.oidc.clone(),
            }
        }
    })
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
    // Checked before anything starts, so a server that would be open to anyone never listens.
    let auth = auth_config(&cfg)?;
    // TLS, CORS and limits are checked before the backends open.
    let edge = crate::edge::load(&cfg)?;
    let engine = engine(&cfg).await?;
    let shutdown = CancellationToken::new();
    let mut handles = vec![
        argus_engine::relay::spawn(engine.clone(), shutdown.clone()),
        argus_engine::monitor::spawn(engine.clone(), shutdown.clone()),
    ];
    handles.extend(argus_engine::forward::spawn(
        engine.clone(),
        shutdown.clone(),
    ));
    if let Some(tls) = &edge.transport.tls {
        handles.push(crate::edge::reload_on_sighup(
            tls.clone(),
            shutdown.clone(),
        )?);
    }
    if cfg.worker.workers > 0 {
        handles.push(argus_engine::worker::spawn(
            engine.clone(),
            shutdown.clone(),
        ));
    }
    let backends: BTreeMap<String, String> = engine
        .backend_names()
        .into_iter()
        .map(|(seam, backend)| (seam.to_string(), backend.to_string()))
        .collect();
    let api_cfg = argus_api::ApiConfig {
        auth,
        body_limit: cfg.server.body_limit,
        upload_limit: cfg.server.upload_limit,
        meta: argus_api::Meta {
            version: env!("CARGO_PKG_VERSION").to_string(),
            build: option_env!("ARGUS_BUILD").unwrap_or("dev").to_string(),
            backends,
            instance: String::new(),
        },
        ui: ui_source(),
        metrics: cfg.metrics.enabled,
    };
    let router = argus_api::edge::apply(argus_api::router(engine.clone(), api_cfg), &edge.config)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
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
    let scheme = edge.scheme();
    eprintln!(
        "argus listening on {scheme}://{addr} (web UI at {scheme}://{addr}/, API docs at \
         {scheme}://{addr}/docs)"
    );
    tracing::info!(%addr, workers = cfg.worker.workers, "serving");
    let stop = shutdown.clone();
    let served = argus_api::edge::serve(listener, router, edge.transport, async move {
        shutdown_signal().await;
        stop.cancel();
    })
    .await;
    shutdown.cancel();
    for h in handles {
        let _ = h.await;
    }
    // Queue, then store: the embedded queue lives in the store's database.
    engine.shutdown().await;
    served.context("serving HTTP")
}

/// `argus worker`: workers + relay + monitor, no API.
pub async fn worker(cfg: Config) -> anyhow::Result<()> {
    let engine = engine(&cfg).await?;
    let shutdown = CancellationToken::new();
    let mut handles = vec![
        argus_engine::relay::spawn(engine.clone(), shutdown.clone()),
        argus_engine::monitor::spawn(engine.clone(), shutdown.clone()),
        argus_engine::worker::spawn(engine.clone(), shutdown.clone()),
    ];
    // Every process may forward; each sink's lease picks one at a time.
    handles.extend(argus_engine::forward::spawn(
        engine.clone(),
        shutdown.clone(),
    ));
    tracing::info!(workers = cfg.worker.workers, "worker started");
    shutdown_signal().await;
    shutdown.cancel();
    for h in handles {
        let _ = h.await;
    }
    // Queue, then store: the embedded queue lives in the store's database.
    engine.shutdown().await;
    Ok(())
}

/// Where the web UI's files come from: embedded, unless `ARGUS_UI_DIR` names the folder of
/// their sources (`crates/argus-api/ui`), read at every request while developing the UI.
fn ui_source() -> argus_api::ui::UiSource {
    match std::env::var_os("ARGUS_UI_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = std::path::PathBuf::from(dir);
            tracing::warn!(dir = %dir.display(), "serving the web UI from a folder (ARGUS_UI_DIR), not the embedded copy");
            argus_api::ui::UiSource::Folder(dir)
        }
        _ => argus_api::ui::UiSource::Embedded,
    }
}
