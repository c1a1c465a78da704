//! Direct mode (`argus scan <scanner> <target>`) with a real tool: the `chain` tool of
//! `tests/fixtures/tools` (a shell script) reports two findings per domain and chains `x.<domain>`.
//! Golden files pin its JSON and SARIF; `--follow` runs chained targets with the engine's depth,
//! scope and dedup rules; exit codes stay those of CI.
//!
//! Regenerate the golden files with `UPDATE_GOLDEN=1 cargo test -p argus-cli --test direct`.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// Rules letting the `chain` tool follow its own discoveries.
const CRAWL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/chains-crawl.toml"
);

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `argus scan tool:chain …` with the fixture tools folder and a clean ARGUS_* environment.
fn scan(args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_argus"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ARGUS_") {
            c.env_remove(k);
        }
    }
    c.env("ARGUS_TOOLS__DIR", manifest().join("tests/fixtures/tools"))
        .env("ARGUS_SCANNERS__NOOP__ENABLED", "true")
        .arg("scan")
        .args(args);
    c.output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn golden(name: &str, actual: &str) {
    let path = manifest().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden file {}", path.display()));
    assert_eq!(
        actual,
        expected,
        "output differs from {} (UPDATE_GOLDEN=1 to accept)",
        path.display()
    );
}

/// The titles of a JSON report's findings, sorted.
fn titles(json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut t: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["title"].as_str().unwrap().to_owned())
        .collect();
    t.sort();
    t
}

#[test]
fn tool_findings_match_the_json_and_sarif_goldens() {
    let out = scan(&["tool:chain", "a.example", "--format", "json"]);
    // The high finding is at or above the default --fail-on (low).
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    golden("chain.json", &stdout(&out));
    // The tool names x.a.example, which only the tool itself would scan, and no scanner runs
    // on what it discovered itself without a rule: nothing for --follow to add.
    assert!(
        !stderr(&out).contains("new target(s) discovered"),
        "{}",
        stderr(&out)
    );

    let out = scan(&["tool:chain", "a.example", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    golden("chain.sarif", &text);
    let log: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Valid SARIF 2.1.0: the official schema vendored beside the secret engine's SARIF test.
    let schema = manifest().join("../argus-secrets/tests/data/sarif-schema-2.1.0.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&log).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "SARIF schema violations: {errors:?}");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "tool:chain");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["name", "open-port"]);
    for r in run["results"].as_array().unwrap() {
        let (level, index) = match r["ruleId"].as_str().unwrap() {
            "open-port" => ("error", 1),
            "name" => ("note", 0),
            other => panic!("unexpected rule {other}"),
        };
        assert_eq!(r["level"], level, "{r}");
        assert_eq!(r["ruleIndex"], index, "{r}");
        assert!(r["partialFingerprints"]["argusFingerprint/v1"].is_string());
    }

    // The same SARIF document written to a file, stdout left empty.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.sarif");
    let out = scan(&[
        "tool:chain",
        "a.example",
        "--format",
        "sarif",
        "--fail-on",
        "none",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
}

#[test]
fn follow_runs_chained_targets_within_depth_and_dedups() {
    // Depth 2: a.example, x.a.example, x.x.a.example; each task names its next target twice,
    // and each is run once.
    let out = scan(&[
        "tool:chain",
        "a.example",
        "--follow",
        "--chain-rules",
        CRAWL,
        "--depth",
        "2",
        "--format",
        "json",
        "--fail-on",
        "none",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        titles(&stdout(&out)),
        [
            "Name a.example",
            "Name x.a.example",
            "Name x.x.a.example",
            "Port 22 open on a.example",
            "Port 22 open on x.a.example",
            "Port 22 open on x.x.a.example",
        ]
    );
    assert!(stderr(&out).contains("3 task(s) run"), "{}", stderr(&out));

    // Without --follow only the named target is scanned.
    let out = scan(&["tool:chain", "a.example", "--format", "json"]);
    assert_eq!(titles(&stdout(&out)).len(), 2);
}

#[test]
fn follow_applies_scope_and_the_task_limit() {
    let out = scan(&[
        "tool:chain",
        "a.example",
        "--follow",
        "--chain-rules",
        CRAWL,
        "--depth",
        "5",
        "--exclude",
        "x.x.a.example",
        "--format",
        "jsonl",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    // Two findings for each of the two domains scanned, and the excluded one reported once
    // as skipped, with the reason.
    assert_eq!(text.lines().count(), 5, "{text}");
    let skipped: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("scope-skipped"))
        .collect();
    assert_eq!(skipped.len(), 1, "{text}");
    assert!(skipped[0].contains("x.x.a.example"), "{text}");
    // x.x.a.example is named as the next target, never scanned.
    assert!(
        !text.contains("\"target\":{\"kind\":\"domain\",\"value\":\"x.x.a.example\"}"),
        "{text}"
    );

    let out = scan(&[
        "tool:chain",
        "a.example",
        "--follow",
        "--chain-rules",
        CRAWL,
        "--scope",
        "b.example",
        "--depth",
        "3",
        "--format",
        "jsonl",
    ]);
    // The seed's two findings and x.a.example skipped (outside --scope).
    assert_eq!(stdout(&out).lines().count(), 3, "{}", stdout(&out));

    // More chained tasks than --max-tasks: an error (exit 2), after the findings so far.
    let out = scan(&[
        "tool:chain",
        "a.example",
        "--follow",
        "--chain-rules",
        CRAWL,
        "--depth",
        "5",
        "--max-tasks",
        "2",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("max_tasks"), "{}", stderr(&out));
    assert_eq!(titles(&stdout(&out)).len(), 4);
}

#[test]
fn follow_runs_noop_discoveries_through_then_scanners() {
    // noop discovers two domains (outside the seed's own domain, hence --scope '*'): with
    // --then tool:chain they are scanned by the tool (which accepts domains).
    let out = scan(&[
        "noop",
        "noop://x",
        "--kind",
        "url",
        "--param",
        r#"discover=["b.example","c.example"]"#,
        "--param",
        "findings=1",
        "--follow",
        "--scope",
        "*",
        "--then",
        "tool:chain",
        "--format",
        "json",
        "--fail-on",
        "none",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let t = titles(&stdout(&out));
    assert_eq!(
        t,
        [
            "Name b.example",
            "Name c.example",
            "Port 22 open on b.example",
            "Port 22 open on c.example",
            "noop finding 0",
        ],
        "{t:?}"
    );
    // noop does not re-run on what it discovered itself (no rule says so).
    assert!(stderr(&out).contains("3 task(s) run"), "{}", stderr(&out));

    // --then without --follow is refused, teaching the flag.
    let out = scan(&["noop", "noop://x", "--kind", "url", "--then", "tool:chain"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--follow"), "{}", stderr(&out));
}

#[test]
fn help_teaches_formats_and_following() {
    let out = scan(&["noop", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for needle in [
        "sarif",
        "--follow",
        "--depth",
        "--scope",
        "--then",
        "--output",
        "Exit codes",
    ] {
        assert!(text.contains(needle), "help lacks {needle}: {text}");
    }
}
