//! Rate limits of network scanners: per scan (`config.rate_limit`), per scanner and global
//! (`[network]`), in requests per second, handed to each task as its
//! [`RateGate`](argus_core::net::RateGate).
//!
//! Invariants:
//! - a task's gate holds every limit that applies to it at once (a request waits for the
//!   slowest schedule);
//! - in distributed mode the schedules live in the store (`Coordination::reserve_rate`), so
//!   a limit holds across every worker process; in embedded and direct mode they live in this
//!   process, which runs every task;
//! - a store that cannot answer never stops a scan: that reservation falls back to this
//!   process's schedule, with a warning;
//! - a task with no limit gets the free gate and never touches the store.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argus_core::net::{RateGate, Unlimited};
use argus_core::store::Store;

/// The configured limits (requests per second).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateLimits {
    /// Every network request of every scan together.
    pub global: Option<f64>,
    /// Per scanner name, all scans together.
    pub per_scanner: BTreeMap<String, f64>,
}

/// Where schedules live.
#[derive(Clone)]
enum Slots {
    /// This process only.
    Local(Arc<LocalSlots>),
    /// The store, shared by every process (with a local fallback).
    Store(Arc<dyn Store>, Arc<LocalSlots>),
}

/// Schedules kept in memory: the next free slot per key.
#[derive(Debug, Default)]
struct LocalSlots {
    next: Mutex<HashMap<String, Instant>>,
}

impl LocalSlots {
    fn reserve(&self, key: &str, interval: Duration, permits: u32) -> Duration {
        let now = Instant::now();
        let cost = interval.saturating_mul(permits.max(1));
        let mut next = match self.next.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let slot = next.entry(key.to_owned()).or_insert(now);
        let first = (*slot).max(now);
        *slot = first + cost;
        first - now
    }
}

/// Builds each task's gate from the limits.
#[derive(Clone)]
pub struct RateLimiter {
    limits: RateLimits,
    slots: Slots,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limits", &self.limits)
            .field("shared", &matches!(self.slots, Slots::Store(..)))
            .finish()
    }
}

impl RateLimiter {
    /// Schedules in this process (embedded server, direct mode).
    pub fn local(limits: RateLimits) -> Self {
        RateLimiter {
            limits,
            slots: Slots::Local(Arc::default()),
        }
    }

    /// Schedules in `store`, shared by every process using it (distributed mode).
    pub fn shared(limits: RateLimits, store: Arc<dyn Store>) -> Self {
        RateLimiter {
            limits,
            slots: Slots::Store(store, Arc::default()),
        }
    }

    /// The gate of a task of `scan` run by `scanner`, under the scan's own limit `scan_rate`.
    pub fn gate(
        &self,
        scan: argus_core::ids::ScanId,
        scanner: &str,
        scan_rate: Option<f64>,
    ) -> Arc<dyn RateGate> {
        let mut keys = Vec::new();
        let mut add = |key: String, rate: Option<f64>| {
            if let Some(interval) = rate.and_then(interval_of) {
                keys.push((key, interval));
            }
        };
        add(format!("scan:{scan}"), scan_rate);
        add(
            format!("scanner:{scanner}"),
            self.limits.per_scanner.get(scanner).copied(),
        );
        add("global".to_owned(), self.limits.global);
        if keys.is_empty() {
            return Arc::new(Unlimited);
        }
        Arc::new(Gate {
            keys,
            slots: self.slots.clone(),
        })
    }
}

/// Seconds between requests at `rate` per second; `None` for no (or a nonsensical) limit.
fn interval_of(rate: f64) -> Option<Duration> {
    (rate.is_finite() && rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate))
}

struct Gate {
    keys: Vec<(String, Duration)>,
    slots: Slots,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(k, _)| k))
            .finish()
    }
}

#[async_trait::async_trait]
impl RateGate for Gate {
    async fn acquire(&self, permits: u32) {
        let mut wait = Duration::ZERO;
        for (key, interval) in &self.keys {
            let w = match &self.slots {
                Slots::Local(local) => local.reserve(key, *interval, permits),
                Slots::Store(store, local) => {
                    match store.reserve_rate(key, *interval, permits).await {
                        Ok(w) => w,
                        Err(e) => {
                            tracing::warn!(key, error = %e, "rate limit store unavailable; pacing in this process");
                            local.reserve(key, *interval, permits)
                        }
                    }
                }
            };
            wait = wait.max(w);
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_limit_is_the_free_gate_and_schedules_line_up() {
        let limiter = RateLimiter::local(RateLimits::default());
        let g = limiter.gate(argus_core::ids::ScanId::new(), "ports", None);
        assert!(format!("{g:?}").contains("Unlimited"));
        let slots = LocalSlots::default();
        let i = Duration::from_secs(1);
        assert_eq!(slots.reserve("k", i, 1), Duration::ZERO);
        let second = slots.reserve("k", i, 3);
        assert!(
            second > Duration::from_millis(900) && second <= i,
            "{second:?}"
        );
        let after = slots.reserve("k", i, 1);
        assert!(after > Duration::from_millis(3900), "{after:?}");
        assert_eq!(slots.reserve("other", i, 1), Duration::ZERO);
        assert!(interval_of(0.0).is_none() && interval_of(f64::NAN).is_none());
        let limits = RateLimits {
            global: Some(10.0),
            per_scanner: [("ports".to_owned(), 2.0)].into(),
        };
        let g = RateLimiter::local(limits).gate(argus_core::ids::ScanId::new(), "ports", Some(5.0));
        let keys = format!("{g:?}");
        assert!(
            keys.contains("scan:") && keys.contains("scanner:ports") && keys.contains("global"),
            "{keys}"
        );
    }
}
