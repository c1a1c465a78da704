//! Secret findings (`argus scan secrets`) in the output layer: the writers of
//! `argus_secrets::output`, whose bytes the golden files of `argus-secrets/tests/golden` pin.

use std::io::{self, Write};
use std::sync::Arc;

use argus_secrets::output::{self, OutputOptions};
use argus_secrets::{Engine, Finding, ScanSummary};

/// A secret scan's report: its rules (SARIF metadata), summary and formatting switches.
pub struct SecretsReport {
    pub engine: Arc<Engine>,
    pub summary: ScanSummary,
    pub opts: OutputOptions,
}

impl super::Report for SecretsReport {
    type Item = Finding;

    fn jsonl_line(&self, w: &mut dyn Write, f: &Finding) -> io::Result<()> {
        output::write_jsonl_finding(w, f, &self.opts)
    }

    fn jsonl_end(&self, w: &mut dyn Write, _: &[Finding]) -> io::Result<()> {
        output::write_jsonl_summary(w, &self.summary)
    }

    fn table(&self, w: &mut dyn Write, items: &[Finding]) -> io::Result<()> {
        output::write_table(w, items, &self.summary, &self.opts)
    }

    fn json(&self, w: &mut dyn Write, items: &[Finding]) -> io::Result<()> {
        output::write_json(w, items, &self.summary, &self.opts)
    }

    fn sarif(&self, w: &mut dyn Write, items: &[Finding]) -> io::Result<()> {
        output::write_sarif(w, items, self.engine.rules(), &self.opts)
    }
}
