//! Configuration: one TOML file, overridden by `ARGUS_*` environment variables (`__` nests:
//! `ARGUS_SERVER__BIND=0.0.0.0:9000`), overridden by command-line flags.
//!
//! Only this crate reads env, flags and files (an architecture invariant); everything else gets
//! typed values. `docs/config.md` is the reference page and must list every key here (a test
//! checks that).

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use argus_core::component::ComponentConfig;
use argus_core::ids::Role;
pub use argus_scanners::tool::ToolsConfig;
pub use argus_secrets::scanner::SecretsConfig;

/// The whole effective configuration.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub worker: WorkerConfig,
    pub store: StoreConfig,
    pub queue: QueueConfig,
    pub artifacts: ArtifactsConfig,
    pub auth: AuthSection,
    pub scan: ScanSection,
    /// `[network]`: what network scanners may reach from this server.
    pub network: NetworkSection,
    /// `[connectors]`: named credentials for storage locations and whether the server's own
    /// cloud identity may be used (secrets only by environment variable name).
    pub connectors: argus_connectors::ConnectorsConfig,
    /// `[scanners.<name>]` tables, passed through untouched to the scanner factory of that name
    /// (see [`crate::runtime::scanner_tables`]); after [`Config::load`], every factory's
    /// effective table (defaults filled in, paths absolute).
    pub scanners: BTreeMap<String, serde_json::Value>,
    /// The `tools` factory's table, a top-level section for compatibility.
    pub tools: ToolsConfig,
    /// The `secrets` factory's table, a top-level section for compatibility (direct mode's
    /// `argus scan secrets` reads it too).
    pub secrets: SecretsConfig,
    pub log: LogConfig,
    /// `[telemetry]`: OpenTelemetry traces over OTLP/HTTP (builds with the `otel` feature).
    pub telemetry: TelemetrySection,
    /// `[metrics]`: the Prometheus endpoint (`GET /metrics`).
    pub metrics: MetricsSection,
    /// `[quotas]`: per-org limits and the relay's per-scan window.
    pub quotas: crate::quotas::QuotasSection,
    /// `[retention]`: how long ended scans are kept, per org, and how often the sweep runs.
    pub retention: crate::retention::RetentionSection,
    /// `[[sinks]]`: where results and lifecycle events are forwarded (see `crate::sinks`);
    /// each entry is checked at load time and built by the factory of its `type`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sinks: Vec<serde_json::Value>,
}

/// What a tenant's scan may touch on this server, and how big a scan may grow.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ScanSection {
    /// Server folders that `repo` targets with a local path and `file://` locations may name
    /// (`argus serve` / `argus worker` only; direct mode scans what the person names). Empty:
    /// none, so a scan cannot make the server read its own files.
    pub local_roots: Vec<PathBuf>,
    /// Most tasks one scan may create (initial plus fan-out and chained); a scan that reaches it
    /// fails with reason `max_tasks`. A scan's own `max_tasks` may only lower it.
    pub max_tasks: u64,
    /// Chaining rules (TOML, `[[rules]]`): which scanners run on what scans discover. Unset:
    /// the shipped `rules/chains.toml`.
    pub chain_rules: Option<PathBuf>,
    /// A queued or running scan whose tasks make no progress for this long is flagged stuck
    /// (a `stuck` event and a reason; see `argus_engine::stuck`). A duration such as `30m`,
    /// `2h`, `90s`, `1h30m`; `0` turns the check off.
    pub stuck_after: String,
}

impl Default for ScanSection {
    fn default() -> Self {
        ScanSection {
            local_roots: Vec::new(),
            max_tasks: argus_engine::DEFAULT_MAX_TASKS,
            chain_rules: None,
            stuck_after: "30m".into(),
        }
    }
}

impl ScanSection {
    /// `stuck_after` as a duration (zero: off); a value that does not parse is an error naming
    /// the key.
    pub fn stuck_after(&self) -> anyhow::Result<std::time::Duration> {
        parse_stuck_duration(&self.stuck_after).map_err(|e| {
            anyhow::anyhow!(
                "scan.stuck_after: {e} (e.g. \"30m\", \"2h\", \"90s\", or \"0\" for off)"
            )
        })
    }
}

/// Parses `0` or a sequence of `<digits><unit>` with units `ms`, `s`, `m`, `h`, `d` (`1h30m`).
fn parse_stuck_duration(raw: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    let s = raw.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("'{raw}' is not a duration"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("'{raw}': number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = rest.split_at(unit_len);
        let part = match unit {
            "ms" => Some(Duration::from_millis(n)),
            "s" => Some(Duration::from_secs(n)),
            "m" => n.checked_mul(60).map(Duration::from_secs),
            "h" => n.checked_mul(3600).map(Duration::from_secs),
            "d" => n.checked_mul(86_400).map(Duration::from_secs),
            "" => return Err(format!("'{raw}': a number needs a unit (ms, s, m, h, d)")),
            other => return Err(format!("'{raw}': unknown unit '{other}' (ms, s, m, h, d)")),
        };
        total = part
            .and_then(|p| total.checked_add(p))
            .ok_or_else(|| format!("'{raw}': too long"))?;
        rest = tail;
    }
    Ok(total)
}

/// What network scanners (dns, ports, http, tls, tools that connect) may reach from a server.
/// Loopback, private, link-local, shared and cloud-metadata addresses are refused unless
/// allowed here; direct mode scans the targets a person names as given.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSection {
    /// Allow every special range (a lab, an internal scanner).
    pub allow_private: bool,
    /// Special ranges allowed one by one, as CIDR blocks (e.g. `["127.0.0.0/8"]`).
    pub allow: Vec<String>,
    /// Most network requests per second of every scan together, on every worker.
    pub rate_limit: Option<f64>,
    /// Most network requests per second per scanner (`{ ports = 200, http = 20 }`).
    pub scanner_rate_limits: BTreeMap<String, f64>,
}

impl NetworkSection {
    /// The guard these settings describe; a block that does not parse is an error naming it.
    pub fn policy(&self) -> anyhow::Result<argus_core::net::NetPolicy> {
        let allow = self
            .allow
            .iter()
            .map(|s| {
                s.trim().parse().map_err(|_| {
                    anyhow::anyhow!("network.allow: '{s}' is not a CIDR block such as 127.0.0.0/8")
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(argus_core::net::NetPolicy {
            allow_private: self.allow_private,
            allow,
        })
    }

    /// The global and per-scanner request rates.
    pub fn rate_limits(&self) -> argus_engine::rate::RateLimits {
        argus_engine::rate::RateLimits {
            global: self.rate_limit,
            per_scanner: self.scanner_rate_limits.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the API listens on.
    pub bind: SocketAddr,
    /// Folder for the embedded database, artifacts and task work folders.
    pub data_dir: PathBuf,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Largest file `POST /api/v1/scan/binary` judges, in bytes.
    pub upload_limit: usize,
    /// Largest request target plus headers, in bytes (431 past it).
    pub max_header_bytes: usize,
    /// Most request header fields (431 past it).
    pub max_headers: usize,
    /// Longest time to an answer's head, in seconds (503 past it); 0: no limit.
    pub request_timeout_secs: u64,
    /// Seconds a connection has to send a request head, finish a TLS handshake, or start its
    /// next request when kept alive; then it is closed.
    pub header_read_timeout_secs: u64,
    /// `[server.tls]`: HTTPS (see `crate::edge`).
    pub tls: crate::edge::TlsSection,
    /// `[server.cors]`: cross-origin browser access, off by default.
    pub cors: crate::edge::CorsSection,
    /// `[server.rate_limit]`: requests a minute per address and per key, off by default.
    pub rate_limit: crate::edge::RateLimitSection,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("argus-data"),
            body_limit: 1024 * 1024,
            upload_limit: 32 * 1024 * 1024,
            max_header_bytes: argus_api::edge::limits::DEFAULT_MAX_HEADER_BYTES,
            max_headers: argus_api::edge::limits::DEFAULT_MAX_HEADERS,
            request_timeout_secs: argus_api::edge::limits::DEFAULT_REQUEST_TIMEOUT.as_secs(),
            header_read_timeout_secs: argus_api::edge::limits::DEFAULT_HEADER_READ_TIMEOUT
                .as_secs(),
            tls: Default::default(),
            cors: Default::default(),
            rate_limit: Default::default(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Tasks this process runs at once (`argus serve --workers 0` runs the API only).
    pub workers: usize,
    /// Most tasks claimed from the queue in one round trip.
    pub claim_batch: usize,
    /// Lease length in seconds; renewed every third of it while a task runs.
    pub lease_secs: u64,
    /// Base retry delay in milliseconds for retryable failures (doubles per attempt).
    pub retry_backoff_ms: u64,
    /// Seconds running tasks may finish after SIGTERM before they are cancelled and released.
    pub shutdown_grace_secs: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            workers: 16,
            claim_batch: 256,
            lease_secs: 30,
            retry_backoff_ms: 500,
            shutdown_grace_secs: 10,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`; empty means `{data_dir}/argus.db`.
    pub url: String,
    /// Connections in the PostgreSQL pool (per process).
    pub max_connections: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: String::new(),
            max_connections: 16,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// `embedded` (durable, in the store's SQLite database) or `amqp://USER:PASSWORD@HOST:PORT/VHOST`.
    pub url: String,
    /// RabbitMQ queue name for tasks (events use the `{name}.events` topic exchange).
    pub name: String,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            url: "embedded".into(),
            name: "argus.tasks".into(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ArtifactsConfig {
    /// `file://PATH`, `s3://BUCKET/PREFIX`, `az://CONTAINER/PREFIX` or `gs://BUCKET/PREFIX`;
    /// empty means `{data_dir}/artifacts`. Cloud credentials come from the standard environment
    /// variables (`AWS_ACCESS_KEY_ID`, `AZURE_STORAGE_ACCOUNT_KEY`, …), never from this file.
    pub url: String,
    /// S3-compatible endpoint (MinIO, moto…) instead of AWS.
    pub endpoint: Option<String>,
    /// Region for S3.
    pub region: Option<String>,
    /// Allow plain-HTTP endpoints (local emulators).
    pub allow_http: bool,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// Every request acts as the configured local principal.
    #[default]
    Local,
    /// `X-User-ID` / `X-Org-ID` (and `X-User-Role`) headers from a trusted gateway.
    TrustedHeaders,
    /// `Authorization: Bearer` with an Argus API key, or a JWT of `[auth.oidc]`'s issuer.
    Apikey,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    pub mode: AuthMode,
    /// Organisation of the local principal.
    pub org: String,
    /// User of the local principal.
    pub user: String,
    /// Peers allowed to set identity headers in `trusted-headers` mode, as addresses or
    /// networks (`10.0.0.5`, `10.0.0.0/24`); required (non-empty) in that mode: `argus serve`
    /// refuses to start without it.
    pub trusted_proxies: Vec<String>,
    /// Role of a trusted-headers request without `X-User-Role`.
    pub trusted_role: Role,
    /// `[auth.oidc]`: accept JWTs of this issuer as bearer tokens (mode `apikey`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<argus_api::auth::jwt::OidcConfig>,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            mode: AuthMode::Local,
            org: "default".into(),
            user: "local".into(),
            trusted_proxies: Vec::new(),
            trusted_role: Role::Analyst,
            oidc: None,
        }
    }
}

impl AuthSection {
    /// `trusted_proxies` as networks (an address is a one-address network).
    pub fn proxy_networks(&self) -> anyhow::Result<Vec<ipnet::IpNet>> {
        self.trusted_proxies
            .iter()
            .map(|s| {
                let s = s.trim();
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "auth.trusted_proxies: {s:?} is neither an address nor a network \
                             (write 10.0.0.5 or 10.0.0.0/24)"
                        )
                    })
            })
            .collect()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `argus_engine=debug,info`.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// OpenTelemetry traces (see `crate::telemetry`): off while `otlp_endpoint` is empty.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySection {
    /// Base URL of an OTLP/HTTP receiver (a collector), e.g. `http://collector:4318`; spans go
    /// to `<endpoint>/v1/traces` as protobuf. Empty: no traces.
    pub otlp_endpoint: String,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Share of new traces recorded, 0.0 to 1.0; a request that comes with a `traceparent`
    /// follows its caller's decision.
    pub sample_ratio: f64,
}

impl Default for TelemetrySection {
    fn default() -> Self {
        TelemetrySection {
            otlp_endpoint: String::new(),
            service_name: "argus".into(),
            sample_ratio: 1.0,
        }
    }
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSection {
    /// Serve `GET /metrics` (admins only); off, it answers 404.
    pub enabled: bool,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection { enabled: true }
    }
}

/// The store a config names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreBackend {
    Sqlite(PathBuf),
    Postgres(String),
}

/// The queue a config names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueBackend {
    Embedded,
    Amqp(String),
}

/// The artifact store a config names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtifactsBackend {
    Local(PathBuf),
    Object(String),
}

/// Top-level sections; an `ARGUS_<SECTION>__<KEY>` variable must name one of them.
pub const SECTIONS: [&str; 18] = [
    "server",
    "worker",
    "store",
    "queue",
    "artifacts",
    "auth",
    "scan",
    "network",
    "connectors",
    "scanners",
    "tools",
    "secrets",
    "log",
    "metrics",
    "sinks",
    "quotas",
    "telemetry",
    "retention",
];

impl Config {
    /// Loads defaults ← file ← `ARGUS_*` env ← `overrides` (flags, as a partial TOML-like tree),
    /// then makes every path absolute against the current directory ([`Config::absolutize`]).
    pub fn load(file: Option<&Path>, overrides: serde_json::Value) -> anyhow::Result<Config> {
        // A variable shaped like config (`ARGUS_<SECTION>__<KEY>`) must name a known section, as
        // an unknown key in a known section is an error: a typo never silently does nothing.
        // Variables without `__` (ARGUS_CONFIG, ARGUS_BUILD, test URLs) are not config.
        for (k, _) in std::env::vars_os() {
            let Some(k) = k.to_str() else { continue };
            if let Some(section) = env_section(k) {
                if !SECTIONS.contains(&section.as_str()) {
                    anyhow::bail!(
                        "invalid configuration: environment variable {k} names the unknown section '{section}' (known sections: {})",
                        SECTIONS.join(", ")
                    );
                }
            }
        }
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                anyhow::bail!("config file {} does not exist", path.display());
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(
            Env::prefixed("ARGUS_")
                .split("__")
                // Keys arrive stripped and split (`store.url`); ARGUS_CONFIG and friends have
                // no section and are not config.
                .filter(|k| k.as_str().contains('.'))
                // `[[sinks]]` is a list, which figment cannot address by name: its variables
                // are applied per entry below (`sinks::apply_env`).
                .filter(|k| !k.as_str().to_ascii_lowercase().starts_with("sinks.")),
        );
        fig = fig.merge(Serialized::globals(overrides));
        let mut cfg = fig
            .extract::<Config>()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        let cwd = std::env::current_dir()
            .map_err(|e| anyhow::anyhow!("cannot read the current directory: {e}"))?;
        cfg.absolutize(&cwd);
        cfg.scanners = effective_scanner_tables(&cfg.scanners, &cwd)?;
        crate::sinks::apply_env(
            &mut cfg.sinks,
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )?;
        crate::sinks::check(&cfg.sinks)?;
        cfg.retention.check()?;
        Ok(cfg)
    }

    /// Makes every configured path absolute against `cwd`, once, at start-up. A relative path
    /// would otherwise be resolved against whatever directory a child process runs in (a `git`
    /// run inside a repository put `argus-data/work/…` inside that repository).
    pub fn absolutize(&mut self, cwd: &Path) {
        let abs = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                cwd.join(p)
            }
        };
        self.server.data_dir = abs(&self.server.data_dir);
        self.server.tls.cert = self.server.tls.cert.as_deref().map(abs);
        self.server.tls.key = self.server.tls.key.as_deref().map(abs);
        // The component tables know their own paths; `[scanners.<name>]` tables are made
        // absolute by their factories in `load` (the catalog's effective config).
        self.tools.absolutize(cwd);
        self.secrets.absolutize(cwd);
        self.scan.local_roots = self.scan.local_roots.iter().map(|p| abs(p)).collect();
        self.scan.chain_rules = self.scan.chain_rules.as_deref().map(abs);
        for (url, scheme) in [
            (&mut self.store.url, "sqlite://"),
            (&mut self.artifacts.url, "file://"),
        ] {
            let trimmed = url.trim();
            if let Some(p) = trimmed.strip_prefix(scheme) {
                // `file://host/path` (an authority) is left alone; only bare relative paths move.
                if !p.is_empty() && !p.starts_with('/') && !p.contains('@') {
                    *url = format!("{scheme}{}", abs(Path::new(p)).display());
                }
            }
        }
    }

    /// Which store the config names.
    pub fn store_backend(&self) -> anyhow::Result<StoreBackend> {
        let url = self.store.url.trim();
        if url.is_empty() {
            return Ok(StoreBackend::Sqlite(self.server.data_dir.join("argus.db")));
        }
        if let Some(p) = url.strip_prefix("sqlite://") {
            if !p.is_empty() {
                return Ok(StoreBackend::Sqlite(PathBuf::from(p)));
            }
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreBackend::Postgres(url.to_owned()));
        }
        anyhow::bail!(
            "store.url '{}' is not understood: use sqlite://PATH or postgres://USER@HOST/DB",
            mask_url(url)
        )
    }

    /// Which queue the config names.
    pub fn queue_backend(&self) -> anyhow::Result<QueueBackend> {
        let url = self.queue.url.trim();
        if url.is_empty() || url == "embedded" {
            return Ok(QueueBackend::Embedded);
        }
        if url.starts_with("amqp://") || url.starts_with("amqps://") {
            return Ok(QueueBackend::Amqp(url.to_owned()));
        }
        anyhow::bail!(
            "queue.url '{}' is not understood: use 'embedded' or amqp://USER:PASSWORD@HOST:5672/VHOST",
            mask_url(url)
        )
    }

    /// Which artifact store the config names.
    pub fn artifacts_backend(&self) -> anyhow::Result<ArtifactsBackend> {
        let url = self.artifacts.url.trim();
        if url.is_empty() {
            return Ok(ArtifactsBackend::Local(
                self.server.data_dir.join("artifacts"),
            ));
        }
        if let Some(p) = url.strip_prefix("file://") {
            if !p.is_empty() {
                return Ok(ArtifactsBackend::Local(PathBuf::from(p)));
            }
        }
        for scheme in ["s3://", "az://", "azure://", "gs://"] {
            if url.starts_with(scheme) && url.len() > scheme.len() {
                return Ok(ArtifactsBackend::Object(url.to_owned()));
            }
        }
        anyhow::bail!(
            "artifacts.url '{}' is not understood: use file://PATH, s3://BUCKET/PREFIX, az://CONTAINER/PREFIX or gs://BUCKET/PREFIX",
            mask_url(url)
        )
    }

    /// The effective config as TOML with credentials in URLs masked.
    pub fn to_masked_toml(&self) -> anyhow::Result<String> {
        let mut c = self.clone();
        c.store.url = mask_url(&c.store.url);
        c.queue.url = mask_url(&c.queue.url);
        c.artifacts.url = mask_url(&c.artifacts.url);
        c.artifacts.endpoint = c.artifacts.endpoint.as_deref().map(mask_url);
        c.telemetry.otlp_endpoint = mask_url(&c.telemetry.otlp_endpoint);
        Ok(toml::to_string_pretty(&c)?)
    }
}

/// Every `[scanners.<name>]` factory's effective table (unknown names and keys refused); the
/// factories configured by a top-level section (`[tools]`, `[secrets]`) are not repeated here.
fn effective_scanner_tables(
    tables: &BTreeMap<String, serde_json::Value>,
    cwd: &Path,
) -> anyhow::Result<BTreeMap<String, serde_json::Value>> {
    use crate::runtime::TOP_LEVEL_TABLES;
    if let Some(name) = TOP_LEVEL_TABLES.iter().find(|n| tables.contains_key(**n)) {
        anyhow::bail!(
            "invalid configuration: [scanners.{name}]: the {name} scanner is configured under [{name}]"
        );
    }
    let catalog = crate::runtime::scanner_catalog();
    let known: Vec<&str> = catalog
        .names()
        .filter(|n| !TOP_LEVEL_TABLES.contains(n))
        .collect();
    if let Some(name) = tables.keys().find(|n| !known.contains(&n.as_str())) {
        anyhow::bail!(
            "invalid configuration: scanners.{name}: unknown scanner (configurable under [scanners]: {})",
            known.join(", ")
        );
    }
    let mut effective = catalog
        .effective(tables, cwd)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    effective.retain(|name, _| !TOP_LEVEL_TABLES.contains(&name.as_str()));
    Ok(effective)
}

/// The section an `ARGUS_<SECTION>__<KEY>` variable names (lower case), if it has that shape.
fn env_section(var: &str) -> Option<String> {
    let rest = var.strip_prefix("ARGUS_")?;
    let (section, _) = rest.split_once("__")?;
    Some(section.to_ascii_lowercase())
}

/// Replaces the password in a URL's userinfo and any query string (which may carry keys) with
/// `****`. Works on the text, so it also covers schemes the `url` crate will not give a password
/// (`file://`, custom ones).
pub fn mask_url(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://") else {
        return raw.to_owned();
    };
    let rest_start = scheme_end + 3;
    let rest = &raw[rest_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut out = raw[..rest_start].to_owned();
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:****")),
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let tail = &rest[authority_end..];
    match tail.split_once('?') {
        Some((path, _)) => {
            out.push_str(path);
            out.push_str("?****");
        }
        None => out.push_str(tail),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_credentials() {
        assert_eq!(
            mask_url("postgres://u:secret@h/db"),
            "postgres://u:****@h/db"
        );
        assert_eq!(mask_url("s3://b/p?secret_key=x"), "s3://b/p?****");
        assert_eq!(mask_url("embedded"), "embedded");
        assert_eq!(mask_url("file://u:pw@host/art"), "file://u:****@host/art");
        assert_eq!(
            mask_url("amqp://guest@h:5672/%2f"),
            "amqp://guest@h:5672/%2f"
        );
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own error type
    fn precedence_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("argus.toml");
        std::fs::write(
            &file,
            "[server]\nbind = \"127.0.0.1:1111\"\n[worker]\nworkers = 3\nclaim_batch = 7\n",
        )
        .unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("ARGUS_WORKER__WORKERS", "5");
            let c = Config::load(
                Some(&file),
                serde_json::json!({"worker": {"claim_batch": 9}}),
            )
            .map_err(|e| e.to_string())?;
            assert_eq!(c.server.bind.port(), 1111); // file
            assert_eq!(c.worker.workers, 5); // env over file
            assert_eq!(c.worker.claim_batch, 9); // flag over file
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn unknown_env_sections_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ARGUS_BOGUS__X", "1");
            let err = Config::load(None, serde_json::json!({}))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("ARGUS_BOGUS__X") && err.contains("bogus"),
                "{err}"
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            // Not config-shaped: ignored, as before.
            jail.set_env("ARGUS_BUILD", "abc");
            jail.set_env("ARGUS_SCANNERS__NOOP__ENABLED", "true");
            let c = Config::load(None, serde_json::json!({})).map_err(|e| e.to_string())?;
            assert_eq!(c.scanners["noop"]["enabled"], serde_json::json!(true));
            Ok(())
        });
    }

    #[test]
    fn paths_become_absolute() {
        let mut c = Config::default();
        c.store.url = "sqlite://rel/argus.db".into();
        c.artifacts.url = "file://arts".into();
        c.tools.dir = Some("tools".into());
        c.secrets.rules_dir = Some("/abs/rules".into());
        c.scan.local_roots = vec!["repos".into()];
        c.absolutize(Path::new("/srv/argus"));
        assert_eq!(c.server.data_dir, Path::new("/srv/argus/argus-data"));
        assert_eq!(c.store.url, "sqlite:///srv/argus/rel/argus.db");
        assert_eq!(c.artifacts.url, "file:///srv/argus/arts");
        assert_eq!(c.tools.dir.as_deref(), Some(Path::new("/srv/argus/tools")));
        assert_eq!(
            c.secrets.rules_dir.as_deref(),
            Some(Path::new("/abs/rules"))
        );
        assert_eq!(c.scan.local_roots, vec![PathBuf::from("/srv/argus/repos")]);
        assert_eq!(
            c.store_backend().unwrap(),
            StoreBackend::Sqlite("/srv/argus/rel/argus.db".into())
        );
    }

    /// `[scanners.<name>]` tables go to the factory of that name, which refuses unknown keys;
    /// unknown names are refused; the top-level sections stay where they are.
    #[test]
    #[allow(clippy::result_large_err)]
    fn scanner_tables_are_checked_by_their_factories() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ARGUS_SCANNERS__NOOP__ENABLEDD", "true");
            let err = Config::load(None, serde_json::json!({}))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("scanners.noop") && err.contains("enabledd"),
                "{err}"
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("ARGUS_SCANNERS__BOGUS__X", "1");
            let err = Config::load(None, serde_json::json!({}))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("scanners.bogus") && err.contains("noop"),
                "{err}"
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("ARGUS_SCANNERS__SECRETS__ALLOW_AMBIENT_SSH", "true");
            let err = Config::load(None, serde_json::json!({}))
                .unwrap_err()
                .to_string();
            assert!(err.contains("[secrets]"), "{err}");
            Ok(())
        });
        figment::Jail::expect_with(|_| {
            // Defaults are filled in for every [scanners.<name>] factory, and only those.
            let c = Config::load(None, serde_json::json!({})).map_err(|e| e.to_string())?;
            let mut want = vec![
                "clamav",
                "dns",
                "http",
                "http-scanner",
                "noop",
                "ports",
                "subdomains",
                "tls",
            ];
            if cfg!(feature = "yara") {
                want.push("yara");
            }
            assert_eq!(
                c.scanners.keys().map(String::as_str).collect::<Vec<_>>(),
                want,
                "{:?}",
                c.scanners
            );
            assert_eq!(c.scanners["noop"]["enabled"], serde_json::json!(false));
            Ok(())
        });
    }

    #[test]
    fn stuck_after_parses_durations() {
        use std::time::Duration;
        let d = |s: &str| parse_stuck_duration(s);
        assert_eq!(d("0"), Ok(Duration::ZERO));
        assert_eq!(d("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(d("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(d("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(d(" 2d "), Ok(Duration::from_secs(172_800)));
        for bad in ["", "30", "m", "5x", "1h-", "99999999999999999999s"] {
            assert!(d(bad).is_err(), "{bad}");
        }
        let section = ScanSection {
            stuck_after: "soon".into(),
            ..ScanSection::default()
        };
        let err = section.stuck_after().unwrap_err().to_string();
        assert!(err.contains("scan.stuck_after"), "{err}");
        assert_eq!(
            ScanSection::default().stuck_after().unwrap(),
            argus_engine::stuck::DEFAULT_STUCK_AFTER
        );
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("argus.toml");
        std::fs::write(&file, "[server]\nbindd = \"x\"\n").unwrap();
        // Inside a jail: `load` reads the process environment, which other tests' jails change
        // (figment's jails take one global lock, so they never overlap this one).
        figment::Jail::expect_with(|_| {
            let err = Config::load(Some(&file), serde_json::json!({}))
                .unwrap_err()
                .to_string();
            assert!(err.contains("bindd"), "{err}");
            Ok(())
        });
    }
}
