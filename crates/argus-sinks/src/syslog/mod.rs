//! The `syslog` destination (placeholder: not built yet).

use std::sync::Arc;

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::sink::Sink;
use serde::{Deserialize, Serialize};

/// Settings of a `type = "syslog"` entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {}

impl ComponentConfig for Config {}

/// Builds `syslog` sinks.
#[derive(Debug)]
pub struct SyslogFactory;

impl Factory for SyslogFactory {
    type Built = dyn Sink;
    type Config = Config;

    fn name(&self) -> &'static str {
        "syslog"
    }

    fn build(&self, _config: Config, _doors: &Doors) -> Result<Vec<Arc<dyn Sink>>, BuildError> {
        Err(BuildError::config("sinks.syslog", "not available yet"))
    }
}
