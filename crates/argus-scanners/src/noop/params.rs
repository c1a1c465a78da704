//! `noop`'s params: the typed struct the run path reads and the JSON schema that checks them at
//! scan creation (the 422 names the failing path, e.g. `/child/sleep_ms`).

use serde::Deserialize;
use serde_json::{json, Value};

use crate::schema::{Params, ParamsSchema};

/// What a `noop` task is asked to do (see the module docs of [`super`] for the order).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NoopParams {
    /// Emit this many `noop` sub-tasks on `noop://task/{i}`.
    pub fanout: u64,
    /// Fail the task.
    pub fail: bool,
    /// Sleep this long (stops promptly on cancel).
    pub sleep_ms: u64,
    /// Emit this many info findings.
    pub findings: u64,
    /// Params of the fan-out sub-tasks (`{}` when absent).
    pub child: Option<Value>,
    /// Emit these as discovered targets: `KIND:VALUE`, else a URL when the entry contains
    /// `://`, else a domain.
    pub discover: Vec<String>,
    /// Act as an enumeration.
    pub enumerate: bool,
}

impl Params for NoopParams {
    fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "fanout": {"type": "integer", "minimum": 0, "default": 0,
                           "description": "emit this many noop sub-tasks on noop://task/{i}"},
                "fail": {"type": "boolean", "default": false, "description": "fail the task"},
                "sleep_ms": {"type": "integer", "minimum": 0, "default": 0,
                             "description": "sleep this long (stops promptly on cancel)"},
                "findings": {"type": "integer", "minimum": 0, "default": 0,
                             "description": "emit this many info findings"},
                "child": {"$ref": "#",
                          "description": "params of the fan-out sub-tasks (default {})"},
                "discover": {"type": "array", "items": {"type": "string", "minLength": 1},
                             "description": "emit these as discovered targets (chaining): KIND:VALUE (e.g. location:file:///srv/x), else a URL when the entry contains '://', else a domain"},
                "enumerate": {"type": "boolean", "default": false,
                              "description": "act as an enumeration: report fanout as the expected sub-task count first, and completion after the fan-out (the scan's enqueue_done waits for it)"}
            }
        })
    }
}

/// The compiled schema, once per process.
pub fn schema() -> &'static ParamsSchema {
    static SCHEMA: std::sync::OnceLock<ParamsSchema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(ParamsSchema::of::<NoopParams>)
}
