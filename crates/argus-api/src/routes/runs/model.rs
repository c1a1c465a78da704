//! The Discovery API's wire shapes (`Run`, the run request, the filter body, the page, the
//! WebSocket messages) and the pure mappings from Argus scans onto them: a run's status from its
//! scan's state ([`run_status`]), a run from a scan ([`run_of`]), a target from what a client
//! wrote ([`guess_target`]).
//!
//! Field names and status values are the Discovery API's (`discovery/db/models.py`: `Run`,
//! `RunStatus`; `discovery/routes/tasks.py`: `TaskRequest`; `discovery/ws/`: the socket's
//! `action`/`data` messages and `success`/`data` answers; see the module docs of `runs`); fields
//! that Argus adds are marked "Argus:" in their docs. Nothing here does I/O, so every rule is
//! unit tested below.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use argus_core::ids::ScanId;
use argus_core::scan::{Scan, ScanState};
use argus_core::target::{RawTarget, Target, TargetKind};

/// The scan label holding the task name the client asked for (`subfinder`), so that `name`
/// answers what was sent even when the scanner is `tool:subfinder`.
pub(crate) const LABEL_TASK: &str = "discovery.task";
/// The scan label holding the client's `owner_id` (a Discovery client's own user id; tenancy is
/// the caller's org, never this).
pub(crate) const LABEL_OWNER: &str = "discovery.owner_id";
/// The scan label holding the client's `parent_id` (another run of the same org).
pub(crate) const LABEL_PARENT: &str = "discovery.parent_id";

/// Parameter keys a Discovery task took its target from (`subfinder`'s `domain`, `httpx`'s
/// `url`, …). When a request names no `target(s)`, the values under these keys become the run's
/// targets and the keys are removed from the parameters (Argus scanners take targets apart from
/// their params, whose schemas do not know these keys).
pub(crate) const TARGET_PARAMS: [&str; 12] = [
    "target", "targets", "domain", "domains", "host", "hosts", "url", "urls", "ip", "ips", "cidr",
    "cidrs",
];

/// A Discovery run status (`RunStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    Pending,
    Running,
    Success,
    Failed,
}

impl RunStatus {
    /// Every status.
    pub const ALL: [RunStatus; 4] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Success,
        RunStatus::Failed,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "PENDING",
            RunStatus::Running => "RUNNING",
            RunStatus::Success => "SUCCESS",
            RunStatus::Failed => "FAILED",
        }
    }

    /// Parses a wire name; lower case is accepted too (query strings are often written so).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

/// The Discovery status of an Argus scan state (see the table in the module docs of `runs`).
pub(crate) fn run_status(state: ScanState) -> RunStatus {
    match state {
        ScanState::Created | ScanState::Queued => RunStatus::Pending,
        ScanState::Running | ScanState::Paused => RunStatus::Running,
        ScanState::Completed => RunStatus::Success,
        ScanState::Failed | ScanState::Cancelled => RunStatus::Failed,
    }
}

/// One entry of `errors` (the Discovery API's `{reason, message}`).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunError {
    /// `failed` or `cancelled` (the scan's state; Discovery put the exception's class here).
    pub reason: String,
    /// Why (the scan's reason: `stopped`, `max_duration`, an error message).
    pub message: String,
}

/// What a run produced so far (Discovery kept the tool's output here; Argus keeps findings,
/// listed by `results_url`).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunResult {
    /// Findings recorded so far.
    pub result_count: u64,
    /// Where they are listed: `/runs/{id}/results`.
    pub results_url: String,
}

/// A run: the Discovery API's `Run`, from an Argus scan.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Run {
    /// The run id: the id of the Argus scan (`/api/v1/scans/{id}`).
    pub id: ScanId,
    /// The task (tool) run: what the client asked for (`subfinder`), else the scanner's name
    /// without its `tool:` prefix.
    pub name: String,
    /// The run this one is a sub-run of, if the client said so.
    pub parent_id: Option<ScanId>,
    /// The `owner_id` the client sent, else the Argus user who created the run.
    pub owner_id: String,
    /// The task's parameters (the scanner's params).
    #[schema(value_type = Object)]
    pub parameters: Value,
    pub status: RunStatus,
    pub result: RunResult,
    /// Always empty: a run's files are the scan's artifacts (`/api/v1/scans/{id}/artifacts`).
    #[schema(value_type = Vec<Object>)]
    pub files: Vec<Value>,
    /// Why the run failed (one entry once it has).
    pub errors: Vec<RunError>,
    pub started_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Argus: the scanner that runs (`tool:subfinder`, `noop`, …).
    pub scanner: String,
    /// Argus: the run's targets.
    pub targets: Vec<RawTarget>,
    /// Argus: 0-100.
    #[schema(minimum = 0, maximum = 100)]
    pub progress: u8,
    /// Argus: the scan's own state (`created` … `cancelled`): `paused` and `cancelled` are
    /// visible here only.
    pub state: ScanState,
}

/// Whether a scan is a run: one scanner, not derived from another scan (clean and push scans are
/// phases of another scan, not runs).
pub(crate) fn is_run(scan: &Scan) -> bool {
    scan.source_scan_id.is_none() && scan.config.scanners.len() == 1
}

/// The task name of a run (see [`Run::name`]).
pub(crate) fn task_of(scan: &Scan) -> String {
    if let Some(t) = scan.config.labels.get(LABEL_TASK) {
        return t.clone();
    }
    let scanner = scan
        .config
        .scanners
        .first()
        .map(|s| s.name.as_str())
        .unwrap_or("");
    scanner.strip_prefix("tool:").unwrap_or(scanner).to_owned()
}

/// The parent run id recorded on a scan.
pub(crate) fn parent_of(scan: &Scan) -> Option<ScanId> {
    scan.config
        .labels
        .get(LABEL_PARENT)
        .and_then(|s| s.parse().ok())
}

/// The owner of a run (see [`Run::owner_id`]).
pub(crate) fn owner_of(scan: &Scan) -> String {
    scan.config
        .labels
        .get(LABEL_OWNER)
        .cloned()
        .unwrap_or_else(|| scan.user_id.to_string())
}

/// 0-100 of a scan.
pub(crate) fn percent(scan: &Scan) -> u8 {
    if scan.state == ScanState::Completed {
        100
    } else {
        // In [0, 1] by `fraction`'s contract; the cast cannot truncate past 100.
        (scan.progress.fraction() * 100.0).floor().clamp(0.0, 100.0) as u8
    }
}

/// The Discovery view of a scan that [`is_run`].
pub(crate) fn run_of(scan: &Scan) -> Run {
    let status = run_status(scan.state);
    let ended = |s: ScanState| (scan.state == s).then_some(scan.finished_at).flatten();
    let errors = match scan.state {
        ScanState::Failed | ScanState::Cancelled => vec![RunError {
            reason: scan.state.to_string(),
            message: scan
                .reason
                .clone()
                .unwrap_or_else(|| format!("the scan {}", scan.state)),
        }],
        _ => Vec::new(),
    };
    let spec = scan.config.scanners.first();
    Run {
        id: scan.id,
        name: task_of(scan),
        parent_id: parent_of(scan),
        owner_id: owner_of(scan),
        parameters: spec
            .map(|s| s.params.clone())
            .unwrap_or_else(|| Value::Object(Map::new())),
        status,
        result: RunResult {
            result_count: scan.progress.findings,
            results_url: format!("/runs/{}/results", scan.id),
        },
        files: Vec::new(),
        errors,
        started_at: scan.started_at,
        failed_at: ended(ScanState::Failed).or(ended(ScanState::Cancelled)),
        completed_at: ended(ScanState::Completed),
        created_at: scan.created_at,
        updated_at: scan.updated_at,
        scanner: spec.map(|s| s.name.clone()).unwrap_or_default(),
        targets: scan
            .config
            .targets
            .iter()
            .cloned()
            .map(RawTarget::from)
            .collect(),
        progress: percent(scan),
        state: scan.state,
    }
}

/// A target as a client writes it: a plain string (its kind guessed from what the scanner
/// accepts) or Argus's `{"kind", "value"}`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum TargetInput {
    /// `example.com`, `https://example.com`, `10.0.0.0/24`, `host:443`, …
    Plain(String),
    /// An Argus target.
    Typed(RawTarget),
}

/// A plain-string target as [`Target::guess`] reads it, or why it is none this task accepts.
pub(crate) fn guess_target(
    value: &str,
    accepts: impl Fn(TargetKind) -> bool,
) -> Result<Target, String> {
    Target::guess(value, &accepts).ok_or_else(|| {
        let kinds: Vec<&str> = TargetKind::GUESS_ORDER
            .iter()
            .filter(|k| accepts(**k))
            .map(|k| k.as_str())
            .collect();
        format!(
            "'{value}' is not a target this task accepts ({}); give it as {{\"kind\", \"value\"}} to say what it is",
            kinds.join(", ")
        )
    })
}

/// `POST /runs` (and the socket's `RUN_TASK` `data`): a Discovery `TaskRequest`. Both
/// generations of the Discovery field names are accepted: the task as `task` (or `id`, `name`,
/// `tool`: exactly one of them), its parameters as `parameters` (or `params`: at most one).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The task (tool) to run: a built-in scanner (`noop`, `secrets`, …) or an external tool by
    /// its name (`subfinder` runs `tool:subfinder`); `GET /api/v1/scanners` lists them.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
    )]
    pub task: Option<String>,
    /// The task, as the later Discovery API named it (its registry id).
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
    )]
    pub id: Option<String>,
    /// The task, as a run names it.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
    )]
    pub name: Option<String>,
    /// The task.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
    )]
    pub tool: Option<String>,
    /// The task's parameters (the scanner's params, checked against its schema). A target may be
    /// given here as Discovery tasks took it (`domain`, `url`, `host`, `ip`, `cidr`, `target`
    /// and their plurals) when `target`/`targets` are absent.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Map<String, Value>>,
    /// The task's parameters, as the first Discovery API named them.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<Map<String, Value>>,
    /// Argus: the target to run on.
    #[serde(default)]
    pub target: Option<TargetInput>,
    /// Argus: targets to run on (with `target`, both count).
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub targets: Option<Vec<TargetInput>>,
    /// The client's own owner id, recorded and answered as `owner_id` (tenancy is the caller's
    /// org whatever this says).
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub owner_id: Option<String>,
    /// Makes this run a sub-run of another run of the org (`QUERY` on the socket returns a run
    /// with its sub-runs).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub parent_id: Option<String>,
}

/// A field of a request (its JSON pointer) and what is wrong with it.
pub(crate) type FieldError = (&'static str, String);

impl RunRequest {
    /// The task and the field it was given in (`/task`, `/id`, `/name`, `/tool`); an error when
    /// none or several were given.
    pub(crate) fn task(&self) -> Result<(&str, &'static str), FieldError> {
        let given: Vec<(&str, &'static str)> = [
            (&self.task, "/task"),
            (&self.id, "/id"),
            (&self.name, "/name"),
            (&self.tool, "/tool"),
        ]
        .into_iter()
        .filter_map(|(v, p)| v.as_deref().map(|v| (v, p)))
        .collect();
        match given.as_slice() {
            [one] => Ok(*one),
            [] => Err((
                "/task",
                "a run needs a task: `task` (or `id`, `name`, `tool`)".into(),
            )),
            [_, (_, second), ..] => Err((
                *second,
                "give the task once: `task`, `id`, `name` and `tool` are the same field".into(),
            )),
        }
    }

    /// The parameters and the field they were given in (`/parameters` or `/params`).
    pub(crate) fn parameters(&self) -> Result<(Map<String, Value>, &'static str), FieldError> {
        match (&self.parameters, &self.params) {
            (Some(_), Some(_)) => Err((
                "/params",
                "give the parameters once: `parameters` and `params` are the same field".into(),
            )),
            (Some(p), None) => Ok((p.clone(), "/parameters")),
            (None, Some(p)) => Ok((p.clone(), "/params")),
            (None, None) => Ok((Map::new(), "/parameters")),
        }
    }
}

/// `POST /runs/filters`: the Discovery API's filterable columns, all optional, all ANDed.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunFilters {
    /// Only runs of this task (`name`).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<RunStatus>,
    #[serde(default)]
    pub owner_id: Option<String>,
    /// Only sub-runs of this run.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub parent_id: Option<String>,
}

impl RunFilters {
    /// Whether `run` passes every filter given.
    pub(crate) fn admits(&self, run: &Run, parent: Option<ScanId>) -> bool {
        self.name.as_ref().is_none_or(|n| *n == run.name)
            && self.status.is_none_or(|s| s == run.status)
            && self.owner_id.as_ref().is_none_or(|o| *o == run.owner_id)
            && self
                .parent_id
                .as_ref()
                .is_none_or(|p| parent.is_some_and(|q| q.to_string() == *p))
    }
}

/// A page of runs: the shape of `fastapi_pagination`'s `Page`, which the Discovery API answered.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RunPage {
    pub items: Vec<Run>,
    /// Runs matching, over all pages.
    pub total: u64,
    /// This page's number, from 1.
    pub page: u64,
    /// Page size.
    pub size: u64,
    /// Number of pages (0 when nothing matches).
    pub pages: u64,
}

impl RunPage {
    /// Page `page` (from 1) of `size` out of every matching run.
    pub(crate) fn of(all: Vec<Run>, page: u64, size: u64) -> RunPage {
        let total = all.len() as u64;
        let skip = (page - 1).saturating_mul(size);
        let items = all
            .into_iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(size).unwrap_or(usize::MAX))
            .collect();
        RunPage {
            items,
            total,
            page,
            size,
            pages: total.div_ceil(size),
        }
    }
}

/// A client message on `/runs/ws` (the Discovery socket's `{action, data}`).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WsAction {
    /// `QUERY` (`data`: `{"id", "owner_id"?}`: the run and its sub-runs) or `RUN_TASK` (`data`:
    /// a run request).
    #[schema(pattern = "^(QUERY|RUN_TASK)$")]
    pub action: String,
    #[schema(value_type = Object)]
    pub data: Value,
}

/// `data` of a `QUERY`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WsQuery {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) owner_id: Option<String>,
}

/// A message the server pushes on `/runs/ws`: `{"event", "data"}`. Events are `RUN_CREATED`
/// (`data`: `id`, `name`, `owner_id`, `parent_id`, `params`), `RUN_STATUS_CHANGED` (`data`:
/// `id`, `name`, `owner_id`, `parent_id`, `status` as `[previous, new]`, `started_at`,
/// `completed_at` or `failed_at`, `error` when failed, `progress`) and, from Argus,
/// `RUN_PROGRESS` (`data`: `id`, `name`, `status`, `progress`, `result_count`). Answers to client
/// actions are `{"success": true, "data"}` or `{"success": false, "message", "error"}`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct WsEvent {
    #[schema(pattern = "^(RUN_CREATED|RUN_STATUS_CHANGED|RUN_PROGRESS)$")]
    pub event: &'static str,
    #[schema(value_type = Object)]
    pub data: Value,
}

/// What a socket remembers of a run to describe its events without reading it again.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RunMeta {
    pub(crate) name: String,
    pub(crate) owner_id: String,
    pub(crate) parent_id: Option<ScanId>,
    pub(crate) params: Value,
    /// The status last seen: the scan's when it was read, then each `state` event's.
    pub(crate) status: RunStatus,
}

impl RunMeta {
    pub(crate) fn of(scan: &Scan) -> RunMeta {
        RunMeta {
            status: run_status(scan.state),
            name: task_of(scan),
            owner_id: owner_of(scan),
            parent_id: parent_of(scan),
            params: scan
                .config
                .scanners
                .first()
                .map(|s| s.params.clone())
                .unwrap_or_else(|| Value::Object(Map::new())),
        }
    }
}

/// The socket messages of a scan's `state` event (none when the Discovery status stays the same,
/// e.g. `running` → `paused`): `RUN_CREATED` when it leaves `created`, then `RUN_STATUS_CHANGED`
/// when the status changes.
pub(crate) fn state_events(
    id: ScanId,
    meta: &RunMeta,
    from: ScanState,
    to: ScanState,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Vec<WsEvent> {
    let mut out = Vec::new();
    if from == ScanState::Created {
        out.push(WsEvent {
            event: "RUN_CREATED",
            data: serde_json::json!({
                "id": id,
                "name": meta.name,
                "owner_id": meta.owner_id,
                "parent_id": meta.parent_id,
                "params": meta.params,
            }),
        });
    }
    let (before, after) = (run_status(from), run_status(to));
    if before != after {
        let mut data = BTreeMap::<&str, Value>::new();
        data.insert("id", serde_json::json!(id));
        data.insert("name", serde_json::json!(meta.name));
        data.insert("owner_id", serde_json::json!(meta.owner_id));
        data.insert("parent_id", serde_json::json!(meta.parent_id));
        data.insert("status", serde_json::json!([before, after]));
        data.insert("state", serde_json::json!(to));
        match after {
            RunStatus::Running => {
                data.insert("started_at", serde_json::json!(at));
            }
            RunStatus::Success => {
                data.insert("completed_at", serde_json::json!(at));
                data.insert("progress", serde_json::json!(100));
            }
            RunStatus::Failed => {
                data.insert("failed_at", serde_json::json!(at));
                data.insert(
                    "error",
                    serde_json::json!(reason.map(str::to_owned).unwrap_or_else(|| to.to_string())),
                );
            }
            RunStatus::Pending => {}
        }
        out.push(WsEvent {
            event: "RUN_STATUS_CHANGED",
            data: serde_json::json!(data),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::scan::{Progress, ScanConfig};

    fn scan(state: ScanState, labels: Value) -> Scan {
        let at = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        Scan {
            id: ScanId::new(),
            org_id: argus_core::OrgId::parse("acme").unwrap(),
            user_id: argus_core::UserId::parse("alice").unwrap(),
            name: "x".into(),
            config: serde_json::from_value::<ScanConfig>(serde_json::json!({
                "scanners": [{"name": "tool:subfinder", "params": {"all": true}}],
                "targets": [{"kind": "domain", "value": "example.com"}],
                "labels": labels,
            }))
            .unwrap(),
            template_id: None,
            source_scan_id: None,
            state,
            reason: Some("boom".into()),
            progress: Progress {
                enqueued: 4,
                done: 1,
                findings: 7,
                ..Progress::default()
            },
            created_at: at,
            updated_at: at,
            started_at: Some(at),
            finished_at: Some(at),
            trace: None,
            stuck_since: None,
        }
    }

    #[test]
    fn statuses_follow_the_scan_state() {
        for (state, want) in [
            (ScanState::Created, RunStatus::Pending),
            (ScanState::Queued, RunStatus::Pending),
            (ScanState::Running, RunStatus::Running),
            (ScanState::Paused, RunStatus::Running),
            (ScanState::Completed, RunStatus::Success),
            (ScanState::Failed, RunStatus::Failed),
            (ScanState::Cancelled, RunStatus::Failed),
        ] {
            assert_eq!(run_status(state), want, "{state}");
        }
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
            assert_eq!(RunStatus::parse(&s.as_str().to_ascii_lowercase()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(RunStatus::parse("done"), None);
    }

    #[test]
    fn a_run_from_a_scan() {
        let s = scan(ScanState::Running, serde_json::json!({}));
        let r = run_of(&s);
        assert_eq!(r.name, "subfinder");
        assert_eq!(r.owner_id, "alice");
        assert_eq!(r.parent_id, None);
        assert_eq!(r.status, RunStatus::Running);
        assert_eq!(r.progress, 25);
        assert_eq!(r.result.result_count, 7);
        assert_eq!(r.parameters, serde_json::json!({"all": true}));
        assert!(r.errors.is_empty());
        assert_eq!((r.completed_at, r.failed_at), (None, None));

        let parent = ScanId::new();
        let mut labels = serde_json::Map::new();
        labels.insert(LABEL_TASK.into(), "subfinder-v2".into());
        labels.insert(LABEL_OWNER.into(), "user-42".into());
        labels.insert(LABEL_PARENT.into(), parent.to_string().into());
        let labels = Value::Object(labels);
        let r = run_of(&scan(ScanState::Cancelled, labels));
        assert_eq!(r.name, "subfinder-v2");
        assert_eq!(r.owner_id, "user-42");
        assert_eq!(r.parent_id, Some(parent));
        assert_eq!(r.status, RunStatus::Failed);
        assert_eq!(
            r.errors,
            vec![RunError {
                reason: "cancelled".into(),
                message: "boom".into()
            }]
        );
        assert!(r.failed_at.is_some() && r.completed_at.is_none());
        let r = run_of(&scan(ScanState::Completed, serde_json::json!({})));
        assert_eq!((r.progress, r.status), (100, RunStatus::Success));
        assert!(r.completed_at.is_some() && r.failed_at.is_none());
    }

    #[test]
    fn targets_are_guessed_from_what_the_task_accepts() {
        let all = |_| true;
        let kind = |v: &str| guess_target(v, all).unwrap().kind();
        assert_eq!(kind("10.0.0.1"), TargetKind::Ip);
        assert_eq!(kind("10.0.0.0/24"), TargetKind::Cidr);
        assert_eq!(kind("https://example.com/x"), TargetKind::Url);
        assert_eq!(kind("example.com"), TargetKind::Domain);
        // A domain-only task refuses a URL, naming what it accepts.
        let domain = |k| k == TargetKind::Domain;
        let err = guess_target("https://example.com", domain).unwrap_err();
        assert!(err.contains("domain"), "{err}");
        assert_eq!(
            guess_target("example.com", domain).unwrap().value(),
            "example.com"
        );
    }

    #[test]
    fn pages_count_from_one() {
        let runs: Vec<Run> = (0..5)
            .map(|_| run_of(&scan(ScanState::Completed, serde_json::json!({}))))
            .collect();
        let p = RunPage::of(runs.clone(), 1, 2);
        assert_eq!((p.items.len(), p.total, p.pages), (2, 5, 3));
        assert_eq!(p.items[0].id, runs[0].id);
        let p = RunPage::of(runs.clone(), 3, 2);
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.items[0].id, runs[4].id);
        assert!(RunPage::of(runs, 4, 2).items.is_empty());
        assert_eq!(RunPage::of(Vec::new(), 1, 50).pages, 0);
    }

    #[test]
    fn socket_events_of_state_changes() {
        let meta = RunMeta::of(&scan(ScanState::Created, serde_json::json!({})));
        let id = ScanId::new();
        let at = Utc::now();
        let ev = state_events(id, &meta, ScanState::Created, ScanState::Queued, None, at);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].event, "RUN_CREATED");
        assert_eq!(ev[0].data["params"], serde_json::json!({"all": true}));
        let ev = state_events(id, &meta, ScanState::Queued, ScanState::Running, None, at);
        assert_eq!(ev[0].event, "RUN_STATUS_CHANGED");
        assert_eq!(
            ev[0].data["status"],
            serde_json::json!(["PENDING", "RUNNING"])
        );
        assert!(ev[0].data["started_at"].is_string());
        // Same Discovery status: nothing to say.
        assert!(
            state_events(id, &meta, ScanState::Running, ScanState::Paused, None, at).is_empty()
        );
        let ev = state_events(
            id,
            &meta,
            ScanState::Running,
            ScanState::Failed,
            Some("max_duration"),
            at,
        );
        assert_eq!(
            ev[0].data["status"],
            serde_json::json!(["RUNNING", "FAILED"])
        );
        assert_eq!(ev[0].data["error"], "max_duration");
        assert!(ev[0].data["failed_at"].is_string());
    }
}
