//! The addresses a host-like target names, for the network scanners of this crate: an address
//! is itself, a DNS name is what the system resolver answers now (at run time, so the guard
//! judges the addresses actually connected to), a CIDR block is its addresses up to a cap.
//! Nothing here applies the network guard: callers check every address right before they
//! connect.

use std::collections::BTreeSet;
use std::net::IpAddr;

use argus_core::net::{address_count, IpNet};

/// Resolves `host` (a DNS name or an address literal, IPv6 with or without brackets) to its
/// addresses, deduplicated, in the resolver's order.
pub async fn resolve(host: &str) -> std::io::Result<Vec<IpAddr>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let mut seen = BTreeSet::new();
    Ok(tokio::net::lookup_host((bare, 0))
        .await?
        .map(|sa| sa.ip())
        .filter(|ip| seen.insert(*ip))
        .collect())
}

/// The scannable addresses of a block: every address of an IPv4 block of /31 or /32, the
/// hosts of a larger one (without its network and broadcast addresses), every address of an
/// IPv6 block; `None` when there are more than `cap`.
pub fn expand(net: &IpNet, cap: u64) -> Option<Vec<IpAddr>> {
    if address_count(net) > u128::from(cap) {
        return None;
    }
    Some(net.hosts().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_expand_within_the_cap() {
        let n: IpNet = "10.0.0.0/30".parse().unwrap();
        assert_eq!(expand(&n, 4).unwrap().len(), 2);
        let one: IpNet = "10.0.0.7/32".parse().unwrap();
        assert_eq!(
            expand(&one, 1).unwrap(),
            vec!["10.0.0.7".parse::<IpAddr>().unwrap()]
        );
        let big: IpNet = "10.0.0.0/16".parse().unwrap();
        assert!(expand(&big, 4096).is_none());
    }

    #[tokio::test]
    async fn literals_resolve_to_themselves() {
        assert_eq!(
            resolve("[::1]").await.unwrap(),
            vec!["::1".parse::<IpAddr>().unwrap()]
        );
        let lo = resolve("localhost").await.unwrap();
        assert!(lo.iter().all(|ip| ip.is_loopback()), "{lo:?}");
    }
}
