//! Path traversal over real HTTP (issue #16, "Hostile input, in CI"): every route that takes a
//! name or a server path, asked for something outside what it may give.
//!
//! - `GET /api/v1/scans/{id}/artifacts/{*name}`: `..` (plain, `%2e%2e`, `%2f`-joined, doubly
//!   encoded, overlong UTF-8, full-width dots), absolute names, backslashes, NULs, another
//!   scan's folder, the private prefix, a symlink planted in the scan's own artifact folder.
//!   Requests are written on a raw TCP socket, so no client normalises the path first. Each
//!   answer is 400/404/422, a problem-details body when there is a body, and holds none of the
//!   bytes of the files planted outside (the positive control: the scan's own artifact is 200).
//! - Scan creation and connector registration with local targets (`repo` paths, `file://`
//!   locations and objects) that leave `scan.local_roots` through `..`, encoded dots, a
//!   symlink out of the root, or a symlink followed by `..`: 422 naming the target, never the
//!   configured root; the same target inside the root is accepted (positive control).
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Options, Server};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MARKER: &str = "OUTSIDE-MARKER-6b1f";

/// One raw HTTP/1.1 exchange: the request target is sent byte for byte.
async fn raw_get(s: &Server, target: &[u8]) -> (u16, Vec<u8>, Vec<u8>) {
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let mut req = b"GET ".to_vec();
    req.extend_from_slice(target);
    req.extend_from_slice(
        format!(" HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", s.addr).as_bytes(),
    );
    tcp.write_all(&req).await.unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = answer[..split].to_vec();
    let body = answer[split + 4..].to_vec();
    let status_line = String::from_utf8_lossy(&head);
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {status_line}"));
    (status, head, body)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_names_never_leave_the_scans_folder() {
    let s = common::start().await;
    let run = |target: &'static str| {
        json!({
            "scanners": [{ "name": "tool:emit" }],
            "targets": [{ "kind": "domain", "value": target }],
        })
    };
    let scan = s.create_scan(run("example.com"), true).await;
    let id = scan["id"].as_str().unwrap().to_owned();
    s.wait_state(&id, "completed", Duration::from_secs(60))
        .await;
    let other = s.create_scan(run("example.org"), true).await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    s.wait_state(&other_id, "completed", Duration::from_secs(60))
        .await;

    // The scan's own artifact is served (positive control).
    let (_, arts) = s.get(&format!("/api/v1/scans/{id}/artifacts")).await;
    let public = arts["items"][0]["name"].as_str().unwrap().to_owned();
    let (status, _, body) = raw_get(
        &s,
        format!("/api/v1/scans/{id}/artifacts/{public}").as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(!body.is_empty());

    // Files a traversal could reach: beside the artifact root, in the data folder, in another
    // scan's folder (the other scan's own artifact is renamed to hold the marker), in /tmp.
    let root = s.dir.path();
    std::fs::write(root.join("secret.txt"), MARKER).unwrap();
    std::fs::write(root.join("artifacts/secret.txt"), MARKER).unwrap();
    std::fs::write(root.join("artifacts/scans/secret.txt"), MARKER).unwrap();
    let other_dir = root.join(format!("artifacts/scans/{other_id}"));
    std::fs::write(other_dir.join("planted.txt"), MARKER).unwrap();
    let outside = root.join("outside.txt");
    std::fs::write(&outside, MARKER).unwrap();

    let a = format!("/api/v1/scans/{id}/artifacts/");
    let mut names: Vec<Vec<u8>> = [
        "../secret.txt",
        "../../secret.txt",
        "../../../secret.txt",
        "../../../../secret.txt",
        "%2e%2e/%2e%2e/secret.txt",
        "%2E%2E/%2E%2E/%2E%2E/secret.txt",
        "..%2f..%2f..%2fsecret.txt",
        "%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt",
        "%252e%252e/%252e%252e/secret.txt",
        "%c0%ae%c0%ae/%c0%ae%c0%ae/secret.txt",
        "%ef%bc%8e%ef%bc%8e/secret.txt",
        ".%2e/.%2e/.%2e/secret.txt",
        "..\\..\\..\\secret.txt",
        "..%5c..%5c..%5csecret.txt",
        "/etc/passwd",
        "%2fetc%2fpasswd",
        "//etc/passwd",
        "C:%5cWindows%5cwin.ini",
        "secret.txt%00.png",
        "%00",
        "stdout.txt%00/../../../secret.txt",
        "./secret.txt",
        "private/../../../secret.txt",
        "private",
        "private/",
        "%ff%fe",
    ]
    .iter()
    .map(|n| n.as_bytes().to_vec())
    .collect();
    names.push(format!("../{other_id}/planted.txt").into_bytes());
    names.push(format!("%2e%2e%2f{other_id}%2fplanted.txt").into_bytes());
    names.push(outside.display().to_string().into_bytes());
    names.push(format!("..{}", outside.display()).into_bytes());
    for name in &names {
        let mut target = a.as_bytes().to_vec();
        target.extend_from_slice(name);
        let (status, head, body) = raw_get(&s, &target).await;
        let shown = String::from_utf8_lossy(&target).into_owned();
        assert!(
            matches!(status, 400 | 404 | 422),
            "{shown}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        assert!(
            !contains(&body, MARKER.as_bytes()),
            "{shown} served a file outside"
        );
        assert!(!contains(&head, MARKER.as_bytes()), "{shown}");
        if !body.is_empty() {
            let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
            assert!(
                head.contains("content-type: application/problem+json"),
                "{shown}: {head}"
            );
            let p: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(p["status"], status, "{shown}: {p}");
        }
    }
    // Another scan's artifact through this scan's id is no artifact of this scan.
    let (status, _, body) = raw_get(
        &s,
        format!("/api/v1/scans/{id}/artifacts/planted.txt").as_bytes(),
    )
    .await;
    assert_eq!(status, 404);
    assert!(!contains(&body, MARKER.as_bytes()));

    // A symlink planted in the scan's own folder in place of its artifact (a compromised disk,
    // a confused operator): the recorded name is not served through it.
    let own = root.join(format!("artifacts/scans/{id}/{public}"));
    std::fs::remove_file(&own).unwrap();
    std::os::unix::fs::symlink(&outside, &own).unwrap();
    let (status, _, body) = raw_get(
        &s,
        format!("/api/v1/scans/{id}/artifacts/{public}").as_bytes(),
    )
    .await;
    assert_ne!(status, 200, "a symlink out of the scan folder was followed");
    assert!(
        !contains(&body, MARKER.as_bytes()),
        "{public} served through a symlink"
    );
}

/// A folder tree with a root the server may read and escapes out of it.
struct Roots {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    outside: std::path::PathBuf,
}

fn roots() -> Roots {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let root = base.join("root");
    let outside = base.join("outside");
    std::fs::create_dir_all(root.join("repo")).unwrap();
    std::fs::create_dir_all(root.join("deep")).unwrap();
    std::fs::create_dir_all(outside.join("deep")).unwrap();
    std::fs::create_dir_all(outside.join("repo")).unwrap();
    std::fs::write(outside.join("secret.txt"), MARKER).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("out")).unwrap();
    std::os::unix::fs::symlink(outside.join("deep"), root.join("deep/out_deep")).unwrap();
    Roots {
        _dir: dir,
        root,
        outside,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_targets_never_leave_the_allowed_roots() {
    let r = roots();
    let s = common::start_with(Options {
        workers: false,
        local_roots: vec![r.root.clone()],
        ..Options::default()
    })
    .await;
    let root = r.root.display().to_string();
    let outside = r.outside.display().to_string();
    let scan = |kind: &str, value: &str| {
        json!({
            "config": {
                "scanners": [{ "name": "noop" }],
                "targets": [{ "kind": kind, "value": value }],
            },
            "start": false,
        })
    };
    let escapes = [
        ("repo", format!("{root}/../outside/repo")),
        ("repo", format!("{root}/repo/../../outside")),
        ("repo", format!("{root}/out/repo")),
        ("repo", format!("{root}/out")),
        // The kernel resolves `out_deep` before the `..`: this is `outside/repo`.
        ("repo", format!("{root}/deep/out_deep/../repo")),
        ("repo", format!("file://{root}/%2e%2e/outside/repo")),
        ("repo", format!("file://{root}/out/repo")),
        ("repo", outside.clone()),
        ("repo", "/etc".to_owned()),
        ("repo", "repo".to_owned()),
        ("repo", "../../etc".to_owned()),
        ("location", format!("file://{root}/../outside/")),
        ("location", format!("file://{root}/%2E%2E/outside/")),
        ("location", format!("file://{root}/out/")),
        ("location", format!("file://{root}/deep/out_deep/")),
        ("location", "file:///etc/".to_owned()),
        ("object", format!("file://{root}/out/secret.txt")),
        ("object", format!("file://{root}/%2e%2e/outside/secret.txt")),
    ];
    for (kind, value) in &escapes {
        let (status, p) = s.post("/api/v1/scans", scan(kind, value)).await;
        assert_eq!(status, 422, "{kind} {value}: {p}");
        let text = p.to_string();
        assert!(
            !text.contains(&format!("\"{root}\"")) && !text.contains(MARKER),
            "{kind} {value}: the refusal describes the server: {p}"
        );
        // Registration as a connector is refused the same way.
        if *kind == "location" {
            let (status, p) = s
                .post(
                    "/api/v1/connectors",
                    json!({
                        "name": "c",
                        "location": { "kind": "location", "value": value },
                        "scanners": [{ "name": "noop" }],
                    }),
                )
                .await;
            assert_eq!(status, 422, "connector {value}: {p}");
        }
        // And so is a plan.
        let (status, p) = s
            .post(
                "/api/v1/scans/plan",
                json!({ "config": scan(kind, value)["config"] }),
            )
            .await;
        assert_eq!(status, 422, "plan {kind} {value}: {p}");
    }
    // Inside the root: accepted (the checks refuse escapes, not local targets).
    for (kind, value) in [
        ("repo", format!("{root}/repo")),
        ("repo", format!("{root}/deep/../repo")),
        ("location", format!("file://{root}/repo/")),
        ("location", format!("file://{root}/deep/")),
    ] {
        let (status, p) = s.post("/api/v1/scans", scan(kind, &value)).await;
        assert_eq!(status, 201, "{kind} {value}: {p}");
    }
}
