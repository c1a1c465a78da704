//! The scans service: validation, the scan lifecycle (create, update, start, pause, resume,
//! stop, delete), reads of scans, and a scan's artifacts.
//!
//! Validation happens here, at creation, not at run time: unknown scanners, params that fail a
//! scanner's JSON schema, targets no scanner accepts, targets a scanner accepts by kind but
//! cannot run (`Scanner::check_target`), local paths the server does not allow
//! ([`crate::policy`]), scanners no worker can run, and structural limits all answer
//! `CoreError::Invalid` with a JSON pointer to the failing field.
//!
//! Invariants: every operation is scoped by `who.org` (another org's scan is `NotFound`); a
//! change is published on the bus after its commit; private artifacts (`private/…`, the
//! platform's own files) are never listed or opened, whatever the store holds.

use argus_core::artifact::{ArtifactKey, ArtifactMeta, ArtifactName, ByteStream};
use argus_core::error::{CoreError, Result};
use argus_core::finding::Page;
use argus_core::ids::{Principal, ScanId, TaskId, TemplateId};
use argus_core::scan::{NewScan, Scan, ScanAction, ScanConfig};
use argus_core::store::ScanQuery;
use argus_core::target::Target;
use argus_core::task::Task;

use crate::Engine;

/// A request to create a scan.
#[derive(Clone, Debug)]
pub struct CreateScan {
    pub name: Option<String>,
    pub config: ScanConfig,
    /// The template the scan is made from; it must be one of the caller's org (else `NotFound`).
    pub template_id: Option<TemplateId>,
    /// Start right after creating.
    pub start: bool,
}

/// Overrides when creating a scan from a template.
#[derive(Clone, Debug, Default)]
pub struct FromTemplate {
    pub name: Option<String>,
    /// Replaces the template's targets when given.
    pub targets: Option<Vec<Target>>,
    pub start: bool,
}

/// The scans service (see the module docs); [`Engine::scans`] hands it out.
#[derive(Clone, Copy, Debug)]
pub struct Scans<'e> {
    pub(crate) engine: &'e Engine,
}

const MAX_NAME: usize = 200;

impl Scans<'_> {
    /// Checks a scan config against the registry: scanners exist, params match their schemas,
    /// every target is accepted by at least one scanner, every scanner that accepts a target's
    /// kind can run it, local paths are allowed here, and the initial tasks fit the task limit.
    /// Internal scanners (`git-clean`, `git-push`) are refused: only the remediation service
    /// puts them in a scan, with params it wrote itself.
    pub fn validate_config(&self, config: &ScanConfig) -> Result<()> {
        if let Some(i) = config
            .scanners
            .iter()
            .position(|s| argus_core::remediation::is_internal(&s.name))
        {
            return Err(CoreError::invalid(
                format!("/config/scanners/{i}/name"),
                format!(
                    "scanner '{}' is run by the platform only: use POST /api/v1/scans/{{id}}/clean or /push",
                    config.scanners[i].name
                ),
            ));
        }
        self.validate_any(config)
    }

    /// [`Scans::validate_config`] without the internal-scanner rule (the remediation service).
    pub(crate) fn validate_any(&self, config: &ScanConfig) -> Result<()> {
        config.validate_shape()?;
        if config
            .max_tasks
            .is_some_and(|m| m > self.engine.config().max_tasks)
        {
            return Err(CoreError::invalid(
                "/config/max_tasks",
                format!(
                    "must be at most {} (this server's scan.max_tasks)",
                    self.engine.config().max_tasks
                ),
            ));
        }
        for (i, spec) in config.scanners.iter().enumerate() {
            let scanner = self.engine.registry().get(&spec.name).ok_or_else(|| {
                CoreError::invalid(
                    format!("/config/scanners/{i}/name"),
                    format!(
                        "unknown scanner '{}'; GET /api/v1/scanners lists the available ones",
                        spec.name
                    ),
                )
            })?;
            if !spec.params.is_object() {
                return Err(CoreError::invalid(
                    format!("/config/scanners/{i}/params"),
                    "params must be a JSON object",
                ));
            }
            // Server paths the params name (rule files) are checked before anything reads
            // them, so a refused path is never opened, not even to report that it is bad.
            for (pointer, path) in scanner.local_paths(&spec.params) {
                self.engine.local_access().check_path(&path).map_err(|m| {
                    CoreError::invalid(format!("/config/scanners/{i}/params{pointer}"), m)
                })?;
            }
            scanner.validate_params(&spec.params).map_err(|e| match e {
                CoreError::Invalid { path, message } => CoreError::Invalid {
                    path: format!("/config/scanners/{i}/params{path}"),
                    message,
                },
                other => other,
            })?;
            if config.scanners[..i].iter().any(|s| s.name == spec.name) {
                return Err(CoreError::invalid(
                    format!("/config/scanners/{i}/name"),
                    format!("scanner '{}' is listed twice", spec.name),
                ));
            }
        }
        let mut initial: u64 = 0;
        for (i, target) in config.targets.iter().enumerate() {
            let mut accepted = false;
            for spec in &config.scanners {
                if !self.engine.registry().accepts(&spec.name, target.kind()) {
                    continue;
                }
                accepted = true;
                initial += 1;
                if let Some(scanner) = self.engine.registry().get(&spec.name) {
                    scanner
                        .check_target(target, &spec.params)
                        .map_err(|e| match e {
                            CoreError::Invalid { message, .. } => CoreError::invalid(
                                format!("/config/targets/{i}"),
                                format!(
                                    "scanner '{}' cannot scan this target: {message}",
                                    spec.name
                                ),
                            ),
                            other => other,
                        })?;
                }
            }
            if !accepted {
                return Err(CoreError::invalid(
                    format!("/config/targets/{i}"),
                    format!("no scanner of this scan accepts {} targets", target.kind()),
                ));
            }
            self.engine
                .local_access()
                .check(target)
                .map_err(|m| CoreError::invalid(format!("/config/targets/{i}/value"), m))?;
        }
        let limit = config.max_tasks.unwrap_or(self.engine.config().max_tasks);
        if initial > limit {
            return Err(CoreError::invalid(
                "/config/targets",
                format!("the scan would start {initial} tasks, more than its limit of {limit} (max_tasks)"),
            ));
        }
        Ok(())
    }

    /// Refuses a scan naming a scanner that no worker can run: in embedded mode one the local
    /// registry marks unavailable (a tool whose executable is missing), in a distributed
    /// deployment one that no live worker advertises.
    async fn check_runnable(&self, config: &ScanConfig) -> Result<()> {
        let advertised = match self.engine.config().scanners {
            crate::ScannerSource::Local => None,
            crate::ScannerSource::Advertised => {
                Some(self.engine.store().advertised_scanners().await?)
            }
        };
        for (i, spec) in config.scanners.iter().enumerate() {
            let why = match &advertised {
                None => match self.engine.registry().get(&spec.name) {
                    Some(s) => {
                        let info = s.info();
                        (!info.available).then(|| {
                            format!(
                                "scanner '{}' cannot run on this server: {}",
                                spec.name,
                                info.detail.unwrap_or_else(|| "unavailable".into())
                            )
                        })
                    }
                    None => Some(format!("unknown scanner '{}'", spec.name)),
                },
                Some(names) => (!names.iter().any(|n| n == &spec.name)).then(|| {
                    format!(
                        "no live worker runs scanner '{}' (start `argus worker` processes that can run it)",
                        spec.name
                    )
                }),
            };
            if let Some(message) = why {
                return Err(CoreError::invalid(
                    format!("/config/scanners/{i}/name"),
                    message,
                ));
            }
        }
        Ok(())
    }

    /// The config as it is stored: the server's task limit filled in when the scan set none.
    fn effective(&self, mut config: ScanConfig) -> ScanConfig {
        config.max_tasks = Some(config.max_tasks.unwrap_or(self.engine.config().max_tasks));
        config
    }

    /// Creates a scan (and starts it when asked). A `template_id` that names no template of
    /// the caller's org is `NotFound`, before the config is looked at.
    pub async fn create(&self, who: &Principal, req: CreateScan) -> Result<Scan> {
        if let Some(template_id) = req.template_id {
            self.engine
                .store()
                .get_template(&who.org, template_id)
                .await?;
        }
        self.create_unchecked(who, req).await
    }

    /// [`Scans::create`] for a caller that has already read the template (see
    /// `Templates::scan_from`).
    pub(crate) async fn create_unchecked(&self, who: &Principal, req: CreateScan) -> Result<Scan> {
        self.validate_config(&req.config)?;
        self.insert(who, req, None, ScanId::new()).await
    }

    /// Creates a scan under an id the caller chose (a schedule's slot, see
    /// `argus_core::schedule::slot_scan_id`): a second creation under the same id is
    /// `Conflict`, which makes firing a slot idempotent.
    pub(crate) async fn create_with_id(
        &self,
        who: &Principal,
        req: CreateScan,
        id: ScanId,
    ) -> Result<Scan> {
        self.validate_config(&req.config)?;
        self.insert(who, req, None, id).await
    }

    /// Creates a scan derived from `source` (a clean or push scan) with internal scanners. The
    /// caller checked `source` is the caller's org's and wrote the params; `before_start` runs
    /// between creation and start (the service copies the scan's inputs there), and a failure
    /// in it deletes the new scan again.
    pub(crate) async fn create_derived<F, Fut>(
        &self,
        who: &Principal,
        req: CreateScan,
        source: ScanId,
        before_start: F,
    ) -> Result<Scan>
    where
        F: FnOnce(Scan) -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        self.validate_any(&req.config)?;
        let start = req.start;
        if start {
            self.require_queue().await?;
        }
        let scan = self
            .insert(
                who,
                CreateScan {
                    start: false,
                    ..req
                },
                Some(source),
                ScanId::new(),
            )
            .await?;
        if let Err(e) = before_start(scan.clone()).await {
            let _ = self.engine.store().delete_scan(&who.org, scan.id).await;
            let _ = self.engine.artifacts().delete_scan(scan.id).await;
            return Err(e);
        }
        if start {
            return self.start(who, scan.id).await;
        }
        Ok(scan)
    }

    async fn insert(
        &self,
        who: &Principal,
        req: CreateScan,
        source_scan_id: Option<ScanId>,
        id: ScanId,
    ) -> Result<Scan> {
        self.check_runnable(&req.config).await?;
        let name = checked_name(req.name, &req.config)?;
        if req.start {
            self.require_queue().await?;
            // Refused before anything is created: a 429 leaves no scan behind.
            crate::quota::check_running_scans(self.engine, &who.org).await?;
        }
        let scan = self
            .engine
            .store()
            .create_scan(NewScan {
                id,
                org: who.org.clone(),
                user: who.user.clone(),
                name,
                config: self.effective(req.config),
                template_id: req.template_id,
                source_scan_id,
            })
            .await?;
        // The store appended the `created` event in the insert's transaction; live streams and
        // sinks hear of it now rather than with the scan's next event.
        match self
            .engine
            .store()
            .events_after(&who.org, Some(scan.id), 0, 1)
            .await
        {
            Ok(events) => self.engine.publish(&events),
            Err(e) => tracing::debug!(scan = %scan.id, error = %e, "reading the created event"),
        }
        if req.start {
            return self.start(who, scan.id).await;
        }
        Ok(scan)
    }

    /// One scan of the caller's org.
    pub async fn get(&self, who: &Principal, id: ScanId) -> Result<Scan> {
        self.engine.store().get_scan(&who.org, id).await
    }

    /// The caller's org's scans, newest first, one page at a time.
    pub async fn list(&self, who: &Principal, query: &ScanQuery) -> Result<Page<Scan>> {
        self.engine.store().list_scans(&who.org, query).await
    }

    /// Replaces the name and config of a scan that has not started.
    pub async fn update(
        &self,
        who: &Principal,
        id: ScanId,
        name: Option<String>,
        config: ScanConfig,
    ) -> Result<Scan> {
        self.validate_config(&config)?;
        self.check_runnable(&config).await?;
        let name = checked_name(name, &config)?;
        self.engine
            .store()
            .update_scan(&who.org, id, name, self.effective(config))
            .await
    }

    /// The tasks a scan starts with: every (scanner, target) pair the scanner accepts.
    pub fn plan(&self, scan: &Scan) -> Vec<Task> {
        let registry = self.engine.registry();
        let mut tasks = Vec::new();
        for target in &scan.config.targets {
            for spec in &scan.config.scanners {
                if let Some(scanner) = registry
                    .get(&spec.name)
                    .filter(|_| registry.accepts(&spec.name, target.kind()))
                {
                    tasks.push(Task {
                        id: TaskId::new(),
                        scan_id: scan.id,
                        org_id: scan.org_id.clone(),
                        scanner: spec.name.clone(),
                        target: target.clone(),
                        depth: 0,
                        priority: scan.config.priority,
                        max_attempts: scan.config.max_attempts,
                        params: None,
                        enumerates: scanner.enumerates(&spec.params),
                    });
                }
            }
        }
        tasks
    }

    /// What a scan with `config` (or the caller's template `template_id` with `targets`) would
    /// run, validated as at creation and without creating anything: the first wave of tasks
    /// and the chaining graph that may follow.
    pub async fn preview(
        &self,
        who: &Principal,
        config: Option<ScanConfig>,
        template_id: Option<TemplateId>,
        targets: Option<Vec<Target>>,
    ) -> Result<argus_core::chain::ScanPlan> {
        let mut config = match (config, template_id) {
            (Some(c), None) => c,
            (None, Some(id)) => self.engine.store().get_template(&who.org, id).await?.config,
            _ => {
                return Err(CoreError::invalid(
                    "/config",
                    "give either a config or a template_id (with optional targets)",
                ))
            }
        };
        if let Some(t) = targets {
            config.targets = t;
        }
        self.validate_config(&config)?;
        self.check_runnable(&config).await?;
        let config = self.effective(config);
        let registry = self.engine.registry();
        let mut tasks = Vec::new();
        for target in &config.targets {
            for spec in &config.scanners {
                if registry.accepts(&spec.name, target.kind()) {
                    tasks.push(argus_core::chain::PlannedTask {
                        scanner: spec.name.clone(),
                        target: target.clone(),
                        params: spec.params.clone(),
                    });
                }
            }
        }
        let names: Vec<&str> = config.scanners.iter().map(|s| s.name.as_str()).collect();
        let chain = if config.recursion_depth == 0 {
            Vec::new()
        } else {
            self.engine
                .config()
                .chain_rules
                .graph(
                    &names,
                    |s| registry.get(s).map(|s| s.emits()).unwrap_or_default(),
                    |s, k| registry.accepts(s, k),
                )
                .into_iter()
                .map(|(from, on, to)| argus_core::chain::PlanEdge { from, on, to })
                .collect()
        };
        let (mode, allow) = config.scope.effective_allow(&config.targets);
        Ok(argus_core::chain::ScanPlan {
            tasks,
            chain,
            recursion_depth: config.recursion_depth,
            scope: argus_core::chain::PlannedScope {
                mode: mode.to_owned(),
                allow,
                deny: config.scope.deny.clone(),
            },
            max_tasks: config.max_tasks.unwrap_or(self.engine.config().max_tasks),
        })
    }

    /// `created → queued`: plans the initial tasks and hands them to the relay.
    pub async fn start(&self, who: &Principal, id: ScanId) -> Result<Scan> {
        let store = self.engine.store();
        let scan = store.get_scan(&who.org, id).await?;
        scan.state.apply(ScanAction::Start)?;
        self.require_queue().await?;
        crate::quota::check_running_scans(self.engine, &who.org).await?;
        if let Some(traceparent) = crate::trace::current() {
            // Before the tasks exist, so every worker that claims one finds it on the scan.
            if let Err(e) = store.set_scan_trace(&who.org, id, &traceparent).await {
                tracing::debug!(scan = %id, error = %e, "could not keep the scan's trace context");
            }
        }
        let tasks = self.plan(&scan);
        let t = store.start_scan(&who.org, id, tasks).await?;
        self.engine.publish(&t.events);
        self.engine.wake_relay();
        Ok(t.scan)
    }

    /// Start, pause, resume, stop or force stop (see `ScanStore::apply_action`).
    pub async fn act(&self, who: &Principal, id: ScanId, action: ScanAction) -> Result<Scan> {
        match action {
            ScanAction::Start => return self.start(who, id).await,
            ScanAction::Resume => {
                // Fail fast with the state conflict before reporting a queue outage.
                let scan = self.engine.store().get_scan(&who.org, id).await?;
                scan.state.apply(action)?;
                self.require_queue().await?;
            }
            ScanAction::Pause | ScanAction::Stop | ScanAction::ForceStop => {}
        }
        let t = self
            .engine
            .store()
            .apply_action(&who.org, id, action)
            .await?;
        self.engine.publish(&t.events);
        // Stop: running tasks see the state event and are cancelled; queued ones are dropped
        // when claimed, and the janitor clears the rest in bounded batches (see `monitor`).
        if action == ScanAction::Resume {
            self.engine.wake_relay();
        }
        Ok(t.scan)
    }

    /// Deletes a finished (or never started) scan and its artifacts.
    pub async fn delete(&self, who: &Principal, id: ScanId) -> Result<()> {
        let store = self.engine.store();
        let scan = store.get_scan(&who.org, id).await?;
        if !scan.state.can_delete() {
            return Err(CoreError::Conflict {
                message: format!("cannot delete a scan that is {}; stop it first", scan.state),
                state: Some(scan.state),
            });
        }
        store.delete_scan(&who.org, id).await?;
        self.engine.artifacts().delete_scan(id).await
    }

    /// A scan's artifacts, by name; `NotFound` when the scan is not one of the caller's org
    /// (the store's scoped list answers that, no separate read of the scan).
    pub async fn artifacts(&self, who: &Principal, id: ScanId) -> Result<Vec<ArtifactMeta>> {
        let mut items = self.engine.store().list_artifacts(&who.org, id).await?;
        // Private files are never recorded; should a record exist anyway, it is still not listed.
        items.retain(|a| !a.name.is_private());
        Ok(items)
    }

    /// One artifact's metadata and bytes. A private name is `NotFound` whatever the store
    /// says (indistinguishable from a missing artifact), and the org-scoped metadata is read
    /// before any bytes, so another org's artifact is `NotFound` too.
    pub async fn artifact(
        &self,
        who: &Principal,
        id: ScanId,
        name: ArtifactName,
    ) -> Result<(ArtifactMeta, ByteStream)> {
        if name.is_private() {
            return Err(CoreError::not_found("artifact", name.as_str()));
        }
        let meta = self
            .engine
            .store()
            .get_artifact(&who.org, id, name.as_str())
            .await?;
        let bytes = self
            .engine
            .artifacts()
            .get(&ArtifactKey { scan_id: id, name })
            .await?;
        Ok((meta, bytes))
    }

    /// Refuses operations that enqueue while the queue is unreachable (503 at the API).
    async fn require_queue(&self) -> Result<()> {
        self.engine.queue().ping().await.map_err(|e| match e {
            e @ CoreError::Unavailable { .. } => e,
            other => CoreError::Unavailable {
                what: "queue",
                message: other.to_string(),
            },
        })
    }
}

/// The name a scan is stored under: the given one (see [`given_name`]), or one derived from
/// its scanners and first target, cut to [`MAX_NAME`] characters (a derived name is ours to
/// shorten; a given one is never cut silently).
fn checked_name(name: Option<String>, config: &ScanConfig) -> Result<String> {
    match name {
        Some(name) => given_name(&name),
        None => {
            let scanners: Vec<&str> = config.scanners.iter().map(|s| s.name.as_str()).collect();
            let derived = format!(
                "{} on {}",
                scanners.join("+"),
                config.targets.first().map(|t| t.value()).unwrap_or("")
            );
            Ok(derived.trim().chars().take(MAX_NAME).collect())
        }
    }
}

/// A name as a client gave it: at most [`MAX_NAME`] characters (Unicode scalar values, counted
/// before trimming) with at least one that is not whitespace; stored trimmed. Over-long or blank
/// names are 422 at `/name` — the API's schema states the same rule (`maxLength` and a pattern
/// requiring a non-whitespace character), so what the schema allows the server accepts.
pub(crate) fn given_name(name: &str) -> Result<String> {
    let len = name.chars().count();
    if len > MAX_NAME {
        return Err(CoreError::invalid(
            "/name",
            format!("must be at most {MAX_NAME} characters (got {len})"),
        ));
    }
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(CoreError::invalid(
            "/name",
            "must contain a character that is not whitespace",
        ));
    }
    Ok(trimmed.to_owned())
}
