//! `subdomains`' params: the typed struct the run path reads and the JSON schema that checks
//! them at scan creation.

use serde::Deserialize;
use serde_json::{json, Value};

use argus_scanners::schema::{Params, ParamsSchema};

/// Default names resolved at once.
pub const DEFAULT_CONCURRENCY: u64 = 100;
/// Default query timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 3000;

/// What a `subdomains` task does.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct SubdomainsParams {
    /// A wordlist file on the server, one label per line (`#` comments); replaces the shipped
    /// list.
    pub wordlist: Option<String>,
    /// Labels given inline; replace the shipped list (added to `wordlist` when both are given).
    pub words: Option<Vec<String>>,
    /// Brute-force at all (false: passive sources only).
    pub brute: bool,
    /// Names resolved at once.
    pub concurrency: u64,
    /// The DNS server to ask (`ip:port` or `ip`).
    pub resolver: Option<String>,
    /// Give a query up after this long.
    pub timeout_ms: u64,
    /// URL templates of passive sources (`{domain}` is replaced), answering crt.sh's JSON;
    /// replace `[scanners.subdomains] passive_urls`.
    pub passive_urls: Option<Vec<String>>,
}

impl Default for SubdomainsParams {
    fn default() -> Self {
        SubdomainsParams {
            wordlist: None,
            words: None,
            brute: true,
            concurrency: DEFAULT_CONCURRENCY,
            resolver: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            passive_urls: None,
        }
    }
}

impl Params for SubdomainsParams {
    fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "wordlist": {"type": "string", "minLength": 1,
                             "description": "wordlist file on the server, one label per line (# comments); replaces the shipped list; must lie inside scan.local_roots"},
                "words": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 200},
                          "description": "labels to try, inline; replace the shipped list (added to wordlist when both are given)"},
                "brute": {"type": "boolean", "default": true,
                          "description": "resolve wordlist names (false: passive sources only)"},
                "concurrency": {"type": "integer", "minimum": 1, "maximum": 5000,
                                "default": DEFAULT_CONCURRENCY,
                                "description": "names resolved at once"},
                "resolver": {"type": "string", "minLength": 1,
                             "description": "DNS server to ask, ip:port or ip (port 53); default: [scanners.subdomains] resolver, else the system's. Passes the network guard."},
                "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 600000,
                               "default": DEFAULT_TIMEOUT_MS,
                               "description": "give a query up after this many milliseconds"},
                "passive_urls": {"type": "array", "items": {"type": "string", "minLength": 1},
                                 "description": "passive sources: URL templates with {domain} answering crt.sh's JSON ([{\"name_value\": \"a.example.com\\nb.example.com\"}]); replace [scanners.subdomains] passive_urls; their addresses pass the network guard"}
            }
        })
    }
}

/// The compiled schema, once per process.
pub fn schema() -> &'static ParamsSchema {
    static SCHEMA: std::sync::OnceLock<ParamsSchema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(ParamsSchema::of::<SubdomainsParams>)
}
