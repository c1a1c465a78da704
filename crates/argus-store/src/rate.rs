//! The arithmetic of `Coordination::reserve_rate`, written once for both backends: a schedule
//! of slots per key, stored as the next free slot in microseconds.

use std::time::Duration;

/// Microseconds `permits` slots `interval` apart take (at least 1, saturating).
pub(crate) fn rate_cost(interval: Duration, permits: u32) -> i64 {
    let us = interval
        .as_micros()
        .saturating_mul(u128::from(permits.max(1)));
    i64::try_from(us).unwrap_or(i64::MAX / 4).max(1)
}

/// How long to wait for the first of the reserved slots, given the schedule's new next free
/// slot `next` (after the reservation of `cost`) and the store clock's `now`.
pub(crate) fn rate_wait(next: i64, cost: i64, now: i64) -> Duration {
    let first = next.saturating_sub(cost);
    Duration::from_micros(u64::try_from(first.saturating_sub(now)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_line_up() {
        let cost = rate_cost(Duration::from_millis(100), 3);
        assert_eq!(cost, 300_000);
        // An idle key: the reservation starts now.
        assert_eq!(rate_wait(1_000_000 + cost, cost, 1_000_000), Duration::ZERO);
        // A busy key whose next slot is 0.5 s away.
        assert_eq!(
            rate_wait(1_500_000 + cost, cost, 1_000_000),
            Duration::from_millis(500)
        );
        assert_eq!(rate_cost(Duration::ZERO, 0), 1);
    }
}
