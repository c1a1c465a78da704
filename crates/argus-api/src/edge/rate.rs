//! Request rate limits per client address and per API key: token buckets in this process.
//!
//! Each limit is `N` requests a minute with bursts of up to `N`: a bucket holds up to `N`
//! tokens, refills at `N / 60` tokens a second, and a request takes one. A refused request is
//! a `429` problem (`rate_limited`) with `Retry-After`: the whole seconds until a token is back.
//!
//! Identities:
//! - Address: the TCP peer (`ConnectInfo`), or, when the peer is a trusted proxy, the
//!   nearest address in `X-Forwarded-For` that is not one (a client cannot choose its
//!   bucket by sending the header itself). IPv6 clients are counted per /64, the block one
//!   subscriber usually holds, so rotating addresses inside it does not reset the limit.
//! - Key: the bearer token of `Authorization: Bearer …`, as the first 16 bytes of its SHA-256
//!   (the token itself is never stored). The whole token is hashed, not its visible
//!   `argus_<prefix>` part: a guessed prefix with a wrong secret then lands in a bucket of its
//!   own and cannot spend a real key's budget. This runs before authentication, so an invalid
//!   token still counts, against itself and its address.
//!
//! Invariants:
//! - Memory is bounded: each limiter keeps at most [`MAX_TRACKED`] identities; past that, idle
//!   (refilled) buckets are dropped first, which loses nothing, then the least recently seen.
//! - The limits are per process: with several API replicas behind a balancer, each enforces
//!   its own, so a client may reach up to `replicas × N`. Exact global limits would cost a
//!   store round trip on every request; per-replica buckets cost none.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use sha2::{Digest, Sha256};

use crate::problem::{Code, Problem};

/// Most identities one limiter keeps.
pub const MAX_TRACKED: usize = 100_000;

/// Rate limit settings; `0` turns a limit off.
#[derive(Clone, Debug, Default)]
pub struct RateLimitConfig {
    /// Requests a minute per client address.
    pub per_address: u32,
    /// Requests a minute per bearer token.
    pub per_key: u32,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
}

/// A token bucket's state.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by identity, all with the same rate.
#[derive(Debug)]
pub struct Buckets<K> {
    capacity: f64,
    /// Tokens per second.
    rate: f64,
    max_tracked: usize,
    map: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash + Clone> Buckets<K> {
    /// `per_minute` requests a minute with bursts of as many; `None` when it is 0 (off).
    pub fn per_minute(per_minute: u32, max_tracked: usize) -> Option<Self> {
        (per_minute > 0).then(|| Buckets {
            capacity: f64::from(per_minute),
            rate: f64::from(per_minute) / 60.0,
            max_tracked: max_tracked.max(1),
            map: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a token for `key` at `now`: `Ok` or `Err(time until one is back)`.
    pub fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(key) && map.len() >= self.max_tracked {
            self.evict(&mut map, now);
        }
        let bucket = map.entry(key.clone()).or_insert(Bucket {
            tokens: self.capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }

    /// Identities tracked now.
    pub fn tracked(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Makes room for one more identity: drops every bucket that has refilled (it is the same
    /// as a new one), else the least recently used one.
    fn evict(&self, map: &mut HashMap<K, Bucket>, now: Instant) {
        map.retain(|_, b| {
            let idle = now.saturating_duration_since(b.at).as_secs_f64();
            b.tokens + idle * self.rate < self.capacity
        });
        if map.len() >= self.max_tracked {
            if let Some(oldest) = map.iter().min_by_key(|(_, b)| b.at).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
    }
}

/// The identity of a client address: the address, or its /64 for IPv6.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mask = !0u128 << 64;
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
        v4 => v4,
    }
}

/// The identity of a bearer token: the first 16 bytes of its SHA-256.
fn key_of(headers: &HeaderMap) -> Option<[u8; 16]> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    let digest = Sha256::digest(token.as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    Some(id)
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the nearest
/// `X-Forwarded-For` hop that is not a trusted proxy (the last entries were added by our own
/// proxies; anything before the first untrusted one may be made up by the client).
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let peer = peer.to_canonical();
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        for part in value.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip.to_canonical()),
                // A hop we cannot read: nothing before it can be trusted either.
                Err(_) => return hops.last().copied().unwrap_or(peer),
            }
        }
    }
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .copied()
        .unwrap_or(peer)
}

/// Both limiters, as the middleware's state.
#[derive(Debug)]
pub struct RateLimiter {
    per_address: Option<Buckets<IpAddr>>,
    per_key: Option<Buckets<[u8; 16]>>,
    trusted_proxies: Vec<IpNet>,
}

impl RateLimiter {
    /// The limiter for `config`; `None` when both limits are off.
    pub fn new(config: &RateLimitConfig) -> Option<Self> {
        let per_address = Buckets::per_minute(config.per_address, MAX_TRACKED);
        let per_key = Buckets::per_minute(config.per_key, MAX_TRACKED);
        (per_address.is_some() || per_key.is_some()).then(|| RateLimiter {
            per_address,
            per_key,
            trusted_proxies: config.trusted_proxies.clone(),
        })
    }

    /// Takes a token from each bucket that applies; the longest wait when one is empty.
    fn check(&self, peer: Option<IpAddr>, headers: &HeaderMap, now: Instant) -> Result<(), Wait> {
        let mut wait: Option<Wait> = None;
        if let (Some(buckets), Some(peer)) = (&self.per_address, peer) {
            let client = client_address(peer, headers, &self.trusted_proxies);
            if let Err(d) = buckets.take(&address_key(client), now) {
                wait = Some(Wait {
                    after: d,
                    what: "client address",
                    setting: "server.rate_limit.per_address",
                });
            }
        }
        if let (Some(buckets), Some(key)) = (&self.per_key, key_of(headers)) {
            if let Err(d) = buckets.take(&key, now) {
                if wait.as_ref().is_none_or(|w| w.after < d) {
                    wait = Some(Wait {
                        after: d,
                        what: "API key",
                        setting: "server.rate_limit.per_key",
                    });
                }
            }
        }
        wait.map_or(Ok(()), Err)
    }
}

/// Why and how long a client must wait.
#[derive(Debug)]
struct Wait {
    after: Duration,
    what: &'static str,
    setting: &'static str,
}

/// Refuses a request over a limit with `429` and `Retry-After`.
pub(crate) async fn rate_limit(
    State(limiter): State<Arc<RateLimiter>>,
    req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    match limiter.check(peer, req.headers(), Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            // Whole seconds, rounded up: retrying at the advertised time must succeed.
            let secs = u32::try_from(wait.after.as_secs())
                .unwrap_or(u32::MAX)
                .saturating_add(u32::from(wait.after.subsec_nanos() > 0))
                .max(1);
            let mut problem = Problem::new(
                Code::RateLimited,
                format!(
                    "too many requests from this {}; retry in {secs} s ({})",
                    wait.what, wait.setting
                ),
            );
            problem.retry_after = Some(secs);
            let mut res = problem.into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let b = Buckets::per_minute(60, 10).unwrap();
        let t0 = Instant::now();
        for i in 0..60 {
            assert!(b.take(&1u8, t0).is_ok(), "request {i} of the burst");
        }
        let wait = b.take(&1u8, t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        // Half a second later half a token is back: still refused, for the other half.
        let wait = b.take(&1u8, t0 + Duration::from_millis(500)).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(b.take(&1u8, t0 + Duration::from_secs(1)).is_ok());
        assert!(b.take(&1u8, t0 + Duration::from_secs(1)).is_err());
        // Another identity has its own bucket.
        assert!(b.take(&2u8, t0).is_ok());
    }

    #[test]
    fn a_bucket_never_holds_more_than_its_burst() {
        let b = Buckets::per_minute(2, 10).unwrap();
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(3600);
        assert!(b.take(&1u8, t0).is_ok());
        assert!(b.take(&1u8, later).is_ok());
        assert!(b.take(&1u8, later).is_ok());
        assert!(b.take(&1u8, later).is_err());
    }

    #[test]
    fn zero_is_off() {
        assert!(Buckets::<u8>::per_minute(0, 10).is_none());
        assert!(RateLimiter::new(&RateLimitConfig::default()).is_none());
    }

    #[test]
    fn tracking_is_bounded_and_evicts_idle_buckets_first() {
        let b = Buckets::per_minute(60, 3).unwrap();
        let t0 = Instant::now();
        // Key 1 is drained at t0, key 2 spends one token at t0, key 3 one at t0 + 60.5 s.
        for _ in 0..60 {
            b.take(&1u8, t0).unwrap();
        }
        b.take(&2u8, t0).unwrap();
        b.take(&3u8, t0 + Duration::from_millis(60_500)).unwrap();
        // At t0 + 61 s keys 1 and 2 have refilled (as good as new), key 3 has not.
        b.take(&4u8, t0 + Duration::from_secs(61)).unwrap();
        assert_eq!(b.tracked(), 2, "the refilled buckets 1 and 2 were dropped");
        // When nothing has refilled, the least recently seen goes.
        let b = Buckets::per_minute(6, 2).unwrap();
        b.take(&1u8, t0).unwrap();
        b.take(&2u8, t0 + Duration::from_secs(1)).unwrap();
        b.take(&3u8, t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(b.tracked(), 2);
        // 1 was dropped: it starts again with a full bucket of 6.
        for _ in 0..6 {
            b.take(&1u8, t0 + Duration::from_secs(2)).unwrap();
        }
    }

    #[test]
    fn keys_are_the_hash_of_the_whole_bearer_token() {
        let headers = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            h
        };
        let a = key_of(&headers("Bearer argus_abc_secret1")).unwrap();
        assert_eq!(key_of(&headers("bearer  argus_abc_secret1")), Some(a));
        assert_ne!(key_of(&headers("Bearer argus_abc_secret2")), Some(a));
        assert_eq!(key_of(&headers("Basic dXNlcjpwYXNz")), None);
        assert_eq!(key_of(&headers("Bearer ")), None);
        assert_eq!(key_of(&HeaderMap::new()), None);
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let trusted = vec!["10.0.0.0/24".parse::<IpNet>().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 203.0.113.7, 10.0.0.2"),
        );
        // From a trusted proxy: the nearest hop that is not ours.
        assert_eq!(
            client_address(proxy, &h, &trusted),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        // From anyone else: the peer, whatever the header says.
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        assert_eq!(client_address(stranger, &h, &trusted), stranger);
        // No header: the proxy itself.
        assert_eq!(client_address(proxy, &HeaderMap::new(), &trusted), proxy);
        // An unreadable hop stops the walk at the hop after it.
        let mut bad = HeaderMap::new();
        bad.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.7, junk"),
        );
        assert_eq!(
            client_address(proxy, &bad, &trusted),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let v4: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(v4), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_longer_wait_wins_and_names_its_limit() {
        let limiter = RateLimiter::new(&RateLimitConfig {
            per_address: 60,
            per_key: 6,
            trusted_proxies: Vec::new(),
        })
        .unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer argus_k_s"),
        );
        let peer = Some("192.0.2.1".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..6 {
            limiter.check(peer, &h, t0).unwrap();
        }
        let wait = limiter.check(peer, &h, t0).unwrap_err();
        assert_eq!(wait.setting, "server.rate_limit.per_key");
        assert_eq!(wait.after, Duration::from_secs(10));
        // Without the key, the address still has budget.
        limiter.check(peer, &HeaderMap::new(), t0).unwrap();
    }
}
