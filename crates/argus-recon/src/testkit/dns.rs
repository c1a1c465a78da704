//! An in-process authoritative DNS server on loopback, for tests and the brute-force benchmark.
//!
//! It serves one [`Zone`] of records (A, AAAA, CNAME, MX, NS, TXT, SOA, CAA) over UDP and TCP on
//! the same `127.0.0.1` port, answers names under a wildcard (`*.wild.example.test`) that have
//! no records of their own with the wildcard's records, follows CNAMEs inside the zone, answers
//! `NXDOMAIN` for every other name (with the zone's SOA, if any, in the authority section) and
//! never answers names under a [`Zone::blackhole`] suffix (a server that hangs, for
//! cancellation tests). It counts every query it receives ([`TestDns::queries`]).
//!
//! It is built on `hickory-proto`'s message codec only: decode, look up in a hash map, encode.
//! Two UDP tasks share the socket so a benchmark of 100,000 queries measures the client.
//! Dropping the [`TestDns`] stops it.

// Test support: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CAA, CNAME, MX, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

/// The records a [`TestDns`] serves, by owner name (lower case, no trailing dot; `*.suffix` is
/// a wildcard).
#[derive(Clone, Debug, Default)]
pub struct Zone {
    records: HashMap<String, Vec<RData>>,
    blackholes: Vec<String>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn name(s: &str) -> Name {
    Name::from_ascii(format!("{}.", key(s))).expect("a valid DNS name")
}

impl Zone {
    /// An empty zone: every name is `NXDOMAIN`.
    pub fn new() -> Self {
        Zone::default()
    }

    /// Adds any record.
    pub fn record(mut self, owner: &str, data: RData) -> Self {
        self.records.entry(key(owner)).or_default().push(data);
        self
    }

    /// An address record: A for IPv4, AAAA for IPv6.
    pub fn addr(self, owner: &str, ip: &str) -> Self {
        let data = match ip.parse::<IpAddr>().expect("an IP address") {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        self.record(owner, data)
    }

    pub fn cname(self, owner: &str, target: &str) -> Self {
        self.record(owner, RData::CNAME(CNAME(name(target))))
    }

    pub fn mx(self, owner: &str, preference: u16, exchange: &str) -> Self {
        self.record(owner, RData::MX(MX::new(preference, name(exchange))))
    }

    pub fn ns(self, owner: &str, host: &str) -> Self {
        self.record(owner, RData::NS(NS(name(host))))
    }

    pub fn txt(self, owner: &str, text: &str) -> Self {
        self.record(owner, RData::TXT(TXT::new(vec![text.to_owned()])))
    }

    /// A SOA record; it also becomes the authority of `NXDOMAIN` answers under `owner`.
    pub fn soa(self, owner: &str, mname: &str, rname: &str) -> Self {
        let soa = SOA::new(name(mname), name(rname), 2026120701, 7200, 900, 1209600, 60);
        self.record(owner, RData::SOA(soa))
    }

    /// A CAA `issue` record for `issuer` (e.g. `letsencrypt.org`).
    pub fn caa_issue(self, owner: &str, issuer: &str) -> Self {
        self.record(
            owner,
            RData::CAA(CAA::new_issue(false, Some(name(issuer)), Vec::new())),
        )
    }

    /// Names equal to or under `suffix` are never answered (the query is counted and dropped).
    pub fn blackhole(mut self, suffix: &str) -> Self {
        self.blackholes.push(key(suffix));
        self
    }

    /// The records of `qname` (exact, else the closest wildcard), `None` when the name does not
    /// exist.
    fn find(&self, qname: &str) -> Option<&Vec<RData>> {
        if let Some(rs) = self.records.get(qname) {
            return Some(rs);
        }
        let mut rest = qname;
        while let Some((_, parent)) = rest.split_once('.') {
            if let Some(rs) = self.records.get(&format!("*.{parent}")) {
                return Some(rs);
            }
            rest = parent;
        }
        None
    }

    fn is_blackholed(&self, qname: &str) -> bool {
        self.blackholes
            .iter()
            .any(|s| qname == s || qname.ends_with(&format!(".{s}")))
    }

    /// The SOA of the closest enclosing name that has one.
    fn authority(&self, qname: &str) -> Option<Record> {
        let mut at = qname;
        loop {
            if let Some(soa) = self.records.get(at).and_then(|rs| {
                rs.iter()
                    .find(|r| matches!(r, RData::SOA(_)))
                    .map(|r| Record::from_rdata(name(at), 60, r.clone()))
            }) {
                return Some(soa);
            }
            at = at.split_once('.')?.1;
        }
    }

    /// The answer to one query, `None` to stay silent.
    fn answer(&self, request: &Message) -> Option<Message> {
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.authoritative = true;
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.edns = request.edns.clone();
        let Some(query) = request.queries.first() else {
            response.metadata.response_code = ResponseCode::FormErr;
            return Some(response);
        };
        response.add_query(query.clone());
        let mut qname = key(&query.name.to_ascii());
        if self.is_blackholed(&qname) {
            return None;
        }
        let qtype = query.query_type;
        let mut owner = query.name.clone();
        // Follows CNAMEs inside the zone, a bounded number of times.
        for _ in 0..8 {
            let Some(records) = self.find(&qname) else {
                if response.answers.is_empty() {
                    response.metadata.response_code = ResponseCode::NXDomain;
                    response.authorities.extend(self.authority(&qname));
                }
                return Some(response);
            };
            let matching: Vec<&RData> = records
                .iter()
                .filter(|r| r.record_type() == qtype || qtype == RecordType::ANY)
                .collect();
            if !matching.is_empty() {
                for r in matching {
                    response.add_answer(Record::from_rdata(owner.clone(), 60, r.clone()));
                }
                return Some(response);
            }
            let cname = records.iter().find_map(|r| match r {
                RData::CNAME(c) => Some(c.0.clone()),
                _ => None,
            });
            let Some(next) = cname else {
                // The name exists without records of this type: NOERROR, no answer.
                response.authorities.extend(self.authority(&qname));
                return Some(response);
            };
            response.add_answer(Record::from_rdata(
                owner.clone(),
                60,
                RData::CNAME(CNAME(next.clone())),
            ));
            qname = key(&next.to_ascii());
            owner = next;
        }
        Some(response)
    }
}

/// A running test DNS server (stops when dropped).
#[derive(Debug)]
pub struct TestDns {
    addr: SocketAddr,
    queries: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

impl TestDns {
    /// Serves `zone` on a fresh `127.0.0.1` port, UDP and TCP.
    pub async fn start(zone: Zone) -> std::io::Result<TestDns> {
        // The UDP port the kernel picks may be taken for TCP by another test (or process)
        // already: pick again.
        let mut tries = 0;
        loop {
            match Self::start_on(zone.clone(), "127.0.0.1:0".parse().expect("address")).await {
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < 20 => tries += 1,
                other => return other,
            }
        }
    }

    /// Serves `zone` on `addr` (port 0: any free port; the UDP port is reused for TCP).
    pub async fn start_on(zone: Zone, addr: SocketAddr) -> std::io::Result<TestDns> {
        let udp = UdpSocket::bind(addr).await?;
        // Bursts of a brute force would overflow the default buffer (the kernel caps it).
        let _ = socket2::SockRef::from(&udp).set_recv_buffer_size(8 << 20);
        let udp = Arc::new(udp);
        let addr = udp.local_addr()?;
        let tcp = TcpListener::bind(addr).await?;
        let zone = Arc::new(zone);
        let queries = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let (udp, zone, queries) = (udp.clone(), zone.clone(), queries.clone());
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                        continue;
                    };
                    queries.fetch_add(1, Ordering::Relaxed);
                    if let Some(bytes) = respond(&zone, &buf[..n]) {
                        let _ = udp.send_to(&bytes, from).await;
                    }
                }
            }));
        }
        let (zone2, queries2) = (zone.clone(), queries.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = tcp.accept().await else {
                    continue;
                };
                let (zone, queries) = (zone2.clone(), queries2.clone());
                tokio::spawn(async move {
                    loop {
                        let mut len = [0u8; 2];
                        if stream.read_exact(&mut len).await.is_err() {
                            return;
                        }
                        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
                        if stream.read_exact(&mut msg).await.is_err() {
                            return;
                        }
                        queries.fetch_add(1, Ordering::Relaxed);
                        let Some(bytes) = respond(&zone, &msg) else {
                            continue;
                        };
                        let Ok(n) = u16::try_from(bytes.len()) else {
                            return;
                        };
                        if stream.write_all(&n.to_be_bytes()).await.is_err()
                            || stream.write_all(&bytes).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        }));
        Ok(TestDns {
            addr,
            queries,
            tasks,
        })
    }

    /// Where it listens (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queries received so far (answered or not).
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The encoded answer to one encoded query; `None` for garbage, responses and black holes.
fn respond(zone: &Zone, bytes: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(bytes).ok()?;
    if request.metadata.message_type != MessageType::Query {
        return None;
    }
    zone.answer(&request)?.to_vec().ok()
}

/// The zone the tests and the benchmark share: `example.test` with every record type, an
/// address in a private range (`internal.example.test` → 10.0.0.1), a wildcard under
/// `wild.example.test`, mail domains with good (`good-mail.test`) and bad (`bad-mail.test`,
/// `neutral-mail.test`, `no-mail.test`) policies, and a black hole under `slow.test`.
pub fn sample_zone() -> Zone {
    Zone::new()
        .soa(
            "example.test",
            "ns1.example.test",
            "hostmaster.example.test",
        )
        .ns("example.test", "ns1.example.test")
        .ns("example.test", "ns2.example.test")
        .addr("example.test", "93.184.216.34")
        .addr("example.test", "2606:2800:220:1::1")
        .mx("example.test", 10, "mail.example.test")
        .txt("example.test", "v=spf1 mx -all")
        .caa_issue("example.test", "letsencrypt.org")
        .addr("ns1.example.test", "93.184.216.53")
        .addr("ns2.example.test", "93.184.216.54")
        .addr("www.example.test", "93.184.216.34")
        .cname("blog.example.test", "www.example.test")
        .addr("mail.example.test", "93.184.216.25")
        .addr("api.example.test", "93.184.216.80")
        .addr("dev.example.test", "93.184.216.81")
        .addr("internal.example.test", "10.0.0.1")
        .addr("*.wild.example.test", "93.184.216.99")
        .addr("real.wild.example.test", "93.184.216.100")
        // Good mail policy.
        .mx("good-mail.test", 10, "mx.good-mail.test")
        .addr("mx.good-mail.test", "93.184.216.26")
        .txt("good-mail.test", "v=spf1 include:_spf.good-mail.test -all")
        .txt(
            "_dmarc.good-mail.test",
            "v=DMARC1; p=reject; rua=mailto:d@good-mail.test",
        )
        // Everything wrong: +all, DMARC none.
        .mx("bad-mail.test", 10, "mx.bad-mail.test")
        .txt("bad-mail.test", "v=spf1 +all")
        .txt("_dmarc.bad-mail.test", "v=DMARC1; p=none")
        // Neutral SPF, no DMARC.
        .mx("neutral-mail.test", 10, "mx.neutral-mail.test")
        .txt("neutral-mail.test", "v=spf1 a ?all")
        // No MX, no SPF, no DMARC: the name exists (an address) but says nothing about mail.
        .addr("no-mail.test", "93.184.216.27")
        .blackhole("slow.test")
}
