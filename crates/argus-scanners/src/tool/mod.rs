//! `tool:<name>`: external tools declared in TOML files.
//!
//! A [`ToolScanner`] is built from a [`ToolDef`] that has been checked completely (placeholders,
//! field paths, artifact names, the params schema), so everything that can go wrong at run time
//! is about the tool itself: a missing executable, a non-zero exit, a timeout, malformed output.
//! Each of these fails the task with a message naming it and leaves the rest of the scan alone.
//!
//! Invariants:
//! - the tool runs through the process door only ([`crate::process::run`] unless a factory hands
//!   in its own door): no shell, cleaned environment, its own process group killed on
//!   cancel/timeout, output capped;
//! - every `argv` entry becomes exactly one argument; a substituted target or string param that
//!   would stand alone as an argument starting with `-` is refused (it would be read as an option);
//! - a mapped secret is reduced to a [`SecretDigest`] and removed from the finding's data;
//! - stdout and stderr are always kept as artifacts (capped), also when the tool failed;
//! - a `runner = "container"` tool runs as `podman`/`docker run` started by that same door, and
//!   its container never outlives the task ([`container`]).

pub mod container;
mod def;
pub mod examples;
mod factory;
mod output;
pub mod template;

pub use def::{
    ArgEntry, ArgGroup, ExampleFinding, ExampleTarget, FindingDef, LocationDef, NetworkMode,
    OutputDef, OutputFormat, Runner, TargetDef, ToolDef, ToolExample,
};
pub use factory::{ToolsConfig, ToolsFactory, TOOLS};

use argus_core::artifact::ArtifactName;
use argus_core::finding::{fingerprint, Location, NewFinding, SecretDigest, Severity};
use argus_core::scanner::{Emission, ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::process::{self, ProcessError, ProcessSpec};
use argus_core::door::SharedProcessDoor;
use container::{ContainerCli, ContainerConf, ContainerGuard};
use output::{RecordsPath, Source};
use template::{canonical_json, truthy, value_text, FieldPath, Part, Record, Template};

/// Whether a `repo`/`location`/`object` target names something on the network (a URL other
/// than `file://`, or git's `user@host:path`) rather than a local path.
fn names_network_location(target: &Target) -> bool {
    if !matches!(
        target.kind(),
        TargetKind::Repo | TargetKind::Location | TargetKind::Object
    ) {
        return false;
    }
    let v = target.value();
    match url::Url::parse(v) {
        // A one-letter scheme is a Windows drive letter.
        Ok(u) => u.scheme() != "file" && u.scheme().len() > 1,
        Err(_) => v
            .split_once(':')
            .is_some_and(|(head, _)| head.contains('@') && !head.contains('/')),
    }
}

/// A scanner backed by an external tool.
#[derive(Clone)]
pub struct ToolScanner {
    inner: Arc<Compiled>,
    /// The process door the tool runs through ([`process::door`] unless the factory hands in
    /// its own from [`Doors`](argus_core::component::Doors)).
    door: SharedProcessDoor,
    /// `[tools] container_cli`: the CLI container tools run with (auto-detected when `None`).
    container_cli: Option<String>,
}

impl std::fmt::Debug for ToolScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolScanner")
            .field("name", &self.inner.def.name)
            .finish()
    }
}

struct Compiled {
    def: ToolDef,
    /// The executable as configured, with a relative path made absolute against the tool file
    /// (for a container tool: the command inside the image, as written).
    executable: PathBuf,
    /// `Some` for `runner = "container"`.
    container: Option<ContainerConf>,
    schema: Value,
    validator: jsonschema::Validator,
    defaults: Map<String, Value>,
    argv: Vec<Vec<ArgTemplate>>,
    source: Source,
    records: Option<RecordsPath>,
    finding: Option<FindingMap>,
    targets: Vec<TargetMap>,
    keep_files: Vec<String>,
    which_cache: Mutex<Option<(Instant, Result<PathBuf, String>)>>,
}

/// One argument template plus, for groups, the group's condition.
struct ArgTemplate {
    tpl: Template,
    /// `Some(Some(p))`: the group's `when = "params.p"`; `Some(None)`: a group without `when`;
    /// `None`: a lone argument.
    group_when: Option<Option<String>>,
}

struct FindingMap {
    kind: Template,
    severity: Severity,
    severity_field: Option<FieldPath>,
    title: Template,
    description: Option<Template>,
    path: Option<Template>,
    line: Option<Template>,
    commit: Option<Template>,
    url: Option<Template>,
    fingerprint: Vec<FieldPath>,
    secret_field: Option<FieldPath>,
    drop_fields: Vec<FieldPath>,
    when: Option<FieldPath>,
}

struct TargetMap {
    kind: TargetKind,
    value: Template,
    when: Option<FieldPath>,
}

/// What an `argv` placeholder refers to.
enum Placeholder<'a> {
    Target,
    TargetKind,
    TargetHost,
    WorkDir,
    Param(&'a str),
}

fn placeholder(f: &FieldPath) -> Result<Placeholder<'_>, String> {
    let segs = f.segments();
    if f.up() == 0 {
        match segs {
            [a] if a == "target" => return Ok(Placeholder::Target),
            [a, b] if a == "target" && b == "kind" => return Ok(Placeholder::TargetKind),
            [a, b] if a == "target" && b == "host" => return Ok(Placeholder::TargetHost),
            [a] if a == "work_dir" => return Ok(Placeholder::WorkDir),
            [a, b] if a == "params" => return Ok(Placeholder::Param(b)),
            _ => {}
        }
    }
    Err(format!(
        "unknown placeholder '{{{}}}' (use {{target}}, {{target.kind}}, {{target.host}}, {{work_dir}} or {{params.NAME}})",
        f.as_str()
    ))
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn is_valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.as_bytes()[0].is_ascii_digit()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn field(s: &str, what: &str) -> Result<FieldPath, String> {
    FieldPath::parse(s).map_err(|e| format!("{what}: {e}"))
}

fn tpl(s: &str, what: &str) -> Result<Template, String> {
    Template::parse(s).map_err(|e| format!("{what}: {e}"))
}

fn opt_tpl(s: &Option<String>, what: &str) -> Result<Option<Template>, String> {
    s.as_deref().map(|s| tpl(s, what)).transpose()
}

impl ToolScanner {
    /// Checks a definition and builds the scanner. `base_dir` is the folder of the tool file
    /// (relative executable paths are resolved against it); `None` for embedded definitions.
    pub fn new(def: ToolDef, base_dir: Option<&Path>) -> Result<Self, String> {
        if !is_valid_name(&def.name) {
            return Err(format!(
                "name '{}' must be 1-64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
                def.name
            ));
        }
        let container = match def.runner {
            Runner::Container => Some(ContainerConf::from_def(&def)?),
            Runner::Process => {
                if def.image.is_some()
                    || def.cpus.is_some()
                    || def.memory.is_some()
                    || def.network.is_some()
                {
                    return Err(
                        "image, cpus, memory and network only apply to runner = \"container\""
                            .into(),
                    );
                }
                if def.executable.trim().is_empty() {
                    return Err("executable must not be empty".into());
                }
                None
            }
        };
        let exe = PathBuf::from(&def.executable);
        let executable = match base_dir {
            // A container tool's executable is a path inside its image.
            Some(base)
                if container.is_none() && def.executable.contains('/') && exe.is_relative() =>
            {
                base.join(exe)
            }
            _ => exe,
        };
        if def.target_kinds.is_empty() {
            return Err("target_kinds must list at least one kind".into());
        }
        if def.timeout_secs == 0 || def.timeout_secs > 7 * 24 * 3600 {
            return Err("timeout_secs must be between 1 and 604800".into());
        }
        if def.success_exit_codes.is_empty() {
            return Err("success_exit_codes must not be empty".into());
        }
        for k in def.env.keys().chain(def.env_passthrough.iter()) {
            if !is_valid_env_name(k) {
                return Err(format!("environment variable name '{k}' is not valid"));
            }
        }
        for v in def.env.values() {
            if v.contains('\0') {
                return Err("environment values must not contain NUL".into());
            }
        }

        let schema = def.params.clone().unwrap_or_else(
            || serde_json::json!({"type": "object", "additionalProperties": false}),
        );
        let validator = crate::schema::compile(&schema).map_err(|e| format!("params: {e}"))?;
        let declared: Option<HashSet<String>> = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect());
        let additional_allowed = schema.get("additionalProperties") != Some(&Value::Bool(false));
        let param_ok = |p: &str| -> Result<(), String> {
            let known = declared.as_ref().is_some_and(|d| d.contains(p));
            if known || (declared.is_none() && additional_allowed) {
                Ok(())
            } else {
                Err(format!(
                    "argv refers to params.{p}, which the params schema does not declare"
                ))
            }
        };

        let mut argv = Vec::new();
        for (i, entry) in def.argv.iter().enumerate() {
            let (args, group_when) = match entry {
                ArgEntry::Arg(a) => (std::slice::from_ref(a), None),
                ArgEntry::Group(g) => {
                    if g.args.is_empty() {
                        return Err(format!("argv[{i}]: a group needs at least one arg"));
                    }
                    let when = match &g.when {
                        None => None,
                        Some(w) => {
                            let p = w
                                .strip_prefix("params.")
                                .filter(|p| !p.is_empty() && !p.contains('.'));
                            let p = p.ok_or_else(|| {
                                format!("argv[{i}]: when must be \"params.NAME\", got '{w}'")
                            })?;
                            param_ok(p)?;
                            Some(p.to_owned())
                        }
                    };
                    (g.args.as_slice(), Some(when))
                }
            };
            let mut compiled = Vec::new();
            for a in args {
                let t = tpl(a, &format!("argv[{i}]"))?;
                for f in t.fields() {
                    if let Placeholder::Param(p) =
                        placeholder(f).map_err(|e| format!("argv[{i}]: {e}"))?
                    {
                        param_ok(p)?;
                    }
                }
                compiled.push(ArgTemplate {
                    tpl: t,
                    group_when: group_when.clone(),
                });
            }
            argv.push(compiled);
        }

        let out = &def.output;
        let source = Source::parse(&out.source)?;
        let records = match (&out.records, out.format) {
            (Some(r), OutputFormat::Json) => Some(RecordsPath::parse(r)?),
            (Some(_), _) => return Err("output.records only applies to format = \"json\"".into()),
            (None, _) => None,
        };
        let finding = out.finding.as_ref().map(compile_finding).transpose()?;
        let mut targets = Vec::new();
        for t in out.target.iter().chain(out.targets.iter()) {
            targets.push(TargetMap {
                kind: t.kind,
                value: tpl(&t.value, "output.target.value")?,
                when: t
                    .when
                    .as_deref()
                    .map(|w| field(w, "output.target.when"))
                    .transpose()?,
            });
        }
        if finding.is_none() && targets.is_empty() {
            return Err(
                "output needs a [output.finding] mapping, a target mapping, or both".into(),
            );
        }
        for k in &def.keep_files {
            ArtifactName::parse(k).map_err(|_| {
                format!("keep_files: '{k}' must be a relative path of letters, digits, '.', '_' and '-'")
            })?;
        }

        Ok(ToolScanner {
            inner: Arc::new(Compiled {
                defaults: crate::schema::defaults(&schema),
                keep_files: def.keep_files.clone(),
                def,
                executable,
                container,
                schema,
                validator,
                argv,
                source,
                records,
                finding,
                targets,
                which_cache: Mutex::new(None),
            }),
            door: process::door(),
            container_cli: None,
        })
    }

    /// Runs container tools with this CLI (a name on PATH or a path) instead of the first of
    /// `podman`, `docker` found on PATH. No effect on process tools.
    pub fn with_container_cli(mut self, cli: Option<String>) -> Self {
        self.container_cli = cli;
        self
    }

    /// Whether this tool runs in a container.
    pub fn is_container(&self) -> bool {
        self.inner.container.is_some()
    }

    /// Runs the tool through `door` instead of the default process door.
    pub fn with_process_door(mut self, door: SharedProcessDoor) -> Self {
        self.door = door;
        self
    }

    /// The definition this scanner was built from.
    pub fn def(&self) -> &ToolDef {
        &self.inner.def
    }

    /// Registry name, `tool:<name>`.
    pub fn registry_name(&self) -> String {
        format!("tool:{}", self.inner.def.name)
    }

    /// The program Argus starts for this tool, resolved on PATH (or checked, for paths): the
    /// executable, or for a container tool the container CLI. `None` when missing.
    pub fn resolve_executable(&self) -> Option<PathBuf> {
        self.resolve_program().ok()
    }

    /// [`Self::resolve_executable`] with the reason when missing.
    fn resolve_program(&self) -> Result<PathBuf, String> {
        let c = &self.inner;
        if c.container.is_some() {
            return ContainerCli::resolve(&self.door, self.container_cli.as_deref())
                .map(|cli| cli.program);
        }
        self.door
            .which(&c.executable)
            .ok_or_else(|| format!("executable '{}' not found on PATH", c.executable.display()))
    }

    /// [`Self::resolve_executable`], remembered for a few seconds: `info()` is called on hot
    /// paths (the engine asks every scanner's target kinds for each chained target), and a PATH
    /// search is a dozen `stat` calls. Short enough that installing a tool shows up promptly.
    fn cached_executable(&self) -> Result<PathBuf, String> {
        const FRESH_FOR: Duration = Duration::from_secs(5);
        let mut cache = match self.inner.which_cache.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((at, found)) = cache.as_ref() {
            if at.elapsed() < FRESH_FOR {
                return found.clone();
            }
        }
        let found = self.resolve_program();
        *cache = Some((Instant::now(), found.clone()));
        found
    }

    /// The arguments the tool would get for `target` with `params` (over the schema defaults)
    /// and `work_dir`. Exposed for tests and `argus scan --dry-run`-style tooling.
    pub fn build_argv(
        &self,
        target: &Target,
        params: &Value,
        work_dir: &Path,
    ) -> Result<Vec<OsString>, String> {
        let params = crate::schema::with_defaults(&self.inner.defaults, params)?;
        let mut out = Vec::new();
        for entry in &self.inner.argv {
            let Some(first) = entry.first() else { continue };
            match &first.group_when {
                // A lone argument: dropped when a param it refers to is absent.
                None => {
                    if let Some(arg) = render_arg(&first.tpl, target, &params, work_dir)? {
                        out.push(arg);
                    }
                }
                // A group: all or nothing.
                Some(when) => {
                    let keep = match when {
                        Some(p) => truthy(params.get(p)),
                        None => true,
                    };
                    if !keep {
                        continue;
                    }
                    let mut rendered = Vec::with_capacity(entry.len());
                    for a in entry {
                        match render_arg(&a.tpl, target, &params, work_dir)? {
                            Some(arg) => rendered.push(arg),
                            None => {
                                rendered.clear();
                                break;
                            }
                        }
                    }
                    out.extend(rendered);
                }
            }
        }
        Ok(out)
    }

    async fn artifact(
        &self,
        ctx: &TaskContext,
        file: &str,
        path: PathBuf,
        content_type: &str,
    ) -> Result<(), ScanError> {
        let name = format!("tools/{}/{}/{}", self.inner.def.name, ctx.task.id, file);
        match ArtifactName::parse(&name) {
            Ok(name) => {
                ctx.emit
                    .send(Emission::Artifact {
                        name,
                        path,
                        content_type: content_type.to_owned(),
                    })
                    .await
            }
            Err(e) => {
                tracing::warn!(%name, error = %e, "skipping artifact with an invalid name");
                Ok(())
            }
        }
    }

    /// Emits the `keep_files` that exist (also after a failed run: they help diagnose it).
    async fn keep_files(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        for name in &self.inner.keep_files {
            let p = ctx.work_dir.join(name);
            if tokio::fs::metadata(&p).await.is_ok_and(|m| m.is_file()) {
                self.artifact(ctx, name, p, content_type_for(name)).await?;
            }
        }
        Ok(())
    }

    fn map_record(&self, rec: &Record<'_>, target: &Target) -> (Option<NewFinding>, Vec<Target>) {
        let c = &self.inner;
        let finding = c
            .finding
            .as_ref()
            .and_then(|f| map_finding(&c.def.name, f, rec, target));
        let mut targets = Vec::new();
        for t in &c.targets {
            if t.when.as_ref().is_some_and(|w| !truthy(w.resolve(rec))) {
                continue;
            }
            let value = t.value.render(rec);
            if value.trim().is_empty() {
                continue;
            }
            match Target::parse(t.kind, &value) {
                Ok(t) => targets.push(t),
                Err(e) => {
                    tracing::debug!(tool = %c.def.name, %value, error = %e, "skipping unparseable target")
                }
            }
        }
        (finding, targets)
    }
}

fn render_arg(
    t: &Template,
    target: &Target,
    params: &Map<String, Value>,
    work_dir: &Path,
) -> Result<Option<OsString>, String> {
    let mut out = OsString::new();
    for part in t.parts() {
        match part {
            Part::Lit(s) => out.push(s),
            Part::Field(f) => {
                let (text, check_dash) = match placeholder(f)? {
                    Placeholder::Target => (target.value().to_owned(), true),
                    Placeholder::TargetKind => (target.kind().as_str().to_owned(), false),
                    Placeholder::TargetHost => (
                        target.host().unwrap_or_else(|| target.value().to_owned()),
                        true,
                    ),
                    Placeholder::WorkDir => {
                        out.push(work_dir.as_os_str());
                        continue;
                    }
                    Placeholder::Param(p) => match params.get(p) {
                        None | Some(Value::Null) => return Ok(None),
                        Some(v) => (value_text(v, ","), v.is_string()),
                    },
                };
                if check_dash && t.single_field().is_some() && text.starts_with('-') {
                    return Err(format!(
                        "refusing to pass '{text}' for {{{}}}: an argument starting with '-' would be read as an option",
                        f.as_str()
                    ));
                }
                if text.contains('\0') {
                    return Err(format!("value for {{{}}} contains a NUL byte", f.as_str()));
                }
                out.push(text);
            }
        }
    }
    Ok(Some(out))
}

fn compile_finding(f: &FindingDef) -> Result<FindingMap, String> {
    let severity = match &f.severity {
        None => Severity::Info,
        Some(s) => Severity::parse_lenient(s)
            .ok_or_else(|| format!("output.finding.severity: '{s}' is not a severity (info, low, medium, high, critical)"))?,
    };
    let own = |s: &str, what: &str| -> Result<FieldPath, String> {
        let p = field(s, what)?;
        if p.up() != 0 {
            return Err(format!(
                "{what}: '{s}' must name a field of the record itself (no '^')"
            ));
        }
        Ok(p)
    };
    Ok(FindingMap {
        kind: tpl(&f.kind, "output.finding.kind")?,
        severity,
        severity_field: f
            .severity_field
            .as_deref()
            .map(|s| field(s, "output.finding.severity_field"))
            .transpose()?,
        title: tpl(&f.title, "output.finding.title")?,
        description: opt_tpl(&f.description, "output.finding.description")?,
        path: opt_tpl(&f.location.path, "output.finding.location.path")?,
        line: opt_tpl(&f.location.line, "output.finding.location.line")?,
        commit: opt_tpl(&f.location.commit, "output.finding.location.commit")?,
        url: opt_tpl(&f.location.url, "output.finding.location.url")?,
        fingerprint: f
            .fingerprint
            .iter()
            .map(|s| field(s, "output.finding.fingerprint"))
            .collect::<Result<_, _>>()?,
        secret_field: f
            .secret_field
            .as_deref()
            .map(|s| own(s, "output.finding.secret_field"))
            .transpose()?,
        drop_fields: f
            .drop_fields
            .iter()
            .map(|s| own(s, "output.finding.drop_fields"))
            .collect::<Result<_, _>>()?,
        when: f
            .when
            .as_deref()
            .map(|s| field(s, "output.finding.when"))
            .transpose()?,
    })
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn truncate_chars(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_owned(),
        None => s,
    }
}

fn map_finding(
    tool: &str,
    f: &FindingMap,
    rec: &Record<'_>,
    target: &Target,
) -> Option<NewFinding> {
    if f.when.as_ref().is_some_and(|w| !truthy(w.resolve(rec))) {
        return None;
    }
    let kind = truncate_chars(
        non_empty(f.kind.render(rec)).unwrap_or_else(|| tool.to_owned()),
        128,
    );
    let severity = f
        .severity_field
        .as_ref()
        .and_then(|p| p.resolve(rec))
        .and_then(|v| Severity::parse_lenient(&value_text(v, " ")))
        .unwrap_or(f.severity);
    let title = truncate_chars(
        non_empty(f.title.render(rec)).unwrap_or_else(|| kind.clone()),
        1000,
    );
    let render = |t: &Option<Template>| t.as_ref().and_then(|t| non_empty(t.render(rec)));
    let location = Location {
        path: render(&f.path),
        line: render(&f.line).and_then(|l| l.parse::<u64>().ok()),
        commit: render(&f.commit),
        url: render(&f.url),
    };

    let mut data = rec.value.clone();
    let secret = f.secret_field.as_ref().and_then(|p| {
        let s = p.resolve(rec).map(|v| value_text(v, ","));
        p.remove_from(&mut data);
        s.filter(|s| !s.is_empty()).map(|s| SecretDigest::of(&s))
    });
    for p in &f.drop_fields {
        p.remove_from(&mut data);
    }

    let mut parts = vec![format!("tool:{tool}"), kind.clone(), target.key()];
    if f.fingerprint.is_empty() {
        // The whole record, secrets excluded (only their digest counts).
        parts.push(canonical_json(&data));
        if let Some(s) = &secret {
            parts.push(s.sha256.clone());
        }
    } else {
        for p in &f.fingerprint {
            parts.push(
                p.resolve(rec)
                    .map(|v| value_text(v, ","))
                    .unwrap_or_default(),
            );
        }
    }
    let parts_ref: Vec<&str> = parts.iter().map(String::as_str).collect();
    Some(NewFinding {
        kind,
        severity,
        title,
        description: render(&f.description),
        target: target.clone(),
        location,
        fingerprint: fingerprint(&parts_ref),
        data,
        secret,
    })
}

fn content_type_for(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" => "application/json",
        "jsonl" | "ndjson" => "application/x-ndjson",
        "sarif" => "application/sarif+json",
        "xml" => "application/xml",
        "html" | "htm" => "text/html",
        "txt" | "log" | "csv" | "md" => "text/plain",
        _ => "application/octet-stream",
    }
}

fn exit_message(out: &process::ProcessOutput) -> String {
    let head = match (out.status.code(), out.status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => "exited abnormally".to_owned(),
    };
    match out.last_stderr_line() {
        Some(line) => format!("{head}: {}", truncate_chars(line, 300)),
        None => format!("{head} (nothing on stderr)"),
    }
}

#[async_trait]
impl Scanner for ToolScanner {
    fn info(&self) -> ScannerInfo {
        let c = &self.inner;
        let resolved = self.cached_executable();
        let detail = match (&resolved, &c.container) {
            (Ok(p), None) => p.display().to_string(),
            (Ok(p), Some(k)) => format!("container image {} run by {}", k.image, p.display()),
            (Err(e), _) => e.clone(),
        };
        ScannerInfo {
            name: self.registry_name(),
            description: c.def.description.clone(),
            source: "tool".into(),
            target_kinds: c.def.target_kinds.clone(),
            params_schema: c.schema.clone(),
            available: resolved.is_ok(),
            detail: Some(detail),
        }
    }

    fn validate_params(&self, params: &Value) -> Result<(), CoreError> {
        crate::schema::validate_with(&self.inner.validator, params)
    }

    fn emits(&self) -> Vec<TargetKind> {
        let out = &self.inner.def.output;
        let mut kinds: Vec<TargetKind> = Vec::new();
        for t in out.target.iter().chain(&out.targets) {
            if !kinds.contains(&t.kind) {
                kinds.push(t.kind);
            }
        }
        kinds
    }

    fn check_target(&self, target: &Target, _params: &Value) -> Result<(), CoreError> {
        if self.inner.def.local_paths_only && names_network_location(target) {
            return Err(CoreError::invalid(
                "/value",
                format!(
                    "tool:{} reads {} targets from the worker's disk: give a local path, not a URL",
                    self.inner.def.name,
                    target.kind()
                ),
            ));
        }
        Ok(())
    }

    async fn run(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        let c = &self.inner;
        if ctx.cancel.is_cancelled() {
            return Err(ScanError::Cancelled);
        }
        let target = &ctx.task.target;
        if !c.def.target_kinds.contains(&target.kind()) {
            return Err(ScanError::Failed(format!(
                "tool '{}' does not accept {} targets",
                c.def.name,
                target.kind()
            )));
        }
        let program = self.resolve_program().map_err(ScanError::Failed)?;
        // Inside a container the work folder is the mount point.
        let tool_work_dir = match &c.container {
            Some(_) => Path::new(container::WORK_MOUNT),
            None => ctx.work_dir.as_path(),
        };
        let mut args = self
            .build_argv(target, &ctx.params, tool_work_dir)
            .map_err(ScanError::Failed)?;

        let out_dir = ctx.work_dir.join(".argus");
        let stdout_path = out_dir.join("stdout");
        let stderr_path = out_dir.join("stderr");
        let mut env = c.def.env.clone();
        for k in &c.def.env_passthrough {
            if let Ok(v) = std::env::var(k) {
                env.insert(k.clone(), v);
            }
        }
        let mut guard = None;
        if let Some(conf) = &c.container {
            let cli = ContainerCli::new(program.clone());
            let task = ctx.task.id.to_string();
            let name = container::container_name(&task);
            args = conf
                .run_args(&c.def, &task, &ctx.work_dir, args)
                .map_err(ScanError::Failed)?;
            env = container::cli_env(&c.def);
            // A container left by an earlier attempt of this task (a worker that died) would
            // hold the name.
            container::remove(&self.door, &cli, &name, &ctx.cancel).await;
            if ctx.cancel.is_cancelled() {
                return Err(ScanError::Cancelled);
            }
            guard = Some(ContainerGuard::new(self.door.clone(), cli, name));
        }
        let spec = ProcessSpec {
            program,
            args,
            env,
            cwd: Some(ctx.work_dir.clone()),
            timeout: Duration::from_secs(c.def.timeout_secs),
            stdout_cap: c.def.max_stdout_bytes,
            stderr_cap: c.def.max_stderr_bytes,
            stdout_file: Some(stdout_path.clone()),
            stderr_file: Some(stderr_path.clone()),
            stdin: None,
        };
        tracing::debug!(tool = %c.def.name, target = %target, "running tool");
        let result = self.door.run(spec, &ctx.cancel).await;
        if let Some(g) = guard.as_mut() {
            match &result {
                // The CLI exited on its own, so the container did too and `--rm` removed it.
                Ok(out) if out.status.code().is_some() => g.disarm(),
                // Killing the CLI (ours on cancel/timeout, or someone's signal) left the
                // container running.
                _ => g.remove_now().await,
            }
        }

        let stdout_type = match c.def.output.format {
            OutputFormat::Jsonl => "application/x-ndjson",
            OutputFormat::Json => "application/json",
            OutputFormat::Lines => "text/plain",
        };
        let keep_std = |r: &Result<process::ProcessOutput, ProcessError>| {
            matches!(r, Ok(_) | Err(ProcessError::TimedOut { .. }))
        };
        if keep_std(&result) {
            self.artifact(ctx, "stdout.log", stdout_path.clone(), stdout_type)
                .await?;
            self.artifact(ctx, "stderr.log", stderr_path, "text/plain")
                .await?;
        }
        let out = match result {
            Ok(out) => out,
            Err(ProcessError::Cancelled) => return Err(ScanError::Cancelled),
            Err(e @ ProcessError::TimedOut { .. }) => {
                self.keep_files(ctx).await?;
                return Err(ScanError::Failed(e.to_string()));
            }
            Err(e) => return Err(ScanError::Failed(e.to_string())),
        };
        let code_ok = out
            .status
            .code()
            .is_some_and(|code| c.def.success_exit_codes.contains(&code));
        if !code_ok {
            self.keep_files(ctx).await?;
            return Err(ScanError::Failed(exit_message(&out)));
        }

        let (path, truncated, cap) = match &c.source {
            Source::Stdout => (stdout_path, out.stdout_truncated, c.def.max_stdout_bytes),
            Source::File(name) => (ctx.work_dir.join(name), false, u64::MAX),
        };
        let mut seen_findings = HashSet::new();
        let mut seen_targets = HashSet::new();
        let mut sink = |rec: &Record<'_>| -> Vec<Emission> {
            let (finding, targets) = self.map_record(rec, target);
            let mut em = Vec::new();
            if let Some(f) = finding {
                if seen_findings.insert(f.fingerprint.clone()) {
                    em.push(Emission::Finding(f));
                }
            }
            for t in targets {
                if seen_targets.insert(t.key()) {
                    em.push(Emission::Target(t));
                }
            }
            em
        };
        let parsed = output::parse(
            &path,
            &c.source,
            c.def.output.format,
            c.records.as_ref(),
            truncated,
            &ctx.cancel,
            &ctx.emit,
            &mut sink,
        )
        .await;
        // Files the tool wrote are kept even when its output could not be read.
        self.keep_files(ctx).await?;
        let records = parsed?;
        if truncated {
            return Err(ScanError::Failed(format!(
                "stdout exceeded the cap of {cap} bytes ({} written); output truncated after {records} records",
                out.stdout_len
            )));
        }
        Ok(())
    }
}
