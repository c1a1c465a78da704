//! `POST /api/v1/scans/plan`: the first wave and the chaining graph of a scan, validated as a
//! creation is, without creating or running anything; chained findings carry their lineage.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

fn edges(plan: &Value) -> Vec<(String, String, String)> {
    plan["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().to_owned(),
                e["on"].as_str().unwrap().to_owned(),
                e["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_lists_the_first_wave_and_the_chain_without_running() {
    // tool:names discovers domains (its file says so); the rules hand them to tool:emit and
    // never back to tool:names, unless a rule says `self = true`.
    let rules = argus_core::chain::ChainRules::from_toml(
        r#"
[[rules]]
on = "domain"
run = ["tool:emit"]
[[rules]]
on = "finding:name"
from = ["tool:names"]
target = "domain:www.{host}"
run = ["tool:names"]
self = true
"#,
    )
    .unwrap();
    let s = start_with(Options {
        chain_rules: rules,
        ..Options::default()
    })
    .await;
    let config = json!({
        "scanners": [
            { "name": "tool:names" },
            { "name": "tool:emit" },
            { "name": "noop" }
        ],
        "targets": [
            { "kind": "domain", "value": "www.example.com" },
            { "kind": "domain", "value": "example.org" }
        ],
        "recursion_depth": 2,
        "scope": { "deny": ["dev.example.com"] }
    });
    let (status, plan) = read(
        s.http
            .post(s.url("/api/v1/scans/plan"))
            .json(&json!({ "config": config }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{plan}");
    let tasks = plan["tasks"].as_array().unwrap();
    // 3 scanners accepting domains × 2 targets.
    assert_eq!(tasks.len(), 6, "{plan}");
    let chain = edges(&plan);
    for edge in [
        ("tool:names", "domain", "tool:emit"),
        // noop is named by no rule: it follows every discovery it accepts.
        ("tool:names", "domain", "noop"),
        // A finding rule is an edge too (here one that lets names follow itself).
        ("tool:names", "finding:name", "tool:names"),
    ] {
        let edge = (edge.0.to_owned(), edge.1.to_owned(), edge.2.to_owned());
        assert!(chain.contains(&edge), "{edge:?} missing from {chain:?}");
    }
    assert!(
        !chain
            .iter()
            .any(|(f, on, t)| f == "tool:names" && on == "domain" && t == "tool:names"),
        "a scanner never re-runs on its own discoveries: {chain:?}"
    );
    assert_eq!(plan["recursion_depth"], 2);
    assert_eq!(plan["scope"]["mode"], "seeds");
    assert_eq!(
        plan["scope"]["allow"],
        json!(["example.com", "example.org"])
    );
    assert_eq!(plan["scope"]["deny"], json!(["dev.example.com"]));
    // Nothing was created.
    let (_, list) = read(s.http.get(s.url("/api/v1/scans")).send().await.unwrap()).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chained_findings_carry_their_lineage_and_skips_are_counted() {
    let rules = argus_core::chain::ChainRules::from_toml(
        r#"
[[rules]]
on = "domain"
run = ["tool:emit"]
"#,
    )
    .unwrap();
    let s = start_with(Options {
        chain_rules: rules,
        ..Options::default()
    })
    .await;
    // tool:names on example.com names a.example.com and b.example.com; b is denied by the
    // scope: skipped with a reason, counted as a finding, never run.
    let body = json!({
        "config": {
            "scanners": [{ "name": "tool:names" }, { "name": "tool:emit" }],
            "targets": [{ "kind": "domain", "value": "example.com" }],
            "recursion_depth": 1,
            "scope": { "deny": ["b.example.com"] }
        },
        "start": true
    });
    let (status, scan) = read(
        s.http
            .post(s.url("/api/v1/scans"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{scan}");
    let id = scan["id"].as_str().unwrap().to_owned();
    let done = s
        .wait_state(&id, "completed", std::time::Duration::from_secs(30))
        .await;
    // example.com: names + emit; a.example.com: emit (names never re-runs on its own).
    assert_eq!(done["progress"]["enqueued"], 3, "{done}");
    let (_, findings) = read(
        s.http
            .get(s.url(&format!("/api/v1/scans/{id}/findings?limit=100")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let items = findings["items"].as_array().unwrap();
    let skipped: Vec<&Value> = items
        .iter()
        .filter(|f| f["kind"] == "scope-skipped")
        .collect();
    assert_eq!(skipped.len(), 1, "{findings}");
    assert!(
        skipped[0]["description"]
            .as_str()
            .unwrap()
            .contains("b.example.com"),
        "{}",
        skipped[0]
    );
    // emit's findings on a.example.com carry the chain: names on example.com, then emit.
    let chained = items
        .iter()
        .find(|f| f["kind"] == "host" && f["target"]["value"] == "a.example.com")
        .unwrap_or_else(|| panic!("no chained finding in {findings}"));
    let lineage = chained["data"]["lineage"].as_array().unwrap();
    assert_eq!(lineage.len(), 2, "{chained}");
    assert_eq!(lineage[0]["scanner"], "tool:names");
    assert_eq!(lineage[0]["target"], "domain:example.com");
    assert_eq!(lineage[1]["scanner"], "tool:emit");
    assert_eq!(lineage[1]["target"], "domain:a.example.com");
    // A seed's findings carry none.
    let seed = items
        .iter()
        .find(|f| f["kind"] == "name")
        .unwrap_or_else(|| panic!("no seed finding in {findings}"));
    assert!(seed["data"].get("lineage").is_none(), "{seed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_refuses_what_a_creation_refuses() {
    let s = start().await;
    for (body, path) in [
        (
            json!({ "config": noop_config(json!({}), &["noop://x"]) ,
                    "template_id": "0190e5a4-0000-7000-8000-000000000000" }),
            "/config",
        ),
        (
            json!({ "config": { "scanners": [{ "name": "nope" }],
                                "targets": [{ "kind": "domain", "value": "example.com" }] } }),
            "/config/scanners/0/name",
        ),
        (
            json!({ "config": { "scanners": [{ "name": "noop" }],
                                "targets": [{ "kind": "domain", "value": "example.com" }],
                                "rate_limit": 0 } }),
            "/config/rate_limit",
        ),
        (json!({}), "/config"),
    ] {
        let (status, problem) = read(
            s.http
                .post(s.url("/api/v1/scans/plan"))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 422, "{body} → {problem}");
        assert_eq!(problem["path"], path, "{problem}");
    }
    // Another org's (or a missing) template is a 404.
    let (status, _) = read(
        s.http
            .post(s.url("/api/v1/scans/plan"))
            .json(&json!({ "template_id": "0190e5a4-0000-7000-8000-000000000000" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
}
