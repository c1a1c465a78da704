//! The audit log through the API: mutations, a download and refused requests are recorded
//! with who, action, resource, outcome, client and request id; `GET /api/v1/audit` lists them
//! newest first with filters and paging, for the caller's org only.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use argus_api::AuthConfig;
use argus_core::ids::Role;
use common::{read, start_with, Options, Server};
use reqwest::Method;
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(30);

/// A request as `user` of `org` (trusted-headers mode, from the trusted 127.0.0.1).
async fn call(
    s: &Server,
    method: Method,
    path: &str,
    who: Option<(&str, &str)>,
    request_id: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, Option<String>) {
    let mut req = s.http.request(method, s.url(path));
    if let Some((org, user)) = who {
        req = req.header("x-org-id", org).header("x-user-id", user);
        if user == "victor" {
            req = req.header("x-user-role", "viewer");
        }
    }
    if let Some(id) = request_id {
        req = req.header("x-request-id", id);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let echoed = res
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = read(res).await;
    (status, body, echoed)
}

const ALICE: Option<(&str, &str)> = Some(("acme", "alice"));
const BOB: Option<(&str, &str)> = Some(("globex", "bob"));
/// A viewer of acme: may read, may not change anything.
const VICTOR: Option<(&str, &str)> = Some(("acme", "victor"));

async fn audit(s: &Server, who: Option<(&str, &str)>, query: &str) -> (u16, Value) {
    let (status, body, _) = call(
        s,
        Method::GET,
        &format!("/api/v1/audit{query}"),
        who,
        None,
        None,
    )
    .await;
    (status, body)
}

fn actions(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_and_downloads_are_audited_per_org() {
    let s = start_with(Options {
        auth: AuthConfig::TrustedHeaders {
            default_role: Role::Admin,
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        },
        ..Options::default()
    })
    .await;

    // A scan, created with the client's request id (echoed), and run to its end.
    let config = json!({
        "scanners": [{ "name": "tool:emit" }],
        "targets": [{ "kind": "domain", "value": "example.com" }],
    });
    let (status, scan, echoed) = call(
        &s,
        Method::POST,
        "/api/v1/scans",
        ALICE,
        Some("client-req-1"),
        Some(json!({ "config": config, "start": true })),
    )
    .await;
    assert_eq!(status, 201, "{scan}");
    assert_eq!(echoed.as_deref(), Some("client-req-1"));
    let id = scan["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let (_, scan, _) = call(
            &s,
            Method::GET,
            &format!("/api/v1/scans/{id}"),
            ALICE,
            None,
            None,
        )
        .await;
        if scan["state"] == "completed" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "scan stuck: {scan}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Reads are not audited; a download is. An unusable request id is replaced (and echoed).
    let (_, arts, _) = call(
        &s,
        Method::GET,
        &format!("/api/v1/scans/{id}/artifacts"),
        ALICE,
        None,
        None,
    )
    .await;
    let name = arts["items"][0]["name"].as_str().unwrap().to_owned();
    let (status, _, echoed) = call(
        &s,
        Method::GET,
        &format!("/api/v1/scans/{id}/artifacts/{name}?token=not-stored"),
        ALICE,
        Some("bad id with spaces"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let generated = echoed.expect("a request id is always answered");
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");

    // A triage, and a mutation that fails (no such scan).
    let (_, findings, _) = call(
        &s,
        Method::GET,
        &format!("/api/v1/scans/{id}/findings"),
        ALICE,
        None,
        None,
    )
    .await;
    let fid = findings["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, _, _) = call(
        &s,
        Method::PATCH,
        &format!("/api/v1/findings/{fid}"),
        ALICE,
        None,
        Some(json!({"triage": "false_positive"})),
    )
    .await;
    assert_eq!(status, 200);
    let missing = uuid::Uuid::now_v7();
    let (status, _, _) = call(
        &s,
        Method::POST,
        &format!("/api/v1/scans/{missing}/start"),
        ALICE,
        None,
        None,
    )
    .await;
    assert_eq!(status, 404);

    // A viewer's mutation is refused (403) and recorded as denied; a viewer may not read the log.
    let (status, _, _) = call(
        &s,
        Method::POST,
        &format!("/api/v1/scans/{id}/stop"),
        VICTOR,
        None,
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = audit(&s, VICTOR, "").await;
    assert_eq!(status, 403);

    // Without an identity (401) nothing is stored for any org.
    let (status, _, echoed) = call(
        &s,
        Method::DELETE,
        &format!("/api/v1/scans/{id}"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert!(echoed.is_some());

    // Everything of acme, newest first.
    let (status, page) = audit(&s, ALICE, "").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        actions(&page),
        [
            "scan.stop",
            "scan.start",
            "finding.triage",
            "artifact.download",
            "scan.create"
        ]
    );
    let denied = page["items"][0].clone();
    assert_eq!(denied["user_id"], "victor");
    assert_eq!(denied["role"], "viewer");
    assert_eq!(denied["outcome"], "denied");
    assert_eq!(denied["status"], 403);
    assert_eq!(denied["resource"], format!("/api/v1/scans/{id}/stop"));
    let items = &page["items"].as_array().unwrap()[1..];
    let created = &items[3];
    assert_eq!(created["org_id"], "acme");
    assert_eq!(created["user_id"], "alice");
    assert_eq!(created["role"], "admin");
    assert_eq!(created["method"], "POST");
    assert_eq!(created["route"], "/api/v1/scans");
    assert_eq!(created["resource"], "/api/v1/scans");
    assert_eq!(created["outcome"], "success");
    assert_eq!(created["status"], 201);
    assert_eq!(created["client"], "127.0.0.1");
    assert_eq!(created["request_id"], "client-req-1");
    assert!(created["at"].is_string());
    let download = &items[2];
    assert_eq!(download["route"], "/api/v1/scans/{id}/artifacts/{*name}");
    assert_eq!(
        download["resource"],
        format!("/api/v1/scans/{id}/artifacts/{name}")
    );
    assert_eq!(download["request_id"], generated.as_str());
    assert!(
        !page.to_string().contains("not-stored"),
        "no query string is kept"
    );
    assert_eq!(items[1]["resource"], format!("/api/v1/findings/{fid}"));
    assert_eq!(items[0]["outcome"], "failed");
    assert_eq!(items[0]["status"], 404);

    // Filters.
    let (_, p) = audit(&s, ALICE, "?action=artifact.download").await;
    assert_eq!(actions(&p), ["artifact.download"]);
    let (_, p) = audit(&s, ALICE, "?outcome=failed").await;
    assert_eq!(actions(&p), ["scan.start"]);
    let (_, p) = audit(&s, ALICE, &format!("?resource=/api/v1/scans/{id}")).await;
    assert_eq!(actions(&p), ["scan.stop", "artifact.download"]);
    let (_, p) = audit(&s, ALICE, "?outcome=denied").await;
    assert_eq!(actions(&p), ["scan.stop"]);
    let (_, p) = audit(&s, ALICE, "?user=victor").await;
    assert_eq!(actions(&p), ["scan.stop"]);
    let (_, p) = audit(&s, ALICE, "?user=alice&outcome=success").await;
    assert_eq!(
        actions(&p),
        ["finding.triage", "artifact.download", "scan.create"]
    );
    let (_, p) = audit(&s, ALICE, "?user=carol").await;
    assert!(actions(&p).is_empty());
    let (_, p) = audit(&s, ALICE, "?since=2999-01-01T00:00:00Z").await;
    assert!(actions(&p).is_empty());
    let (_, p) = audit(
        &s,
        ALICE,
        "?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(actions(&p).len(), 5);

    // Paging: three at a time through the opaque cursor.
    let (_, p1) = audit(&s, ALICE, "?limit=3").await;
    assert_eq!(actions(&p1), ["scan.stop", "scan.start", "finding.triage"]);
    let cursor = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = audit(&s, ALICE, &format!("?limit=3&cursor={cursor}")).await;
    assert_eq!(actions(&p2), ["artifact.download", "scan.create"]);
    assert!(p2["next_cursor"].is_null());

    // Bad queries are 422 problems naming the parameter.
    for (q, path) in [
        ("?outcome=maybe", "/outcome"),
        ("?cursor=abc", "/cursor"),
        ("?since=yesterday", "/since"),
        ("?limit=0", "/limit"),
        ("?user=", "/user"),
    ] {
        let (status, body) = audit(&s, ALICE, q).await;
        assert_eq!(
            (status, body["path"].as_str()),
            (422, Some(path)),
            "{q}: {body}"
        );
    }

    // Another org's admin sees none of it, and its own list records its own actions only.
    let (status, p) = audit(&s, BOB, "").await;
    assert_eq!(status, 200);
    assert!(actions(&p).is_empty(), "{p}");
    let (status, _, _) = call(
        &s,
        Method::DELETE,
        &format!("/api/v1/scans/{id}"),
        BOB,
        None,
        None,
    )
    .await;
    assert_eq!(status, 404, "not globex's scan");
    let (_, p) = audit(&s, BOB, "").await;
    assert_eq!(actions(&p), ["scan.delete"]);
    assert_eq!(p["items"][0]["outcome"], "failed");
    let (_, p) = audit(&s, ALICE, "").await;
    assert_eq!(actions(&p).len(), 5, "acme's list is unchanged");
}
