//! Triage end to end (issue #13) with the real `argus serve` and the real `secrets` scanner on a
//! real git repository made here: a completed scan with secrets awaits a selection; a finding
//! marked false positive through `POST /scans/{id}/findings/select` is one again in a rescan of
//! the same repository (same fingerprint), while the other finding starts open; selecting a
//! finding ends `awaiting_selection`.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

/// Runs a `secrets` scan of `repo` to completion; returns its id.
async fn scan(http: &reqwest::Client, base: &str, repo: &Path) -> String {
    let body = json!({
        "config": {
            "scanners": [{"name": "secrets"}],
            "targets": [{"kind": "repo", "value": repo.to_string_lossy()}]
        },
        "start": true
    });
    let id = common::create_scan(http, base, &body).await;
    let done = common::wait_for(Duration::from_secs(120), "the scan to end", || {
        let (http, base, id) = (http.clone(), base.to_owned(), id.clone());
        async move {
            common::status(&http, &base, &id)
                .await
                .filter(|s| matches!(s["state"].as_str(), Some("completed" | "failed")))
        }
    })
    .await;
    assert_eq!(done["state"], "completed", "{done}");
    id
}

async fn get(http: &reqwest::Client, url: String) -> Value {
    let r = http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// A scan's findings by the file they were found in.
async fn findings_by_path(http: &reqwest::Client, base: &str, id: &str) -> BTreeMap<String, Value> {
    let page = get(http, format!("{base}/scans/{id}/findings")).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["location"]["path"].as_str().unwrap().to_owned(),
                f.clone(),
            )
        })
        .collect()
}

/// `awaiting_selection` on both the scan and its status (they must agree).
async fn awaiting(http: &reqwest::Client, base: &str, id: &str) -> bool {
    let scan = get(http, format!("{base}/scans/{id}")).await;
    let status = get(http, format!("{base}/scans/{id}/status")).await;
    assert_eq!(
        scan["awaiting_selection"], status["awaiting_selection"],
        "{scan} {status}"
    );
    scan["awaiting_selection"].as_bool().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_false_positive_stays_one_on_a_rescan_of_the_repository() {
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    let repo = root_path.join("project");
    std::fs::create_dir(&repo).unwrap();
    common::git(&repo, &["init", "-q", "-b", "main"]);
    // Assembled at run time so this source file does not itself contain the tokens.
    let real = format!("{}{}", "ghp_", "R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xx");
    let test_only = format!("{}{}", "glpat-", "Xy7Zq2Wv9Ut4Sr1Po6Nm");
    std::fs::write(repo.join("deploy.sh"), format!("export GH={real}\n")).unwrap();
    std::fs::write(repo.join("fixture.sh"), format!("export GL={test_only}\n")).unwrap();
    common::git(&repo, &["add", "."]);
    common::git(&repo, &["commit", "-q", "-m", "add scripts"]);

    let data = root_path.join("data");
    let roots = format!("[\"{}\"]", repo.display());
    let key = "7f".repeat(32);
    let server = common::serve(
        &data,
        2,
        &[
            ("ARGUS_SCAN__LOCAL_ROOTS", roots.as_str()),
            ("ARGUS_SECRETS__REPO_COPY_KEY_ENV", "ARGUS_TEST_REPO_KEY"),
            ("ARGUS_TEST_REPO_KEY", key.as_str()),
        ],
    );
    let (http, base) = (reqwest::Client::new(), server.base.as_str());

    let first = scan(&http, base, &repo).await;
    let f = findings_by_path(&http, base, &first).await;
    assert_eq!(
        f.keys().map(String::as_str).collect::<Vec<_>>(),
        ["deploy.sh", "fixture.sh"],
        "{f:?}"
    );
    for x in f.values() {
        assert_eq!(x["triage"], "open");
        assert!(x["previous_triage"].is_null(), "{x}");
        assert!(x["secret"]["sha256"].is_string(), "a secret finding: {x}");
    }
    assert!(
        awaiting(&http, base, &first).await,
        "secrets found, none selected"
    );

    // The test token is a false positive; that alone is no selection.
    let r = http
        .post(format!("{base}/scans/{first}/findings/select"))
        .json(&json!({"false_positives": [f["fixture.sh"]["id"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let counts: Value = r.json().await.unwrap();
    assert_eq!(
        counts,
        json!({"open": 1, "selected": 0, "false_positive": 1, "accepted": 0, "fixed": 0})
    );
    assert!(awaiting(&http, base, &first).await, "one secret still open");

    // The rescan: same repository, same fingerprints.
    let second = scan(&http, base, &repo).await;
    assert_ne!(first, second);
    let g = findings_by_path(&http, base, &second).await;
    assert_eq!(g.len(), 2, "{g:?}");
    for path in ["deploy.sh", "fixture.sh"] {
        assert_eq!(g[path]["fingerprint"], f[path]["fingerprint"], "{path}");
    }
    assert_eq!(
        (
            g["fixture.sh"]["triage"].as_str(),
            g["fixture.sh"]["previous_triage"].as_str()
        ),
        (Some("false_positive"), Some("false_positive")),
        "{}",
        g["fixture.sh"]
    );
    assert_eq!(g["deploy.sh"]["triage"], "open");
    assert!(g["deploy.sh"]["previous_triage"].is_null());
    assert!(awaiting(&http, base, &second).await);

    // Selecting the real secret: the scan no longer awaits a selection (read through the
    // cached scan too: the selection invalidates it).
    let r = http
        .post(format!("{base}/scans/{second}/findings/select"))
        .json(&json!({"select": [g["deploy.sh"]["id"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!awaiting(&http, base, &second).await);
    assert!(
        awaiting(&http, base, &first).await,
        "the first scan is its own"
    );
}
