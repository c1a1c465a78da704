//! The config of a recon scanner whose only setting is whether it is registered
//! (`[scanners.ports|http|tls] enabled`), shared by their factories.

use std::sync::Arc;

use argus_core::component::ComponentConfig;
use argus_core::scanner::Scanner;
use serde::{Deserialize, Serialize};

/// `[scanners.<name>]` of `ports`, `http` and `tls`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EnabledConfig {
    /// Register the scanner (default true).
    pub enabled: bool,
}

impl Default for EnabledConfig {
    fn default() -> Self {
        EnabledConfig { enabled: true }
    }
}

impl ComponentConfig for EnabledConfig {}

impl EnabledConfig {
    /// `scanner` when enabled, else nothing: what a factory builds.
    pub fn build(&self, scanner: impl Scanner) -> Vec<Arc<dyn Scanner>> {
        if self.enabled {
            vec![Arc::new(scanner)]
        } else {
            Vec::new()
        }
    }
}
