//! `dns`'s params: the typed struct the run path reads and the JSON schema that checks them at
//! scan creation.

use serde::Deserialize;
use serde_json::{json, Value};

use argus_scanners::schema::{Params, ParamsSchema};

/// The record types asked for a domain when `record_types` is not given.
pub const DEFAULT_TYPES: [&str; 8] = ["A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "CAA"];

/// What a `dns` task asks.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct DnsParams {
    /// The DNS server to ask (`ip:port` or `ip`); default: `[scanners.dns] resolver`, else the
    /// system's.
    pub resolver: Option<String>,
    /// Record types to ask for a domain (default [`DEFAULT_TYPES`]).
    pub record_types: Option<Vec<String>>,
    /// Give a query up after this long.
    pub timeout_ms: u64,
}

impl Default for DnsParams {
    fn default() -> Self {
        DnsParams {
            resolver: None,
            record_types: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }
}

/// The default query timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;

impl Params for DnsParams {
    fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "resolver": {"type": "string", "minLength": 1,
                             "description": "DNS server to ask, ip:port or ip (port 53); default: [scanners.dns] resolver, else the system's. Passes the network guard."},
                "record_types": {"type": "array", "minItems": 1, "uniqueItems": true,
                                 "items": {"type": "string", "enum": DEFAULT_TYPES},
                                 "description": "record types to ask for a domain (default: all of them)"},
                "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 600000,
                               "default": DEFAULT_TIMEOUT_MS,
                               "description": "give a query up after this many milliseconds"}
            }
        })
    }
}

/// The compiled schema, once per process.
pub fn schema() -> &'static ParamsSchema {
    static SCHEMA: std::sync::OnceLock<ParamsSchema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(ParamsSchema::of::<DnsParams>)
}
