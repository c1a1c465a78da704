//! Bulk resolution for the brute force: many names' A and AAAA records asked of one server over
//! a few UDP sockets, the way mass resolvers do it, instead of one resolver lookup (and one
//! socket) per query. [`Bulk::resolve_sharded`] splits the names over one task and socket per
//! core (at most four); each shard is [`Bulk::resolve`].
//!
//! Invariants (per shard):
//! - at most `window` queries are in flight; each waits for the task's rate gate (1 permit per
//!   query) before it is sent;
//! - an answer counts only when it comes from the server asked, with the ID of a query in
//!   flight and that query's name and type (anything else is dropped);
//! - a query unanswered after `timeout`, or answered with SERVFAIL/REFUSED, is sent again up to
//!   `attempts` times in all; then its name is a failure (unless its other query answered);
//! - NOERROR and NXDOMAIN are answers: a name's addresses are the A/AAAA records of both.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::net::RateGate;
use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RecordType};
use tokio::net::UdpSocket;

/// Receive buffer asked for the bulk socket.
pub const RECV_BUFFER: usize = 8 << 20;

/// How names are asked.
#[derive(Clone, Copy, Debug)]
pub struct Bulk {
    pub server: SocketAddr,
    pub timeout: Duration,
    /// Sends per query, the first included.
    pub attempts: u32,
    /// Queries in flight at once.
    pub window: usize,
}

/// What became of one name: its addresses, or `None` when no query of it was answered.
pub type Outcome = (String, Option<Vec<IpAddr>>);

struct NameState {
    name: String,
    left: u8,
    answered: bool,
    ips: Vec<IpAddr>,
}

struct InFlight {
    query: usize,
    sent: Instant,
    attempt: u32,
}

/// Query `q` of the list asks name `q / 2` for A (even) or AAAA (odd).
fn rtype(q: usize) -> RecordType {
    if q.is_multiple_of(2) {
        RecordType::A
    } else {
        RecordType::AAAA
    }
}

impl Bulk {
    /// [`Bulk::resolve`] over `shards` tasks, each with its own socket, a share of the names
    /// and of the window. Outcomes come back in no particular order.
    pub async fn resolve_sharded(
        &self,
        names: Vec<String>,
        rate: Arc<dyn RateGate>,
        shards: usize,
    ) -> std::io::Result<Vec<Outcome>> {
        let shards = shards.clamp(1, 4).min(names.len().max(1));
        if shards == 1 {
            return self.resolve(names, rate.as_ref()).await;
        }
        let per = names.len().div_ceil(shards);
        let shard = Bulk {
            window: (self.window / shards).max(1),
            ..*self
        };
        // Dropping the set (a cancelled task) aborts the shards.
        let mut set = tokio::task::JoinSet::new();
        let mut names = names.into_iter();
        for _ in 0..shards {
            let chunk: Vec<String> = names.by_ref().take(per).collect();
            let rate = rate.clone();
            set.spawn(async move { shard.resolve(chunk, rate.as_ref()).await });
        }
        let mut out = Vec::new();
        while let Some(joined) = set.join_next().await {
            out.extend(joined.map_err(std::io::Error::other)??);
        }
        Ok(out)
    }

    /// Asks every name (absolute or not; asked as absolute) and returns each name's outcome.
    pub async fn resolve(
        &self,
        names: Vec<String>,
        rate: &dyn RateGate,
    ) -> std::io::Result<Vec<Outcome>> {
        let bind: SocketAddr = if self.server.is_ipv4() {
            "0.0.0.0:0".parse().map_err(std::io::Error::other)?
        } else {
            "[::]:0".parse().map_err(std::io::Error::other)?
        };
        let socket = UdpSocket::bind(bind).await?;
        // Answers to a window of queries arrive in a burst; the default buffer (~200 KiB of
        // kernel accounting, a few hundred datagrams) would drop some. The kernel caps this at
        // `net.core.rmem_max`; failing to raise it only costs retries.
        let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(RECV_BUFFER);
        let mut states: Vec<NameState> = names
            .into_iter()
            .map(|name| NameState {
                name,
                left: 2,
                answered: false,
                ips: Vec::new(),
            })
            .collect();
        let parsed: Vec<Option<Name>> = states
            .iter()
            .map(|s| Name::from_ascii(crate::resolve::fqdn(&s.name)).ok())
            .collect();
        // Names that are not DNS names fail at once.
        for (i, p) in parsed.iter().enumerate() {
            if p.is_none() {
                states[i].left = 0;
            }
        }
        let total = states.iter().filter(|s| s.left > 0).count() * 2;
        let mut done = 0usize;
        let mut next = 0usize; // next query index (name * 2 + type)
        let mut retry: VecDeque<(usize, u32)> = VecDeque::new();
        let mut in_flight: HashMap<u16, InFlight> = HashMap::new();
        let mut next_id: u16 = 0;
        let window = self.window.clamp(1, 30_000);
        let mut buf = vec![0u8; 4096];
        let mut tick = tokio::time::interval(
            (self.timeout / 4).clamp(Duration::from_millis(5), Duration::from_millis(250)),
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        while done < total {
            // The next query to send: a retry first, else a new one (skipping failed names).
            while next < states.len() * 2 && states[next / 2].left == 0 && retry.is_empty() {
                next += 1;
            }
            let can_send =
                in_flight.len() < window && (!retry.is_empty() || next < states.len() * 2);
            tokio::select! {
                biased;
                r = socket.recv_from(&mut buf) => {
                    // An ICMP error from an earlier send surfaces here; timeouts handle it.
                    let Ok((n, from)) = r else { continue };
                    if from != self.server {
                        continue;
                    }
                    let Ok(msg) = Message::from_vec(&buf[..n]) else { continue };
                    if msg.metadata.message_type != MessageType::Response {
                        continue;
                    }
                    let Some(f) = in_flight.get(&msg.metadata.id) else { continue };
                    let q = f.query;
                    let Some(name) = &parsed[q / 2] else { continue };
                    // (Name equality ignores case.)
                    let same = msg
                        .queries
                        .first()
                        .is_some_and(|mq| mq.query_type == rtype(q) && mq.name == *name);
                    if !same {
                        continue;
                    }
                    let Some(f) = in_flight.remove(&msg.metadata.id) else { continue };
                    match msg.metadata.response_code {
                        ResponseCode::NoError | ResponseCode::NXDomain => {
                            let s = &mut states[q / 2];
                            s.answered = true;
                            s.ips.extend(msg.answers.iter().filter_map(|r| {
                                (r.record_type() == rtype(q)).then(|| r.data.ip_addr()).flatten()
                            }));
                            s.left -= 1;
                            done += 1;
                        }
                        _ if f.attempt < self.attempts => retry.push_back((q, f.attempt + 1)),
                        _ => {
                            states[q / 2].left -= 1;
                            done += 1;
                        }
                    }
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    let expired: Vec<u16> = in_flight
                        .iter()
                        .filter(|(_, f)| now.duration_since(f.sent) >= self.timeout)
                        .map(|(id, _)| *id)
                        .collect();
                    for id in expired {
                        let Some(f) = in_flight.remove(&id) else { continue };
                        if f.attempt < self.attempts {
                            retry.push_back((f.query, f.attempt + 1));
                        } else {
                            states[f.query / 2].left -= 1;
                            done += 1;
                        }
                    }
                }
                () = rate.acquire(1), if can_send => {
                    let (q, attempt) = match retry.pop_front() {
                        Some(r) => r,
                        None => {
                            next += 1;
                            (next - 1, 1)
                        }
                    };
                    let Some(name) = &parsed[q / 2] else { continue };
                    // A free ID: fewer than 30,000 are in use of 65,536.
                    while in_flight.contains_key(&next_id) {
                        next_id = next_id.wrapping_add(1);
                    }
                    let id = next_id;
                    next_id = next_id.wrapping_add(1);
                    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
                    msg.metadata.recursion_desired = true;
                    msg.add_query(Query::query(name.clone(), rtype(q)));
                    let bytes = msg.to_vec().map_err(std::io::Error::other)?;
                    socket.send_to(&bytes, self.server).await?;
                    in_flight.insert(id, InFlight { query: q, sent: Instant::now(), attempt });
                }
            }
        }
        Ok(states
            .into_iter()
            .map(|s| {
                let mut ips = s.ips;
                ips.sort();
                ips.dedup();
                (s.name, s.answered.then_some(ips))
            })
            .collect())
    }
}
