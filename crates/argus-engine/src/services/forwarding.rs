//! The forwarding service: what the configured sinks are doing (`GET /api/v1/sinks`) and the
//! events they gave up on (dead letters).
//!
//! Sinks are the operator's (`[[sinks]]`), shared by every org: their state (cursor, lag,
//! counters, last error) is shown without credentials — a sink's `endpoint()` never carries
//! one. Dead letters hold events, so they are listed for the caller's org only.

use serde::Serialize;

use argus_core::error::{CoreError, Result};
use argus_core::finding::Page;
use argus_core::ids::Principal;
use argus_core::sink::{DeadLetter, SinkFilter, SinkState};

use crate::forward::{Feed, LiveStatus};
use crate::Engine;

/// The forwarding service.
pub struct Forwarding<'a> {
    pub(crate) engine: &'a Engine,
}

/// One sink as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SinkView {
    pub name: String,
    /// The destination type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where it sends, without credentials.
    pub endpoint: String,
    pub enabled: bool,
    /// What it forwards.
    pub filter: SinkFilter,
    /// Events committed after the cursor, by id (the store's newest id minus the cursor).
    pub lag: i64,
    /// Cursor and counters, as saved in the store by the process forwarding for it.
    pub state: SinkState,
    /// This process's live view (buffer, retries), when it forwards for the sink.
    pub live: LiveStatus,
    /// The audit feed (`audit` events), when the sink's filter admits them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditFeedView>,
}

/// A sink's audit feed: its own cursor, lag and live view (see `forward`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AuditFeedView {
    /// Audit records after the cursor, by id.
    pub lag: i64,
    /// Cursor and counters of the feed (saved as `<name>#audit`).
    pub state: SinkState,
    pub live: LiveStatus,
}

impl Forwarding<'_> {
    /// Every configured sink with its state.
    pub async fn list(&self, _who: &Principal) -> Result<Vec<SinkView>> {
        views(self.engine).await
    }

    /// One sink by name; `NotFound` if none is configured by that name.
    pub async fn get(&self, who: &Principal, name: &str) -> Result<SinkView> {
        self.list(who)
            .await?
            .into_iter()
            .find(|v| v.name == name)
            .ok_or_else(|| not_found(name))
    }

    /// The caller's org's dead letters of one sink, newest first.
    pub async fn dead_letters(
        &self,
        who: &Principal,
        name: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Page<DeadLetter>> {
        if !self
            .engine
            .forwarders()
            .iter()
            .any(|f| f.spec.settings.name == name)
        {
            return Err(not_found(name));
        }
        self.engine
            .store()
            .list_dead_letters(&who.org, name, before, limit.clamp(1, 500))
            .await
    }
}

/// Every configured sink with its state: the sinks are the operator's, the same for every
/// caller (also read by the metrics scrape, which has no caller).
pub(crate) async fn views(engine: &Engine) -> Result<Vec<SinkView>> {
    if engine.forwarders().is_empty() {
        return Ok(Vec::new());
    }
    let store = engine.store();
    let last = store.last_event_id().await?;
    let last_audit = store.last_audit_id().await?;
    let mut out = Vec::new();
    for f in engine.forwarders() {
        let s = &f.spec.settings;
        let state = store
            .sink_state(&s.name)
            .await?
            .unwrap_or_else(|| SinkState {
                name: s.name.clone(),
                cursor: last,
                ..SinkState::default()
            });
        let audit = if f.forwards_audit() {
            let name = Feed::Audit.state_name(&s.name);
            let state = store.sink_state(&name).await?.unwrap_or_else(|| SinkState {
                name,
                cursor: last_audit,
                ..SinkState::default()
            });
            Some(AuditFeedView {
                lag: (last_audit - state.cursor).max(0),
                state,
                live: f.audit_live(),
            })
        } else {
            None
        };
        out.push(SinkView {
            name: s.name.clone(),
            kind: f.spec.sink.kind().to_owned(),
            endpoint: f.spec.sink.endpoint(),
            enabled: s.enabled,
            filter: s.filter(),
            lag: (last - state.cursor).max(0),
            state,
            live: f.live(),
            audit,
        });
    }
    Ok(out)
}

fn not_found(name: &str) -> CoreError {
    CoreError::not_found("sink", name)
}
