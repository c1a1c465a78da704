//! File scanners' reports (`argus scan yara|clamav|http-scanner`): one verdict per object.
//! JSONL streams every verdict as it comes and ends with a counts line; JSON is the verdicts
//! plus the counts; the table lists what is not clean (clean objects are only counted); SARIF
//! carries the detections as findings, through the platform writer.

use std::io::{self, Write};

use argus_core::detector::{NewVerdict, VerdictCounts, VerdictKind};
use argus_core::finding::NewFinding;

use super::platform::{Found, PlatformReport};
use super::Report;

/// One judged object.
#[derive(Clone, Debug)]
pub struct Judged {
    pub scanner: String,
    pub verdict: NewVerdict,
    pub finding: Option<NewFinding>,
}

/// Verdicts by kind.
pub fn counts(items: &[Judged]) -> VerdictCounts {
    let mut c = VerdictCounts::default();
    for i in items {
        *c.get_mut(i.verdict.verdict) += 1;
    }
    c
}

/// The report of file scanners.
#[derive(Clone, Copy, Debug, Default)]
pub struct VerdictReport;

impl Report for VerdictReport {
    type Item = Judged;

    fn jsonl_line(&self, w: &mut dyn Write, item: &Judged) -> io::Result<()> {
        let v = serde_json::to_value(&item.verdict).map_err(io::Error::other)?;
        serde_json::to_writer(&mut *w, &argus_core::json::sorted(v)).map_err(io::Error::other)?;
        writeln!(w)
    }

    fn jsonl_end(&self, w: &mut dyn Write, items: &[Judged]) -> io::Result<()> {
        serde_json::to_writer(&mut *w, &serde_json::json!({"counts": counts(items)}))
            .map_err(io::Error::other)?;
        writeln!(w)
    }

    fn table(&self, w: &mut dyn Write, items: &[Judged]) -> io::Result<()> {
        let mut rows: Vec<&NewVerdict> = items
            .iter()
            .map(|i| &i.verdict)
            .filter(|v| v.verdict != VerdictKind::Clean)
            .collect();
        rows.sort_by(|a, b| b.verdict.cmp(&a.verdict).then(a.key.cmp(&b.key)));
        if !rows.is_empty() {
            writeln!(
                w,
                "{:<10} {:<32} {:<14} OBJECT",
                "VERDICT", "SIGNATURE / DETAIL", "ACTION"
            )?;
        }
        for v in rows {
            let what = v
                .signature
                .clone()
                .or_else(|| v.detail.clone())
                .unwrap_or_default();
            let action = v
                .action
                .as_ref()
                .map(|a| format!("{} {}", a.action, a.outcome))
                .unwrap_or_else(|| "-".into());
            writeln!(
                w,
                "{:<10} {:<32} {:<14} {}",
                v.verdict.as_str(),
                truncate(&what, 32),
                truncate(&action, 14),
                v.key
            )?;
        }
        let c = counts(items);
        writeln!(
            w,
            "{} object(s): {} clean, {} malicious, {} suspicious, {} error, {} skipped",
            c.total(),
            c.clean,
            c.malicious,
            c.suspicious,
            c.error,
            c.skipped
        )
    }

    fn json(&self, w: &mut dyn Write, items: &[Judged]) -> io::Result<()> {
        let verdicts: Vec<&NewVerdict> = items.iter().map(|i| &i.verdict).collect();
        serde_json::to_writer_pretty(
            &mut *w,
            &argus_core::json::sorted(
                serde_json::json!({"verdicts": verdicts, "counts": counts(items)}),
            ),
        )
        .map_err(io::Error::other)?;
        writeln!(w)
    }

    fn sarif(&self, w: &mut dyn Write, items: &[Judged]) -> io::Result<()> {
        let found: Vec<Found> = items
            .iter()
            .filter_map(|i| {
                i.finding.clone().map(|finding| Found {
                    scanner: i.scanner.clone(),
                    finding,
                })
            })
            .collect();
        PlatformReport.sarif(w, &found)
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
