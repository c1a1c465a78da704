//! The `expected.tsv` of a recall corpus (`benches/secrets/corpus/`): one `path<TAB>secret` line
//! per example file. A secret that spans lines is written on one line: `\n` is a newline, `\r` a
//! carriage return, `\t` a tab and `\\` a backslash. Shared by `tests/corpus.rs` and
//! `examples/rulecheck.rs` (included with `#[path]`), so both read a corpus the same way.

use std::path::Path;

/// The `(relative path, secret)` pairs of the corpus in `dir`, secrets unescaped.
pub fn read(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(dir.join("expected.tsv"))
        .map_err(|e| format!("reading {}: {e}", dir.join("expected.tsv").display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            line.split_once('\t')
                .map(|(path, secret)| (path.to_string(), unescape(secret)))
                .ok_or_else(|| format!("bad expected.tsv line {line:?}"))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}
