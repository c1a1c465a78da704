//! Fingerprint-based suppression: an ignore file and a baseline of a previous run.
//!
//! Inline `argus:allow` comments and allowlists are applied in the engine; this module handles the
//! two suppressions that work on finished findings, because both are keyed by the stable
//! fingerprint (rule + secret hash + path).
//!
//! Ignore file format: one fingerprint per line; `#` starts a comment; blank lines ignored. Anything
//! after the first whitespace on a line is a free-form note (`<fingerprint> reason...`).
//! Baseline: a previous `--format json` report (object with `findings`), a JSON array of findings,
//! or `--format jsonl` output; every `fingerprint` in it is treated as known.

use crate::error::{Result, SecretsError};
use std::collections::HashSet;
use std::path::Path;

/// Fingerprints to drop from the results.
#[derive(Clone, Debug, Default)]
pub struct Suppressions {
    /// From ignore files (reported as `ignore_file` in the summary).
    pub ignored: HashSet<String>,
    /// From a baseline report (reported as `baseline`).
    pub baseline: HashSet<String>,
}

impl Suppressions {
    /// Which mechanism suppresses `fingerprint`, if any.
    pub fn suppressed_by(&self, fingerprint: &str) -> Option<&'static str> {
        if self.ignored.contains(fingerprint) {
            Some("ignore_file")
        } else if self.baseline.contains(fingerprint) {
            Some("baseline")
        } else {
            None
        }
    }
}

/// Read an ignore file of fingerprints.
pub fn load_ignore_file(path: &Path) -> Result<HashSet<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SecretsError::io(format!("reading {}", path.display()), e))?;
    Ok(parse_ignore(&text))
}

pub(crate) fn parse_ignore(text: &str) -> HashSet<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Read the fingerprints of a previous JSON or JSONL report.
pub fn load_baseline(path: &Path) -> Result<HashSet<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SecretsError::io(format!("reading {}", path.display()), e))?;
    let bad = |m: String| SecretsError::Suppression {
        path: path.to_path_buf(),
        message: m,
    };
    let mut out = HashSet::new();
    let mut collect = |v: &serde_json::Value| {
        if let Some(fp) = v.get("fingerprint").and_then(|f| f.as_str()) {
            out.insert(fp.to_string());
        }
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(obj)) => match obj.get("findings") {
            Some(serde_json::Value::Array(items)) => items.iter().for_each(&mut collect),
            _ => return Err(bad("no `findings` array".into())),
        },
        Ok(serde_json::Value::Array(items)) => items.iter().for_each(&mut collect),
        Ok(_) => return Err(bad("expected a JSON report, array or JSONL".into())),
        Err(_) => {
            for (n, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let v: serde_json::Value =
                    serde_json::from_str(line).map_err(|e| bad(format!("line {}: {e}", n + 1)))?;
                collect(&v);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_file_parsing() {
        let s = parse_ignore("# header\nabc123  test fixture\n\n  def456 # inline\n");
        assert_eq!(s.len(), 2);
        assert!(s.contains("abc123") && s.contains("def456"));
    }
}
