//! Retention and garbage collection (issue #18): `argus_engine::retention::sweep` on the real
//! SQLite and PostgreSQL stores with a real local artifact folder and work folder, and
//! `argus admin gc` of the real binary against a data dir.
//!
//! Time is injected, never waited for: scans are expired by sweeping at a future instant, and
//! orphans are made old by setting their modification times back. The `admin gc` test uses the
//! command's hidden `--now` option for the same purpose.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use argus_core::artifact::{ArtifactKey, ArtifactMeta, ArtifactName, ArtifactStore};
use argus_core::bus::LocalEventBus;
use argus_core::finding::{FindingQuery, Severity};
use argus_core::ids::{OrgId, ScanId, TaskId};
use argus_core::queue::Queue;
use argus_core::retention::{OrgRetention, Retention};
use argus_core::scan::{NewScan, ScanAction};
use argus_core::store::Store;
use argus_core::task::{TaskReport, TaskStatus};
use argus_core::testkit::artifact_suite::stream_of;
use argus_core::testkit::store_suite::{config, finding, new_scan, org, task};
use argus_core::CoreError;
use argus_engine::retention::sweep;
use argus_engine::{Backends, Engine, EngineConfig};
use argus_store::local::LocalArtifactStore;
use argus_store::sqlite::{EmbeddedQueue, SqliteStore};
use argus_store::SqliteDb;
use chrono::Utc;
use tokio_util::sync::CancellationToken;

/// Sets the modification time of `path` and everything below it `age` back.
fn backdate(path: &Path, age: Duration) {
    let when = SystemTime::now() - age;
    let meta = std::fs::symlink_metadata(path).unwrap();
    if meta.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            backdate(&e.unwrap().path(), age);
        }
    }
    std::fs::File::open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

/// An ended scan of `o` with a finding, an artifact (record and file) and events.
async fn ended_with_results(store: &dyn Store, artifacts: &dyn ArtifactStore, o: &OrgId) -> ScanId {
    let scan = store.create_scan(new_scan(o, config())).await.unwrap();
    let t = task(scan.id, o, "a");
    store.start_scan(o, scan.id, vec![t.clone()]).await.unwrap();
    let name = ArtifactName::parse("out/report.txt").unwrap();
    let size = artifacts
        .put(
            &ArtifactKey {
                scan_id: scan.id,
                name: name.clone(),
            },
            stream_of(b"report".to_vec(), 3),
        )
        .await
        .unwrap();
    let mut r = TaskReport::status(&t, TaskStatus::Running);
    r.findings.push(finding("f", Severity::High));
    r.artifacts.push(ArtifactMeta {
        scan_id: scan.id,
        org_id: o.clone(),
        name,
        size,
        content_type: "text/plain".into(),
        created_at: Utc::now(),
    });
    store.record(vec![r]).await.unwrap();
    store
        .apply_action(o, scan.id, ScanAction::Stop)
        .await
        .unwrap();
    scan.id
}

/// An ended scan of `o` (derived from `source` when given) without results.
async fn ended(store: &dyn Store, o: &OrgId, source: Option<ScanId>) -> ScanId {
    let scan = store
        .create_scan(NewScan {
            source_scan_id: source,
            ..new_scan(o, config())
        })
        .await
        .unwrap();
    store
        .start_scan(o, scan.id, vec![task(scan.id, o, "a")])
        .await
        .unwrap();
    store
        .apply_action(o, scan.id, ScanAction::Stop)
        .await
        .unwrap();
    scan.id
}

fn not_found<T>(r: Result<T, CoreError>, what: &str) {
    match r {
        Err(CoreError::NotFound { .. }) => {}
        Err(e) => panic!("{what}: expected NotFound, got {e:?}"),
        Ok(_) => panic!("{what}: expected NotFound, got a value"),
    }
}

/// The whole story on one store: orphans first (swept at the real "now"), then expiry
/// (swept at instants past the retention), each as a dry run and for real.
async fn retention_story(store: Arc<dyn Store>, queue: Arc<dyn Queue>, dir: &Path) {
    let artifacts = Arc::new(LocalArtifactStore::new(dir.join("artifacts")).unwrap());
    let work = dir.join("work");
    let mut retention = Retention::default();
    retention
        .orgs
        .insert("long".into(), OrgRetention { days: Some(30) });
    let engine = Engine::new(
        Backends {
            store: store.clone(),
            queue,
            artifacts: artifacts.clone(),
            bus: Arc::new(LocalEventBus::default()),
        },
        argus_scanners::registry_with(&argus_scanners::RegistryOptions {
            noop: true,
            ..Default::default()
        })
        .unwrap(),
        EngineConfig {
            work_root: work.clone(),
            retention,
            ..EngineConfig::default()
        },
    );
    let (acme, long) = (org("acme"), org("long"));
    let two_hours = Duration::from_secs(2 * 3600);

    // Orphans: a folder of a scan the store never knew (old, and recent), task work folders
    // (old, recent) and a folder that is not a task's.
    let old_orphan = ScanId::new();
    let recent_orphan = ScanId::new();
    for s in [old_orphan, recent_orphan] {
        artifacts
            .put(
                &ArtifactKey {
                    scan_id: s,
                    name: ArtifactName::parse("private/x/blob").unwrap(),
                },
                stream_of(vec![7u8; 1000], 100),
            )
            .await
            .unwrap();
    }
    backdate(
        &artifacts.root().join("scans").join(old_orphan.to_string()),
        two_hours,
    );
    let old_work = work.join(TaskId::new().to_string());
    let recent_work = work.join(TaskId::new().to_string());
    let not_a_task = work.join("keep-me");
    for d in [&old_work, &recent_work, &not_a_task] {
        std::fs::create_dir_all(d.join("repo")).unwrap();
        std::fs::write(d.join("repo/file"), vec![1u8; 500]).unwrap();
    }
    backdate(&old_work, two_hours);
    backdate(&not_a_task, two_hours);

    // Scans: an old one with results, a live one, the source of a pending clean scan, and an
    // ended scan of an org kept 30 days.
    let old = ended_with_results(&*store, &*artifacts, &acme).await;
    let running = store
        .create_scan(new_scan(&acme, config()))
        .await
        .unwrap()
        .id;
    store
        .start_scan(&acme, running, vec![task(running, &acme, "r")])
        .await
        .unwrap();
    let source = ended(&*store, &acme, None).await;
    let clean = store
        .create_scan(NewScan {
            source_scan_id: Some(source),
            ..new_scan(&acme, config())
        })
        .await
        .unwrap()
        .id;
    let kept = ended(&*store, &long, None).await;

    // Now: nothing has expired; the old orphans would go, a dry run changes nothing.
    let now = Utc::now();
    let dry = sweep(&engine, now, true).await.unwrap();
    assert!(dry.dry_run && dry.scans.is_empty(), "{dry:?}");
    assert_eq!(
        dry.orphan_artifacts
            .iter()
            .map(|o| (o.scan_id, o.objects, o.bytes))
            .collect::<Vec<_>>(),
        vec![(old_orphan, 1, 1000)]
    );
    assert_eq!(
        dry.work_folders
            .iter()
            .map(|f| (f.path.clone(), f.bytes))
            .collect::<Vec<_>>(),
        vec![(old_work.clone(), 500)]
    );
    assert_eq!(dry.bytes, 1500);
    assert!(old_work.exists());
    assert!(artifacts
        .list_scans()
        .await
        .unwrap()
        .iter()
        .any(|s| s.scan_id == old_orphan));

    let done = sweep(&engine, now, false).await.unwrap();
    assert_eq!(
        (
            done.orphan_artifacts.len(),
            done.work_folders.len(),
            done.bytes
        ),
        (1, 1, 1500)
    );
    let listed: Vec<ScanId> = artifacts
        .list_scans()
        .await
        .unwrap()
        .iter()
        .map(|s| s.scan_id)
        .collect();
    assert!(!listed.contains(&old_orphan), "old orphan removed");
    assert!(listed.contains(&recent_orphan), "recent orphan kept");
    assert!(listed.contains(&old), "a known scan's folder kept");
    assert!(!old_work.exists(), "old work folder removed");
    assert!(recent_work.exists() && not_a_task.exists());
    assert!(
        !std::fs::read_dir(&work).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.')),
        "nothing left behind"
    );

    // Eight days on: the old scan has expired (7 days), the long org's has not (30), the live
    // scan and the pending clean scan's source never do.
    let later = Utc::now() + chrono::Duration::days(8);
    let dry = sweep(&engine, later, true).await.unwrap();
    assert_eq!(
        dry.scans.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![old]
    );
    assert_eq!(dry.scans_by_org.get("acme"), Some(&1));
    assert_eq!(dry.scans[0].bytes, 6, "the artifact's size");
    store.get_scan(&acme, old).await.unwrap();

    let done = sweep(&engine, later, false).await.unwrap();
    assert_eq!(
        done.scans.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![old]
    );
    not_found(store.get_scan(&acme, old).await, "expired scan");
    // The janitor clears its rows and then its files.
    argus_engine::monitor::clean_up(&engine, None, &CancellationToken::new())
        .await
        .unwrap();
    assert!(store.pending_cleanups(100).await.unwrap().is_empty());
    not_found(
        store
            .list_findings(&acme, old, &FindingQuery::default())
            .await,
        "findings",
    );
    not_found(store.list_artifacts(&acme, old).await, "artifact records");
    not_found(store.events_after(&acme, Some(old), 0, 100).await, "events");
    // The org-wide log hides a deleted scan's events only until the janitor is done: after it
    // none may be left.
    assert!(store
        .events_after(&acme, None, 0, 1000)
        .await
        .unwrap()
        .iter()
        .all(|e| e.scan_id != old));
    not_found(
        artifacts
            .get(&ArtifactKey {
                scan_id: old,
                name: ArtifactName::parse("out/report.txt").unwrap(),
            })
            .await,
        "artifact file",
    );
    for id in [running, source, clean] {
        store.get_scan(&acme, id).await.unwrap();
    }
    store.get_scan(&long, kept).await.unwrap();

    // A month on the long org's scan goes too; the source stays while its clean is pending,
    // and goes once the clean scan has ended.
    let month = Utc::now() + chrono::Duration::days(31);
    let done = sweep(&engine, month, false).await.unwrap();
    assert_eq!(
        done.scans.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![kept]
    );
    assert_eq!(done.scans_by_org.get("long"), Some(&1));
    store.get_scan(&acme, source).await.unwrap();
    store
        .start_scan(&acme, clean, vec![task(clean, &acme, "c")])
        .await
        .unwrap();
    store
        .apply_action(&acme, clean, ScanAction::Stop)
        .await
        .unwrap();
    let done = sweep(&engine, month, false).await.unwrap();
    let mut went: Vec<ScanId> = done.scans.iter().map(|s| s.id).collect();
    went.sort();
    let mut expected = vec![source, clean];
    expected.sort();
    assert_eq!(went, expected);
    store.get_scan(&acme, running).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("argus.db")).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::new(db.clone()).await.unwrap());
    let queue: Arc<dyn Queue> = Arc::new(EmbeddedQueue::new(db).await.unwrap());
    retention_story(store, queue, dir.path()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_on_postgres() {
    use argus_store::postgres::{PgOptions, PgStore};
    let Some(base) = argus_core::testkit::service_url("ARGUS_TEST_POSTGRES_URL") else {
        return;
    };
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    let schema = format!("argus_ret_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let store: Arc<dyn Store> = Arc::new(
        PgStore::connect(
            &url,
            PgOptions {
                max_connections: 5,
                migrate: true,
            },
        )
        .await
        .unwrap(),
    );
    // The janitor's queue purge needs a queue; the embedded one on its own file will do.
    let dir = tempfile::tempdir().unwrap();
    let qdb = SqliteDb::open(&dir.path().join("queue.db")).await.unwrap();
    let queue: Arc<dyn Queue> = Arc::new(EmbeddedQueue::new(qdb).await.unwrap());
    retention_story(store, queue, dir.path()).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
}

/// `argus admin gc --dry-run` lists an old scan of the data dir (judged at a hidden `--now`
/// nine days on) and changes nothing; without `--dry-run` the scan is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_gc_dry_run_then_for_real() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let acme = org("acme");
    let old = {
        let db = SqliteDb::open(&data.join("argus.db")).await.unwrap();
        let store = SqliteStore::new(db.clone()).await.unwrap();
        let id = ended(&store, &acme, None).await;
        store.shutdown().await;
        drop(store);
        db.close().await;
        id
    };
    let at = (Utc::now() + chrono::Duration::days(9)).to_rfc3339();
    let gc = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_argus"))
            .args(["admin", "gc", "--now", &at, "--data-dir"])
            .arg(&data)
            .args(extra)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "argus admin gc {extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let table = gc(&["--dry-run"]);
    assert!(table.contains("dry run"), "{table}");
    assert!(table.contains(&old.to_string()), "{table}");
    assert!(table.contains("acme"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&gc(&["--dry-run", "--json"])).unwrap();
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["scans"][0]["id"], old.to_string());
    assert_eq!(json["scans_by_org"]["acme"], 1);
    // Still there after the dry runs: it is listed again, then goes for real.
    let json: serde_json::Value = serde_json::from_str(&gc(&["--json"])).unwrap();
    assert_eq!(json["dry_run"], false);
    assert_eq!(json["scans"][0]["id"], old.to_string());
    let json: serde_json::Value = serde_json::from_str(&gc(&["--dry-run", "--json"])).unwrap();
    assert_eq!(json["scans"].as_array().unwrap().len(), 0, "{json}");
}
