//! Result forwarding end to end: the real `argus` binary with `[[sinks]]` from the environment,
//! forwarding to local receivers that speak each destination's wire protocol (Splunk HEC with
//! its token and indexer acknowledgements, signed webhooks, RFC 5424 syslog over TLS with
//! octet counting, parsed by `syslog_loose`): a 10,000-finding scan to several sinks at once, an outage within and beyond the
//! buffer, a kill -9 in the middle of forwarding, dead letters per org, and bad sink config.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use argus_sinks::encoding::rfc5424::MsgFormat;
use argus_sinks::testkit::hec::{HecOptions, HecReceiver};
use argus_sinks::testkit::syslog::{Expect, SyslogReceiver};
use argus_sinks::testkit::webhook::WebhookReceiver;
use serde_json::{json, Value};

const TOKEN: &str = "e2e-hec-token-5b1f";
const SECRET: &str = "e2e-webhook-secret-77aa";

fn env(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("E2E_HEC_TOKEN".into(), TOKEN.into()),
        ("E2E_WEBHOOK_SECRET".into(), SECRET.into()),
        ("ARGUS_AUTH__MODE".into(), "trusted-headers".into()),
        (
            "ARGUS_AUTH__TRUSTED_PROXIES".into(),
            "[\"127.0.0.1\"]".into(),
        ),
        // The gateway's users here are admins: sinks and dead letters are admin routes.
        ("ARGUS_AUTH__TRUSTED_ROLE".into(), "admin".into()),
        ("RUST_LOG".into(), "warn".into()),
    ];
    env.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())));
    env
}

fn hec_sink(name: &str, url: &str) -> Vec<(&'static str, String)> {
    let k = |key: &str| -> &'static str {
        Box::leak(format!("ARGUS_SINKS__{}__{key}", name.to_ascii_uppercase()).into_boxed_str())
    };
    vec![
        (k("TYPE"), "splunk_hec".into()),
        (k("URL"), url.into()),
        (k("TOKEN_ENV"), "E2E_HEC_TOKEN".into()),
        (k("INDEX"), "security".into()),
        (k("START"), "beginning".into()),
        (k("BACKOFF_MIN_MS"), "20".into()),
        (k("BACKOFF_MAX_MS"), "200".into()),
        (k("BATCH_TIMEOUT_MS"), "50".into()),
    ]
}

fn serve(
    label: &str,
    data: &std::path::Path,
    workers: usize,
    env: &[(String, String)],
) -> common::Proc {
    let data = data.to_string_lossy().into_owned();
    common::spawn_argus(
        label,
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            &workers.to_string(),
            "--data-dir",
            &data,
        ],
        env,
        true,
    )
}

fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-org-id", "acme".parse().unwrap());
    headers.insert("x-user-id", "alice".parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// A completed scan of `tasks` noop tasks emitting `per_task` findings each; its id.
async fn scan(http: &reqwest::Client, base: &str, tasks: u64, per_task: u64) -> String {
    let id = common::create_scan(
        http,
        base,
        &json!({
            "config": {
                "scanners": [{"name": "noop", "params": {"fanout": tasks, "child": {"findings": per_task}}}],
                "targets": [{"kind": "url", "value": "noop://root"}]
            },
            "start": true
        }),
    )
    .await;
    common::wait_for(Duration::from_secs(120), "the scan to complete", || async {
        let s = common::status(http, base, &id).await?;
        (s["state"] == "completed").then_some(())
    })
    .await;
    id
}

async fn sinks(http: &reqwest::Client, base: &str) -> Vec<Value> {
    let v: Value = http
        .get(format!("{base}/sinks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array().unwrap().clone()
}

fn sink<'a>(all: &'a [Value], name: &str) -> &'a Value {
    all.iter().find(|s| s["name"] == name).unwrap()
}

/// Results' fingerprints and lifecycle actions in what a receiver decoded.
fn summary(events: &[Value]) -> (HashSet<String>, Vec<String>) {
    let mut fps = HashSet::new();
    let mut actions = Vec::new();
    for e in events {
        match e["kind"].as_str() {
            Some("scan_result") => {
                fps.insert(e["fingerprint"].as_str().unwrap().to_owned());
            }
            Some("scan_lifecycle") => actions.push(e["action"].as_str().unwrap().to_owned()),
            other => panic!("unexpected kind {other:?}: {e}"),
        }
    }
    (fps, actions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_findings_reach_three_sinks_at_once() {
    let hec = HecReceiver::start_with(HecOptions {
        acks: true,
        ..HecOptions::new(TOKEN)
    })
    .await
    .unwrap();
    let hook = WebhookReceiver::start(Some(SECRET)).await.unwrap();
    let siem = SyslogReceiver::tls(Expect::new(MsgFormat::Rfc5424)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut pairs = hec_sink("splunk", &hec.url());
    pairs.push(("ARGUS_SINKS__SPLUNK__ACKS", "true".into()));
    pairs.extend([
        ("ARGUS_SINKS__SIEM__TYPE", "syslog".to_string()),
        ("ARGUS_SINKS__SIEM__URL", siem.url()),
        ("ARGUS_SINKS__SIEM__FORMAT", "rfc5424".into()),
        (
            "ARGUS_SINKS__SIEM__CA_FILE",
            siem.ca_file().unwrap().to_string_lossy().into_owned(),
        ),
        ("ARGUS_SINKS__SIEM__HOSTNAME", "argus-test".into()),
        ("ARGUS_SINKS__SIEM__START", "beginning".into()),
    ]);
    pairs.extend([
        ("ARGUS_SINKS__HOOKS__TYPE", "webhook".to_string()),
        ("ARGUS_SINKS__HOOKS__URL", hook.url()),
        (
            "ARGUS_SINKS__HOOKS__SECRET_ENV",
            "E2E_WEBHOOK_SECRET".into(),
        ),
        ("ARGUS_SINKS__HOOKS__BATCH", "true".into()),
        ("ARGUS_SINKS__HOOKS__START", "beginning".into()),
    ]);
    let server = serve("serve", dir.path(), 8, &env(&pairs));
    let base = server.base.clone().unwrap();
    let http = client();

    let id = scan(&http, &base, 100, 100).await;
    let want = common::all_fingerprints(&http, &base, &id).await;
    assert_eq!(want.len(), 10_000);

    let hec_events = common::wait_for(
        Duration::from_secs(120),
        "HEC to get every event",
        || async {
            let got: Vec<Value> = hec.events().into_iter().map(|e| e.event).collect();
            (summary(&got).0.len() >= want.len() && summary(&got).1.len() >= 3).then_some(got)
        },
    )
    .await;
    let hook_events = common::wait_for(
        Duration::from_secs(120),
        "the webhook to get every event",
        || async {
            let got = hook.events();
            (summary(&got).0.len() >= want.len() && summary(&got).1.len() >= 3).then_some(got)
        },
    )
    .await;
    let siem_events = common::wait_for(
        Duration::from_secs(120),
        "syslog to get every event",
        || async {
            let got = siem.received();
            (summary(&got).0.len() >= want.len() && summary(&got).1.len() >= 3).then_some(got)
        },
    )
    .await;
    assert!(siem.errors().is_empty(), "{:?}", siem.errors());
    for (name, got) in [
        ("splunk", &hec_events),
        ("hooks", &hook_events),
        ("siem", &siem_events),
    ] {
        let (fps, actions) = summary(got);
        assert_eq!(fps, want, "{name}: exactly the scan's findings");
        assert_eq!(actions, ["created", "started", "completed"], "{name}");
        // Each result names its finding as the API shows it and its scan.
        for e in got.iter().filter(|e| e["kind"] == "scan_result").take(50) {
            assert_eq!(e["scan_id"], id);
            assert_eq!(e["org_id"], "acme");
            let f: Value = http
                .get(format!(
                    "{base}/findings/{}",
                    e["finding_id"].as_str().unwrap()
                ))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(f["fingerprint"], e["fingerprint"]);
        }
        let ids: Vec<i64> = got
            .iter()
            .map(|e| e["event_id"].as_i64().unwrap())
            .collect();
        let unique: BTreeSet<i64> = ids.iter().copied().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "{name}: no event twice without a failure"
        );
    }
    // HEC's envelope and acknowledgements; the webhook's signature is checked by its receiver
    // (an unsigned or tampered request is refused there).
    assert!(hec
        .events()
        .iter()
        .all(|e| e.index.as_deref() == Some("security")));
    assert!(hec.unacked().is_empty());
    assert_eq!(hook.unauthorized(), 0);
    let completed = hook_events
        .iter()
        .find(|e| e["action"] == "completed")
        .unwrap();
    assert_eq!(completed["counters"]["findings"], 10_000, "{completed}");

    // The API's view: both sinks caught up, nothing dropped, no credential anywhere.
    let all = common::wait_for(Duration::from_secs(30), "both cursors saved", || async {
        let all = sinks(&http, &base).await;
        all.iter().all(|s| s["lag"] == 0).then_some(all)
    })
    .await;
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(TOKEN) && !text.contains(SECRET), "{text}");
    for name in ["splunk", "hooks", "siem"] {
        let s = sink(&all, name);
        assert_eq!(s["state"]["dropped"], 0, "{s}");
        assert!(s["state"]["sent"].as_u64().unwrap() >= 10_003, "{s}");
        assert!(s["state"]["last_error"].is_null(), "{s}");
    }
    assert_eq!(sink(&all, "splunk")["type"], "splunk_hec");
    assert_eq!(
        sink(&all, "splunk")["endpoint"],
        format!(
            "{}/services/collector/event",
            hec.url().trim_end_matches('/')
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_loses_nothing_within_the_buffer_and_counts_drops_beyond_it() {
    let roomy = HecReceiver::start(TOKEN).await.unwrap();
    let tight = HecReceiver::start(TOKEN).await.unwrap();
    roomy.set_down(true);
    tight.set_down(true);
    let dir = tempfile::tempdir().unwrap();
    let mut pairs = hec_sink("roomy", &roomy.url());
    pairs.extend(hec_sink("tight", &tight.url()));
    pairs.push(("ARGUS_SINKS__TIGHT__BUFFER", "100".into()));
    pairs.push(("ARGUS_SINKS__ROOMY__EVENTS", "[\"scan_result\"]".into()));
    pairs.push(("ARGUS_SINKS__TIGHT__EVENTS", "[\"scan_result\"]".into()));
    let server = serve("serve", dir.path(), 8, &env(&pairs));
    let base = server.base.clone().unwrap();
    let http = client();

    let id = scan(&http, &base, 20, 100).await;
    let want = common::all_fingerprints(&http, &base, &id).await;
    // Both are failing now; the tight one drops what does not fit in its buffer.
    let all = common::wait_for(
        Duration::from_secs(60),
        "the tight sink to drop",
        || async {
            let all = sinks(&http, &base).await;
            let t = sink(&all, "tight");
            (t["state"]["dropped"].as_u64().unwrap() as usize + 100 >= want.len()).then_some(all)
        },
    )
    .await;
    assert!(sink(&all, "roomy")["live"]["failing"].as_bool().unwrap());
    assert!(sink(&all, "roomy")["state"]["last_error"]
        .as_str()
        .unwrap()
        .contains("503"));
    assert_eq!(sink(&all, "roomy")["state"]["dropped"], 0);

    roomy.set_down(false);
    tight.set_down(false);
    let got = common::wait_for(
        Duration::from_secs(60),
        "everything to the roomy sink",
        || async {
            let got: Vec<Value> = roomy.events().into_iter().map(|e| e.event).collect();
            (summary(&got).0.len() >= want.len()).then_some(got)
        },
    )
    .await;
    assert_eq!(summary(&got).0, want);
    let got = common::wait_for(
        Duration::from_secs(60),
        "the buffer to the tight sink",
        || async {
            let got: Vec<Value> = tight.events().into_iter().map(|e| e.event).collect();
            (summary(&got).0.len() >= 100).then_some(got)
        },
    )
    .await;
    let (fps, _) = summary(&got);
    let all = sinks(&http, &base).await;
    let dropped = sink(&all, "tight")["state"]["dropped"].as_u64().unwrap() as usize;
    assert_eq!(fps.len(), 100, "the buffer's worth got through");
    assert_eq!(
        fps.len() + dropped,
        want.len(),
        "and every other one is counted dropped"
    );
    assert!(fps.is_subset(&want));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_forwarding_loses_no_event() {
    let hec = HecReceiver::start_with(HecOptions {
        acks: true,
        ..HecOptions::new(TOKEN)
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut pairs = hec_sink("splunk", &hec.url());
    pairs.push(("ARGUS_SINKS__SPLUNK__ACKS", "true".into()));
    pairs.push(("ARGUS_SINKS__SPLUNK__ACK_POLL_MS", "20".into()));
    let env = env(&pairs);
    let mut server = serve("first", dir.path(), 8, &env);
    let base = server.base.clone().unwrap();
    let http = client();

    // A first scan is forwarded and acknowledged (the cursor moves past it).
    let first = scan(&http, &base, 10, 100).await;
    let mut want = common::all_fingerprints(&http, &base, &first).await;
    common::wait_for(
        Duration::from_secs(60),
        "the first scan forwarded",
        || async {
            let all = sinks(&http, &base).await;
            (sink(&all, "splunk")["lag"] == 0).then_some(())
        },
    )
    .await;
    // Then the indexer stops acknowledging: batches reach it but never count as delivered.
    hec.hold_acks(true);
    let second = scan(&http, &base, 10, 100).await;
    want.extend(common::all_fingerprints(&http, &base, &second).await);
    common::wait_for(
        Duration::from_secs(60),
        "a batch of the second scan in flight",
        || async { (!hec.unacked().is_empty()).then_some(()) },
    )
    .await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);
    hec.hold_acks(false);

    let server = serve("second", dir.path(), 8, &env);
    let base = server.base.clone().unwrap();
    let got = common::wait_for(
        Duration::from_secs(90),
        "every event after the restart",
        || async {
            let got: Vec<Value> = hec.events().into_iter().map(|e| e.event).collect();
            (summary(&got).0.len() >= want.len() && summary(&got).1.len() >= 6).then_some(got)
        },
    )
    .await;
    let (fps, actions) = summary(&got);
    assert_eq!(fps, want, "every finding of both scans, none missing");
    let unique: BTreeSet<&str> = actions.iter().map(String::as_str).collect();
    assert_eq!(unique, BTreeSet::from(["completed", "created", "started"]));
    let ids: Vec<i64> = got
        .iter()
        .map(|e| e["event_id"].as_i64().unwrap())
        .collect();
    let distinct: BTreeSet<i64> = ids.iter().copied().collect();
    assert!(
        distinct.len() < ids.len(),
        "the unacknowledged batch went again (at least once): {} sent, {} distinct",
        ids.len(),
        distinct.len()
    );
    drop(server);
    let _ = base;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_per_org_after_the_last_retry() {
    let hook = WebhookReceiver::start(Some(SECRET)).await.unwrap();
    hook.fail_always(500);
    let dir = tempfile::tempdir().unwrap();
    let pairs = [
        ("ARGUS_SINKS__HOOKS__TYPE", "webhook".to_string()),
        ("ARGUS_SINKS__HOOKS__URL", hook.url()),
        (
            "ARGUS_SINKS__HOOKS__SECRET_ENV",
            "E2E_WEBHOOK_SECRET".into(),
        ),
        ("ARGUS_SINKS__HOOKS__START", "beginning".into()),
        ("ARGUS_SINKS__HOOKS__MAX_ATTEMPTS", "3".into()),
        ("ARGUS_SINKS__HOOKS__BACKOFF_MIN_MS", "10".into()),
        ("ARGUS_SINKS__HOOKS__BACKOFF_MAX_MS", "20".into()),
        ("ARGUS_SINKS__HOOKS__EVENTS", "[\"scan_result\"]".into()),
    ];
    let server = serve("serve", dir.path(), 2, &env(&pairs));
    let base = server.base.clone().unwrap();
    let http = client();
    let id = scan(&http, &base, 1, 3).await;
    let letters = common::wait_for(Duration::from_secs(60), "three dead letters", || async {
        let page: Value = http
            .get(format!("{base}/sinks/hooks/dead-letters"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let items = page["items"].as_array()?.clone();
        (items.len() >= 3).then_some(items)
    })
    .await;
    assert_eq!(letters.len(), 3);
    for l in &letters {
        assert_eq!(l["scan_id"], id);
        assert_eq!(l["attempts"], 3);
        assert!(l["error"].as_str().unwrap().contains("500"), "{l}");
        assert_eq!(l["event"]["kind"], "scan_result");
    }
    // Three tries of the batch (single mode stops at its first refused request).
    assert!(hook.attempts() >= 3);
    // Another org sees none of them, a page of one pages on, an unknown sink is 404.
    let other: Value = http
        .get(format!("{base}/sinks/hooks/dead-letters"))
        .header("x-org-id", "globex")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(other["items"], json!([]));
    let page: Value = http
        .get(format!("{base}/sinks/hooks/dead-letters?limit=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let next = page["next_cursor"].as_str().unwrap();
    let page2: Value = http
        .get(format!(
            "{base}/sinks/hooks/dead-letters?limit=1&cursor={next}"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(page2["items"][0]["id"], page["items"][0]["id"]);
    for (url, status) in [
        (format!("{base}/sinks/nope"), 404),
        (format!("{base}/sinks/nope/dead-letters"), 404),
        (format!("{base}/sinks/hooks/dead-letters?cursor=abc"), 422),
    ] {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), status, "{url}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{url}"
        );
    }
    let all = sinks(&http, &base).await;
    assert_eq!(sink(&all, "hooks")["state"]["dead_lettered"], 3);
}

#[test]
fn bad_sink_config_stops_start_up_with_the_entry_named() {
    let dir = tempfile::tempdir().unwrap();
    for (vars, needle) in [
        (
            vec![("ARGUS_SINKS__SIEM__TYPE", "carrier-pigeon")],
            "unknown type \"carrier-pigeon\"",
        ),
        (
            vec![
                ("ARGUS_SINKS__SPLUNK__TYPE", "splunk_hec"),
                ("ARGUS_SINKS__SPLUNK__URL", "http://127.0.0.1:9"),
                ("ARGUS_SINKS__SPLUNK__TOKEN_ENV", "E2E_UNSET_TOKEN_VAR"),
            ],
            "E2E_UNSET_TOKEN_VAR",
        ),
        (
            vec![
                ("ARGUS_SINKS__SPLUNK__TYPE", "splunk_hec"),
                ("ARGUS_SINKS__SPLUNK__BUFFR", "3"),
            ],
            "buffr",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_argus"))
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains(needle), "{needle}: {stderr}");
        assert!(stderr.contains("sinks"), "{stderr}");
    }
}
