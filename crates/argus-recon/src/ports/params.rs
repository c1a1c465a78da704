//! `ports`' params: the typed struct the run path reads and the JSON schema that checks them at
//! scan creation. The port list is a string ([`super::spec`]), checked beyond the schema by
//! [`super::PortsScanner::validate_params`] so a malformed list is a 422 at `/ports`.

use serde::Deserialize;
use serde_json::{json, Value};

use argus_scanners::schema::{Params, ParamsSchema};

/// Default port list.
pub const DEFAULT_PORTS: &str = "top-100";
/// Default cap on the addresses one task scans (a CIDR block, a name's addresses).
pub const DEFAULT_MAX_HOSTS: u64 = 4096;

/// What a `ports` task scans and how hard.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct PortsParams {
    /// Ports: `1-1024,8080`, `top-100`, `top-1000` (see [`super::spec`]).
    pub ports: String,
    /// Connection attempts in flight at once, all hosts together.
    pub concurrency: u32,
    /// Most connection attempts per second to one address; 0 means no per-host limit.
    pub per_host_rate: u32,
    /// How long a connection attempt may take before the port counts as filtered.
    pub timeout_ms: u64,
    /// How long to wait for a banner on an open port (0 skips banner grabbing).
    pub banner_ms: u64,
    /// Most banner bytes kept.
    pub banner_bytes: u32,
    /// Most addresses one task scans; a larger CIDR block is refused at scan creation.
    pub max_hosts: u64,
}

impl Default for PortsParams {
    fn default() -> Self {
        PortsParams {
            ports: DEFAULT_PORTS.into(),
            concurrency: 1000,
            per_host_rate: 0,
            timeout_ms: 1500,
            banner_ms: 500,
            banner_bytes: 256,
            max_hosts: DEFAULT_MAX_HOSTS,
        }
    }
}

impl Params for PortsParams {
    fn schema() -> Value {
        let d = PortsParams::default();
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "ports": {"type": "string", "minLength": 1, "default": d.ports,
                          "description": "ports to scan: numbers and ranges separated by commas (1-1024,8080) and top-N lists of the most common ports (top-100, top-1000)"},
                "concurrency": {"type": "integer", "minimum": 1, "maximum": 10000, "default": d.concurrency,
                                "description": "connection attempts in flight at once"},
                "per_host_rate": {"type": "integer", "minimum": 0, "default": d.per_host_rate,
                                  "description": "most connection attempts per second to one address (0: no per-host limit; the scan's rate limit applies anyway)"},
                "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 60000, "default": d.timeout_ms,
                               "description": "connect timeout; a port that does not answer in time counts as filtered"},
                "banner_ms": {"type": "integer", "minimum": 0, "maximum": 30000, "default": d.banner_ms,
                              "description": "how long to wait for what an open port says first (0: no banner grabbing)"},
                "banner_bytes": {"type": "integer", "minimum": 1, "maximum": 4096, "default": d.banner_bytes,
                                 "description": "most banner bytes kept"},
                "max_hosts": {"type": "integer", "minimum": 1, "maximum": 1048576, "default": d.max_hosts,
                              "description": "most addresses one task scans; a larger CIDR block is refused when the scan is created"}
            }
        })
    }
}

/// The compiled schema, once per process.
pub fn schema() -> &'static ParamsSchema {
    static SCHEMA: std::sync::OnceLock<ParamsSchema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(ParamsSchema::of::<PortsParams>)
}
