//! Transports: how encoded bytes reach a destination, apart from what they say
//! (`crate::encoding`).

pub mod http;
pub mod sigv4;
pub mod stream;
pub mod udp;
