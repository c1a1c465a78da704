//! Argus tried as a new user would: `argus serve` with the default (relative) data dir, started
//! from some working directory, then a `secrets` scan of a local repository (allowed with
//! `scan.local_roots` in the environment's array syntax). The scan finds the planted secret,
//! nothing is written inside the scanned repository, the data dir is the one under the working
//! directory, and the repository copy is kept there only sealed.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_defaults_scans_a_local_repository() {
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    let repo = root_path.join("project");
    std::fs::create_dir(&repo).unwrap();
    common::git(&repo, &["init", "-q", "-b", "main"]);
    // Assembled at run time so this source file does not itself contain the token.
    let token = format!("{}{}", "ghp_", "R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xx");
    std::fs::write(repo.join("deploy.sh"), format!("export GH={token}\n")).unwrap();
    common::git(&repo, &["add", "."]);
    common::git(&repo, &["commit", "-q", "-m", "add deploy script"]);
    let before = files_under(&repo);

    // The user's working directory: not the repository, and no --data-dir.
    let cwd = root_path.join("home");
    std::fs::create_dir(&cwd).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_argus"));
    cmd.current_dir(&cwd)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .env(
            "ARGUS_SCAN__LOCAL_ROOTS",
            format!("[\"{}\"]", repo.display()),
        )
        .env("ARGUS_SECRETS__REPO_COPY_KEY_ENV", "ARGUS_TEST_REPO_KEY")
        .env("ARGUS_TEST_REPO_KEY", "7f".repeat(32))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let server = common::listen(cmd);
    let http = reqwest::Client::new();
    let body = json!({
        "config": {
            "scanners": [{"name": "secrets"}],
            "targets": [{"kind": "repo", "value": repo.to_string_lossy()}]
        },
        "start": true
    });
    let id = common::create_scan(&http, &server.base, &body).await;
    let done = common::wait_for(Duration::from_secs(120), "the scan to end", || {
        let (http, base, id) = (http.clone(), server.base.clone(), id.clone());
        async move {
            common::status(&http, &base, &id)
                .await
                .filter(|s| matches!(s["state"].as_str(), Some("completed" | "failed")))
        }
    })
    .await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["progress"]["failed"], 0, "{done}");
    let findings: Value = http
        .get(format!("{}/scans/{id}/findings", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rules: Vec<&str> = findings["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["data"]["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["github-pat-classic"], "{findings}");

    // Nothing was written inside the scanned repository; the data dir is under the cwd.
    assert_eq!(
        files_under(&repo),
        before,
        "the scan wrote into the repository"
    );
    let data = cwd.join("argus-data");
    assert!(
        data.join("argus.db").is_file(),
        "no database in {}",
        data.display()
    );
    // The repository copy is there, sealed: no plaintext bundle, no token anywhere but the db.
    let kept = files_under(&data);
    assert!(
        kept.iter()
            .any(|p| p.to_string_lossy().ends_with("repo.bundle.sealed")),
        "{kept:?}"
    );
    for p in &kept {
        assert!(
            !p.to_string_lossy().ends_with("/repo.bundle"),
            "{}",
            p.display()
        );
        if p.extension().is_some_and(|e| e == "sealed") {
            let bytes = std::fs::read(p).unwrap();
            assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()));
        }
    }
}
