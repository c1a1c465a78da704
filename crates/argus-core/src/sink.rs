//! Result forwarding: the versioned event schema every sink sends, and the [`Sink`] trait.
//!
//! Sinks are fed from the store's committed event log, never from a worker's memory: the
//! forwarder (`argus_engine::forward`) reads events after its saved cursor, turns each into a
//! [`SinkEvent`] ([`SinkEvent::from_event`]: findings become `scan_result`, state changes
//! `scan_lifecycle`; progress ticks and task failures are not forwarded), filters and masks
//! them, and hands batches to a [`Sink`]. Delivery is at least once: a batch the destination
//! took may be sent again after a crash, so every event carries its store `event_id` for
//! deduplication downstream.
//!
//! Invariants kept here:
//! - The schema is versioned ([`SCHEMA_VERSION`]); fields are only ever added within a version.
//! - A found secret travels as its preview and SHA-256 only (the stored [`SecretDigest`]).
//! - A sink holds its credentials itself (read from the environment by name when it is built);
//!   nothing here or in [`SinkState`] carries one.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::detector::ActionRecord;
use crate::event::{Event, EventData};
use crate::finding::{Finding, Location, SecretDigest, Severity};
use crate::ids::{FindingId, ScanId, TaskId};
use crate::scan::{Progress, ScanState};

/// Version of the [`SinkEvent`] schema (`schema_version` on the wire).
pub const SCHEMA_VERSION: u32 = 1;

/// The two kinds of forwarded events.
#[derive(
    Clone,
    Copy,
    Debug,
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
pub enum SinkEventKind {
    /// A finding (secret, malware verdict and the action taken, recon, tool).
    ScanResult,
    /// A scan was created, started, paused, resumed or ended.
    ScanLifecycle,
    /// An audit record: a mutating request or a download, allowed or denied (`argus_core::audit`).
    Audit,
}

impl SinkEventKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkEventKind::ScanResult => "scan_result",
            SinkEventKind::ScanLifecycle => "scan_lifecycle",
            SinkEventKind::Audit => "audit",
        }
    }
}

impl fmt::Display for SinkEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a scan, in the words of `scan_lifecycle`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleAction {
    Created,
    Started,
    Paused,
    Resumed,
    Completed,
    Failed,
    Cancelled,
}

impl LifecycleAction {
    /// The lifecycle step a state change is, if it is one (`queued → running` is not).
    pub fn of(from: ScanState, to: ScanState) -> Option<Self> {
        use ScanState::*;
        Some(match (from, to) {
            (Created, Created) => LifecycleAction::Created,
            (Created, Queued | Running) => LifecycleAction::Started,
            (_, Paused) => LifecycleAction::Paused,
            (Paused, Queued | Running) => LifecycleAction::Resumed,
            (_, Completed) => LifecycleAction::Completed,
            (_, Failed) => LifecycleAction::Failed,
            (_, Cancelled) => LifecycleAction::Cancelled,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleAction::Created => "created",
            LifecycleAction::Started => "started",
            LifecycleAction::Paused => "paused",
            LifecycleAction::Resumed => "resumed",
            LifecycleAction::Completed => "completed",
            LifecycleAction::Failed => "failed",
            LifecycleAction::Cancelled => "cancelled",
        }
    }
}

/// An action a scanner took on what it found (a quarantine move of a malicious object).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResultAction {
    /// The action (`move`, `delete`, `tag`, …).
    pub name: String,
    /// How it went (`done`, `failed`, or the scanner's own word), with its detail.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A `scan_result`: one finding, flattened for a SIEM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScanResult {
    /// The finding's id, as `GET /api/v1/scans/{id}/findings` shows it.
    pub finding_id: FindingId,
    pub task_id: Option<TaskId>,
    pub scanner: String,
    /// The scanned target's kind (`repo`, `location`, `domain`, …).
    pub target_kind: String,
    /// The scanned target (a repository URL, a storage location, a domain, …).
    pub target: String,
    /// The object or place inside the target: a path (and line, commit), an object key, a URL.
    pub location: Location,
    /// The finding's kind (`aws-access-key`, `malware`, `open-port`, …).
    pub finding_kind: String,
    pub severity: Severity,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The rule or threat that matched (secret rule id, malware signature), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// A file scanner's verdict (`malicious`, `suspicious`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// The action taken on the object, with its outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ResultAction>,
    pub fingerprint: String,
    /// A found secret: preview and SHA-256 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretDigest>,
    /// The scanner's own details.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// A `scan_lifecycle` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScanLifecycle {
    pub action: LifecycleAction,
    pub from: ScanState,
    pub to: ScanState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The scan's counters as last committed before this event was forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<Progress>,
}

/// What a forwarded event says.
// Results are most of the traffic: boxing them would cost an allocation per event for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SinkPayload {
    ScanResult(ScanResult),
    ScanLifecycle(ScanLifecycle),
    Audit(AuditEvent),
}

/// An `audit` event: one audit record (its id is the event's `event_id`, its time `time`).
/// Its `scan_id` is the scan the request named (`/scans/{id}/…`), or the nil UUID.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub user_id: String,
    pub role: String,
    /// `scan.create`, `finding.triage`, `artifact.download`, …
    pub action: String,
    pub method: String,
    pub route: String,
    pub resource: String,
    pub outcome: crate::audit::AuditOutcome,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    pub request_id: String,
}

/// One forwarded event, schema `argus.event` version [`SCHEMA_VERSION`]:
/// `{schema, schema_version, event_id, kind, time, org_id, scan_id, …payload}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SinkEvent {
    /// Always `argus.event`.
    pub schema: String,
    pub schema_version: u32,
    /// The store's event id: strictly increasing, the key for deduplication downstream.
    pub event_id: i64,
    /// When the event was committed.
    pub time: DateTime<Utc>,
    pub org_id: String,
    pub scan_id: ScanId,
    #[serde(flatten)]
    pub payload: SinkPayload,
}

impl SinkEvent {
    /// The forwarded form of a committed event, or `None` for events that are not forwarded
    /// (progress ticks, task failures, stuck flags — operational signals that stay in the
    /// event log and the live streams — and state changes that are no lifecycle step).
    pub fn from_event(event: &Event) -> Option<SinkEvent> {
        let payload = match &event.data {
            EventData::Finding(f) => SinkPayload::ScanResult(ScanResult::from_finding(f)),
            EventData::State { from, to, reason } => SinkPayload::ScanLifecycle(ScanLifecycle {
                action: LifecycleAction::of(*from, *to)?,
                from: *from,
                to: *to,
                reason: reason.clone(),
                counters: None,
            }),
            EventData::Progress(_)
            | EventData::TaskFailed { .. }
            | EventData::Stuck { .. }
            | EventData::Unstuck { .. } => return None,
        };
        Some(SinkEvent {
            schema: "argus.event".into(),
            schema_version: SCHEMA_VERSION,
            event_id: event.id,
            time: event.at,
            org_id: event.org_id.as_str().to_owned(),
            scan_id: event.scan_id,
            payload,
        })
    }

    /// The forwarded form of an audit record (`audit`).
    pub fn from_audit(r: &crate::audit::AuditRecord) -> SinkEvent {
        // The scan a request named, for sinks that route by scan (a nil id otherwise).
        let mut parts = r.resource.split('/');
        let scan_id = std::iter::from_fn(|| parts.next())
            .skip_while(|p| *p != "scans" && *p != "jobs" && *p != "runs")
            .nth(1)
            .and_then(|id| id.parse::<uuid::Uuid>().ok())
            .map(ScanId)
            .unwrap_or(ScanId(uuid::Uuid::nil()));
        SinkEvent {
            schema: "argus.event".into(),
            schema_version: SCHEMA_VERSION,
            event_id: r.id,
            time: r.at,
            org_id: r.org_id.as_str().to_owned(),
            scan_id,
            payload: SinkPayload::Audit(AuditEvent {
                user_id: r.user_id.as_str().to_owned(),
                role: r.role.as_str().to_owned(),
                action: r.action.clone(),
                method: r.method.clone(),
                route: r.route.clone(),
                resource: r.resource.clone(),
                outcome: r.outcome,
                status: r.status,
                client: r.client.clone(),
                request_id: r.request_id.clone(),
            }),
        }
    }

    /// `scan_result`, `scan_lifecycle` or `audit`.
    pub fn kind(&self) -> SinkEventKind {
        match self.payload {
            SinkPayload::ScanResult(_) => SinkEventKind::ScanResult,
            SinkPayload::ScanLifecycle(_) => SinkEventKind::ScanLifecycle,
            SinkPayload::Audit(_) => SinkEventKind::Audit,
        }
    }

    /// The finding's severity; lifecycle events rank by their outcome (`failed` is high,
    /// the rest info).
    pub fn severity(&self) -> Severity {
        match &self.payload {
            SinkPayload::ScanResult(r) => r.severity,
            SinkPayload::ScanLifecycle(l) if l.action == LifecycleAction::Failed => Severity::High,
            SinkPayload::ScanLifecycle(_) => Severity::Info,
            // A refused request is worth a look; the rest is the record of normal work.
            SinkPayload::Audit(a) if a.outcome == crate::audit::AuditOutcome::Denied => {
                Severity::Medium
            }
            SinkPayload::Audit(_) => Severity::Info,
        }
    }

    /// The scanner of a result (`None` for lifecycle events).
    pub fn scanner(&self) -> Option<&str> {
        match &self.payload {
            SinkPayload::ScanResult(r) => Some(&r.scanner),
            SinkPayload::ScanLifecycle(_) | SinkPayload::Audit(_) => None,
        }
    }

    /// A one-line human summary (syslog's message, a chat line).
    pub fn summary(&self) -> String {
        match &self.payload {
            SinkPayload::ScanResult(r) => {
                format!("{} {}: {}", r.severity.as_str(), r.scanner, r.title)
            }
            SinkPayload::ScanLifecycle(l) => {
                let mut s = format!("scan {} {}", self.scan_id, l.action.as_str());
                if let Some(reason) = &l.reason {
                    s.push_str(&format!(" ({reason})"));
                }
                s
            }
            SinkPayload::Audit(a) => format!(
                "audit {} {} {}: {} ({})",
                a.user_id,
                a.action,
                a.resource,
                a.outcome.as_str(),
                a.status
            ),
        }
    }

    /// The compact JSON form (one line).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl ScanResult {
    /// A finding as a result: rule, verdict and action lifted out of the scanner's details
    /// where the scanner keeps them (`rule_id` for secrets; `verdict`, `hits` and `action`
    /// for file scanners).
    pub fn from_finding(f: &Finding) -> ScanResult {
        let data = &f.data;
        let str_at = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_owned);
        let rule = str_at("rule_id").or_else(|| str_at("rule")).or_else(|| {
            let hits = data.get("hits")?.as_array()?;
            let mut names: Vec<&str> = hits
                .iter()
                .filter_map(|h| h.get("signature").and_then(Value::as_str))
                .collect();
            names.sort_unstable();
            names.dedup();
            (!names.is_empty()).then(|| names.join(","))
        });
        let action = data
            .get("action")
            .and_then(|a| serde_json::from_value::<ActionRecord>(a.clone()).ok())
            .map(|a| ResultAction {
                name: a.action,
                outcome: a.outcome,
                detail: a.detail,
            });
        ScanResult {
            finding_id: f.id,
            task_id: f.task_id,
            scanner: f.scanner.clone(),
            target_kind: f.target.kind().as_str().to_owned(),
            target: f.target.value().to_owned(),
            location: f.location.clone(),
            finding_kind: f.kind.clone(),
            severity: f.severity,
            title: f.title.clone(),
            description: f.description.clone(),
            rule,
            verdict: str_at("verdict"),
            action,
            fingerprint: f.fingerprint.clone(),
            secret: f.secret.clone(),
            data: data.clone(),
        }
    }
}

/// Why a batch did not go through.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Worth retrying: the destination is down, slow, overloaded (timeouts, connection
    /// refused, 5xx, 429).
    #[error("{0}")]
    Retryable(String),
    /// Retrying the same batch cannot help (the destination refused it: 400, 413, a rejected
    /// payload); the forwarder dead-letters the batch and moves on.
    #[error("{0}")]
    Rejected(String),
}

/// A destination for forwarded events. One instance per `[[sinks]]` entry.
///
/// Contract (checked by the shared suite, `argus_sinks::testkit`): `send` returns `Ok` only
/// once the destination has accepted every event of the batch (acknowledged, where the
/// protocol has acknowledgements); a batch is never larger than [`Sink::max_batch`]; `send`
/// may be called again with the same events after an error (at-least-once).
#[async_trait]
pub trait Sink: Send + Sync {
    /// The destination type (`syslog`, `splunk_hec`, …).
    fn kind(&self) -> &'static str;

    /// The destination as shown to operators, without credentials (`tcp://siem:514`).
    fn endpoint(&self) -> String;

    /// The most events one `send` takes (the destination's own limit or its setting).
    fn max_batch(&self) -> usize {
        500
    }

    /// How many times a failing batch is tried before it is dead-lettered, when the
    /// `[[sinks]]` entry does not say (`None`: until it goes through).
    fn default_max_attempts(&self) -> Option<u32> {
        None
    }

    /// Delivers one batch, oldest first. Each item's `body` is what to send (the event after
    /// the entry's masking and truncation); `event` is there for routing and envelopes (its
    /// id, time, severity, org and scan).
    async fn send(&self, batch: &[Outgoing]) -> Result<(), SinkError>;
}

/// One event on its way out: the event, and the JSON body to send for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub event: SinkEvent,
    /// The event's JSON form after masking and truncation ([`Redaction::apply`]).
    pub body: Value,
}

impl Outgoing {
    /// An event sent as it is.
    pub fn new(event: SinkEvent) -> Self {
        let body = event.to_json();
        Outgoing { event, body }
    }
}

/// Which events a sink forwards (a `[[sinks]]` entry's filters; empty lists admit all).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SinkFilter {
    /// `scan_result`, `scan_lifecycle`, `audit` (empty: all three).
    pub events: Vec<SinkEventKind>,
    /// Results below this severity are not forwarded (lifecycle and audit events always pass).
    pub min_severity: Option<Severity>,
    /// Only results of these scanners.
    pub scanners: Vec<String>,
    /// Only events of these organisations.
    pub orgs: Vec<String>,
}

impl SinkFilter {
    /// Whether `e` passes.
    pub fn admits(&self, e: &SinkEvent) -> bool {
        // An empty list means the scan events; the audit log goes out only when listed (a
        // sink made for results should not start receiving every API request).
        let listed = if self.events.is_empty() {
            e.kind() != SinkEventKind::Audit
        } else {
            self.events.contains(&e.kind())
        };
        if !listed {
            return false;
        }
        if !self.orgs.is_empty() && !self.orgs.contains(&e.org_id) {
            return false;
        }
        match &e.payload {
            SinkPayload::ScanResult(r) => {
                self.min_severity.is_none_or(|min| r.severity >= min)
                    && (self.scanners.is_empty() || self.scanners.contains(&r.scanner))
            }
            SinkPayload::ScanLifecycle(_) | SinkPayload::Audit(_) => true,
        }
    }
}

/// Field masking and truncation applied to the JSON body before it leaves (PII, long paths).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Redaction {
    /// Dotted paths into the event (`location.path`, `data.author_email`, `secret`): a string
    /// becomes `****`, any other value is removed.
    pub mask: Vec<String>,
    /// Strings longer than this many characters are cut, ending in `…` (0: no limit); the
    /// envelope and identifying fields ([`Redaction::KEPT_WHOLE`]) are never cut.
    pub truncate: usize,
}

/// What the forwarder does when a sink's buffer is full while its destination fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Drop the oldest buffered event for each new one (the freshest events get through).
    #[default]
    DropOldest,
    /// Keep one new event in `sample_rate` (each replacing the oldest), drop the others.
    Sample,
}

/// Where a sink seen for the first time starts reading the event log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// Events committed from now on.
    #[default]
    Now,
    /// Every event the store still holds.
    Beginning,
}

/// The settings every `[[sinks]]` entry has, whatever its `type`: name, filters, redaction,
/// buffering and retries. The entry's other keys are its destination's (given to the
/// factory of its `type`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SinkSettings {
    /// Unique name (the cursor's key in the store, the lease's, the API's).
    pub name: String,
    /// The destination type (`syslog`, `splunk_hec`, `cloudwatch_logs`, `sentinel`,
    /// `webhook`, `pusher`).
    #[serde(rename = "type")]
    pub kind: String,
    /// `false` keeps the entry (and its cursor) but forwards nothing.
    pub enabled: bool,
    /// Event kinds to forward (empty: both).
    pub events: Vec<SinkEventKind>,
    /// Lowest severity of results to forward.
    pub min_severity: Option<Severity>,
    /// Only results of these scanners (empty: all).
    pub scanners: Vec<String>,
    /// Only events of these organisations (empty: all).
    pub orgs: Vec<String>,
    /// Dotted paths masked before sending (see [`Redaction`]).
    pub mask: Vec<String>,
    /// Strings cut to this many characters (0: no limit).
    pub truncate: usize,
    /// Events held in memory while the destination is slow or down.
    pub buffer: usize,
    /// What to drop when the buffer is full while the destination fails.
    pub when_full: WhenFull,
    /// With `when_full = "sample"`: keep one event in this many.
    pub sample_rate: u32,
    /// Most events per batch (the destination's own limit applies too; 0: the destination's).
    pub batch_max: usize,
    /// How long a partial batch waits for more events.
    pub batch_timeout_ms: u64,
    /// How long one batch's delivery may take before it counts as failed.
    pub send_timeout_ms: u64,
    /// Tries of one batch before it is dead-lettered (0: the destination's default —
    /// 5 for webhooks, unlimited for the others).
    pub max_attempts: u32,
    /// First retry delay; doubles per failed try, with jitter, up to `backoff_max_ms`.
    pub backoff_min_ms: u64,
    pub backoff_max_ms: u64,
    /// Where a new sink starts in the event log.
    pub start: StartAt,
}

impl Default for SinkSettings {
    fn default() -> Self {
        SinkSettings {
            name: String::new(),
            kind: String::new(),
            enabled: true,
            events: Vec::new(),
            min_severity: None,
            scanners: Vec::new(),
            orgs: Vec::new(),
            mask: Vec::new(),
            truncate: 0,
            buffer: 10_000,
            when_full: WhenFull::DropOldest,
            sample_rate: 10,
            batch_max: 0,
            batch_timeout_ms: 1_000,
            send_timeout_ms: 30_000,
            max_attempts: 0,
            backoff_min_ms: 200,
            backoff_max_ms: 30_000,
            start: StartAt::Now,
        }
    }
}

impl SinkSettings {
    /// The keys these settings take; every other key of an entry is its destination's.
    pub fn keys() -> Vec<String> {
        match serde_json::to_value(SinkSettings::default()) {
            Ok(Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// The entry's filters.
    pub fn filter(&self) -> SinkFilter {
        SinkFilter {
            events: self.events.clone(),
            min_severity: self.min_severity,
            scanners: self.scanners.clone(),
            orgs: self.orgs.clone(),
        }
    }

    /// The entry's masking and truncation.
    pub fn redaction(&self) -> Redaction {
        Redaction {
            mask: self.mask.clone(),
            truncate: self.truncate,
        }
    }

    /// Checks what serde cannot: a name, sane sizes.
    pub fn check(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(format!(
                "name {:?}: give each sink a name of 1-64 letters, digits, '-' or '_'",
                self.name
            ));
        }
        if self.buffer == 0 {
            return Err("buffer must be at least 1".into());
        }
        if self.sample_rate == 0 {
            return Err("sample_rate must be at least 1".into());
        }
        if self.backoff_min_ms == 0 || self.backoff_max_ms < self.backoff_min_ms {
            return Err("backoff_min_ms must be > 0 and at most backoff_max_ms".into());
        }
        Ok(())
    }
}

/// What a masked string becomes.
pub const MASKED: &str = "****";

impl Redaction {
    /// Top-level fields truncation leaves alone: the envelope, ids and enumerations a
    /// receiver routes or deduplicates by (cutting them would only break it).
    pub const KEPT_WHOLE: [&'static str; 16] = [
        "schema",
        "schema_version",
        "event_id",
        "kind",
        "time",
        "org_id",
        "scan_id",
        "finding_id",
        "task_id",
        "severity",
        "action",
        "from",
        "to",
        "scanner",
        "target_kind",
        "finding_kind",
    ];

    /// Masks and truncates `body` in place.
    pub fn apply(&self, body: &mut Value) {
        for path in &self.mask {
            let parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
            mask_path(body, &parts);
        }
        if self.truncate > 0 {
            match body {
                Value::Object(map) => map
                    .iter_mut()
                    .filter(|(k, _)| !Self::KEPT_WHOLE.contains(&k.as_str()))
                    .for_each(|(_, v)| truncate_strings(v, self.truncate)),
                other => truncate_strings(other, self.truncate),
            }
        }
    }
}

fn mask_path(v: &mut Value, parts: &[&str]) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    match v {
        Value::Object(map) => {
            if rest.is_empty() {
                match map.get_mut(*first) {
                    Some(Value::String(s)) => *s = MASKED.to_owned(),
                    Some(_) => {
                        map.remove(*first);
                    }
                    None => {}
                }
            } else if let Some(child) = map.get_mut(*first) {
                mask_path(child, rest);
            }
        }
        // A path through a list applies to each element.
        Value::Array(items) => items.iter_mut().for_each(|i| mask_path(i, parts)),
        _ => {}
    }
}

fn truncate_strings(v: &mut Value, max: usize) {
    match v {
        Value::String(s) => {
            if let Some((cut, _)) = s.char_indices().nth(max) {
                s.truncate(cut);
                s.push('…');
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| truncate_strings(i, max)),
        Value::Object(map) => map.values_mut().for_each(|i| truncate_strings(i, max)),
        _ => {}
    }
}

/// A sink's forwarding state as the store keeps it (cursor and counters), shown by
/// `GET /api/v1/sinks`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SinkState {
    /// The `[[sinks]]` entry's name.
    pub name: String,
    /// Every event with an id up to this one was delivered, filtered out, dead-lettered or
    /// dropped.
    pub cursor: i64,
    /// Events the destination accepted.
    pub sent: u64,
    /// Events dropped because the buffer was full while the destination was failing.
    pub dropped: u64,
    /// Events written to the dead-letter list after the last retry.
    pub dead_lettered: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_sent_at: Option<DateTime<Utc>>,
    /// The process forwarding for this sink (the holder of its lease).
    pub holder: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// An event a sink gave up on, kept for operators.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeadLetter {
    pub id: i64,
    pub sink: String,
    pub org_id: String,
    pub scan_id: ScanId,
    pub event_id: i64,
    /// The event as it would have been sent (after masking).
    #[schema(value_type = Object)]
    pub event: Value,
    pub error: String,
    pub attempts: u32,
    pub at: DateTime<Utc>,
}

/// A dead letter to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDeadLetter {
    pub sink: String,
    pub event: SinkEvent,
    /// `event` after the sink's masking, as it would have been sent.
    pub body: Value,
    pub error: String,
    pub attempts: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn finding(data: Value) -> Finding {
        serde_json::from_value(json!({
            "id": "0191c7a0-0000-7000-8000-000000000001",
            "scan_id": "0191c7a0-0000-7000-8000-000000000002",
            "org_id": "acme",
            "task_id": null,
            "scanner": "yara",
            "kind": "malware",
            "severity": "critical",
            "title": "malicious Eicar in docs/x.com",
            "description": null,
            "target": {"kind": "location", "value": "s3://bucket/docs/"},
            "location": {"path": "docs/x.com"},
            "fingerprint": "fp",
            "data": data,
            "secret": null,
            "triage": "open",
            "created_at": "2026-12-07T10:00:00Z",
            "updated_at": "2026-12-07T10:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn a_verdict_result_carries_rule_verdict_and_the_action_taken() {
        let r = ScanResult::from_finding(&finding(json!({
            "verdict": "malicious",
            "engine": "yara",
            "hits": [{"signature": "Eicar"}, {"signature": "Dropper"}, {"signature": "Eicar"}],
            "action": {"action": "move", "outcome": "done", "detail": "quarantine/x.com"},
        })));
        assert_eq!(r.rule.as_deref(), Some("Dropper,Eicar"));
        assert_eq!(r.verdict.as_deref(), Some("malicious"));
        assert_eq!(
            r.action,
            Some(ResultAction {
                name: "move".into(),
                outcome: "done".into(),
                detail: Some("quarantine/x.com".into()),
            })
        );
        assert_eq!(r.target_kind, "location");
        assert_eq!(r.target, "s3://bucket/docs/");
        assert_eq!(r.location.path.as_deref(), Some("docs/x.com"));
        // A secret finding names its rule; no verdict, no action.
        let r = ScanResult::from_finding(&finding(json!({"rule_id": "aws-access-key-id"})));
        assert_eq!(r.rule.as_deref(), Some("aws-access-key-id"));
        assert!(r.verdict.is_none() && r.action.is_none());
    }

    #[test]
    fn filters_admit_by_kind_severity_scanner_and_org() {
        let result = SinkEvent {
            schema: "argus.event".into(),
            schema_version: SCHEMA_VERSION,
            event_id: 1,
            time: Utc::now(),
            org_id: "acme".into(),
            scan_id: ScanId::new(),
            payload: SinkPayload::ScanResult(ScanResult::from_finding(&finding(json!(null)))),
        };
        let lifecycle = SinkEvent {
            payload: SinkPayload::ScanLifecycle(ScanLifecycle {
                action: LifecycleAction::Completed,
                from: ScanState::Running,
                to: ScanState::Completed,
                reason: None,
                counters: None,
            }),
            ..result.clone()
        };
        let all = SinkFilter::default();
        assert!(all.admits(&result) && all.admits(&lifecycle));
        let f = SinkFilter {
            events: vec![SinkEventKind::ScanLifecycle],
            ..SinkFilter::default()
        };
        assert!(!f.admits(&result) && f.admits(&lifecycle));
        let f = SinkFilter {
            min_severity: Some(Severity::Critical),
            scanners: vec!["yara".into()],
            ..SinkFilter::default()
        };
        assert!(f.admits(&result) && f.admits(&lifecycle));
        let f = SinkFilter {
            scanners: vec!["secrets".into()],
            ..SinkFilter::default()
        };
        assert!(!f.admits(&result) && f.admits(&lifecycle));
        let f = SinkFilter {
            orgs: vec!["globex".into()],
            ..SinkFilter::default()
        };
        assert!(!f.admits(&result) && !f.admits(&lifecycle));
    }

    #[test]
    fn redaction_masks_paths_and_cuts_long_strings() {
        let mut body = json!({
            "location": {"path": "home/alice/secret.txt", "line": 3},
            "data": {"authors": [{"email": "a@x"}, {"email": "b@x"}]},
            "title": "abcdefghij",
            "kind": "scan_result",
            "secret": {"preview": "AKI…LE", "sha256": "00"},
        });
        Redaction {
            mask: vec![
                "location.path".into(),
                "location.line".into(),
                "data.authors.email".into(),
                "secret".into(),
                "no.such.path".into(),
            ],
            truncate: 4,
        }
        .apply(&mut body);
        assert_eq!(
            body,
            json!({
                "location": {"path": "****"},
                "data": {"authors": [{"email": "****"}, {"email": "****"}]},
                "title": "abcd…",
                "kind": "scan_result",
            })
        );
    }

    #[test]
    fn lifecycle_steps_follow_the_state_table() {
        use ScanState::*;
        assert_eq!(
            LifecycleAction::of(Created, Queued),
            Some(LifecycleAction::Started)
        );
        assert_eq!(
            LifecycleAction::of(Paused, Queued),
            Some(LifecycleAction::Resumed)
        );
        assert_eq!(
            LifecycleAction::of(Running, Cancelled),
            Some(LifecycleAction::Cancelled)
        );
        assert_eq!(LifecycleAction::of(Queued, Running), None);
        assert_eq!(
            LifecycleAction::of(Created, Created),
            Some(LifecycleAction::Created)
        );
    }
}
