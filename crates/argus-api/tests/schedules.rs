//! Schedules over real HTTP (issue #18) against a server with the embedded backends and real
//! workers: CRUD, validation answers, paging; and firing, driven by calling the scheduler's tick
//! with a chosen "now" (slots are set in the future, so the server's own monitor never fires
//! them): one scan per slot, forbid / replace while the previous scan is live, missed runs
//! skipped or run once, two schedulers ticking at once start one scan.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use argus_core::ids::ScheduleId;
use chrono::{DateTime, Datelike, Utc};
use common::{noop_config, start_with, Options, Server};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(60);

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// The same instant a year later (the next slot of `0 2 1 1 *`).
fn next_year(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_year(t.year() + 1).unwrap()
}

async fn server() -> Server {
    start_with(Options::default()).await
}

/// Scans of the org started by `schedule` (they carry its label).
async fn scans_of(s: &Server, schedule: &str) -> Vec<Value> {
    let (status, page) = s.get("/api/v1/scans?limit=1000").await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|scan| scan["config"]["labels"]["argus.schedule"] == schedule)
        .cloned()
        .collect()
}

async fn tick(s: &Server, now: DateTime<Utc>) -> usize {
    argus_engine::scheduler::tick(&s.engine, now).await.unwrap()
}

async fn get(s: &Server, id: &str) -> Value {
    let (status, body) = s.get(&format!("/api/v1/schedules/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_created_listed_edited_and_deleted() {
    let s = server().await;
    let config = noop_config(json!({}), &["noop://x"]);
    let (status, t) = s
        .post("/api/v1/templates", json!({"name": "t", "config": config}))
        .await;
    assert_eq!(status, 201, "{t}");

    let (status, a) = s
        .post(
            "/api/v1/schedules",
            json!({"name": "nightly", "cron": "0 2 * * *", "timezone": "Europe/Paris",
                   "template_id": t["id"], "targets": [{"kind": "url", "value": "noop://y"}]}),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(
        (
            &a["timezone"],
            &a["concurrency"],
            &a["missed_runs"],
            &a["enabled"]
        ),
        (
            &json!("Europe/Paris"),
            &json!("forbid"),
            &json!("skip"),
            &json!(true)
        )
    );
    // 02:00 in Paris is 00:00 or 01:00 UTC, after now.
    let next = time(&a["next_fire_at"]);
    assert!(next > Utc::now(), "{a}");
    assert!(
        [0, 1].contains(&next.format("%H").to_string().parse::<u32>().unwrap()),
        "{a}"
    );
    assert!(a["last_slot"].is_null());

    let (status, b) = s
        .post(
            "/api/v1/schedules",
            json!({"name": "every quarter", "cron": "*/15 * * * *", "config": config,
                   "concurrency": "replace", "missed_runs": "run_once"}),
        )
        .await;
    assert_eq!(status, 201, "{b}");

    // Paged by name.
    let (status, page) = s.get("/api/v1/schedules?limit=1").await;
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["name"], "every quarter");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, page) = s
        .get(&format!("/api/v1/schedules?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(page["items"][0]["name"], "nightly");
    assert!(page["next_cursor"].is_null());
    let (status, p) = s.get("/api/v1/schedules?cursor=nope").await;
    assert_eq!((status, p["path"].as_str()), (422, Some("/cursor")), "{p}");

    // Disabling clears the next slot; the definition stays.
    let id = a["id"].as_str().unwrap();
    let (status, off) = s
        .put(
            &format!("/api/v1/schedules/{id}"),
            json!({"name": "nightly (off)", "cron": "0 2 * * *", "template_id": t["id"],
                   "enabled": false}),
        )
        .await;
    assert_eq!(status, 200, "{off}");
    assert!(off["next_fire_at"].is_null(), "{off}");
    assert_eq!(off["created_at"], a["created_at"]);
    assert_eq!(get(&s, id).await["name"], "nightly (off)");

    let (status, _) = s.delete(&format!("/api/v1/schedules/{id}")).await;
    assert_eq!(status, 204);
    let (status, p) = s.get(&format!("/api/v1/schedules/{id}")).await;
    assert_eq!(status, 404, "{p}");
    let (status, _) = s.delete(&format!("/api/v1/schedules/{id}")).await;
    assert_eq!(status, 404);
    let (status, _) = s.get("/api/v1/schedules/not-a-uuid").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schedules_are_refused_with_the_field() {
    let s = server().await;
    let config = noop_config(json!({}), &["noop://x"]);
    let missing = ScheduleId::new().to_string();
    for (body, path) in [
        (
            json!({"name": "x", "cron": "* * * *", "config": config}),
            "/cron",
        ),
        (
            json!({"name": "x", "cron": "61 * * * *", "config": config}),
            "/cron",
        ),
        (
            json!({"name": "x", "cron": "* * * * *", "timezone": "Mars/Olympus", "config": config}),
            "/timezone",
        ),
        (json!({"name": "x", "cron": "* * * * *"}), "/template_id"),
        (
            json!({"name": "x", "cron": "* * * * *", "template_id": missing}),
            "/template_id",
        ),
        (
            json!({"name": " ", "cron": "* * * * *", "config": config}),
            "/name",
        ),
        (
            json!({"name": "x", "cron": "* * * * *",
                   "config": noop_config(json!({"bogus": 1}), &["noop://x"])}),
            "/config/scanners/0/params",
        ),
    ] {
        let (status, p) = s.post("/api/v1/schedules", body.clone()).await;
        assert_eq!(status, 422, "{body}: {p}");
        assert!(
            p["path"].as_str().unwrap().starts_with(path),
            "{body}: expected {path}, got {p}"
        );
    }
    let (status, p) = s
        .post(
            "/api/v1/schedules",
            json!({"name": "x", "cron": "* * * * *", "config": config, "surprise": 1}),
        )
        .await;
    assert!(matches!(status, 400 | 422), "{status} {p}");
    let (status, p) = s
        .put(
            &format!("/api/v1/schedules/{missing}"),
            json!({"name": "x", "cron": "* * * * *", "config": config}),
        )
        .await;
    assert_eq!(status, 404, "{p}");
    let (_, list) = s.get("/api/v1/schedules").await;
    assert_eq!(list["items"], json!([]), "nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_slot_starts_one_scan_and_the_policies_hold() {
    let s = server().await;
    // New Year's 02:00 UTC: far enough ahead that only the test's ticks reach it. The scans run
    // a minute, so the previous one is live when the next slot comes.
    let slow = noop_config(json!({"sleep_ms": 60000}), &["noop://slow"]);
    let (status, sc) = s
        .post(
            "/api/v1/schedules",
            json!({"name": "yearly", "cron": "0 2 1 1 *", "config": slow}),
        )
        .await;
    assert_eq!(status, 201, "{sc}");
    let id = sc["id"].as_str().unwrap().to_owned();
    let slot1 = time(&sc["next_fire_at"]);

    // Before the slot: nothing.
    assert_eq!(tick(&s, slot1 - chrono::Duration::seconds(1)).await, 0);
    assert!(scans_of(&s, &id).await.is_empty());

    // Two schedulers ticking at once (a lease hand-over): one scan.
    let at = slot1 + chrono::Duration::seconds(1);
    let (a, b) = tokio::join!(tick(&s, at), tick(&s, at));
    assert!(a + b >= 1, "the slot fired");
    let scans = scans_of(&s, &id).await;
    assert_eq!(scans.len(), 1, "{scans:?}");
    let first = scans[0]["id"].as_str().unwrap().to_owned();
    assert!(scans[0]["name"].as_str().unwrap().starts_with("yearly @ "));
    let now = get(&s, &id).await;
    assert_eq!(time(&now["last_slot"]), slot1);
    assert_eq!(now["last_scan_id"], first.as_str());
    assert_eq!(now["last_outcome"], json!({"outcome": "started"}));
    let slot2 = time(&now["next_fire_at"]);
    assert!(slot2 > slot1);
    s.wait_state(&first, "running", LONG).await;
    // The same tick again fires nothing more.
    assert_eq!(tick(&s, at).await, 0);
    assert_eq!(scans_of(&s, &id).await.len(), 1);

    // forbid (the default): the previous scan is live, so slots 2 and 3 are skipped.
    for _ in 0..2 {
        let now = get(&s, &id).await;
        let slot = time(&now["next_fire_at"]);
        assert_eq!(tick(&s, slot + chrono::Duration::seconds(1)).await, 0);
        let now = get(&s, &id).await;
        assert_eq!(now["last_outcome"], json!({"outcome": "skipped_overlap"}));
        assert_eq!(
            now["last_scan_id"],
            first.as_str(),
            "the live scan it waited for"
        );
        assert_eq!(time(&now["last_slot"]), slot);
        assert_eq!(scans_of(&s, &id).await.len(), 1);
    }

    // replace: the running scan is stopped and the slot's scan starts. An edit keeps the
    // history.
    let (status, edited) = s
        .put(
            &format!("/api/v1/schedules/{id}"),
            json!({"name": "yearly", "cron": "0 2 1 1 *", "concurrency": "replace",
                   "config": slow}),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["last_scan_id"], first.as_str());
    // An edit plans from the real clock, which is behind the slots this test fired: the next
    // slot that can fire is the one after the last fired (a slot never fires twice).
    let slot = next_year(time(&edited["last_slot"]));
    assert_eq!(tick(&s, slot + chrono::Duration::seconds(1)).await, 1);
    let now = get(&s, &id).await;
    let second = now["last_scan_id"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(scans_of(&s, &id).await.len(), 2);
    s.wait_state(&first, "cancelled", LONG).await;
    s.wait_state(&second, "running", LONG).await;

    // allow: both run.
    let (status, edited) = s
        .put(
            &format!("/api/v1/schedules/{id}"),
            json!({"name": "yearly", "cron": "0 2 1 1 *", "concurrency": "allow",
                   "config": slow}),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    let slot = next_year(time(&edited["last_slot"]));
    assert_eq!(tick(&s, slot + chrono::Duration::seconds(1)).await, 1);
    let third = get(&s, &id).await["last_scan_id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.wait_state(&third, "running", LONG).await;
    let (_, still) = s.get(&format!("/api/v1/scans/{second}")).await;
    assert_eq!(still["state"], "running", "{still}");
    for scan in [&second, &third] {
        let (status, _) = s
            .post(&format!("/api/v1/scans/{scan}/stop"), json!({}))
            .await;
        assert_eq!(status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_slots_are_skipped_or_run_once() {
    let s = server().await;
    let config = noop_config(json!({}), &["noop://x"]);
    let mut ids = Vec::new();
    for missed in ["skip", "run_once"] {
        let (status, sc) = s
            .post(
                "/api/v1/schedules",
                json!({"name": missed, "cron": "0 2 1 1 *", "config": config,
                       "missed_runs": missed}),
            )
            .await;
        assert_eq!(status, 201, "{sc}");
        ids.push((
            sc["id"].as_str().unwrap().to_owned(),
            time(&sc["next_fire_at"]),
        ));
    }
    // Three years of downtime: slots 1, 2 and 3 passed; the tick comes 10 minutes after slot 3.
    let slot1 = ids[0].1;
    let slot3 = slot1
        .with_year(slot1.format("%Y").to_string().parse::<i32>().unwrap() + 2)
        .unwrap();
    let now = slot3 + chrono::Duration::minutes(10);
    assert_eq!(tick(&s, now).await, 1, "only run_once fires");
    let skip = get(&s, &ids[0].0).await;
    assert!(skip["last_slot"].is_null(), "{skip}");
    assert!(time(&skip["next_fire_at"]) > now);
    assert!(scans_of(&s, &ids[0].0).await.is_empty());
    let once = get(&s, &ids[1].0).await;
    assert_eq!(time(&once["last_slot"]), slot3, "the newest missed slot");
    assert!(time(&once["next_fire_at"]) > now);
    let scans = scans_of(&s, &ids[1].0).await;
    assert_eq!(scans.len(), 1, "{scans:?}");
    s.wait_state(scans[0]["id"].as_str().unwrap(), "completed", LONG)
        .await;
}
