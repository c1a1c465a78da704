//! What a network scanner may reach, and how fast: the network guard ([`NetPolicy`]) and the
//! rate gate ([`RateGate`]), handed to every task in [`NetAccess`].
//!
//! Invariants:
//! - every address a network scanner connects to (or sends a query to) passes
//!   [`NetPolicy::check`] *at connect time*, after its own name resolution, so a name that
//!   resolves into a denied range is refused even when it resolved elsewhere at planning time
//!   (DNS rebinding);
//! - the special ranges (loopback, private, link-local, cloud metadata, shared address space,
//!   unspecified, multicast, broadcast) are denied unless the operator allows them, all at once
//!   (`allow_private`) or range by range (`allow`);
//! - a refusal is never an error of the scan: the scanner skips the address and reports why.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use async_trait::async_trait;
pub use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Why an address is special (not on the public internet).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressClass {
    Public,
    Loopback,
    /// RFC 1918 and IPv6 unique-local (and deprecated site-local) addresses.
    Private,
    LinkLocal,
    /// Cloud instance metadata endpoints (169.254.169.254, 100.100.100.200, fd00:ec2::254).
    Metadata,
    /// RFC 6598 carrier-grade NAT space (100.64.0.0/10).
    Shared,
    Unspecified,
    Multicast,
    Broadcast,
}

impl AddressClass {
    /// The class of `ip` (IPv4-mapped IPv6 addresses are judged as their IPv4 address).
    pub fn of(ip: IpAddr) -> AddressClass {
        match ip {
            IpAddr::V4(v4) => class_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => class_v4(v4),
                None => class_v6(v6),
            },
        }
    }

    /// The wire name (`loopback`, `private`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::Public => "public",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Metadata => "cloud metadata",
            AddressClass::Shared => "shared address space",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
        }
    }
}

fn class_v4(ip: Ipv4Addr) -> AddressClass {
    let o = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
        AddressClass::Metadata
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_private() {
        AddressClass::Private
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        AddressClass::Shared
    } else if ip.is_unspecified() || o[0] == 0 {
        AddressClass::Unspecified
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else if ip.is_broadcast() {
        AddressClass::Broadcast
    } else {
        AddressClass::Public
    }
}

fn class_v6(ip: Ipv6Addr) -> AddressClass {
    let s = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        AddressClass::Metadata
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfec0 {
        AddressClass::Private
    } else if (s[0] & 0xffc0) == 0xfe80 {
        AddressClass::LinkLocal
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else {
        AddressClass::Public
    }
}

/// An address the guard refused, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub ip: IpAddr,
    pub class: AddressClass,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is a {} address, which this server does not scan \
             (an operator allows it with network.allow_private or network.allow)",
            self.ip,
            self.class.as_str()
        )
    }
}

impl std::error::Error for Denied {}

/// The network guard: which addresses a task may reach.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetPolicy {
    /// Every special range is allowed (a lab, an internal scanner).
    #[serde(default)]
    pub allow_private: bool,
    /// Special ranges allowed one by one (e.g. `127.0.0.0/8` for tests).
    #[serde(default)]
    pub allow: Vec<IpNet>,
}

impl NetPolicy {
    /// The server default: public addresses only.
    pub fn public_only() -> Self {
        NetPolicy::default()
    }

    /// Everything allowed (direct mode's own targets, `--allow-private`).
    pub fn allow_all() -> Self {
        NetPolicy {
            allow_private: true,
            allow: Vec::new(),
        }
    }

    /// Allows `ip` or says why not.
    pub fn check(&self, ip: IpAddr) -> Result<(), Denied> {
        let class = AddressClass::of(ip);
        if class == AddressClass::Public || self.allow_private {
            return Ok(());
        }
        let mapped = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        if self
            .allow
            .iter()
            .any(|net| net.contains(&ip) || mapped.is_some_and(|m| net.contains(&m)))
        {
            return Ok(());
        }
        Err(Denied { ip, class })
    }

    /// Whether every address of `net` passes (a CIDR target is refused up front otherwise).
    pub fn permits_net(&self, net: &IpNet) -> Result<(), Denied> {
        if self.allow_private || self.allow.iter().any(|a| a.contains(net)) {
            return Ok(());
        }
        // A block is allowed when both ends and its network class are public; blocks are
        // aligned, so a public block never straddles a special range smaller than itself
        // unless it contains it whole, which the first address or the last reveals for the
        // ranges above (all of them are aligned blocks too).
        for ip in [net.network(), net.broadcast()] {
            self.check(ip)?;
        }
        for special in special_ranges() {
            if net.contains(&special) {
                return Err(Denied {
                    ip: special.network(),
                    class: AddressClass::of(special.network()),
                });
            }
        }
        Ok(())
    }

    /// Splits `addrs` into the allowed ones and the refusals.
    pub fn filter(&self, addrs: impl IntoIterator<Item = IpAddr>) -> (Vec<IpAddr>, Vec<Denied>) {
        let mut ok = Vec::new();
        let mut denied = Vec::new();
        for ip in addrs {
            match self.check(ip) {
                Ok(()) => ok.push(ip),
                Err(d) => denied.push(d),
            }
        }
        (ok, denied)
    }
}

fn special_ranges() -> impl Iterator<Item = IpNet> {
    [
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "fc00::/7",
        "fe80::/10",
    ]
    .into_iter()
    .filter_map(|s| s.parse().ok())
}

/// How many addresses `net` holds (saturating for huge IPv6 blocks).
pub fn address_count(net: &IpNet) -> u128 {
    let bits = u32::from(net.max_prefix_len() - net.prefix_len());
    1u128.checked_shl(bits).unwrap_or(u128::MAX)
}

/// Paces a task's requests: the scan's, the scanner's and the server's rate limits together,
/// shared across workers in distributed mode. `acquire` returns once `permits` requests may go.
#[async_trait]
pub trait RateGate: Send + Sync + fmt::Debug {
    async fn acquire(&self, permits: u32);
}

/// No limit at all.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unlimited;

#[async_trait]
impl RateGate for Unlimited {
    async fn acquire(&self, _permits: u32) {}
}

/// What a task may reach on the network and how fast (see the module docs).
#[derive(Clone, Debug)]
pub struct NetAccess {
    pub policy: NetPolicy,
    pub rate: Arc<dyn RateGate>,
}

impl NetAccess {
    /// The guard `policy` with no rate limit.
    pub fn new(policy: NetPolicy) -> Self {
        NetAccess {
            policy,
            rate: Arc::new(Unlimited),
        }
    }

    /// No guard, no limit (unit tests of scanners against loopback servers; direct mode's own
    /// targets).
    pub fn unrestricted() -> Self {
        NetAccess::new(NetPolicy::allow_all())
    }
}

impl Default for NetAccess {
    /// The server default: public addresses only, no rate limit.
    fn default() -> Self {
        NetAccess::new(NetPolicy::public_only())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classes() {
        for (a, c) in [
            ("8.8.8.8", AddressClass::Public),
            ("127.0.0.2", AddressClass::Loopback),
            ("10.1.2.3", AddressClass::Private),
            ("172.20.0.1", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("169.254.169.254", AddressClass::Metadata),
            ("169.254.1.1", AddressClass::LinkLocal),
            ("100.64.0.1", AddressClass::Shared),
            ("100.100.100.200", AddressClass::Metadata),
            ("0.0.0.0", AddressClass::Unspecified),
            ("224.0.0.1", AddressClass::Multicast),
            ("255.255.255.255", AddressClass::Broadcast),
            ("::1", AddressClass::Loopback),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("::ffff:10.0.0.1", AddressClass::Private),
            ("fd12::1", AddressClass::Private),
            ("fe80::1", AddressClass::LinkLocal),
            ("fd00:ec2::254", AddressClass::Metadata),
            ("2001:4860::8888", AddressClass::Public),
        ] {
            assert_eq!(AddressClass::of(ip(a)), c, "{a}");
        }
    }

    #[test]
    fn policy_denies_special_ranges_unless_allowed() {
        let strict = NetPolicy::public_only();
        assert!(strict.check(ip("93.184.216.34")).is_ok());
        let d = strict.check(ip("127.0.0.1")).unwrap_err();
        assert_eq!(d.class, AddressClass::Loopback);
        assert!(d.to_string().contains("network.allow_private"));
        assert!(strict.check(ip("::ffff:169.254.169.254")).is_err());
        let lo = NetPolicy {
            allow_private: false,
            allow: vec!["127.0.0.0/8".parse().unwrap()],
        };
        assert!(lo.check(ip("127.0.0.5")).is_ok());
        assert!(lo.check(ip("::ffff:127.0.0.5")).is_ok());
        assert!(lo.check(ip("10.0.0.1")).is_err());
        assert!(NetPolicy::allow_all().check(ip("10.0.0.1")).is_ok());
        let (ok, denied) = strict.filter([ip("1.1.1.1"), ip("10.0.0.1")]);
        assert_eq!((ok.len(), denied.len()), (1, 1));
    }

    #[test]
    fn blocks() {
        let strict = NetPolicy::public_only();
        assert!(strict
            .permits_net(&"93.184.216.0/24".parse().unwrap())
            .is_ok());
        assert!(strict.permits_net(&"10.0.0.0/24".parse().unwrap()).is_err());
        // A public-looking wide block that contains a private range.
        assert!(strict.permits_net(&"8.0.0.0/4".parse().unwrap()).is_err());
        assert_eq!(address_count(&"10.0.0.0/24".parse().unwrap()), 256);
        assert_eq!(address_count(&"::/0".parse().unwrap()), u128::MAX);
    }
}
