//! Pair rules (`requires`: the AWS access key id + secret access key pair) and base64 decoding
//! one level deep: exact findings on a fixture repository with base64-encoded secrets and decoys,
//! pairing distance, and the `Engine::set_decode_base64` switch.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use argus_secrets::{Engine, Finding, GitScanOptions, RuleSet, ScanControl, ScanPolicy};
use base64::Engine as _;
use common::*;
use sha2::{Digest, Sha256};

fn sha(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn scan_text(engine: &Engine, text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    engine
        .scan_reader(
            &mut text.as_bytes(),
            "input.txt",
            &ScanPolicy::default(),
            &mut |f| out.push(f),
        )
        .unwrap();
    out
}

/// (rule, line, column, encoding) of each finding's primary location.
fn shape(findings: &[Finding]) -> Vec<(String, String, u32, u32, Option<String>)> {
    findings
        .iter()
        .map(|f| {
            let p = f.primary().unwrap();
            (
                f.rule_id.clone(),
                p.path.clone(),
                p.line,
                p.column,
                p.encoding.clone(),
            )
        })
        .collect()
}

// A second key pair, context-free (credentials CSV), assembled so this file does not hold it.
const ID2: &str = concat!("AKIA", "PYCDYBK377OXTZQ6");
const SECRET2: &str = concat!("1MkPwX/ka7eV", "zTXR9pKO2jJckLPxfb7bsV0Hd9oI");

#[test]
fn key_pair_needs_both_halves_within_the_distance() {
    let engine = Engine::builtin().unwrap();
    let pairs = |text: &str| -> Vec<(u32, String)> {
        scan_text(&engine, text)
            .iter()
            .filter(|f| f.rule_id == "aws-access-key-pair")
            .map(|f| (f.primary().unwrap().line, f.sha256.clone()))
            .collect()
    };
    // A credentials CSV: no variable names, yet a pair at the key id's line.
    let csv = format!("Access key ID,Secret access key\n{ID2},{SECRET2}\n");
    assert_eq!(pairs(&csv), vec![(2, sha(SECRET2))]);
    // The id alone is still reported on its own (pairing only adds findings).
    let all = scan_text(&engine, &csv);
    assert!(all.iter().any(|f| f.rule_id == "aws-access-key-id"));
    // More than 1 KiB apart: no pair.
    let far = format!("{ID2}\n{}\n{SECRET2}\n", "# filler\n".repeat(120));
    assert_eq!(pairs(&far), vec![]);
    // Two profiles: each id pairs with its nearest secret.
    let two =
        format!("[a]\nid = {ID2}\nkey = {SECRET2}\n\n[b]\nid = {AWS_ID}\nkey = {AWS_SECRET}\n");
    assert_eq!(pairs(&two), vec![(2, sha(SECRET2)), (6, sha(AWS_SECRET))]);
    // A hex digest next to the id is not a secret key (entropy), and neither is the documented
    // example key (stop word).
    let decoy = format!(
        "{ID2}\ncommit e96bdbaf86aeaeb1fe3d689dc39e19b038b9714b\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    );
    assert_eq!(pairs(&decoy), vec![]);
}

#[test]
fn pair_rules_are_validated() {
    let rules = |requires: &str| {
        format!(
            r#"
[[rule]]
id = "anchor"
name = "anchor"
pattern = '''anchor_[a-z]{{4}}'''
keywords = ["anchor_"]

[[rule]]
id = "pair"
name = "pair"
pattern = '''partner_([a-z]{{4}})'''
requires = {requires}
"#
        )
    };
    let load = |text: &str| {
        Engine::new(RuleSet::from_toml_str(text, std::path::Path::new("t.toml")).unwrap())
    };
    let engine = load(&rules(r#"{ rule = "anchor", within_bytes = 16 }"#)).unwrap();
    let found = scan_text(&engine, "anchor_abcd partner_wxyz\npartner_qqqq\n");
    let pair: Vec<_> = found.iter().filter(|f| f.rule_id == "pair").collect();
    assert_eq!(pair.len(), 1);
    assert_eq!(pair[0].sha256, sha("wxyz"));
    // Without an anchor the pair rule never runs, though its pattern matches.
    assert!(scan_text(&engine, "partner_wxyz\n").is_empty());
    assert!(load(&rules(r#"{ rule = "missing", within_bytes = 16 }"#)).is_err());
    assert!(load(&rules(r#"{ rule = "pair", within_bytes = 16 }"#)).is_err());
    assert!(load(&rules(r#"{ rule = "anchor", within_bytes = 0 }"#)).is_err());
}

/// A repository whose secrets are base64-encoded (a Kubernetes secret, an env file), with decoys:
/// a block that decodes to documentation placeholders and one that decodes to binary.
fn build_base64_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    git(r, &["init", "-q", "-b", "main"], ALICE, T0);
    let mut binary: Vec<u8> = (0u8..48).map(|i| i.wrapping_mul(37) ^ 0x80).collect();
    binary.extend_from_slice(SLACK_BOT.as_bytes());
    let yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ndata:\n  config: {}\n  notes: {}\n  blob: {}\n# rotated on 2024-01-01, old value: {GH_TOKEN}\n",
        b64(format!("GITHUB_TOKEN={GH_TOKEN}\n").as_bytes()),
        b64(b"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\npassword = \"changeme\"\n"),
        b64(&binary),
    );
    std::fs::create_dir_all(r.join("k8s")).unwrap();
    std::fs::write(r.join("k8s/secret.yaml"), yaml).unwrap();
    std::fs::write(
        r.join(".env"),
        format!(
            "APP_SECRET={}\n",
            b64(format!("slack={SLACK_BOT}").as_bytes())
        ),
    )
    .unwrap();
    git(r, &["add", "-A"], ALICE, T0);
    git(r, &["commit", "-q", "-m", "encoded"], ALICE, T0);
    dir
}

fn scan_repo(engine: &Engine, dir: &std::path::Path) -> Vec<Finding> {
    let mut out = Vec::new();
    engine
        .scan_git(
            dir,
            &GitScanOptions::default(),
            &ScanControl::new(),
            &mut |f| out.push(f),
        )
        .unwrap();
    out
}

#[test]
fn base64_blocks_are_decoded_one_level_deep() {
    let repo = build_base64_repo();
    let engine = Engine::builtin().unwrap();
    assert!(engine.decodes_base64());
    let found = scan_repo(&engine, repo.path());
    let s = |x: &str| x.to_string();
    let b = Some(s("base64"));
    assert_eq!(
        shape(&found),
        vec![
            // Plain matches of the encoded values themselves (`generic-env-secret` here,
            // `kubernetes-secret-data` below) are dropped: the decoded findings explain them
            // (no double report). The placeholder and binary decoys report nothing.
            (s("slack-bot-token"), s(".env"), 1, 12, b.clone()),
            // The token appears encoded (line 6) and in plain text (line 9): one finding, two
            // locations.
            (
                s("github-pat-classic"),
                s("k8s/secret.yaml"),
                6,
                "  config: ".len() as u32 + 1,
                b
            ),
        ]
    );
    assert_eq!(found[0].sha256, sha(SLACK_BOT));
    assert_eq!(found[1].sha256, sha(GH_TOKEN));
    let lines: Vec<_> = found[1]
        .locations
        .iter()
        .map(|l| (l.line, l.encoding.clone()))
        .collect();
    assert_eq!(lines, vec![(6, Some(s("base64"))), (9, None)]);
    // The encoding is visible in JSON.
    let json = serde_json::to_value(&found[0]).unwrap();
    assert_eq!(json["locations"][0]["encoding"], "base64");

    // Decoding off: only the plain-text findings remain: the encoded values as such (generic
    // env secret, Kubernetes secret data) and the plain token.
    let mut plain = Engine::builtin().unwrap();
    plain.set_decode_base64(false);
    let found = scan_repo(&plain, repo.path());
    assert_eq!(
        shape(&found),
        vec![
            (s("generic-env-secret"), s(".env"), 1, 12, None),
            (
                s("kubernetes-secret-data"),
                s("k8s/secret.yaml"),
                6,
                11,
                None
            ),
            (s("github-pat-classic"), s("k8s/secret.yaml"), 9, 37, None),
        ]
    );
}
