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
use argus_core::scanner::Scanner;
use argus_core::target::{Target, TargetKind};
use argus_core::testkit::scanner_suite::{Run, ScannerFixture, ScannerHarness};
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
        vec![ScannerFixture::new(
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
            dir,
        )]
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
    assert_eq!(reg.names().collect::<Vec<_>>(), vec!["secrets"]);
}
