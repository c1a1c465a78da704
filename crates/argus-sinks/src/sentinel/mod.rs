//! The `sentinel` destination (placeholder: not built yet).

use std::sync::Arc;

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::sink::Sink;
use serde::{Deserialize, Serialize};

/// Settings of a `type = "sentinel"` entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {}

impl ComponentConfig for Config {}

/// Builds `sentinel` sinks.
#[derive(Debug)]
pub struct SentinelFactory;

impl Factory for SentinelFactory {
    type Built = dyn Sink;
    type Config = Config;

    fn name(&self) -> &'static str {
        "sentinel"
    }

    fn build(&self, _config: Config, _doors: &Doors) -> Result<Vec<Arc<dyn Sink>>, BuildError> {
        Err(BuildError::config("sinks.sentinel", "not available yet"))
    }
}
