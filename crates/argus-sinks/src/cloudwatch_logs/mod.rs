//! The `cloudwatch_logs` destination (placeholder: not built yet).

use std::sync::Arc;

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::sink::Sink;
use serde::{Deserialize, Serialize};

/// Settings of a `type = "cloudwatch_logs"` entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {}

impl ComponentConfig for Config {}

/// Builds `cloudwatch_logs` sinks.
#[derive(Debug)]
pub struct CloudWatchLogsFactory;

impl Factory for CloudWatchLogsFactory {
    type Built = dyn Sink;
    type Config = Config;

    fn name(&self) -> &'static str {
        "cloudwatch_logs"
    }

    fn build(&self, _config: Config, _doors: &Doors) -> Result<Vec<Arc<dyn Sink>>, BuildError> {
        Err(BuildError::config(
            "sinks.cloudwatch_logs",
            "not available yet",
        ))
    }
}
