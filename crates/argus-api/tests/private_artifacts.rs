//! The private prefix of artifacts (`private/…`, where a scan's sealed repository copy lives) is
//! never listed or served: not even when the store holds a record for such a name, and the
//! answer is the same 404 as for a missing artifact. Public artifacts of the same scan are served as before.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use argus_core::artifact::{ArtifactKey, ArtifactMeta, ArtifactName};
use argus_core::ids::{OrgId, ScanId};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_private_prefix_is_never_served() {
    let s = common::start().await;
    let scan = s
        .create_scan(
            json!({
                "scanners": [{ "name": "tool:emit" }],
                "targets": [{ "kind": "domain", "value": "example.com" }],
            }),
            true,
        )
        .await;
    let id = scan["id"].as_str().unwrap().to_owned();
    s.wait_state(&id, "completed", Duration::from_secs(60))
        .await;
    let scan_id: ScanId = id.parse().unwrap();

    // A private file in the artifact store, and (as a store might wrongly hold) a record of it.
    let file = s.dir.path().join("copy.sealed");
    std::fs::write(&file, b"sealed bytes").unwrap();
    let name = ArtifactName::private("secrets/0123/repo.bundle.sealed").unwrap();
    let key = ArtifactKey {
        scan_id,
        name: name.clone(),
    };
    s.engine.artifacts().put_file(&key, &file).await.unwrap();
    s.store
        .put_artifact(ArtifactMeta {
            scan_id,
            org_id: OrgId::parse("acme").unwrap(),
            name: name.clone(),
            size: 12,
            content_type: "application/octet-stream".into(),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();

    let (status, body) = s
        .get(&format!("/api/v1/scans/{id}/artifacts/{}", name.as_str()))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["status"], 404);
    assert!(!body.to_string().contains("sealed bytes"));
    let (missing, _) = s
        .get(&format!(
            "/api/v1/scans/{id}/artifacts/private/nothing-here"
        ))
        .await;
    assert_eq!(missing, 404);

    // Not listed either, and the scan's public artifact is (positive control).
    let (_, arts) = s.get(&format!("/api/v1/scans/{id}/artifacts")).await;
    assert!(!arts.to_string().contains("private/"), "{arts}");
    let public = arts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .find(|n| !n.starts_with("private/"))
        .expect("a public artifact");
    let res = s
        .http
        .get(s.url(&format!("/api/v1/scans/{id}/artifacts/{public}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
