//! The `webhook` destination (placeholder: not built yet).

use std::sync::Arc;

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::sink::Sink;
use serde::{Deserialize, Serialize};

/// Settings of a `type = "webhook"` entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {}

impl ComponentConfig for Config {}

/// Builds `webhook` sinks.
#[derive(Debug)]
pub struct WebhookFactory;

impl Factory for WebhookFactory {
    type Built = dyn Sink;
    type Config = Config;

    fn name(&self) -> &'static str {
        "webhook"
    }

    fn build(&self, _config: Config, _doors: &Doors) -> Result<Vec<Arc<dyn Sink>>, BuildError> {
        Err(BuildError::config("sinks.webhook", "not available yet"))
    }
}
