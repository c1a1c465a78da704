//! The engine: turns scan requests into tasks, runs them on workers, and keeps the books.
//!
//! It knows only the `argus-core` traits — never a backend — so the same code runs the embedded
//! server and the distributed deployment. Pieces:
//! - [`services`]: the operations the API and CLI call, with the acting principal — scans
//!   (validation against scanner schemas, the scanners that can run here and what a scan may
//!   touch ([`policy`]); create, start, pause, resume, stop, delete; artifacts), findings,
//!   templates, and live events.
//! - [`follow`]: the live event streams behind the events service — replay from the store,
//!   then follow the bus.
//! - [`worker`]: the worker pool — claims leased tasks, runs scanners with cancellation tokens,
//!   commits results in batches, acks only after the commit; advertises its scanners.
//! - [`runner`]: runs one task with its scanner and turns its emissions into a report by the
//!   chaining rules (depth, scope, local access); shared by the worker pool and direct mode.
//! - [`relay`]: moves pending tasks from the store's ledger (the outbox) onto the queue, fairly
//!   between scans (a window of in-flight tasks per scan) and within each org's running-tasks
//!   quota; it wakes when told and also polls every second.
//! - [`quota`]: the per-org running-scans quota, checked when a scan starts.
//! - [`forward`]: result forwarding — one loop per configured sink, under the sink's lease,
//!   feeding it from the store's event log with a cursor kept in the store.
//! - [`trace`]: carries the trace context of the request that started a scan to its task spans,
//!   through the scan (a hook the binary installs when it exports traces).
//! - [`metrics`]: the process's Prometheus metrics (task runs, scan durations, HTTP requests;
//!   queue depth and sink state read at scrape time).
//! - [`monitor`]: the scheduler role — enforces `max_duration` and runs the janitor that clears
//!   ended and deleted scans' leftovers in bounded batches.
//! - [`retention`]: expires ended scans past their org's retention and removes orphan
//!   artifact and work folders; run hourly by the monitor and by `argus admin gc`.
//!
//! Invariants: a task's results are committed before its delivery is acked (so a crash re-runs
//! it, and the store's idempotent `record` keeps counters and findings exact); every committed
//! event is published on the bus after its commit; outside this crate the store is reached only
//! through [`services`] (the engine's store handle is crate-private).

pub mod follow;
pub mod forward;
pub mod metrics;
pub mod monitor;
pub mod policy;
pub mod quota;
pub mod rate;
pub mod relay;
pub mod retention;
pub mod runner;
pub mod scheduler;
pub mod services;
pub mod stuck;
pub mod trace;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

use argus_core::artifact::ArtifactStore;
use argus_core::bus::EventBus;
use argus_core::event::Event;
use argus_core::queue::Queue;
use argus_core::scanner::ScannerRegistry;
use argus_core::store::Store;

/// Tunables of the engine (the CLI maps config onto these).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Identifies this process's workers in logs.
    pub worker_id: String,
    /// Tasks run at once per worker pool.
    pub concurrency: usize,
    /// Most tasks claimed in one call.
    pub claim_batch: usize,
    /// Lease length; leases are renewed every third of it while a task runs.
    pub lease: Duration,
    /// Parent of per-task work folders.
    pub work_root: PathBuf,
    /// Base delay before a retryable failure is tried again (doubles per attempt).
    pub retry_backoff: Duration,
    /// How often running scans are checked for `max_duration` and stray state changes.
    pub monitor_interval: Duration,
    /// On shutdown, how long running tasks may finish before they are cancelled and handed
    /// back to the queue unacknowledged (another worker then runs them).
    pub shutdown_grace: Duration,
    /// Server folders scans may read (local repos, `file://` locations); empty: none.
    pub local_roots: Vec<PathBuf>,
    /// Most tasks one scan may create; a scan's own `max_tasks` may only lower it.
    pub max_tasks: u64,
    /// Where scan creation learns which scanners can run.
    pub scanners: ScannerSource,
    /// The network guard of every task (`[network]`): public addresses only by default.
    pub network: argus_core::net::NetPolicy,
    /// Which scanners run on what tasks discover (`scan.chain_rules`).
    pub chain_rules: argus_core::chain::ChainRules,
    /// Global and per-scanner request rates of network scanners (`[network]`).
    pub rate_limits: rate::RateLimits,
    /// Per-org quotas (`[quotas]`): running scans, checked at start; running tasks, held back
    /// by the relay (see [`relay`]).
    pub quotas: argus_core::quota::Quotas,
    /// Most tasks of one scan the relay keeps handed to the queue and not finished (0: no
    /// window, publish everything); see [`relay`].
    pub scan_window: u32,
    /// A queued or running scan whose tasks made no progress for this long is flagged stuck
    /// (`scan.stuck_after`; zero: never); see [`stuck`].
    pub stuck_after: Duration,
    /// How long ended scans are kept, by default and per org (`[retention]`); see
    /// [`retention`].
    pub retention: argus_core::retention::Retention,
    /// How often the scheduler runs the retention sweep (zero: never).
    pub retention_interval: Duration,
}

/// Which scanners can run, for refusing at creation a scan no worker could run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScannerSource {
    /// This process's registry (the embedded server: its own workers run every scan).
    #[default]
    Local,
    /// The scanners live worker pools advertise in the store (a distributed deployment, where
    /// API processes and workers may differ).
    Advertised,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            worker_id: format!("worker-{}", std::process::id()),
            concurrency: 64,
            claim_batch: 256,
            lease: Duration::from_secs(30),
            work_root: std::env::temp_dir().join("argus-work"),
            retry_backoff: Duration::from_millis(500),
            monitor_interval: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(10),
            local_roots: Vec::new(),
            max_tasks: DEFAULT_MAX_TASKS,
            scanners: ScannerSource::Local,
            network: argus_core::net::NetPolicy::public_only(),
            chain_rules: argus_core::chain::ChainRules::shipped(),
            rate_limits: rate::RateLimits::default(),
            quotas: argus_core::quota::Quotas::default(),
            scan_window: DEFAULT_SCAN_WINDOW,
            stuck_after: stuck::DEFAULT_STUCK_AFTER,
            retention: argus_core::retention::Retention::default(),
            retention_interval: DEFAULT_RETENTION_INTERVAL,
        }
    }
}

/// How often the retention sweep runs by default (`retention.interval`).
pub const DEFAULT_RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// The default relay window per scan (`quotas.scan_window`).
pub const DEFAULT_SCAN_WINDOW: u32 = 256;

/// The default per-scan task limit (`scan.max_tasks`).
pub const DEFAULT_MAX_TASKS: u64 = 1_000_000;

/// The backends the engine runs on, chosen by the CLI.
#[derive(Clone)]
pub struct Backends {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub artifacts: Arc<dyn ArtifactStore>,
    pub bus: Arc<dyn EventBus>,
}

/// The engine: shared by the API, the workers, the relay and the monitor of one process.
///
/// Other crates reach records only through its [`services`]: the store handle is private to
/// this crate, so this does not compile outside it.
///
/// ```compile_fail
/// async fn around_the_services(engine: &argus_engine::Engine) {
///     let _ = engine.store();
/// }
/// ```
pub struct Engine {
    backends: Backends,
    registry: Arc<ScannerRegistry>,
    config: EngineConfig,
    /// What scans may touch on this machine's file system.
    local: policy::LocalAccess,
    /// What tasks may reach on the network: the configured guard (rate gate added per task).
    net: argus_core::net::NetAccess,
    /// Each task's rate gate: schedules in the store when workers are spread over processes.
    rates: rate::RateLimiter,
    /// Wakes the relay when the ledger gained pending tasks.
    relay_wake: Notify,
    /// The relay holds back work until tasks finish (a full window or org quota): workers
    /// wake it after every commit, not only after commits that left pending tasks.
    relay_holding: std::sync::atomic::AtomicBool,
    /// The configured sinks (`[[sinks]]`), set once at start-up.
    sinks: std::sync::OnceLock<forward::Forwarders>,
    /// API keys verified lately (see `services::apikeys`).
    api_key_cache: services::apikeys::KeyCache,
    /// This process's metrics (see [`metrics`]).
    metrics: Arc<metrics::Metrics>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Builds an engine over the given backends and scanners.
    pub fn new(backends: Backends, registry: ScannerRegistry, config: EngineConfig) -> Arc<Self> {
        let rates = match config.scanners {
            ScannerSource::Local => rate::RateLimiter::local(config.rate_limits.clone()),
            ScannerSource::Advertised => {
                rate::RateLimiter::shared(config.rate_limits.clone(), backends.store.clone())
            }
        };
        Arc::new(Engine {
            backends,
            registry: Arc::new(registry),
            local: policy::LocalAccess::new(&config.local_roots),
            net: argus_core::net::NetAccess::new(config.network.clone()),
            rates,
            config,
            relay_wake: Notify::new(),
            relay_holding: std::sync::atomic::AtomicBool::new(false),
            sinks: std::sync::OnceLock::new(),
            api_key_cache: Default::default(),
            metrics: Arc::new(metrics::Metrics::new()),
        })
    }

    /// The store. Crate-private: other crates go through the [`services`], which scope every
    /// call by the acting principal's org.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.backends.store
    }

    /// The backend in use per dependency (`store`, `queue`, `artifacts`), e.g. `sqlite`.
    pub fn backend_names(&self) -> [(&'static str, &'static str); 3] {
        [
            ("store", self.backends.store.backend()),
            ("queue", self.backends.queue.backend()),
            ("artifacts", self.backends.artifacts.backend()),
        ]
    }

    /// Closes the queue, then the store (the embedded queue lives in the store's database).
    /// Call once, after the workers, relay and monitor have stopped.
    pub async fn shutdown(&self) {
        self.backends.queue.shutdown().await;
        self.backends.store.shutdown().await;
    }

    /// The queue.
    pub fn queue(&self) -> &Arc<dyn Queue> {
        &self.backends.queue
    }

    /// The artifact store.
    pub fn artifacts(&self) -> &Arc<dyn ArtifactStore> {
        &self.backends.artifacts
    }

    /// The event bus.
    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.backends.bus
    }

    /// The scanner registry.
    pub fn registry(&self) -> &ScannerRegistry {
        &self.registry
    }

    /// What scans may touch on this machine's file system.
    pub fn local_access(&self) -> &policy::LocalAccess {
        &self.local
    }

    /// What tasks may reach on the network.
    pub fn net(&self) -> &argus_core::net::NetAccess {
        &self.net
    }

    /// Builds each task's rate gate.
    pub fn rates(&self) -> &rate::RateLimiter {
        &self.rates
    }

    /// The engine's tunables.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Publishes committed events on the bus (every commit's events go through here, in the
    /// process that committed them, which also observes the durations of the scans they end).
    pub(crate) fn publish(&self, events: &[Event]) {
        if !events.is_empty() {
            self.backends.bus.publish(events);
            self.observe_ended_scans(events);
        }
    }

    /// Sets the configured sinks, once, before [`forward::spawn`]; a second call, two sinks
    /// of the same name or bad settings are refused with a message for the operator.
    pub fn install_sinks(&self, specs: Vec<forward::SinkSpec>) -> Result<(), String> {
        let forwarders = forward::forwarders(specs)?;
        self.sinks
            .set(forwarders)
            .map_err(|_| "sinks are already installed".to_owned())
    }

    /// The configured sinks (none until [`Engine::install_sinks`]).
    pub(crate) fn forwarders(&self) -> &[std::sync::Arc<forward::Forwarder>] {
        self.sinks.get().map(Vec::as_slice).unwrap_or_default()
    }

    /// Asks the relay to move pending tasks onto the queue now.
    pub fn wake_relay(&self) {
        self.relay_wake.notify_one();
    }

    /// Whether the relay waits for tasks to finish before it can publish more.
    pub(crate) fn relay_holding(&self) -> bool {
        self.relay_holding
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}
