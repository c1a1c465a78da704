//! Authentication of the real binary (issue #16): `argus admin apikey create|list|revoke` on the
//! store of a running `argus serve` in `auth.mode = "apikey"`, and the refusal to serve
//! without authentication on an address other than loopback.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn admin(data_dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["admin", "apikey"])
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "argus admin apikey {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn create(data_dir: &Path, org: &str, role: &str) -> String {
    let out = admin(
        data_dir,
        &[
            "create",
            "--org",
            org,
            "--role",
            role,
            "--name",
            "ci",
            "--expires",
            "30d",
        ],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the key alone on stdout: {stdout:?}");
    let key = lines[0].to_owned();
    assert!(key.starts_with("argus_"), "{key}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains(&key), "the key only on stdout: {stderr}");
    assert!(stderr.contains(role) && stderr.contains(org), "{stderr}");
    key
}

async fn status(http: &reqwest::Client, url: &str, key: Option<&str>) -> u16 {
    let mut req = http.get(url);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apikey_cli_manages_the_keys_a_running_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    // A key made before the server ever ran (the command creates the store).
    let analyst = create(dir.path(), "acme", "analyst");
    let server = common::serve(dir.path(), 1, &[("ARGUS_AUTH__MODE", "apikey")]);
    let http = reqwest::Client::new();
    let scans = format!("{}/scans", server.base);
    assert_eq!(status(&http, &scans, None).await, 401);
    assert_eq!(status(&http, &scans, Some(&analyst)).await, 200);
    let keys_url = format!("{}/apikeys", server.base);
    assert_eq!(status(&http, &keys_url, Some(&analyst)).await, 403);
    // Health stays public for probes.
    let health = server.base.replace("/api/v1", "/healthz");
    assert_eq!(status(&http, &health, None).await, 200);

    // Keys made while the server runs work at once; their list shows prefixes, never keys.
    let admin_key = create(dir.path(), "acme", "admin");
    assert_eq!(status(&http, &keys_url, Some(&admin_key)).await, 200);
    let out = admin(dir.path(), &["list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = listed.to_string();
    assert!(
        !text.contains(&analyst) && !text.contains(&admin_key),
        "{text}"
    );
    assert_eq!(listed.as_array().unwrap().len(), 2, "{text}");
    let table = String::from_utf8(admin(dir.path(), &["list", "--org", "acme"]).stdout).unwrap();
    assert!(
        table.contains("analyst") && table.contains("active"),
        "{table}"
    );

    // Revoked by prefix before its first use: refused.
    let spare = create(dir.path(), "acme", "viewer");
    let prefix = listed_prefix(dir.path(), "viewer");
    assert!(spare.starts_with(&prefix), "{spare} / {prefix}");
    let out = admin(dir.path(), &["revoke", &prefix]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("revoked"));
    assert_eq!(status(&http, &scans, Some(&spare)).await, 401);
    let table = String::from_utf8(admin(dir.path(), &["list"]).stdout).unwrap();
    assert!(table.contains("revoked"), "{table}");

    // The database holds hashes, not keys.
    let db = std::fs::read(dir.path().join("argus.db")).unwrap();
    let wal = std::fs::read(dir.path().join("argus.db-wal")).unwrap_or_default();
    for key in [&analyst, &admin_key, &spare] {
        let secret = key.rsplit('_').next().unwrap().as_bytes();
        for (name, bytes) in [("argus.db", &db), ("argus.db-wal", &wal)] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "a key's secret is in {name}"
            );
        }
    }
}

fn listed_prefix(dir: &Path, role: &str) -> String {
    let out = admin(dir, &["list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == role && k["revoked_at"].is_null())
        .unwrap()["prefix"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn bad_arguments_say_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            vec!["create", "--org", "acme", "--role", "root"],
            "admin, analyst or viewer",
        ),
        (vec!["create", "--org", "a b", "--role", "viewer"], "--org"),
        (
            vec![
                "create",
                "--org",
                "acme",
                "--role",
                "viewer",
                "--expires",
                "soon",
            ],
            "30d",
        ),
        (vec!["revoke", "argus_nothing"], "argus admin apikey list"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_argus"))
            .args(["admin", "apikey"])
            .args(&args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// Local mode lets every client act as an admin: `argus serve` refuses it on a network
/// address, before it opens anything, and says what to set.
#[test]
fn serve_refuses_local_mode_on_a_network_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["serve", "--bind", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("argus serve started in local mode on 0.0.0.0");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    use std::io::Read as _;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!status.success(), "{err}");
    assert!(err.contains("auth.mode"), "{err}");
    assert!(err.contains("apikey"), "{err}");
    assert!(
        !dir.path().join("argus.db").exists(),
        "opened before the check"
    );

    // With API keys the same address is fine.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_argus"));
    cmd.args([
        "serve",
        "--bind",
        "0.0.0.0:0",
        "--workers",
        "0",
        "--data-dir",
    ])
    .arg(dir.path())
    .env("ARGUS_AUTH__MODE", "apikey")
    .env("RUST_LOG", "warn")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let server = common::listen(cmd);
    assert!(server.base.contains("0.0.0.0"), "{}", server.base);
}
