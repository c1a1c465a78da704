//! Encoders: how a [`SinkEvent`](argus_core::sink::SinkEvent) becomes a destination's message
//! body, apart from how the bytes travel (`crate::transport`).

pub mod cloudwatch;
pub mod hec;
pub mod pusher;
pub mod rfc5424;
pub mod sentinel;
