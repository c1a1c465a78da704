//! Tenancy and roles over real HTTP, `auth.mode = "apikey"` (issue #16): every operation of the
//! OpenAPI document is called
//! - without a key → 401 (public operations excepted),
//! - with a key of the same org whose role is below the operation's declared permission → 403,
//! - with an admin key of another org → 404 for every route naming one of the org's records,
//!   and never any of its data (ids, names) in any answer,
//!
//! and the live streams (SSE, the WebSocket, the Discovery socket) are checked the same way.
//! The operations come from the document itself, so a new route is in the matrix the day it is
//! added. Afterwards the org's records are all still there: nothing above changed them.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use argus_api::auth::{declared_access, Access};
use argus_api::AuthConfig;
use argus_core::ids::{OrgId, Permission, Role};
use argus_engine::services::NewKey;
use common::{noop_config, start_with, Options, Server};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(30);

struct Keys {
    admin: String,
    analyst: String,
    viewer: String,
    other_admin: String,
    viewer_id: String,
}

async fn key(s: &Server, org: &str, role: Role) -> (String, String) {
    let k = s
        .engine
        .api_keys()
        .create(NewKey {
            org: OrgId::parse(org).unwrap(),
            role,
            name: format!("{org}-{role}"),
            expires_at: None,
            created_by: "test".into(),
        })
        .await
        .unwrap();
    (k.key, k.record.id.to_string())
}

async fn call(
    s: &Server,
    key: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, String) {
    let mut req = s
        .http
        .request(method.to_uppercase().parse().unwrap(), s.url(path));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The org's records the matrix must never leak.
struct Records {
    scan: String,
    finding: String,
    template: String,
    connector: String,
    schedule: String,
    key: String,
}

impl Records {
    fn secrets(&self) -> Vec<&str> {
        vec![
            &self.scan,
            &self.finding,
            &self.template,
            &self.connector,
            &self.schedule,
            &self.key,
            "tenancy-marker-template",
            "tenancy-marker-connector",
            "tenancy-marker-schedule",
        ]
    }

    /// A concrete path for an OpenAPI path, naming this org's records.
    fn fill(&self, path: &str) -> String {
        let id = if path.starts_with("/api/v1/findings/") {
            &self.finding
        } else if path.starts_with("/api/v1/templates/") {
            &self.template
        } else if path.starts_with("/api/v1/connectors/") {
            &self.connector
        } else if path.starts_with("/api/v1/schedules/") {
            &self.schedule
        } else if path.starts_with("/api/v1/apikeys/") {
            &self.key
        } else {
            &self.scan
        };
        path.replace("{id}", id)
            .replace("{run_id}", &self.scan)
            .replace(
                "{name}",
                if path.contains("/sinks/") {
                    "seed"
                } else {
                    "report.json"
                },
            )
    }
}

/// A body good enough to reach the record lookup, so a 404 proves tenancy and not a bad body.
fn body_for(
    method: &str,
    path: &str,
    config: &Value,
    location: &str,
    finding: &str,
) -> Option<Value> {
    if method == "get" || method == "delete" {
        return None;
    }
    Some(match path {
        "/api/v1/scans" | "/api/v1/scans/plan" => json!({"config": config}),
        "/api/v1/scans/{id}" => json!({"config": config}),
        "/api/v1/scans/{id}/findings/select" => json!({"select": [finding]}),
        "/api/v1/findings/{id}" => json!({"triage": "false_positive"}),
        "/api/v1/templates" | "/api/v1/templates/{id}" => {
            json!({"name": "other-template", "config": config})
        }
        "/api/v1/connectors" | "/api/v1/connectors/{id}" => json!({
            "name": "other-connector",
            "location": {"kind": "location", "value": location},
            "scanners": [{"name": "noop"}],
        }),
        "/api/v1/schedules" | "/api/v1/schedules/{id}" => {
            json!({"name": "other-schedule", "cron": "0 2 * * *", "config": config})
        }
        "/api/v1/apikeys" => json!({"role": "viewer"}),
        "/api/v1/scans/{id}/push" | "/api/v2/jobs/{id}/push" => {
            json!({"target_url": "https://git.example.com/acme/repo.git"})
        }
        "/api/v2/jobs/{id}/secrets/select" => json!({"secret_ids": [finding]}),
        _ => json!({}),
    })
}

/// Streams: a plain request would wait forever once authorised; they are checked apart.
fn is_stream(path: &str) -> bool {
    matches!(path, "/api/v1/events" | "/api/v1/ws" | "/runs/ws")
}

async fn setup() -> (Server, Keys, Records, Value, String) {
    let s = start_with(Options {
        auth: AuthConfig::ApiKey { oidc: None },
        ..Options::default()
    })
    .await;
    let (admin, _) = key(&s, "acme", Role::Admin).await;
    let (analyst, _) = key(&s, "acme", Role::Analyst).await;
    let (viewer, viewer_id) = key(&s, "acme", Role::Viewer).await;
    let (other_admin, _) = key(&s, "globex", Role::Admin).await;
    let keys = Keys {
        admin,
        analyst,
        viewer,
        other_admin,
        viewer_id,
    };

    let config = noop_config(json!({"findings": 2}), &["noop://t/0"]);
    let (status, scan) = call(
        &s,
        Some(&keys.admin),
        "POST",
        "/api/v1/scans",
        Some(json!({"config": config, "start": true})),
    )
    .await;
    assert_eq!(status, 201, "{scan}");
    let scan = json_of(&scan)["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let (_, body) = call(
            &s,
            Some(&keys.viewer),
            "GET",
            &format!("/api/v1/scans/{scan}"),
            None,
        )
        .await;
        if json_of(&body)["state"] == "completed" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "scan never completed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, page) = call(
        &s,
        Some(&keys.viewer),
        "GET",
        &format!("/api/v1/scans/{scan}/findings"),
        None,
    )
    .await;
    let finding = json_of(&page)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, t) = call(
        &s,
        Some(&keys.analyst),
        "POST",
        "/api/v1/templates",
        Some(json!({"name": "tenancy-marker-template", "config": config})),
    )
    .await;
    assert_eq!(status, 201, "{t}");
    let template = json_of(&t)["id"].as_str().unwrap().to_owned();
    let dir = s.dir.path().join("share");
    std::fs::create_dir_all(&dir).unwrap();
    let location = format!("file://{}/", dir.display());
    let (status, c) = call(
        &s,
        Some(&keys.admin),
        "POST",
        "/api/v1/connectors",
        Some(json!({
            "name": "tenancy-marker-connector",
            "location": {"kind": "location", "value": location},
            "scanners": [{"name": "noop"}],
        })),
    )
    .await;
    assert_eq!(status, 201, "{c}");
    let connector = json_of(&c)["id"].as_str().unwrap().to_owned();
    let (status, sc) = call(
        &s,
        Some(&keys.analyst),
        "POST",
        "/api/v1/schedules",
        Some(json!({
            "name": "tenancy-marker-schedule",
            "cron": "0 2 * * *",
            "template_id": template,
            "enabled": false,
        })),
    )
    .await;
    assert_eq!(status, 201, "{sc}");
    let schedule = json_of(&sc)["id"].as_str().unwrap().to_owned();
    let records = Records {
        scan,
        finding,
        template,
        connector,
        schedule,
        key: keys.viewer_id.clone(),
    };
    (s, keys, records, config, location)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_strangers_lower_roles_and_other_orgs() {
    let (s, keys, records, config, location) = setup().await;
    let (_, spec) = call(&s, None, "GET", "/api/v1/openapi.json", None).await;
    let spec = json_of(&spec);
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let access = declared_access(op);
            let url = records.fill(path);
            let body = body_for(method, path, &config, &location, &records.finding);
            let what = format!("{} {path}", method.to_uppercase());

            // Without a key.
            let (status, text) = call(&s, None, method, &url, body.clone()).await;
            let Access::Needs(permission) = access else {
                assert!(
                    status < 400 || status == 503,
                    "{what} is public: {status} {text}"
                );
                continue;
            };
            assert_eq!(status, 401, "{what} without a key: {text}");
            assert_eq!(json_of(&text)["code"], "unauthorized", "{what}: {text}");
            checked += 1;

            // A role below the permission.
            let lower: Vec<&str> = match permission {
                Permission::Read => vec![],
                Permission::Write => vec![&keys.viewer],
                Permission::Admin => vec![&keys.viewer, &keys.analyst],
            };
            for k in lower {
                let (status, text) = call(&s, Some(k), method, &url, body.clone()).await;
                assert_eq!(status, 403, "{what} with a lower role: {text}");
                assert_eq!(json_of(&text)["code"], "forbidden", "{what}: {text}");
                for secret in records.secrets().into_iter().filter(|s| !url.contains(s)) {
                    assert!(!text.contains(secret), "{what} leaked {secret}: {text}");
                }
            }

            // Another org's admin.
            if is_stream(path) {
                continue;
            }
            let (status, text) =
                call(&s, Some(&keys.other_admin), method, &url, body.clone()).await;
            let names_a_record = path.contains('{');
            if names_a_record && !path.starts_with("/api/v1/sinks/") {
                assert_eq!(status, 404, "{what} of another org: {text}");
            }
            // The other org's audit log lists its own requests, whose paths name the ids it
            // tried: each record must be its own.
            if path == "/api/v1/audit" {
                assert_eq!(status, 200, "{text}");
                let items = json_of(&text)["items"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                for item in items {
                    assert_eq!(item["org_id"], "globex", "{item}");
                }
                continue;
            }
            // (A 404 may repeat the id the caller itself sent in the URL.)
            for secret in records.secrets().into_iter().filter(|s| !url.contains(s)) {
                assert!(
                    !text.contains(secret),
                    "{what} as another org leaked {secret}: {status} {text}"
                );
            }
        }
    }
    assert!(checked > 50, "only {checked} operations need a caller?");

    // Everything is still there, unchanged: the refused calls above changed nothing.
    for (path, field, expected) in [
        (
            format!("/api/v1/scans/{}", records.scan),
            "state",
            "completed",
        ),
        (
            format!("/api/v1/templates/{}", records.template),
            "name",
            "tenancy-marker-template",
        ),
        (
            format!("/api/v1/connectors/{}", records.connector),
            "name",
            "tenancy-marker-connector",
        ),
        (
            format!("/api/v1/schedules/{}", records.schedule),
            "name",
            "tenancy-marker-schedule",
        ),
        (
            format!("/api/v1/findings/{}", records.finding),
            "triage",
            "open",
        ),
    ] {
        let (status, text) = call(&s, Some(&keys.viewer), "GET", &path, None).await;
        assert_eq!(status, 200, "{path}: {text}");
        assert_eq!(json_of(&text)[field], expected, "{path}: {text}");
    }
    let (_, list) = call(&s, Some(&keys.admin), "GET", "/api/v1/apikeys", None).await;
    let list = json_of(&list);
    let viewer = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == records.key.as_str())
        .unwrap();
    assert!(viewer["revoked_at"].is_null(), "{viewer}");
}

/// Reads SSE frames until one mentions `until`; returns the text read.
async fn sse_until(res: reqwest::Response, until: &str) -> String {
    let mut stream = res.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + LONG;
    while !text.contains(until) {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("the awaited event never came")
            .expect("stream ended")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_carry_only_the_callers_org() {
    let (s, keys, records, config, _) = setup().await;

    // SSE, replayed from the first event: the other org's stream holds its own scan's events
    // and none of this org's, which are older and would come first.
    let res = s
        .http
        .get(s.url("/api/v1/events"))
        .bearer_auth(&keys.other_admin)
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, theirs) = call(
        &s,
        Some(&keys.other_admin),
        "POST",
        "/api/v1/scans",
        Some(json!({"config": config, "start": true})),
    )
    .await;
    assert_eq!(status, 201, "{theirs}");
    let theirs = json_of(&theirs)["id"].as_str().unwrap().to_owned();
    let seen = sse_until(res, &theirs).await;
    assert!(!seen.contains(&records.scan), "{seen}");

    // The scan stream of this org's scan is a 404 for the other org, 200 for a viewer.
    let path = format!("/api/v1/scans/{}/events", records.scan);
    let (status, _) = call(&s, Some(&keys.other_admin), "GET", &path, None).await;
    assert_eq!(status, 404);
    let res = s
        .http
        .get(s.url(&path))
        .bearer_auth(&keys.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = sse_until(res, "completed").await;
    assert!(seen.contains(&records.scan));

    // The WebSocket: subscribing to this org's scan as the other org is an error, never events.
    let ws_url = format!("ws://{}/api/v1/ws", s.addr);
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        ws_url.as_str(),
    )
    .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", keys.other_admin).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        json!({"subscribe": records.scan}).to_string(),
    ))
    .await
    .unwrap();
    let msg = tokio::time::timeout(LONG, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let text = msg.into_text().unwrap().to_string();
    assert_eq!(json_of(&text)["error"]["code"], "not_found", "{text}");

    // Without a key the upgrade itself is refused.
    let err = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");

    // The Discovery socket: a viewer may query but not start a run.
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{}/runs/ws", s.addr).as_str(),
    )
    .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", keys.viewer).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        json!({"action": "RUN_TASK", "data": {"task": "noop", "target": "noop://x"}}).to_string(),
    ))
    .await
    .unwrap();
    loop {
        let msg = tokio::time::timeout(LONG, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let Ok(text) = msg.into_text() else { continue };
        let v = json_of(&text);
        if v.get("success").is_some() {
            assert_eq!(v["success"], false, "{v}");
            assert_eq!(v["error"]["code"], "forbidden", "{v}");
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_managed_by_admins_and_stop_working_when_revoked() {
    let (s, keys, _records, _, _) = setup().await;

    // An admin creates a key over the API; it is shown once and works at once.
    let (status, created) = call(
        &s,
        Some(&keys.admin),
        "POST",
        "/api/v1/apikeys",
        Some(json!({"role": "viewer", "name": "dashboard", "expires_in": "30d"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let created = json_of(&created);
    let new_key = created["key"].as_str().unwrap().to_owned();
    assert!(
        new_key.starts_with(created["prefix"].as_str().unwrap()),
        "{created}"
    );
    assert_eq!(created["org"], "acme");
    assert!(created["expires_at"].is_string());
    let (status, _) = call(&s, Some(&new_key), "GET", "/api/v1/scans", None).await;
    assert_eq!(status, 200);

    // Lists never show a key, only prefixes.
    let (_, list) = call(&s, Some(&keys.admin), "GET", "/api/v1/apikeys", None).await;
    assert!(!list.contains(&new_key));
    assert!(!list.contains(&keys.viewer));
    assert!(list.contains("dashboard"));

    // Another org's admin cannot revoke it; its own admin can, and it stops working at once.
    let path = format!("/api/v1/apikeys/{}", created["id"].as_str().unwrap());
    let (status, _) = call(&s, Some(&keys.other_admin), "DELETE", &path, None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&s, Some(&new_key), "GET", "/api/v1/scans", None).await;
    assert_eq!(status, 200, "still valid after the refused revocation");
    let (status, revoked) = call(&s, Some(&keys.admin), "DELETE", &path, None).await;
    assert_eq!(status, 200, "{revoked}");
    assert!(json_of(&revoked)["revoked_at"].is_string());
    let (status, text) = call(&s, Some(&new_key), "GET", "/api/v1/scans", None).await;
    assert_eq!(status, 401, "{text}");

    // Bad input: unknown role, both expiries, a past expiry, garbage durations.
    for body in [
        json!({"role": "root"}),
        json!({"role": "viewer", "expires_in": "1d", "expires_at": "2030-01-01T00:00:00Z"}),
        json!({"role": "viewer", "expires_at": "2001-01-01T00:00:00Z"}),
        json!({"role": "viewer", "expires_in": "soon"}),
        json!({"role": "viewer", "name": "x".repeat(101)}),
    ] {
        let (status, text) = call(
            &s,
            Some(&keys.admin),
            "POST",
            "/api/v1/apikeys",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}: {text}");
    }

    // Tokens that are not keys, or keys that do not exist, are 401 without a hint of which.
    // The viewer's key with its last character changed.
    let last = if keys.viewer.ends_with('X') { 'Y' } else { 'X' };
    let wrong = format!("{}{last}", &keys.viewer[..keys.viewer.len() - 1]);
    for token in ["nonsense", "argus_", wrong.as_str()] {
        let (status, text) = call(&s, Some(token), "GET", "/api/v1/scans", None).await;
        assert_eq!(status, 401, "{token}: {text}");
    }
    // A doubled Authorization header is ambiguous: 400.
    let res = s
        .http
        .get(s.url("/api/v1/scans"))
        .header("authorization", format!("Bearer {}", keys.viewer))
        .header("authorization", format!("Bearer {}", keys.other_admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}
