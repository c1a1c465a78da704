//! Remediation through the API end to end (issue #13), with the real `argus serve`, the real
//! `secrets` scanner and real git: scan → select → `POST /scans/{id}/clean` (a tracked clean
//! scan) → download (bundle, tar.gz, zip) → `POST /scans/{id}/push` to a local bare repository
//! and to a smart-HTTP server (`git http-backend` behind basic auth) with the token from a fake
//! credentials service (a local HTTP server speaking the DeployGuard credentials protocol).
//!
//! Proven here: the cleaned history passes `git fsck`, a rescan finds none of the selected
//! secrets and the unselected one, commits before the first affected one keep their ids, tags
//! and merges survive; 404/409/422 answers for another org and bad order; and the push token
//! appears in no log line of the server, no file of its data folder (database, WAL, artifacts).
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

const TOKEN: &str = "push-token-5d1c0e9a7b";
const USER: &str = "alice";
const ORG: &str = "acme";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=Ann", "-c", "user.email=ann@example.com"])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn refs(repo: &Path) -> Vec<String> {
    let mut v: Vec<String> = git(repo, &["for-each-ref", "--format=%(refname) %(objectname)"])
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------- smart HTTP and credentials

#[derive(Clone)]
struct GitServer {
    root: PathBuf,
    basic: String,
}

/// `git http-backend` as CGI behind HTTP basic auth (401 without the right credentials).
async fn http_backend(
    State(s): State<GitServer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use base64::Engine as _;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(&s.basic)
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            [("WWW-Authenticate", "Basic realm=\"git\"")],
            "authentication required",
        )
            .into_response();
    }
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", &s.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("REMOTE_USER", "bot")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env(
            "PATH_INFO",
            uri.path().strip_prefix("/git").unwrap_or(uri.path()),
        )
        .env("QUERY_STRING", uri.query().unwrap_or(""))
        .env("REQUEST_METHOD", method.as_str())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let raw = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&body));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        out.stdout
    })
    .await
    .unwrap();
    let (head_end, body_start) = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| {
            raw.windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, i + 2))
        })
        .expect("CGI headers");
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut resp = Response::builder();
    let mut status = StatusCode::OK;
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("status") {
            status = StatusCode::from_u16(v[..3].parse().unwrap()).unwrap();
        } else {
            resp = resp.header(k.trim(), v);
        }
    }
    resp.status(status)
        .body(Body::from(raw[body_start..].to_vec()))
        .unwrap()
}

/// The fake credentials service: `deploy` is the right token, `stale` a wrong one, only for
/// `alice`; it records which users asked.
async fn credentials(
    State(asked): State<Arc<Mutex<Vec<String>>>>,
    AxPath(id): AxPath<String>,
    headers: HeaderMap,
) -> Response {
    let user = headers
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    asked.lock().unwrap().push(user.clone());
    if user != USER {
        return (StatusCode::FORBIDDEN, "not yours").into_response();
    }
    let token = match id.as_str() {
        "deploy" => TOKEN.to_owned(),
        "stale" => format!("{TOKEN}-old"),
        _ => return (StatusCode::NOT_FOUND, "no such credential").into_response(),
    };
    axum::Json(json!({"username": "bot", "token": token})).into_response()
}

async fn serve_http(app: axum::Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}")
}

// ---------------------------------------------------------------- API helpers

struct Api {
    http: reqwest::Client,
    base: String,
    org: &'static str,
}

impl Api {
    fn new(base: &str, org: &'static str) -> Self {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-org-id", org.parse().unwrap());
        h.insert("x-user-id", USER.parse().unwrap());
        Api {
            http: reqwest::Client::builder()
                .default_headers(h)
                .build()
                .unwrap(),
            base: base.to_owned(),
            org,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn bytes(&self, path: &str) -> (u16, Vec<u8>, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let disposition = r
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, r.bytes().await.unwrap().to_vec(), disposition)
    }

    /// Waits until the scan ended; returns its final state.
    async fn ended(&self, id: &str) -> Value {
        common::wait_for(Duration::from_secs(120), "the scan to end", || async {
            let (status, scan) = self.call("GET", &format!("/scans/{id}"), None).await;
            assert_eq!(status, 200, "{} {scan}", self.org);
            matches!(
                scan["state"].as_str(),
                Some("completed" | "failed" | "cancelled")
            )
            .then_some(scan)
        })
        .await
    }
}

/// A repository whose history has a clean first commit, a real secret added then deleted on
/// `main`, the same secret on a merged side branch, an unselected test token, and tags.
fn fixture(root: &Path, real: &str, test_only: &str) -> (PathBuf, String) {
    let repo = root.join("project");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "project\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "initial"]);
    let first = git(&repo, &["rev-parse", "HEAD"]).trim().to_owned();
    std::fs::write(repo.join("deploy.sh"), format!("export GH={real}\n")).unwrap();
    std::fs::write(repo.join("fixture.sh"), format!("export GL={test_only}\n")).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "add scripts"]);
    git(&repo, &["checkout", "-q", "-b", "side"]);
    std::fs::write(repo.join("ci.env"), format!("TOKEN={real}\n")).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "ci"]);
    git(&repo, &["checkout", "-q", "main"]);
    std::fs::write(repo.join("deploy.sh"), "export GH=$GH_TOKEN\n").unwrap();
    git(
        &repo,
        &["commit", "-q", "-am", "read the token from the environment"],
    );
    git(
        &repo,
        &["merge", "-q", "--no-ff", "-m", "merge side", "side"],
    );
    git(&repo, &["tag", "-a", "-m", "release", "v1"]);
    git(&repo, &["tag", "light", "HEAD~1"]);
    (repo, first)
}

/// Every file under `dir` (recursively) as bytes, with its path.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push((p, b));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Secret findings of `argus scan secrets PATH` (direct mode) as (rule, sha256) pairs.
fn rescan(repo: &Path) -> Vec<(String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["scan", "secrets"])
        .arg(repo)
        .args(["--format", "json", "--fail-on", "none"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_owned(),
                f["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_download_and_push_through_the_api() {
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    // Assembled at run time so this source file does not itself contain the tokens.
    let real = format!("{}{}", "ghp_", "R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xx");
    let test_only = format!("{}{}", "glpat-", "Xy7Zq2Wv9Ut4Sr1Po6Nm");
    let (repo, first_commit) = fixture(&root_path, &real, &test_only);
    let local_target = root_path.join("local-target.git");
    git(&root_path, &["init", "-q", "--bare", "local-target.git"]);
    let served = root_path.join("served");
    std::fs::create_dir(&served).unwrap();
    git(&served, &["init", "-q", "--bare", "target.git"]);
    let git_url = serve_http(
        axum::Router::new()
            .fallback(http_backend)
            .with_state(GitServer {
                root: served.clone(),
                basic: format!("bot:{TOKEN}"),
            }),
    )
    .await;
    let asked = Arc::new(Mutex::new(Vec::new()));
    let service_url = serve_http(
        axum::Router::new()
            .route("/api/credentials/{id}", axum::routing::get(credentials))
            .with_state(asked.clone()),
    )
    .await;

    let data = root_path.join("data");
    let roots = format!("[\"{}\", \"{}\"]", repo.display(), local_target.display());
    let env: Vec<(String, String)> = [
        ("ARGUS_AUTH__MODE", "trusted-headers"),
        ("ARGUS_AUTH__TRUSTED_PROXIES", "[\"127.0.0.1\"]"),
        ("ARGUS_SCAN__LOCAL_ROOTS", roots.as_str()),
        ("ARGUS_SECRETS__REPO_COPY_KEY_ENV", "ARGUS_TEST_REPO_KEY"),
        ("ARGUS_TEST_REPO_KEY", &"5e".repeat(32)),
        (
            "ARGUS_SECRETS__CREDENTIALS_SERVICE_URL",
            service_url.as_str(),
        ),
        ("RUST_LOG", "info"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let data_arg = data.to_string_lossy().into_owned();
    let server = common::spawn_argus(
        "serve",
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--data-dir",
            &data_arg,
        ],
        &env,
        true,
    );
    let base = server.base.clone().unwrap();
    let api = Api::new(&base, ORG);
    let stranger = Api::new(&base, "evil");

    // The secrets scan.
    let (status, scan) = api
        .call(
            "POST",
            "/scans",
            Some(json!({
                "config": {
                    "scanners": [{"name": "secrets"}],
                    "targets": [{"kind": "repo", "value": repo.to_string_lossy()}]
                },
                "start": true
            })),
        )
        .await;
    assert_eq!(status, 201, "{scan}");
    let source = scan["id"].as_str().unwrap().to_owned();
    assert_eq!(api.ended(&source).await["state"], "completed");

    // Before any selection: nothing to clean, download or push (409); another org: 404.
    let (status, p) = api
        .call("POST", &format!("/scans/{source}/clean"), Some(json!({})))
        .await;
    assert_eq!(status, 409, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("select"), "{p}");
    let (status, p) = api
        .call("GET", &format!("/scans/{source}/download"), None)
        .await;
    assert_eq!(status, 409, "{p}");
    let push_local = json!({"target_url": local_target.to_string_lossy()});
    let (status, p) = api
        .call(
            "POST",
            &format!("/scans/{source}/push"),
            Some(push_local.clone()),
        )
        .await;
    assert_eq!(status, 409, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("clean"), "{p}");
    // A client cannot run the internal scanners itself.
    let (status, p) = api
        .call(
            "POST",
            "/scans",
            Some(json!({"config": {
                "scanners": [{"name": "git-clean", "params": {"selected": [], "replacement": "x"}}],
                "targets": [{"kind": "repo", "value": repo.to_string_lossy()}]
            }})),
        )
        .await;
    assert_eq!(status, 422, "{p}");

    // Select the real secret (every finding of it), mark the test token a false positive.
    let (_, page) = api
        .call("GET", &format!("/scans/{source}/findings"), None)
        .await;
    let items = page["items"].as_array().unwrap().clone();
    let real_ids: Vec<Value> = items
        .iter()
        .filter(|f| f["data"]["rule_id"] == "github-pat-classic")
        .map(|f| f["id"].clone())
        .collect();
    let fp_ids: Vec<Value> = items
        .iter()
        .filter(|f| f["data"]["rule_id"] == "gitlab-pat")
        .map(|f| f["id"].clone())
        .collect();
    assert!(real_ids.len() >= 2 && fp_ids.len() == 1, "{page}");
    let real_sha = items.iter().find(|f| f["id"] == real_ids[0]).unwrap()["secret"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, counts) = api
        .call(
            "POST",
            &format!("/scans/{source}/findings/select"),
            Some(json!({"select": real_ids, "false_positives": fp_ids})),
        )
        .await;
    assert_eq!(status, 200, "{counts}");

    // Another org sees nothing of it.
    for (method, path, body) in [
        ("POST", format!("/scans/{source}/clean"), Some(json!({}))),
        ("GET", format!("/scans/{source}/download"), None),
        (
            "POST",
            format!("/scans/{source}/push"),
            Some(push_local.clone()),
        ),
    ] {
        let (status, p) = stranger.call(method, &path, body).await;
        assert_eq!(status, 404, "{method} {path}: {p}");
    }
    // Bad input: a replacement with a line break, an unknown field.
    let (status, p) = api
        .call(
            "POST",
            &format!("/scans/{source}/clean"),
            Some(json!({"replacement": "a\nb"})),
        )
        .await;
    assert_eq!(status, 422, "{p}");
    let (status, _) = api
        .call(
            "POST",
            &format!("/scans/{source}/clean"),
            Some(json!({"replacment": "typo"})),
        )
        .await;
    assert!(status == 422 || status == 400, "unknown field: {status}");

    // The clean: a scan of its own, derived from the secrets scan.
    let (status, clean) = api
        .call("POST", &format!("/scans/{source}/clean"), Some(json!({})))
        .await;
    assert_eq!(status, 202, "{clean}");
    assert_eq!(clean["source_scan_id"], source.as_str());
    assert_eq!(clean["config"]["scanners"][0]["name"], "git-clean");
    let params = clean["config"]["scanners"][0]["params"].to_string();
    assert!(!params.contains(&real), "params hold no value: {params}");
    assert!(params.contains(&real_sha), "params name the hash: {params}");
    let clean_id = clean["id"].as_str().unwrap().to_owned();
    let done = api.ended(&clean_id).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (_, derived) = api
        .call("GET", &format!("/scans?source_scan_id={source}"), None)
        .await;
    assert_eq!(derived["items"][0]["id"], clean_id.as_str(), "{derived}");

    // Its report and commit map.
    let (status, report, _) = api
        .bytes(&format!("/scans/{clean_id}/artifacts/cleaned/report.json"))
        .await;
    assert_eq!(status, 200);
    let report: Value = serde_json::from_slice(&report).unwrap();
    assert!(
        report["commits_rewritten"].as_u64().unwrap() >= 3,
        "{report}"
    );
    assert!(report["blobs_changed"].as_u64().unwrap() >= 2, "{report}");

    // Download by the secrets scan's id: the bundle clones into a clean, complete history.
    let (status, bundle, disposition) = api.bytes(&format!("/scans/{source}/download")).await;
    assert_eq!(status, 200);
    assert!(
        disposition.contains("project-cleaned.bundle"),
        "{disposition}"
    );
    let bundle_file = root_path.join("clean.bundle");
    std::fs::write(&bundle_file, &bundle).unwrap();
    git(
        &root_path,
        &["clone", "-q", "--mirror", "clean.bundle", "cleaned.git"],
    );
    let cleaned = root_path.join("cleaned.git");
    git(&cleaned, &["fsck", "--full", "--strict"]);
    let count = |r: &Path| git(r, &["rev-list", "--all", "--count"]).trim().to_owned();
    assert_eq!(count(&cleaned), count(&repo));
    let merges = |r: &Path| {
        git(r, &["rev-list", "--all", "--merges", "--count"])
            .trim()
            .to_owned()
    };
    assert_eq!(merges(&cleaned), merges(&repo));
    let names = |r: &Path| -> Vec<String> {
        refs(r)
            .into_iter()
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&cleaned), names(&repo));
    assert_eq!(
        git(&cleaned, &["rev-list", "--max-parents=0", "--all"]).trim(),
        first_commit,
        "the commit before the first affected one keeps its id"
    );
    assert_eq!(
        git(&cleaned, &["log", "-1", "--format=%an %ae %ad", "v1"]),
        git(&repo, &["log", "-1", "--format=%an %ae %ad", "v1"])
    );
    let found = rescan(&cleaned);
    assert!(
        !found.iter().any(|(_, sha)| sha == &real_sha),
        "the selected secret is gone: {found:?}"
    );
    assert!(
        found.iter().any(|(rule, _)| rule.contains("gitlab")),
        "the unselected secret stays: {found:?}"
    );
    assert!(
        rescan(&repo).iter().any(|(_, sha)| sha == &real_sha),
        "the source is untouched"
    );

    // The archives.
    let (status, tgz, _) = api
        .bytes(&format!("/scans/{clean_id}/download?format=tar.gz"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(&tgz[..2], &[0x1f, 0x8b], "gzip");
    let (status, zip, _) = api
        .bytes(&format!("/scans/{source}/download?format=zip"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(&zip[..2], b"PK");
    let (status, p) = api
        .call("GET", &format!("/scans/{source}/download?format=rar"), None)
        .await;
    assert_eq!(status, 422, "{p}");

    // Push: bad targets first.
    let (status, p) = api
        .call(
            "POST",
            &format!("/scans/{source}/push"),
            Some(json!({"target_url": format!("{git_url}/git/target.git").replace("http://", "http://bot:pw@")})),
        )
        .await;
    assert_eq!(status, 422, "a password in the URL: {p}");
    let (status, p) = api
        .call(
            "POST",
            &format!("/scans/{source}/push"),
            Some(json!({"target_url": root_path.join("elsewhere.git").to_string_lossy()})),
        )
        .await;
    assert_eq!(
        status, 422,
        "a server path outside the allowed folders: {p}"
    );
    assert_eq!(p["path"], "/target_url", "{p}");
    let (status, p) = api
        .call(
            "POST",
            &format!("/scans/{source}/push"),
            Some(json!({"target_url": "https://example.com/x.git", "credential": "nope"})),
        )
        .await;
    assert_eq!(status, 422, "an unknown credential: {p}");

    // To a local bare repository (inside the allowed folders).
    let (status, push) = api
        .call("POST", &format!("/scans/{source}/push"), Some(push_local))
        .await;
    assert_eq!(status, 202, "{push}");
    assert_eq!(push["source_scan_id"], clean_id.as_str());
    let done = api.ended(push["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done}");
    let want: Vec<String> = refs(&cleaned)
        .into_iter()
        .filter(|r| r.starts_with("refs/heads/") || r.starts_with("refs/tags/"))
        .collect();
    assert_eq!(refs(&local_target), want);

    // Over smart HTTP with a wrong token from the credentials service: the push scan fails
    // with an authentication error.
    let http_target = format!("{git_url}/git/target.git");
    let (status, push) = api
        .call(
            "POST",
            &format!("/scans/{clean_id}/push"),
            Some(json!({"target_url": http_target, "credentials_id": "stale"})),
        )
        .await;
    assert_eq!(status, 202, "{push}");
    let done = api.ended(push["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "failed", "{done}");
    let reason = done["reason"].to_string();
    assert!(reason.contains("authentication"), "{reason}");
    assert!(refs(&served.join("target.git")).is_empty());

    // With the right one: every branch and tag arrives, fetched for the push's creator.
    let (status, push) = api
        .call(
            "POST",
            &format!("/scans/{clean_id}/push"),
            Some(json!({"target_url": http_target, "credentials_id": "deploy"})),
        )
        .await;
    assert_eq!(status, 202, "{push}");
    let done = api.ended(push["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(refs(&served.join("target.git")), want);
    assert!(asked.lock().unwrap().iter().all(|u| u == USER));
    assert_eq!(asked.lock().unwrap().len(), 2);

    // The token is in no log line, no database row, no artifact.
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("bot:{TOKEN}"));
    let logs = server.log.lock().unwrap().join("\n");
    assert!(
        logs.contains("pushed") || logs.contains("pushing repository"),
        "logs were captured"
    );
    assert!(
        !logs.contains(TOKEN) && !logs.contains(&basic),
        "token in the logs"
    );
    assert!(!logs.contains(&real), "secret value in the logs");
    let stored = files(&data);
    assert!(
        stored.iter().any(|(p, _)| p.ends_with("argus.db")),
        "the database is in the data folder"
    );
    for (path, bytes) in &stored {
        assert!(!contains(bytes, TOKEN), "token in {}", path.display());
        assert!(!contains(bytes, &basic), "token in {}", path.display());
    }
}

/// Without a repository copy key the secrets scan keeps no copy: the clean reads the repository
/// again (here in place, a local one the server may read). Per-rule replacements and messages
/// are applied; a second clean of a cleaned source fails naming what is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_kept_copy_the_clean_reads_the_repository_again() {
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    // A token with a valid checksum (the GitHub rule checks it), as in the test above.
    let real = format!("{}{}", "ghp_", "R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xx");
    let test_only = format!("{}{}", "glpat-", "Ab3Cd4Ef5Gh6Ij7Kl8Mn");
    let (repo, _) = fixture(&root_path, &real, &test_only);
    // The secret in a commit message too.
    git(
        &repo,
        &[
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            &format!("rotate {real}"),
        ],
    );
    let data = root_path.join("data");
    let roots = format!("[\"{}\"]", repo.display());
    let env: Vec<(String, String)> = [
        ("ARGUS_AUTH__MODE", "trusted-headers"),
        ("ARGUS_AUTH__TRUSTED_PROXIES", "[\"127.0.0.1\"]"),
        ("ARGUS_SCAN__LOCAL_ROOTS", roots.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let data_arg = data.to_string_lossy().into_owned();
    let server = common::spawn_argus(
        "serve",
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--data-dir",
            &data_arg,
        ],
        &env,
        true,
    );
    let api = Api::new(server.base.as_deref().unwrap(), ORG);
    let (status, scan) = api
        .call(
            "POST",
            "/scans",
            Some(json!({
                "config": {
                    "scanners": [{"name": "secrets"}],
                    "targets": [{"kind": "repo", "value": repo.to_string_lossy()}]
                },
                "start": true
            })),
        )
        .await;
    assert_eq!(status, 201, "{scan}");
    let source = scan["id"].as_str().unwrap().to_owned();
    assert_eq!(api.ended(&source).await["state"], "completed");
    let (_, page) = api
        .call("GET", &format!("/scans/{source}/findings"), None)
        .await;
    let real_ids: Vec<Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["secret"]["preview"].as_str().unwrap().starts_with("ghp"))
        .map(|f| f["id"].clone())
        .collect();
    assert!(real_ids.len() >= 2, "{page}");
    let (status, _) = api
        .call(
            "POST",
            &format!("/scans/{source}/findings/select"),
            Some(json!({"select": real_ids})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, clean) = api
        .call(
            "POST",
            &format!("/scans/{source}/clean"),
            Some(json!({
                "replacement": "<gone>",
                "replace_rules": {"github-pat-classic": "ghp_REMOVED"},
                "messages": true
            })),
        )
        .await;
    assert_eq!(status, 202, "{clean}");
    let clean_id = clean["id"].as_str().unwrap().to_owned();
    let done = api.ended(&clean_id).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (status, bundle, _) = api
        .bytes(&format!("/scans/{clean_id}/download?format=bundle"))
        .await;
    assert_eq!(status, 200);
    std::fs::write(root_path.join("c.bundle"), &bundle).unwrap();
    git(
        &root_path,
        &["clone", "-q", "--mirror", "c.bundle", "c.git"],
    );
    let cleaned = root_path.join("c.git");
    git(&cleaned, &["fsck", "--full"]);
    let all = git(&cleaned, &["log", "--all", "-p", "--format=%B"]);
    assert!(
        !all.contains(&real),
        "the value is gone from blobs and messages"
    );
    assert!(
        all.contains("ghp_REMOVED"),
        "the rule's replacement is used"
    );
    assert!(all.contains("rotate ghp_REMOVED"), "messages too: {all}");
    assert!(all.contains(&test_only), "the unselected secret stays");
}
