//! Local servers for tests: DNS, HTTP and TLS on loopback (feature `testkit`).

pub mod dns;
pub mod web;
