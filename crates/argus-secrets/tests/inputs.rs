//! Directory, reader, suppression (ignore file, baseline, allowlists) and rule-loading tests
//! (rule folders and gitleaks configs).
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use argus_secrets::output::{self, OutputOptions};
use argus_secrets::{
    gitleaks, load_baseline, load_ignore_file, Engine, Finding, GitScanOptions, PathScanOptions,
    RuleSet, ScanControl, ScanPolicy, ScanSummary,
};
use std::path::Path;

fn scan_dir(engine: &Engine, dir: &Path, opts: &PathScanOptions) -> (Vec<Finding>, ScanSummary) {
    let mut out = Vec::new();
    let s = engine
        .scan_path(dir, opts, &ScanControl::new(), &mut |f| out.push(f))
        .unwrap();
    (out, s)
}

#[test]
fn directory_scan_respects_gitignore_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    std::fs::write(r.join(".gitignore"), "ignored.env\n").unwrap();
    std::fs::write(
        r.join("ignored.env"),
        format!("GITHUB_TOKEN={}\n", common::GH_TOKEN),
    )
    .unwrap();
    std::fs::create_dir_all(r.join("src")).unwrap();
    std::fs::write(
        r.join("src/app.py"),
        format!("\n\nkey = \"{}\"\n", common::AWS_ID),
    )
    .unwrap();
    std::fs::write(r.join("logo.png"), b"\x89PNG\x00\x00 AKIA").unwrap();
    let engine = Engine::builtin().unwrap();
    let (f, s) = scan_dir(&engine, r, &PathScanOptions::default());
    assert_eq!(f.len(), 1);
    let loc = f[0].primary().unwrap();
    assert_eq!(
        (
            f[0].rule_id.as_str(),
            loc.path.as_str(),
            loc.line,
            loc.column
        ),
        ("aws-access-key-id", "src/app.py", 3, 8)
    );
    assert_eq!(loc.commit, None);
    assert_eq!(s.blobs_skipped.get("binary"), Some(&1));
    let (f, _) = scan_dir(
        &engine,
        r,
        &PathScanOptions {
            respect_gitignore: false,
            ..Default::default()
        },
    );
    let ids: Vec<_> = f
        .iter()
        .map(|f| (f.rule_id.as_str(), f.primary().unwrap().path.as_str()))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("github-pat-classic", "ignored.env"),
            ("aws-access-key-id", "src/app.py")
        ]
    );
    // A single file is scanned under its own name.
    let (f, _) = scan_dir(&engine, &r.join("src/app.py"), &PathScanOptions::default());
    assert_eq!(f[0].primary().unwrap().path, "app.py");
}

#[test]
fn reader_scan_and_size_policy() {
    let engine = Engine::builtin().unwrap();
    let text = format!("export SLACK={}\n", common::SLACK_BOT);
    let mut found = Vec::new();
    let s = engine
        .scan_reader(
            &mut text.as_bytes(),
            "<stdin>",
            &ScanPolicy::default(),
            &mut |f| found.push(f),
        )
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].rule_id, "slack-bot-token");
    assert_eq!(found[0].primary().unwrap().path, "<stdin>");
    assert_eq!(s.blobs_scanned, 1);
    let tiny = ScanPolicy {
        max_blob_size: 10,
        ..Default::default()
    };
    let mut none = Vec::new();
    let s = engine
        .scan_reader(&mut text.as_bytes(), "<stdin>", &tiny, &mut |f| {
            none.push(f)
        })
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(s.blobs_skipped.get("too_large"), Some(&1));
    // Minified content is skipped by default and scanned on request.
    let mut minified = "var a=1;".repeat(4000);
    minified.push_str(&format!("var t=\"{}\";", common::GH_TOKEN));
    let mut none = Vec::new();
    let s = engine
        .scan_reader(
            &mut minified.as_bytes(),
            "app.min.js",
            &ScanPolicy::default(),
            &mut |f| none.push(f),
        )
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(s.blobs_skipped.get("minified"), Some(&1));
    let keep = ScanPolicy {
        skip_minified: false,
        ..Default::default()
    };
    let mut some = Vec::new();
    engine
        .scan_reader(&mut minified.as_bytes(), "app.min.js", &keep, &mut |f| {
            some.push(f)
        })
        .unwrap();
    assert_eq!(some.len(), 1);
}

#[test]
fn ignore_file_and_baseline_suppress_by_fingerprint() {
    let fx = common::build();
    let engine = Engine::builtin().unwrap();
    let mut all = Vec::new();
    let summary = engine
        .scan_git(
            fx.path(),
            &GitScanOptions::default(),
            &ScanControl::new(),
            &mut |f| all.push(f),
        )
        .unwrap();
    assert_eq!(all.len(), 9);

    // Ignore file with one fingerprint (and comments).
    let tmp = tempfile::tempdir().unwrap();
    let ignore = tmp.path().join(".argus-secrets-ignore");
    std::fs::write(
        &ignore,
        format!("# reviewed\n{}  test key, rotated\n", all[0].fingerprint),
    )
    .unwrap();
    let mut opts = GitScanOptions::default();
    opts.policy.suppressions.ignored = load_ignore_file(&ignore).unwrap();
    let mut left = Vec::new();
    let s = engine
        .scan_git(fx.path(), &opts, &ScanControl::new(), &mut |f| left.push(f))
        .unwrap();
    assert_eq!(left.len(), 8);
    assert!(left.iter().all(|f| f.fingerprint != all[0].fingerprint));
    assert_eq!(s.suppressed.get("ignore_file"), Some(&1));

    // Baseline from a previous JSON report: nothing new.
    let baseline = tmp.path().join("previous.json");
    let mut buf = Vec::new();
    output::write_json(&mut buf, &all, &summary, &OutputOptions::default()).unwrap();
    std::fs::write(&baseline, &buf).unwrap();
    let mut opts = GitScanOptions::default();
    opts.policy.suppressions.baseline = load_baseline(&baseline).unwrap();
    let mut new = Vec::new();
    let s = engine
        .scan_git(fx.path(), &opts, &ScanControl::new(), &mut |f| new.push(f))
        .unwrap();
    assert!(new.is_empty());
    assert_eq!(s.suppressed.get("baseline"), Some(&9));
    // JSONL baselines work too.
    let jsonl = tmp.path().join("previous.jsonl");
    let mut buf = Vec::new();
    output::write_jsonl(&mut buf, &all[..3], &summary, &OutputOptions::default()).unwrap();
    std::fs::write(&jsonl, &buf).unwrap();
    assert_eq!(load_baseline(&jsonl).unwrap().len(), 3);
}

#[test]
fn rule_folder_overrides_and_allowlists() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("custom.toml"),
        r#"
[allowlist]
paths = ['''^vendor/''']

[[rule]]
id = "acme-internal-token"
name = "ACME internal token"
pattern = '''\b(acme_[a-z0-9]{24})\b'''
keywords = ["acme_"]
severity = "critical"
allowlist = { stopwords = ["sandbox"] }
examples = ["acme_0123456789abcdefghijklmn"]
negative_examples = ["acme_short"]
"#,
    )
    .unwrap();
    let mut set = RuleSet::builtin().unwrap();
    let builtin = set.len();
    set.extend(RuleSet::load_dir(dir.path()).unwrap());
    assert_eq!(set.len(), builtin + 1);
    let engine = Engine::new(set).unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("vendor")).unwrap();
    std::fs::write(
        src.path().join("a.txt"),
        "t = acme_0123456789abcdefghijklmn\nu = acme_sandbox0123456789abcdefg\n",
    )
    .unwrap();
    std::fs::write(
        src.path().join("vendor/b.txt"),
        "t = acme_0123456789abcdefghijklmn\n",
    )
    .unwrap();
    let (f, s) = scan_dir(&engine, src.path(), &PathScanOptions::default());
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].rule_id.as_str(), f[0].primary().unwrap().path.as_str()),
        ("acme-internal-token", "a.txt")
    );
    assert_eq!(s.suppressed.get("allowlist"), Some(&2)); // stop word + vendor path
}

#[test]
fn gitleaks_config_loads_as_is() {
    let text = r#"
title = "custom"
[extend]
useDefault = true

[allowlist]
paths = ['''fixtures/''']

[[rules]]
id = "internal-api-key"
description = "Internal API key"
regex = '''(?i)internal[_-]?key\s*=\s*['"]?([a-z0-9]{32})'''
secretGroup = 1
entropy = 3.0
keywords = ["internal"]
tags = ["internal"]
  [rules.allowlist]
  stopwords = ["deadbeef"]

[[rules]]
id = "pkcs12-file"
description = "PKCS12 file"
path = '''\.p12$'''

[[rules]]
id = "with-and"
regex = '''zz_[0-9]{8}'''
  [[rules.allowlists]]
  condition = "AND"
  regexes = ['''zz_1''']
  paths = ['''x''']
"#;
    let (set, warnings) = gitleaks::from_toml_str(text, Path::new("gitleaks.toml")).unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(warnings.len(), 3, "{warnings:?}"); // extend, path-only rule, AND allowlist
    let r = &set.rules()[0];
    assert_eq!(
        (r.id.as_str(), r.secret_group, r.entropy),
        ("internal-api-key", Some(1), Some(3.0))
    );
    assert!(r.tags.contains(&"gitleaks".to_string()));
    let engine = Engine::new(set).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("fixtures")).unwrap();
    let line = "INTERNAL_KEY = 'a8f3k29dj4m5n6b7v8c9x0z1q2w3e4r5'\n";
    std::fs::write(dir.path().join("conf.py"), line).unwrap();
    std::fs::write(dir.path().join("fixtures/conf.py"), line).unwrap();
    std::fs::write(
        dir.path().join("dead.py"),
        "internal_key = 'deadbeef0123456789abcdef01234567'\n",
    )
    .unwrap();
    let (f, _) = scan_dir(&engine, dir.path(), &PathScanOptions::default());
    let got: Vec<_> = f
        .iter()
        .map(|f| (f.rule_id.as_str(), f.primary().unwrap().path.as_str()))
        .collect();
    assert_eq!(got, vec![("internal-api-key", "conf.py")]);
}
