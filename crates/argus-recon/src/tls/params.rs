//! `tls`' params: the typed struct the run path reads and the JSON schema that checks them at
//! scan creation.

use serde::Deserialize;
use serde_json::{json, Value};

use argus_scanners::schema::{Params, ParamsSchema};

/// How a `tls` task connects and judges.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct TlsParams {
    /// Connect plus handshake timeout, per address.
    pub timeout_ms: u64,
    /// A certificate expiring within this many days is a `medium` finding.
    pub warn_days: u32,
}

impl Default for TlsParams {
    fn default() -> Self {
        TlsParams {
            timeout_ms: 10_000,
            warn_days: 30,
        }
    }
}

impl Params for TlsParams {
    fn schema() -> Value {
        let d = TlsParams::default();
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 300000, "default": d.timeout_ms,
                               "description": "connect and handshake timeout per address"},
                "warn_days": {"type": "integer", "minimum": 0, "maximum": 3650, "default": d.warn_days,
                              "description": "a certificate expiring within this many days is a medium finding"}
            }
        })
    }
}

/// The compiled schema, once per process.
pub fn schema() -> &'static ParamsSchema {
    static SCHEMA: std::sync::OnceLock<ParamsSchema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(ParamsSchema::of::<TlsParams>)
}
