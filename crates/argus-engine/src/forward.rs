//! The forwarder: feeds each configured sink from the store's committed event log.
//!
//! One loop per `[[sinks]]` entry, in every process (API replicas and workers), but only the
//! process holding the sink's lease (`sink:<name>`, [`Coordination::try_lead`]) forwards, so
//! each sink runs in one process at a time. The leader reads events after the sink's cursor
//! ([`SinkStore::events_since`]), turns them into [`SinkEvent`]s, filters, masks and buffers
//! them, and delivers batches; the cursor in the store moves only past events that were
//! delivered, filtered out, dead-lettered or dropped, so a restart or a kill -9 resumes where
//! delivery stopped and nothing is lost because a process died (at least once: a batch that
//! went out just before a crash goes out again; every event carries its id).
//!
//! Buffer: at most `buffer` events wait in memory. While the destination accepts, a full buffer
//! only stops reading ahead (the lag shows in the cursor; scans never wait on a sink, they do
//! not know it exists). While the destination fails, new events keep being read and a full
//! buffer drops the oldest (or keeps a sample), counted in `dropped` with a warning, so the
//! freshest events go first when it comes back. Retries back off exponentially with jitter;
//! a batch refused for its content, or failing `max_attempts` times, is dead-lettered
//! ([`SinkStore::add_dead_letters`]) and forwarding goes on.
//!
//! Two feeds per sink: the event log (`scan_result`, `scan_lifecycle`) and the audit log
//! (`audit`, [`AuditStore::audit_since`]). Each is forwarded by its own loop with its own lease
//! (`sink:<name>` and `sink:<name>#audit`) and its own saved state (rows `<name>` and
//! `<name>#audit`; sink names cannot contain `#`), so each keeps the guarantees above on its
//! own: a cursor per feed, moved only past what was settled. The audit loop runs only when the
//! sink's `events` filter lists `audit` (an empty filter means the scan events only);
//! it is not woken by the event bus, so an audit record goes out within a poll interval.
//! Audit ids come from the event id sequence, so `event_id` stays one key for deduplication.
//!
//! [`Coordination::try_lead`]: argus_core::store::Coordination::try_lead
//! [`AuditStore::audit_since`]: argus_core::audit::AuditStore::audit_since
//! [`SinkStore::events_since`]: argus_core::store::SinkStore::events_since
//! [`SinkStore::add_dead_letters`]: argus_core::store::SinkStore::add_dead_letters

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use argus_core::audit::AuditRecord;
use argus_core::event::{Event, EventData};
use argus_core::scan::Progress;
use argus_core::sink::{
    NewDeadLetter, Outgoing, Redaction, Sink, SinkError, SinkEvent, SinkEventKind, SinkFilter,
    SinkPayload, SinkSettings, SinkState, StartAt, WhenFull,
};
use argus_core::store::Store;

use crate::Engine;

/// Events read from the store per query.
const PAGE: u32 = 1_000;
/// Pages read in one go while the destination fails (to drop what must be dropped).
const CATCH_UP_PAGES: usize = 20;
/// How long a sink's lease lasts; renewed every third of it.
const LEASE_TTL: Duration = Duration::from_secs(6);
/// How often an idle forwarder looks at the store when no bus event woke it.
const POLL: Duration = Duration::from_secs(1);
/// Cursor advances from filtered-out events are saved at most this often.
const SAVE_EVERY: Duration = Duration::from_secs(2);
/// Scans whose latest counters are remembered for lifecycle events.
const COUNTER_CACHE: usize = 10_000;

/// One configured sink: its settings and the destination built by its factory.
pub struct SinkSpec {
    pub settings: SinkSettings,
    pub sink: Arc<dyn Sink>,
}

impl std::fmt::Debug for SinkSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkSpec")
            .field("name", &self.settings.name)
            .field("type", &self.sink.kind())
            .field("endpoint", &self.sink.endpoint())
            .finish()
    }
}

/// What this process knows live about a sink it forwards for (the store has the rest).
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct LiveStatus {
    /// This process holds the sink's lease.
    pub leading: bool,
    /// Events waiting in the buffer.
    pub buffered: usize,
    /// The last delivery failed and is being retried.
    pub failing: bool,
    /// Tries of the batch being retried.
    pub attempts: u32,
}

/// What a forwarding loop reads: the event log or the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    Events,
    Audit,
}

impl Feed {
    /// The name of the feed's saved state (and lease) for the sink `name`.
    pub fn state_name(self, name: &str) -> String {
        match self {
            Feed::Events => name.to_owned(),
            Feed::Audit => format!("{name}#audit"),
        }
    }
}

/// A configured sink and its live status, shared with the sinks service.
#[derive(Debug)]
pub struct Forwarder {
    pub spec: SinkSpec,
    live: Mutex<LiveStatus>,
    audit_live: Mutex<LiveStatus>,
}

impl Forwarder {
    fn new(spec: SinkSpec) -> Self {
        Forwarder {
            spec,
            live: Mutex::new(LiveStatus::default()),
            audit_live: Mutex::new(LiveStatus::default()),
        }
    }

    /// This process's view of the sink's event feed.
    pub fn live(&self) -> LiveStatus {
        self.live.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// This process's view of the sink's audit feed.
    pub fn audit_live(&self) -> LiveStatus {
        self.audit_live
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// Whether the sink forwards `audit` events (its filter admits the kind).
    pub fn forwards_audit(&self) -> bool {
        self.spec.settings.events.contains(&SinkEventKind::Audit)
    }

    fn set_live(&self, feed: Feed, f: impl FnOnce(&mut LiveStatus)) {
        let live = match feed {
            Feed::Events => &self.live,
            Feed::Audit => &self.audit_live,
        };
        if let Ok(mut l) = live.lock() {
            f(&mut l);
        }
    }
}

/// The configured sinks of a process.
pub type Forwarders = Vec<Arc<Forwarder>>;

/// Wraps configured sinks for [`Engine::install_sinks`]; refuses duplicate names.
pub fn forwarders(specs: Vec<SinkSpec>) -> Result<Forwarders, String> {
    let mut seen = std::collections::HashSet::new();
    for s in &specs {
        s.settings.check().map_err(|e| format!("sinks: {e}"))?;
        if !seen.insert(s.settings.name.clone()) {
            return Err(format!(
                "sinks: two entries are named {:?}; names must be unique",
                s.settings.name
            ));
        }
    }
    Ok(specs
        .into_iter()
        .map(|s| Arc::new(Forwarder::new(s)))
        .collect())
}

/// Starts one forwarding loop per enabled sink; they run until `shutdown` fires, then save
/// their state and resign their leases.
pub fn spawn(engine: Arc<Engine>, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
    engine
        .forwarders()
        .iter()
        .filter(|f| f.spec.settings.enabled)
        .flat_map(|f| {
            let feeds = if f.forwards_audit() {
                vec![Feed::Events, Feed::Audit]
            } else {
                vec![Feed::Events]
            };
            feeds.into_iter().map(move |feed| (f.clone(), feed))
        })
        .map(|(f, feed)| {
            let engine = engine.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move { run(engine, f, feed, shutdown).await })
        })
        .collect()
}

fn role(name: &str) -> String {
    format!("sink:{name}")
}

async fn run(engine: Arc<Engine>, f: Arc<Forwarder>, feed: Feed, shutdown: CancellationToken) {
    // The feed's name: the lease and the saved state of the audit feed are its own.
    let name = feed.state_name(&f.spec.settings.name);
    let holder = engine.config().worker_id.clone();
    let store = engine.store().clone();
    loop {
        // Wait for the lease.
        loop {
            match store.try_lead(&role(&name), &holder, LEASE_TTL).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::warn!(sink = %name, error = %e, "sink lease check failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(LEASE_TTL / 3) => {}
            }
        }
        tracing::info!(sink = %name, holder = %holder, "forwarding");
        f.set_live(feed, |l| l.leading = true);
        let mut leader = match Leader::start(&engine, &f, feed, &holder).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(sink = %name, error = %e, "reading the sink's state failed");
                f.set_live(feed, |l| l.leading = false);
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(POLL) => continue,
                }
            }
        };
        let ended = leader.run(&shutdown).await;
        leader.save().await;
        f.set_live(feed, |l| *l = LiveStatus::default());
        if ended == Ended::Shutdown {
            if let Err(e) = store.resign(&role(&name), &holder).await {
                tracing::warn!(sink = %name, error = %e, "resigning the sink's lease failed");
            }
            return;
        }
        tracing::warn!(sink = %name, "lost the sink's lease; another process forwards now");
    }
}

#[derive(PartialEq, Eq)]
enum Ended {
    Shutdown,
    LostLease,
}

/// Why the loop woke.
enum Wake {
    Shutdown,
    Go,
}

/// The forwarding state of the process that holds a sink's lease.
struct Leader {
    store: Arc<dyn Store>,
    f: Arc<Forwarder>,
    feed: Feed,
    /// The feed's name (its lease and saved state): the sink's, or `<sink>#audit`.
    feed_name: String,
    holder: String,
    filter: SinkFilter,
    redaction: Redaction,
    settings: SinkSettings,
    max_batch: usize,
    max_attempts: Option<u32>,
    state: SinkState,
    /// Last event id read from the store (≥ `state.cursor`).
    read: i64,
    buffer: VecDeque<(Outgoing, Instant)>,
    failing: bool,
    attempts: u32,
    next_try: Instant,
    sampled: u64,
    dirty_since: Option<Instant>,
    lease_renewed: Instant,
    counters: HashMap<argus_core::ScanId, Progress>,
    bus: tokio::sync::broadcast::Receiver<Arc<Event>>,
}

impl Leader {
    async fn start(
        engine: &Arc<Engine>,
        f: &Arc<Forwarder>,
        feed: Feed,
        holder: &str,
    ) -> argus_core::Result<Leader> {
        let store = engine.store().clone();
        let settings = f.spec.settings.clone();
        let feed_name = feed.state_name(&settings.name);
        // Subscribed before the first read, so no commit between the two goes unnoticed.
        let bus = engine.bus().subscribe();
        let state = match store.sink_state(&feed_name).await? {
            Some(s) => s,
            None => {
                let cursor = match (settings.start, feed) {
                    (StartAt::Now, Feed::Events) => store.last_event_id().await?,
                    (StartAt::Now, Feed::Audit) => store.last_audit_id().await?,
                    (StartAt::Beginning, _) => 0,
                };
                let s = SinkState {
                    name: feed_name.clone(),
                    cursor,
                    holder: Some(holder.to_owned()),
                    updated_at: Some(Utc::now()),
                    ..SinkState::default()
                };
                store.save_sink_state(&s).await?;
                s
            }
        };
        let sink_max = f.spec.sink.max_batch().max(1);
        let max_batch = match settings.batch_max {
            0 => sink_max,
            n => n.min(sink_max),
        };
        let max_attempts = match settings.max_attempts {
            0 => f.spec.sink.default_max_attempts(),
            n => Some(n),
        };
        Ok(Leader {
            store,
            f: f.clone(),
            feed,
            feed_name,
            holder: holder.to_owned(),
            filter: settings.filter(),
            redaction: settings.redaction(),
            max_batch,
            max_attempts,
            read: state.cursor,
            state,
            settings,
            buffer: VecDeque::new(),
            failing: false,
            attempts: 0,
            next_try: Instant::now(),
            sampled: 0,
            dirty_since: None,
            lease_renewed: Instant::now(),
            counters: HashMap::new(),
            bus,
        })
    }

    /// The feed's name, as logs, the lease and the saved state know it.
    fn name(&self) -> &str {
        &self.feed_name
    }

    async fn run(&mut self, shutdown: &CancellationToken) -> Ended {
        loop {
            if shutdown.is_cancelled() {
                return Ended::Shutdown;
            }
            if self.lease_renewed.elapsed() >= LEASE_TTL / 3 && !self.renew().await {
                return Ended::LostLease;
            }
            let caught_up = match self.fill().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(sink = %self.name(), error = %e, "reading events failed");
                    if let Wake::Shutdown = self.pause(POLL, shutdown).await {
                        return Ended::Shutdown;
                    }
                    continue;
                }
            };
            self.publish_live();
            if self.buffer.is_empty() {
                self.save_if_due().await;
                if let Wake::Shutdown = self.idle(POLL, shutdown).await {
                    return Ended::Shutdown;
                }
                continue;
            }
            let now = Instant::now();
            if now < self.next_try {
                let wait = self.next_try - now;
                if let Wake::Shutdown = self.idle(wait, shutdown).await {
                    return Ended::Shutdown;
                }
                continue;
            }
            // A partial batch waits a little for more, unless more is already there.
            if caught_up && !self.failing && self.buffer.len() < self.max_batch {
                let oldest = self.buffer.front().map(|(_, at)| *at).unwrap_or(now);
                let due = oldest + Duration::from_millis(self.settings.batch_timeout_ms);
                if now < due {
                    if let Wake::Shutdown = self.idle(due - now, shutdown).await {
                        return Ended::Shutdown;
                    }
                    continue;
                }
            }
            if !self.deliver(shutdown).await {
                return Ended::LostLease;
            }
        }
    }

    /// Renews the sink's lease; `false` once it is (or may be) another process's.
    async fn renew(&mut self) -> bool {
        match self
            .store
            .try_lead(&role(self.name()), &self.holder, LEASE_TTL)
            .await
        {
            Ok(true) => {
                self.lease_renewed = Instant::now();
                true
            }
            Ok(false) => false,
            // Keep going while the lease still runs; give up once it may have expired.
            Err(e) => {
                tracing::warn!(sink = %self.name(), error = %e, "renewing the sink's lease failed");
                self.lease_renewed.elapsed() < LEASE_TTL * 2 / 3
            }
        }
    }

    /// Reads new events into the buffer; `true` when the store has nothing more for now.
    /// While the destination accepts, reads no more than the buffer has room for (a slow
    /// destination makes the lag grow, never drops); while it fails, reads on, dropping.
    async fn fill(&mut self) -> argus_core::Result<bool> {
        let pages = if self.failing { CATCH_UP_PAGES } else { 1 };
        for _ in 0..pages {
            let room = self.settings.buffer.saturating_sub(self.buffer.len());
            if !self.failing && room == 0 {
                return Ok(false);
            }
            let limit = if self.failing {
                PAGE
            } else {
                PAGE.min(u32::try_from(room).unwrap_or(PAGE))
            };
            let n = match self.feed {
                Feed::Events => {
                    let events = self.store.events_since(self.read, limit).await?;
                    let n = events.len();
                    for e in events {
                        self.read = e.id;
                        self.admit(&e).await;
                    }
                    n
                }
                Feed::Audit => {
                    let records = self.store.audit_since(self.read, limit).await?;
                    let n = records.len();
                    for r in records {
                        self.read = r.id;
                        self.admit_audit(&r);
                    }
                    n
                }
            };
            if self.buffer.is_empty() && self.state.cursor < self.read {
                // Everything read so far was filtered out: the cursor may move past it.
                self.state.cursor = self.read;
                self.dirty_since.get_or_insert_with(Instant::now);
            }
            if n < limit as usize {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn admit(&mut self, e: &Event) {
        if let EventData::Progress(p) = &e.data {
            if self.counters.len() >= COUNTER_CACHE {
                self.counters.clear();
            }
            self.counters.insert(e.scan_id, p.clone());
            return;
        }
        let Some(mut event) = SinkEvent::from_event(e) else {
            return;
        };
        if !self.filter.admits(&event) {
            return;
        }
        if let SinkPayload::ScanLifecycle(l) = &mut event.payload {
            // Terminal counters are final: read them from the scan; others as last seen.
            let ended = l.to.is_terminal();
            let mut counters = if ended {
                None
            } else {
                self.counters.get(&e.scan_id).cloned()
            };
            if counters.is_none() {
                counters = self
                    .store
                    .get_scan(&e.org_id, e.scan_id)
                    .await
                    .ok()
                    .map(|s| s.progress);
            }
            l.counters = counters;
            if ended {
                self.counters.remove(&e.scan_id);
            }
        }
        let mut out = Outgoing::new(event);
        self.redaction.apply(&mut out.body);
        self.push(out);
    }

    fn admit_audit(&mut self, r: &AuditRecord) {
        let event = SinkEvent::from_audit(r);
        if !self.filter.admits(&event) {
            return;
        }
        let mut out = Outgoing::new(event);
        self.redaction.apply(&mut out.body);
        self.push(out);
    }

    fn push(&mut self, out: Outgoing) {
        if self.buffer.len() < self.settings.buffer {
            self.buffer.push_back((out, Instant::now()));
            return;
        }
        // Full while the destination fails (a healthy one stops `fill` before this).
        let keep = match self.settings.when_full {
            WhenFull::DropOldest => true,
            WhenFull::Sample => {
                self.sampled += 1;
                self.sampled
                    .is_multiple_of(u64::from(self.settings.sample_rate))
            }
        };
        if keep {
            self.buffer.pop_front();
            self.buffer.push_back((out, Instant::now()));
        }
        self.state.dropped += 1;
        if self.state.dropped == 1 || self.state.dropped.is_multiple_of(1_000) {
            tracing::warn!(
                sink = %self.name(),
                dropped = self.state.dropped,
                "sink buffer full while its destination fails; dropping events"
            );
        }
        self.advance_cursor();
    }

    /// The cursor stands just before the oldest event still waiting, or at the last one read.
    fn advance_cursor(&mut self) {
        let cursor = match self.buffer.front() {
            Some((o, _)) => o.event.event_id - 1,
            None => self.read,
        };
        if cursor > self.state.cursor {
            self.state.cursor = cursor;
            self.dirty_since.get_or_insert_with(Instant::now);
        }
    }

    /// Sends one batch and books the outcome; `false` when the lease was lost meanwhile.
    async fn deliver(&mut self, shutdown: &CancellationToken) -> bool {
        let n = self.buffer.len().min(self.max_batch);
        let batch: Vec<Outgoing> = self.buffer.iter().take(n).map(|(o, _)| o.clone()).collect();
        let timeout = Duration::from_millis(self.settings.send_timeout_ms.max(1));
        let sink = self.f.spec.sink.clone();
        // A delivery may outlast the lease (acknowledgements, a slow destination): keep it.
        let result = {
            let send = tokio::time::timeout(timeout, sink.send(&batch));
            tokio::pin!(send);
            loop {
                tokio::select! {
                    // A shutdown abandons the batch: it is still before the cursor, so it goes
                    // again.
                    _ = shutdown.cancelled() => return true,
                    r = &mut send => break r,
                    _ = tokio::time::sleep(LEASE_TTL / 3) => {
                        if !self.renew().await {
                            // Another process forwards now; the batch is its to send.
                            return false;
                        }
                    }
                }
            }
        };
        let result = result.unwrap_or_else(|_| {
            Err(SinkError::Retryable(format!(
                "delivery took longer than send_timeout_ms ({} ms)",
                timeout.as_millis()
            )))
        });
        match result {
            Ok(()) => {
                self.buffer.drain(..n);
                self.state.sent += n as u64;
                self.state.last_sent_at = Some(Utc::now());
                if self.failing {
                    tracing::info!(sink = %self.name(), "destination accepts events again");
                }
                self.failing = false;
                self.attempts = 0;
                self.advance_cursor();
                self.save().await;
            }
            Err(e) => {
                self.attempts += 1;
                let message = e.to_string();
                self.state.last_error = Some(message.clone());
                self.state.last_error_at = Some(Utc::now());
                let give_up = matches!(e, SinkError::Rejected(_))
                    || self.max_attempts.is_some_and(|max| self.attempts >= max);
                if give_up {
                    tracing::warn!(sink = %self.name(), error = %message, events = n, attempts = self.attempts, "dead-lettering a batch");
                    let letters = batch
                        .into_iter()
                        .map(|o| NewDeadLetter {
                            sink: self.settings.name.clone(),
                            event: o.event,
                            body: o.body,
                            error: message.clone(),
                            attempts: self.attempts,
                        })
                        .collect();
                    if let Err(err) = self.store.add_dead_letters(letters).await {
                        // Not written: keep the batch and try it again later.
                        tracing::warn!(sink = %self.name(), error = %err, "writing dead letters failed");
                        self.backoff();
                        return true;
                    }
                    self.buffer.drain(..n);
                    self.state.dead_lettered += n as u64;
                    self.attempts = 0;
                    self.failing = false;
                    self.advance_cursor();
                } else {
                    if !self.failing || self.attempts.is_multiple_of(10) {
                        tracing::warn!(sink = %self.name(), error = %message, attempts = self.attempts, "delivery failed; retrying");
                    }
                    self.failing = true;
                    self.backoff();
                }
                self.save().await;
            }
        }
        self.publish_live();
        true
    }

    /// Exponential backoff with full jitter between half the delay and the delay.
    fn backoff(&mut self) {
        let min = self.settings.backoff_min_ms.max(1);
        let max = self.settings.backoff_max_ms.max(min);
        let exp = self.attempts.saturating_sub(1).min(20);
        let delay = min.saturating_mul(1u64 << exp).min(max);
        let jitter = jitter(delay / 2 + 1);
        self.next_try = Instant::now() + Duration::from_millis(delay / 2 + jitter);
    }

    fn publish_live(&self) {
        let (buffered, failing, attempts) = (self.buffer.len(), self.failing, self.attempts);
        self.f.set_live(self.feed, |l| {
            l.leading = true;
            l.buffered = buffered;
            l.failing = failing;
            l.attempts = attempts;
        });
    }

    async fn save_if_due(&mut self) {
        if self.dirty_since.is_some_and(|t| t.elapsed() >= SAVE_EVERY) {
            self.save().await;
        }
    }

    async fn save(&mut self) {
        self.state.holder = Some(self.holder.clone());
        self.state.updated_at = Some(Utc::now());
        match self.store.save_sink_state(&self.state).await {
            Ok(()) => self.dirty_since = None,
            Err(e) => {
                tracing::warn!(sink = %self.name(), error = %e, "saving the sink's cursor failed")
            }
        }
    }

    /// Waits until `max` passes (at most a third of the lease, so it is renewed in time), an
    /// event is published, or shutdown.
    async fn idle(&mut self, max: Duration, shutdown: &CancellationToken) -> Wake {
        let max = max.min(LEASE_TTL / 3);
        let bus = &mut self.bus;
        tokio::select! {
            _ = shutdown.cancelled() => Wake::Shutdown,
            _ = tokio::time::sleep(max) => Wake::Go,
            r = bus.recv() => {
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = r {
                    // No bus any more: polling only.
                    tokio::select! {
                        _ = shutdown.cancelled() => return Wake::Shutdown,
                        _ = tokio::time::sleep(max) => {}
                    }
                }
                // Drain what else is waiting: one read covers it all.
                while bus.try_recv().is_ok() {}
                Wake::Go
            }
        }
    }

    async fn pause(&self, d: Duration, shutdown: &CancellationToken) -> Wake {
        tokio::select! {
            _ = shutdown.cancelled() => Wake::Shutdown,
            _ = tokio::time::sleep(d) => Wake::Go,
        }
    }
}

/// A pseudo-random number in `0..bound` (jitter needs no cryptographic quality).
fn jitter(bound: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish() % bound.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_bounds() {
        for b in [1, 2, 10, 1000] {
            for _ in 0..100 {
                assert!(jitter(b) < b);
            }
        }
    }
}
