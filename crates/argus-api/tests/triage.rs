//! Triage over real HTTP (issue #13): `POST /api/v1/scans/{id}/findings/select` (counts by
//! triage, all or nothing, 422 and 404 answers), `awaiting_selection` on the scan and its status,
//! and a rescan of the same targets carrying a false positive — within the org only.
//!
//! The findings come from the real `noop` scanner run by the server's workers; its fingerprints
//! are stable per (target, index), so a rescan of the same targets finds the same fingerprints.

// Test helpers outside `#[test]` functions fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use argus_api::AuthConfig;
use common::{noop_config, start, start_with, Options, Server};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(30);

/// Every finding of a scan (one page is enough here), by `(target, title)`.
async fn findings(s: &Server, org: Option<&str>, scan: &str) -> BTreeMap<String, Value> {
    let (status, page) = call(
        s,
        org,
        "GET",
        &format!("/api/v1/scans/{scan}/findings"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page["next_cursor"].is_null());
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                format!("{} {}", f["target"]["value"].as_str().unwrap(), f["title"]),
                f.clone(),
            )
        })
        .collect()
}

/// One request, as `org` (trusted headers) when given.
async fn call(
    s: &Server,
    org: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = s.http.request(method.parse().unwrap(), s.url(path));
    if let Some(org) = org {
        req = req.header("x-org-id", org).header("x-user-id", "u1");
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    common::read(req.send().await.unwrap()).await
}

/// Creates and starts a scan as `org` and waits until it completed; returns its id.
async fn completed_scan(s: &Server, org: Option<&str>, config: Value) -> String {
    let (status, scan) = call(
        s,
        org,
        "POST",
        "/api/v1/scans",
        Some(json!({"config": config, "start": true})),
    )
    .await;
    assert_eq!(status, 201, "{scan}");
    let id = scan["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let (status, st) = call(s, org, "GET", &format!("/api/v1/scans/{id}/status"), None).await;
        assert_eq!(status, 200, "{st}");
        if st["state"] == "completed" {
            return id;
        }
        assert!(
            !matches!(st["state"].as_str(), Some("failed" | "cancelled")),
            "{st}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "scan did not end: {st}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn id_of(f: &Value) -> &str {
    f["id"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_answers_counts_and_refuses_bad_lists_whole() {
    let s = start().await;
    let config = noop_config(json!({"findings": 2}), &["noop://t/0", "noop://t/1"]);
    let scan = completed_scan(&s, None, config.clone()).await;
    let other = completed_scan(&s, None, config).await;
    let f: Vec<Value> = findings(&s, None, &scan).await.into_values().collect();
    assert_eq!(f.len(), 4);
    let stranger = findings(&s, None, &other)
        .await
        .into_values()
        .next()
        .unwrap();
    let select = format!("/api/v1/scans/{scan}/findings/select");

    // noop findings carry no secret: nothing to select, so not awaiting a selection.
    let (_, got) = s.get(&format!("/api/v1/scans/{scan}")).await;
    assert_eq!(got["awaiting_selection"], false, "{got}");
    assert_eq!(
        got["state"], "completed",
        "the scan's own fields stay at the top"
    );
    let (_, st) = s.get(&format!("/api/v1/scans/{scan}/status")).await;
    assert_eq!(st["awaiting_selection"], false, "{st}");

    let (status, counts) = s
        .post(
            &select,
            json!({"select": [id_of(&f[0])], "false_positives": [id_of(&f[1]), id_of(&f[2])]}),
        )
        .await;
    assert_eq!(status, 200, "{counts}");
    assert_eq!(
        counts,
        json!({"open": 1, "selected": 1, "false_positive": 2, "accepted": 0, "fixed": 0})
    );
    let after = findings(&s, None, &scan).await;
    let triage_of = |id: &str| {
        after
            .values()
            .find(|x| id_of(x) == id)
            .map(|x| x["triage"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(triage_of(id_of(&f[0])), "selected");
    assert_eq!(triage_of(id_of(&f[1])), "false_positive");
    assert_eq!(triage_of(id_of(&f[3])), "open");

    // Refusals: 422 problems naming what is wrong, and nothing changed (f[3] stays open).
    let unknown = uuid::Uuid::now_v7().to_string();
    let cases = [
        (json!({"select": [], "false_positives": []}), "", vec![]),
        (json!({}), "", vec![]),
        (
            json!({"select": [id_of(&f[3])], "false_positives": [id_of(&f[3])]}),
            "/false_positives",
            vec![id_of(&f[3]).to_owned()],
        ),
        (
            json!({"select": [id_of(&f[3]), unknown]}),
            "/select",
            vec![unknown.clone()],
        ),
        (
            json!({"false_positives": [id_of(&f[3]), id_of(&stranger)]}),
            "/false_positives",
            vec![id_of(&stranger).to_owned()],
        ),
    ];
    for (body, path, named) in cases {
        let (status, p) = s.post(&select, body.clone()).await;
        assert_eq!(
            (status, p["code"].as_str(), p["path"].as_str()),
            (422, Some("invalid"), Some(path)),
            "{body}: {p}"
        );
        for id in named {
            assert!(p["detail"].as_str().unwrap().contains(&id), "{body}: {p}");
        }
    }
    for body in [
        json!({"select": ["not-a-uuid"]}),
        json!({"select": [], "bogus": true}),
        json!({"select": "x"}),
    ] {
        let (status, p) = s.post(&select, body.clone()).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (422, Some("invalid")),
            "{body}: {p}"
        );
    }
    let (_, f3) = s.get(&format!("/api/v1/findings/{}", id_of(&f[3]))).await;
    assert_eq!(f3["triage"], "open", "a refused selection changed nothing");
    let (_, stranger_now) = s
        .get(&format!("/api/v1/findings/{}", id_of(&stranger)))
        .await;
    assert_eq!(stranger_now["triage"], "open");

    // Unknown scans: 404, whether the id is a UUID or not.
    for path in [
        format!("/api/v1/scans/{unknown}/findings/select"),
        "/api/v1/scans/nope/findings/select".to_owned(),
    ] {
        let (status, p) = s.post(&path, json!({"select": [id_of(&f[3])]})).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (404, Some("not_found")),
            "{p}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescan_keeps_false_positives_within_the_org_only() {
    let s = start_with(Options {
        auth: AuthConfig::TrustedHeaders {
            default_role: argus_core::ids::Role::Admin,
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        },
        ..Options::default()
    })
    .await;
    let (a, b) = (Some("org-a"), Some("org-b"));
    let config = noop_config(json!({"findings": 2}), &["noop://t/0"]);
    let first = completed_scan(&s, a, config.clone()).await;
    let f = findings(&s, a, &first).await;
    let keys: Vec<String> = f.keys().cloned().collect();
    let (fp_key, sel_key) = (&keys[0], &keys[1]);

    // Another org can neither select this scan's findings nor see that they exist.
    let (status, p) = call(
        &s,
        b,
        "POST",
        &format!("/api/v1/scans/{first}/findings/select"),
        Some(json!({"false_positives": [id_of(&f[fp_key])]})),
    )
    .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (404, Some("not_found")),
        "{p}"
    );

    let (status, counts) = call(
        &s,
        a,
        "POST",
        &format!("/api/v1/scans/{first}/findings/select"),
        Some(json!({"select": [id_of(&f[sel_key])], "false_positives": [id_of(&f[fp_key])]})),
    )
    .await;
    assert_eq!(status, 200, "{counts}");
    assert_eq!(
        (
            counts["selected"].as_u64(),
            counts["false_positive"].as_u64()
        ),
        (Some(1), Some(1))
    );

    // The rescan: the false positive is one again, the selection shows as previous triage.
    let second = completed_scan(&s, a, config.clone()).await;
    let g = findings(&s, a, &second).await;
    assert_eq!(g.len(), 2);
    assert_eq!(
        (
            g[fp_key]["triage"].as_str(),
            g[fp_key]["previous_triage"].as_str()
        ),
        (Some("false_positive"), Some("false_positive")),
        "{}",
        g[fp_key]
    );
    assert_eq!(
        (
            g[sel_key]["triage"].as_str(),
            g[sel_key]["previous_triage"].as_str()
        ),
        (Some("open"), Some("selected")),
        "{}",
        g[sel_key]
    );
    assert_eq!(g[fp_key]["fingerprint"], f[fp_key]["fingerprint"]);

    // The other org's scan of the same target inherits nothing.
    let theirs = completed_scan(&s, b, config).await;
    let t = findings(&s, b, &theirs).await;
    assert_eq!(t.len(), 2);
    for x in t.values() {
        assert_eq!(x["triage"], "open", "{x}");
        assert!(x["previous_triage"].is_null(), "{x}");
    }
}
