//! Rule authoring and coverage tool (used by rule writers and by `benches/secrets/coverage.sh`).
//!
//! - `rulecheck rules <dir-or-file>...`: loads rule files at run time (no rebuild needed after an
//!   edit) and checks every rule the way `tests/rules.rs` checks the built-in set: the id's shape,
//!   keywords, at least two positive and two negative examples, each positive reported by the
//!   rule and no negative reported by it, with the whole engine (prefilter, validators,
//!   placeholders, allowlists, generic shadowing) active. Exit status 1 on any failure.
//! - `rulecheck corpus <corpus-dir> [--rules <dir>]`: scans a corpus folder laid out as
//!   `<corpus>/<kind>/<file>` with `<corpus>/expected.tsv` (`relative-path<TAB>secret` lines) and
//!   prints recall: a file counts as detected when a finding in it carries the expected secret's
//!   SHA-256 (`exact`), or any finding at all (`any`). `--misses` lists the files missed.
//! - `rulecheck noise <dir> [--rules <dir>] [--list <file>]`: scans a folder of code with no
//!   planted secrets and prints findings per rule and per confidence, and findings per 100 MB,
//!   as JSON; `--list` writes every finding (rule, path:line, preview, confidence) to a file.
//!
//! `--rules <dir>` loads the rules of a folder (a working copy of `rules/`) instead of the
//! compiled-in set.

#[path = "../tests/common/expected_tsv.rs"]
mod expected_tsv;

use argus_secrets::{Engine, Finding, PathScanOptions, RuleSet, ScanControl};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match run(&args) {
        Ok(ok) => {
            if ok {
                0
            } else {
                1
            }
        }
        Err(e) => {
            eprintln!("rulecheck: {e}");
            2
        }
    };
    std::process::exit(code);
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn flag_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The rule files of `paths`: a folder's built-in file names first, in the built-in load order
/// (so shadowing between generic rules is what the compiled-in set does), then its other
/// `*.toml` files by name.
fn rule_files(paths: &[PathBuf]) -> Res<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if !p.is_dir() {
            files.push(p.clone());
            continue;
        }
        let mut others = Vec::new();
        for e in std::fs::read_dir(p)? {
            let f = e?.path();
            if f.extension().is_some_and(|x| x == "toml") {
                others.push(f);
            }
        }
        others.sort();
        for name in RuleSet::builtin_file_names() {
            if let Some(i) = others.iter().position(|f| f.ends_with(name)) {
                files.push(others.remove(i));
            }
        }
        files.extend(others);
    }
    Ok(files)
}

fn load_rules(paths: &[PathBuf]) -> Res<RuleSet> {
    let mut set = RuleSet::empty();
    for f in rule_files(paths)? {
        set.extend(RuleSet::load_file(&f)?);
    }
    Ok(set)
}

fn engine_for(args: &[String]) -> Res<Engine> {
    match flag_value(args, "--rules") {
        Some(dir) => Ok(Engine::new(load_rules(&[PathBuf::from(dir)])?)?),
        None => Ok(Engine::builtin()?),
    }
}

fn run(args: &[String]) -> Res<bool> {
    match args.first().map(String::as_str) {
        Some("rules") => check_rules(&args[1..]),
        Some("corpus") => corpus(&args[1..]),
        Some("noise") => noise(&args[1..]),
        _ => Err("usage: rulecheck rules <dir-or-file>... | corpus <dir> [--rules <dir>] [--misses] | noise <dir> [--rules <dir>]".into()),
    }
}

fn check_rules(args: &[String]) -> Res<bool> {
    let paths: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
    if paths.is_empty() {
        return Err("rulecheck rules: name rule files or folders".into());
    }
    let mut failures = Vec::new();
    // Loading replaces a rule by a later one with the same id (user overrides), so duplicates are
    // found file by file, as the files are read.
    let mut set = RuleSet::empty();
    let mut ids: HashMap<String, PathBuf> = HashMap::new();
    for f in rule_files(&paths)? {
        let file = RuleSet::load_file(&f)?;
        for r in file.rules() {
            if let Some(first) = ids.insert(r.id.clone(), f.clone()) {
                failures.push(format!(
                    "{}: duplicate id (in {} and {})",
                    r.id,
                    first.display(),
                    f.display()
                ));
            }
        }
        set.extend(file);
    }
    let rules = set.rules().to_vec();
    let engine = Engine::new(set)?;
    let mut checked = 0;
    for r in &rules {
        if !r
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            failures.push(format!(
                "{}: id must be lower-case letters, digits, '-'",
                r.id
            ));
        }
        if r.keywords.is_empty() && r.requires.is_none() {
            failures.push(format!("{}: no keywords (would run on every blob)", r.id));
        }
        for k in &r.keywords {
            if k.len() < 3 {
                failures.push(format!("{}: keyword {k:?} shorter than 3 bytes", r.id));
            }
        }
        if r.examples.len() < 2 {
            failures.push(format!("{}: fewer than 2 positive examples", r.id));
        }
        if r.negative_examples.len() < 2 {
            failures.push(format!("{}: fewer than 2 negative examples", r.id));
        }
        for ex in &r.examples {
            checked += 1;
            let got = engine.matching_rule_ids(ex);
            if !got.contains(&r.id) {
                failures.push(format!("{}: missed positive {ex:?} (got {got:?})", r.id));
            }
        }
        for ex in &r.negative_examples {
            checked += 1;
            if engine.matching_rule_ids(ex).contains(&r.id) {
                failures.push(format!("{}: matched negative {ex:?}", r.id));
            }
        }
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    println!(
        "{} rules, {checked} example checks, {} failures",
        rules.len(),
        failures.len()
    );
    Ok(failures.is_empty())
}

fn scan_dir(engine: &Engine, dir: &Path) -> Res<(Vec<Finding>, u64)> {
    let opts = PathScanOptions {
        respect_gitignore: false,
        ..PathScanOptions::default()
    };
    let ctl = ScanControl::new();
    let mut findings = Vec::new();
    let summary = engine.scan_path(dir, &opts, &ctl, &mut |f| findings.push(f))?;
    Ok((findings, summary.bytes_scanned))
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn corpus(args: &[String]) -> Res<bool> {
    let dir = PathBuf::from(args.first().ok_or("rulecheck corpus <dir>")?);
    let engine = engine_for(args)?;
    let expected = expected_tsv::read(&dir)?;
    let (findings, _) = scan_dir(&engine, &dir)?;
    let mut by_path: HashMap<String, Vec<&Finding>> = HashMap::new();
    for f in &findings {
        for l in &f.locations {
            by_path.entry(l.path.clone()).or_default().push(f);
        }
    }
    let (mut exact, mut any) = (0usize, 0usize);
    let mut kinds: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    for (path, secret) in &expected {
        let kind = path.split('/').next().unwrap_or("").to_string();
        let e = kinds.entry(kind).or_default();
        e.1 += 1;
        let hits = by_path.get(path).map(Vec::as_slice).unwrap_or(&[]);
        let want = sha256_hex(secret);
        if !hits.is_empty() {
            any += 1;
        }
        if hits.iter().any(|f| f.sha256 == want) {
            exact += 1;
            e.0 += 1;
        } else {
            let got: Vec<String> = hits
                .iter()
                .map(|f| format!("{}:{}", f.rule_id, f.preview))
                .collect();
            misses.push(format!("{path}\t{got:?}"));
        }
    }
    let n = expected.len().max(1);
    let kinds_hit = kinds.values().filter(|(h, _)| *h > 0).count();
    let report = serde_json::json!({
        "corpus": dir.display().to_string(),
        "examples": expected.len(),
        "kinds": kinds.len(),
        "kinds_detected": kinds_hit,
        "exact": exact,
        "any": any,
        "recall_exact": (exact as f64) / (n as f64),
        "recall_any": (any as f64) / (n as f64),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if args.iter().any(|a| a == "--misses") {
        for m in &misses {
            println!("MISS {m}");
        }
    }
    Ok(true)
}

fn noise(args: &[String]) -> Res<bool> {
    let dir = PathBuf::from(args.first().ok_or("rulecheck noise <dir>")?);
    let engine = engine_for(args)?;
    let (findings, bytes) = scan_dir(&engine, &dir)?;
    let mut by_rule: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_conf: BTreeMap<String, usize> = BTreeMap::new();
    let mut locations = 0usize;
    for f in &findings {
        *by_rule.entry(f.rule_id.clone()).or_default() += f.locations.len();
        *by_conf
            .entry(
                serde_json::to_value(f.confidence)?
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
            .or_default() += f.locations.len();
        locations += f.locations.len();
    }
    let mb = bytes as f64 / 1e6;
    let report = serde_json::json!({
        "tree": dir.display().to_string(),
        "bytes_scanned": bytes,
        "findings": locations,
        "findings_per_100mb": if mb > 0.0 { locations as f64 * 100.0 / mb } else { 0.0 },
        "by_confidence": by_conf,
        "by_rule": by_rule,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if let Some(out) = flag_value(args, "--list") {
        let mut lines = String::new();
        for f in &findings {
            for l in &f.locations {
                lines.push_str(&format!(
                    "{}\t{}:{}\t{}\t{}\n",
                    f.rule_id,
                    l.path,
                    l.line,
                    f.preview,
                    serde_json::to_value(f.confidence)?.as_str().unwrap_or("")
                ));
            }
        }
        std::fs::write(out, lines)?;
    }
    Ok(true)
}
