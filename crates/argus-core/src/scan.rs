//! Scans: configuration, lifecycle and progress.
//!
//! Lifecycle: `created → queued → running ⇄ paused → completed | failed | cancelled`.
//! [`ScanState::apply`] is the single authority on which user actions are legal; the engine's
//! internal moves (`queued → running`, `running → completed/failed`) go through
//! [`ScanState::can_finish`]. Progress follows DESIGN.md: a scan completes when `enqueue_done`
//! and `done + failed == enqueued`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::error::CoreError;
use crate::ids::{OrgId, ScanId, TemplateId, UserId};
use crate::target::{Target, TargetKind};

/// Scan priority; tasks of higher-priority scans are claimed first.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
}

impl Priority {
    /// Numeric rank used by queues (higher is claimed first).
    pub fn rank(self) -> u8 {
        match self {
            Priority::Low => 1,
            Priority::Medium => 5,
            Priority::High => 9,
        }
    }

    /// Inverse of [`Priority::rank`]; unknown ranks map to `Medium`.
    pub fn from_rank(rank: u8) -> Self {
        match rank {
            0..=2 => Priority::Low,
            3..=6 => Priority::Medium,
            _ => Priority::High,
        }
    }
}

/// Where a scan is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanState {
    Created,
    Queued,
    Running,
    Paused,
    Completed,
    Failed,
    Cancelled,
}

/// What a user can ask of a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanAction {
    Start,
    Pause,
    Resume,
    Stop,
    /// `stop?force=true`: ends any scan that has not ended, `created` included (a plain stop
    /// refuses one that never started), with reason [`FORCE_STOPPED`].
    ForceStop,
}

/// The reason of a scan ended by a forced stop.
pub const FORCE_STOPPED: &str = "force_stopped";

impl ScanAction {
    /// The verb used in messages and routes.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanAction::Start => "start",
            ScanAction::Pause => "pause",
            ScanAction::Resume => "resume",
            ScanAction::Stop => "stop",
            ScanAction::ForceStop => "force stop",
        }
    }
}

impl ScanState {
    /// Every state.
    pub const ALL: [ScanState; 7] = [
        ScanState::Created,
        ScanState::Queued,
        ScanState::Running,
        ScanState::Paused,
        ScanState::Completed,
        ScanState::Failed,
        ScanState::Cancelled,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanState::Created => "created",
            ScanState::Queued => "queued",
            ScanState::Running => "running",
            ScanState::Paused => "paused",
            ScanState::Completed => "completed",
            ScanState::Failed => "failed",
            ScanState::Cancelled => "cancelled",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// True once the scan can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ScanState::Completed | ScanState::Failed | ScanState::Cancelled
        )
    }

    /// True while workers should run the scan's tasks.
    pub fn is_active(self) -> bool {
        matches!(self, ScanState::Queued | ScanState::Running)
    }

    /// The state a user action leads to, or a 409-style conflict naming the current state.
    pub fn apply(self, action: ScanAction) -> Result<ScanState, CoreError> {
        use ScanAction as A;
        use ScanState as S;
        match (self, action) {
            (S::Created, A::Start) => Ok(S::Queued),
            (S::Queued | S::Running, A::Pause) => Ok(S::Paused),
            (S::Paused, A::Resume) => Ok(S::Running),
            (S::Queued | S::Running | S::Paused, A::Stop) => Ok(S::Cancelled),
            (S::Created | S::Queued | S::Running | S::Paused, A::ForceStop) => Ok(S::Cancelled),
            (s, a) => Err(CoreError::illegal(a.as_str(), s)),
        }
    }

    /// Whether the engine may end the scan (complete or fail it) from this state.
    pub fn can_finish(self) -> bool {
        matches!(
            self,
            ScanState::Queued | ScanState::Running | ScanState::Paused
        )
    }

    /// Whether the scan may be deleted (never started, or finished).
    pub fn can_delete(self) -> bool {
        self == ScanState::Created || self.is_terminal()
    }
}

impl fmt::Display for ScanState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One scanner to run in a scan, with its parameters (validated against its schema on create).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScannerSpec {
    /// Registry name, e.g. `tool:subfinder`.
    pub name: String,
    /// Parameters; must satisfy the scanner's JSON schema.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Allow / deny patterns every chained target must pass. A pattern is a host suffix
/// (`example.com` matches `a.example.com`), an address or CIDR block (`192.0.2.0/24` matches
/// addresses in it and services and URLs on them), `*` for anything, or an exact target key.
///
/// With no `allow` list the scope is the seeds': the registrable domains of the scan's own
/// targets (`www.example.com` → `example.com` and its subdomains) and their addresses and
/// blocks. Either way, an address discovered by a task on an in-scope name (what the name
/// resolves to) and a service on an in-scope task's own host are in scope; `deny` always wins.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub deny: Vec<String>,
}

impl Scope {
    /// Whether a target passes the explicit lists alone: not denied, and allowed when an
    /// allow list exists.
    pub fn permits(&self, target: &Target) -> bool {
        let matches = |p: &String| pattern_matches(p, target);
        if self.deny.iter().any(matches) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(matches)
    }

    /// The allow list as applied: the explicit one, or the seeds' registrable domains,
    /// addresses and blocks (`"explicit"` / `"seeds"`).
    pub fn effective_allow(&self, seeds: &[Target]) -> (&'static str, Vec<String>) {
        if !self.allow.is_empty() {
            return ("explicit", self.allow.clone());
        }
        let mut allow: Vec<String> = Vec::new();
        for s in seeds {
            let entry = match (s.kind(), s.host()) {
                (TargetKind::Cidr, _) => s.value().to_owned(),
                (_, Some(h)) if h.parse::<IpAddr>().is_ok() => h,
                (_, Some(h)) => registrable_domain(&h),
                (_, None) => continue,
            };
            if !allow.contains(&entry) {
                allow.push(entry);
            }
        }
        ("seeds", allow)
    }

    /// Judges a target discovered by a task on `parent` in a scan whose own targets are
    /// `seeds` (see the type's docs); `Err` says why it is out of scope.
    pub fn judge(&self, target: &Target, seeds: &[Target], parent: &Target) -> Result<(), String> {
        if let Some(p) = self.deny.iter().find(|p| pattern_matches(p, target)) {
            return Err(format!("{target} is excluded by the scope pattern '{p}'"));
        }
        let allowed = if self.allow.is_empty() {
            // Targets without a host (locations, repositories) are bounded by the
            // local-access policy, not by the seeds.
            target.host().is_none() || seeds.iter().any(|s| seed_covers(s, target))
        } else {
            self.allow.iter().any(|p| pattern_matches(p, target))
        };
        if allowed || follows_parent(target, parent) {
            return Ok(());
        }
        Err(if self.allow.is_empty() {
            format!(
                "{target} is outside the scan's scope (by default the seeds' registrable \
                 domains and addresses; set scope.allow to widen it)"
            )
        } else {
            format!("{target} matches no scope.allow pattern")
        })
    }
}

/// An address a name resolves to, or a service on the parent's own host.
fn follows_parent(target: &Target, parent: &Target) -> bool {
    let parent_host = parent.host();
    match target.kind() {
        TargetKind::Ip => parent_host
            .as_deref()
            .is_some_and(|h| h.parse::<IpAddr>().is_err() && !h.contains('/')),
        TargetKind::Service | TargetKind::Url => {
            target.host().is_some() && target.host() == parent_host
        }
        _ => false,
    }
}

fn target_ip(target: &Target) -> Option<IpAddr> {
    match target.kind() {
        TargetKind::Ip | TargetKind::Service | TargetKind::Url => target.host()?.parse().ok(),
        _ => None,
    }
}

fn seed_covers(seed: &Target, target: &Target) -> bool {
    if seed.kind() == TargetKind::Cidr {
        let Ok(net) = seed.value().parse::<crate::net::IpNet>() else {
            return false;
        };
        return match target.kind() {
            TargetKind::Cidr => target
                .value()
                .parse::<crate::net::IpNet>()
                .is_ok_and(|t| net.contains(&t)),
            _ => target_ip(target).is_some_and(|ip| net.contains(&ip)),
        };
    }
    let (Some(seed_host), Some(host)) = (seed.host(), target.host()) else {
        return false;
    };
    if let Ok(ip) = seed_host.parse::<IpAddr>() {
        return target_ip(target) == Some(ip);
    }
    let base = registrable_domain(&seed_host);
    host == base || host.ends_with(&format!(".{base}"))
}

/// The registrable domain of a name: its last two labels, or three under a common two-label
/// public suffix (`example.co.uk`). An approximation of the public suffix list, which the
/// default scope only uses to widen a seed to its siblings.
pub fn registrable_domain(host: &str) -> String {
    const TWO_LABEL_SUFFIXES: &[&str] = &[
        "co.uk",
        "org.uk",
        "ac.uk",
        "gov.uk",
        "com.au",
        "net.au",
        "org.au",
        "co.nz",
        "co.jp",
        "ne.jp",
        "or.jp",
        "co.kr",
        "com.br",
        "com.cn",
        "com.mx",
        "com.tr",
        "co.in",
        "co.za",
        "com.sg",
        "com.hk",
        "com.tw",
        "co.il",
        "com.ar",
        "com.pl",
        "github.io",
        "herokuapp.com",
        "azurewebsites.net",
        "cloudfront.net",
        "appspot.com",
        "blogspot.com",
        "s3.amazonaws.com",
    ];
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() <= 2 {
        return host.to_owned();
    }
    let last2 = labels[labels.len() - 2..].join(".");
    let keep = if TWO_LABEL_SUFFIXES.contains(&last2.as_str()) {
        3
    } else {
        2
    };
    labels[labels.len().saturating_sub(keep)..].join(".")
}

fn pattern_matches(pattern: &str, target: &Target) -> bool {
    if pattern == "*" || pattern == target.key() || pattern == target.value() {
        return true;
    }
    if let Ok(net) = pattern.parse::<crate::net::IpNet>() {
        return match target.kind() {
            TargetKind::Cidr => target
                .value()
                .parse::<crate::net::IpNet>()
                .is_ok_and(|t| net.contains(&t)),
            _ => target_ip(target).is_some_and(|ip| net.contains(&ip)),
        };
    }
    if let Ok(ip) = pattern.parse::<IpAddr>() {
        return target_ip(target) == Some(ip);
    }
    let p = pattern.trim_start_matches("*.").to_ascii_lowercase();
    match target.host() {
        Some(h) => h == p || h.ends_with(&format!(".{p}")),
        None => target.value().starts_with(pattern),
    }
}

/// Everything a user configures about a scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanConfig {
    /// Scanners to run on every target whose kind they accept (at least one; a scanner may be
    /// listed once).
    #[schema(schema_with = scanners_schema)]
    pub scanners: Vec<ScannerSpec>,
    /// Initial targets (1-100000).
    #[schema(min_items = 1, max_items = 100000)]
    pub targets: Vec<Target>,
    /// How many hops of chained targets to follow (0 = only the initial targets; at most 16).
    #[serde(default)]
    #[schema(maximum = 16)]
    pub recursion_depth: u32,
    /// Wall-clock limit in seconds; the scan fails with reason `max_duration` past it.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub max_duration: Option<u64>,
    /// Stop enqueuing once this many findings exist; the scan completes with reason `max_results`.
    #[serde(default)]
    pub max_results: Option<u64>,
    /// Most tasks the scan may create (initial, fan-out and chained); a scan that asks for more
    /// fails with reason `max_tasks`. The server's `scan.max_tasks` caps it and fills it in when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub max_tasks: Option<u64>,
    #[serde(default)]
    pub priority: Priority,
    /// Attempts per task before it is dead-lettered and counted failed (1-20).
    #[serde(default = "default_attempts")]
    #[schema(minimum = 1, maximum = 20)]
    pub max_attempts: u32,
    #[serde(default)]
    pub scope: Scope,
    /// Most network requests per second of all the scan's tasks together (network scanners:
    /// dns, subdomains, ports, http, tls), on every worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.001, maximum = 1000000)]
    pub rate_limit: Option<f64>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `scanners`: at least one, no two alike (utoipa has no attribute for `uniqueItems`). The
/// engine refuses a scanner named twice even with different params, which no JSON schema
/// keyword states; that case is a 422 naming the second one.
fn scanners_schema() -> utoipa::openapi::schema::Array {
    use utoipa::PartialSchema as _;
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(ScannerSpec::schema())
        .min_items(Some(1))
        .unique_items(true)
        .description(Some(
            "Scanners to run on every target whose kind they accept (at least one; a scanner \
             may be listed once).",
        ))
        .build()
}

fn default_attempts() -> u32 {
    3
}

impl ScanConfig {
    /// Structural checks that need no registry (the engine adds schema checks).
    pub fn validate_shape(&self) -> Result<(), CoreError> {
        if self.scanners.is_empty() {
            return Err(CoreError::invalid(
                "/config/scanners",
                "at least one scanner is required",
            ));
        }
        if self.targets.is_empty() {
            return Err(CoreError::invalid(
                "/config/targets",
                "at least one target is required",
            ));
        }
        if self.targets.len() > 100_000 {
            return Err(CoreError::invalid(
                "/config/targets",
                "at most 100000 targets per scan",
            ));
        }
        if !(1..=20).contains(&self.max_attempts) {
            return Err(CoreError::invalid(
                "/config/max_attempts",
                "must be between 1 and 20",
            ));
        }
        if self.recursion_depth > 16 {
            return Err(CoreError::invalid(
                "/config/recursion_depth",
                "must be at most 16",
            ));
        }
        if self.max_tasks == Some(0) {
            return Err(CoreError::invalid(
                "/config/max_tasks",
                "must be at least 1",
            ));
        }
        if let Some(rate) = self.rate_limit {
            if !(rate.is_finite() && (0.001..=1_000_000.0).contains(&rate)) {
                return Err(CoreError::invalid(
                    "/config/rate_limit",
                    "must be between 0.001 and 1000000 requests per second",
                ));
            }
        }
        if self.max_duration == Some(0) {
            return Err(CoreError::invalid(
                "/config/max_duration",
                "must be at least 1 second",
            ));
        }
        Ok(())
    }
}

/// Progress counters. Exact: every task is counted once however often it is delivered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    pub enqueued: u64,
    pub done: u64,
    pub failed: u64,
    pub expected_total: Option<u64>,
    pub enqueue_done: bool,
    pub findings: u64,
    /// Verdicts recorded so far by kind (file scans); absent on the wire while there are none.
    #[serde(
        default,
        skip_serializing_if = "crate::detector::VerdictCounts::is_empty"
    )]
    pub verdicts: crate::detector::VerdictCounts,
}

impl Progress {
    /// True when every enqueued task has finished and nothing more will be enqueued.
    pub fn is_complete(&self) -> bool {
        self.enqueue_done && self.done + self.failed == self.enqueued
    }

    /// `(done + failed) / max(enqueued, expected_total)` in `[0, 1]`.
    pub fn fraction(&self) -> f64 {
        let denom = self.enqueued.max(self.expected_total.unwrap_or(0));
        if denom == 0 {
            return if self.is_complete() { 1.0 } else { 0.0 };
        }
        ((self.done + self.failed) as f64 / denom as f64).min(1.0)
    }
}

/// How a live scan ends after a batch of task results is recorded, if it does; the stores apply
/// this in the same transaction as the batch (one rule for every backend):
/// - its tasks asked for more tasks than `max_tasks` leaves room for → `failed`, reason
///   `max_tasks: …` naming the limit;
/// - its findings reached `max_results` → `completed`, reason `max_results`;
/// - every task finished and nothing more will be enqueued ([`Progress::is_complete`]) →
///   `failed` when every one of its tasks failed (reason `every task failed …`, to which the
///   stores append the error of the last task that failed), else `completed`.
pub fn ending(
    progress: &Progress,
    hit_max_results: bool,
    hit_max_tasks: Option<u64>,
) -> Option<(ScanState, Option<String>)> {
    if let Some(limit) = hit_max_tasks {
        return Some((ScanState::Failed, Some(max_tasks_reason(limit))));
    }
    if hit_max_results {
        return Some((ScanState::Completed, Some("max_results".to_owned())));
    }
    if !progress.is_complete() {
        return None;
    }
    if progress.done == 0 && progress.failed > 0 {
        return Some((
            ScanState::Failed,
            Some(format!(
                "every task failed ({}); the task_failed events say why",
                progress.failed
            )),
        ));
    }
    Some((ScanState::Completed, None))
}

/// The reason of a scan failed by its task limit.
pub fn max_tasks_reason(limit: u64) -> String {
    format!("max_tasks: the scan asked for more than its limit of {limit} tasks (scan.max_tasks)")
}

/// What the reason of a scan flagged stuck starts with (a flag cleared clears only such a
/// reason).
pub const STUCK_REASON_PREFIX: &str = "stuck: ";

/// The reason of a scan flagged stuck whose last progress was at `since`.
pub fn stuck_reason(since: DateTime<Utc>) -> String {
    format!(
        "{STUCK_REASON_PREFIX}no task progress since {}",
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// A request to create a scan.
#[derive(Clone, Debug)]
pub struct NewScan {
    pub id: ScanId,
    pub org: OrgId,
    pub user: UserId,
    pub name: String,
    pub config: ScanConfig,
    pub template_id: Option<TemplateId>,
    /// The scan this one acts on (a clean or push of a secrets scan's repositories); set by the
    /// platform, never by a client.
    pub source_scan_id: Option<ScanId>,
}

/// A stored scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scan {
    pub id: ScanId,
    #[schema(value_type = String)]
    pub org_id: OrgId,
    #[schema(value_type = String)]
    pub user_id: UserId,
    pub name: String,
    pub config: ScanConfig,
    pub template_id: Option<TemplateId>,
    /// The scan this one acts on: a `git-clean` scan names the secrets scan whose selected
    /// findings it removes, a `git-push` scan the clean scan whose result it pushes.
    pub source_scan_id: Option<ScanId>,
    pub state: ScanState,
    /// Why the scan ended the way it did (`max_duration`, `max_results`, `stopped`,
    /// `force_stopped`, an error); while it is flagged stuck, `stuck: no task progress since …`.
    pub reason: Option<String>,
    pub progress: Progress,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The W3C `traceparent` of the request that started the scan, when the server exports
    /// traces (`ScanStore::set_scan_trace`): a worker makes it the parent of the scan's task
    /// spans, in whatever process it runs. Opaque here; never shown (not serialized).
    #[serde(skip)]
    pub trace: Option<String>,
    /// Set while the scan is flagged stuck: its tasks made no progress since this time (its
    /// last task finished, or its last state change) for longer than `scan.stuck_after`.
    /// Cleared when progress resumes or the scan changes state; absent on the wire otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stuck_since: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::TargetKind;

    #[test]
    fn lifecycle_table() {
        use ScanAction as A;
        use ScanState as S;
        assert_eq!(S::Created.apply(A::Start).unwrap(), S::Queued);
        assert_eq!(S::Running.apply(A::Pause).unwrap(), S::Paused);
        assert_eq!(S::Paused.apply(A::Resume).unwrap(), S::Running);
        assert_eq!(S::Paused.apply(A::Stop).unwrap(), S::Cancelled);
        // A forced stop also ends a scan that never started; nothing ends twice.
        for s in [S::Created, S::Queued, S::Running, S::Paused] {
            assert_eq!(s.apply(A::ForceStop).unwrap(), S::Cancelled);
        }
        for s in [S::Completed, S::Failed, S::Cancelled] {
            assert!(s.apply(A::ForceStop).is_err());
        }
        for (s, a) in [
            (S::Created, A::Pause),
            (S::Created, A::Stop),
            (S::Running, A::Start),
            (S::Running, A::Resume),
            (S::Completed, A::Stop),
            (S::Cancelled, A::Resume),
        ] {
            match s.apply(a) {
                Err(CoreError::Conflict { state, .. }) => assert_eq!(state, Some(s)),
                other => panic!("{s:?} {a:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn progress_rule() {
        let mut p = Progress {
            enqueued: 3,
            done: 2,
            failed: 1,
            ..Default::default()
        };
        assert!(!p.is_complete());
        p.enqueue_done = true;
        assert!(p.is_complete());
        p.expected_total = Some(6);
        assert!((p.fraction() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn ending_rules() {
        let mut p = Progress {
            enqueued: 2,
            done: 1,
            failed: 0,
            enqueue_done: true,
            ..Default::default()
        };
        assert_eq!(ending(&p, false, None), None);
        assert_eq!(
            ending(&p, true, None),
            Some((ScanState::Completed, Some("max_results".into())))
        );
        let (state, reason) = ending(&p, true, Some(7)).unwrap();
        assert_eq!(state, ScanState::Failed);
        assert!(reason.unwrap().starts_with("max_tasks: "));
        p.failed = 1;
        assert_eq!(ending(&p, false, None), Some((ScanState::Completed, None)));
        p.done = 0;
        p.failed = 2;
        assert_eq!(ending(&p, false, None).unwrap().0, ScanState::Failed);
        p.enqueue_done = false;
        assert_eq!(ending(&p, false, None), None);
    }

    #[test]
    fn scope_rules() {
        let s = Scope {
            allow: vec!["example.com".into()],
            deny: vec!["dev.example.com".into()],
        };
        let t = |v: &str| Target::parse(TargetKind::Domain, v).unwrap();
        assert!(s.permits(&t("a.example.com")));
        assert!(s.permits(&t("example.com")));
        assert!(!s.permits(&t("x.dev.example.com")));
        assert!(!s.permits(&t("example.org")));
        assert!(Scope::default().permits(&t("anything.org")));
    }

    #[test]
    fn scope_judges_addresses_blocks_and_the_seeds_default() {
        let t = |k: TargetKind, v: &str| Target::parse(k, v).unwrap();
        let seeds = [
            t(TargetKind::Domain, "www.example.com"),
            t(TargetKind::Cidr, "198.51.100.0/24"),
        ];
        let apex = t(TargetKind::Domain, "example.com");
        let auto = Scope::default();
        // The seeds' registrable domain and its subdomains, the seed block's addresses.
        assert!(auto
            .judge(&t(TargetKind::Domain, "api.example.com"), &seeds, &apex)
            .is_ok());
        assert!(auto
            .judge(&t(TargetKind::Ip, "198.51.100.9"), &seeds, &seeds[1])
            .is_ok());
        assert!(auto
            .judge(
                &t(TargetKind::Service, "198.51.100.9:443"),
                &seeds,
                &seeds[1]
            )
            .is_ok());
        let out = auto
            .judge(&t(TargetKind::Domain, "example.org"), &seeds, &apex)
            .unwrap_err();
        assert!(out.contains("scope.allow"), "{out}");
        // An address an in-scope name resolves to is in scope; one an address names is not.
        assert!(auto
            .judge(&t(TargetKind::Ip, "203.0.113.5"), &seeds, &apex)
            .is_ok());
        let ip_parent = t(TargetKind::Ip, "198.51.100.9");
        assert!(auto
            .judge(&t(TargetKind::Ip, "203.0.113.5"), &seeds, &ip_parent)
            .is_err());
        // A service on the parent's own host.
        let other = t(TargetKind::Ip, "203.0.113.5");
        assert!(auto
            .judge(&t(TargetKind::Service, "203.0.113.5:80"), &seeds, &other)
            .is_ok());

        let explicit = Scope {
            allow: vec!["example.com".into(), "192.0.2.0/24".into()],
            deny: vec!["192.0.2.128/25".into(), "dev.example.com".into()],
        };
        assert!(explicit
            .judge(&t(TargetKind::Ip, "192.0.2.7"), &seeds, &ip_parent)
            .is_ok());
        assert!(explicit
            .judge(
                &t(TargetKind::Url, "http://192.0.2.7:8080/"),
                &seeds,
                &ip_parent
            )
            .is_ok());
        let denied = explicit
            .judge(&t(TargetKind::Ip, "192.0.2.200"), &seeds, &apex)
            .unwrap_err();
        assert!(denied.contains("192.0.2.128/25"), "{denied}");
        assert!(explicit
            .judge(&t(TargetKind::Cidr, "192.0.2.0/26"), &seeds, &ip_parent)
            .is_ok());
        // A domain allow-list does not reject the addresses its names resolve to.
        assert!(explicit
            .judge(&t(TargetKind::Ip, "203.0.113.5"), &seeds, &apex)
            .is_ok());
        assert_eq!(registrable_domain("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(registrable_domain("a.b.example.com"), "example.com");
        assert_eq!(registrable_domain("localhost"), "localhost");
    }
}
