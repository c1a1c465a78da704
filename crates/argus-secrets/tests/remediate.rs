//! The remediation scanners' own paths, run as the worker runs them (`scanner_suite::run_with`,
//! real git, real repositories): `git-clean` cloning the repository again when no copy was kept
//! (a `file://` URL), opening a sealed copy only with the key it was sealed with, failing clearly
//! when a selected secret no longer occurs; `git-push` without its input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use argus_core::remediation::{push_input_name, repo_copy_name, CLEAN_SCANNER};
use argus_core::scanner::{ScanError, Scanner};
use argus_core::target::{Target, TargetKind};
use argus_core::testkit::scanner_suite::{run_with, Run};
use argus_secrets::remediate::{GitCleanScanner, GitPushScanner};
use argus_secrets::scanner::SecretsScanner;
use argus_secrets::sealed::{seal_file, RepoCopyKey};
use common::{git, ALICE, GH_TOKEN, T0};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// A repository with a GitHub token in its history (added, then removed), and the token's
/// SHA-256 and rule as the secrets scan reports them.
fn repo(dir: &std::path::Path) -> (std::path::PathBuf, String, String) {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"], ALICE, T0);
    std::fs::write(repo.join("deploy.sh"), format!("export GH={GH_TOKEN}\n")).unwrap();
    git(&repo, &["add", "-A"], ALICE, T0);
    git(&repo, &["commit", "-q", "-m", "deploy"], ALICE, T0);
    std::fs::write(repo.join("deploy.sh"), "export GH=$GH_TOKEN\n").unwrap();
    git(&repo, &["commit", "-q", "-am", "env"], ALICE, T0 + 60);
    let engine = argus_secrets::Engine::builtin().unwrap();
    let mut found = Vec::new();
    engine
        .scan_git(
            &repo,
            &argus_secrets::GitScanOptions::default(),
            &argus_secrets::ScanControl::new(),
            &mut |f| found.push((f.sha256.clone(), f.rule_id.clone())),
        )
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let (sha, rule) = found.remove(0);
    (repo, sha, rule)
}

fn clean_params(sha: &str, rule: &str) -> serde_json::Value {
    json!({"selected": [{"sha256": sha, "rule_id": rule}], "replacement": "***REMOVED***"})
}

fn failed(r: Result<(), ScanError>) -> String {
    match r {
        Err(ScanError::Failed(m)) => m,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_copy_the_clean_clones_the_repository_again() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, sha, rule) = repo(dir.path());
    let url = url::Url::from_directory_path(&repo).unwrap().to_string();
    let scanner: Arc<dyn Scanner> = Arc::new(GitCleanScanner::new(Arc::new(SecretsScanner::new())));
    assert_eq!(scanner.info().name, CLEAN_SCANNER);
    let out = run_with(
        &Run {
            scanner,
            target: Target::parse(TargetKind::Repo, &url).unwrap(),
            params: clean_params(&sha, &rule),
        },
        CancellationToken::new(),
        &[],
    )
    .await;
    assert!(out.result.is_ok(), "{:?}", out.result);
    let mut names = out.artifacts.clone();
    names.sort();
    assert_eq!(
        names,
        [
            "cleaned/commit-map.txt",
            "cleaned/repo.bundle",
            "cleaned/repo.tar.gz",
            "cleaned/repo.zip",
            "cleaned/report.json",
        ]
    );
    assert!(out.findings.is_empty(), "a clean reports no findings");
    // The source was only read.
    let log = git(&repo, &["log", "-p", "--all"], ALICE, T0);
    assert!(log.contains(GH_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_copy_opens_only_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, sha, rule) = repo(dir.path());
    let bundle = dir.path().join("repo.bundle");
    git(
        &repo,
        &["bundle", "create", "-q", bundle.to_str().unwrap(), "--all"],
        ALICE,
        T0,
    );
    let key_a = RepoCopyKey::parse(&"1a".repeat(32)).unwrap();
    let sealed = dir.path().join("repo.bundle.sealed");
    seal_file(&key_a, &bundle, &sealed).unwrap();
    let sealed = std::fs::read(&sealed).unwrap();
    // The target names a repository that is gone: only the sealed copy can serve.
    let target = Target::parse(TargetKind::Repo, "https://git.example.invalid/app.git").unwrap();
    let inputs = [(repo_copy_name(&target).unwrap(), sealed)];
    let with_key = |hex: &str| -> Arc<dyn Scanner> {
        Arc::new(GitCleanScanner::new(Arc::new(
            SecretsScanner::new().with_repo_copy_key(RepoCopyKey::parse(&hex.repeat(32)).unwrap()),
        )))
    };
    let run = |scanner| Run {
        scanner,
        target: target.clone(),
        params: clean_params(&sha, &rule),
    };

    let out = run_with(&run(with_key("1a")), CancellationToken::new(), &inputs).await;
    assert!(out.result.is_ok(), "{:?}", out.result);
    assert!(out.artifacts.contains(&"cleaned/repo.bundle".to_owned()));

    let why = failed(
        run_with(&run(with_key("2b")), CancellationToken::new(), &inputs)
            .await
            .result,
    );
    assert!(why.contains("repository copy key"), "{why}");
    let no_key: Arc<dyn Scanner> = Arc::new(GitCleanScanner::new(Arc::new(SecretsScanner::new())));
    let why = failed(
        run_with(&run(no_key), CancellationToken::new(), &inputs)
            .await
            .result,
    );
    assert!(why.contains("no repository copy key"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selected_secret_that_no_longer_occurs_fails_the_clean() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, _, rule) = repo(dir.path());
    let scanner: Arc<dyn Scanner> = Arc::new(GitCleanScanner::new(Arc::new(SecretsScanner::new())));
    let out = run_with(
        &Run {
            scanner,
            target: Target::parse(TargetKind::Repo, &repo.display().to_string()).unwrap(),
            params: clean_params(&"0".repeat(64), &rule),
        },
        CancellationToken::new(),
        &[],
    )
    .await;
    let why = failed(out.result);
    assert!(
        why.contains("1 of the 1 selected secret(s) no longer occur"),
        "{why}"
    );
    assert!(out.artifacts.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_without_its_input_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("target.git");
    git(
        dir.path(),
        &["init", "-q", "--bare", bare.to_str().unwrap()],
        ALICE,
        T0,
    );
    let scanner: Arc<dyn Scanner> =
        Arc::new(GitPushScanner::new(Arc::new(SecretsScanner::new()), None));
    let target = Target::parse(TargetKind::Repo, &bare.display().to_string()).unwrap();
    let out = run_with(
        &Run {
            scanner: scanner.clone(),
            target: target.clone(),
            params: json!({"user_id": "u"}),
        },
        CancellationToken::new(),
        &[],
    )
    .await;
    assert!(failed(out.result).contains("no cleaned repository"));
    // A credentials-service id without a configured service is refused before anything runs.
    let e = scanner
        .check_target(&target, &json!({"user_id": "u", "credentials_id": "c"}))
        .unwrap_err();
    assert!(e.to_string().contains("credentials_service_url"), "{e}");
    assert!(push_input_name().unwrap().is_private());
}
