//! The `tools` factory: every built-in tool file, then the user's tool folder (`[tools] dir`),
//! each a `tool:<name>` scanner running through the process door from [`Doors`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use argus_core::component::{BuildError, ComponentConfig, Doors, Factory};
use argus_core::scanner::Scanner;
use serde::{Deserialize, Serialize};

use crate::{builtin_tools, load_tool_dir};

/// Catalog name.
pub const TOOLS: &str = "tools";

/// The tools' table: `[tools]` in the binary's config (a top-level section, kept where it
/// always was; see the binary's `runtime::scanner_tables`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ToolsConfig {
    /// Folder of user tool definitions (`*.toml`), added to the built-in ones.
    pub dir: Option<PathBuf>,
    /// The CLI that runs `runner = "container"` tools: a name on PATH (`podman`, `docker`) or a
    /// path. Unset: `podman`, else `docker`, whichever is found on PATH first.
    pub container_cli: Option<String>,
}

impl ComponentConfig for ToolsConfig {
    fn absolutize(&mut self, cwd: &Path) {
        if let Some(d) = &self.dir {
            if d.is_relative() {
                self.dir = Some(cwd.join(d));
            }
        }
    }
}

/// Builds one scanner per tool file: the built-ins, then the user's files (which replace the
/// built-ins of the same name when registered after them).
#[derive(Clone, Copy, Debug, Default)]
pub struct ToolsFactory;

impl Factory for ToolsFactory {
    type Built = dyn Scanner;
    type Config = ToolsConfig;

    fn name(&self) -> &'static str {
        TOOLS
    }

    fn build(
        &self,
        config: ToolsConfig,
        doors: &Doors,
    ) -> Result<Vec<Arc<dyn Scanner>>, BuildError> {
        let fail = |e: crate::ToolError| BuildError::Failed(e.to_string());
        let mut tools = builtin_tools().map_err(fail)?;
        if let Some(dir) = &config.dir {
            tools.extend(load_tool_dir(dir).map_err(fail)?);
        }
        Ok(tools
            .into_iter()
            .map(|t| {
                Arc::new(
                    t.with_process_door(doors.processes().clone())
                        .with_container_cli(config.container_cli.clone()),
                ) as Arc<dyn Scanner>
            })
            .collect())
    }
}
