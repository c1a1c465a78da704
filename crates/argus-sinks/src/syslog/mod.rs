//! The `syslog` destination: RFC 5424 lines ([`crate::encoding::rfc5424`]) over UDP (one
//! datagram each, [`crate::transport::udp`]) or TCP/TLS (RFC 6587 octet counting on one
//! persistent connection, [`crate::transport::stream`]).
//!
//! The settings of a `type = "syslog"` entry ([`Config`]):
//! ```toml
//! url = "tls://siem.example.com:6514"   # required; udp://, tcp:// or tls://
//! format = "json"          # or "rfc5424" (default)
//! facility = "local3"
//! ca_file = "/etc/argus/siem-ca.pem"
//! ```
//!
//! Invariants:
//! - a message longer than `max_message` bytes is cut at a character boundary (a UDP datagram
//!   is never larger than `max_message`, 8192 unless set);
//! - on a stream, a batch is one write of `LEN SP MSG` frames, oldest first;
//! - syslog has no acknowledgement and no way to refuse a message: every failure is
//!   [`SinkError::Retryable`](argus_core::sink::SinkError::Retryable);
//! - the endpoint is the normalised URL (`tcp://host:port`), which carries no credential
//!   (user information in `url` is refused).

mod config;
#[cfg(test)]
mod tests;

use std::io::BufReader;
use std::sync::Arc;
use std::time::Duration;

use argus_core::component::{BuildError, Doors, Factory};
use argus_core::door::EnvDoor;
use argus_core::sink::{Outgoing, Sink, SinkError};
use async_trait::async_trait;
use rustls::pki_types::ServerName;

use self::config::WHAT;
pub use self::config::{
    parse_url, Config, Destination, Facility, Scheme, DEFAULT_CONNECT_TIMEOUT_MS,
    DEFAULT_UDP_MESSAGE, MAX_UDP_MESSAGE,
};
use crate::encoding::rfc5424::{self, Encoder};
use crate::transport::stream::{StreamTransport, Tls};
use crate::transport::udp::UdpTransport;

/// The most events one `send` takes.
pub const MAX_BATCH: usize = 500;

/// Builds `syslog` sinks.
#[derive(Debug)]
pub struct SyslogFactory;

impl Factory for SyslogFactory {
    type Built = dyn Sink;
    type Config = Config;

    fn name(&self) -> &'static str {
        "syslog"
    }

    fn build(&self, config: Config, doors: &Doors) -> Result<Vec<Arc<dyn Sink>>, BuildError> {
        let sink: Arc<dyn Sink> = Arc::new(SyslogSink::new(config, doors.env().as_ref())?);
        Ok(vec![sink])
    }
}

enum Transport {
    Udp(UdpTransport),
    Stream(StreamTransport),
}

/// A syslog destination.
pub struct SyslogSink {
    destination: Destination,
    encoder: Encoder,
    max_message: Option<usize>,
    transport: Transport,
}

impl std::fmt::Debug for SyslogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogSink")
            .field("destination", &self.destination.to_string())
            .field("encoder", &self.encoder)
            .field("max_message", &self.max_message)
            .finish_non_exhaustive()
    }
}

impl SyslogSink {
    /// Checks `config` and builds the sink (no connection yet). `env` gives `HOSTNAME` when
    /// the config names no host.
    pub fn new(config: Config, env: &dyn EnvDoor) -> Result<Self, BuildError> {
        let destination = parse_url(config.url.as_deref())?;
        let app_name = config.app_name.trim();
        if app_name.is_empty()
            || app_name.len() > rfc5424::MAX_APP_NAME
            || !app_name.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(BuildError::config(
                format!("{WHAT}.app_name"),
                "1 to 48 printable ASCII characters without spaces",
            ));
        }
        let hostname = match config.hostname.as_deref().map(str::trim) {
            Some(h) if !h.is_empty() => {
                if h.len() > rfc5424::MAX_HOSTNAME || !h.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(BuildError::config(
                        format!("{WHAT}.hostname"),
                        "1 to 255 printable ASCII characters without spaces",
                    ));
                }
                h.to_owned()
            }
            _ => rfc5424::header_field(&machine_hostname(env), rfc5424::MAX_HOSTNAME),
        };
        let max_message = match (destination.scheme, config.max_message) {
            (_, Some(0)) => {
                return Err(BuildError::config(
                    format!("{WHAT}.max_message"),
                    "must be at least 1",
                ))
            }
            (Scheme::Udp, Some(n)) if n > MAX_UDP_MESSAGE => {
                return Err(BuildError::config(
                    format!("{WHAT}.max_message"),
                    format!("at most {MAX_UDP_MESSAGE} bytes over UDP"),
                ))
            }
            (Scheme::Udp, None) => Some(DEFAULT_UDP_MESSAGE),
            (_, set) => set,
        };
        if config.connect_timeout_ms == 0 {
            return Err(BuildError::config(
                format!("{WHAT}.connect_timeout_ms"),
                "must be at least 1",
            ));
        }
        if destination.scheme != Scheme::Tls {
            for (key, set) in [
                ("ca_file", config.ca_file.is_some()),
                ("server_name", config.server_name.is_some()),
            ] {
                if set {
                    return Err(BuildError::config(
                        format!("{WHAT}.{key}"),
                        "only for tls:// destinations",
                    ));
                }
            }
        }
        let connect_timeout = Duration::from_millis(config.connect_timeout_ms);
        let transport = match destination.scheme {
            Scheme::Udp => Transport::Udp(UdpTransport::new(destination.peer.clone())),
            Scheme::Tcp => Transport::Stream(StreamTransport::new(
                destination.peer.clone(),
                None,
                connect_timeout,
            )),
            Scheme::Tls => Transport::Stream(StreamTransport::new(
                destination.peer.clone(),
                Some(tls_settings(&config, &destination)?),
                connect_timeout,
            )),
        };
        Ok(SyslogSink {
            encoder: Encoder {
                facility: config.facility.0,
                hostname,
                app_name: app_name.to_owned(),
                format: config.format,
            },
            destination,
            max_message,
            transport,
        })
    }

    /// One event's message, cut to `max_message`.
    pub fn message(&self, out: &Outgoing) -> Vec<u8> {
        let mut line = self.encoder.encode(out);
        if let Some(max) = self.max_message {
            truncate_at_char_boundary(&mut line, max);
        }
        line.into_bytes()
    }
}

/// Cuts `s` to at most `max` bytes, at a character boundary.
pub fn truncate_at_char_boundary(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
}

/// Appends one RFC 6587 octet-counted frame: `LEN SP MSG`.
pub fn push_frame(out: &mut Vec<u8>, message: &[u8]) {
    out.extend_from_slice(message.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(message);
}

/// The machine's name: `HOSTNAME` from the environment door, else the kernel's, else `-`.
fn machine_hostname(env: &dyn EnvDoor) -> String {
    env.var("HOSTNAME")
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "-".to_owned())
}

fn tls_settings(config: &Config, destination: &Destination) -> Result<Tls, BuildError> {
    let roots = match &config.ca_file {
        Some(path) => {
            let what = format!("{WHAT}.ca_file");
            let file = std::fs::File::open(path)
                .map_err(|e| BuildError::config(&what, format!("{}: {e}", path.display())))?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_pemfile::certs(&mut BufReader::new(file)) {
                let cert = cert
                    .map_err(|e| BuildError::config(&what, format!("{}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| BuildError::config(&what, format!("{}: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err(BuildError::config(
                    &what,
                    format!("{}: no PEM certificate in it", path.display()),
                ));
            }
            roots
        }
        None => rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    };
    let server_name = match (&config.server_name, &destination.peer.host) {
        (Some(name), _) => ServerName::try_from(name.trim().to_owned()).map_err(|e| {
            BuildError::config(format!("{WHAT}.server_name"), format!("'{name}': {e}"))
        })?,
        (None, url::Host::Domain(d)) => ServerName::try_from(d.clone())
            .map_err(|e| BuildError::config(format!("{WHAT}.url"), format!("'{d}': {e}")))?,
        (None, url::Host::Ipv4(ip)) => ServerName::IpAddress(std::net::IpAddr::V4(*ip).into()),
        (None, url::Host::Ipv6(ip)) => ServerName::IpAddress(std::net::IpAddr::V6(*ip).into()),
    };
    Tls::new(roots, server_name).map_err(|e| BuildError::Failed(format!("{WHAT}: TLS: {e}")))
}

#[async_trait]
impl Sink for SyslogSink {
    fn kind(&self) -> &'static str {
        "syslog"
    }

    fn endpoint(&self) -> String {
        self.destination.to_string()
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    async fn send(&self, batch: &[Outgoing]) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        match &self.transport {
            Transport::Udp(udp) => {
                let messages: Vec<Vec<u8>> = batch.iter().map(|o| self.message(o)).collect();
                udp.send(&messages).await
            }
            Transport::Stream(stream) => {
                let mut framed = Vec::new();
                for out in batch {
                    push_frame(&mut framed, &self.message(out));
                }
                stream.send(&framed).await
            }
        }
    }
}
