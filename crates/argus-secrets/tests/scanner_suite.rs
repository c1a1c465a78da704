//! The `Scanner` conformance suite (`argus_core::testkit::scanner_suite`) for `secrets`, built
//! by its factory from the catalog (as the binary builds it), on a real temporary git
//! repository with a secret in its history. The cancel check clones through a stand-in `git`
//! that hangs, so the scanner's process door must kill it within the second.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use argus_core::component::{Doors, ScannerCatalog};
use argus_core::remediation::{push_input_name, CLEAN_SCANNER, PUSH_SCANNER};
use argus_core::scanner::Scanner;
use argus_core::target::{Target, TargetKind};
use argus_core::testkit::scanner_suite::{Run, ScannerFixture, ScannerHarness};
use argus_secrets::remediate::{GitCleanScanner, GitPushScanner};
use argus_secrets::scanner::SecretsScanner;
use common::{git, ALICE, AWS_ID, AWS_SECRET, T0};
use serde_json::json;

struct Secrets;

#[async_trait::async_trait]
impl ScannerHarness for Secrets {
    async fn fixtures(&self) -> Vec<ScannerFixture> {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("config")).unwrap();
        git(&repo, &["init", "-q", "-b", "main"], ALICE, T0);
        std::fs::write(
            repo.join("config/app.env"),
            format!("AWS_ACCESS_KEY_ID={AWS_ID}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n"),
        )
        .unwrap();
        git(&repo, &["add", "-A"], ALICE, T0);
        git(&repo, &["commit", "-q", "-m", "config"], ALICE, T0);

        // Built from the catalog with an empty table, as `argus serve` builds it.
        let mut catalog = ScannerCatalog::scanners();
        argus_secrets::catalog::register(&mut catalog);
        let doors = Doors::new(argus_scanners::process::door());
        let reg = catalog.registry(&BTreeMap::new(), &doors).unwrap();
        let scanner: Arc<dyn Scanner> = reg.get("secrets").unwrap().clone();

        let hang = dir.path().join("git-hangs.sh");
        std::fs::write(&hang, "#!/bin/sh\nexec sleep 300\n").unwrap();
        std::fs::set_permissions(&hang, std::fs::Permissions::from_mode(0o755)).unwrap();
        let slow: Arc<dyn Scanner> = Arc::new(SecretsScanner::new().with_git(&hang));

        let local = Target::parse(TargetKind::Repo, &repo.display().to_string()).unwrap();
        let folder = Target::parse(
            TargetKind::Location,
            url::Url::from_directory_path(&repo).unwrap().as_str(),
        )
        .unwrap();
        let remote =
            Target::parse(TargetKind::Repo, "https://git.example.invalid/app.git").unwrap();

        // The remediation scanners: `git-clean` on the repository in place (no task input),
        // `git-push` of a bundle of it (its task input) into an empty bare repository.
        let found = {
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
            found
        };
        assert!(!found.is_empty());
        let clean_params = json!({
            "selected": [{"sha256": found[0].0, "rule_id": found[0].1}],
            "replacement": "***REMOVED***"
        });
        let slow_secrets = Arc::new(SecretsScanner::new().with_git(&hang));
        let clean = ScannerFixture::new(
            reg.get(CLEAN_SCANNER).unwrap().clone(),
            vec![local.clone()],
            Run {
                scanner: reg.get(CLEAN_SCANNER).unwrap().clone(),
                target: local.clone(),
                params: clean_params.clone(),
            },
            Run {
                scanner: Arc::new(GitCleanScanner::new(slow_secrets.clone())),
                target: remote.clone(),
                params: clean_params,
            },
            vec![
                (
                    json!({"selected": "x", "replacement": "r"}),
                    "/selected".into(),
                ),
                (
                    json!({"selected": [{"sha256": "nothex", "rule_id": "r"}], "replacement": "r"}),
                    "/selected/0/sha256".into(),
                ),
            ],
            (),
        )
        .emitting_artifacts();

        let bundle = dir.path().join("repo.bundle");
        git(
            &repo,
            &["bundle", "create", "-q", bundle.to_str().unwrap(), "--all"],
            ALICE,
            T0,
        );
        let target_repo = dir.path().join("pushed.git");
        git(
            dir.path(),
            &["init", "-q", "--bare", target_repo.to_str().unwrap()],
            ALICE,
            T0,
        );
        let pushed = Target::parse(TargetKind::Repo, &target_repo.display().to_string()).unwrap();
        let push_params = json!({"user_id": "suite-user"});
        let push = ScannerFixture::new(
            reg.get(PUSH_SCANNER).unwrap().clone(),
            vec![pushed.clone()],
            Run {
                scanner: reg.get(PUSH_SCANNER).unwrap().clone(),
                target: pushed.clone(),
                params: push_params.clone(),
            },
            Run {
                scanner: Arc::new(GitPushScanner::new(slow_secrets, None)),
                target: pushed,
                params: push_params,
            },
            vec![
                (json!({"user_id": 5}), "/user_id".into()),
                (json!({"user_id": "u", "refs": "main"}), "/refs".into()),
            ],
            // The last fixture keeps the folder every fixture here uses (the suite drops each
            // fixture after checking it).
            dir,
        )
        .emitting_artifacts()
        .with_input(push_input_name().unwrap(), std::fs::read(&bundle).unwrap());

        vec![
            ScannerFixture::new(
                scanner.clone(),
                vec![local.clone(), folder],
                Run {
                    scanner,
                    target: local,
                    params: json!({}),
                },
                Run {
                    scanner: slow,
                    target: remote,
                    params: json!({"bundle": false}),
                },
                vec![
                    (json!({"max_blob_bytes": 0}), "/max_blob_bytes".into()),
                    (json!({"credential": "nope"}), "/credential".into()),
                    (json!({"all_refs": "yes"}), "/all_refs".into()),
                ],
                (),
            ),
            clean,
            push,
        ]
    }
}

argus_core::scanner_suite_tests!(Secrets);

/// Every scanner this crate's catalog builds is covered by the harness above.
#[test]
fn every_catalog_scanner_has_a_harness() {
    let mut catalog = ScannerCatalog::scanners();
    argus_secrets::catalog::register(&mut catalog);
    let reg = catalog
        .registry(
            &BTreeMap::new(),
            &Doors::new(argus_scanners::process::door()),
        )
        .unwrap();
    assert_eq!(
        reg.names().collect::<Vec<_>>(),
        vec![CLEAN_SCANNER, PUSH_SCANNER, "secrets"]
    );
}
