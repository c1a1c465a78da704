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
//!
//! The folder is the shape of every native scanner: `mod.rs` (the scanner, its config and its
//! [`Factory`](argus_core::component::Factory)), `params.rs` (typed params + JSON schema),
//! `tests.rs`, and one line in [`crate::catalog`].

mod params;
#[cfg(test)]
mod tests;

pub use params::NoopParams;

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::finding::{NewFinding, Severity};
use argus_core::scanner::{Emission, ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

use crate::schema::ParamsSchema;

/// The built-in no-op scanner.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopScanner;

/// Registry name.
pub const NOOP: &str = "noop";

/// `[scanners.noop]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NoopConfig {
    /// Register `noop`, which accepts every target kind and does nothing; off in production so
    /// it cannot make unsupported targets look scannable.
    pub enabled: bool,
}

impl ComponentConfig for NoopConfig {}

/// Builds `noop` when `[scanners.noop] enabled = true`, nothing otherwise.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopFactory;

impl Factory for NoopFactory {
    type Built = dyn Scanner;
    type Config = NoopConfig;

    fn name(&self) -> &'static str {
        NOOP
    }

    fn build(
        &self,
        config: NoopConfig,
        _doors: &Doors,
    ) -> Result<Vec<Arc<dyn Scanner>>, BuildError> {
        Ok(if config.enabled {
            vec![Arc::new(NoopScanner)]
        } else {
            Vec::new()
        })
    }
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
            params_schema: params::schema().schema().clone(),
            available: true,
            detail: None,
        }
    }

    fn enumerates(&self, params: &Value) -> bool {
        // The one param read without parsing the rest: asked per task at planning time.
        params
            .get("enumerate")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    fn validate_params(&self, params: &Value) -> Result<(), CoreError> {
        params::schema().validate(params)
    }

    async fn run(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        if ctx.cancel.is_cancelled() {
            return Err(ScanError::Cancelled);
        }
        let p: NoopParams =
            ParamsSchema::read(&ctx.params).map_err(|e| ScanError::Failed(format!("noop {e}")))?;
        let enumerate = p.enumerate;
        if enumerate {
            ctx.emit
                .send(Emission::Enumeration {
                    expected_total: Some(p.fanout),
                    complete: false,
                })
                .await?;
        }
        let sleep_ms = p.sleep_ms;
        if sleep_ms > 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => {}
                _ = ctx.cancel.cancelled() => return Err(ScanError::Cancelled),
            }
        }
        if p.fail {
            return Err(ScanError::Failed(
                "noop failed as requested (fail = true)".into(),
            ));
        }
        let target = &ctx.task.target;
        for i in 0..p.findings {
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
        {
            for v in p.discover.iter().map(String::as_str) {
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
        let fanout = p.fanout;
        if fanout > 0 {
            let child = match &p.child {
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
