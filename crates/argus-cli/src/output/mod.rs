//! The output layer of direct mode: one set of formats (table, JSON, JSONL, SARIF) for every
//! kind of finding `argus scan` prints — a secret scan's ([`secrets`]) and any platform
//! scanner's, tools and `noop` alike ([`platform`]).
//!
//! A [`Report`] knows how to print one family of findings; [`Format`] picks the writer, so both
//! commands choose formats, stream JSONL and write the closing document the same way. SARIF for
//! every family goes through the one builder in `argus_core::sarif`.
//!
//! Invariants: stdout carries only the report (progress and summaries go to stderr); JSONL is
//! written line by line as findings arrive, the other formats once the scan is over; writers are
//! deterministic for a given input (golden-file tested: `argus-secrets/tests/golden` for secrets,
//! `argus-cli/tests/golden` for platform scanners).

pub mod platform;
pub mod secrets;
pub mod verdicts;

use std::io::{self, Write};
use std::path::Path;

/// Output format of `argus scan`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A table for people.
    Table,
    /// One JSON document.
    Json,
    /// One JSON object per line, written as findings arrive.
    Jsonl,
    /// SARIF 2.1.0 (GitHub code scanning and other SARIF readers).
    Sarif,
}

/// How one family of findings is printed in each format.
pub trait Report {
    type Item;

    /// One JSONL line for `item`.
    fn jsonl_line(&self, w: &mut dyn Write, item: &Self::Item) -> io::Result<()>;
    /// What closes a JSONL stream (a summary line, or nothing).
    fn jsonl_end(&self, w: &mut dyn Write, items: &[Self::Item]) -> io::Result<()>;
    fn table(&self, w: &mut dyn Write, items: &[Self::Item]) -> io::Result<()>;
    fn json(&self, w: &mut dyn Write, items: &[Self::Item]) -> io::Result<()>;
    fn sarif(&self, w: &mut dyn Write, items: &[Self::Item]) -> io::Result<()>;
}

impl Format {
    /// Writes `item` as it arrives: a line in JSONL, nothing in the other formats.
    pub fn stream<R: Report>(self, r: &R, w: &mut dyn Write, item: &R::Item) -> io::Result<()> {
        match self {
            Format::Jsonl => r.jsonl_line(w, item),
            Format::Table | Format::Json | Format::Sarif => Ok(()),
        }
    }

    /// Writes what comes once the scan is over: the document, or JSONL's closing line.
    pub fn finish<R: Report>(self, r: &R, w: &mut dyn Write, items: &[R::Item]) -> io::Result<()> {
        match self {
            Format::Table => r.table(w, items),
            Format::Json => r.json(w, items),
            Format::Jsonl => r.jsonl_end(w, items),
            Format::Sarif => r.sarif(w, items),
        }
    }
}

/// Where the report goes: the file named by `--output`, else stdout (buffered either way).
pub fn open(path: Option<&Path>) -> anyhow::Result<Box<dyn Write + Send>> {
    use anyhow::Context as _;
    Ok(match path {
        Some(p) => Box::new(io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(io::BufWriter::new(io::stdout())),
    })
}
