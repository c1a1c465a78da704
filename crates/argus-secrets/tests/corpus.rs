//! Recall and precision of the built-in rules on the corpora in `benches/secrets/corpus/`
//! (assembled from providers' documented token formats, independently of the rule files; see its
//! README): one example per file, `expected.tsv` names the secret each file holds. A file counts
//! only when a finding *in that file* carries the expected secret's SHA-256 — matching something
//! else in it does not count. The placeholder corpus (documentation values, masks, variable
//! references, test fills) must produce no finding at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/expected_tsv.rs"]
mod expected_tsv;

use argus_secrets::{Engine, Finding, PathScanOptions, ScanControl};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn corpus_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../benches/secrets/corpus")
        .join(name)
}

fn scan(dir: &Path) -> Vec<Finding> {
    let engine = Engine::builtin().unwrap();
    let opts = PathScanOptions {
        respect_gitignore: false,
        ..PathScanOptions::default()
    };
    let mut out = Vec::new();
    engine
        .scan_path(dir, &opts, &ScanControl::new(), &mut |f| out.push(f))
        .unwrap();
    out
}

/// (examples, detected, misses) of one corpus.
fn recall(name: &str) -> (usize, usize, Vec<String>) {
    let dir = corpus_dir(name);
    let expected = expected_tsv::read(&dir).unwrap();
    let findings = scan(&dir);
    let mut by_path: HashMap<&str, Vec<&str>> = HashMap::new();
    for f in &findings {
        for l in &f.locations {
            by_path.entry(l.path.as_str()).or_default().push(&f.sha256);
        }
    }
    let (mut n, mut hit, mut misses) = (0, 0, Vec::new());
    for (path, secret) in &expected {
        n += 1;
        let want = hex::encode(Sha256::digest(secret.as_bytes()));
        if by_path
            .get(path.as_str())
            .is_some_and(|hashes| hashes.contains(&want.as_str()))
        {
            hit += 1;
        } else {
            misses.push(path.clone());
        }
    }
    (n, hit, misses)
}

fn assert_recall(name: &str, min_examples: usize) {
    let (n, hit, misses) = recall(name);
    assert!(n >= min_examples, "{name}: only {n} examples");
    let r = hit as f64 / n as f64;
    println!("{name}: {hit}/{n} = {:.1} %", r * 100.0);
    assert!(
        r >= 0.90,
        "{name}: recall {:.1} % < 90 %; missed:\n{}",
        r * 100.0,
        misses.join("\n")
    );
}

#[test]
fn documented_provider_formats_are_found() {
    assert_recall("docs-formats", 250);
}

#[test]
fn generic_credential_forms_are_found() {
    assert_recall("config-forms", 80);
}

#[test]
fn placeholders_and_documentation_values_are_not_reported() {
    let dir = corpus_dir("placeholders");
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert!(files >= 10, "placeholder corpus is missing");
    let findings = scan(&dir);
    let listed: Vec<String> = findings
        .iter()
        .map(|f| format!("{} {} {}", f.rule_id, f.locations[0].path, f.preview))
        .collect();
    assert!(
        findings.is_empty(),
        "placeholders reported:\n{}",
        listed.join("\n")
    );
}
