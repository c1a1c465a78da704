//! `secrets`' params: the JSON schema they are checked against at scan creation and the typed
//! struct the run reads (the schema's defaults are the only source of defaults).

use crate::engine::ScanPolicy;
use crate::git::RefSelection;
use argus_core::scanner::ScanError;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::OnceLock;

pub(super) fn schema() -> &'static (Value, Option<jsonschema::Validator>) {
    static SCHEMA: OnceLock<(Value, Option<jsonschema::Validator>)> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let s = json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "branch": {"type": "string", "minLength": 1, "maxLength": 255,
                           "description": "repo: walk only this ref or commit (main, refs/heads/dev, v1.2, a full commit id); overrides all_refs"},
                "since_commit": {"type": "string", "minLength": 1, "maxLength": 255,
                                 "description": "repo: only commits not reachable from this one (incremental scans)"},
                "all_refs": {"type": "boolean", "default": true,
                             "description": "repo: walk every ref (branches, tags, remotes, notes, stash) plus HEAD; false: HEAD only"},
                "include_unreachable": {"type": "boolean", "default": false,
                                        "description": "repo: also scan packed blobs no commit reaches (reported without commit or path)"},
                "max_blob_bytes": {"type": "integer", "minimum": 1, "default": ScanPolicy::default().max_blob_size,
                                   "description": "skip blobs and files larger than this (counted as too_large)"},
                "scan_binary": {"type": "boolean", "default": false,
                                "description": "also scan content that looks binary"},
                "skip_minified": {"type": "boolean", "default": true,
                                  "description": "skip minified or generated text (very long lines)"},
                "respect_gitignore": {"type": "boolean", "default": false,
                                      "description": "location: skip files ignored by .gitignore/.ignore (default false: ignored files such as .env are where secrets live)"},
                "bundle": {"type": "boolean", "default": true,
                           "description": "repo: keep a copy of the repository for history cleaning, encrypted with the server's repository copy key (never listed or downloadable; not kept when no key is configured)"},
                "timeout_secs": {"type": "integer", "minimum": 1, "maximum": 86400, "default": 3600,
                                 "description": "repo: limit on the clone and on the bundle, each"},
                "credential": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$",
                               "description": "name of a configured git credential (a token for http(s) URLs or an ssh key for ssh URLs, bound to a host) for cloning a private repository; never the secret itself"}
            }
        });
        // A constant schema: the unit tests prove it compiles.
        let v = argus_scanners::schema::compile(&s).ok();
        (s, v)
    })
}

/// Params after defaults (the schema's defaults are the only source of them).
#[derive(Debug, Deserialize)]
pub(super) struct Params {
    pub(super) branch: Option<String>,
    pub(super) since_commit: Option<String>,
    pub(super) all_refs: bool,
    pub(super) include_unreachable: bool,
    pub(super) max_blob_bytes: u64,
    pub(super) scan_binary: bool,
    pub(super) skip_minified: bool,
    pub(super) respect_gitignore: bool,
    pub(super) bundle: bool,
    pub(super) timeout_secs: u64,
    pub(super) credential: Option<String>,
}

impl Params {
    pub(super) fn parse(params: &Value) -> Result<Self, ScanError> {
        let defaults = argus_scanners::schema::defaults(&schema().0);
        let merged = argus_scanners::schema::with_defaults(&defaults, params)
            .map_err(|e| ScanError::Failed(format!("secrets params: {e}")))?;
        serde_json::from_value(Value::Object(merged))
            .map_err(|e| ScanError::Failed(format!("secrets params: {e}")))
    }

    pub(super) fn policy(&self) -> ScanPolicy {
        ScanPolicy {
            max_blob_size: self.max_blob_bytes,
            scan_binary: self.scan_binary,
            skip_minified: self.skip_minified,
            // The platform stores only preview + SHA-256: the value must never leave the engine.
            keep_secret_values: false,
            ..ScanPolicy::default()
        }
    }

    pub(super) fn refs(&self) -> RefSelection {
        match &self.branch {
            Some(b) => RefSelection::Refs(vec![b.clone()]),
            None if self.all_refs => RefSelection::All,
            None => RefSelection::Refs(vec!["HEAD".into()]),
        }
    }
}
