//! `/runs/ws`: the Discovery API's socket. It pushes run status changes of the caller's org
//! (`RUN_CREATED`, `RUN_STATUS_CHANGED`, and Argus's `RUN_PROGRESS`) and answers the Discovery
//! client actions (`QUERY`, `RUN_TASK`) in between.
//!
//! The pushed messages come from the engine's org event stream (`events().follow`, the same one
//! `/api/v1/ws` serves), opened *before* the upgrade is answered: every event committed after
//! the client saw `101` reaches it, so a client may connect, then create runs, and miss nothing.
//! Each `state` or `progress` event of a scan that is a run becomes at most two messages
//! ([`model::state_events`]); events of scans that are not runs are skipped. What a run is (its
//! name, owner, parent, params) is read once per run and remembered for the session.
//!
//! Invariant: everything is read as the caller: the stream is the caller's org's, and `QUERY`
//! and `RUN_TASK` go through the same org-scoped services as the HTTP routes. Opening the
//! socket needs `read`; `RUN_TASK` checks `write` itself, as `POST /runs` would.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use argus_core::event::{Event, EventData};
use argus_core::ids::ScanId;
use argus_engine::follow::{EventStream, Follow};

use super::model::{self, is_run, run_of, RunMeta, RunRequest, WsAction, WsEvent, WsQuery};
use super::{load_run, start_run};
use crate::auth::Caller;
use crate::live::Shutdown;
use crate::problem::{Code, Problem};
use crate::AppState;

/// Runs remembered per session before the memory is cleared (it is only a cache).
const MEMORY: usize = 10_000;

/// The Discovery socket: pushes `{"event", "data"}` for every run status change of the caller's
/// org and answers `{"action": "QUERY", "data": {"id", "owner_id"?}}` (the run and its sub-runs)
/// and `{"action": "RUN_TASK", "data": <run request>}` (`{"id"}` of the new run) with
/// `{"success": true, "data"}` or `{"success": false, "message", "error": <problem>}`.
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/runs/ws",
    tag = "discovery",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol; the schema describes one pushed message", body = WsEvent),
        (status = 400, description = "Not a WebSocket upgrade request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn runs_ws(
    State(state): State<AppState>,
    caller: Caller,
    shutdown: Option<Extension<Shutdown>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            let mut p = Problem::new(Code::BadRequest, e.body_text());
            p.status = e.status().as_u16();
            return p.into_response();
        }
    };
    // Opened before answering 101 (see the module docs).
    let events = match state
        .engine
        .events()
        .follow(
            &caller,
            Follow {
                scan: None,
                after: None,
                until_terminal: false,
            },
        )
        .await
    {
        Ok(e) => e,
        Err(e) => return Problem::from(e).into_response(),
    };
    let cancel = shutdown
        .map(|Extension(Shutdown(t))| t.child_token())
        .unwrap_or_default();
    ws.on_upgrade(move |socket| session(socket, state, caller, events, cancel))
}

enum Step {
    Stop,
    Ping,
    Event(Option<Event>),
    Incoming(Option<Result<Message, axum::Error>>),
}

async fn session(
    socket: WebSocket,
    state: AppState,
    caller: Caller,
    mut events: EventStream,
    cancel: CancellationToken,
) {
    let (mut sink, mut incoming) = socket.split();
    // Per scan: what the run is, or `None` for a scan that is not a run (or is gone).
    let mut known: HashMap<ScanId, Option<RunMeta>> = HashMap::new();
    let mut following = true;
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    loop {
        let step = {
            let next_event = async {
                if following {
                    events.recv().await
                } else {
                    std::future::pending().await
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => Step::Stop,
                _ = ping.tick() => Step::Ping,
                ev = next_event => Step::Event(ev),
                msg = incoming.next() => Step::Incoming(msg),
            }
        };
        let out: Vec<Value> = match step {
            Step::Stop => break,
            Step::Ping => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
                continue;
            }
            Step::Event(Some(e)) => {
                if e.kind() == argus_core::event::EventKind::State {
                    // Same rule as the other live streams: a client that saw a transition must
                    // not then read the older state from the cache.
                    state.scans.invalidate(e.scan_id);
                }
                messages(&state, &caller, &mut known, &e)
                    .await
                    .into_iter()
                    .map(|m| serde_json::to_value(m).unwrap_or(Value::Null))
                    .collect()
            }
            // The stream ended (a store error or the bus closed): actions are still answered.
            Step::Event(None) => {
                following = false;
                continue;
            }
            Step::Incoming(Some(Ok(Message::Text(text)))) => {
                vec![answer(&state, &caller, text.as_str()).await]
            }
            Step::Incoming(Some(Ok(Message::Close(_))) | None | Some(Err(_))) => break,
            Step::Incoming(Some(Ok(_))) => continue,
        };
        for v in out {
            if sink
                .send(Message::Text(v.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// The messages of one engine event (none for scans that are not runs, and for findings and
/// task failures, which the progress events count).
async fn messages(
    state: &AppState,
    caller: &Caller,
    known: &mut HashMap<ScanId, Option<RunMeta>>,
    e: &Event,
) -> Vec<WsEvent> {
    if !matches!(e.data, EventData::State { .. } | EventData::Progress(_)) {
        return Vec::new();
    }
    if !known.contains_key(&e.scan_id) {
        if known.len() >= MEMORY {
            known.clear();
        }
        let meta = match state.engine.scans().get(caller, e.scan_id).await {
            Ok(scan) if is_run(&scan) => Some(RunMeta::of(&scan)),
            // Not a run, or deleted since (nothing to say about it), or unreadable: skip it
            // rather than end the socket.
            _ => None,
        };
        known.insert(e.scan_id, meta);
    }
    let Some(Some(meta)) = known.get_mut(&e.scan_id) else {
        return Vec::new();
    };
    match &e.data {
        EventData::State { from, to, reason } => {
            meta.status = model::run_status(*to);
            model::state_events(e.scan_id, meta, *from, *to, reason.as_deref(), e.at)
        }
        EventData::Progress(p) => {
            let fraction = p.fraction();
            let percent = if p.is_complete() {
                100
            } else {
                // In [0, 1] by `fraction`'s contract.
                (fraction * 100.0).floor().clamp(0.0, 100.0) as u8
            };
            vec![WsEvent {
                event: "RUN_PROGRESS",
                data: json!({
                    "id": e.scan_id,
                    "name": meta.name,
                    "status": meta.status,
                    "progress": percent,
                    "result_count": p.findings,
                }),
            }]
        }
        _ => Vec::new(),
    }
}

/// The answer to one client message.
async fn answer(state: &AppState, caller: &Caller, text: &str) -> Value {
    let failure = |p: Problem| json!({"success": false, "message": p.detail.clone(), "error": p});
    let msg: WsAction = match crate::extract::parse_json(text.as_bytes()) {
        Ok(m) => m,
        Err(p) => return failure(p),
    };
    match msg.action.as_str() {
        "QUERY" => {
            let q: WsQuery = match parse(msg.data) {
                Ok(q) => q,
                Err(p) => return failure(p),
            };
            match query(state, caller, &q).await {
                Ok(runs) => json!({"success": true, "data": runs}),
                Err(p) => failure(p),
            }
        }
        "RUN_TASK" => {
            // The socket is opened with `read`; starting a run needs what `POST /runs` needs.
            if !caller.role.allows(argus_core::ids::Permission::Write) {
                return failure(Problem::new(
                    crate::problem::Code::Forbidden,
                    format!(
                        "RUN_TASK needs the write permission; role {} does not have it",
                        caller.role
                    ),
                ));
            }
            let req: RunRequest = match parse(msg.data) {
                Ok(r) => r,
                Err(p) => return failure(p),
            };
            match start_run(state, caller, req).await {
                Ok(scan) => json!({"success": true, "data": {"id": scan.id}}),
                Err(mut p) => {
                    p.path = p.path.map(|path| format!("/data{path}"));
                    failure(p)
                }
            }
        }
        other => failure(Problem::invalid(
            "/action",
            format!("Invalid action: {other} (QUERY or RUN_TASK)"),
        )),
    }
}

/// An action's `data` as `T`; a problem at `/data/…` when it does not fit.
fn parse<T: serde::de::DeserializeOwned>(data: Value) -> Result<T, Problem> {
    let bytes = serde_json::to_vec(&data).unwrap_or_default();
    crate::extract::parse_json(&bytes).map_err(|mut p| {
        p.path = p.path.map(|path| format!("/data{path}"));
        p
    })
}

/// `QUERY`: the run and its sub-runs (empty when there is no such run of the org, or its owner
/// is not `owner_id`), as the Discovery socket answered.
async fn query(state: &AppState, caller: &Caller, q: &WsQuery) -> Result<Vec<model::Run>, Problem> {
    let Ok(id) = q.id.parse::<ScanId>() else {
        return Ok(Vec::new());
    };
    let run = match load_run(state, caller, id).await {
        Ok(scan) => run_of(&scan),
        Err(p) if p.code == Code::NotFound => return Ok(Vec::new()),
        Err(p) => return Err(p),
    };
    if q.owner_id.as_ref().is_some_and(|o| *o != run.owner_id) {
        return Ok(Vec::new());
    }
    let children = super::runs_matching(
        state,
        caller,
        &model::RunFilters {
            parent_id: Some(id.to_string()),
            ..model::RunFilters::default()
        },
    )
    .await?;
    let mut out = vec![run];
    out.extend(children);
    Ok(out)
}
