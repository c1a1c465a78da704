//! Minimal driver used by the benchmark (`benches/secrets/run.sh`) and for manual testing before
//! the `argus scan secrets` command is wired: scans a git repository (full history, all refs) or a
//! directory and writes a JSON report to stdout, the summary to stderr.
//!
//! Usage: `scan <path> [--dir] [--threads N] [--format json|jsonl|sarif|table] [--no-base64]`

use argus_secrets::output::{self, OutputOptions};
use argus_secrets::{Engine, GitScanOptions, PathScanOptions, ScanControl};
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or("usage: scan <path> [--dir] [--threads N] [--format F]")?;
    let dir = args.iter().any(|a| a == "--dir");
    let threads = args
        .iter()
        .position(|a| a == "--threads")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse::<usize>())
        .transpose()?
        .unwrap_or(0);
    let format = args
        .iter()
        .position(|a| a == "--format")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "json".into());
    let mut engine = Engine::builtin()?;
    engine.set_decode_base64(!args.iter().any(|a| a == "--no-base64"));
    let ctl = ScanControl::new();
    let mut findings = Vec::new();
    let summary = if dir {
        let mut opts = PathScanOptions::default();
        opts.policy.threads = threads;
        engine.scan_path(path.as_ref(), &opts, &ctl, &mut |f| findings.push(f))?
    } else {
        let mut opts = GitScanOptions::default();
        opts.policy.threads = threads;
        engine.scan_git(path.as_ref(), &opts, &ctl, &mut |f| findings.push(f))?
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let o = OutputOptions::default();
    match format.as_str() {
        "jsonl" => output::write_jsonl(&mut out, &findings, &summary, &o)?,
        "sarif" => output::write_sarif(&mut out, &findings, engine.rules(), &o)?,
        "table" => output::write_table(&mut out, &findings, &summary, &o)?,
        _ => output::write_json(&mut out, &findings, &summary, &o)?,
    }
    out.flush()?;
    eprintln!("{}", serde_json::to_string(&summary)?);
    Ok(())
}
