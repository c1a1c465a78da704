//! `/api/v1/connectors` over real HTTP against a server on 127.0.0.1:0 with the embedded
//! backends and real workers: registration validated as the scan it would start (422 naming
//! the field), names unique per org (409), paging, tenancy (another org's connector is 404 for
//! every operation) and a full scan that runs and then shows as the connector's last full scan.
//!
//! The scanner is `noop`, which accepts every target kind (the file scanners live in
//! `argus-malware`, a crate the API does not depend on); a `file://` location inside the test
//! server's `scan.local_roots` (the system temp folder) is one it may scan.

// Test helpers outside `#[test]` functions fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use argus_api::AuthConfig;
use common::{start, start_with, Options, Server};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(30);

/// A `file://` location of a fresh folder inside the server's temp dir (so inside its
/// `scan.local_roots`).
fn share(s: &Server, name: &str) -> String {
    let dir = s.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    format!("file://{}/", dir.display())
}

fn body(name: &str, location: &str) -> Value {
    json!({
        "name": name,
        "location": {"kind": "location", "value": location},
        "scanners": [{"name": "noop"}],
    })
}

fn problem_path(p: &Value) -> &str {
    p["path"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_crud_conflicts_and_paging() {
    let s = start().await;
    let loc = share(&s, "share");

    let (status, a) = s.post("/api/v1/connectors", body("alpha", &loc)).await;
    assert_eq!(status, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_owned();
    assert_eq!(a["name"], "alpha");
    assert_eq!(a["location"], json!({"kind": "location", "value": loc}));
    assert_eq!(a["credential"], Value::Null);
    assert_eq!(a["scanners"], json!([{"name": "noop", "params": {}}]));
    assert_eq!(
        a["action"],
        json!({"action": "none", "quarantine_prefix": "quarantine/", "act_on_suspicious": false})
    );
    assert_eq!(a["last_full_scan"], Value::Null);

    let (status, got) = s.get(&format!("/api/v1/connectors/{id}")).await;
    assert_eq!((status, &got), (200, &a));

    // Names are unique per org, on create and on rename.
    let (status, p) = s.post("/api/v1/connectors", body("alpha", &loc)).await;
    assert_eq!((status, p["code"].as_str()), (409, Some("conflict")), "{p}");
    let (status, b) = s.post("/api/v1/connectors", body("beta", &loc)).await;
    assert_eq!(status, 201, "{b}");
    let b_id = b["id"].as_str().unwrap();
    let (status, p) = s
        .put(&format!("/api/v1/connectors/{b_id}"), body("alpha", &loc))
        .await;
    assert_eq!(status, 409, "{p}");

    // Update replaces the fields and keeps created_at.
    let mut changed = body("gamma", &loc);
    changed["scanners"] = json!([{"name": "noop", "params": {"findings": 2}}]);
    let (status, u) = s.put(&format!("/api/v1/connectors/{id}"), changed).await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(
        (&u["name"], &u["scanners"][0]["params"], &u["created_at"]),
        (&json!("gamma"), &json!({"findings": 2}), &a["created_at"])
    );

    // Paging by name, with a cursor; a foreign cursor is a 422 at /cursor.
    let (status, page) = s.get("/api/v1/connectors?limit=1").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["name"], "beta");
    let cursor = page["next_cursor"].as_str().unwrap();
    let (status, page) = s
        .get(&format!("/api/v1/connectors?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["name"], "gamma");
    assert_eq!(page["next_cursor"], Value::Null);
    for bad in [
        "/api/v1/connectors?cursor=%25%25",
        "/api/v1/connectors?limit=0",
    ] {
        let (status, p) = s.get(bad).await;
        assert_eq!(status, 422, "{bad}: {p}");
    }

    // Delete: 204, then 404 everywhere.
    let (status, _) = s.delete(&format!("/api/v1/connectors/{id}")).await;
    assert_eq!(status, 204);
    for (status, p) in [
        s.get(&format!("/api/v1/connectors/{id}")).await,
        s.delete(&format!("/api/v1/connectors/{id}")).await,
        s.put(&format!("/api/v1/connectors/{id}"), body("x", &loc))
            .await,
        s.post(&format!("/api/v1/connectors/{id}/full-scan"), json!({}))
            .await,
    ] {
        assert_eq!(
            (status, p["code"].as_str()),
            (404, Some("not_found")),
            "{p}"
        );
    }
    // A path id that is not a UUID is a 404 too.
    let (status, _) = s.get("/api/v1/connectors/not-a-uuid").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_validated_as_the_scan_it_would_start() {
    let s = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let loc = share(&s, "share");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = body("c", &loc);
        f(&mut b);
        b
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "not a location",
            with(&|b| b["location"] = json!({"kind": "domain", "value": "example.com"})),
            "/location",
        ),
        (
            // Outside the server's scan.local_roots.
            "file location the server may not read",
            with(&|b| b["location"] = json!({"kind": "location", "value": "file:///etc/"})),
            "/location",
        ),
        (
            "unknown scanner",
            with(&|b| b["scanners"] = json!([{"name": "no-such-scanner"}])),
            "/scanners/0/name",
        ),
        (
            "params against the scanner's schema",
            with(&|b| b["scanners"] = json!([{"name": "noop", "params": {"fanout": "many"}}])),
            "/scanners/0/params/fanout",
        ),
        (
            "no scanner",
            with(&|b| b["scanners"] = json!([])),
            "/scanners",
        ),
        (
            "credential inside a scanner's params",
            with(&|b| b["scanners"] = json!([{"name": "noop", "params": {"credential": "aws"}}])),
            "/scanners/0/params/credential",
        ),
        (
            "a secret where a credential name goes",
            with(&|b| b["credential"] = json!("AKIA1234/abcd+secret")),
            "/credential",
        ),
        ("blank name", with(&|b| b["name"] = json!("   ")), "/name"),
    ];
    for (what, req, path) in cases {
        let (status, p) = s.post("/api/v1/connectors", req).await;
        assert_eq!(status, 422, "{what}: {p}");
        assert_eq!(problem_path(&p), path, "{what}: {p}");
    }
    // An action policy the scanner cannot carry out (noop takes no `action` param) is refused
    // at registration rather than at full-scan time.
    let (status, p) = s
        .post(
            "/api/v1/connectors",
            with(&|b| b["action"] = json!({"action": "delete"})),
        )
        .await;
    assert_eq!(status, 422, "{p}");
    // Same for a credential.
    let (status, p) = s
        .post(
            "/api/v1/connectors",
            with(&|b| b["credential"] = json!("aws-prod")),
        )
        .await;
    assert_eq!(status, 422, "{p}");
    // Unknown fields, wrong types and broken JSON.
    let (status, _) = s
        .post("/api/v1/connectors", with(&|b| b["colour"] = json!("red")))
        .await;
    assert_eq!(status, 422);
    let res = s
        .http
        .post(s.url("/api/v1/connectors"))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    let (status, _) = common::read(res).await;
    assert_eq!(status, 400);
    // Nothing was stored.
    let (_, page) = s.get("/api/v1/connectors").await;
    assert_eq!(page["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413() {
    let s = start_with(Options {
        body_limit: 1024,
        workers: false,
        ..Options::default()
    })
    .await;
    let mut b = body("big", "file:///tmp/");
    b["scanners"][0]["params"] = json!({"discover": vec!["x".repeat(100); 50]});
    let (status, p) = s.post("/api/v1/connectors", b).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (413, Some("payload_too_large")),
        "{p}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_runs_and_shows_as_the_last_full_scan() {
    let s = start().await;
    let loc = share(&s, "share");
    let mut req = body("nightly", &loc);
    req["scanners"] = json!([{"name": "noop", "params": {"findings": 1}}]);
    let (status, c) = s.post("/api/v1/connectors", req).await;
    assert_eq!(status, 201, "{c}");
    let id = c["id"].as_str().unwrap();

    // No body needed.
    let res = s
        .http
        .post(s.url(&format!("/api/v1/connectors/{id}/full-scan")))
        .send()
        .await
        .unwrap();
    let (status, scan) = common::read(res).await;
    assert_eq!(status, 201, "{scan}");
    assert_eq!(scan["name"], "full scan of nightly");
    assert_eq!(scan["config"]["labels"], json!({"connector": id}));
    assert_eq!(
        scan["config"]["targets"],
        json!([{"kind": "location", "value": loc}])
    );
    assert_ne!(scan["state"], "created", "a full scan is started: {scan}");
    let scan_id = scan["id"].as_str().unwrap();

    let done = s.wait_state(scan_id, "completed", LONG).await;
    assert_eq!(done["progress"]["findings"], 1, "{done}");

    let (status, got) = s.get(&format!("/api/v1/connectors/{id}")).await;
    assert_eq!(status, 200, "{got}");
    let last = &got["last_full_scan"];
    assert_eq!(last["id"], scan_id, "{got}");
    assert_eq!(last["state"], "completed");
    // A noop scan judges no object; the scan omits empty counts, the connector shows zeros.
    assert_eq!(done["progress"].get("verdicts"), None, "{done}");
    assert_eq!(
        last["verdicts"],
        json!({"clean": 0, "malicious": 0, "suspicious": 0, "error": 0, "skipped": 0})
    );
    assert_eq!(last["started_at"], done["started_at"]);
    assert_eq!(last["finished_at"], done["finished_at"]);
    let (_, page) = s.get("/api/v1/connectors").await;
    assert_eq!(page["items"][0]["last_full_scan"]["id"], scan_id, "{page}");

    // A second full scan replaces it; once that scan is deleted the connector shows none.
    let (status, second) = s
        .post(&format!("/api/v1/connectors/{id}/full-scan"), json!({}))
        .await;
    assert_eq!(status, 201, "{second}");
    let second_id = second["id"].as_str().unwrap();
    s.wait_state(second_id, "completed", LONG).await;
    let (_, got) = s.get(&format!("/api/v1/connectors/{id}")).await;
    assert_eq!(got["last_full_scan"]["id"], second_id);
    let (status, _) = s.delete(&format!("/api/v1/scans/{second_id}")).await;
    assert_eq!(status, 204);
    let (status, got) = s.get(&format!("/api/v1/connectors/{id}")).await;
    assert_eq!(
        (status, &got["last_full_scan"]),
        (200, &Value::Null),
        "{got}"
    );
    let (_, page) = s.get("/api/v1/connectors").await;
    assert_eq!(page["items"][0]["last_full_scan"], Value::Null, "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_org_cannot_see_change_delete_or_scan_a_connector() {
    let s = start_with(Options {
        auth: AuthConfig::TrustedHeaders {
            default_role: argus_core::ids::Role::Admin,
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        },
        workers: false,
        ..Options::default()
    })
    .await;
    let loc = share(&s, "share");
    let as_org = |org: &str, req: reqwest::RequestBuilder| {
        req.header("x-org-id", org).header("x-user-id", "u1")
    };
    let send =
        |req: reqwest::RequestBuilder| async move { common::read(req.send().await.unwrap()).await };

    let (status, c) =
        send(as_org("org-a", s.http.post(s.url("/api/v1/connectors"))).json(&body("share", &loc)))
            .await;
    assert_eq!(status, 201, "{c}");
    let path = format!("/api/v1/connectors/{}", c["id"].as_str().unwrap());

    // Org B: every operation on A's connector is a 404, and its list is empty.
    for (what, req) in [
        ("get", s.http.get(s.url(&path))),
        (
            "update",
            s.http.put(s.url(&path)).json(&body("stolen", &loc)),
        ),
        ("delete", s.http.delete(s.url(&path))),
        (
            "full scan",
            s.http.post(s.url(&format!("{path}/full-scan"))),
        ),
    ] {
        let (status, p) = send(as_org("org-b", req)).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (404, Some("not_found")),
            "{what}: {p}"
        );
    }
    let (status, page) = send(as_org("org-b", s.http.get(s.url("/api/v1/connectors")))).await;
    assert_eq!((status, &page["items"]), (200, &json!([])));
    // Org B may use the same name in its own org.
    let (status, _) =
        send(as_org("org-b", s.http.post(s.url("/api/v1/connectors"))).json(&body("share", &loc)))
            .await;
    assert_eq!(status, 201);
    let (status, scans) = send(as_org("org-b", s.http.get(s.url("/api/v1/scans")))).await;
    assert_eq!(
        (status, &scans["items"]),
        (200, &json!([])),
        "no scan for B"
    );

    // Org A's connector is untouched and still scans.
    let (status, still) = send(as_org("org-a", s.http.get(s.url(&path)))).await;
    assert_eq!(
        (status, &still["name"], &still["updated_at"]),
        (200, &c["name"], &c["updated_at"])
    );
    let (status, scan) = send(as_org(
        "org-a",
        s.http.post(s.url(&format!("{path}/full-scan"))),
    ))
    .await;
    assert_eq!(status, 201, "{scan}");
    let (_, still) = send(as_org("org-a", s.http.get(s.url(&path)))).await;
    assert_eq!(still["last_full_scan"]["id"], scan["id"]);
}
