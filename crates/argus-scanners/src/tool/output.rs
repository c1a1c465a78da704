//! Reading a tool's output into records.
//!
//! `jsonl` and `lines` are read line by line from the output file (never whole into memory);
//! `json` is read whole (it is bounded by the output cap) and its records selected by a records
//! path such as `Results[].Vulnerabilities[]`. A missing or `null` step yields no records (tools
//! omit empty sections); a step marked `[]` that holds something other than an array is
//! malformed output.

use argus_core::scanner::{Emission, Emitter, ScanError};
use serde_json::Value;
use std::path::Path;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use super::def::OutputFormat;
use super::template::Record;

/// Where the output is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Stdout,
    /// A file the tool writes into its work folder.
    File(String),
}

impl Source {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s == "stdout" {
            return Ok(Source::Stdout);
        }
        let name = s.strip_prefix("file:").ok_or_else(|| {
            format!("output.source must be \"stdout\" or \"file:<name>\", got '{s}'")
        })?;
        argus_core::artifact::ArtifactName::parse(name).map_err(|_| {
            format!("output.source: '{name}' must be a relative path of letters, digits, '.', '_' and '-'")
        })?;
        Ok(Source::File(name.to_owned()))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Step {
    key: Option<String>,
    iterate: bool,
}

/// A records path: `.`-separated keys, `[]` after a key iterates over its array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordsPath {
    steps: Vec<Step>,
    raw: String,
}

impl RecordsPath {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("output.records: malformed path '{s}' (expected e.g. \"Results[].Vulnerabilities[]\")")
        };
        let mut steps = Vec::new();
        for seg in s.split('.') {
            let (key, iterate) = match seg.strip_suffix("[]") {
                Some(k) => (k, true),
                None => (seg, false),
            };
            if key.contains(['[', ']', '{', '}', '^']) || (key.is_empty() && !iterate) {
                return Err(bad());
            }
            steps.push(Step {
                key: (!key.is_empty()).then(|| key.to_owned()),
                iterate,
            });
        }
        if steps.is_empty() {
            return Err(bad());
        }
        Ok(RecordsPath {
            steps,
            raw: s.to_owned(),
        })
    }

    /// The records of `doc`, each with its enclosing elements (the document first).
    pub fn select<'a>(&self, doc: &'a Value) -> Result<Vec<Record<'a>>, String> {
        let mut out = Vec::new();
        self.walk(doc, 0, vec![doc], &mut out)?;
        Ok(out)
    }

    fn walk<'a>(
        &self,
        v: &'a Value,
        i: usize,
        parents: Vec<&'a Value>,
        out: &mut Vec<Record<'a>>,
    ) -> Result<(), String> {
        let Some(step) = self.steps.get(i) else {
            if !v.is_null() {
                out.push(Record { value: v, parents });
            }
            return Ok(());
        };
        let next = match &step.key {
            Some(k) => match v.get(k) {
                None | Some(Value::Null) => return Ok(()),
                Some(x) => x,
            },
            None => v,
        };
        if !step.iterate {
            return self.walk(next, i + 1, parents, out);
        }
        let arr = next.as_array().ok_or_else(|| {
            let at: Vec<String> = self.steps[..=i]
                .iter()
                .map(|s| s.key.clone().unwrap_or_default())
                .collect();
            format!(
                "records path '{}': expected an array at '{}'",
                self.raw,
                at.join(".")
            )
        })?;
        let last = i + 1 == self.steps.len();
        for e in arr {
            if last {
                if !e.is_null() {
                    out.push(Record {
                        value: e,
                        parents: parents.clone(),
                    });
                }
            } else {
                let mut p = parents.clone();
                p.push(e);
                self.walk(e, i + 1, p, out)?;
            }
        }
        Ok(())
    }
}

async fn deliver(emit: &Emitter, ems: Vec<Emission>) -> Result<(), ScanError> {
    for e in ems {
        emit.send(e).await?;
    }
    Ok(())
}

/// Reads the output at `path`, maps every record through `sink` and sends what it returns.
/// Returns the number of records read. With `truncated`, a last line without its newline is
/// ignored (it was cut by the cap) and `json` output is not parsed at all.
#[allow(clippy::too_many_arguments)]
pub async fn parse(
    path: &Path,
    source: &Source,
    format: OutputFormat,
    records: Option<&RecordsPath>,
    truncated: bool,
    cancel: &CancellationToken,
    emit: &Emitter,
    sink: &mut (dyn FnMut(&Record<'_>) -> Vec<Emission> + Send),
) -> Result<usize, ScanError> {
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ScanError::Failed(match source {
                Source::File(name) => format!("output file '{name}' was not written"),
                Source::Stdout => "stdout was not captured".to_owned(),
            }))
        }
        Err(e) => return Err(ScanError::Failed(format!("cannot read output: {e}"))),
    };
    let read_err = |e: std::io::Error| ScanError::Failed(format!("cannot read output: {e}"));
    match format {
        OutputFormat::Json => {
            if truncated {
                return Ok(0);
            }
            let mut bytes = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut BufReader::new(file), &mut bytes)
                .await
                .map_err(read_err)?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                // An empty document is "no records" (some tools write nothing when clean).
                return Ok(0);
            }
            let doc: Value = serde_json::from_slice(&bytes)
                .map_err(|e| ScanError::Failed(format!("malformed output: {e}")))?;
            let recs = match records {
                Some(p) => p
                    .select(&doc)
                    .map_err(|e| ScanError::Failed(format!("malformed output: {e}")))?,
                None => match &doc {
                    Value::Array(a) => a
                        .iter()
                        .filter(|v| !v.is_null())
                        .map(|v| Record {
                            value: v,
                            parents: vec![&doc],
                        })
                        .collect(),
                    Value::Object(_) => vec![Record::top(&doc)],
                    _ => {
                        return Err(ScanError::Failed(
                            "malformed output: expected a JSON object or array".to_owned(),
                        ))
                    }
                },
            };
            for r in &recs {
                if cancel.is_cancelled() {
                    return Err(ScanError::Cancelled);
                }
                let ems = sink(r);
                deliver(emit, ems).await?;
            }
            Ok(recs.len())
        }
        OutputFormat::Jsonl | OutputFormat::Lines => {
            let mut reader = BufReader::with_capacity(64 * 1024, file);
            let mut line = Vec::new();
            let mut lineno = 0usize;
            let mut count = 0usize;
            loop {
                line.clear();
                let n = reader
                    .read_until(b'\n', &mut line)
                    .await
                    .map_err(read_err)?;
                if n == 0 {
                    break;
                }
                lineno += 1;
                if truncated && line.last() != Some(&b'\n') {
                    // Cut by the output cap: not a record.
                    break;
                }
                if cancel.is_cancelled() {
                    return Err(ScanError::Cancelled);
                }
                let text = trim_ascii(&line);
                if text.is_empty() {
                    continue;
                }
                let value = match format {
                    OutputFormat::Jsonl => serde_json::from_slice::<Value>(text).map_err(|e| {
                        ScanError::Failed(format!("malformed output at line {lineno}: {e}"))
                    })?,
                    _ => serde_json::json!({ "line": String::from_utf8_lossy(text) }),
                };
                let ems = sink(&Record::top(&value));
                deliver(emit, ems).await?;
                count += 1;
            }
            Ok(count)
        }
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_nested_records_with_parents() {
        let doc = json!({
            "ArtifactName": "repo",
            "Results": [
                {"Target": "a.lock", "Vulnerabilities": [{"id": 1}, {"id": 2}]},
                {"Target": "b.lock", "Vulnerabilities": null},
                {"Target": "c.lock"}
            ]
        });
        let p = RecordsPath::parse("Results[].Vulnerabilities[]").unwrap();
        let recs = p.select(&doc).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].value, &json!({"id": 2}));
        assert_eq!(recs[1].parents.last().unwrap()["Target"], "a.lock");
        assert_eq!(recs[1].parents[0]["ArtifactName"], "repo");
        assert!(RecordsPath::parse("Results[]")
            .unwrap()
            .select(&json!({"Results": 3}))
            .is_err());
        assert!(RecordsPath::parse("a..b").is_err());
        assert!(Source::parse("file:../x").is_err());
        assert_eq!(
            Source::parse("file:report.json").unwrap(),
            Source::File("report.json".into())
        );
    }
}
