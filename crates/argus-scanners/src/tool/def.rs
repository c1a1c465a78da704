//! The on-disk form of a tool definition (one TOML file per tool; see `tools/README.md`).
//!
//! These types only describe the file; [`super::ToolScanner::new`] checks everything a
//! definition promises (names, placeholders, paths, the params schema) before a tool is usable,
//! so a bad file fails at load time with a message naming the problem, never mid-scan.

use argus_core::target::TargetKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A tool definition as written in its TOML file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolDef {
    /// Registry name is `tool:<name>`; `[a-z0-9][a-z0-9_-]*`, at most 64 characters.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// A bare name looked up on PATH, an absolute path, or a path relative to the tool file.
    /// With `runner = "container"`: the program run inside the image (its entrypoint is
    /// replaced); empty or absent keeps the image's own entrypoint.
    #[serde(default)]
    pub executable: String,
    /// Where the tool runs: a local process (default) or a container.
    #[serde(default)]
    pub runner: Runner,
    /// `runner = "container"`: the image (`registry/name:tag` or `name@sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `runner = "container"`: CPU limit (`--cpus`), e.g. `0.5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// `runner = "container"`: memory limit (`--memory`), e.g. `"256m"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// `runner = "container"`: the container's network; `none` (no network at all) by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkMode>,
    /// Target kinds the tool accepts.
    pub target_kinds: Vec<TargetKind>,
    /// The tool reads its target from the worker's disk (e.g. gitleaks on a repository): a
    /// `repo` or `location` target must be a local path or `file://` URL; network URLs are
    /// refused at scan creation instead of failing at run time.
    #[serde(default)]
    pub local_paths_only: bool,
    /// JSON schema of the params (a TOML table); no params accepted when absent.
    #[serde(default)]
    pub params: Option<serde_json::Value>,
    /// Arguments: strings, or `{ args = [...], when = "params.x" }` groups.
    pub argv: Vec<ArgEntry>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Extra environment for the tool (on top of PATH, HOME, LANG, TMPDIR).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Names of variables copied from Argus's own environment when set (API keys, config paths).
    #[serde(default)]
    pub env_passthrough: Vec<String>,
    /// Exit codes that mean success.
    #[serde(default = "default_exit_codes")]
    pub success_exit_codes: Vec<i32>,
    /// Files in the work folder kept as artifacts after the run (when they exist).
    #[serde(default)]
    pub keep_files: Vec<String>,
    #[serde(default = "default_stdout_cap")]
    pub max_stdout_bytes: u64,
    #[serde(default = "default_stderr_cap")]
    pub max_stderr_bytes: u64,
    pub output: OutputDef,
    /// Sample outputs and the findings they map to (`[[examples]]`); ignored when running.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<ToolExample>,
}

/// Where a tool runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runner {
    /// A local process started by the process door.
    #[default]
    Process,
    /// A container started by `podman`/`docker run` (itself started by the process door).
    Container,
}

/// A container's network (`--network`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// No network interface but loopback: the safe default for tools that read files.
    #[default]
    None,
    /// The engine's default bridge (outbound access, no access to the host's loopback).
    Bridge,
    /// The host's network stack, loopback included.
    Host,
}

impl NetworkMode {
    /// The `--network` value.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Bridge => "bridge",
            NetworkMode::Host => "host",
        }
    }
}

/// One `argv` entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ArgEntry {
    /// One argument; dropped when it refers to a param that is absent.
    Arg(String),
    /// Arguments kept or dropped together.
    Group(ArgGroup),
}

// By hand rather than `#[serde(untagged)]`, whose only error is "data did not match any
// variant": a typo inside a group must be reported as such (`unknown field `whn``).
impl<'de> Deserialize<'de> for ArgEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ArgEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a table { args = [...], when = \"params.NAME\" }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ArgEntry, E> {
                Ok(ArgEntry::Arg(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<ArgEntry, E> {
                Ok(ArgEntry::Arg(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ArgEntry, A::Error> {
                ArgGroup::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(ArgEntry::Group)
            }
        }
        d.deserialize_any(V)
    }
}

/// Arguments kept or dropped together: with `when`, kept when that param is set and truthy;
/// without, kept when every param they refer to is present.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgGroup {
    pub args: Vec<String>,
    #[serde(default)]
    pub when: Option<String>,
}

/// How the tool's output is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// One JSON value per line (blank lines skipped).
    Jsonl,
    /// One JSON document; records selected by `records`.
    Json,
    /// One record `{"line": "..."}` per non-blank line.
    Lines,
}

/// The `[output]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputDef {
    pub format: OutputFormat,
    /// `stdout`, or `file:<name>` for a file the tool writes into its work folder.
    #[serde(default = "default_source")]
    pub source: String,
    /// For `json`: where the records are, e.g. `Results[].Vulnerabilities[]`. Without it, an
    /// array document yields one record per element and an object yields itself.
    #[serde(default)]
    pub records: Option<String>,
    #[serde(default)]
    pub finding: Option<FindingDef>,
    /// One target mapping (shorthand for a one-element `targets`).
    #[serde(default)]
    pub target: Option<TargetDef>,
    #[serde(default)]
    pub targets: Vec<TargetDef>,
}

/// The `[output.finding]` table: how a record becomes a finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingDef {
    /// Template for the finding kind.
    pub kind: String,
    /// Severity used when `severity_field` is absent or unrecognised (default `info`).
    #[serde(default)]
    pub severity: Option<String>,
    /// Field holding the severity (read leniently: `HIGH`, `moderate`, `unknown`…).
    #[serde(default)]
    pub severity_field: Option<String>,
    /// Template for the title.
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub location: LocationDef,
    /// Fields whose values identify the finding across scans (with the tool, kind and target).
    /// Empty: the whole record.
    #[serde(default)]
    pub fingerprint: Vec<String>,
    /// Field holding a secret value: stored only as a digest and removed from `data`.
    #[serde(default)]
    pub secret_field: Option<String>,
    /// Fields removed from `data` (raw requests, lines around a secret…).
    #[serde(default)]
    pub drop_fields: Vec<String>,
    /// Only records where this field is truthy become findings.
    #[serde(default)]
    pub when: Option<String>,
}

/// Templates for the finding's location; empty renders are left unset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationDef {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub line: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// An `[output.target]` / `[[output.targets]]` entry: a record becomes a new target (chaining).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetDef {
    pub kind: TargetKind,
    /// Template for the value; records whose value does not parse as `kind` are skipped.
    pub value: String,
    #[serde(default)]
    pub when: Option<String>,
}

fn default_timeout() -> u64 {
    600
}

fn default_exit_codes() -> Vec<i32> {
    vec![0]
}

fn default_stdout_cap() -> u64 {
    crate::process::DEFAULT_STDOUT_CAP
}

fn default_stderr_cap() -> u64 {
    crate::process::DEFAULT_STDERR_CAP
}

fn default_source() -> String {
    "stdout".into()
}

/// An `[[examples]]` entry of a tool file: a sample of the tool's output and what Argus must
/// make of it. Not used at run time; a test runs every shipped tool's examples through the real
/// tool scanner (a stand-in executable printing `output`) and compares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolExample {
    /// The target the example ran on, as `KIND:VALUE` (`domain:example.com`).
    pub target: String,
    /// Params of the example run (`{}` when absent).
    #[serde(default)]
    pub params: Option<serde_json::Value>,
    /// What the tool printed (or wrote to its `file:` source).
    pub output: String,
    /// The findings this output maps to, in order.
    #[serde(default)]
    pub findings: Vec<ExampleFinding>,
    /// The targets this output chains, in order.
    #[serde(default)]
    pub targets: Vec<ExampleTarget>,
}

/// A finding an example must produce; absent optional fields are not compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExampleFinding {
    pub kind: String,
    pub severity: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub line: Option<u64>,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// Whether the finding carries a secret digest (and `data` no longer holds the value).
    #[serde(default)]
    pub secret: Option<bool>,
}

/// A chained target an example must produce.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExampleTarget {
    pub kind: TargetKind,
    pub value: String,
}
