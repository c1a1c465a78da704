//! What the remote CLI's tables read of the API's JSON, and the tables themselves.
//!
//! The views are lenient on purpose: every field has a default and unknown fields are ignored,
//! so a newer (or older) server that adds or drops a field still prints; `--json` is the exact
//! document. Tables are plain text with columns padded to their widest cell, deterministic for a
//! given input (golden-tested in `tests/remote.rs`).

use serde::Deserialize;
use serde_json::Value;

/// Scan counters (`progress`).
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct Progress {
    pub enqueued: u64,
    pub done: u64,
    pub failed: u64,
    pub expected_total: Option<u64>,
    pub findings: u64,
}

impl Progress {
    /// Tasks the scan knows it will run so far.
    pub fn total(&self) -> u64 {
        self.enqueued.max(self.expected_total.unwrap_or(0))
    }

    /// `1/1 tasks done, 0 failed, 3 findings`.
    pub fn summary(&self) -> String {
        format!(
            "{}/{} tasks done, {} failed, {} findings",
            self.done,
            self.total(),
            self.failed,
            self.findings
        )
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ScannerSpec {
    pub name: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct TargetView {
    pub kind: String,
    pub value: String,
}

impl TargetView {
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind, self.value)
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ScanConfig {
    pub scanners: Vec<ScannerSpec>,
    pub targets: Vec<TargetView>,
}

/// A scan as tables show it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Scan {
    pub id: String,
    pub name: String,
    pub state: String,
    pub reason: Option<String>,
    pub config: ScanConfig,
    pub progress: Progress,
    pub created_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// A completed secrets scan whose findings wait for a selection (`findings select`).
    pub awaiting_selection: Option<bool>,
}

impl Scan {
    pub fn read(v: &Value) -> Self {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Location {
    pub path: Option<String>,
    pub line: Option<u64>,
    pub url: Option<String>,
}

/// A finding as tables show it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Finding {
    pub id: String,
    pub scan_id: String,
    pub scanner: String,
    pub severity: String,
    pub title: String,
    pub target: TargetView,
    pub location: Location,
    pub triage: String,
}

/// An artifact as tables show it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Artifact {
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub created_at: Option<String>,
}

/// Whether a scan state is terminal.
pub fn is_terminal(state: &str) -> bool {
    matches!(state, "completed" | "failed" | "cancelled")
}

/// `2026-01-02T03:04:05.123Z` → `2026-01-02 03:04:05` (UTC); `-` when absent.
pub fn time(t: Option<&str>) -> String {
    match t.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) {
        Some(d) => d
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        None => t.unwrap_or("-").to_owned(),
    }
}

/// `1234567` → `1.2 MiB`.
pub fn size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// A text table: a header row and rows, columns padded to their widest cell (the last column
/// is not padded, so lines carry no trailing spaces).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<width$}  ", width = *w));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

pub fn scans_table(scans: &[Scan]) -> String {
    let rows: Vec<Vec<String>> = scans
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.state.clone(),
                format!("{}/{}", s.progress.done, s.progress.total()),
                s.progress.failed.to_string(),
                s.progress.findings.to_string(),
                time(s.created_at.as_deref()),
                s.name.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ID", "STATE", "DONE", "FAILED", "FINDINGS", "CREATED", "NAME",
        ],
        &rows,
    )
}

/// `scans get`: one field per line.
pub fn scan_detail(s: &Scan) -> String {
    let scanners: Vec<&str> = s.config.scanners.iter().map(|x| x.name.as_str()).collect();
    let targets: Vec<String> = s.config.targets.iter().map(TargetView::key).collect();
    let mut rows = vec![
        ("id", s.id.clone()),
        ("name", s.name.clone()),
        ("state", s.state.clone()),
        ("reason", s.reason.clone().unwrap_or_else(|| "-".into())),
        ("scanners", scanners.join(", ")),
        ("targets", targets.join(", ")),
        ("progress", s.progress.summary()),
    ];
    if s.awaiting_selection == Some(true) {
        rows.push(("awaiting", "a selection of its findings to clean".into()));
    }
    rows.extend([
        ("created", time(s.created_at.as_deref())),
        ("started", time(s.started_at.as_deref())),
        ("finished", time(s.finished_at.as_deref())),
    ]);
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {v}\n"))
        .collect()
}

pub fn findings_table(findings: &[Finding]) -> String {
    let rows: Vec<Vec<String>> = findings
        .iter()
        .map(|f| {
            let loc = match (&f.location.path, f.location.line, &f.location.url) {
                (Some(p), Some(l), _) => format!("{p}:{l}"),
                (Some(p), None, _) => p.clone(),
                (None, _, Some(u)) => u.clone(),
                _ => "-".into(),
            };
            vec![
                f.id.clone(),
                f.scan_id.clone(),
                f.severity.clone(),
                f.scanner.clone(),
                f.triage.clone(),
                f.target.key(),
                loc,
                f.title.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ID", "SCAN", "SEVERITY", "SCANNER", "TRIAGE", "TARGET", "LOCATION", "TITLE",
        ],
        &rows,
    )
}

pub fn artifacts_table(artifacts: &[Artifact]) -> String {
    let rows: Vec<Vec<String>> = artifacts
        .iter()
        .map(|a| {
            vec![
                size(a.size),
                a.content_type.clone(),
                time(a.created_at.as_deref()),
                a.name.clone(),
            ]
        })
        .collect();
    table(&["SIZE", "TYPE", "CREATED", "NAME"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_all_but_the_last_column() {
        let t = table(
            &["A", "BB", "C"],
            &[vec!["xxx".into(), "y".into(), "z z".into()]],
        );
        assert_eq!(t, "A    BB  C\nxxx  y   z z\n");
    }

    #[test]
    fn sizes_and_times_read_well() {
        assert_eq!(size(12), "12 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(
            time(Some("2026-01-02T03:04:05.678+01:00")),
            "2026-01-02 02:04:05"
        );
        assert_eq!(time(None), "-");
    }

    #[test]
    fn views_tolerate_missing_and_extra_fields() {
        let s = Scan::read(&serde_json::json!({"id": "x", "state": "running", "new": 1}));
        assert_eq!(s.id, "x");
        assert_eq!(s.progress, Progress::default());
        assert!(!is_terminal(&s.state));
    }
}
