//! `argus admin backup` / `argus admin restore` against a real `argus serve`:
//! - a backup taken while a scan runs and writes is a consistent snapshot (the copy's counters
//!   match its rows, and it caught the scan mid-way);
//! - restore is refused while a server has the database open, and over an existing database
//!   without `--force`;
//! - restored into a fresh data dir, a new server lists the scan and its findings, and — the
//!   embedded queue being in the same database — finishes it with every task counted once.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{all_fingerprints, serve, status, wait_for};

const CHILDREN: u64 = 600;

fn admin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_argus"))
        .arg("admin")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run argus admin")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `(state, done, findings counter, finding rows)` of the one scan in a database file, read
/// read-only beside everything else.
async fn snapshot(db: &Path, id: &str) -> (String, i64, i64, i64) {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .immutable(true)
        .connect()
        .await
        .unwrap();
    let (state, done, findings): (String, i64, i64) =
        sqlx::query_as("SELECT state, done, findings FROM scans WHERE id = ?1")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM findings WHERE scan_id = ?1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    (state, done, findings, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_serving_then_restore_into_a_fresh_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let fresh = dir.path().join("fresh");
    let copy = dir.path().join("backups").join("argus.db");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    let http = reqwest::Client::new();

    let mut server = serve(&live, 2, &[]);
    let body = serde_json::json!({
        "name": "backed up",
        "config": {
            "scanners": [{"name": "noop", "params": {
                "fanout": CHILDREN,
                "child": {"sleep_ms": 20, "findings": 1}
            }}],
            "targets": [{"kind": "url", "value": "noop://root"}]
        },
        "start": true
    });
    let id = common::create_scan(&http, &server.base, &body).await;
    let base = server.base.clone();
    let before = wait_for(Duration::from_secs(60), "some findings", || {
        let (http, base, id) = (http.clone(), base.clone(), id.clone());
        async move {
            let s = status(&http, &base, &id).await?;
            let n = s["progress"]["findings"].as_u64()?;
            (n >= 20).then_some(n)
        }
    })
    .await;

    // Backup while the scan writes.
    let live_dir = live.display().to_string();
    let copy_arg = copy.display().to_string();
    let out = admin(&["backup", &copy_arg, "--data-dir", &live_dir]);
    assert!(out.status.success(), "backup failed: {}", stderr(&out));
    assert!(stderr(&out).contains("backed up"), "{}", stderr(&out));
    // Never overwrites.
    let again = admin(&["backup", &copy_arg, "--data-dir", &live_dir]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("exists"), "{}", stderr(&again));

    // Consistent and mid-way: counters match the rows they count.
    let (state, done, findings, rows) = snapshot(&copy, &id).await;
    assert_eq!(findings, rows, "findings counter vs rows in the copy");
    assert!(
        u64::try_from(rows).unwrap() >= before,
        "{rows} < {before} seen before the backup"
    );
    assert!(
        state == "running" && u64::try_from(done).unwrap() < CHILDREN + 1,
        "the backup did not catch the scan mid-way ({state}, {done} done); make it longer"
    );

    // Restore is refused while the server has the database open, even with --force.
    let out = admin(&["restore", &copy_arg, "--data-dir", &live_dir, "--force"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("stop it first"), "{}", stderr(&out));
    // Only an Argus database is restored.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all, not even close to one").unwrap();
    let fresh_dir = fresh.display().to_string();
    let out = admin(&[
        "restore",
        &junk.display().to_string(),
        "--data-dir",
        &fresh_dir,
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a usable Argus backup"),
        "{}",
        stderr(&out)
    );
    assert!(!fresh.join("argus.db").exists());

    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let out = admin(&["restore", &copy_arg, "--data-dir", &fresh_dir]);
    assert!(out.status.success(), "restore failed: {}", stderr(&out));
    let out = admin(&["restore", &copy_arg, "--data-dir", &fresh_dir]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    let out = admin(&["restore", &copy_arg, "--data-dir", &fresh_dir, "--force"]);
    assert!(
        out.status.success(),
        "restore --force failed: {}",
        stderr(&out)
    );

    // A new server on the restored data dir lists the scan and its findings, then finishes it.
    let server = serve(&fresh, 4, &[]);
    let list: serde_json::Value = http
        .get(format!("{}/scans", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == id.as_str()),
        "{list}"
    );
    let page: serde_json::Value = http
        .get(format!("{}/scans/{id}/findings", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!page["items"].as_array().unwrap().is_empty(), "{page}");
    let done = wait_for(
        Duration::from_secs(120),
        "the restored scan to finish",
        || {
            let (http, base, id) = (http.clone(), server.base.clone(), id.clone());
            async move {
                let s = status(&http, &base, &id).await?;
                (s["state"] == "completed").then_some(s)
            }
        },
    )
    .await;
    assert_eq!(done["progress"]["done"], CHILDREN + 1, "{done}");
    assert_eq!(done["progress"]["findings"], CHILDREN, "{done}");
    assert_eq!(
        all_fingerprints(&http, &server.base, &id).await.len() as u64,
        CHILDREN
    );
}

#[test]
fn postgres_backup_points_at_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    for cmd in ["backup", "restore"] {
        let out = Command::new(env!("CARGO_BIN_EXE_argus"))
            .args(["admin", cmd, "x.dump", "--data-dir", &data])
            .env("ARGUS_STORE__URL", "postgres://argus@127.0.0.1:1/argus")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let text = stderr(&out);
        assert!(
            text.contains(if cmd == "backup" {
                "pg_dump"
            } else {
                "pg_restore"
            }),
            "{text}"
        );
    }
}
