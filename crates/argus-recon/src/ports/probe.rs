//! One TCP connect probe: pacing, connect with a timeout, a short banner read.
//!
//! Closed ports on reachable hosts answer with a reset at once, so a wide scan's speed is the
//! number of attempts in flight, not the timeout; the timeout only bounds filtered ports.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

/// Paces connection attempts to each address: slots `interval` apart, handed out in order of
/// asking (a reservation, so many waiting probes never burst together when a slot frees).
#[derive(Debug)]
pub struct HostPacer {
    interval: Duration,
    next: Vec<Mutex<Instant>>,
}

impl HostPacer {
    /// A pacer for `hosts` addresses at `rate` attempts per second each (0: no pacing).
    pub fn new(hosts: usize, rate: u32) -> Option<Self> {
        (rate > 0).then(|| HostPacer {
            interval: Duration::from_secs(1) / rate,
            next: (0..hosts).map(|_| Mutex::new(Instant::now())).collect(),
        })
    }

    /// Waits for host `i`'s next slot.
    pub async fn wait(&self, i: usize) {
        let Some(next) = self.next.get(i) else { return };
        let slot = {
            // A poisoned lock only means another probe panicked; the instant is still valid.
            let mut next = next.lock().unwrap_or_else(|p| p.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// How one probe is run.
#[derive(Clone, Copy, Debug)]
pub struct ProbeOptions {
    pub connect_timeout: Duration,
    /// Zero: no banner read.
    pub banner_wait: Duration,
    pub banner_bytes: usize,
}

/// An open port and what it said first.
#[derive(Debug)]
pub struct Open {
    pub host: usize,
    pub port: u16,
    pub banner: Vec<u8>,
}

/// Out of local resources (descriptors, ephemeral ports, buffers): worth another try shortly,
/// since other probes are about to release theirs.
fn transient(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24 | 99 | 105))
        || matches!(
            e.kind(),
            ErrorKind::AddrNotAvailable | ErrorKind::WouldBlock
        )
}

/// Connects to `ip:port`; `Some` when the port accepted the connection.
pub async fn probe(host: usize, ip: IpAddr, port: u16, opts: ProbeOptions) -> Option<Open> {
    let addr = SocketAddr::new(ip, port);
    let mut tries = 0u32;
    let mut stream = loop {
        match timeout(opts.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => break s,
            Ok(Err(e)) if transient(&e) && tries < 50 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(5 * u64::from(tries))).await;
            }
            // Refused (closed), unreachable, or no answer in time (filtered).
            _ => return None,
        }
    };
    // A connection to a free loopback port can meet itself when the kernel happens to pick
    // the same port as the source (TCP simultaneous open): nothing listens there.
    if stream.local_addr().ok() == Some(addr) {
        return None;
    }
    let mut banner = Vec::new();
    if !opts.banner_wait.is_zero() && opts.banner_bytes > 0 {
        let mut buf = vec![0u8; opts.banner_bytes];
        let deadline = Instant::now() + opts.banner_wait;
        while banner.len() < opts.banner_bytes {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf[banner.len()..])).await {
                Ok(Ok(n)) if n > 0 => {
                    banner.extend_from_slice(&buf[banner.len()..banner.len() + n]);
                    // A line-oriented greeting is complete at its first line end.
                    if banner.contains(&b'\n') {
                        break;
                    }
                }
                _ => break,
            }
        }
    }
    Some(Open { host, port, banner })
}
