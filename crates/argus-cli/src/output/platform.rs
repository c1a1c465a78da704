//! Findings of platform scanners (tools, `noop`, any `Scanner`) in the output layer.
//!
//! JSON is the array of findings as the API returns them, JSONL one finding per line, the
//! table one row per finding (most severe first). SARIF has one run per scanner, in the order
//! the scanners first reported: the scanner is the run's driver, each finding kind a rule
//! (sorted by id; its level is the most severe finding of that kind), each finding a result
//! whose level follows its severity and whose `partialFingerprints` carry its stable fingerprint.

use std::io::{self, Write};

use serde_json::{json, Map};

use argus_core::finding::{NewFinding, Severity};
use argus_core::sarif;

/// A finding and the scanner that reported it.
#[derive(Clone, Debug)]
pub struct Found {
    pub scanner: String,
    pub finding: NewFinding,
}

/// Name under which findings' fingerprints go into SARIF `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "argusFingerprint/v1";

/// `f` with its free-form `data` in sorted key order (see `argus_core::json`).
fn stable(f: &NewFinding) -> NewFinding {
    let mut f = f.clone();
    f.data = argus_core::json::sorted(std::mem::take(&mut f.data));
    f
}

/// The report of platform scanners' findings.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlatformReport;

impl super::Report for PlatformReport {
    type Item = Found;

    fn jsonl_line(&self, w: &mut dyn Write, item: &Found) -> io::Result<()> {
        serde_json::to_writer(&mut *w, &stable(&item.finding)).map_err(io::Error::other)?;
        writeln!(w)
    }

    fn jsonl_end(&self, _: &mut dyn Write, _: &[Found]) -> io::Result<()> {
        Ok(())
    }

    fn table(&self, w: &mut dyn Write, items: &[Found]) -> io::Result<()> {
        let mut rows: Vec<&NewFinding> = items.iter().map(|i| &i.finding).collect();
        rows.sort_by_key(|f| std::cmp::Reverse(f.severity));
        writeln!(
            w,
            "{:<9} {:<24} {:<40} LOCATION",
            "SEVERITY", "KIND", "TITLE"
        )?;
        for f in rows {
            let loc = f
                .location
                .url
                .clone()
                .or_else(|| {
                    f.location.path.clone().map(|p| match f.location.line {
                        Some(l) => format!("{p}:{l}"),
                        None => p,
                    })
                })
                .unwrap_or_else(|| f.target.value().to_owned());
            writeln!(
                w,
                "{:<9} {:<24} {:<40} {}",
                f.severity,
                truncate(&f.kind, 24),
                truncate(&f.title, 40),
                loc
            )?;
        }
        Ok(())
    }

    fn json(&self, w: &mut dyn Write, items: &[Found]) -> io::Result<()> {
        let findings: Vec<NewFinding> = items.iter().map(|i| stable(&i.finding)).collect();
        serde_json::to_writer_pretty(&mut *w, &findings).map_err(io::Error::other)?;
        writeln!(w)
    }

    fn sarif(&self, w: &mut dyn Write, items: &[Found]) -> io::Result<()> {
        let mut scanners: Vec<&str> = Vec::new();
        for i in items {
            if !scanners.contains(&i.scanner.as_str()) {
                scanners.push(&i.scanner);
            }
        }
        let runs: Vec<sarif::Run> = scanners
            .into_iter()
            .map(|name| {
                let found: Vec<&NewFinding> = items
                    .iter()
                    .filter(|i| i.scanner == name)
                    .map(|i| &i.finding)
                    .collect();
                run(name, &found)
            })
            .collect();
        serde_json::to_writer_pretty(&mut *w, &sarif::log(&runs)).map_err(io::Error::other)?;
        writeln!(w)
    }
}

fn run(scanner: &str, findings: &[&NewFinding]) -> sarif::Run {
    let mut kinds: Vec<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let rules = kinds
        .into_iter()
        .map(|kind| {
            let severity = findings
                .iter()
                .filter(|f| f.kind == kind)
                .map(|f| f.severity)
                .max()
                .unwrap_or(Severity::Info);
            let description = format!("{kind} findings reported by {scanner}.");
            sarif::Rule {
                id: kind.to_owned(),
                name: kind.to_owned(),
                help: format!(
                    "{description} Each result's properties carry the target and the scanner's data."
                ),
                description,
                severity,
                tags: vec!["security".to_owned()],
                precision: None,
                help_uri: None,
            }
        })
        .collect();
    let results = findings.iter().map(|f| result(f)).collect();
    sarif::Run {
        driver: sarif::Driver {
            name: scanner.to_owned(),
            version: None,
            information_uri: None,
        },
        rules,
        results,
    }
}

fn result(f: &NewFinding) -> sarif::SarifResult {
    let uri = f
        .location
        .path
        .clone()
        .or_else(|| f.location.url.clone())
        .unwrap_or_else(|| f.target.value().to_owned());
    let region = f.location.line.map(|line| sarif::Region {
        start_line: line,
        start_column: None,
        end_line: None,
    });
    let mut props = Map::new();
    props.insert("severity".into(), json!(f.severity));
    props.insert("target".into(), json!(f.target.value()));
    props.insert("targetKind".into(), json!(f.target.kind()));
    if let Some(d) = &f.description {
        props.insert("description".into(), json!(d));
    }
    if let Some(url) = &f.location.url {
        props.insert("url".into(), json!(url));
    }
    if let Some(c) = &f.location.commit {
        props.insert("commit".into(), json!(c));
    }
    if let Some(s) = &f.secret {
        // Only the digest ever reaches a finding: preview and SHA-256.
        props.insert("preview".into(), json!(s.preview));
        props.insert("sha256".into(), json!(s.sha256));
    }
    if !f.data.is_null() {
        props.insert("data".into(), argus_core::json::sorted(f.data.clone()));
    }
    sarif::SarifResult {
        rule_id: f.kind.clone(),
        severity: f.severity,
        message: f.title.clone(),
        locations: vec![sarif::Location { uri, region }],
        related: Vec::new(),
        fingerprints: vec![(FINGERPRINT_KEY.to_owned(), f.fingerprint.clone())],
        properties: props,
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
