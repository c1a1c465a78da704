//! A small cache of serialized scans for `GET /api/v1/scans/{id}`, the polling hot path.
//!
//! Why: one store read of a scan costs far more CPU than the rest of the request (SQLite row
//! decode, JSON config parse, re-serialization), and polling clients ask for the same scans over
//! and over. Only scans that change solely through explicit user actions are cached: `created`
//! ones (they move only by start/update/delete, all of which go through this API) and finished
//! ones (terminal; they only get deleted). Active scans are never cached, so progress polled
//! while a scan runs is always read from the store.
//!
//! Invalidation:
//! - every API mutation of a scan invalidates it after the store committed (read-your-writes);
//! - every event on the bus invalidates its scan (changes made by other processes, late counter
//!   updates of a cancelled scan), and a lagging receiver clears everything;
//! - the live streams (SSE, WebSocket) invalidate a scan before they write its `state` events, so a
//!   client that saw a transition on SSE never then reads the older state;
//! - entries expire after [`TTL`] whatever happens, as a bound on any missed invalidation.
//!
//! Races: an `epoch` counter is bumped by every invalidation, and a reader only inserts what it
//! read if no invalidation happened since it started reading; insert and invalidate take the same
//! lock. So a read that raced with a mutation can never re-insert the older state.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

use argus_core::bus::EventBus;
use argus_core::ids::{OrgId, ScanId};
use argus_core::scan::{Scan, ScanState};

/// Upper bound on the age of a cached scan.
pub(crate) const TTL: Duration = Duration::from_secs(1);
/// Entries kept at most; the cache is cleared when full (simple, and refilled by hot reads).
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    org: OrgId,
    body: Bytes,
    at: Instant,
}

#[derive(Default)]
pub(crate) struct ScanCache {
    map: RwLock<HashMap<ScanId, Entry>>,
    epoch: AtomicU64,
    /// False when no invalidation task runs (no runtime, or the bus closed): nothing is cached.
    enabled: AtomicBool,
}

impl ScanCache {
    /// A cache kept fresh by a task following `bus`; disabled outside a tokio runtime.
    pub(crate) fn new(bus: &dyn EventBus) -> Arc<Self> {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return Arc::new(ScanCache::default());
        };
        let cache = Arc::new(ScanCache {
            enabled: AtomicBool::new(true),
            ..ScanCache::default()
        });
        let rx = bus.subscribe();
        handle.spawn(follow_bus(Arc::downgrade(&cache), rx));
        cache
    }

    /// The cached JSON of a scan of `org`, if fresh.
    pub(crate) fn get(&self, org: &OrgId, id: ScanId) -> Option<Bytes> {
        if !self.enabled.load(Ordering::Relaxed) {
            return None;
        }
        let map = self.map.read().ok()?;
        let e = map.get(&id)?;
        (e.org == *org && e.at.elapsed() < TTL).then(|| e.body.clone())
    }

    /// Read before the store read; pass to [`ScanCache::insert`].
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches a scan read when the epoch was `epoch`, if its state is cacheable and nothing was
    /// invalidated since.
    pub(crate) fn insert(&self, epoch: u64, scan: &Scan, body: &Bytes) {
        if !self.enabled.load(Ordering::Relaxed)
            || !(scan.state == ScanState::Created || scan.state.is_terminal())
        {
            return;
        }
        let Ok(mut map) = self.map.write() else {
            return;
        };
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            scan.id,
            Entry {
                org: scan.org_id.clone(),
                body: body.clone(),
                at: Instant::now(),
            },
        );
    }

    /// Forgets a scan (call after any change to it has been committed).
    pub(crate) fn invalidate(&self, id: ScanId) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut map) = self.map.write() {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            map.remove(&id);
        }
    }

    fn clear(&self) {
        if let Ok(mut map) = self.map.write() {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            map.clear();
        }
    }
}

async fn follow_bus(
    cache: Weak<ScanCache>,
    mut rx: broadcast::Receiver<Arc<argus_core::event::Event>>,
) {
    loop {
        let r = rx.recv().await;
        // The router (and with it the cache) is gone: stop.
        let Some(cache) = cache.upgrade() else { return };
        match r {
            Ok(e) => cache.invalidate(e.scan_id),
            Err(broadcast::error::RecvError::Lagged(_)) => cache.clear(),
            Err(broadcast::error::RecvError::Closed) => {
                // Without invalidations the cache could serve stale scans: disable it.
                cache.enabled.store(false, Ordering::Relaxed);
                cache.clear();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::bus::LocalEventBus;
    use argus_core::scan::{Progress, ScanConfig};

    fn scan(state: ScanState) -> Scan {
        let config: ScanConfig = serde_json::from_value(serde_json::json!({
            "scanners": [{"name": "noop"}],
            "targets": [{"kind": "url", "value": "noop://x"}]
        }))
        .unwrap();
        Scan {
            id: ScanId::new(),
            org_id: OrgId::parse("acme").unwrap(),
            user_id: argus_core::ids::UserId::parse("u").unwrap(),
            name: "s".into(),
            config,
            template_id: None,
            source_scan_id: None,
            state,
            reason: None,
            progress: Progress::default(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            started_at: None,
            finished_at: None,
            trace: None,
            stuck_since: None,
        }
    }

    #[tokio::test]
    async fn caches_only_stable_states_and_never_reinserts_after_an_invalidation() {
        let bus = LocalEventBus::default();
        let cache = ScanCache::new(&bus);
        let org = OrgId::parse("acme").unwrap();
        let body = Bytes::from_static(b"{}");

        let created = scan(ScanState::Created);
        cache.insert(cache.epoch(), &created, &body);
        assert!(cache.get(&org, created.id).is_some());
        assert!(cache
            .get(&OrgId::parse("other").unwrap(), created.id)
            .is_none());

        let running = scan(ScanState::Running);
        cache.insert(cache.epoch(), &running, &body);
        assert!(cache.get(&org, running.id).is_none());

        // A read that started before an invalidation must not insert what it read.
        let done = scan(ScanState::Completed);
        let before = cache.epoch();
        cache.invalidate(done.id);
        cache.insert(before, &done, &body);
        assert!(cache.get(&org, done.id).is_none());

        cache.invalidate(created.id);
        assert!(cache.get(&org, created.id).is_none());
    }
}
