//! The DeployGuard-compatible `/api/v2` (issue #13) over real HTTP, with the real `secrets`
//! scanner (and the remediation scanners, as `argus-secrets` registers them) run by the server's
//! workers on real git repositories made here with planted secrets:
//! - DeployGuard's documented request/response examples replayed in order (health, create, get
//!   with secrets, list, select, clean, download, push): status codes, field names, status values;
//! - another org's job is a 404 on every v2 route, and delete removes a job;
//! - bad input is a 4xx problem, never a 500;
//! - every v2 route is in the OpenAPI document with its 4xx answers.
//!
//! The server is the one of `common` (SQLite, embedded queue, local artifacts, the engine's
//! workers) built here with a registry that also holds `argus-secrets`' scanners, which the
//! shared harness does not register.

// Test helpers outside `#[test]` functions fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_api::{ApiConfig, AuthConfig, Meta};
use argus_core::artifact::ArtifactStore;
use argus_core::bus::LocalEventBus;
use argus_core::component::{Doors, ScannerCatalog};
use argus_core::door::FixedEnv;
use argus_core::ids::Principal;
use argus_core::store::Store;
use argus_engine::{Backends, Engine, EngineConfig};
use argus_store::local::LocalArtifactStore;
use argus_store::sqlite::{EmbeddedQueue, SqliteStore};
use argus_store::SqliteDb;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const LONG: Duration = Duration::from_secs(120);

/// The variable the test server's repository copy key is read from (through a fixed env door).
const KEY_VAR: &str = "ARGUS_V2_TEST_REPO_KEY";

struct Server {
    addr: SocketAddr,
    http: reqwest::Client,
    /// The org `get`, `post` and `raw_get` act as (trusted headers), if any.
    org: Option<&'static str>,
    _dir: tempfile::TempDir,
    shutdown: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A fake of DeployGuard's external credentials service: `GET /api/credentials/{id}` answers
/// `{"username", "token"}` and records `(id, X-User-ID)` of every request.
struct Credentials {
    url: String,
    asked: Arc<std::sync::Mutex<Vec<(String, String)>>>,
    token: String,
}

async fn credentials_service() -> Credentials {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::HeaderMap;
    type Asked = Arc<std::sync::Mutex<Vec<(String, String)>>>;
    let asked: Asked = Arc::default();
    // Built at run time so this file does not hold a token-shaped string.
    let token = format!("{}{}", "svc-token-", "Qm4Zr8Lw2Px6");
    let answer = token.clone();
    let app = axum::Router::new()
        .route(
            "/api/credentials/{id}",
            axum::routing::get(
                move |State(asked): State<Asked>, UrlPath(id): UrlPath<String>, h: HeaderMap| {
                    let answer = answer.clone();
                    async move {
                        let user = h
                            .get("x-user-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned();
                        asked.lock().unwrap().push((id, user));
                        axum::Json(json!({"username": "x-access-token", "token": answer}))
                    }
                },
            ),
        )
        .with_state(asked.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Credentials { url, asked, token }
}

/// A server as `common::start_with` builds it, plus `argus-secrets`' scanners (built from its
/// catalog as `argus serve` builds them, with a repository copy key).
async fn start(auth: AuthConfig) -> Server {
    start_with(auth, None).await
}

/// [`start`], with `secrets.credentials_service_url` when given.
async fn start_with(auth: AuthConfig, credentials_service_url: Option<&str>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("argus.db")).await.unwrap();
    let store = SqliteStore::new(db.clone()).await.unwrap();
    let queue = EmbeddedQueue::new(db).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store.with_inline_queue(Arc::new(queue.clone())));
    let artifacts: Arc<dyn ArtifactStore> =
        Arc::new(LocalArtifactStore::new(dir.path().join("artifacts")).unwrap());
    let backends = Backends {
        store,
        queue: Arc::new(queue),
        artifacts: artifacts.clone(),
        bus: Arc::new(LocalEventBus::new(4096)),
    };
    let config = EngineConfig {
        concurrency: 4,
        claim_batch: 4,
        lease: Duration::from_secs(30),
        work_root: dir.path().join("work"),
        retry_backoff: Duration::from_millis(20),
        monitor_interval: Duration::from_millis(100),
        local_roots: vec![std::env::temp_dir().canonicalize().unwrap()],
        ..EngineConfig::default()
    };
    let mut registry = argus_scanners::registry_with(&argus_scanners::RegistryOptions {
        user_tool_dir: Some(&common::fixture_tools()),
        noop: true,
        ..Default::default()
    })
    .unwrap();
    let mut catalog = ScannerCatalog::scanners();
    argus_secrets::catalog::register(&mut catalog);
    let doors = Doors::new(argus_scanners::process::door())
        .with_http(Arc::new(argus_scanners::http::ReqwestDoor::new()))
        .with_env(Arc::new(FixedEnv(BTreeMap::from([(
            KEY_VAR.to_owned(),
            "5a".repeat(32),
        )]))))
        .with_artifacts(artifacts);
    let mut secrets = json!({ "repo_copy_key_env": KEY_VAR });
    if let Some(url) = credentials_service_url {
        secrets["credentials_service_url"] = json!(url);
    }
    let tables = BTreeMap::from([("secrets".to_owned(), secrets)]);
    for scanner in catalog.build(&tables, &doors).unwrap() {
        registry.register(scanner);
    }
    let engine = Engine::new(backends, registry, config);
    let shutdown = CancellationToken::new();
    argus_engine::relay::spawn(engine.clone(), shutdown.clone());
    argus_engine::monitor::spawn(engine.clone(), shutdown.clone());
    argus_engine::worker::spawn(engine.clone(), shutdown.clone());
    let meta = Meta {
        version: "0.0.0-test".into(),
        build: "test".into(),
        backends: BTreeMap::new(),
        ..Meta::default()
    };
    let router = argus_api::router(engine, ApiConfig::new(auth, meta));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        argus_api::serve(listener, router, async move { stop.cancelled().await })
            .await
            .unwrap();
    });
    Server {
        addr,
        http: reqwest::Client::new(),
        org: None,
        _dir: dir,
        shutdown,
    }
}

fn local() -> AuthConfig {
    AuthConfig::Local {
        principal: Principal::local("acme", "alice").unwrap(),
    }
}

fn trusted() -> AuthConfig {
    AuthConfig::TrustedHeaders {
        default_role: argus_core::ids::Role::Admin,
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// One request, as `org` (trusted headers, user `user123` as in DeployGuard's examples)
    /// when given; status and JSON body (error bodies are checked to be problems).
    async fn call(
        &self,
        org: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method.parse().unwrap(), self.url(path));
        if let Some(org) = org {
            req = req.header("x-org-id", org).header("x-user-id", "user123");
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        common::read(req.send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(self.org, "GET", path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(self.org, "POST", path, Some(body)).await
    }

    /// A GET whose body is not JSON (a download).
    async fn raw_get(&self, path: &str) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if let Some(org) = self.org {
            req = req.header("x-org-id", org).header("x-user-id", "user123");
        }
        req.send().await.unwrap()
    }

    /// Polls `GET /api/v2/jobs/{id}` until the job's status is no longer one of `passing`;
    /// returns the detail answer.
    async fn wait_job(&self, org: Option<&str>, id: &str, passing: &[&str]) -> Value {
        let deadline = Instant::now() + LONG;
        loop {
            let (status, detail) = self
                .call(org, "GET", &format!("/api/v2/jobs/{id}"), None)
                .await;
            assert_eq!(status, 200, "{detail}");
            let st = detail["job"]["status"].as_str().unwrap().to_owned();
            if !passing.contains(&st.as_str()) {
                return detail;
            }
            assert!(Instant::now() < deadline, "job stuck in {st}: {detail}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two planted secrets, built at run time so this file does not itself hold them.
struct Planted {
    real: String,
    test_only: String,
}

fn planted() -> Planted {
    Planted {
        real: format!("{}{}", "ghp_", "R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xx"),
        test_only: format!("{}{}", "glpat-", "Xy7Zq2Wv9Ut4Sr1Po6Nm"),
    }
}

/// A repository under the temp dir (inside the server's local roots) whose history holds both
/// secrets: the real one added then deleted in a later commit, the test one still there.
fn repo_with_secrets(root: &Path, p: &Planted) -> PathBuf {
    let repo = root.join("project");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "# project\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "start"]);
    std::fs::write(repo.join("deploy.sh"), format!("export GH={}\n", p.real)).unwrap();
    std::fs::write(
        repo.join("fixture.sh"),
        format!("export GL={}\n", p.test_only),
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "add scripts"]);
    std::fs::write(repo.join("deploy.sh"), "export GH=\"$GH_TOKEN\"\n").unwrap();
    git(
        &repo,
        &["commit", "-q", "-am", "read the token from the environment"],
    );
    git(&repo, &["tag", "v1"]);
    repo
}

/// The refs of a repository, by name.
fn refs(repo: &Path) -> BTreeSet<String> {
    git(repo, &["for-each-ref", "--format=%(refname)"])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Every blob and message of every ref of `repo`, as text.
fn whole_history(repo: &Path) -> String {
    git(repo, &["log", "--all", "-p", "--format=%H %s%n%b"])
}

/// The secret of `secrets` whose file is `path`.
fn secret_at<'a>(secrets: &'a [Value], path: &str) -> &'a Value {
    secrets
        .iter()
        .find(|s| s["file_path"] == path)
        .unwrap_or_else(|| panic!("no secret in {path}: {secrets:?}"))
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// DeployGuard's `JobResponse` fields plus Argus's additions.
fn job_keys() -> BTreeSet<String> {
    [
        "id",
        "status",
        "status_message",
        "progress_percent",
        "total_secrets_found",
        "secrets_selected_for_cleaning",
        "created_at",
        "scan_completed_at",
        "clean_completed_at",
        "completed_at",
        "source_platform",
        "source_url",
        "source_branch",
        "source_credentials_id",
        "clean_scan_id",
        "push_scan_id",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// DeployGuard's `SecretFoundResponse` fields plus the hash (from its table) and Argus's
/// severity and triage; no value field.
fn secret_keys() -> BTreeSet<String> {
    [
        "id",
        "secret_type",
        "secret_name",
        "secret_value_preview",
        "secret_value_hash",
        "file_path",
        "line_number",
        "commit_hash",
        "pattern_matched",
        "confidence",
        "is_false_positive",
        "selected_for_cleaning",
        "occurrence_count",
        "severity",
        "triage",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

const STATUSES: [&str; 12] = [
    "pending",
    "cloning",
    "scanning",
    "scan_complete",
    "awaiting_selection",
    "cleaning",
    "clean_complete",
    "uploading",
    "pushing",
    "completed",
    "failed",
    "cancelled",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployguard_examples_replayed() {
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    let p = planted();
    let repo = repo_with_secrets(&root_path, &p);
    // Every request carries `X-User-ID: user123` as in DeployGuard's examples (and the org).
    let creds = credentials_service().await;
    let mut s = start_with(trusted(), Some(&creds.url)).await;
    s.org = Some("acme");

    // Health checks (API_ARCHITECTURE.md, "Health Checks").
    let (status, health) = s.get("/api/v2/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "healthy", "{health}");
    assert!(health["service"].is_string(), "{health}");
    let (status, ready) = s.get("/api/v2/health/ready").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["status"], "ready");
    let services = ready["services"].as_object().unwrap();
    assert!(
        !services.is_empty() && services.values().all(|v| v == true),
        "{ready}"
    );

    // 1. Create Scan Job.
    let (status, created) = s
        .post(
            "/api/v2/jobs",
            json!({
                "source_platform": "bitbucket",
                "source_url": repo.to_string_lossy(),
                "source_branch": "main",
                "source_credentials_id": "cred-abc-123"
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(keys(&created), job_keys(), "{created}");
    assert_eq!(created["status"], "pending", "{created}");
    assert_eq!(created["progress_percent"], 0);
    assert_eq!(created["source_platform"], "bitbucket");
    assert_eq!(created["source_branch"], "main");
    assert_eq!(created["source_credentials_id"], "cred-abc-123");
    let id = created["id"].as_str().unwrap().to_owned();
    // The job is the Argus scan of the same id.
    let (status, scan) = s.get(&format!("/api/v1/scans/{id}")).await;
    assert_eq!(status, 200, "{scan}");
    assert_eq!(scan["config"]["scanners"][0]["name"], "secrets");

    // 2. Check Status: the scan ends awaiting a selection, with its secrets.
    let detail = s.wait_job(s.org, &id, &["pending", "scanning"]).await;
    let job = &detail["job"];
    assert_eq!(job["status"], "awaiting_selection", "{detail}");
    assert_eq!(job["total_secrets_found"], 2, "{detail}");
    assert_eq!(job["secrets_selected_for_cleaning"], 0);
    assert_eq!(job["progress_percent"], 100);
    assert!(job["scan_completed_at"].is_string(), "{job}");
    assert!(detail["download_url"].is_null(), "{detail}");
    assert_eq!(
        detail["report_url"],
        format!("/api/v1/scans/{id}/findings"),
        "{detail}"
    );
    let secrets = detail["secrets"].as_array().unwrap().clone();
    assert_eq!(secrets.len(), 2, "{detail}");
    for secret in &secrets {
        assert_eq!(keys(secret), secret_keys(), "{secret}");
        assert_eq!(secret["selected_for_cleaning"], false);
        assert_eq!(secret["is_false_positive"], false);
        assert_eq!(secret["secret_type"], "token", "{secret}");
        let hash = secret["secret_value_hash"].as_str().unwrap();
        assert!(
            hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{secret}"
        );
        // Never the value, anywhere in the answer.
        let text = secret.to_string();
        assert!(
            !text.contains(&p.real) && !text.contains(&p.test_only),
            "{text}"
        );
    }
    let real = secret_at(&secrets, "deploy.sh")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let test_only = secret_at(&secrets, "fixture.sh")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(secret_at(&secrets, "deploy.sh")["secret_value_preview"]
        .as_str()
        .unwrap()
        .starts_with("ghp"));

    // The list shows it (a plain array of JobResponse).
    let (status, list) = s.get("/api/v2/jobs").await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["status"], "awaiting_selection");
    let (_, filtered) = s.get("/api/v2/jobs?status=awaiting_selection").await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let (_, filtered) = s.get("/api/v2/jobs?status=completed").await;
    assert_eq!(filtered, json!([]));
    let (_, paged) = s.get("/api/v2/jobs?limit=1&offset=1").await;
    assert_eq!(paged, json!([]));

    // 3. Select Secrets & Clean.
    let select = format!("/api/v2/jobs/{id}/secrets/select");
    let (status, selected) = s
        .post(
            &select,
            json!({"secret_ids": [real], "mark_false_positives": [test_only]}),
        )
        .await;
    assert_eq!(status, 200, "{selected}");
    assert_eq!(
        selected,
        json!({"message": "Selected 1 secrets for cleaning", "selected_count": 1})
    );
    let (_, listed) = s.get(&format!("/api/v2/jobs/{id}/secrets")).await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "false positives are left out: {listed:?}");
    assert_eq!(listed[0]["id"], real.as_str());
    assert_eq!(listed[0]["selected_for_cleaning"], true);
    let (_, all) = s
        .get(&format!(
            "/api/v2/jobs/{id}/secrets?include_false_positives=true"
        ))
        .await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(secret_at(all, "fixture.sh")["is_false_positive"], true);
    // A selection replaces the previous one.
    let (status, none) = s.post(&select, json!({"secret_ids": []})).await;
    assert_eq!(
        (status, &none["selected_count"]),
        (200, &json!(0)),
        "{none}"
    );
    let (status, again) = s.post(&select, json!({"secret_ids": [real]})).await;
    assert_eq!(
        (status, &again["selected_count"]),
        (200, &json!(1)),
        "{again}"
    );
    let detail = s.wait_job(s.org, &id, &[]).await;
    assert_eq!(detail["job"]["status"], "awaiting_selection");
    assert_eq!(detail["job"]["secrets_selected_for_cleaning"], 1);

    let (status, cleaning) = s.post(&format!("/api/v2/jobs/{id}/clean"), json!({})).await;
    assert_eq!(status, 200, "{cleaning}");
    assert_eq!(cleaning["job_id"], id.as_str());
    assert_eq!(cleaning["status"], "cleaning");
    assert_eq!(cleaning["message"], "Cleaning started for 1 secrets");
    let detail = s.wait_job(s.org, &id, &["cleaning"]).await;
    assert_eq!(detail["job"]["status"], "clean_complete", "{detail}");
    assert_eq!(detail["job"]["clean_scan_id"], cleaning["scan_id"]);
    assert!(detail["job"]["clean_completed_at"].is_string());
    assert_eq!(
        detail["download_url"],
        format!("/api/v2/jobs/{id}/download")
    );

    // 4. Download (zip by default) or Push.
    let res = s.raw_get(&format!("/api/v2/jobs/{id}/download")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert!(res.bytes().await.unwrap().starts_with(b"PK"));
    let res = s
        .raw_get(&format!("/api/v2/jobs/{id}/download?format=bundle"))
        .await;
    assert_eq!(res.status(), 200);
    let bundle = root_path.join("cleaned.bundle");
    std::fs::write(&bundle, res.bytes().await.unwrap()).unwrap();
    let cloned = root_path.join("cleaned");
    git(
        &root_path,
        &[
            "clone",
            "-q",
            "--mirror",
            &bundle.to_string_lossy(),
            &cloned.to_string_lossy(),
        ],
    );
    let history = whole_history(&cloned);
    assert!(!history.contains(&p.real), "the selected secret is gone");
    assert!(history.contains(&p.test_only), "the false positive stays");

    let target = root_path.join("target.git");
    std::fs::create_dir(&target).unwrap();
    git(&target, &["init", "-q", "--bare"]);
    let (status, pushing) = s
        .post(
            &format!("/api/v2/jobs/{id}/push"),
            json!({
                "target_platform": "github",
                "target_url": target.to_string_lossy(),
                "target_credentials_id": "cred-xyz-789",
                "force_push": true
            }),
        )
        .await;
    assert_eq!(status, 200, "{pushing}");
    assert_eq!(pushing["message"], "Push started");
    assert_eq!(pushing["job_id"], id.as_str());
    assert_eq!(pushing["target_url"], target.to_string_lossy().as_ref());
    assert_eq!(pushing["status"], "pushing");
    let detail = s.wait_job(s.org, &id, &["pushing"]).await;
    assert_eq!(detail["job"]["status"], "completed", "{detail}");
    assert_eq!(detail["job"]["push_scan_id"], pushing["scan_id"]);
    assert!(detail["job"]["completed_at"].is_string());
    // The target credential was fetched from the credentials service for the job's user, at the
    // moment of the push, and its token shows in no answer.
    assert_eq!(
        creds.asked.lock().unwrap().clone(),
        vec![("cred-xyz-789".to_owned(), "user123".to_owned())]
    );
    assert!(!detail.to_string().contains(&creds.token));
    // Every branch and tag by default (`push_all_branches`).
    assert_eq!(
        refs(&target),
        BTreeSet::from(["refs/heads/main".to_owned(), "refs/tags/v1".to_owned()])
    );
    let pushed = whole_history(&target);
    assert!(
        pushed.contains("read the token from the environment"),
        "{pushed}"
    );
    assert!(!pushed.contains(&p.real));

    // Only `target_branch` with `push_all_branches: false`.
    let one = root_path.join("one-branch.git");
    std::fs::create_dir(&one).unwrap();
    git(&one, &["init", "-q", "--bare"]);
    let (status, pushing_one) = s
        .post(
            &format!("/api/v2/jobs/{id}/push"),
            json!({
                "target_url": one.to_string_lossy(),
                "target_branch": "main",
                "push_all_branches": false
            }),
        )
        .await;
    assert_eq!(status, 200, "{pushing_one}");
    let detail = s.wait_job(s.org, &id, &["pushing"]).await;
    assert_eq!(detail["job"]["status"], "completed", "{detail}");
    assert_eq!(detail["job"]["push_scan_id"], pushing_one["scan_id"]);
    assert_eq!(refs(&one), BTreeSet::from(["refs/heads/main".to_owned()]));

    // Every status ever answered is one of DeployGuard's.
    let (_, list) = s.get("/api/v2/jobs").await;
    for j in list.as_array().unwrap() {
        assert!(STATUSES.contains(&j["status"].as_str().unwrap()), "{j}");
    }

    // Delete: the job and its clean and push scans are gone.
    let (status, _) = s
        .call(s.org, "DELETE", &format!("/api/v2/jobs/{id}"), None)
        .await;
    assert_eq!(status, 204);
    for path in [
        format!("/api/v2/jobs/{id}"),
        format!("/api/v1/scans/{id}"),
        format!("/api/v1/scans/{}", cleaning["scan_id"].as_str().unwrap()),
        format!("/api/v1/scans/{}", pushing["scan_id"].as_str().unwrap()),
        format!("/api/v1/scans/{}", pushing_one["scan_id"].as_str().unwrap()),
    ] {
        let (status, p) = s.get(&path).await;
        assert_eq!(status, 404, "{path}: {p}");
    }
    assert_eq!(s.get("/api/v2/jobs").await.1, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_orgs_job_is_a_404_on_every_route() {
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    let repo = repo_with_secrets(&root_path, &planted());
    let s = start(trusted()).await;
    let (a, b) = (Some("org-a"), Some("org-b"));
    let (status, created) = s
        .call(
            a,
            "POST",
            "/api/v2/jobs",
            Some(json!({"source_url": repo.to_string_lossy()})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let detail = s.wait_job(a, &id, &["pending", "scanning"]).await;
    assert_eq!(detail["job"]["status"], "awaiting_selection", "{detail}");
    let secret = detail["secrets"][0]["id"].as_str().unwrap().to_owned();

    let routes: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/api/v2/jobs/{id}"), None),
        ("GET", format!("/api/v2/jobs/{id}/secrets"), None),
        (
            "POST",
            format!("/api/v2/jobs/{id}/secrets/select"),
            Some(json!({"secret_ids": [secret]})),
        ),
        ("POST", format!("/api/v2/jobs/{id}/clean"), Some(json!({}))),
        ("GET", format!("/api/v2/jobs/{id}/download"), None),
        (
            "POST",
            format!("/api/v2/jobs/{id}/push"),
            Some(json!({"target_url": root_path.join("t.git").to_string_lossy()})),
        ),
        ("DELETE", format!("/api/v2/jobs/{id}"), None),
    ];
    for (method, path, body) in &routes {
        let (status, p) = s.call(b, method, path, body.clone()).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (404, Some("not_found")),
            "{method} {path}: {p}"
        );
    }
    let (status, theirs) = s.call(b, "GET", "/api/v2/jobs", None).await;
    assert_eq!((status, theirs), (200, json!([])));

    // Nothing of org-b's attempts changed the job: nothing selected, still there.
    let detail = s.wait_job(a, &id, &[]).await;
    assert_eq!(
        detail["job"]["secrets_selected_for_cleaning"], 0,
        "{detail}"
    );
    let (status, mine) = s.call(a, "GET", "/api/v2/jobs", None).await;
    assert_eq!(status, 200);
    assert_eq!(mine.as_array().unwrap().len(), 1);

    // Unknown and malformed ids are 404 too, for the owner as well.
    let unknown = uuid::Uuid::now_v7();
    for path in [
        format!("/api/v2/jobs/{unknown}"),
        "/api/v2/jobs/job-uuid-here".to_owned(),
        format!("/api/v2/jobs/{unknown}/secrets"),
    ] {
        let (status, p) = s.call(a, "GET", &path, None).await;
        assert_eq!(status, 404, "{path}: {p}");
    }

    let (status, _) = s
        .call(a, "DELETE", &format!("/api/v2/jobs/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = s.call(a, "GET", &format!("/api/v2/jobs/{id}"), None).await;
    assert_eq!(status, 404);
}

/// Method, path, body, expected status, expected problem `path`.
type Case<'a> = (&'a str, String, Option<Value>, u16, Option<&'a str>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_problem_never_a_500() {
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    let repo = repo_with_secrets(&root_path, &planted());
    let s = start(local()).await;
    let (status, created) = s
        .post(
            "/api/v2/jobs",
            json!({"source_url": repo.to_string_lossy()}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let detail = s.wait_job(None, &id, &["pending", "scanning"]).await;
    assert_eq!(detail["job"]["status"], "awaiting_selection", "{detail}");
    // A v1 scan that is not a job (not `secrets` on one repository) is no job.
    let (status, noop) = s
        .post(
            "/api/v1/scans",
            json!({"config": common::noop_config(json!({}), &["noop://t/0"])}),
        )
        .await;
    assert_eq!(status, 201, "{noop}");
    let noop = noop["id"].as_str().unwrap().to_owned();
    let unknown = uuid::Uuid::now_v7().to_string();
    let repo_url = repo.to_string_lossy().into_owned();

    let cases: Vec<Case> = vec![
        ("POST", "/api/v2/jobs".into(), Some(json!({})), 422, None),
        (
            "POST",
            "/api/v2/jobs".into(),
            Some(json!({"source_url": 3})),
            422,
            Some("/source_url"),
        ),
        (
            "POST",
            "/api/v2/jobs".into(),
            Some(json!({"source_url": ""})),
            422,
            Some("/source_url"),
        ),
        (
            "POST",
            "/api/v2/jobs".into(),
            Some(json!({"source_url": "  "})),
            422,
            Some("/source_url"),
        ),
        (
            "POST",
            "/api/v2/jobs".into(),
            Some(json!({"source_url": repo_url, "bogus": 1})),
            422,
            Some("/bogus"),
        ),
        (
            "POST",
            "/api/v2/jobs".into(),
            Some(json!({"source_url": repo_url, "source_platform": "svn"})),
            422,
            Some("/source_platform"),
        ),
        (
            "POST",
            "/api/v2/jobs".into(),
            Some(json!({"source_url": repo_url, "source_branch": ""})),
            422,
            Some("/source_branch"),
        ),
        (
            "POST",
            "/api/v2/jobs".into(),
            Some(json!({"source_url": repo_url, "source_credentials_id": ""})),
            422,
            Some("/source_credentials_id"),
        ),
        // Outside the server's local roots.
        (
            "POST",
            "/api/v2/jobs".into(),
            Some(json!({"source_url": "/etc"})),
            422,
            Some("/source_url"),
        ),
        (
            "POST",
            "/api/v2/jobs".into(),
            Some(json!([])),
            422,
            Some("/"),
        ),
        (
            "GET",
            "/api/v2/jobs?limit=0".into(),
            None,
            422,
            Some("/limit"),
        ),
        (
            "GET",
            "/api/v2/jobs?limit=101".into(),
            None,
            422,
            Some("/limit"),
        ),
        (
            "GET",
            "/api/v2/jobs?offset=-1".into(),
            None,
            422,
            Some("/offset"),
        ),
        (
            "GET",
            "/api/v2/jobs?status=done".into(),
            None,
            422,
            Some("/status"),
        ),
        (
            "GET",
            format!("/api/v2/jobs/{id}/secrets?include_false_positives=yes"),
            None,
            422,
            Some("/include_false_positives"),
        ),
        ("GET", format!("/api/v2/jobs/{noop}"), None, 404, None),
        (
            "GET",
            format!("/api/v2/jobs/{noop}/secrets"),
            None,
            404,
            None,
        ),
        (
            "POST",
            format!("/api/v2/jobs/{id}/secrets/select"),
            Some(json!({})),
            422,
            Some("/"),
        ),
        (
            "POST",
            format!("/api/v2/jobs/{id}/secrets/select"),
            Some(json!({"secret_ids": ["secret-1"]})),
            422,
            Some("/secret_ids/0"),
        ),
        (
            "POST",
            format!("/api/v2/jobs/{id}/secrets/select"),
            Some(json!({"secret_ids": [unknown]})),
            422,
            Some("/secret_ids"),
        ),
        (
            "POST",
            format!("/api/v2/jobs/{unknown}/secrets/select"),
            Some(json!({"secret_ids": []})),
            404,
            None,
        ),
        // Nothing selected yet: nothing to clean; no clean yet: nothing to download or push.
        ("POST", format!("/api/v2/jobs/{id}/clean"), None, 409, None),
        (
            "GET",
            format!("/api/v2/jobs/{id}/download"),
            None,
            409,
            None,
        ),
        (
            "GET",
            format!("/api/v2/jobs/{id}/download?format=rar"),
            None,
            422,
            Some("/format"),
        ),
        (
            "POST",
            format!("/api/v2/jobs/{id}/push"),
            Some(json!({"target_url": repo_url})),
            409,
            None,
        ),
        (
            "POST",
            format!("/api/v2/jobs/{id}/push"),
            Some(json!({"target_url": ""})),
            422,
            Some("/target_url"),
        ),
        (
            "POST",
            format!("/api/v2/jobs/{id}/push"),
            Some(json!({"target_url": repo_url, "target_platform": "svn"})),
            422,
            Some("/target_platform"),
        ),
        (
            "POST",
            format!("/api/v2/jobs/{id}/push"),
            Some(json!({"force_push": true})),
            422,
            None,
        ),
        (
            "PUT",
            format!("/api/v2/jobs/{id}"),
            Some(json!({})),
            405,
            None,
        ),
    ];
    for (method, path, body, want, at) in cases {
        let (status, p) = s.call(None, method, &path, body.clone()).await;
        assert_eq!(status, want, "{method} {path} {body:?}: {p}");
        if let Some(at) = at {
            assert_eq!(p["path"], at, "{method} {path} {body:?}: {p}");
        }
    }
    // The unknown id is named.
    let (_, p) = s
        .post(
            &format!("/api/v2/jobs/{id}/secrets/select"),
            json!({"secret_ids": [unknown]}),
        )
        .await;
    assert!(p["detail"].as_str().unwrap().contains(&unknown), "{p}");
    // Not JSON, malformed JSON.
    let res = s
        .http
        .post(s.url("/api/v2/jobs"))
        .header("content-type", "text/plain")
        .body("source_url=x")
        .send()
        .await
        .unwrap();
    assert_eq!(common::read(res).await.0, 415);
    let res = s
        .http
        .post(s.url("/api/v2/jobs"))
        .header("content-type", "application/json")
        .body("{\"source_url\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(common::read(res).await.0, 400);
    // A job deleted right away (its scan queued, running or already done) is stopped first,
    // then gone.
    let (status, quick) = s
        .post("/api/v2/jobs", json!({"source_url": repo_url}))
        .await;
    assert_eq!(status, 201, "{quick}");
    let quick = quick["id"].as_str().unwrap();
    let (status, p) = s
        .call(None, "DELETE", &format!("/api/v2/jobs/{quick}"), None)
        .await;
    assert_eq!(status, 204, "{p}");
    for path in [
        format!("/api/v2/jobs/{quick}"),
        format!("/api/v1/scans/{quick}"),
    ] {
        assert_eq!(s.get(&path).await.0, 404, "{path}");
    }

    // The job is unchanged by all of that.
    let detail = s.wait_job(None, &id, &[]).await;
    assert_eq!(detail["job"]["status"], "awaiting_selection", "{detail}");
    assert_eq!(detail["job"]["secrets_selected_for_cleaning"], 0);
}

#[tokio::test]
async fn every_v2_route_is_documented_with_its_problems() {
    let doc = serde_json::to_value(argus_api::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let want: [(&str, &str, &[&str]); 11] = [
        ("/api/v2/health", "get", &[]),
        ("/api/v2/health/ready", "get", &["503"]),
        ("/api/v2/jobs", "post", &["400", "415", "422", "503"]),
        ("/api/v2/jobs", "get", &["422"]),
        ("/api/v2/jobs/{id}", "get", &["404"]),
        ("/api/v2/jobs/{id}", "delete", &["404"]),
        ("/api/v2/jobs/{id}/secrets", "get", &["404", "422"]),
        (
            "/api/v2/jobs/{id}/secrets/select",
            "post",
            &["400", "404", "409", "415", "422"],
        ),
        ("/api/v2/jobs/{id}/clean", "post", &["404", "409"]),
        ("/api/v2/jobs/{id}/download", "get", &["404", "409", "422"]),
        (
            "/api/v2/jobs/{id}/push",
            "post",
            &["400", "404", "409", "415", "422"],
        ),
    ];
    for (path, method, codes) in want {
        let op = &paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not documented"))[method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert_eq!(op["tags"][0], "deployguard", "{method} {path}");
        for code in codes {
            assert!(
                op["responses"][code].is_object(),
                "{method} {path} does not declare {code}"
            );
        }
    }
    let v2: Vec<&String> = paths.keys().filter(|p| p.starts_with("/api/v2")).collect();
    assert_eq!(v2.len(), 9, "{v2:?}");
}
