//! Live events: SSE (`/api/v1/scans/{id}/events`, `/api/v1/events`) and WebSocket
//! (`/api/v1/ws`): the HTTP framing of the engine's event streams.
//!
//! The streams come from the engine's events service (`argus_engine::follow`: replay from the
//! store, then follow the bus; each event once, in id order, resumable by id, and its rules for
//! where a stream starts). This module adds what is HTTP: the resume point (`Last-Event-ID`,
//! `?last_event_id=`, or `last_event_id` on the WebSocket), SSE frames and keep-alives, WebSocket
//! messages and subscriptions, and the end of every stream when the server shuts down
//! ([`Shutdown`]).
//!
//! Invariant: a scan's `state` event invalidates the scan in the [`ScanCache`] before it is
//! written to the client, so a client that saw a transition never then reads the older state.

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
use tokio_util::sync::CancellationToken;

use argus_core::event::{Event, EventKind};
use argus_core::ids::ScanId;
use argus_engine::follow::{EventStream, Follow};

use crate::auth::Caller;
use crate::cache::ScanCache;
use crate::dto::{parse_flag, EventParams};
use crate::extract::{ApiPath, ApiQuery};
use crate::problem::{ApiResult, Code, Problem};
use crate::AppState;

/// Cancelled when the server begins a graceful shutdown; live streams end on it.
#[derive(Clone, Debug)]
pub(crate) struct Shutdown(pub(crate) CancellationToken);

/// Comment lines sent on idle SSE streams so proxies keep them open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Hands an event on to the client: a `state` event first invalidates its scan in the cache
/// (the client may read the scan as soon as it sees the event: it must not be stale).
fn deliver(scans: &ScanCache, e: Event) -> Event {
    if e.kind() == EventKind::State {
        scans.invalidate(e.scan_id);
    }
    e
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

/// The SSE body of a stream; it ends with the stream or when the server shuts down.
fn sse_response(
    events: EventStream,
    scans: Arc<ScanCache>,
    cancel: CancellationToken,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let stream = events.take_until(cancel.cancelled_owned()).map(move |e| {
        let e = deliver(&scans, e);
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
    security(("bearer" = ["read"])),
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
    let events = state
        .engine
        .events()
        .follow(
            &caller,
            Follow {
                scan: Some(id),
                after,
                until_terminal,
            },
        )
        .await?;
    Ok(no_buffering(sse_response(
        events,
        state.scans.clone(),
        cancel_token(shutdown),
    )))
}

/// Live events of every scan of the caller's org (Server-Sent Events); same format and resume
/// rules as the per-scan stream, except that without `Last-Event-ID` it starts with the next
/// event committed (send `Last-Event-ID: 0` to replay the org's retained history first).
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
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
    let events = state
        .engine
        .events()
        .follow(
            &caller,
            Follow {
                scan: None,
                after,
                until_terminal: false,
            },
        )
        .await?;
    Ok(no_buffering(sse_response(
        events,
        state.scans.clone(),
        cancel_token(shutdown),
    )))
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
    security(("bearer" = ["read"])),
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
    // The current subscription; dropping it ends its follower.
    let mut current: Option<EventStream> = None;
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    loop {
        let step = {
            let next_event = async {
                match current.as_mut() {
                    Some(events) => events.recv().await,
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
                let e = deliver(&state.scans, e);
                let text = serde_json::to_string(&e).unwrap_or_else(|_| "{}".to_owned());
                if sink.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            // The follower finished (terminal event with `until_terminal`, or a store error).
            Step::Event(None) => current = None,
            Step::Incoming(Some(Ok(Message::Text(text)))) => {
                match subscribe(&state, &caller, text.as_str()).await {
                    // Replacing the subscription drops (and so ends) the previous one.
                    Ok(sub) => current = Some(sub),
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
}

async fn subscribe(state: &AppState, caller: &Caller, text: &str) -> Result<EventStream, Problem> {
    let msg: WsSubscribe = crate::extract::parse_json(text.as_bytes())?;
    let scan = if msg.subscribe == "*" {
        None
    } else {
        let id = msg
            .subscribe
            .parse::<ScanId>()
            .map_err(|_| Problem::invalid("/subscribe", "expected a scan id or \"*\""))?;
        Some(id)
    };
    // `until_terminal` applies to scan subscriptions only (the engine ignores it for `*`).
    let events = state
        .engine
        .events()
        .follow(
            caller,
            Follow {
                scan,
                after: msg.last_event_id,
                until_terminal: msg.until_terminal,
            },
        )
        .await?;
    Ok(events)
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
