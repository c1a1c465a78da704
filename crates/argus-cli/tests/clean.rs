//! `argus clean` end to end: a real repository built with `git`, a real report written by
//! `argus scan secrets --format json`, the cleaned output checked with `git` and a rescan; bad
//! input (not a repository, missing report, unknown fingerprint) fails with a clear message and
//! a non-zero exit.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

// Assembled with concat! so this source file does not itself contain the values.
const GH_TOKEN: &str = concat!("ghp_", "R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xx");
const STRIPE: &str = concat!("sk_live_", "4eC39HqLyjWDarjtT1zdp7dc");

fn argus(args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_argus"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ARGUS_") {
            c.env_remove(k);
        }
    }
    c.args(args).output().unwrap()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Alice")
        .env("GIT_AUTHOR_EMAIL", "alice@example.com")
        .env("GIT_COMMITTER_NAME", "Alice")
        .env("GIT_COMMITTER_EMAIL", "alice@example.com")
        .env("GIT_AUTHOR_DATE", "1704067200 +0000")
        .env("GIT_COMMITTER_DATE", "1704067200 +0000")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// c1 clean; c2 adds both secrets; c3 deletes the GitHub token; tag v1 on c2.
fn fixture(root: &Path) -> std::path::PathBuf {
    let r = root.join("repo");
    std::fs::create_dir_all(&r).unwrap();
    git(&r, &["init", "-q", "-b", "main"]);
    std::fs::write(r.join("README.md"), "# demo\n").unwrap();
    git(&r, &["add", "-A"]);
    git(&r, &["commit", "-q", "-m", "c1"]);
    std::fs::write(r.join("gh.env"), format!("GITHUB_TOKEN={GH_TOKEN}\n")).unwrap();
    std::fs::write(r.join("pay.cfg"), format!("stripe = \"{STRIPE}\"\n")).unwrap();
    git(&r, &["add", "-A"]);
    git(&r, &["commit", "-q", "-m", "c2"]);
    git(&r, &["tag", "-a", "v1", "-m", "v1"]);
    std::fs::write(r.join("gh.env"), "GITHUB_TOKEN=${GITHUB_TOKEN}\n").unwrap();
    git(&r, &["add", "-A"]);
    git(&r, &["commit", "-q", "-m", "c3"]);
    r
}

fn report(root: &Path, repo: &Path) -> (std::path::PathBuf, serde_json::Value) {
    let path = root.join("report.json");
    let out = argus(&[
        "scan",
        "secrets",
        repo.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.code() == Some(1) || out.status.success(),
        "{out:?}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (path, doc)
}

fn fingerprint_of(doc: &serde_json::Value, rule_prefix: &str) -> String {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"].as_str().unwrap().starts_with(rule_prefix))
        .unwrap_or_else(|| panic!("no {rule_prefix} finding in {doc}"))["fingerprint"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn clean_removes_the_selected_secret_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let repo = fixture(dir.path());
    let before = git(
        &repo,
        &["for-each-ref", "--format=%(refname) %(objectname)"],
    );
    let (report_path, doc) = report(dir.path(), &repo);
    let gh = fingerprint_of(&doc, "github");
    let out_dir = dir.path().join("clean.git");
    let out = argus(&[
        "clean",
        repo.to_str().unwrap(),
        "--report",
        report_path.to_str().unwrap(),
        "--select",
        &gh,
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("commits rewritten:   2 of 3"), "{stderr}");
    assert!(stderr.contains("blobs changed:       1"), "{stderr}");
    assert!(stderr.contains("refs updated:        2 of 2"), "{stderr}");
    assert!(stderr.contains("signatures dropped:  0"), "{stderr}");
    assert!(!stderr.contains(GH_TOKEN) && !String::from_utf8_lossy(&out.stdout).contains(GH_TOKEN));

    // Output: fsck clean, the GitHub token gone, the Stripe key (not selected) kept.
    let fsck = Command::new("git")
        .args(["fsck", "--full", "--no-dangling"])
        .current_dir(&out_dir)
        .output()
        .unwrap();
    assert!(fsck.status.success(), "{fsck:?}");
    assert_eq!(
        git(&out_dir, &["show", "v1:gh.env"]),
        "GITHUB_TOKEN=***REMOVED***"
    );
    assert!(git(&out_dir, &["show", "v1:pay.cfg"]).contains(STRIPE));
    assert_eq!(git(&out_dir, &["rev-list", "--all", "--count"]), "3");
    let rescan = argus(&[
        "scan",
        "secrets",
        out_dir.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let rescan: serde_json::Value = serde_json::from_slice(&rescan.stdout).unwrap();
    let rules: Vec<&str> = rescan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    assert!(!rules.iter().any(|r| r.starts_with("github")), "{rules:?}");
    assert!(rules.iter().any(|r| r.starts_with("stripe")), "{rules:?}");
    assert!(out_dir.join("commit-map").is_file());
    // The source is untouched.
    assert_eq!(
        git(
            &repo,
            &["for-each-ref", "--format=%(refname) %(objectname)"]
        ),
        before
    );
}

#[test]
fn clean_rejects_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let repo = fixture(dir.path());
    let (report_path, _) = report(dir.path(), &repo);
    let out_dir = dir.path().join("o.git");
    let o = out_dir.to_str().unwrap();
    let rp = report_path.to_str().unwrap();

    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let r = argus(&["clean", plain.to_str().unwrap(), "--report", rp, "--out", o]);
    assert_eq!(r.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("is not a git repository"),
        "{r:?}"
    );

    let missing = dir.path().join("nope.json");
    let r = argus(&[
        "clean",
        repo.to_str().unwrap(),
        "--report",
        missing.to_str().unwrap(),
        "--out",
        o,
    ]);
    assert_eq!(r.status.code(), Some(2));
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(
        e.contains("reading the report") && e.contains("nope.json"),
        "{e}"
    );

    let r = argus(&[
        "clean",
        repo.to_str().unwrap(),
        "--report",
        rp,
        "--select",
        "deadbeefdeadbeef",
        "--out",
        o,
    ]);
    assert_eq!(r.status.code(), Some(2));
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(
        e.contains("unknown fingerprint") && e.contains("deadbeefdeadbeef"),
        "{e}"
    );
    assert!(!out_dir.exists());

    let help = argus(&["clean", "--help"]);
    let h = String::from_utf8_lossy(&help.stdout);
    assert!(
        h.contains("argus scan secrets REPO --format json") && h.contains("--select"),
        "{h}"
    );
}

#[test]
fn clean_applies_per_rule_replacements_to_every_finding_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let repo = fixture(dir.path());
    let (report_path, doc) = report(dir.path(), &repo);
    let stripe_rule = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .find(|r| r.starts_with("stripe"))
        .unwrap();
    let out_dir = dir.path().join("clean.git");
    let rule_arg = format!("{stripe_rule}=sk_test_placeholder");
    let out = argus(&[
        "clean",
        repo.to_str().unwrap(),
        "--report",
        report_path.to_str().unwrap(),
        "--replace-rule",
        &rule_arg,
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        git(&out_dir, &["show", "v1:pay.cfg"]),
        "stripe = \"sk_test_placeholder\""
    );
    assert_eq!(
        git(&out_dir, &["show", "v1:gh.env"]),
        "GITHUB_TOKEN=***REMOVED***"
    );
}
