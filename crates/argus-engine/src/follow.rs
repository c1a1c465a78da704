//! Following events: replay from the store, then follow the bus. The one path that SSE,
//! WebSocket and (later) sinks share; the HTTP framing stays in `argus-api`.
//!
//! A stream ([`EventStream`]) delivers every event with id `> after` of its org (and scan), in
//! id order, each once. Across reconnects delivery is at-least-once: a consumer that resumes
//! after the last id it processed misses nothing and sees nothing twice; one that resumes from an
//! older id sees the events after it again. How:
//! 1. the follower subscribes to the bus *before* reading the store, so nothing committed after
//!    the replay can be missed;
//! 2. it replays from the store (`events_after`, pages of [`PAGE`]) until caught up;
//! 3. afterwards a bus event is only a *signal*: the follower reads the store again from the
//!    last id it sent. Forwarding bus events directly would be cheaper but wrong: publishers
//!    publish after their own commit, so two concurrent commits can reach the bus out of id
//!    order, and "skip ids ≤ last sent" would then drop the lower one. The store is ordered.
//! 4. A lagging bus receiver (`RecvError::Lagged`) simply triggers the same store read.
//! 5. An idle stream re-reads the store every [`IDLE_RESYNC`] as well: a cross-process bus can
//!    lose events while it reconnects to its broker, and this bounds how late they arrive.
//!
//! Where a stream starts: after the consumer's resume point when it gives one. Without one, a
//! scan stream replays the scan's events from the beginning (bounded, and what a progress view
//! wants), while an org-wide stream starts *now* — at the first event committed after it was
//! opened — because replaying an organisation's whole retained history to every dashboard that
//! connects would be a flood. A consumer that wants the org history asks for it with a resume
//! point of 0.
//!
//! A scan stream's first replay read happens when the stream is opened: it is scoped by org and
//! scan, so it also answers whether the scan is the caller's (`NotFound` otherwise) without a
//! separate read of the scan. A stream ends when it is dropped, when the store fails (the
//! consumer resumes by id), when the bus closes, or — with `until_terminal` — after the scan's
//! terminal `state` event.

use futures::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::{CancellationToken, DropGuard};

use argus_core::bus::EventBus;
use argus_core::error::Result;
use argus_core::event::Event;
use argus_core::ids::{OrgId, ScanId};
use argus_core::scan::ScanState;
use argus_core::store::Store;

/// Events per store read while catching up.
pub const PAGE: u32 = 1000;
/// Store re-read period of an idle follower (see module docs, point 5).
pub const IDLE_RESYNC: Duration = Duration::from_secs(2);
/// Events a follower may run ahead of its consumer before it waits for it.
const BUFFER: usize = 256;

/// What to follow (see the module docs for where a stream starts).
#[derive(Clone, Debug, Default)]
pub struct Follow {
    /// One scan of the caller's org, or every scan of it (`None`).
    pub scan: Option<ScanId>,
    /// Resume after this event id (negative ids count as 0).
    pub after: Option<i64>,
    /// End after the scan's terminal `state` event; only for a scan stream (ignored otherwise).
    pub until_terminal: bool,
}

/// A followed stream of events, in id order; ends as the module docs say. Dropping it stops its
/// follower.
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::Receiver<Event>,
    _stop: DropGuard,
}

impl EventStream {
    /// The next event; `None` once the stream is over.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

impl Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

/// Opens a stream of `org`'s events and starts its follower task. A scan stream's first page is
/// read here (`NotFound` when the scan is not `org`'s).
pub(crate) async fn open(
    store: Arc<dyn Store>,
    bus: &dyn EventBus,
    org: OrgId,
    follow: Follow,
) -> Result<EventStream> {
    let filter = Filter {
        until_terminal: follow.until_terminal && follow.scan.is_some(),
        scan: follow.scan,
        org,
    };
    // Subscribe before the first store read and before the stream is handed out: anything
    // committed from now on is either in the replay or signalled (and "starts now" means now).
    let bus = bus.subscribe();
    let start = match (filter.scan, follow.after) {
        (Some(scan), after) => {
            let last = after.unwrap_or(0).max(0);
            let first = store
                .events_after(&filter.org, Some(scan), last, PAGE)
                .await?;
            Start::Replay {
                last,
                first: Some(first),
            }
        }
        (None, Some(after)) => Start::Replay {
            last: after.max(0),
            first: None,
        },
        (None, None) => Start::Live,
    };
    let (tx, rx) = mpsc::channel(BUFFER);
    let stop = CancellationToken::new();
    let follower = Follower {
        store,
        filter,
        bus,
        tx,
    };
    let cancelled = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = cancelled.cancelled() => {}
            _ = follower.run(start) => {}
        }
    });
    Ok(EventStream {
        rx,
        _stop: stop.drop_guard(),
    })
}

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

/// Where a follower begins.
enum Start {
    /// Replay after `last`, beginning with `first` when that page was already read.
    Replay {
        last: i64,
        first: Option<Vec<Event>>,
    },
    /// From the first matching event published from now on.
    Live,
}

/// Whether an event is a scan's move into a terminal state.
fn is_terminal(e: &Event) -> bool {
    e.data.state_to().is_some_and(ScanState::is_terminal)
}

enum Flow {
    Continue,
    Stop,
}

struct Follower {
    store: Arc<dyn Store>,
    filter: Filter,
    bus: broadcast::Receiver<Arc<Event>>,
    tx: mpsc::Sender<Event>,
}

impl Follower {
    async fn run(mut self, start: Start) {
        let (mut last, first) = match start {
            Start::Replay { last, first } => (last, first),
            Start::Live => match self.first_live().await {
                Some(floor) => (floor, None),
                None => return,
            },
        };
        if let Flow::Stop = self.catch_up(&mut last, first).await {
            return;
        }
        if self.filter.until_terminal {
            // A consumer resuming after the terminal event has nothing left to wait for.
            if let Some(scan) = self.filter.scan {
                match self.store.get_scan(&self.filter.org, scan).await {
                    Ok(s) if s.state.is_terminal() => {
                        let _ = self.catch_up(&mut last, None).await;
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
                _ = self.tx.closed() => return,
                r = self.bus.recv() => match r {
                    Ok(e) => self.filter.matches(&e) && e.id > last,
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
            while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = self.bus.try_recv() {
            }
            if let Flow::Stop = self.catch_up(&mut last, None).await {
                return;
            }
        }
    }

    /// For a stream that starts now: waits for the first event of the filter on the bus and
    /// returns the id just before it (the replay then starts with that event). `None` when the
    /// consumer left.
    async fn first_live(&mut self) -> Option<i64> {
        loop {
            tokio::select! {
                _ = self.tx.closed() => return None,
                r = self.bus.recv() => match r {
                    Ok(e) if self.filter.matches(&e) => return Some(e.id - 1),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }

    /// Sends every stored event after `last`, starting with `first` when that page was already
    /// read; `Stop` when the stream is over (consumer gone, terminal event sent with
    /// `until_terminal`, or the store failed — the consumer resumes by id).
    async fn catch_up(&self, last: &mut i64, mut first: Option<Vec<Event>>) -> Flow {
        let filter = &self.filter;
        loop {
            let page = match first.take() {
                Some(page) => page,
                None => match self
                    .store
                    .events_after(&filter.org, filter.scan, *last, PAGE)
                    .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream ends: cannot read events");
                        return Flow::Stop;
                    }
                },
            };
            let full = page.len() >= PAGE as usize;
            for e in page {
                if e.id <= *last {
                    continue;
                }
                *last = e.id;
                let terminal = filter.until_terminal && is_terminal(&e);
                if self.tx.send(e).await.is_err() {
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
}
