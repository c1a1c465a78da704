//! End-to-end tests of the git history scan on a generated repository (see `common::build`):
//! exact findings, paths, lines and commit attribution for secrets added then deleted, only on a
//! side branch, only in a tag, in a renamed file, inside a binary file, split across lines
//! (a PEM key), merged from a branch, plus decoys that must not be reported.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use argus_secrets::{
    Engine, Finding, GitScanOptions, RefSelection, ScanControl, ScanSummary, SecretsError,
};
use common::*;
use sha2::{Digest, Sha256};

fn scan(fx: &Fixture, opts: &GitScanOptions) -> (Vec<Finding>, ScanSummary) {
    let engine = Engine::builtin().unwrap();
    let mut out = Vec::new();
    let summary = engine
        .scan_git(fx.path(), opts, &ScanControl::new(), &mut |f| out.push(f))
        .unwrap();
    (out, summary)
}

/// (rule, path, line, commits of all locations in order)
fn shape(findings: &[Finding]) -> Vec<(String, String, u32, Vec<String>)> {
    findings
        .iter()
        .map(|f| {
            let p = f.primary().unwrap();
            (
                f.rule_id.clone(),
                p.path.clone(),
                p.line,
                f.locations
                    .iter()
                    .map(|l| l.commit.clone().unwrap_or_default())
                    .collect(),
            )
        })
        .collect()
}

fn sha(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

#[test]
fn full_history_exact_findings_and_attribution() {
    let fx = build();
    let (findings, summary) = scan(&fx, &GitScanOptions::default());
    let s = |x: &str| x.to_string();
    let expected = vec![
        (
            s("aws-access-key-id"),
            s("config/app.env"),
            2,
            vec![fx.id("c1")],
        ),
        (
            s("aws-access-key-pair"),
            s("config/app.env"),
            2,
            vec![fx.id("c1")],
        ),
        (
            s("aws-secret-access-key"),
            s("config/app.env"),
            3,
            vec![fx.id("c1")],
        ),
        (
            s("generic-env-secret"),
            s(".env"),
            1,
            vec![fx.id("c3"), fx.id("c6")],
        ),
        (
            s("github-pat-classic"),
            s("settings.py"),
            2,
            vec![fx.id("c3")],
        ),
        (
            s("github-pat-classic"),
            s("conf/settings.py"),
            2,
            vec![fx.id("c4")],
        ),
        (
            s("datadog-api-key"),
            s("ops/datadog.yaml"),
            1,
            vec![fx.id("h1")],
        ),
        (
            s("private-key-rsa"),
            s("deploy/key.pem"),
            1,
            vec![fx.id("f1")],
        ),
        (s("npm-access-token"), s(".npmrc"), 1, vec![fx.id("t1")]),
    ];
    assert_eq!(shape(&findings), expected);

    // Secret hashes and previews are of the exact values.
    let by_rule = |id: &str| findings.iter().find(|f| f.rule_id == id).unwrap();
    assert_eq!(by_rule("aws-access-key-id").sha256, sha(AWS_ID));
    assert_eq!(by_rule("aws-access-key-id").preview, "AKI…AM2");
    assert_eq!(by_rule("aws-secret-access-key").sha256, sha(AWS_SECRET));
    assert_eq!(by_rule("github-pat-classic").sha256, sha(GH_TOKEN));
    assert_eq!(by_rule("npm-access-token").sha256, sha(NPM_TOKEN));
    assert_eq!(by_rule("private-key-rsa").sha256, sha(rsa_key().trim_end()));
    assert_eq!(by_rule("datadog-api-key").sha256, sha(DATADOG));
    assert_eq!(by_rule("generic-env-secret").sha256, sha(SESSION_SECRET));

    // The key pair: one finding at the key id's location whose secret is the secret access key,
    // fingerprinted like every other finding (rule id, secret hash, path).
    let pair = by_rule("aws-access-key-pair");
    assert_eq!(pair.sha256, sha(AWS_SECRET));
    assert_eq!(pair.preview, "t8L…Q4o");
    assert_eq!(
        (pair.severity, pair.confidence),
        (
            argus_secrets::Severity::Critical,
            argus_secrets::Confidence::High
        )
    );
    let at = pair.primary().unwrap();
    assert_eq!(
        (at.line, at.column, at.end_line),
        (2, "AWS_ACCESS_KEY_ID=".len() as u32 + 1, 2)
    );
    assert_eq!(at.commit.as_deref(), Some(fx.id("c1").as_str()));
    assert_eq!(at.encoding, None);
    let mut h = Sha256::new();
    h.update(b"aws-access-key-pair\0");
    h.update(sha(AWS_SECRET).as_bytes());
    h.update(b"\0config/app.env");
    assert_eq!(pair.fingerprint, hex::encode(&h.finalize()[..16]));

    // The multi-line key spans lines 1..6; columns and author metadata are attributed.
    let key = by_rule("private-key-rsa").primary().unwrap().clone();
    assert_eq!((key.line, key.column, key.end_line), (1, 1, 6));
    assert_eq!(key.author.as_deref(), Some("Carol"));
    assert_eq!(key.email.as_deref(), Some("carol@example.com"));
    assert_eq!(key.date.as_deref(), Some("2024-01-09T00:00:00Z"));
    let aws = by_rule("aws-secret-access-key").primary().unwrap();
    assert_eq!(aws.column, "AWS_SECRET_ACCESS_KEY=".len() as u32 + 1);
    assert_eq!(aws.date.as_deref(), Some("2024-01-01T00:00:00Z"));
    assert_eq!(aws.author.as_deref(), Some("Alice"));

    // Renamed file: same secret, two paths, two fingerprints.
    let gh: Vec<_> = findings
        .iter()
        .filter(|f| f.rule_id == "github-pat-classic")
        .collect();
    assert_eq!(gh[0].sha256, gh[1].sha256);
    assert_ne!(gh[0].fingerprint, gh[1].fingerprint);

    // Summary: 10 commits (6 main, hotfix, merge, feature, tag-only), the binary blob skipped,
    // the inline-allowed Stripe key suppressed, and every finding counted once.
    assert_eq!(summary.commits_scanned, 10);
    assert_eq!(summary.blobs_skipped.get("binary"), Some(&1));
    assert_eq!(summary.suppressed.get("inline"), Some(&1));
    assert_eq!(summary.findings, 9);
    assert_eq!(summary.findings_by_rule.get("github-pat-classic"), Some(&2));
    assert!(summary.bytes_scanned > 0 && summary.blobs_scanned >= 10);
}

#[test]
fn binary_blobs_are_scanned_when_asked() {
    let fx = build();
    let mut opts = GitScanOptions::default();
    opts.policy.scan_binary = true;
    let (findings, summary) = scan(&fx, &opts);
    let slack: Vec<_> = findings
        .iter()
        .filter(|f| f.rule_id == "slack-bot-token")
        .collect();
    assert_eq!(slack.len(), 1);
    let loc = slack[0].primary().unwrap();
    assert_eq!(
        (loc.path.as_str(), loc.commit.clone()),
        ("assets/blob.bin", Some(fx.id("c5")))
    );
    assert_eq!(summary.blobs_skipped.get("binary"), None);
}

#[test]
fn branch_selection_limits_history() {
    let fx = build();
    let opts = GitScanOptions {
        refs: RefSelection::Refs(vec!["main".into()]),
        ..Default::default()
    };
    let (findings, summary) = scan(&fx, &opts);
    let rules: Vec<_> = findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert!(
        rules.contains(&"datadog-api-key"),
        "merged branch content is on main"
    );
    assert!(!rules.contains(&"private-key-rsa"), "side branch excluded");
    assert!(
        !rules.contains(&"npm-access-token"),
        "tag-only commit excluded"
    );
    assert_eq!(summary.commits_scanned, 8);
}

#[test]
fn since_commit_and_ranges_scan_only_new_commits() {
    let fx = build();
    let opts = GitScanOptions {
        refs: RefSelection::Refs(vec!["main".into()]),
        since_commit: Some(fx.id("c4")),
        ..Default::default()
    };
    let (findings, summary) = scan(&fx, &opts);
    let s = |x: &str| x.to_string();
    assert_eq!(
        shape(&findings),
        vec![
            (s("generic-env-secret"), s(".env"), 1, vec![fx.id("c6")]),
            (
                s("datadog-api-key"),
                s("ops/datadog.yaml"),
                1,
                vec![fx.id("h1")]
            ),
        ]
    );
    assert_eq!(summary.commits_scanned, 4); // c5, c6, h1, m1

    let range = GitScanOptions {
        commit_range: Some(format!("{}..{}", fx.id("c3"), fx.id("c4"))),
        ..Default::default()
    };
    let (findings, summary) = scan(&fx, &range);
    assert_eq!(
        shape(&findings),
        vec![(
            s("github-pat-classic"),
            s("conf/settings.py"),
            2,
            vec![fx.id("c4")]
        )]
    );
    assert_eq!(summary.commits_scanned, 1);

    // Ref names resolve too, and an unknown revision is an error.
    let by_name = GitScanOptions {
        commit_range: Some("feature..v0.0.1-leak".into()),
        ..Default::default()
    };
    let (findings, _) = scan(&fx, &by_name);
    assert_eq!(
        shape(&findings),
        vec![(s("npm-access-token"), s(".npmrc"), 1, vec![fx.id("t1")])]
    );
    let bad = GitScanOptions {
        since_commit: Some("no-such-ref".into()),
        ..Default::default()
    };
    let err =
        Engine::builtin()
            .unwrap()
            .scan_git(fx.path(), &bad, &ScanControl::new(), &mut |_| {});
    assert!(matches!(err, Err(SecretsError::Revision(_))));
}

#[test]
fn staged_scan_reports_only_the_index() {
    let fx = build();
    let (findings, summary) = scan(
        &fx,
        &GitScanOptions {
            staged: true,
            ..Default::default()
        },
    );
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.rule_id, "sendgrid-api-key");
    let loc = f.primary().unwrap();
    assert_eq!(
        (loc.path.as_str(), loc.line, loc.commit.as_deref()),
        ("staged.txt", 1, None)
    );
    assert_eq!(summary.blobs_scanned, 1);
}

#[test]
fn unreachable_blobs_only_on_request() {
    let fx = build();
    let (findings, _) = scan(&fx, &GitScanOptions::default());
    assert!(!findings.iter().any(|f| f.rule_id == "gitlab-pat"));
    let (findings, _) = scan(
        &fx,
        &GitScanOptions {
            include_unreachable: true,
            ..Default::default()
        },
    );
    let gl: Vec<_> = findings
        .iter()
        .filter(|f| f.rule_id == "gitlab-pat")
        .collect();
    assert_eq!(gl.len(), 1);
    let loc = gl[0].primary().unwrap();
    assert_eq!(loc.path, "");
    assert_eq!(loc.commit, None);
    assert_eq!(loc.blob.as_deref(), Some(fx.dangling_blob.as_str()));
    // The staged SendGrid blob is also in the object database without a commit.
    assert!(findings.iter().any(|f| f.rule_id == "sendgrid-api-key"));
}

#[test]
fn fingerprints_are_stable_across_runs() {
    let fx = build();
    let (a, _) = scan(&fx, &GitScanOptions::default());
    let (b, _) = scan(&fx, &GitScanOptions::default());
    let fa: Vec<_> = a.iter().map(|f| &f.fingerprint).collect();
    let fb: Vec<_> = b.iter().map(|f| &f.fingerprint).collect();
    assert_eq!(fa, fb);
    // Independent of commits: the same secret at the same path found by a range scan has the
    // same fingerprint as in the full scan.
    let range = GitScanOptions {
        commit_range: Some(format!("{}..{}", fx.id("c3"), fx.id("c4"))),
        ..Default::default()
    };
    let (r, _) = scan(&fx, &range);
    assert!(a.iter().any(|f| f.fingerprint == r[0].fingerprint));
}

#[test]
fn cancellation_stops_the_scan() {
    let fx = build();
    let ctl = ScanControl::new();
    ctl.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    let r = Engine::builtin().unwrap().scan_git(
        fx.path(),
        &GitScanOptions::default(),
        &ctl,
        &mut |_| {},
    );
    assert!(matches!(r, Err(SecretsError::Cancelled)));
}

#[test]
fn secrets_are_kept_only_on_request_and_never_printed_by_debug() {
    let fx = build();
    let (plain, _) = scan(&fx, &GitScanOptions::default());
    assert!(plain.iter().all(|f| f.secret.is_none()));
    let mut opts = GitScanOptions::default();
    opts.policy.keep_secret_values = true;
    let (kept, _) = scan(&fx, &opts);
    let aws = kept
        .iter()
        .find(|f| f.rule_id == "aws-access-key-id")
        .unwrap();
    assert_eq!(aws.secret.as_ref().unwrap().expose(), AWS_ID);
    let debug = format!("{aws:?}");
    assert!(!debug.contains(AWS_ID) && debug.contains("[REDACTED]"));
    let json = serde_json::to_string(&kept).unwrap();
    assert!(!json.contains(AWS_ID) && !json.contains(AWS_SECRET));
}

#[test]
fn packed_and_loose_repositories_give_identical_reports() {
    // The fixture is written loose by `git`; packing it moves every reachable object into a pack
    // (with deltas), which switches trees and blobs to the pack-order readers.
    let fx = build();
    let with_unreachable = GitScanOptions {
        include_unreachable: true,
        ..Default::default()
    };
    let (loose, loose_summary) = scan(&fx, &GitScanOptions::default());
    let (loose_all, _) = scan(&fx, &with_unreachable);
    git(
        fx.path(),
        &["repack", "-adf", "--depth=50", "--window=10", "-q"],
        ALICE,
        T0,
    );
    let packs: Vec<_> = std::fs::read_dir(fx.path().join(".git/objects/pack"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "pack"))
        .collect();
    assert_eq!(packs.len(), 1, "the fixture is packed");
    let (packed, packed_summary) = scan(&fx, &GitScanOptions::default());
    let (packed_all, _) = scan(&fx, &with_unreachable);
    let view = |f: &[Finding]| {
        f.iter()
            .map(|f| (f.fingerprint.clone(), f.locations.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(view(&packed), view(&loose));
    assert_eq!(view(&packed_all), view(&loose_all));
    assert_eq!(packed_summary.blobs_scanned, loose_summary.blobs_scanned);
    assert_eq!(packed_summary.bytes_scanned, loose_summary.bytes_scanned);
    assert_eq!(packed_summary.blobs_skipped, loose_summary.blobs_skipped);
    assert_eq!(
        packed_summary.findings_by_rule,
        loose_summary.findings_by_rule
    );
}
