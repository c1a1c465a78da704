//! Settings of a `type = "syslog"` entry, and their checks.
//!
//! Every check runs when the sink is built, so a bad entry is refused at start-up with the key
//! it concerns (`sinks.syslog.url: …`), never at the first event.

use std::fmt;
use std::path::{Path, PathBuf};

use argus_core::component::{BuildError, ComponentConfig};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::encoding::rfc5424::MsgFormat;
use crate::transport::stream::Peer;

/// Where config errors point.
pub(crate) const WHAT: &str = "sinks.syslog";

/// The largest UDP payload over IPv4 (65535 − IP and UDP headers).
pub const MAX_UDP_MESSAGE: usize = 65_507;
/// `max_message` for UDP when the entry does not say: what rsyslog and syslog-ng take by
/// default, and far below fragmentation trouble on most paths.
pub const DEFAULT_UDP_MESSAGE: usize = 8192;
/// `connect_timeout_ms` when the entry does not say.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5000;

/// Settings of a `type = "syslog"` entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `udp://host:port`, `tcp://host:port` or `tls://host:port` (ports default to 514, 514
    /// and 6514). Required.
    pub url: Option<String>,
    /// `rfc5424` (structured data and a summary) or `json` (the event as MSG).
    pub format: MsgFormat,
    /// A facility name (`local0`…`local7`, `user`, `auth`, `security`, …) or code (0–23).
    pub facility: Facility,
    /// APP-NAME (at most 48 printable ASCII characters, no spaces).
    pub app_name: String,
    /// HOSTNAME; the machine's name when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// A PEM file of the CA(s) to trust for `tls://` instead of the public web roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The name the server's certificate must carry, when it is not the URL's host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Messages longer than this many bytes are cut at a character boundary (UDP: 8192 unless
    /// set; TCP and TLS: no limit unless set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_message: Option<usize>,
    /// How long connecting (with the TLS handshake) may take.
    pub connect_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            url: None,
            format: MsgFormat::default(),
            facility: Facility::default(),
            app_name: "argus".into(),
            hostname: None,
            ca_file: None,
            server_name: None,
            max_message: None,
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
        }
    }
}

impl ComponentConfig for Config {
    fn absolutize(&mut self, cwd: &Path) {
        if let Some(ca) = &mut self.ca_file {
            if ca.is_relative() {
                *ca = cwd.join(&*ca);
            }
        }
    }
}

/// How a syslog destination is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Udp,
    Tcp,
    Tls,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Udp => "udp",
            Scheme::Tcp => "tcp",
            Scheme::Tls => "tls",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Udp | Scheme::Tcp => 514,
            Scheme::Tls => 6514,
        }
    }
}

/// A parsed `url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub scheme: Scheme,
    pub peer: Peer,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.peer)
    }
}

fn url_error(message: impl fmt::Display) -> BuildError {
    BuildError::config(format!("{WHAT}.url"), message)
}

/// Parses `url` (`udp://`, `tcp://`, `tls://` with a host and optional port; nothing else).
pub fn parse_url(url: Option<&str>) -> Result<Destination, BuildError> {
    let raw = url.ok_or_else(|| {
        url_error(
            "missing: the destination, as udp://host:port, tcp://host:port or tls://host:port",
        )
    })?;
    let parsed = url::Url::parse(raw).map_err(|e| url_error(format!("'{raw}': {e}")))?;
    let scheme = match parsed.scheme() {
        "udp" => Scheme::Udp,
        "tcp" => Scheme::Tcp,
        "tls" => Scheme::Tls,
        other => {
            return Err(url_error(format!(
                "unknown scheme '{other}' (udp, tcp or tls)"
            )))
        }
    };
    // Not echoed back: a URL with user information may hold a password.
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(url_error("must not carry user information"));
    }
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() || parsed.fragment().is_some()
    {
        return Err(url_error(format!(
            "'{raw}': only a host and a port are allowed"
        )));
    }
    let host = match parsed.host() {
        // `udp`/`tcp`/`tls` are not special schemes to the URL parser: their hosts come back
        // as written, IPv4 addresses included.
        Some(url::Host::Domain(d)) if !d.is_empty() => match d.parse::<std::net::Ipv4Addr>() {
            Ok(ip) => url::Host::Ipv4(ip),
            Err(_) => url::Host::Domain(d.to_ascii_lowercase()),
        },
        Some(url::Host::Ipv4(ip)) => url::Host::Ipv4(ip),
        Some(url::Host::Ipv6(ip)) => url::Host::Ipv6(ip),
        _ => return Err(url_error(format!("'{raw}': no host"))),
    };
    let port = parsed.port().unwrap_or(scheme.default_port());
    if port == 0 {
        return Err(url_error(format!("'{raw}': port 0")));
    }
    Ok(Destination {
        scheme,
        peer: Peer { host, port },
    })
}

/// A syslog facility, by code (0–23); written and read by name, or read by code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facility(pub u8);

impl Default for Facility {
    fn default() -> Self {
        Facility(16)
    }
}

/// Facility names by code (RFC 5424 §6.2.1, with the names syslog daemons use).
const FACILITY_NAMES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

impl Facility {
    /// The facility a name stands for (the usual names, and common aliases).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase();
        let code = match name.as_str() {
            "security" => 4,
            "logaudit" => 13,
            "logalert" => 14,
            "cron2" | "clockd" => 15,
            n => FACILITY_NAMES.iter().position(|f| *f == n)?,
        };
        u8::try_from(code).ok().map(Facility)
    }

    /// The facility's name.
    pub fn name(self) -> &'static str {
        FACILITY_NAMES
            .get(usize::from(self.0))
            .copied()
            .unwrap_or("local0")
    }
}

impl Serialize for Facility {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Facility {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Code(u64),
            Name(String),
        }
        let bad = || {
            serde::de::Error::custom(format!(
                "facility: a name ({}, security) or a code 0-23",
                FACILITY_NAMES.join(", ")
            ))
        };
        match Raw::deserialize(d)? {
            Raw::Code(c) => u8::try_from(c)
                .ok()
                .filter(|c| *c < 24)
                .map(Facility)
                .ok_or_else(bad),
            Raw::Name(n) => Facility::from_name(&n).ok_or_else(bad),
        }
    }
}
