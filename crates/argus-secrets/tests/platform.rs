//! The `secrets` scanner inside the platform: a real `argus_engine::Engine` over the embedded
//! backends (SQLite store, embedded queue, local artifacts), scanning a git repository built
//! here and cloned through the process door from a `file://` URL, the same repository as a local
//! path, and a plain folder as a `file://` location.
//!
//! Checked: exact findings (rule, path, introducing commit), no secret value in any stored
//! finding, event or byte of the database, no listed or downloadable copy of a repository, a
//! sealed (AES-256-GCM) private copy per repository only when a key is configured, which opens to
//! a verifiable bundle and goes with the scan, private files never listed and the private prefix
//! refused for artifacts, no duplicate findings when a task is delivered twice, and a prompt stop
//! during a hanging clone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::artifact::ArtifactKey;
use argus_core::bus::LocalEventBus;
use argus_core::finding::{Finding, FindingQuery};
use argus_core::ids::Principal;
use argus_core::scan::{Priority, Scan, ScanAction, ScanConfig, ScanState, ScannerSpec, Scope};
use argus_core::scanner::{Emission, Emitter, ScannerRegistry, TaskContext};
use argus_core::store::Store;
use argus_core::target::{Target, TargetKind};
use argus_core::task::{TaskReport, TaskStatus};
use argus_engine::services::CreateScan;
use argus_engine::{Backends, Engine, EngineConfig};
use argus_scanners::process::{self, ProcessSpec};
use argus_secrets::scanner::{repo_copy_name, SecretsScanner, SECRETS};
use argus_secrets::sealed::RepoCopyKey;
use argus_store::local::LocalArtifactStore;
use argus_store::sqlite::EmbeddedQueue;
use argus_store::sqlite::SqliteStore;
use argus_store::SqliteDb;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

// Assembled with concat! so this source file does not itself contain the values.
const AWS_ID: &str = concat!("AKIA", "QYLPMN5HHHFPZAM2");
const AWS_SECRET: &str = concat!("t8Lq2V", "x9ZrP4mK7cW1nB6yH3jD5fG0sA2eR8uQ4o");
const GH_TOKEN: &str = concat!("ghp_", "R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xx");
const SECRETS_PLANTED: [&str; 3] = [AWS_ID, AWS_SECRET, GH_TOKEN];

struct Harness {
    engine: Arc<Engine>,
    /// The engine's store, for what these tests check behind the services.
    store: Arc<dyn Store>,
    who: Principal,
    shutdown: CancellationToken,
    dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn harness(scanner: SecretsScanner, lease: Duration, workers: bool) -> Harness {
    harness_with(Arc::new(scanner), lease, workers).await
}

async fn harness_with(
    scanner: Arc<dyn argus_core::scanner::Scanner>,
    lease: Duration,
    workers: bool,
) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("argus.db")).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::new(db.clone()).await.unwrap());
    let backends = Backends {
        store: store.clone(),
        queue: Arc::new(EmbeddedQueue::new(db).await.unwrap()),
        artifacts: Arc::new(LocalArtifactStore::new(dir.path().join("artifacts")).unwrap()),
        bus: Arc::new(LocalEventBus::default()),
    };
    let config = EngineConfig {
        concurrency: 2,
        lease,
        work_root: dir.path().join("work"),
        retry_backoff: Duration::from_millis(20),
        monitor_interval: Duration::from_millis(100),
        // The repositories and folders these tests scan live in temporary folders.
        local_roots: vec![std::env::temp_dir()],
        ..EngineConfig::default()
    };
    let mut registry = ScannerRegistry::new();
    registry.register(scanner);
    let engine = Engine::new(backends, registry, config);
    let shutdown = CancellationToken::new();
    argus_engine::relay::spawn(engine.clone(), shutdown.clone());
    argus_engine::monitor::spawn(engine.clone(), shutdown.clone());
    if workers {
        argus_engine::worker::spawn(engine.clone(), shutdown.clone());
    }
    Harness {
        engine,
        store,
        who: Principal::local("acme", "alice").unwrap(),
        shutdown,
        dir,
    }
}

fn config(targets: Vec<Target>) -> ScanConfig {
    ScanConfig {
        scanners: vec![ScannerSpec {
            name: SECRETS.into(),
            params: serde_json::json!({}),
        }],
        targets,
        recursion_depth: 0,
        max_duration: None,
        max_results: None,
        priority: Priority::Medium,
        max_attempts: 3,
        scope: Scope::default(),
        labels: Default::default(),
        rate_limit: None,
        max_tasks: None,
    }
}

async fn create(h: &Harness, config: ScanConfig) -> Scan {
    h.engine
        .scans()
        .create(
            &h.who,
            CreateScan {
                name: None,
                config,
                template_id: None,
                start: true,
            },
        )
        .await
        .unwrap()
}

async fn wait_state(h: &Harness, scan: &Scan, want: ScanState, timeout: Duration) -> Scan {
    let deadline = Instant::now() + timeout;
    loop {
        let s = h.store.get_scan(&h.who.org, scan.id).await.unwrap();
        if s.state == want {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "scan stuck in {:?} (wanted {want:?}): {:?}",
            s.state,
            s.progress
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn findings(h: &Harness, scan: &Scan) -> Vec<Finding> {
    h.store
        .list_findings(
            &h.who.org,
            scan.id,
            &FindingQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items
}

/// Runs git through the door with a fixed identity and no user or system config.
async fn git(dir: &Path, args: &[&str]) -> String {
    let mut spec = ProcessSpec::new("git")
        .args(["-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"])
        .args(args.iter().copied())
        .timeout(Duration::from_secs(60));
    spec.cwd = Some(dir.to_path_buf());
    for (k, v) in [
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_AUTHOR_NAME", "Alice"),
        ("GIT_AUTHOR_EMAIL", "alice@example.com"),
        ("GIT_COMMITTER_NAME", "Alice"),
        ("GIT_COMMITTER_EMAIL", "alice@example.com"),
        ("GIT_AUTHOR_DATE", "1704067200 +0000"),
        ("GIT_COMMITTER_DATE", "1704067200 +0000"),
    ] {
        spec.env.insert(k.into(), v.into());
    }
    let out = process::run(spec, &CancellationToken::new()).await.unwrap();
    assert!(
        out.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

struct Repo {
    dir: tempfile::TempDir,
    /// Introduces the AWS key pair (deleted again by the next commit).
    c1: String,
    /// On branch `feature` only: introduces the GitHub token.
    f1: String,
    main: String,
}

/// main: c1 (AWS key pair + a documented placeholder key), c2 (the config deleted);
/// feature (from c2): f1 (GitHub token).
async fn make_repo() -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    git(r, &["init", "-q", "-b", "main"]).await;
    write(
        r,
        "README.md",
        "# demo\nUse AKIAIOSFODNN7EXAMPLE as in the AWS docs.\n",
    );
    write(
        r,
        "config/app.env",
        &format!("# app config\nAWS_ACCESS_KEY_ID={AWS_ID}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n"),
    );
    git(r, &["add", "-A"]).await;
    git(r, &["commit", "-q", "-m", "add config"]).await;
    let c1 = git(r, &["rev-parse", "HEAD"]).await;
    std::fs::remove_file(r.join("config/app.env")).unwrap();
    write(r, "src/main.rs", "fn main() {}\n");
    git(r, &["add", "-A"]).await;
    git(r, &["commit", "-q", "-m", "remove config"]).await;
    let main = git(r, &["rev-parse", "HEAD"]).await;
    git(r, &["checkout", "-q", "-b", "feature"]).await;
    write(
        r,
        "settings.py",
        &format!("import os\nGITHUB_TOKEN = \"{GH_TOKEN}\"\n"),
    );
    git(r, &["add", "-A"]).await;
    git(r, &["commit", "-q", "-m", "settings"]).await;
    let f1 = git(r, &["rev-parse", "HEAD"]).await;
    git(r, &["checkout", "-q", "main"]).await;
    Repo { dir, c1, f1, main }
}

fn file_url(p: &Path) -> String {
    url::Url::from_directory_path(p).unwrap().to_string()
}

/// (rule, path, first commit) of the findings of one target, sorted.
fn shape(all: &[Finding], target: &Target) -> Vec<(String, String, Option<String>)> {
    let mut v: Vec<_> = all
        .iter()
        .filter(|f| &f.target == target)
        .map(|f| {
            (
                f.data["rule_id"].as_str().unwrap().to_owned(),
                f.location.path.clone().unwrap(),
                f.location.commit.clone(),
            )
        })
        .collect();
    v.sort();
    v
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    for s in SECRETS_PLANTED {
        assert!(
            !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
            "{what} contains a planted secret value"
        );
    }
}

async fn fetch_artifact(h: &Harness, scan: &Scan, key_name: &str, to: &Path) {
    let key = ArtifactKey {
        scan_id: scan.id,
        name: argus_core::artifact::ArtifactName::parse(key_name).unwrap(),
    };
    let mut stream = h.engine.artifacts().get(&key).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    std::fs::write(to, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_clone_local_repo_and_folder_end_to_end() {
    let repo = make_repo().await;
    let folder = tempfile::tempdir().unwrap();
    write(
        folder.path(),
        "deploy/settings.py",
        &format!("GITHUB_TOKEN = \"{GH_TOKEN}\"\n"),
    );
    write(
        folder.path(),
        "deploy/readme.txt",
        "key: AKIAIOSFODNN7EXAMPLE\n",
    );

    let h = harness(SecretsScanner::new(), Duration::from_secs(30), true).await;
    let cloned = Target::parse(TargetKind::Repo, &file_url(repo.dir.path())).unwrap();
    let local = Target::parse(TargetKind::Repo, &repo.dir.path().to_string_lossy()).unwrap();
    let location = Target::parse(TargetKind::Location, &file_url(folder.path())).unwrap();
    let scan = create(
        &h,
        config(vec![cloned.clone(), local.clone(), location.clone()]),
    )
    .await;
    let done = wait_state(&h, &scan, ScanState::Completed, Duration::from_secs(180)).await;
    assert_eq!(done.progress.done, 3, "{:?}", done.progress);
    assert_eq!(done.progress.failed, 0, "{:?}", done.progress);

    let all = findings(&h, &scan).await;
    let s = |x: &str| x.to_owned();
    let repo_shape = vec![
        (
            s("aws-access-key-id"),
            s("config/app.env"),
            Some(repo.c1.clone()),
        ),
        (
            s("aws-access-key-pair"),
            s("config/app.env"),
            Some(repo.c1.clone()),
        ),
        (
            s("aws-secret-access-key"),
            s("config/app.env"),
            Some(repo.c1.clone()),
        ),
        (
            s("github-pat-classic"),
            s("settings.py"),
            Some(repo.f1.clone()),
        ),
    ];
    assert_eq!(shape(&all, &cloned), repo_shape, "cloned repo");
    assert_eq!(shape(&all, &local), repo_shape, "local repo");
    assert_eq!(
        shape(&all, &location),
        vec![(s("github-pat-classic"), s("deploy/settings.py"), None)]
    );
    assert_eq!(all.len(), 9);
    assert_eq!(done.progress.findings, 9);
    for f in &all {
        assert_eq!(f.kind, "secret");
        assert_eq!(f.scanner, SECRETS);
        let d = f.secret.as_ref().expect("digest kept");
        assert_eq!(d.sha256, f.data["sha256"]);
        assert!(
            SECRETS_PLANTED
                .iter()
                .any(|v| hex::encode(Sha256::digest(v.as_bytes())) == d.sha256),
            "digest is of a planted secret"
        );
        assert!(f.data["confidence"].is_string() && f.data["preview"].is_string());
        if f.target.kind() == TargetKind::Repo {
            assert_eq!(f.data["author"], "Alice");
            assert!(f.data["date"].is_string());
        }
    }

    // Never the secret value: not in findings, not in events, not anywhere in the database.
    assert_no_secret("findings", serde_json::to_string(&all).unwrap().as_bytes());
    let events = h
        .store
        .events_after(&h.who.org, Some(scan.id), 0, 10_000)
        .await
        .unwrap();
    assert!(!events.is_empty());
    assert_no_secret("events", serde_json::to_string(&events).unwrap().as_bytes());
    let mut db_bytes = Vec::new();
    for e in std::fs::read_dir(h.dir.path()).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with("argus.db") {
            let bytes = std::fs::read(e.path()).unwrap();
            assert_no_secret(&e.path().display().to_string(), &bytes);
            db_bytes.extend_from_slice(&bytes);
        }
    }
    // Positive control: the grep reads the stored findings (their digests are in there).
    let digest = hex::encode(Sha256::digest(GH_TOKEN.as_bytes()));
    assert!(
        db_bytes
            .windows(digest.len())
            .any(|w| w == digest.as_bytes()),
        "database files do not hold the findings"
    );

    // No repository copy key configured: no copy of either repository, listed or private.
    let arts = h.store.list_artifacts(&h.who.org, scan.id).await.unwrap();
    assert!(arts.is_empty(), "{arts:?}");
    for t in [&cloned, &local] {
        let key = ArtifactKey {
            scan_id: scan.id,
            name: repo_copy_name(t).unwrap(),
        };
        assert!(
            h.engine.artifacts().get(&key).await.is_err(),
            "copy kept without a key"
        );
    }
}

fn test_key() -> (String, RepoCopyKey) {
    let text = hex::encode([0x5a_u8; 32]);
    let key = RepoCopyKey::parse(&text).unwrap();
    (text, key)
}

/// All regular files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_copy_is_sealed_private_and_deleted_with_the_scan() {
    let repo = make_repo().await;
    let (_, key) = test_key();
    let h = harness(
        SecretsScanner::new().with_repo_copy_key(key.clone()),
        Duration::from_secs(30),
        true,
    )
    .await;
    let cloned = Target::parse(TargetKind::Repo, &file_url(repo.dir.path())).unwrap();
    let local = Target::parse(TargetKind::Repo, &repo.dir.path().to_string_lossy()).unwrap();
    let scan = create(&h, config(vec![cloned.clone(), local.clone()])).await;
    let done = wait_state(&h, &scan, ScanState::Completed, Duration::from_secs(180)).await;
    assert_eq!((done.progress.done, done.progress.failed), (2, 0));

    // Never listed (so never served: the API serves only listed artifacts, and refuses the
    // private prefix outright).
    let arts = h.store.list_artifacts(&h.who.org, scan.id).await.unwrap();
    assert!(arts.is_empty(), "{arts:?}");

    // Kept sealed: no secret in the stored bytes, and it opens to a complete bundle.
    let scratch = tempfile::tempdir().unwrap();
    for (i, t) in [&cloned, &local].into_iter().enumerate() {
        let sealed = scratch.path().join(format!("c{i}.sealed"));
        fetch_artifact(&h, &scan, repo_copy_name(t).unwrap().as_str(), &sealed).await;
        let bytes = std::fs::read(&sealed).unwrap();
        assert!(bytes.starts_with(argus_secrets::sealed::MAGIC));
        assert_no_secret("sealed copy", &bytes);
        let plain = scratch.path().join(format!("c{i}.bundle"));
        argus_secrets::sealed::open_file(&key, &sealed, &plain).unwrap();
        // Positive control: the opened bundle does hold the history, secrets included.
        let opened = std::fs::read(&plain).unwrap();
        assert!(opened.starts_with(b"# v2 git bundle") || opened.starts_with(b"# v3 git bundle"));
        let p = plain.to_string_lossy().into_owned();
        git(repo.dir.path(), &["bundle", "verify", "-q", &p]).await;
        let heads = git(repo.dir.path(), &["bundle", "list-heads", &p]).await;
        assert!(
            heads.contains(&format!("{} refs/heads/main", repo.main)),
            "{heads}"
        );
        assert!(
            heads.contains(&format!("{} refs/heads/feature", repo.f1)),
            "{heads}"
        );
        let wrong = RepoCopyKey::parse(&hex::encode([1u8; 32])).unwrap();
        assert!(argus_secrets::sealed::open_file(&wrong, &sealed, &plain).is_err());
    }
    // No plaintext bundle (or key) left behind anywhere on the server's disk.
    for f in files_under(h.dir.path()) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name != "repo.bundle",
            "plaintext bundle left at {}",
            f.display()
        );
        if !name.starts_with("argus.db") {
            assert_no_secret(&f.display().to_string(), &std::fs::read(&f).unwrap());
        }
    }

    // Deleted with the scan.
    h.engine.scans().delete(&h.who, scan.id).await.unwrap();
    for t in [&cloned, &local] {
        let key = ArtifactKey {
            scan_id: scan.id,
            name: repo_copy_name(t).unwrap(),
        };
        assert!(
            h.engine.artifacts().get(&key).await.is_err(),
            "copy outlived its scan"
        );
    }
}

/// A scanner that reports a private file and tries to publish an artifact under `private/`.
#[derive(Debug)]
struct PrivateWriter;

#[async_trait::async_trait]
impl argus_core::scanner::Scanner for PrivateWriter {
    fn info(&self) -> argus_core::scanner::ScannerInfo {
        argus_core::scanner::ScannerInfo {
            name: "private-writer".into(),
            description: "test".into(),
            source: "builtin".into(),
            target_kinds: vec![TargetKind::Location],
            params_schema: serde_json::json!({"type": "object"}),
            available: true,
            detail: None,
        }
    }
    fn validate_params(&self, _: &serde_json::Value) -> Result<(), argus_core::CoreError> {
        Ok(())
    }
    async fn run(&self, ctx: &TaskContext) -> Result<(), argus_core::scanner::ScanError> {
        use argus_core::artifact::ArtifactName;
        std::fs::create_dir_all(&ctx.work_dir).unwrap();
        let a = ctx.work_dir.join("a");
        let b = ctx.work_dir.join("b");
        let c = ctx.work_dir.join("c");
        for (p, text) in [(&a, "private"), (&b, "smuggled"), (&c, "public")] {
            std::fs::write(p, text).unwrap();
        }
        ctx.emit
            .send(Emission::PrivateFile {
                name: ArtifactName::private("x/copy").unwrap(),
                path: a,
            })
            .await?;
        ctx.emit
            .send(Emission::Artifact {
                name: ArtifactName::private("x/smuggled").unwrap(),
                path: b.clone(),
                content_type: "text/plain".into(),
            })
            .await?;
        // A private file must carry a private name.
        ctx.emit
            .send(Emission::PrivateFile {
                name: ArtifactName::parse("x/public-name").unwrap(),
                path: b,
            })
            .await?;
        ctx.emit
            .send(Emission::Artifact {
                name: ArtifactName::parse("report.txt").unwrap(),
                path: c,
                content_type: "text/plain".into(),
            })
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_keeps_private_files_unlisted_and_refuses_the_prefix_for_artifacts() {
    let h = harness_with(Arc::new(PrivateWriter), Duration::from_secs(30), true).await;
    let folder = tempfile::tempdir().unwrap();
    let target = Target::parse(TargetKind::Location, &file_url(folder.path())).unwrap();
    let mut cfg = config(vec![target]);
    cfg.scanners[0].name = "private-writer".into();
    let scan = create(&h, cfg).await;
    wait_state(&h, &scan, ScanState::Completed, Duration::from_secs(60)).await;
    let arts = h.store.list_artifacts(&h.who.org, scan.id).await.unwrap();
    let names: Vec<&str> = arts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["report.txt"], "only the public artifact is listed");
    let get = |name: &str| {
        let key = ArtifactKey {
            scan_id: scan.id,
            name: argus_core::artifact::ArtifactName::parse(name).unwrap(),
        };
        let store = h.engine.artifacts().clone();
        async move { store.get(&key).await.is_ok() }
    };
    assert!(get("private/x/copy").await, "the private file is kept");
    assert!(
        !get("private/x/smuggled").await,
        "an artifact under private/ was kept"
    );
    assert!(
        !get("x/public-name").await,
        "a private file under a public name was kept"
    );
    assert!(get("report.txt").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_task_does_not_duplicate_findings() {
    let repo = make_repo().await;
    // No workers yet: the first delivery is taken by hand, as by a worker that dies after
    // committing its findings but before acking.
    let h = harness(SecretsScanner::new(), Duration::from_millis(200), false).await;
    let target = Target::parse(TargetKind::Repo, &file_url(repo.dir.path())).unwrap();
    let scan = create(&h, config(vec![target.clone()])).await;
    argus_engine::relay::drain(&h.engine).await.unwrap();
    let q = h.engine.queue().clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        let mut d = q
            .claim(1, Duration::from_millis(200), Duration::from_millis(200))
            .await
            .unwrap();
        if let Some(d) = d.pop() {
            break d;
        }
        assert!(Instant::now() < deadline, "task never delivered");
    };
    assert_eq!(first.attempt, 1);

    let scanner = SecretsScanner::new();
    let work = tempfile::tempdir().unwrap();
    let (emit, mut rx) = Emitter::channel(1024);
    let ctx = TaskContext {
        task: first.task.clone(),
        params: serde_json::json!({}),
        cancel: CancellationToken::new(),
        work_dir: work.path().join("task"),
        emit,
        inputs: argus_core::scanner::TaskInputs::none(),
        net: argus_core::net::NetAccess::default(),
    };
    argus_core::scanner::Scanner::run(&scanner, &ctx)
        .await
        .unwrap();
    drop(ctx);
    let mut report = TaskReport::status(&first.task, TaskStatus::Running);
    while let Ok(e) = rx.try_recv() {
        if let Emission::Finding(f) = e {
            report.findings.push(f);
        }
    }
    assert_eq!(report.findings.len(), 4);
    h.store.record(vec![report]).await.unwrap();

    // The lease runs out; a real worker gets the task again and runs it to the end.
    argus_engine::worker::spawn(h.engine.clone(), h.shutdown.clone());
    let done = wait_state(&h, &scan, ScanState::Completed, Duration::from_secs(120)).await;
    assert_eq!(done.progress.done, 1, "{:?}", done.progress);
    assert_eq!(done.progress.findings, 4, "{:?}", done.progress);
    let all = findings(&h, &scan).await;
    assert_eq!(shape(&all, &target).len(), 4, "{all:#?}");
    let mut fps: Vec<&str> = all.iter().map(|f| f.fingerprint.as_str()).collect();
    fps.sort_unstable();
    fps.dedup();
    assert_eq!(fps.len(), 4);
}

/// Whether a process is gone (or a zombie nobody reaped yet: it no longer runs).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

async fn read_pid(path: &Path, deadline: Instant) -> u32 {
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_during_a_hanging_clone_ends_within_a_second() {
    use std::os::unix::fs::PermissionsExt;
    // A `git` that never finishes, with a child of its own (the whole group must die).
    let bin = tempfile::tempdir().unwrap();
    let main_pid = bin.path().join("git.pid");
    let child_pid = bin.path().join("child.pid");
    let fake = bin.path().join("git");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nsleep 120 &\necho $! > '{}.tmp' && mv '{0}.tmp' '{0}'\necho $$ > '{1}.tmp' && mv '{1}.tmp' '{1}'\nwait\n",
            child_pid.display(),
            main_pid.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

    let h = harness(
        SecretsScanner::new().with_git(&fake),
        Duration::from_secs(30),
        true,
    )
    .await;
    let target = Target::parse(TargetKind::Repo, "https://git.example.invalid/big.git").unwrap();
    let scan = create(&h, config(vec![target])).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let child = read_pid(&child_pid, deadline).await;
    let pid = read_pid(&main_pid, deadline).await;
    assert!(!gone(pid) && !gone(child), "fake git is running");

    let t0 = Instant::now();
    let s = h
        .engine
        .scans()
        .act(&h.who, scan.id, ScanAction::Stop)
        .await
        .unwrap();
    assert_eq!(s.state, ScanState::Cancelled);
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.engine.queue().depth().await.unwrap().leased > 0 || !gone(pid) || !gone(child) {
        assert!(Instant::now() < deadline, "clone still running after stop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        t0.elapsed()
    );
}
