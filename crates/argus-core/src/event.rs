//! Events: every state change, progress tick, finding and task failure.
//!
//! Event ids come from one store-wide, strictly increasing sequence, assigned in the same
//! transaction as the change they describe. So ids are monotonic per scan and globally, and a
//! client that reconnects with `Last-Event-ID: n` gets exactly the events with id > n by replaying
//! from the store before following the live bus.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::finding::Finding;
use crate::ids::{OrgId, ScanId, TaskId};
use crate::scan::{Progress, ScanState};

/// What an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// `data`: `{ "from": state, "to": state, "reason": … }`.
    State,
    /// `data`: the scan's `Progress`.
    Progress,
    /// `data`: the stored `Finding`.
    Finding,
    /// `data`: `{ "task_id", "scanner", "target", "error" }`.
    TaskFailed,
    /// `data`: `{ "since" }`: the scan's tasks made no progress since `since` for longer than
    /// `scan.stuck_after` (once per stuck period; see `argus_engine::stuck`).
    Stuck,
    /// `data`: `{ "since" }`: the stuck period that began at `since` is over (a task finished,
    /// or the scan changed state).
    Unstuck,
}

impl EventKind {
    /// The wire name (also the SSE `event:` field).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::State => "state",
            EventKind::Progress => "progress",
            EventKind::Finding => "finding",
            EventKind::TaskFailed => "task_failed",
            EventKind::Stuck => "stuck",
            EventKind::Unstuck => "unstuck",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            EventKind::State,
            EventKind::Progress,
            EventKind::Finding,
            EventKind::TaskFailed,
            EventKind::Stuck,
            EventKind::Unstuck,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// What an event says, typed. On the wire (API, SSE, WebSocket, the stored `data` column) it is
/// the pair `kind` + `data` described on [`EventKind`]; [`EventData::to_json`] and
/// [`EventData::from_json`] convert, and nothing else reads or writes event payloads by key.
#[derive(Clone, Debug, PartialEq)]
pub enum EventData {
    /// A scan's state change.
    State {
        from: ScanState,
        to: ScanState,
        reason: Option<String>,
    },
    /// A scan's counters after a change.
    Progress(Progress),
    /// A finding as stored.
    Finding(Box<Finding>),
    /// A task failed for good.
    TaskFailed {
        task_id: TaskId,
        scanner: String,
        /// The task's target as the ledger holds it (`null` if that could not be read: an
        /// event is never refused for its payload).
        target: serde_json::Value,
        error: Option<String>,
    },
    /// A queued or running scan made no progress since `since` (its last task finished or its
    /// last state change) for longer than the configured `stuck_after`.
    Stuck { since: DateTime<Utc> },
    /// The stuck period that began at `since` ended.
    Unstuck { since: DateTime<Utc> },
}

/// The `data` of a `stuck` or `unstuck` event, as it travels.
#[derive(Serialize, Deserialize)]
struct StuckData {
    since: DateTime<Utc>,
}

/// The `data` of a `state` or `task_failed` event, as it travels.
#[derive(Serialize, Deserialize)]
struct StateData {
    from: ScanState,
    to: ScanState,
    reason: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct TaskFailedData {
    task_id: TaskId,
    scanner: String,
    target: serde_json::Value,
    error: Option<String>,
}

impl EventData {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            EventData::State { .. } => EventKind::State,
            EventData::Progress(_) => EventKind::Progress,
            EventData::Finding(_) => EventKind::Finding,
            EventData::TaskFailed { .. } => EventKind::TaskFailed,
            EventData::Stuck { .. } => EventKind::Stuck,
            EventData::Unstuck { .. } => EventKind::Unstuck,
        }
    }

    /// The wire form of `data` (a JSON object; its keys are sorted, as they always were).
    pub fn to_json(&self) -> serde_json::Value {
        let v = match self {
            EventData::State { from, to, reason } => serde_json::to_value(StateData {
                from: *from,
                to: *to,
                reason: reason.clone(),
            }),
            EventData::Progress(p) => serde_json::to_value(p),
            EventData::Finding(f) => serde_json::to_value(f),
            EventData::TaskFailed {
                task_id,
                scanner,
                target,
                error,
            } => serde_json::to_value(TaskFailedData {
                task_id: *task_id,
                scanner: scanner.clone(),
                target: target.clone(),
                error: error.clone(),
            }),
            EventData::Stuck { since } | EventData::Unstuck { since } => {
                serde_json::to_value(StuckData { since: *since })
            }
        };
        // Plain data types: serialising them cannot fail.
        v.unwrap_or(serde_json::Value::Null)
    }

    /// Reads the wire form of an event of `kind`.
    pub fn from_json(kind: EventKind, data: serde_json::Value) -> serde_json::Result<Self> {
        Ok(match kind {
            EventKind::State => {
                let d: StateData = serde_json::from_value(data)?;
                EventData::State {
                    from: d.from,
                    to: d.to,
                    reason: d.reason,
                }
            }
            EventKind::Progress => EventData::Progress(serde_json::from_value(data)?),
            EventKind::Finding => EventData::Finding(Box::new(serde_json::from_value(data)?)),
            EventKind::TaskFailed => {
                let d: TaskFailedData = serde_json::from_value(data)?;
                EventData::TaskFailed {
                    task_id: d.task_id,
                    scanner: d.scanner,
                    target: d.target,
                    error: d.error,
                }
            }
            EventKind::Stuck => EventData::Stuck {
                since: serde_json::from_value::<StuckData>(data)?.since,
            },
            EventKind::Unstuck => EventData::Unstuck {
                since: serde_json::from_value::<StuckData>(data)?.since,
            },
        })
    }

    /// The state a `state` event moves to.
    pub fn state_to(&self) -> Option<ScanState> {
        match self {
            EventData::State { to, .. } => Some(*to),
            _ => None,
        }
    }
}

/// A committed event. Serialised as `{id, scan_id, org_id, kind, data, at}` (see [`EventData`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: i64,
    pub scan_id: ScanId,
    pub org_id: OrgId,
    pub data: EventData,
    pub at: DateTime<Utc>,
}

impl Event {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        self.data.kind()
    }
}

/// An event as it travels: the payload as its JSON object.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Event)]
struct EventWire {
    id: i64,
    scan_id: ScanId,
    #[schema(value_type = String)]
    org_id: OrgId,
    kind: EventKind,
    #[schema(value_type = Object)]
    data: serde_json::Value,
    at: DateTime<Utc>,
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        EventWire {
            id: self.id,
            scan_id: self.scan_id,
            org_id: self.org_id.clone(),
            kind: self.kind(),
            data: self.data.to_json(),
            at: self.at,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = EventWire::deserialize(d)?;
        Ok(Event {
            id: w.id,
            scan_id: w.scan_id,
            org_id: w.org_id,
            data: EventData::from_json(w.kind, w.data).map_err(serde::de::Error::custom)?,
            at: w.at,
        })
    }
}

impl utoipa::PartialSchema for Event {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <EventWire as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for Event {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Event")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(data: EventData) -> Event {
        Event {
            id: 7,
            scan_id: ScanId::new(),
            org_id: OrgId::parse("org-a").expect("org"),
            data,
            at: DateTime::from_timestamp_millis(1_700_000_000_123).expect("time"),
        }
    }

    /// The wire form is what `json!` built before the payload was typed: same keys, sorted.
    #[test]
    fn wire_form_is_unchanged() {
        let e = event(EventData::State {
            from: ScanState::Running,
            to: ScanState::Completed,
            reason: None,
        });
        let old = json!({
            "id": 7,
            "scan_id": e.scan_id,
            "org_id": "org-a",
            "kind": "state",
            "data": json!({ "from": ScanState::Running, "to": ScanState::Completed, "reason": None::<String> }),
            "at": e.at,
        });
        let text = serde_json::to_string(&e).expect("encode");
        assert_eq!(
            text,
            format!(
                r#"{{"id":7,"scan_id":"{}","org_id":"org-a","kind":"state","data":{},"at":{}}}"#,
                e.scan_id,
                old["data"],
                serde_json::to_string(&e.at).expect("time")
            )
        );
        let back: Event = serde_json::from_str(&text).expect("decode");
        assert_eq!(back, e);

        let task = TaskId::new();
        let failed = EventData::TaskFailed {
            task_id: task,
            scanner: "noop".into(),
            target: json!({"kind": "domain", "value": "a.b"}),
            error: Some("boom".into()),
        };
        assert_eq!(
            serde_json::to_string(&failed.to_json()).expect("encode"),
            serde_json::to_string(&json!({
                "task_id": task.to_string(),
                "scanner": "noop",
                "target": {"kind": "domain", "value": "a.b"},
                "error": "boom",
            }))
            .expect("encode")
        );
        assert_eq!(
            EventData::from_json(EventKind::TaskFailed, failed.to_json()).expect("decode"),
            failed
        );
        let p = Progress {
            enqueued: 3,
            done: 1,
            ..Progress::default()
        };
        assert_eq!(
            EventData::Progress(p.clone()).to_json(),
            serde_json::to_value(&p).expect("encode")
        );
    }

    #[test]
    fn stuck_events_round_trip() {
        let since = DateTime::from_timestamp_millis(1_700_000_000_000).expect("time");
        for d in [EventData::Stuck { since }, EventData::Unstuck { since }] {
            let kind = d.kind();
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(d.to_json(), json!({ "since": since }));
            assert_eq!(EventData::from_json(kind, d.to_json()).expect("decode"), d);
        }
        assert!(EventData::from_json(EventKind::Stuck, json!({"done": 1})).is_err());
    }

    #[test]
    fn payload_must_match_kind() {
        assert!(EventData::from_json(EventKind::State, json!({"done": 1})).is_err());
        assert_eq!(
            EventData::from_json(
                EventKind::State,
                json!({"from": "running", "to": "cancelled", "reason": "stopped"})
            )
            .expect("decode")
            .state_to(),
            Some(ScanState::Cancelled)
        );
    }
}
