//! The `splunk_hec` destination (placeholder: not built yet).

use std::sync::Arc;

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::sink::Sink;
use serde::{Deserialize, Serialize};

/// Settings of a `type = "splunk_hec"` entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {}

impl ComponentConfig for Config {}

/// Builds `splunk_hec` sinks.
#[derive(Debug)]
pub struct SplunkHecFactory;

impl Factory for SplunkHecFactory {
    type Built = dyn Sink;
    type Config = Config;

    fn name(&self) -> &'static str {
        "splunk_hec"
    }

    fn build(&self, _config: Config, _doors: &Doors) -> Result<Vec<Arc<dyn Sink>>, BuildError> {
        Err(BuildError::config("sinks.splunk_hec", "not available yet"))
    }
}
