//! Pushing and exporting repositories with real `git`: to local bare repositories, and to a
//! smart-HTTP server on loopback (`git http-backend` as CGI behind basic auth) with the token
//! from a fake credentials service answering as the DeployGuard design says. Every log line of
//! this test binary is captured and checked for the token.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use argus_core::component::Doors;
use argus_scanners::process::{self, ProcessSpec};
use argus_secrets::credentials::{CredentialError, CredentialsService, GitAuth};
use argus_secrets::export::{export_to_file, export_to_writer, ExportError, ExportFormat};
use argus_secrets::push::{push, PushError, PushOptions};
use argus_secrets::remote::GitOptions;
use axum::body::{Body, Bytes};
use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

// Assembled so this file does not hold the token as one literal.
const TOKEN: &str = concat!("tok-", "Zq8Xv2Lm9Pw4Rt7Y");
const USER: &str = "alice";

// ---------------------------------------------------------------- log capture

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this process, at every level, from the first call on.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let cap = Capture(buf.clone());
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || cap.clone())
            .init();
        buf
    })
}

fn log_text() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

// ---------------------------------------------------------------- git helpers

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "A")
        .env("GIT_AUTHOR_EMAIL", "a@example.com")
        .env("GIT_COMMITTER_NAME", "A")
        .env("GIT_COMMITTER_EMAIL", "a@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn git_ok(dir: &Path, args: &[&str]) -> bool {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap()
        .status
        .success()
}

/// `refname objectid` of every ref, sorted.
fn refs(repo: &Path) -> Vec<String> {
    let mut v: Vec<String> = git(repo, &["for-each-ref", "--format=%(refname) %(objectname)"])
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

fn commit(work: &Path, file: &str, text: &str, msg: &str) {
    std::fs::write(work.join(file), text).unwrap();
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", msg]);
}

/// A bare repository with `main` (2 commits), `feature`, an annotated tag `v1` and a light tag
/// `light`, plus a dangling blob (as a history rewrite leaves behind). Returns (root, bare, blob).
fn source() -> (tempfile::TempDir, PathBuf, String) {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    commit(&work, "a.txt", "one\n", "one");
    commit(&work, "a.txt", "two\n", "two");
    git(&work, &["tag", "-a", "v1", "-m", "version one"]);
    git(&work, &["tag", "light"]);
    git(&work, &["checkout", "-q", "-b", "feature"]);
    commit(&work, "b.txt", "feature\n", "feature");
    git(&work, &["checkout", "-q", "main"]);
    let bare = root.path().join("clean.git");
    git(
        root.path(),
        &["clone", "-q", "--bare", "work", bare.to_str().unwrap()],
    );
    std::fs::write(root.path().join("old.txt"), "old secret value\n").unwrap();
    let blob = git(&bare, &["hash-object", "-w", "../old.txt"])
        .trim()
        .to_owned();
    (root, bare, blob)
}

fn empty_bare(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    git(dir, &["init", "-q", "--bare", name]);
    p
}

fn opts() -> GitOptions {
    GitOptions {
        timeout: Duration::from_secs(60),
        ..GitOptions::default()
    }
}

fn never() -> CancellationToken {
    CancellationToken::new()
}

// ---------------------------------------------------------------- local pushes

#[tokio::test]
async fn pushes_chosen_refs_all_branches_and_tags_or_a_mirror_to_a_local_bare_repository() {
    logs();
    let (root, src, _) = source();
    let path = |p: &Path| p.to_str().unwrap().to_owned();

    // Chosen refs only.
    let t1 = empty_bare(root.path(), "t1.git");
    let out = push(
        &src,
        &path(&t1),
        &PushOptions {
            refs: vec!["main".into(), "refs/tags/v1".into()],
            ..Default::default()
        },
        None,
        &opts(),
        &never(),
    )
    .await
    .unwrap();
    let got = refs(&t1);
    assert_eq!(got.len(), 2, "{got:?}");
    let all = refs(&src);
    assert!(got.iter().all(|r| all.contains(r)), "{got:?} vs {all:?}");
    assert!(out.refs.iter().all(|r| r.status == "new"), "{out:?}");

    // Default: every branch and tag.
    let t2 = empty_bare(root.path(), "t2.git");
    push(
        &src,
        &path(&t2),
        &PushOptions::default(),
        None,
        &opts(),
        &never(),
    )
    .await
    .unwrap();
    assert_eq!(refs(&t2), all);

    // Mirror: equal refs, and the target's own extra branch is deleted.
    let t3 = empty_bare(root.path(), "t3.git");
    push(
        &src,
        &path(&t3),
        &PushOptions {
            refs: vec!["feature:stale".into()],
            ..Default::default()
        },
        None,
        &opts(),
        &never(),
    )
    .await
    .unwrap();
    assert!(refs(&t3)[0].starts_with("refs/heads/stale "));
    let out = push(
        &src,
        &format!("file://{}", path(&t3)),
        &PushOptions {
            mirror: true,
            ..Default::default()
        },
        None,
        &opts(),
        &never(),
    )
    .await
    .unwrap();
    assert_eq!(refs(&t3), all);
    assert!(
        out.refs
            .iter()
            .any(|r| r.status == "deleted" && r.to == "refs/heads/stale"),
        "{out:?}"
    );
}

#[tokio::test]
async fn a_non_fast_forward_is_rejected_with_gits_message_unless_forced() {
    logs();
    let (root, src, _) = source();
    let target = empty_bare(root.path(), "t.git");
    let t = target.to_str().unwrap().to_owned();
    push(&src, &t, &PushOptions::default(), None, &opts(), &never())
        .await
        .unwrap();
    // Rewrite main's last commit in the source (as a history rewrite does).
    let work = root.path().join("work");
    git(&work, &["commit", "-q", "--amend", "-m", "two, rewritten"]);
    git(&work, &["push", "-q", "--force", "../clean.git", "main"]);
    let main_ref = |p: &Path| git(p, &["rev-parse", "refs/heads/main"]);
    assert_ne!(main_ref(&src), main_ref(&target));

    let only_main = PushOptions {
        refs: vec!["main".into()],
        ..Default::default()
    };
    match push(&src, &t, &only_main, None, &opts(), &never()).await {
        Err(PushError::Rejected { message, refs, .. }) => {
            assert!(message.contains("non-fast-forward"), "{message}");
            assert!(message.contains("failed to push"), "{message}");
            assert_eq!(refs.len(), 1);
            assert_eq!(refs[0].status, "rejected");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_ne!(main_ref(&src), main_ref(&target), "nothing changed");

    let forced = PushOptions {
        force: true,
        ..only_main
    };
    let out = push(&src, &t, &forced, None, &opts(), &never())
        .await
        .unwrap();
    assert_eq!(out.refs[0].status, "forced", "{out:?}");
    assert_eq!(main_ref(&src), main_ref(&target));
}

#[tokio::test]
async fn bad_sources_and_unreachable_remotes_fail_clearly() {
    logs();
    let (root, src, _) = source();
    let plain = root.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let d = PushOptions::default();
    let target = empty_bare(root.path(), "t.git");
    let t = target.to_str().unwrap();
    match push(&plain, t, &d, None, &opts(), &never()).await {
        Err(e @ PushError::NotARepository(_)) => {
            assert!(e.to_string().contains("is not a git repository"), "{e}")
        }
        other => panic!("expected not-a-repository, got {other:?}"),
    }
    // A shallow clone.
    let shallow = root.path().join("shallow.git");
    git(
        root.path(),
        &[
            "clone",
            "-q",
            "--bare",
            "--depth=1",
            &format!("file://{}", src.display()),
            shallow.to_str().unwrap(),
        ],
    );
    assert!(matches!(
        push(&shallow, t, &d, None, &opts(), &never()).await,
        Err(PushError::Shallow(_))
    ));
    // A target that is no repository.
    let missing = root.path().join("missing.git");
    match push(&src, missing.to_str().unwrap(), &d, None, &opts(), &never()).await {
        Err(e @ PushError::Unreachable { .. }) => {
            assert!(
                e.to_string()
                    .contains("does not appear to be a git repository"),
                "{e}"
            )
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    // A closed port on loopback.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    match push(
        &src,
        &format!("http://127.0.0.1:{port}/r.git"),
        &d,
        None,
        &opts(),
        &never(),
    )
    .await
    {
        Err(e @ PushError::Unreachable { .. }) => {
            assert!(e.is_transient(), "{e}");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
}

// ---------------------------------------------------------------- smart HTTP

#[derive(Clone)]
struct GitServer {
    root: PathBuf,
    /// `user:token` accepted.
    basic: String,
}

/// `git http-backend` as CGI behind HTTP basic auth: 401 with `WWW-Authenticate` without the
/// right credentials.
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
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected);
    if !authorized {
        return (
            StatusCode::UNAUTHORIZED,
            [("WWW-Authenticate", "Basic realm=\"git\"")],
            "authentication required",
        )
            .into_response();
    }
    let path_info = uri.path().strip_prefix("/git").unwrap_or(uri.path());
    let mut spec = ProcessSpec::new("git")
        .arg("http-backend")
        .timeout(Duration::from_secs(60));
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    for (k, v) in [
        ("GIT_PROJECT_ROOT", s.root.to_string_lossy().into_owned()),
        ("GIT_HTTP_EXPORT_ALL", "1".into()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
        ("GIT_CONFIG_NOSYSTEM", "1".into()),
        ("REMOTE_USER", s.basic.split(':').next().unwrap().to_owned()),
        ("REMOTE_ADDR", "127.0.0.1".into()),
        ("PATH_INFO", path_info.to_owned()),
        ("QUERY_STRING", uri.query().unwrap_or("").to_owned()),
        ("REQUEST_METHOD", method.as_str().to_owned()),
        ("CONTENT_TYPE", header("content-type")),
        ("CONTENT_LENGTH", body.len().to_string()),
        ("HTTP_CONTENT_ENCODING", header("content-encoding")),
        ("GIT_PROTOCOL", header("git-protocol")),
    ] {
        spec.env.insert(k.into(), v);
    }
    spec.stdin = Some(body);
    let out = process::run(spec, &CancellationToken::new()).await.unwrap();
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| {
            raw.windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, i + 2))
        })
        .expect("CGI headers");
    let head = String::from_utf8_lossy(&raw[..split.0]).into_owned();
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
        .body(Body::from(raw[split.1..].to_vec()))
        .unwrap()
}

/// The fake credentials service: `deploy` is the right token, `stale` a wrong one, both only for
/// user `alice`; anything else is 404.
async fn credentials(AxPath(id): AxPath<String>, headers: HeaderMap) -> Response {
    let user = headers.get("x-user-id").and_then(|v| v.to_str().ok());
    if user != Some(USER) {
        return (StatusCode::FORBIDDEN, "not yours").into_response();
    }
    let token = match id.as_str() {
        "deploy" => TOKEN.to_owned(),
        "stale" => format!("{TOKEN}-old"),
        _ => return (StatusCode::NOT_FOUND, "no such credential").into_response(),
    };
    axum::Json(serde_json::json!({"username": "bot", "token": token})).into_response()
}

async fn serve(app: axum::Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}")
}

fn http_doors() -> Doors {
    Doors::new(process::door()).with_http(Arc::new(argus_scanners::http::ReqwestDoor::new()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_over_smart_http_with_a_token_from_the_credentials_service() {
    logs();
    let (root, src, _) = source();
    let served = root.path().join("served");
    std::fs::create_dir(&served).unwrap();
    let target = empty_bare(&served, "target.git");
    let git_url = serve(
        axum::Router::new()
            .fallback(http_backend)
            .with_state(GitServer {
                root: served.clone(),
                basic: format!("bot:{TOKEN}"),
            }),
    )
    .await;
    let service_url =
        serve(axum::Router::new().route("/api/credentials/{id}", axum::routing::get(credentials)))
            .await;
    let service = CredentialsService::new(&service_url, &http_doors())
        .unwrap()
        .timeout(Duration::from_secs(10));
    let url = format!("{git_url}/git/target.git");
    let mut errors = Vec::new();

    // The service's answers: 404, 403, and the credential itself.
    let e = service.fetch("nope", USER).await.unwrap_err();
    assert!(matches!(e, CredentialError::NotFound(_)), "{e}");
    assert!(e.to_string().contains("no such credential 'nope'"), "{e}");
    let e = service.fetch("deploy", "mallory").await.unwrap_err();
    assert!(
        matches!(e, CredentialError::Refused { status: 403, .. }),
        "{e}"
    );
    let auth: GitAuth = service.fetch("deploy", USER).await.unwrap();
    assert_eq!(auth.username, "bot");
    assert!(!format!("{auth:?}").contains(TOKEN));

    // Without credentials the server says 401 and git fails at once (no prompt).
    let e = push(&src, &url, &PushOptions::default(), None, &opts(), &never())
        .await
        .unwrap_err();
    assert!(matches!(e, PushError::AuthFailed { .. }), "{e:?}");
    errors.push(format!("{e} {e:?}"));

    // A wrong token: a clear authentication error with nothing of the token in it.
    let stale = service.fetch("stale", USER).await.unwrap();
    let e = push(
        &src,
        &url,
        &PushOptions::default(),
        Some(&stale),
        &opts(),
        &never(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, PushError::AuthFailed { .. }), "{e:?}");
    assert!(e.to_string().contains("authentication"), "{e}");
    errors.push(format!("{e} {e:?}"));
    assert!(refs(&target).is_empty());

    // The right token: every branch and tag arrives.
    let out = push(
        &src,
        &url,
        &PushOptions::default(),
        Some(&auth),
        &opts(),
        &never(),
    )
    .await
    .unwrap();
    assert_eq!(refs(&target), refs(&src));
    assert!(out.refs.iter().all(|r| r.status == "new"), "{out:?}");
    git(&target, &["fsck", "--full"]);

    // A rejected push over HTTP carries git's message.
    let work = root.path().join("work");
    git(&work, &["commit", "-q", "--amend", "-m", "rewritten"]);
    git(&work, &["push", "-q", "--force", "../clean.git", "main"]);
    let e = push(
        &src,
        &url,
        &PushOptions {
            refs: vec!["main".into()],
            ..Default::default()
        },
        Some(&auth),
        &opts(),
        &never(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, PushError::Rejected { .. }), "{e:?}");
    assert!(e.to_string().contains("non-fast-forward"), "{e}");
    errors.push(format!("{e} {e:?}"));

    // The token (raw, and in its basic-auth form) is in no error and no log line.
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("bot:{TOKEN}"));
    for e in &errors {
        eprintln!("error seen: {e}");
    }
    let logs = log_text();
    assert!(logs.contains("pushing repository"), "logs were captured");
    for text in errors.iter().chain([&logs]) {
        assert!(!text.contains(TOKEN), "token leaked: {text}");
        assert!(!text.contains(&basic), "token leaked (basic): {text}");
    }
}

// ---------------------------------------------------------------- exports

#[tokio::test]
async fn a_bundle_export_verifies_and_clones_back_to_the_same_refs() {
    logs();
    let (root, src, _) = source();
    let bundle = root.path().join("out.bundle");
    let s = export_to_file(&src, ExportFormat::Bundle, &bundle, &opts(), &never())
        .await
        .unwrap();
    assert_eq!(s.bytes, std::fs::metadata(&bundle).unwrap().len());
    // `git bundle verify` checks prerequisites against a repository: an empty one will do.
    let verifier = empty_bare(root.path(), "verifier.git");
    git(
        &verifier,
        &["bundle", "verify", "-q", bundle.to_str().unwrap()],
    );
    let back = root.path().join("back.git");
    git(
        root.path(),
        &[
            "clone",
            "-q",
            "--mirror",
            bundle.to_str().unwrap(),
            back.to_str().unwrap(),
        ],
    );
    assert_eq!(refs(&back), refs(&src));

    // The same through a writer.
    let (bytes, s) = export_to_writer(&src, ExportFormat::Bundle, Vec::new(), &opts(), &never())
        .await
        .unwrap();
    assert_eq!(bytes.len() as u64, s.bytes);
    assert!(bytes.starts_with(b"# v"), "a bundle header");

    // Nothing to export, or not a repository.
    let empty = empty_bare(root.path(), "empty.git");
    let e = export_to_file(&empty, ExportFormat::Bundle, &bundle, &opts(), &never())
        .await
        .unwrap_err();
    assert!(matches!(e, ExportError::Empty(_)), "{e}");
    let e = export_to_file(root.path(), ExportFormat::Zip, &bundle, &opts(), &never())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("is not a git repository"), "{e}");
}

/// Unpacks an archive export and checks it is a bare repository git accepts, with the source's
/// refs and without the source's unreachable blob.
async fn check_archive(format: ExportFormat) {
    logs();
    let (root, src, dangling) = source();
    let file = root.path().join(format!("out.{}", format.extension()));
    export_to_file(&src, format, &file, &opts(), &never())
        .await
        .unwrap();
    let unpacked = root.path().join("unpacked");
    let f = std::fs::File::open(&file).unwrap();
    match format {
        ExportFormat::Zip => zip::ZipArchive::new(f).unwrap().extract(&unpacked).unwrap(),
        ExportFormat::TarGz => tar::Archive::new(flate2::read::GzDecoder::new(f))
            .unpack(&unpacked)
            .unwrap(),
        ExportFormat::Bundle => unreachable!(),
    }
    let names: Vec<_> = std::fs::read_dir(&unpacked)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["clean.git"], "one top-level folder");
    let repo = unpacked.join("clean.git");
    assert_eq!(
        git(&repo, &["rev-parse", "--is-bare-repository"]).trim(),
        "true"
    );
    git(&repo, &["fsck", "--full", "--strict"]);
    assert_eq!(refs(&repo), refs(&src));
    assert!(git_ok(&src, &["cat-file", "-e", &dangling]));
    assert!(
        !git_ok(&repo, &["cat-file", "-e", &dangling]),
        "an unreachable object was exported"
    );
    let config = std::fs::read_to_string(repo.join("config")).unwrap();
    assert!(!config.contains("remote"), "{config}");
}

#[tokio::test]
async fn a_zip_export_unpacks_to_a_bare_mirror_git_accepts() {
    check_archive(ExportFormat::Zip).await;
}

#[tokio::test]
async fn a_tar_gz_export_unpacks_to_a_bare_mirror_git_accepts() {
    check_archive(ExportFormat::TarGz).await;
}
