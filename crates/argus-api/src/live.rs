//! Live events: SSE (`/api/v1/scans/{id}/events`, `/api/v1/events`) and WebSocket
//! (`/api/v1/ws`), sharing one follower.
//!
//! The follower guarantees that a client resuming after event `n` receives every event with id
//! `> n` of its org (and scan), in id order, exactly once:
//! 1. it subscribes to the bus *before* reading the store, so nothing committed after the
//!    replay can be missed;
//! 2. it replays from the store (`events_after`, pages of 1000) until caught up;
//! 3. afterwards a bus event is only a *signal*: the follower reads the store again from the
//!    last id it sent. Forwarding bus events directly would be cheaper but wrong: publishers
//!    publish after their own commit, so two concurrent commits can reach the bus out of id
//!    order, and "skip ids ≤ last sent" would then drop the lower one. The store is ordered.
//! 4. A lagging bus receiver (`RecvError::Lagged`) simply triggers the same store read.
//! 5. An idle stream re-reads the store every [`IDLE_RESYNC`] as well: a cross-process bus can
//!    lose events while it reconnects to its broker, and this bounds how late they arrive.
//!
//! Where a stream starts: after the client's resume point (`Last-Event-ID`, `?last_event_id=`,
//! or `last_event_id` on the WebSocket) when it gives one. Without one, a scan stream replays the
//! scan's events from the beginning (bounded, and what a progress view wants), while an org-wide
//! stream starts *now* — at the first event committed after it connected — because replaying an
//! organisation's whole retained history to every dashboard that connects would be a flood. A
//! client that wants the org history asks for it with a resume point of 0.
//!
//! Streams end when the client goes away, when the server shuts down ([`Shutdown`]), or — with
//! `until_terminal` — after the scan's terminal `state` event.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::{SinkExt, Stream, StreamExt};
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use argus_core::event::{Event, EventKind};
use argus_core::ids::{OrgId, ScanId};
use argus_core::scan::ScanState;
use argus_engine::Engine;

use crate::auth::Caller;
use crate::cache::ScanCache;
use crate::dto::{parse_flag, EventParams};
use crate::extract::{ApiPath, ApiQuery};
use crate::problem::{ApiResult, Code, Problem};
use crate::AppState;

/// Cancelled when the server begins a graceful shutdown; live streams end on it.
#[derive(Clone, Debug)]
pub(crate) struct Shutdown(pub(crate) CancellationToken);

/// Events per store read while catching up.
const PAGE: u32 = 1000;
/// Store re-read period of an idle follower (see module docs, point 5).
const IDLE_RESYNC: Duration = Duration::from_secs(2);
/// Comment lines sent on idle SSE streams so proxies keep them open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What a follower streams.
#[derive(Clone, Debug)]
struct Filter {
    org: OrgId,
    scan: Option<ScanId>,
    until_terminal: bool,
}

impl Filter {
    fn matches(&self, e: &Event) -> bool {
        e.org_id == self.org && self.scan.is_none_or(|s| s == e.scan_id)
    }
}

/// Whether an event is a scan's move into a terminal state.
fn is_terminal(e: &Event) -> bool {
    e.data.state_to().is_some_and(ScanState::is_terminal)
}

enum Flow {
    Continue,
    Stop,
}

/// Starts a follower task; its events arrive on the returned channel, which closes when the
/// stream is over. The task ends when the receiver is dropped or `cancel` fires.
fn follow(
    engine: Arc<Engine>,
    scans: Arc<ScanCache>,
    filter: Filter,
    after: Option<i64>,
    cancel: CancellationToken,
) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel(256);
    // Subscribe before answering the request: anything committed once the client has its
    // response is either in the replay or signalled (and "starts now" means now).
    let bus = engine.bus().subscribe();
    tokio::spawn(async move {
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = run_follower(&engine, &scans, &filter, after, bus, &tx) => {}
        }
    });
    rx
}

async fn run_follower(
    engine: &Engine,
    scans: &ScanCache,
    filter: &Filter,
    after: Option<i64>,
    mut bus: broadcast::Receiver<Arc<Event>>,
    tx: &mpsc::Sender<Event>,
) {
    let mut last = match after {
        Some(n) => n.max(0),
        None if filter.scan.is_some() => 0,
        None => match first_live(&mut bus, filter, tx).await {
            Some(floor) => floor,
            None => return,
        },
    };
    if let Flow::Stop = catch_up(engine, scans, filter, &mut last, tx).await {
        return;
    }
    if filter.until_terminal {
        // A client resuming after the terminal event has nothing left to wait for.
        if let Some(scan) = filter.scan {
            match engine.store().get_scan(&filter.org, scan).await {
                Ok(s) if s.state.is_terminal() => {
                    let _ = catch_up(engine, scans, filter, &mut last, tx).await;
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "event stream ends: scan unreadable");
                    return;
                }
            }
        }
    }
    loop {
        let signalled = tokio::select! {
            _ = tx.closed() => return,
            r = bus.recv() => match r {
                Ok(e) => filter.matches(&e) && e.id > last,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(skipped = n, "event follower lagged; replaying from the store");
                    true
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tokio::time::sleep(IDLE_RESYNC) => true,
        };
        if !signalled {
            continue;
        }
        // Coalesce a burst into one store read.
        while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = bus.try_recv() {}
        if let Flow::Stop = catch_up(engine, scans, filter, &mut last, tx).await {
            return;
        }
    }
}

/// For a stream that starts now: waits for the first event of the filter on the bus and returns
/// the id just before it (the replay then starts with that event). `None` when the client left.
async fn first_live(
    bus: &mut broadcast::Receiver<Arc<Event>>,
    filter: &Filter,
    tx: &mpsc::Sender<Event>,
) -> Option<i64> {
    loop {
        tokio::select! {
            _ = tx.closed() => return None,
            r = bus.recv() => match r {
                Ok(e) if filter.matches(&e) => return Some(e.id - 1),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            },
        }
    }
}

/// Sends every stored event after `last`; `Stop` when the stream is over (client gone, terminal
/// event sent with `until_terminal`, or the store failed — the client resumes by id).
async fn catch_up(
    engine: &Engine,
    scans: &ScanCache,
    filter: &Filter,
    last: &mut i64,
    tx: &mpsc::Sender<Event>,
) -> Flow {
    loop {
        let page = match engine
            .store()
            .events_after(&filter.org, filter.scan, *last, PAGE)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "event stream ends: cannot read events");
                return Flow::Stop;
            }
        };
        let full = page.len() >= PAGE as usize;
        for e in page {
            if e.id <= *last {
                continue;
            }
            *last = e.id;
            if e.kind() == EventKind::State {
                // The client may read the scan as soon as it sees this: it must not be stale.
                scans.invalidate(e.scan_id);
            }
            let terminal = filter.until_terminal && is_terminal(&e);
            if tx.send(e).await.is_err() {
                return Flow::Stop;
            }
            if terminal {
                return Flow::Stop;
            }
        }
        if !full {
            return Flow::Continue;
        }
    }
}

/// `Last-Event-ID` header, else the `last_event_id` query parameter, else none. Each one sent
/// must be a non-negative integer (an event id), even when the header makes the query value
/// moot: a bad header is a 400 (a malformed request header), a bad query value a 422 at
/// `/last_event_id` like any other query parameter.
fn resume_point(headers: &HeaderMap, query: Option<&str>) -> Result<Option<i64>, Problem> {
    let event_id = |s: &str| s.parse::<i64>().ok().filter(|_| crate::dto::is_digits(s));
    let query = match query {
        None => None,
        Some(s) => Some(event_id(s).ok_or_else(|| {
            Problem::invalid(
                "/last_event_id",
                "last_event_id must be an event id: a non-negative integer",
            )
        })?),
    };
    let mut sent = headers.get_all("last-event-id").iter();
    if let Some(v) = sent.next() {
        let parsed = v
            .to_str()
            .ok()
            .and_then(event_id)
            .filter(|_| sent.next().is_none());
        return match parsed {
            Some(n) => Ok(Some(n)),
            None => Err(Problem::new(
                Code::BadRequest,
                "Last-Event-ID must be one event id: a non-negative integer",
            )),
        };
    }
    Ok(query)
}

fn cancel_token(shutdown: Option<Extension<Shutdown>>) -> CancellationToken {
    shutdown
        .map(|Extension(Shutdown(t))| t.child_token())
        .unwrap_or_default()
}

fn sse_response(
    rx: mpsc::Receiver<Event>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let stream = ReceiverStream::new(rx).map(|e| {
        let data = serde_json::to_string(&e).unwrap_or_else(|_| "{}".to_owned());
        Ok(SseEvent::default()
            .id(e.id.to_string())
            .event(e.kind().as_str())
            .data(data))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

fn no_buffering(sse: impl IntoResponse) -> Response {
    let mut res = sse.into_response();
    // Reverse proxies (nginx) would otherwise hold events back.
    res.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}

/// Live events of one scan (Server-Sent Events).
///
/// Each event has `id: <event id>`, `event: <kind>` (`state`, `progress`, `finding`,
/// `task_failed`) and `data: <Event JSON>`. Reconnect with `Last-Event-ID` (or
/// `?last_event_id=`) to receive exactly the events after it. With `?until_terminal=true` the
/// stream ends after the scan's terminal `state` event.
#[utoipa::path(
    get,
    path = "/scans/{id}/events",
    tag = "events",
    params(
        ("id" = String, Path, format = Uuid, description = "Scan id"),
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, minimum = 0, description = "Resume after this event id"),
        EventParams,
    ),
    responses(
        (status = 200, description = "Event stream; the schema describes one event", body = SseFrame, content_type = "text/event-stream"),
        (status = 400, description = "Bad Last-Event-ID header", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such scan", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad query parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn scan_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
    ApiQuery(q): ApiQuery<EventParams>,
    shutdown: Option<Extension<Shutdown>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let after = resume_point(&headers, q.last_event_id.as_deref())?;
    let until_terminal = parse_flag(q.until_terminal.as_deref(), "until_terminal")?;
    state.engine.store().get_scan(&caller.org, id).await?;
    let filter = Filter {
        org: caller.org.clone(),
        scan: Some(id),
        until_terminal,
    };
    let rx = follow(
        state.engine.clone(),
        state.scans.clone(),
        filter,
        after,
        cancel_token(shutdown),
    );
    Ok(no_buffering(sse_response(rx)))
}

/// Live events of every scan of the caller's org (Server-Sent Events); same format and resume
/// rules as the per-scan stream, except that without `Last-Event-ID` it starts with the next
/// event committed (send `Last-Event-ID: 0` to replay the org's retained history first).
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    params(
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, minimum = 0, description = "Resume after this event id"),
        EventParams,
    ),
    responses(
        (status = 200, description = "Event stream; the schema describes one event", body = SseFrame, content_type = "text/event-stream"),
        (status = 400, description = "Bad Last-Event-ID header", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad query parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn org_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<EventParams>,
    shutdown: Option<Extension<Shutdown>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let after = resume_point(&headers, q.last_event_id.as_deref())?;
    // `until_terminal` has no meaning across scans; it is accepted and ignored.
    parse_flag(q.until_terminal.as_deref(), "until_terminal")?;
    let filter = Filter {
        org: caller.org.clone(),
        scan: None,
        until_terminal: false,
    };
    let rx = follow(
        state.engine.clone(),
        state.scans.clone(),
        filter,
        after,
        cancel_token(shutdown),
    );
    Ok(no_buffering(sse_response(rx)))
}

/// One Server-Sent Event as it is sent (OpenAPI 3.1 reads the schema of a `text/event-stream`
/// body as the schema of each event).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: the frames are written by axum's `Sse`
pub(crate) struct SseFrame {
    /// The event id; send it back as `Last-Event-ID` to resume after this event.
    #[schema(pattern = "^[0-9]+$")]
    id: String,
    /// The event's kind: `state`, `progress`, `finding` or `task_failed`.
    event: String,
    /// The event as JSON (`id`, `scan_id`, `org_id`, `kind`, `data`, `at`).
    #[schema(content_media_type = "application/json")]
    data: String,
}

/// A client message on the WebSocket.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WsSubscribe {
    /// A scan id, or `*` for every scan of the org. Replaces any previous subscription.
    subscribe: String,
    /// Resume after this event id. Without it a scan subscription replays the scan from its
    /// first event and `*` starts with the next event committed.
    #[serde(default)]
    last_event_id: Option<i64>,
    /// End the subscription after the scan's terminal `state` event (scan subscriptions only).
    #[serde(default)]
    until_terminal: bool,
}

/// Live events over a WebSocket.
///
/// Send `{"subscribe": "<scan id>"}` or `{"subscribe": "*"}` (optionally with `last_event_id`
/// and `until_terminal`); the server then sends each Event as a JSON text message, with the same
/// replay and ordering guarantees as SSE (`*` without `last_event_id` starts with the next event). A new `subscribe` replaces the previous one. Errors
/// arrive as `{"error": <problem>}`.
#[utoipa::path(
    get,
    path = "/ws",
    tag = "events",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn websocket(
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
    let cancel = cancel_token(shutdown);
    ws.on_upgrade(move |socket| ws_session(socket, state, caller, cancel))
}

enum Step {
    Stop,
    Ping,
    Event(Option<Event>),
    Incoming(Option<Result<Message, axum::Error>>),
}

async fn ws_session(socket: WebSocket, state: AppState, caller: Caller, cancel: CancellationToken) {
    let (mut sink, mut incoming) = socket.split();
    // The current subscription: its token (to end the follower) and its events.
    let mut current: Option<(CancellationToken, mpsc::Receiver<Event>)> = None;
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    loop {
        let step = {
            let next_event = async {
                match current.as_mut() {
                    Some((_, rx)) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => Step::Stop,
                _ = ping.tick() => Step::Ping,
                ev = next_event => Step::Event(ev),
                msg = incoming.next() => Step::Incoming(msg),
            }
        };
        match step {
            Step::Stop => break,
            Step::Ping => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
            Step::Event(Some(e)) => {
                let text = serde_json::to_string(&e).unwrap_or_else(|_| "{}".to_owned());
                if sink.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            // The follower finished (terminal event with `until_terminal`, or a store error).
            Step::Event(None) => current = None,
            Step::Incoming(Some(Ok(Message::Text(text)))) => {
                match subscribe(&state, &caller, text.as_str(), &cancel).await {
                    Ok(sub) => {
                        if let Some((old, _)) = current.replace(sub) {
                            old.cancel();
                        }
                    }
                    Err(p) => {
                        let body = serde_json::json!({ "error": p });
                        if sink
                            .send(Message::Text(body.to_string().into()))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            }
            Step::Incoming(Some(Ok(Message::Close(_))) | None | Some(Err(_))) => break,
            Step::Incoming(Some(Ok(_))) => {}
        }
    }
    if let Some((token, _)) = current {
        token.cancel();
    }
}

async fn subscribe(
    state: &AppState,
    caller: &Caller,
    text: &str,
    parent: &CancellationToken,
) -> Result<(CancellationToken, mpsc::Receiver<Event>), Problem> {
    let msg: WsSubscribe = crate::extract::parse_json(text.as_bytes())?;
    let scan = if msg.subscribe == "*" {
        None
    } else {
        let id = msg
            .subscribe
            .parse::<ScanId>()
            .map_err(|_| Problem::invalid("/subscribe", "expected a scan id or \"*\""))?;
        state.engine.store().get_scan(&caller.org, id).await?;
        Some(id)
    };
    let filter = Filter {
        org: caller.org.clone(),
        scan,
        until_terminal: msg.until_terminal && scan.is_some(),
    };
    let token = parent.child_token();
    let rx = follow(
        state.engine.clone(),
        state.scans.clone(),
        filter,
        msg.last_event_id,
        token.clone(),
    );
    Ok((token, rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_point_prefers_header() {
        let mut h = HeaderMap::new();
        assert_eq!(resume_point(&h, None).unwrap(), None);
        assert_eq!(resume_point(&h, Some("7")).unwrap(), Some(7));
        h.insert("last-event-id", "42".parse().unwrap());
        assert_eq!(resume_point(&h, Some("7")).unwrap(), Some(42));
        for bad in ["x", "-1", "+1", "1.5", ""] {
            h.insert("last-event-id", bad.parse().unwrap());
            assert_eq!(resume_point(&h, None).unwrap_err().status, 400, "{bad:?}");
        }
        h.insert("last-event-id", "1".parse().unwrap());
        h.append("last-event-id", "2".parse().unwrap());
        assert_eq!(resume_point(&h, None).unwrap_err().status, 400);
        let none = HeaderMap::new();
        let mut good = HeaderMap::new();
        good.insert("last-event-id", "3".parse().unwrap());
        for bad in ["x", "-1", "", "9223372036854775808"] {
            assert_eq!(
                resume_point(&none, Some(bad)).unwrap_err().status,
                422,
                "{bad:?}"
            );
            // The header wins, but a bad query value is still refused.
            assert_eq!(
                resume_point(&good, Some(bad)).unwrap_err().status,
                422,
                "{bad:?}"
            );
        }
    }
}
