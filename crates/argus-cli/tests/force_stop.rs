//! `POST /scans/{id}/stop?force=true` ends a scan whose worker is gone, from another process:
//! - embedded: the `argus serve` running the scan's task is SIGKILLed; a new `argus serve` on
//!   the same data dir force-stops it at once (`cancelled`, reason `force_stopped`);
//! - distributed (PostgreSQL + RabbitMQ): the only `argus worker` is SIGKILLed mid-task; the API
//!   process (`--workers 0`) force-stops the scan nobody runs any more.
//!
//! Also: a plain stop of a scan that never started is still a 409, while `force=true` ends it;
//! `force` must be `true` or `false` (422 otherwise).
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use serde_json::{json, Value};

use common::{serve, status, wait_for};

/// A scan of one `noop` task that sleeps for ten minutes.
fn hanging() -> Value {
    json!({
        "name": "hangs",
        "config": {
            "scanners": [{"name": "noop", "params": {"sleep_ms": 600_000}}],
            "targets": [{"kind": "url", "value": "noop://root"}]
        },
        "start": true
    })
}

async fn stop(http: &reqwest::Client, base: &str, id: &str, query: &str) -> (u16, Value) {
    let r = http
        .post(format!("{base}/scans/{id}/stop{query}"))
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap())
}

/// Waits until the scan's task runs (the scan is `running`).
async fn wait_running(http: &reqwest::Client, base: &str, id: &str) {
    wait_for(Duration::from_secs(60), "the scan to run", || {
        let (http, base, id) = (http.clone(), base.to_owned(), id.to_owned());
        async move {
            let s = status(&http, &base, &id).await?;
            (s["state"] == "running").then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_stop_ends_a_scan_whose_server_was_killed() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let mut first = serve(dir.path(), 1, &[]);
    let id = common::create_scan(&http, &first.base, &hanging()).await;
    wait_running(&http, &first.base, &id).await;
    first.child.kill().unwrap(); // SIGKILL: the task's process is gone mid-run
    first.child.wait().unwrap();

    let second = serve(dir.path(), 1, &[]);
    let (code, body) = stop(&http, &second.base, &id, "?force=maybe").await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["path"], "/force", "{body}");

    let (code, scan) = stop(&http, &second.base, &id, "?force=true").await;
    assert_eq!(code, 200, "{scan}");
    assert_eq!(scan["state"], "cancelled", "{scan}");
    assert_eq!(scan["reason"], "force_stopped", "{scan}");
    assert!(scan["finished_at"].is_string(), "{scan}");
    // Ended for good: a second forced stop is a conflict naming the state.
    let (code, body) = stop(&http, &second.base, &id, "?force=true").await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["state"], "cancelled", "{body}");

    // A scan that never started: a plain stop still refuses it, a forced one ends it.
    let mut created = hanging();
    created["start"] = json!(false);
    let fresh = common::create_scan(&http, &second.base, &created).await;
    let (code, body) = stop(&http, &second.base, &fresh, "").await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["state"], "created", "{body}");
    let (code, scan) = stop(&http, &second.base, &fresh, "?force=false").await;
    assert_eq!(code, 409, "{scan}");
    let (code, scan) = stop(&http, &second.base, &fresh, "?force=true").await;
    assert_eq!(code, 200, "{scan}");
    assert_eq!(
        (scan["state"].as_str(), scan["reason"].as_str()),
        (Some("cancelled"), Some("force_stopped"))
    );

    // A plain stop keeps its behaviour: immediate, reason `stopped`.
    let plain = common::create_scan(&http, &second.base, &hanging()).await;
    wait_running(&http, &second.base, &plain).await;
    let (code, scan) = stop(&http, &second.base, &plain, "").await;
    assert_eq!(code, 200, "{scan}");
    assert_eq!(
        (scan["state"].as_str(), scan["reason"].as_str()),
        (Some("cancelled"), Some("stopped"))
    );
}

#[cfg(all(feature = "postgres", feature = "amqp"))]
mod distributed {
    use super::*;
    use common::spawn_argus;
    use std::process::Command;

    fn psql(url: &str, sql: &str) {
        let out = Command::new("psql")
            .arg(url)
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
            .output()
            .expect("psql is needed to create the test database");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The same URL pointing at another database.
    fn with_database(url: &str, db: &str) -> String {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (url, String::new()),
        };
        let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
        let head = match base[authority_start..].find('/') {
            Some(i) => &base[..authority_start + i],
            None => base,
        };
        format!("{head}/{db}{query}")
    }

    /// Drops the test database when the test ends, however it ends.
    struct Db {
        admin: String,
        name: String,
    }

    impl Drop for Db {
        fn drop(&mut self) {
            let _ = Command::new("psql")
                .arg(&self.admin)
                .args([
                    "-q",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
                ])
                .output();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn force_stop_ends_a_scan_whose_worker_was_killed() {
        let (Some(pg), Some(amqp)) = (
            argus_core::testkit::service_url("ARGUS_TEST_POSTGRES_URL"),
            argus_core::testkit::service_url("ARGUS_TEST_AMQP_URL"),
        ) else {
            return;
        };
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        let name = format!("argus_fs_{}", &suffix[suffix.len() - 12..]);
        psql(&pg, &format!("CREATE DATABASE {name}"));
        let _db = Db {
            admin: pg.clone(),
            name: name.clone(),
        };
        let dir = tempfile::tempdir().unwrap();
        let env: Vec<(String, String)> = vec![
            ("ARGUS_STORE__URL".into(), with_database(&pg, &name)),
            ("ARGUS_QUEUE__URL".into(), amqp),
            ("ARGUS_QUEUE__NAME".into(), format!("argus.fs.{suffix}")),
            (
                "ARGUS_ARTIFACTS__URL".into(),
                format!("file://{}", dir.path().join("artifacts").display()),
            ),
        ];
        let api_dir = dir.path().join("api").display().to_string();
        let worker_dir = dir.path().join("worker").display().to_string();
        let api = spawn_argus(
            "api",
            &[
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "0",
                "--data-dir",
                &api_dir,
            ],
            &env,
            true,
        );
        let base = api.base.clone().unwrap();
        let mut worker = spawn_argus(
            "worker",
            &["worker", "--workers", "1", "--data-dir", &worker_dir],
            &env,
            false,
        );
        let http = reqwest::Client::new();
        // The API accepts the scan once the worker advertised noop.
        let id = wait_for(Duration::from_secs(60), "the worker to advertise", || {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let r = http
                    .post(format!("{base}/scans"))
                    .json(&hanging())
                    .send()
                    .await
                    .ok()?;
                if r.status() != 201 {
                    return None;
                }
                let v: Value = r.json().await.ok()?;
                Some(v["id"].as_str()?.to_owned())
            }
        })
        .await;
        wait_running(&http, &base, &id).await;
        worker.child.kill().unwrap(); // SIGKILL: no worker is left to finish or cancel it
        worker.child.wait().unwrap();

        let (code, scan) = stop(&http, &base, &id, "?force=true").await;
        assert_eq!(code, 200, "{scan}");
        assert_eq!(scan["state"], "cancelled", "{scan}");
        assert_eq!(scan["reason"], "force_stopped", "{scan}");
        let s = status(&http, &base, &id).await.unwrap();
        assert_eq!(s["state"], "cancelled", "{s}");
        assert_eq!(s["progress"]["done"], 0, "{s}");
    }
}
