//! `noop`: a scanner that does nothing, cheaply, on request.
//!
//! Used by the queue throughput benchmark (100,000 tasks through `fanout`) and by engine tests
//! (failures, slow tasks that must stop promptly on cancel, findings with stable fingerprints,
//! chaining through `discover`, enumerations through `enumerate`). Order of effects: with
//! `enumerate`, an enumeration report expecting `fanout` sub-tasks; then `sleep_ms`, `fail`,
//! `findings`, `discover`, `fanout` (sub-tasks on `noop://task/{i}` with the `child` params, `{}`
//! by default), and with `enumerate` the report that the enumeration is complete.
//! Registered only when `scanners.noop.enabled` is set (tests and benchmarks).
//! Its run path does no schema work and no I/O: params were validated at scan creation.

use argus_core::finding::{NewFinding, Severity};
use argus_core::scanner::{Emission, ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use async_trait::async_trait;
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::Duration;

/// The built-in no-op scanner.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopScanner;

/// Registry name.
pub const NOOP: &str = "noop";

fn schema() -> &'static (Value, Option<jsonschema::Validator>) {
    static SCHEMA: OnceLock<(Value, Option<jsonschema::Validator>)> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let s = json!({
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
        });
        // A constant schema: the unit tests prove it compiles.
        let v = crate::schema::compile(&s).ok();
        (s, v)
    })
}

fn uint(params: &Value, key: &str) -> u64 {
    params.get(key).and_then(Value::as_u64).unwrap_or(0)
}

#[async_trait]
impl Scanner for NoopScanner {
    fn info(&self) -> ScannerInfo {
        ScannerInfo {
            name: NOOP.into(),
            description: "Does nothing; can fan out sub-tasks, sleep, fail or emit findings on request (tests and benchmarks)."
                .into(),
            source: "builtin".into(),
            target_kinds: TargetKind::ALL.to_vec(),
            params_schema: schema().0.clone(),
            available: true,
            detail: None,
        }
    }

    fn enumerates(&self, params: &Value) -> bool {
        params
            .get("enumerate")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    fn validate_params(&self, params: &Value) -> Result<(), CoreError> {
        match &schema().1 {
            Some(v) => crate::schema::validate_with(v, params),
            None => Err(CoreError::Backend(
                "noop params schema does not compile".into(),
            )),
        }
    }

    async fn run(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        if ctx.cancel.is_cancelled() {
            return Err(ScanError::Cancelled);
        }
        let p = &ctx.params;
        let enumerate = self.enumerates(p);
        if enumerate {
            ctx.emit
                .send(Emission::Enumeration {
                    expected_total: Some(uint(p, "fanout")),
                    complete: false,
                })
                .await?;
        }
        let sleep_ms = uint(p, "sleep_ms");
        if sleep_ms > 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => {}
                _ = ctx.cancel.cancelled() => return Err(ScanError::Cancelled),
            }
        }
        if p.get("fail").and_then(Value::as_bool).unwrap_or(false) {
            return Err(ScanError::Failed(
                "noop failed as requested (fail = true)".into(),
            ));
        }
        let target = &ctx.task.target;
        for i in 0..uint(p, "findings") {
            let n = i.to_string();
            let f = NewFinding::new(
                "noop",
                Severity::Info,
                format!("noop finding {i}"),
                target.clone(),
                &["noop", &target.key(), &n],
            );
            ctx.emit.finding(f).await?;
        }
        if let Some(found) = p.get("discover").and_then(Value::as_array) {
            for v in found.iter().filter_map(Value::as_str) {
                // `KIND:VALUE` names the kind (`location:file:///x`); otherwise a URL when the
                // entry contains '://', else a domain.
                let (kind, v) = match v
                    .split_once(':')
                    .and_then(|(k, rest)| TargetKind::parse(k).map(|k| (k, rest)))
                {
                    Some(named) => named,
                    None if v.contains("://") => (TargetKind::Url, v),
                    None => (TargetKind::Domain, v),
                };
                let t = Target::parse(kind, v)
                    .map_err(|e| ScanError::Failed(format!("noop: cannot discover '{v}': {e}")))?;
                ctx.emit.target(t).await?;
            }
        }
        let fanout = uint(p, "fanout");
        if fanout > 0 {
            let child = match p.get("child") {
                Some(c @ Value::Object(_)) => c.clone(),
                _ => json!({}),
            };
            for i in 0..fanout {
                let target =
                    Target::parse(TargetKind::Url, &format!("noop://task/{i}")).map_err(|e| {
                        ScanError::Failed(format!("noop: cannot build sub-task target: {e}"))
                    })?;
                ctx.emit
                    .send(Emission::SubTask {
                        scanner: NOOP.into(),
                        target,
                        params: Some(child.clone()),
                    })
                    .await?;
            }
        }
        if enumerate {
            ctx.emit
                .send(Emission::Enumeration {
                    expected_total: None,
                    complete: true,
                })
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_compiles_and_checks() {
        let s = NoopScanner;
        assert!(s
            .validate_params(&json!({"fanout": 3, "fail": true, "sleep_ms": 1, "findings": 2}))
            .is_ok());
        assert!(s.validate_params(&Value::Null).is_ok());
        match s.validate_params(&json!({"fanout": -1})) {
            Err(CoreError::Invalid { path, .. }) => assert_eq!(path, "/fanout"),
            other => panic!("{other:?}"),
        }
        assert!(s.validate_params(&json!({"other": 1})).is_err());
        assert!(s
            .validate_params(&json!({"fanout": 2, "child": {"findings": 1, "sleep_ms": 3}}))
            .is_ok());
        match s.validate_params(&json!({"child": {"sleep_ms": "long"}})) {
            Err(CoreError::Invalid { path, .. }) => assert_eq!(path, "/child/sleep_ms"),
            other => panic!("{other:?}"),
        }
        assert!(s
            .validate_params(&json!({"discover": ["a.example", 3]}))
            .is_err());
        assert_eq!(
            Target::parse(TargetKind::Url, "noop://task/1")
                .unwrap()
                .value(),
            "noop://task/1"
        );
    }
}
