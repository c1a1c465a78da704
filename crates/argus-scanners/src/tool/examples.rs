//! A tool file's `[[examples]]`: sample output and the findings and targets it must map to.
//!
//! [`stand_in`] turns a tool into one whose executable is a small script that replays an
//! example's output (on stdout, or into the file the tool's `output.source` names), so the
//! example runs through the real tool scanner: a real process started by the process door, the
//! real output parsing and mapping. [`compare`] checks what came out against what the example
//! says. Used by the test over every shipped tool and by the `Scanner` conformance suite; a
//! user's tool file can carry examples too.
//!
//! The script is written with a shebang (`#!/bin/sh`) and started directly, never through a
//! shell command line: the door's no-shell rule is about arguments, which the script ignores.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use argus_core::finding::NewFinding;
use argus_core::target::{Target, TargetKind};

use super::{ExampleFinding, ToolDef, ToolExample, ToolScanner};

/// How a stand-in behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StandIn<'a> {
    /// Replays this output and exits 0.
    Replay(&'a str),
    /// Sleeps far longer than any test waits (for cancellation checks).
    Hang,
}

/// Shell single-quoting for a path written into the script.
fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// `def`'s tool with its executable replaced by a script in `dir` behaving as `how`.
pub fn stand_in(def: &ToolDef, how: StandIn<'_>, dir: &Path) -> Result<ToolScanner, String> {
    let io = |what: &str, e: std::io::Error| format!("stand-in for {}: {what}: {e}", def.name);
    std::fs::create_dir_all(dir).map_err(|e| io("creating its folder", e))?;
    let script_path = dir.join(format!("{}-stand-in.sh", def.name));
    let body = match how {
        StandIn::Hang => "exec sleep 300\n".to_owned(),
        StandIn::Replay(output) => {
            let out_path = dir.join(format!("{}-output.txt", def.name));
            std::fs::write(&out_path, output).map_err(|e| io("writing the output", e))?;
            match def.output.source.strip_prefix("file:") {
                // The tool runs in its work folder, where `file:NAME` is read from.
                Some(name) => format!(
                    "cp {} {}\n",
                    quote(&out_path),
                    quote(Path::new(&format!("./{name}")))
                ),
                None => format!("cat {}\n", quote(&out_path)),
            }
        }
    };
    std::fs::write(&script_path, format!("#!/bin/sh\nset -e\n{body}"))
        .map_err(|e| io("writing the script", e))?;
    std::fs::set_permissions(&script_path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| io("making it executable", e))?;
    let mut def = def.clone();
    def.executable = script_path.display().to_string();
    // Examples are about the output mapping: a container tool's stand-in runs as a process.
    def.runner = super::Runner::Process;
    def.image = None;
    def.cpus = None;
    def.memory = None;
    def.network = None;
    ToolScanner::new(def, None)
}

/// The example's target (`KIND:VALUE`).
pub fn example_target(example: &ToolExample) -> Result<Target, String> {
    let (kind, value) = example
        .target
        .split_once(':')
        .and_then(|(k, v)| TargetKind::parse(k).map(|k| (k, v)))
        .ok_or_else(|| format!("example target '{}' is not KIND:VALUE", example.target))?;
    Target::parse(kind, value).map_err(|e| format!("example target '{}': {e}", example.target))
}

fn finding_matches(want: &ExampleFinding, got: &NewFinding) -> Result<(), String> {
    let loc = &got.location;
    let mut diffs = Vec::new();
    let mut check = |field: &str, want: Option<String>, got: Option<String>| {
        if let Some(w) = want {
            if Some(&w) != got.as_ref() {
                diffs.push(format!("{field}: want {w:?}, got {got:?}"));
            }
        }
    };
    check("kind", Some(want.kind.clone()), Some(got.kind.clone()));
    check(
        "severity",
        Some(want.severity.clone()),
        Some(got.severity.as_str().to_owned()),
    );
    check("title", Some(want.title.clone()), Some(got.title.clone()));
    check(
        "description",
        want.description.clone(),
        got.description.clone(),
    );
    check("path", want.path.clone(), loc.path.clone());
    check(
        "line",
        want.line.map(|l| l.to_string()),
        loc.line.map(|l| l.to_string()),
    );
    check("commit", want.commit.clone(), loc.commit.clone());
    check("url", want.url.clone(), loc.url.clone());
    check(
        "secret",
        want.secret.map(|s| s.to_string()),
        Some(got.secret.is_some().to_string()),
    );
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("; "))
    }
}

/// Whether `findings` and `targets` are what `example` says, in order.
pub fn compare(
    example: &ToolExample,
    findings: &[NewFinding],
    targets: &[Target],
) -> Result<(), String> {
    if findings.len() != example.findings.len() {
        return Err(format!(
            "{} findings, the example lists {}: {:?}",
            findings.len(),
            example.findings.len(),
            findings.iter().map(|f| &f.title).collect::<Vec<_>>()
        ));
    }
    for (i, (want, got)) in example.findings.iter().zip(findings).enumerate() {
        finding_matches(want, got).map_err(|e| format!("finding {i}: {e}"))?;
    }
    let got: Vec<(TargetKind, String)> = targets
        .iter()
        .map(|t| (t.kind(), t.value().to_owned()))
        .collect();
    let want: Vec<(TargetKind, String)> = example
        .targets
        .iter()
        .map(|t| (t.kind, t.value.clone()))
        .collect();
    if got != want {
        return Err(format!("targets: want {want:?}, got {got:?}"));
    }
    Ok(())
}

/// Where a stand-in for `def` lives under `root` (one folder per tool).
pub fn stand_in_dir(root: &Path, def: &ToolDef) -> PathBuf {
    root.join(&def.name)
}
