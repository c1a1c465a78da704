//! Events: every state change, progress tick, finding and task failure.
//!
//! Event ids come from one store-wide, strictly increasing sequence, assigned in the same
//! transaction as the change they describe. So ids are monotonic per scan and globally, and a
//! client that reconnects with `Last-Event-ID: n` gets exactly the events with id > n by replaying
//! from the store before following the live bus.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{OrgId, ScanId};

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
}

impl EventKind {
    /// The wire name (also the SSE `event:` field).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::State => "state",
            EventKind::Progress => "progress",
            EventKind::Finding => "finding",
            EventKind::TaskFailed => "task_failed",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            EventKind::State,
            EventKind::Progress,
            EventKind::Finding,
            EventKind::TaskFailed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A committed event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub id: i64,
    pub scan_id: ScanId,
    #[schema(value_type = String)]
    pub org_id: OrgId,
    pub kind: EventKind,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
}
