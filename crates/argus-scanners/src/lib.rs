//! Argus scanners: the process door, declared external tools and the built-in `noop` scanner.
//!
//! - [`process`] is the one place that starts processes (enforced by `clippy.toml`).
//! - [`tool`] turns a TOML tool definition into a `tool:<name>` scanner.
//! - [`noop`] is the cheap scanner behind the throughput benchmark and the engine tests,
//!   registered only when asked ([`RegistryOptions::noop`]).
//! - [`catalog`] lists this crate's scanner factories (`noop`, `tools`) for the binary's
//!   [`ScannerCatalog`](argus_core::component::ScannerCatalog); [`http`] is the HTTP client door.
//! - [`registry_with`] assembles them without config (tests, benchmarks): `noop` if enabled,
//!   every built-in tool (embedded in the binary from the repository's `tools/` folder), then
//!   the user's tool folder, whose files override built-ins of the same name.
//!
//! Loading is all-or-nothing: a malformed tool file is an error naming the file and the problem,
//! never a silently missing scanner.

pub mod catalog;
pub mod http;
pub mod noop;
pub mod process;
pub mod schema;
pub mod tool;

pub use noop::NoopScanner;
pub use schema::validate_params;
pub use tool::{ToolDef, ToolScanner};

use argus_core::scanner::ScannerRegistry;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// A tool file that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("tool file {file}: {message}")]
pub struct ToolError {
    /// The file (path, or `builtin:<name>.toml` for embedded definitions).
    pub file: String,
    pub message: String,
}

/// The built-in tool files, embedded at build time from the repository's `tools/` folder (every
/// `*.toml` there, found by `build.rs`; no list to edit): `(file name, contents)`, by file name.
pub fn builtin_tool_files() -> &'static [(&'static str, &'static str)] {
    include!(concat!(env!("OUT_DIR"), "/builtin_tools.rs"))
}

/// Parses and checks one tool file's text. `base_dir` resolves relative executable paths.
pub fn parse_tool(
    text: &str,
    file: &str,
    base_dir: Option<&Path>,
) -> Result<ToolScanner, ToolError> {
    let err = |message: String| ToolError {
        file: file.to_owned(),
        message,
    };
    let def: ToolDef = toml::from_str(text).map_err(|e| err(toml_error(text, &e)))?;
    ToolScanner::new(def, base_dir).map_err(err)
}

/// A TOML error on one line: `line L, column C: message` (toml's own rendering spans several
/// lines with a source excerpt, which reads badly in logs and API errors).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', "; ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}

/// The built-in tools (from the embedded files).
pub fn builtin_tools() -> Result<Vec<ToolScanner>, ToolError> {
    builtin_tool_files()
        .iter()
        .map(|(name, text)| parse_tool(text, &format!("builtin:{name}"), None))
        .collect()
}

/// Every `*.toml` file of a folder, in file-name order. Two files declaring the same tool name
/// are an error.
pub fn load_tool_dir(dir: &Path) -> Result<Vec<ToolScanner>, ToolError> {
    let dir_err = |message: String| ToolError {
        file: dir.display().to_string(),
        message,
    };
    let entries =
        std::fs::read_dir(dir).map_err(|e| dir_err(format!("cannot read tool folder: {e}")))?;
    let mut files = Vec::new();
    for e in entries {
        let e = e.map_err(|e| dir_err(format!("cannot read tool folder: {e}")))?;
        let path = e.path();
        if path.extension().is_some_and(|x| x == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    let mut tools: Vec<ToolScanner> = Vec::new();
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for path in files {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| ToolError {
            file: file.clone(),
            message: format!("cannot read: {e}"),
        })?;
        let t = parse_tool(&text, &file, path.parent())?;
        if let Some(first) = by_name.insert(t.def().name.clone(), file.clone()) {
            return Err(ToolError {
                file,
                message: format!("tool name '{}' is already defined in {first}", t.def().name),
            });
        }
        tools.push(t);
    }
    Ok(tools)
}

/// What goes into a registry besides the built-in tools.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegistryOptions<'a> {
    /// Read the built-in tools from this folder instead of the embedded copies (a deployment
    /// that ships its own `tools/` folder).
    pub builtin_tool_dir: Option<&'a Path>,
    /// The user's tool folder; its files replace built-ins of the same name.
    pub user_tool_dir: Option<&'a Path>,
    /// Register `noop` (tests and benchmarks; config `scanners.noop.enabled`). It accepts every
    /// target kind, so in production it would make unsupported targets look scannable.
    pub noop: bool,
}

/// The scanner registry: the built-in tools (embedded), then the tools in `user_tool_dir`,
/// which replace built-ins of the same name. No `noop` (see [`registry_with`]).
pub fn registry(user_tool_dir: Option<&Path>) -> Result<ScannerRegistry, ToolError> {
    registry_with(&RegistryOptions {
        user_tool_dir,
        ..RegistryOptions::default()
    })
}

/// The registry as `opts` says: `noop` when asked, the built-in tools, then the user's tools.
pub fn registry_with(opts: &RegistryOptions<'_>) -> Result<ScannerRegistry, ToolError> {
    let mut reg = ScannerRegistry::new();
    if opts.noop {
        reg.register(Arc::new(NoopScanner));
    }
    let builtins = match opts.builtin_tool_dir {
        Some(d) => load_tool_dir(d)?,
        None => builtin_tools()?,
    };
    for t in builtins {
        reg.register(Arc::new(t));
    }
    if let Some(dir) = opts.user_tool_dir {
        for t in load_tool_dir(dir)? {
            // `register` replaces by name: user files override built-ins.
            reg.register(Arc::new(t));
        }
    }
    Ok(reg)
}
