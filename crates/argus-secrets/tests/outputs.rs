//! Output formats: golden files for table, JSON, JSONL and SARIF (on the deterministic fixture
//! repository: fixed authors and dates give fixed commit ids), and SARIF validated against the
//! official SARIF 2.1.0 JSON schema (vendored in `tests/data`, from the OASIS sarif-spec release
//! `sarif-2.1.0-rtm.5`, as shipped in the MIT-licensed `@microsoft/jest-sarif` npm package).
//!
//! Regenerate the golden files with `UPDATE_GOLDEN=1 cargo test -p argus-secrets --test outputs`.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use argus_secrets::output::{self, OutputOptions};
use argus_secrets::{Engine, Finding, GitScanOptions, ScanControl, ScanSummary};
use std::path::PathBuf;

fn scan() -> (Engine, Vec<Finding>, ScanSummary) {
    let fx = common::build();
    let engine = Engine::builtin().unwrap();
    let mut findings = Vec::new();
    let mut summary = engine
        .scan_git(
            fx.path(),
            &GitScanOptions::default(),
            &ScanControl::new(),
            &mut |f| findings.push(f),
        )
        .unwrap();
    // Timing is the only non-deterministic part of a report.
    summary.elapsed_secs = 0.0;
    summary.mib_per_sec = 0.0;
    summary.phase_secs.clear();
    (engine, findings, summary)
}

fn golden(name: &str, actual: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected =
        std::fs::read(&path).unwrap_or_else(|_| panic!("missing golden file {}", path.display()));
    assert_eq!(
        String::from_utf8_lossy(actual),
        String::from_utf8_lossy(&expected),
        "output differs from {} (UPDATE_GOLDEN=1 to accept)",
        path.display()
    );
}

#[test]
fn golden_outputs() {
    let (engine, findings, summary) = scan();
    let opts = OutputOptions::default();
    let mut buf = Vec::new();
    output::write_table(&mut buf, &findings, &summary, &opts).unwrap();
    golden("history.table.txt", &buf);
    let mut buf = Vec::new();
    output::write_json(&mut buf, &findings, &summary, &opts).unwrap();
    golden("history.json", &buf);
    let mut buf = Vec::new();
    output::write_jsonl(&mut buf, &findings, &summary, &opts).unwrap();
    golden("history.jsonl", &buf);
    let mut buf = Vec::new();
    output::write_sarif(&mut buf, &findings, engine.rules(), &opts).unwrap();
    golden("history.sarif", &buf);
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let (engine, findings, _) = scan();
    let mut buf = Vec::new();
    output::write_sarif(
        &mut buf,
        &findings,
        engine.rules(),
        &OutputOptions::default(),
    )
    .unwrap();
    let instance: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    let schema_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF schema violations:\n{}",
        errors.join("\n")
    );
    // The check is not vacuous: a broken document is rejected.
    let mut broken = instance.clone();
    broken["runs"][0]["results"][0]["level"] = serde_json::json!("fatal");
    assert!(!validator.is_valid(&broken));
    // GitHub code scanning needs these.
    let run = &instance["runs"][0];
    assert_eq!(instance["version"], "2.1.0");
    assert_eq!(run["results"].as_array().unwrap().len(), findings.len());
    assert!(run["results"][0]["partialFingerprints"]["argusSecretFingerprint/v1"].is_string());
    assert!(run["tool"]["driver"]["rules"][0]["properties"]["security-severity"].is_string());
}

#[test]
fn show_secrets_only_when_asked_and_kept() {
    let fx = common::build();
    let engine = Engine::builtin().unwrap();
    let mut opts = GitScanOptions::default();
    opts.policy.keep_secret_values = true;
    let mut findings = Vec::new();
    let summary = engine
        .scan_git(fx.path(), &opts, &ScanControl::new(), &mut |f| {
            findings.push(f)
        })
        .unwrap();
    let hidden = OutputOptions::default();
    let shown = OutputOptions {
        show_secrets: true,
        color: false,
    };
    for (name, write) in [
        (
            "table",
            output::write_table
                as fn(
                    &mut dyn std::io::Write,
                    &[Finding],
                    &ScanSummary,
                    &OutputOptions,
                ) -> std::io::Result<()>,
        ),
        ("json", output::write_json),
        ("jsonl", output::write_jsonl),
    ] {
        let mut a = Vec::new();
        write(&mut a, &findings, &summary, &hidden).unwrap();
        assert!(
            !String::from_utf8_lossy(&a).contains(common::AWS_ID),
            "{name} leaked a secret"
        );
        let mut b = Vec::new();
        write(&mut b, &findings, &summary, &shown).unwrap();
        assert!(
            String::from_utf8_lossy(&b).contains(common::AWS_ID),
            "{name} did not show the secret"
        );
    }
    let mut s = Vec::new();
    output::write_sarif(&mut s, &findings, engine.rules(), &hidden).unwrap();
    assert!(!String::from_utf8_lossy(&s).contains(common::AWS_ID));
}

#[test]
fn table_uses_colour_only_when_asked() {
    let (_, findings, summary) = scan();
    let mut plain = Vec::new();
    output::write_table(&mut plain, &findings, &summary, &OutputOptions::default()).unwrap();
    assert!(!plain.contains(&0x1b));
    let mut colour = Vec::new();
    output::write_table(
        &mut colour,
        &findings,
        &summary,
        &OutputOptions {
            color: true,
            show_secrets: false,
        },
    )
    .unwrap();
    assert!(colour.contains(&0x1b));
}
