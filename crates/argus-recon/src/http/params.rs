//! `http`'s params: the typed struct the run path reads and the JSON schema that checks them at
//! scan creation.

use serde::Deserialize;
use serde_json::{json, Value};

use argus_scanners::schema::{Params, ParamsSchema};

/// How an `http` task probes.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct HttpParams {
    /// Whole-request timeout (connect, TLS, headers, body), per hop.
    pub timeout_ms: u64,
    /// Most redirects followed (each hop is recorded in the finding).
    pub max_redirects: u32,
    /// Most body bytes read (for the title, the fingerprints and the hash).
    pub max_body_bytes: u64,
    /// The `User-Agent` sent.
    pub user_agent: String,
}

impl Default for HttpParams {
    fn default() -> Self {
        HttpParams {
            timeout_ms: 10_000,
            max_redirects: 10,
            max_body_bytes: 1 << 20,
            user_agent: concat!("argus-recon/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

impl Params for HttpParams {
    fn schema() -> Value {
        let d = HttpParams::default();
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 300000, "default": d.timeout_ms,
                               "description": "timeout of each request, body included"},
                "max_redirects": {"type": "integer", "minimum": 0, "maximum": 50, "default": d.max_redirects,
                                  "description": "most redirects followed; every hop is recorded"},
                "max_body_bytes": {"type": "integer", "minimum": 0, "maximum": 67108864, "default": d.max_body_bytes,
                                   "description": "most body bytes read for the title, fingerprints and hash"},
                "user_agent": {"type": "string", "minLength": 1, "maxLength": 512, "default": d.user_agent,
                               "description": "User-Agent header sent"}
            }
        })
    }
}

/// The compiled schema, once per process.
pub fn schema() -> &'static ParamsSchema {
    static SCHEMA: std::sync::OnceLock<ParamsSchema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(ParamsSchema::of::<HttpParams>)
}
