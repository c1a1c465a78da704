//! One shape for every pluggable component: a [`Factory`] with a name, a typed config and a
//! `build` that receives the [`Doors`]; each crate lists its factories in one `catalog.rs`, and
//! the binary assembles those lists into a [`Catalog`].
//!
//! Scanners are the first kind ([`ScannerCatalog`], building `dyn Scanner`); connectors, sinks
//! and actions (issues #12, #15) are further kinds of the same shape: a factory whose
//! [`Factory::Built`] is `dyn Connector` (or `dyn Sink`, `dyn Action`) and a `Catalog` of them,
//! configured from `[connectors.<name>]` (`[sinks.<name>]`, …) tables.
//!
//! How a config table travels: the binary reads `[scanners.<name>]` as an untyped table and
//! passes it through untouched; only the factory knows its type ([`Factory::Config`]). The
//! erased side ([`AnyFactory`], implemented for every `Factory`) parses the table, so the binary
//! never names a component's config type:
//! - [`Catalog::effective`] parses every table (absent: the default config), makes its paths
//!   absolute and serializes it back: what `argus config show` prints, and where an unknown key
//!   or an unknown component name is refused at start-up;
//! - [`Catalog::build`] parses again and builds every component in catalog order.
//!
//! Invariants:
//! - a component reaches outside the process only through its doors (processes, HTTP, the
//!   artifact store, the environment, the connector registry); see [`crate::door`];
//! - a config table that does not parse is an error naming `<section>.<name>` and the problem,
//!   never a silently default component;
//! - a catalog holds each name once.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::artifact::ArtifactStore;
use crate::connector::{Connector, ConnectorError, ConnectorOpener};
use crate::door::{EnvDoor, FixedEnv, HttpDoor, NoHttp, ProcessDoor};
use crate::scanner::{Scanner, ScannerRegistry};

/// Why a component could not be configured or built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Its config table is malformed: `what` is `<section>.<name>` (or a key inside it).
    #[error("{what}: {message}")]
    Config { what: String, message: String },
    /// A door it needs is not open in this process (no artifact store when only listing).
    #[error("{component}: the {door} door is not available here")]
    NoDoor {
        component: String,
        door: &'static str,
    },
    /// Building failed (a rule file that does not compile, a missing credential variable).
    #[error("{0}")]
    Failed(String),
}

impl BuildError {
    /// A config error for `what` (`scanners.noop`, `secrets.credentials.gh`).
    pub fn config(what: impl Into<String>, message: impl fmt::Display) -> Self {
        BuildError::Config {
            what: what.into(),
            message: message.to_string(),
        }
    }
}

/// A component's typed configuration: its `[<section>.<name>]` table.
///
/// `Default` is the config when the table is absent; refuse unknown keys with
/// `#[serde(deny_unknown_fields)]` so a typo is an error, as everywhere in the config.
pub trait ComponentConfig: DeserializeOwned + Serialize + Default + Send + 'static {
    /// Makes configured paths absolute against `cwd`, once, at start-up (a relative path would
    /// otherwise resolve against whatever folder a child process runs in).
    fn absolutize(&mut self, cwd: &Path) {
        let _ = cwd;
    }
}

/// The storage connectors a component may open: one [`ConnectorOpener`] per URL scheme
/// (`file`, `s3`, `az`, `gs`, `sharepoint`), built by the binary from the `[connectors]`
/// config (named credentials, whether the server's own identity may be used) and handed to
/// factories in [`Doors`].
///
/// Opened connectors are kept (a bounded map keyed by location and credential), so a worker
/// running one task per object builds each cloud client once, not once per object.
#[derive(Default)]
pub struct ConnectorRegistry {
    openers: BTreeMap<String, Arc<dyn ConnectorOpener>>,
    opened: std::sync::Mutex<BTreeMap<OpenedKey, Arc<dyn Connector>>>,
}

/// An opened connector's key: its location URL and credential name.
type OpenedKey = (String, Option<String>);

impl fmt::Debug for ConnectorRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.openers.keys()).finish()
    }
}

/// How many opened connectors a registry keeps before it starts over.
const OPENED_KEPT: usize = 256;

impl ConnectorRegistry {
    /// A registry with no connector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves every scheme `opener` declares (a later opener for a scheme replaces an earlier).
    pub fn add(&mut self, opener: Arc<dyn ConnectorOpener>) {
        for scheme in opener.schemes() {
            self.openers.insert((*scheme).to_owned(), opener.clone());
        }
    }

    /// The schemes served, sorted.
    pub fn schemes(&self) -> Vec<String> {
        self.openers.keys().cloned().collect()
    }

    fn opener(&self, location: &url::Url) -> Result<&Arc<dyn ConnectorOpener>, ConnectorError> {
        self.openers.get(location.scheme()).ok_or_else(|| {
            ConnectorError::Invalid(format!(
                "no connector for {}:// locations on this server (available: {})",
                location.scheme(),
                self.schemes().join(", ")
            ))
        })
    }

    /// Checks without I/O that `location` could be opened with `credential` (a known scheme, a
    /// well-formed URL, a configured credential usable for it): a scan creation's 422.
    pub fn check(
        &self,
        location: &url::Url,
        credential: Option<&str>,
    ) -> Result<(), ConnectorError> {
        self.opener(location)?.check(location, credential)
    }

    /// The connector for `location` with `credential`, opened once and then shared.
    pub fn open(
        &self,
        location: &url::Url,
        credential: Option<&str>,
    ) -> Result<Arc<dyn Connector>, ConnectorError> {
        let key = (location.to_string(), credential.map(str::to_owned));
        if let Some(c) = self.opened.lock().map_err(poisoned)?.get(&key) {
            return Ok(c.clone());
        }
        let opener = self.opener(location)?;
        opener.check(location, credential)?;
        let connector = opener.open(location, credential)?;
        let mut opened = self.opened.lock().map_err(poisoned)?;
        if opened.len() >= OPENED_KEPT {
            opened.clear();
        }
        Ok(opened.entry(key).or_insert(connector).clone())
    }
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> ConnectorError {
    ConnectorError::Backend("connector registry lock poisoned".into())
}

/// What a factory may use to reach outside the process: handed to [`Factory::build`].
#[derive(Clone)]
pub struct Doors {
    processes: Arc<dyn ProcessDoor>,
    http: Arc<dyn HttpDoor>,
    env: Arc<dyn EnvDoor>,
    artifacts: Option<Arc<dyn ArtifactStore>>,
    connectors: Arc<ConnectorRegistry>,
}

impl fmt::Debug for Doors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Doors")
            .field("processes", &self.processes)
            .field("http", &self.http)
            .field("env", &self.env)
            .field(
                "artifacts",
                &self.artifacts.as_ref().map(|a| a.backend().to_owned()),
            )
            .field("connectors", &self.connectors)
            .finish()
    }
}

impl Doors {
    /// Doors with the given process door, no HTTP client, an empty environment, no artifact
    /// store and no connectors; open the others with the `with_*` methods.
    pub fn new(processes: Arc<dyn ProcessDoor>) -> Self {
        Doors {
            processes,
            http: Arc::new(NoHttp),
            env: Arc::new(FixedEnv::default()),
            artifacts: None,
            connectors: Arc::new(ConnectorRegistry::new()),
        }
    }

    /// Opens the HTTP client door.
    pub fn with_http(mut self, http: Arc<dyn HttpDoor>) -> Self {
        self.http = http;
        self
    }

    /// Opens the environment door.
    pub fn with_env(mut self, env: Arc<dyn EnvDoor>) -> Self {
        self.env = env;
        self
    }

    /// Opens the artifact store.
    pub fn with_artifacts(mut self, artifacts: Arc<dyn ArtifactStore>) -> Self {
        self.artifacts = Some(artifacts);
        self
    }

    /// Sets the connector registry.
    pub fn with_connectors(mut self, connectors: Arc<ConnectorRegistry>) -> Self {
        self.connectors = connectors;
        self
    }

    /// The process door (the only way to start a process).
    pub fn processes(&self) -> &Arc<dyn ProcessDoor> {
        &self.processes
    }

    /// The shared HTTP client as the type `component` was written against (`reqwest::Client`),
    /// cloned (clones share one pool). An error when this process has no such client.
    pub fn http_client<C: Any + Clone>(&self, component: &str) -> Result<C, BuildError> {
        self.http
            .client()
            .downcast_ref::<C>()
            .cloned()
            .ok_or_else(|| BuildError::NoDoor {
                component: component.to_owned(),
                door: "HTTP client",
            })
    }

    /// The environment door.
    pub fn env(&self) -> &Arc<dyn EnvDoor> {
        &self.env
    }

    /// The artifact store; an error when this process opened none (`argus scanners` lists
    /// scanners without opening backends).
    pub fn artifacts(&self, component: &str) -> Result<&Arc<dyn ArtifactStore>, BuildError> {
        self.artifacts.as_ref().ok_or_else(|| BuildError::NoDoor {
            component: component.to_owned(),
            door: "artifact store",
        })
    }

    /// The connector registry (empty until issue #12).
    pub fn connectors(&self) -> &Arc<ConnectorRegistry> {
        &self.connectors
    }
}

/// A component factory: one registration line in a crate's `catalog.rs`.
pub trait Factory: Send + Sync + 'static {
    /// What it builds: `dyn Scanner` (later `dyn Connector`, `dyn Sink`, `dyn Action`).
    type Built: ?Sized + Send + Sync + 'static;
    /// Its `[<section>.<name>]` table, typed.
    type Config: ComponentConfig;

    /// Catalog name (the `<name>` of its config table).
    fn name(&self) -> &'static str;

    /// Builds the component(s) from a parsed config. A factory may build none (a component
    /// switched off by its config, like `noop`) or several (one per tool file).
    fn build(
        &self,
        config: Self::Config,
        doors: &Doors,
    ) -> Result<Vec<Arc<Self::Built>>, BuildError>;
}

/// A [`Factory`] with its config type erased: takes the raw table. Implemented for every
/// factory; this is what a [`Catalog`] holds.
pub trait AnyFactory<B: ?Sized>: Send + Sync {
    /// Catalog name.
    fn name(&self) -> &'static str;

    /// The table parsed (absent: the default config), with paths made absolute against `cwd`,
    /// serialized back without unset values: the effective config.
    fn effective(&self, what: &str, raw: Option<&Value>, cwd: &Path) -> Result<Value, BuildError>;

    /// Parses the table and builds.
    fn build_raw(
        &self,
        what: &str,
        raw: Option<&Value>,
        doors: &Doors,
    ) -> Result<Vec<Arc<B>>, BuildError>;
}

fn parse<C: ComponentConfig>(what: &str, raw: Option<&Value>) -> Result<C, BuildError> {
    match raw {
        None | Some(Value::Null) => Ok(C::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| BuildError::config(what, e)),
    }
}

/// `v` without `null`s (unset options), which a TOML rendering cannot show.
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

impl<F: Factory> AnyFactory<F::Built> for F {
    fn name(&self) -> &'static str {
        Factory::name(self)
    }

    fn effective(&self, what: &str, raw: Option<&Value>, cwd: &Path) -> Result<Value, BuildError> {
        let mut config: F::Config = parse(what, raw)?;
        config.absolutize(cwd);
        serde_json::to_value(&config)
            .map(without_nulls)
            .map_err(|e| BuildError::config(what, e))
    }

    fn build_raw(
        &self,
        what: &str,
        raw: Option<&Value>,
        doors: &Doors,
    ) -> Result<Vec<Arc<F::Built>>, BuildError> {
        let config: F::Config = parse(what, raw)?;
        self.build(config, doors)
    }
}

/// Every factory of one kind, in registration order, configured from one config section
/// (`scanners`).
pub struct Catalog<B: ?Sized + 'static> {
    section: &'static str,
    factories: Vec<Box<dyn AnyFactory<B>>>,
}

impl<B: ?Sized + 'static> fmt::Debug for Catalog<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("section", &self.section)
            .field("factories", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

impl<B: ?Sized + 'static> Catalog<B> {
    /// An empty catalog whose tables live under `[<section>.<name>]`.
    pub fn new(section: &'static str) -> Self {
        Catalog {
            section,
            factories: Vec::new(),
        }
    }

    /// The config section (`scanners`).
    pub fn section(&self) -> &'static str {
        self.section
    }

    /// Adds a factory (one line of a `catalog.rs`).
    ///
    /// # Panics
    /// When the name is already taken: two components under one name is a programming error
    /// that every test run would show.
    pub fn add<F: Factory<Built = B>>(&mut self, factory: F) -> &mut Self {
        let name = Factory::name(&factory);
        assert!(
            self.get(name).is_none(),
            "{} '{name}' is registered twice",
            self.section
        );
        self.factories.push(Box::new(factory));
        self
    }

    /// Factory names in registration order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.factories.iter().map(|f| f.name())
    }

    /// A factory by name.
    pub fn get(&self, name: &str) -> Option<&dyn AnyFactory<B>> {
        self.factories
            .iter()
            .find(|f| f.name() == name)
            .map(|f| &**f)
    }

    fn check_names(&self, tables: &BTreeMap<String, Value>) -> Result<(), BuildError> {
        for name in tables.keys() {
            if self.get(name).is_none() {
                return Err(BuildError::config(
                    format!("{}.{name}", self.section),
                    format!(
                        "unknown {} (known: {})",
                        self.section.trim_end_matches('s'),
                        self.names().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every factory's effective config table (see [`AnyFactory::effective`]); an unknown
    /// name or a malformed table is an error.
    pub fn effective(
        &self,
        tables: &BTreeMap<String, Value>,
        cwd: &Path,
    ) -> Result<BTreeMap<String, Value>, BuildError> {
        self.check_names(tables)?;
        self.factories
            .iter()
            .map(|f| {
                let what = format!("{}.{}", self.section, f.name());
                Ok((
                    f.name().to_owned(),
                    f.effective(&what, tables.get(f.name()), cwd)?,
                ))
            })
            .collect()
    }

    /// Builds every factory's components, in registration order.
    pub fn build(
        &self,
        tables: &BTreeMap<String, Value>,
        doors: &Doors,
    ) -> Result<Vec<Arc<B>>, BuildError> {
        self.check_names(tables)?;
        let mut out = Vec::new();
        for f in &self.factories {
            let what = format!("{}.{}", self.section, f.name());
            out.extend(f.build_raw(&what, tables.get(f.name()), doors)?);
        }
        Ok(out)
    }
}

/// The scanner factories; tables under `[scanners.<name>]`.
pub type ScannerCatalog = Catalog<dyn Scanner>;

/// A scanner factory.
pub trait ScannerFactory: Factory<Built = dyn Scanner> {}
impl<F: Factory<Built = dyn Scanner>> ScannerFactory for F {}

impl ScannerCatalog {
    /// The empty scanner catalog.
    pub fn scanners() -> Self {
        Catalog::new("scanners")
    }

    /// Builds every scanner into a registry. A later scanner replaces an earlier one of the
    /// same registry name (a user tool file replaces the built-in tool it names).
    pub fn registry(
        &self,
        tables: &BTreeMap<String, Value>,
        doors: &Doors,
    ) -> Result<ScannerRegistry, BuildError> {
        let mut reg = ScannerRegistry::new();
        for s in self.build(tables, doors)? {
            reg.register(s);
        }
        Ok(reg)
    }
}
