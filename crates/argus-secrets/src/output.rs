//! Output writers: table (human), JSON (one document), JSONL (streaming) and SARIF 2.1.0.
//!
//! Invariant: secret values are written only when [`OutputOptions::show_secrets`] is set *and* the
//! finding carries one (the scan kept values); otherwise only preview and SHA-256 appear. All
//! writers are deterministic for a given input (golden-file tested).

use crate::engine::ScanSummary;
use crate::finding::{Finding, Severity};
use crate::rules::Rule;
use argus_core::sarif;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Name of the tool in reports.
pub const TOOL_NAME: &str = "argus-secrets";
/// Version written into reports.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Formatting switches shared by all writers.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutputOptions {
    /// Include full secret values (direct mode `--show-secrets`).
    pub show_secrets: bool,
    /// ANSI colours (table only; set when stdout is a terminal).
    pub color: bool,
}

fn finding_value(f: &Finding, opts: &OutputOptions) -> io::Result<Value> {
    let mut v = serde_json::to_value(f).map_err(io::Error::other)?;
    if opts.show_secrets {
        if let (Some(s), Value::Object(m)) = (&f.secret, &mut v) {
            m.insert("secret".into(), Value::String(s.expose().to_string()));
        }
    }
    Ok(argus_core::json::sorted(v))
}

/// One JSON document: `{tool, version, summary, findings}`.
pub fn write_json(
    w: &mut dyn Write,
    findings: &[Finding],
    summary: &ScanSummary,
    opts: &OutputOptions,
) -> io::Result<()> {
    let items = findings
        .iter()
        .map(|f| finding_value(f, opts))
        .collect::<io::Result<Vec<_>>>()?;
    let doc = json!({
        "tool": TOOL_NAME,
        "version": TOOL_VERSION,
        "summary": summary,
        "findings": items,
    });
    serde_json::to_writer_pretty(&mut *w, &argus_core::json::sorted(doc))
        .map_err(io::Error::other)?;
    writeln!(w)
}

/// One finding as a JSONL line (streaming output).
pub fn write_jsonl_finding(w: &mut dyn Write, f: &Finding, opts: &OutputOptions) -> io::Result<()> {
    serde_json::to_writer(&mut *w, &finding_value(f, opts)?).map_err(io::Error::other)?;
    writeln!(w)
}

/// The closing JSONL line: `{"summary": {...}}`.
pub fn write_jsonl_summary(w: &mut dyn Write, summary: &ScanSummary) -> io::Result<()> {
    serde_json::to_writer(
        &mut *w,
        &argus_core::json::sorted(json!({ "summary": summary })),
    )
    .map_err(io::Error::other)?;
    writeln!(w)
}

/// All findings as JSONL followed by the summary line.
pub fn write_jsonl(
    w: &mut dyn Write,
    findings: &[Finding],
    summary: &ScanSummary,
    opts: &OutputOptions,
) -> io::Result<()> {
    for f in findings {
        write_jsonl_finding(w, f, opts)?;
    }
    write_jsonl_summary(w, summary)
}

/// The platform's severity of a secret finding (same five names).
fn core_severity(s: Severity) -> argus_core::finding::Severity {
    use argus_core::finding::Severity as S;
    match s {
        Severity::Critical => S::Critical,
        Severity::High => S::High,
        Severity::Medium => S::Medium,
        Severity::Low => S::Low,
        Severity::Info => S::Info,
    }
}

fn sarif_location(l: &crate::finding::Location) -> sarif::Location {
    let uri = if l.path.is_empty() {
        format!("git-blob/{}", l.blob.as_deref().unwrap_or("unknown"))
    } else {
        l.path.clone()
    };
    sarif::Location {
        uri,
        region: Some(sarif::Region {
            start_line: u64::from(l.line),
            start_column: Some(u64::from(l.column)),
            end_line: Some(u64::from(l.end_line)),
        }),
    }
}

/// SARIF 2.1.0 log with one run, built by the platform's one SARIF builder
/// ([`argus_core::sarif`]). `rules` supplies rule metadata (only rules with results are
/// listed). The result's primary location is the introducing one; the others go to
/// `relatedLocations`. Fingerprints go to `partialFingerprints` so GitHub tracks results across runs.
pub fn write_sarif<'r>(
    w: &mut dyn Write,
    findings: &[Finding],
    rules: impl IntoIterator<Item = &'r Rule>,
    opts: &OutputOptions,
) -> io::Result<()> {
    let by_id: BTreeMap<&str, &Rule> = rules.into_iter().map(|r| (r.id.as_str(), r)).collect();
    let mut used: Vec<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
    used.sort_unstable();
    used.dedup();
    let sarif_rules: Vec<sarif::Rule> = used
        .iter()
        .map(|id| {
            let r = by_id.get(id);
            let name = r.map_or(*id, |r| r.name.as_str());
            let desc = r.map_or("", |r| r.description.as_str());
            let mut tags: Vec<String> = r.map(|r| r.tags.clone()).unwrap_or_default();
            tags.push("security".into());
            tags.push("secret".into());
            sarif::Rule {
                id: (*id).to_string(),
                name: name.to_string(),
                description: if desc.is_empty() { name } else { desc }.to_string(),
                help: format!(
                    "{name}. Revoke the credential, rotate it, and remove it from history."
                ),
                severity: core_severity(r.map_or(Severity::Medium, |r| r.severity)),
                tags,
                precision: Some(r.map_or("medium", |r| r.confidence.as_str()).to_string()),
                help_uri: r.and_then(|r| r.references.first()).cloned(),
            }
        })
        .collect();
    let results: Vec<sarif::SarifResult> = findings
        .iter()
        .map(|f| {
            let related: Vec<sarif::Related> = f
                .locations
                .iter()
                .skip(1)
                .map(|l| sarif::Related {
                    location: sarif_location(l),
                    message: match &l.commit {
                        Some(c) => format!("also in commit {c}"),
                        None => "also here".to_string(),
                    },
                })
                .collect();
            let mut props = serde_json::Map::new();
            props.insert("severity".into(), json!(f.severity));
            props.insert("confidence".into(), json!(f.confidence));
            props.insert("sha256".into(), json!(f.sha256));
            props.insert("preview".into(), json!(f.preview));
            if let Some(p) = f.primary() {
                for (k, v) in [
                    ("commit", &p.commit),
                    ("author", &p.author),
                    ("date", &p.date),
                    ("blob", &p.blob),
                    ("encoding", &p.encoding),
                ] {
                    if let Some(v) = v {
                        props.insert(k.into(), json!(v));
                    }
                }
            }
            if opts.show_secrets {
                if let Some(s) = &f.secret {
                    props.insert("secret".into(), json!(s.expose()));
                }
            }
            sarif::SarifResult {
                rule_id: f.rule_id.clone(),
                severity: core_severity(f.severity),
                message: format!("{} detected ({})", f.rule_name, f.preview),
                locations: f.primary().map(sarif_location).into_iter().collect(),
                related,
                fingerprints: vec![(
                    "argusSecretFingerprint/v1".to_string(),
                    f.fingerprint.clone(),
                )],
                properties: props,
            }
        })
        .collect();
    let doc = sarif::log(&[sarif::Run {
        driver: sarif::Driver {
            name: TOOL_NAME.to_string(),
            version: Some(TOOL_VERSION.to_string()),
            information_uri: Some("https://example.invalid/argus".to_string()),
        },
        rules: sarif_rules,
        results,
    }]);
    serde_json::to_writer_pretty(&mut *w, &doc).map_err(io::Error::other)?;
    writeln!(w)
}

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    }
}

/// Human table: one row per finding (introducing location), then a summary block.
pub fn write_table(
    w: &mut dyn Write,
    findings: &[Finding],
    summary: &ScanSummary,
    opts: &OutputOptions,
) -> io::Result<()> {
    let rows: Vec<[String; 5]> = findings
        .iter()
        .map(|f| {
            let (loc, commit) = match f.primary() {
                Some(l) => {
                    let place = if l.path.is_empty() {
                        format!("blob {}", l.blob.as_deref().unwrap_or("?"))
                    } else {
                        format!("{}:{}", l.path, l.line)
                    };
                    let place = match &l.encoding {
                        Some(enc) => format!("{place} ({enc})"),
                        None => place,
                    };
                    let mut c: String = l
                        .commit
                        .as_deref()
                        .unwrap_or("-")
                        .chars()
                        .take(10)
                        .collect();
                    if f.locations.len() > 1 {
                        c.push_str(&format!(" (+{})", f.locations.len() - 1));
                    }
                    (place, c)
                }
                None => ("-".into(), "-".into()),
            };
            let shown = match (&f.secret, opts.show_secrets) {
                (Some(s), true) => s.expose().replace('\n', "\\n"),
                _ => f.preview.clone(),
            };
            [
                f.severity.to_string(),
                f.rule_id.clone(),
                loc,
                commit,
                shown,
            ]
        })
        .collect();
    let headers = [
        "SEVERITY",
        "RULE",
        "LOCATION",
        "COMMIT",
        if opts.show_secrets {
            "SECRET"
        } else {
            "PREVIEW"
        },
    ];
    let mut widths = headers.map(|h| h.chars().count());
    for r in &rows {
        for (i, c) in r.iter().enumerate().take(4) {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    if !rows.is_empty() {
        let head: Vec<String> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                if i < 4 {
                    format!("{h:<w$}", w = widths[i])
                } else {
                    h.to_string()
                }
            })
            .collect();
        writeln!(w, "{}", paint(opts.color, "1", head.join("  ").trim_end()))?;
        for (f, r) in findings.iter().zip(&rows) {
            let sev = format!("{:<w$}", r[0], w = widths[0]);
            writeln!(
                w,
                "{}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
                paint(opts.color, severity_color(f.severity), &sev),
                r[1],
                r[2],
                r[3],
                r[4],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
            )?;
        }
        writeln!(w)?;
    }
    let mut by_sev: BTreeMap<Severity, u64> = BTreeMap::new();
    for f in findings {
        *by_sev.entry(f.severity).or_default() += 1;
    }
    let sev_text: Vec<String> = by_sev
        .iter()
        .rev()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    writeln!(
        w,
        "{} finding{}{}",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        if sev_text.is_empty() {
            String::new()
        } else {
            format!(" ({})", sev_text.join(", "))
        }
    )?;
    writeln!(
        w,
        "scanned {} blobs, {:.1} MiB{} in {:.2}s ({:.1} MiB/s)",
        summary.blobs_scanned,
        summary.bytes_scanned as f64 / (1024.0 * 1024.0),
        if summary.commits_scanned > 0 {
            format!(" from {} commits", summary.commits_scanned)
        } else {
            String::new()
        },
        summary.elapsed_secs,
        summary.mib_per_sec
    )?;
    if !summary.blobs_skipped.is_empty() {
        let s: Vec<String> = summary
            .blobs_skipped
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(w, "skipped: {}", s.join(", "))?;
    }
    if !summary.suppressed.is_empty() {
        let s: Vec<String> = summary
            .suppressed
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(w, "suppressed: {}", s.join(", "))?;
    }
    Ok(())
}
