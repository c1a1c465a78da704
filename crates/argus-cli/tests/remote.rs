//! `argus remote` against a real `argus serve`: a scan created, started, watched to the end
//! over SSE, read back, listed, its findings listed (table and `--json`), an artifact
//! downloaded, and the errors a user meets (unknown id, illegal transition, no server, no token
//! in `auth.mode = "apikey"`), then success with a key from `argus admin apikey create`.
//!
//! Outputs are compared with golden files in `tests/golden/remote/` after ids, times and the
//! server's address are normalised (`<ID>`, `<TIME>`, `<SERVER>`). Regenerate them with
//! `UPDATE_GOLDEN=1 cargo test -p argus-cli --test remote`.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `argus remote --server <base> <args…>`, with `token` as ARGUS_TOKEN (and none inherited).
fn remote_cmd(base: &str, token: Option<&str>, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_argus"));
    c.args(["remote", "--server", base])
        .args(args)
        .env_remove("ARGUS_TOKEN")
        .env_remove("ARGUS_SERVER")
        .env("RUST_LOG", "warn");
    if let Some(t) = token {
        c.env("ARGUS_TOKEN", t);
    }
    c
}

fn remote(base: &str, token: Option<&str>, args: &[&str]) -> Output {
    remote_cmd(base, token, args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a command that must succeed; returns its stdout.
fn ok(base: &str, token: Option<&str>, args: &[&str]) -> String {
    let o = remote(base, token, args);
    assert!(
        o.status.success(),
        "argus remote {args:?}: {}\n{}",
        o.status,
        stderr(&o)
    );
    stdout(&o)
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// Length of a UUID at the start of `s`, if there is one.
fn uuid_at(s: &[u8]) -> Option<usize> {
    if s.len() < 36 {
        return None;
    }
    let ok = s[..36].iter().enumerate().all(|(i, &b)| match i {
        8 | 13 | 18 | 23 => b == b'-',
        _ => is_hex(b),
    });
    ok.then_some(36)
}

/// Length of a timestamp at the start of `s` (`2026-01-02T03:04:05.123Z`, `… +00:00`, or the
/// tables' `2026-01-02 03:04:05`), if there is one.
fn time_at(s: &[u8]) -> Option<usize> {
    let pat = b"dddd-dd-dd?dd:dd:dd";
    if s.len() < pat.len() {
        return None;
    }
    for (p, &b) in pat.iter().zip(s) {
        let fits = match p {
            b'd' => b.is_ascii_digit(),
            b'?' => b == b'T' || b == b' ',
            c => b == *c,
        };
        if !fits {
            return None;
        }
    }
    let mut n = pat.len();
    if s.get(n) == Some(&b'.') {
        n += 1;
        while s.get(n).is_some_and(u8::is_ascii_digit) {
            n += 1;
        }
    }
    if s.get(n) == Some(&b'Z') {
        n += 1;
    } else if matches!(s.get(n), Some(b'+' | b'-'))
        && s.len() >= n + 6
        && s[n + 3] == b':'
        && s[n + 1..n + 3].iter().all(u8::is_ascii_digit)
    {
        n += 6;
    }
    Some(n)
}

/// Ids and times replaced by `<ID>` and `<TIME>`, the server's origin by `<SERVER>`.
fn normalise(text: &str, origin: &str) -> String {
    let text = text.replace(origin, "<SERVER>");
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if let Some(n) = uuid_at(&b[i..]) {
            out.extend_from_slice(b"<ID>");
            i += n;
        } else if let Some(n) = time_at(&b[i..]) {
            out.extend_from_slice(b"<TIME>");
            i += n;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn golden(name: &str, actual: &str) {
    let path = manifest().join("tests/golden/remote").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden file {}", path.display()));
    assert_eq!(
        actual,
        expected,
        "output differs from {} (UPDATE_GOLDEN=1 to accept)",
        path.display()
    );
}

/// Waits for `child` to exit, failing the test after `timeout`.
fn wait_child(mut child: Child, timeout: Duration) -> Output {
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!("timed out; stderr so far:\n{}", stderr(&o));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

type Lines = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// `scans watch ID` running, its stderr lines collected as they come.
fn spawn_watch(origin: &str, id: &str) -> (Child, Lines, std::thread::JoinHandle<()>) {
    let mut watcher = remote_cmd(origin, None, &["scans", "watch", id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines: Lines = Default::default();
    let reader = {
        let lines = lines.clone();
        let err = std::io::BufReader::new(watcher.stderr.take().unwrap());
        std::thread::spawn(move || {
            use std::io::BufRead;
            for l in err.lines().map_while(Result::ok) {
                lines.lock().unwrap().push(l);
            }
        })
    };
    (watcher, lines, reader)
}

/// Waits until a collected line starts with `prefix`.
fn wait_line(lines: &Lines, prefix: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lines.lock().unwrap().iter().any(|l| l.starts_with(prefix)) {
        assert!(
            Instant::now() < deadline,
            "no line {prefix:?} in {:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn remote_cli_drives_a_scan_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let tools = manifest().join("tests/fixtures/tools");
    let server = common::serve(
        dir.path(),
        1,
        &[("ARGUS_TOOLS__DIR", tools.to_str().unwrap())],
    );
    // The origin (`http://127.0.0.1:PORT`), as a user would pass it.
    let origin = server.base.trim_end_matches("/api/v1").to_owned();
    let norm = |s: &str| normalise(s, &origin);

    // Created, not started: stdout is the id alone (for `ID=$(…)`).
    let out = remote(
        &origin,
        None,
        &[
            "scans",
            "create",
            "--scanner",
            "noop",
            "--target",
            "example.com",
            "--param",
            "findings=3",
            "--name",
            "golden",
            "--no-start",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_owned();
    assert_eq!(norm(&id), "<ID>", "{id}");
    golden("create.txt", &norm(&stderr(&out)));

    // Watched from before it starts (its first line is printed once it has read the scan as
    // `created`), so the whole run is seen live, whatever the timing: the stream replays the
    // scan's events from the first one.
    let (watcher, lines, reader) = spawn_watch(&origin, &id);
    wait_line(&lines, "watching scan");
    golden(
        "start.txt",
        &norm(&ok(&origin, None, &["scans", "start", &id])),
    );
    let watched = wait_child(watcher, Duration::from_secs(60));
    reader.join().unwrap();
    let watch_err: String = lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(watched.status.code(), Some(0), "{watch_err}");
    golden(
        "watch.txt",
        &norm(&format!("{watch_err}--- stdout ---\n{}", stdout(&watched))),
    );

    // Read back: the detail, the JSON, the list.
    golden("get.txt", &norm(&ok(&origin, None, &["scans", "get", &id])));
    let json = ok(&origin, None, &["scans", "get", &id, "--json"]);
    let scan: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(scan["state"], "completed");
    assert_eq!(scan["progress"]["findings"], 3);
    golden("get.json", &norm(&json));
    golden("list.txt", &norm(&ok(&origin, None, &["scans", "list"])));
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&origin, None, &["scans", "list", "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], id.as_str());

    // Findings: of the scan, of the latest scans (the same three), paged.
    let findings = ok(&origin, None, &["findings", "list", "--scan", &id]);
    golden("findings.txt", &norm(&findings));
    assert_eq!(ok(&origin, None, &["findings", "list"]), findings);
    let fjson = ok(
        &origin,
        None,
        &["findings", "list", "--scan", &id, "--json"],
    );
    golden("findings.json", &norm(&fjson));
    let page = remote(
        &origin,
        None,
        &["findings", "list", "--scan", &id, "--limit", "2"],
    );
    assert!(page.status.success());
    assert_eq!(stdout(&page).lines().count(), 1 + 2, "{}", stdout(&page));
    assert!(stderr(&page).contains("--all"), "{}", stderr(&page));
    let all = ok(
        &origin,
        None,
        &["findings", "list", "--scan", &id, "--limit", "2", "--all"],
    );
    assert_eq!(all, findings);
    let high = ok(
        &origin,
        None,
        &[
            "findings",
            "list",
            "--scan",
            &id,
            "--severity",
            "high",
            "--json",
        ],
    );
    assert_eq!(high.trim(), "[]");

    // Errors: one line with the server's problem and a hint, exit code 2.
    let unknown = "00000000-0000-7000-8000-000000000000";
    let out = remote(&origin, None, &["scans", "get", unknown]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    golden("not_found.txt", &norm(&stderr(&out)));
    let out = remote(&origin, None, &["scans", "stop", &id]);
    assert_eq!(out.status.code(), Some(2));
    golden("conflict.txt", &norm(&stderr(&out)));
    let out = remote(&origin, None, &["scans", "list", "--state", "sleeping"]);
    assert_eq!(out.status.code(), Some(2));
    golden("invalid.txt", &norm(&stderr(&out)));
    let nowhere = format!("http://127.0.0.1:{}", closed_port());
    let out = remote(&nowhere, None, &["scans", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let msg = stderr(&out);
    assert!(
        msg.contains(&format!("cannot connect to the Argus server at {nowhere}")),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1, "{msg}");

    // A tool scan keeps the tool's stdout as an artifact: listed, then downloaded to disk.
    let out = remote(
        &origin,
        None,
        &[
            "scans",
            "create",
            "--scanner",
            "tool:chain",
            "--target",
            "example.com",
            "--watch",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let tool_id = stdout(&out).lines().next().unwrap().to_owned();
    let artifacts: serde_json::Value = serde_json::from_str(&ok(
        &origin,
        None,
        &["artifacts", "list", &tool_id, "--json"],
    ))
    .unwrap();
    let name = artifacts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .find(|n| n.ends_with("stdout.log"))
        .unwrap_or_else(|| panic!("no stdout.log in {artifacts}"))
        .to_owned();
    golden(
        "artifacts.txt",
        &norm(&ok(&origin, None, &["artifacts", "list", &tool_id])),
    );
    let file = dir.path().join("tool-stdout.log");
    let out = remote(
        &origin,
        None,
        &[
            "artifacts",
            "download",
            &tool_id,
            &name,
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(r#""title":"Port 22 open on example.com""#),
        "{text}"
    );
    assert!(!Path::new(&format!("{}.part", file.display())).exists());
    // To stdout with `-o -`: the same bytes.
    let piped = ok(
        &origin,
        None,
        &["artifacts", "download", &tool_id, &name, "-o", "-"],
    );
    assert_eq!(piped, text);
    let out = remote(
        &origin,
        None,
        &["artifacts", "download", &tool_id, "nope.log", "-o", "-"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));
}

#[test]
fn remote_cli_needs_a_key_in_apikey_mode() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::serve(dir.path(), 1, &[("ARGUS_AUTH__MODE", "apikey")]);
    let origin = server.base.trim_end_matches("/api/v1").to_owned();

    let out = remote(&origin, None, &["scans", "list"]);
    assert_eq!(out.status.code(), Some(2));
    golden("unauthorized.txt", &normalise(&stderr(&out), &origin));

    // A wrong key: refused, and never echoed.
    let bogus = "argus_bogus_0123456789abcdef";
    let out = remote(&origin, Some(bogus), &["scans", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains(bogus) && !stdout(&out).contains(bogus));

    let key = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args([
            "admin", "apikey", "create", "--org", "acme", "--role", "analyst",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(key.status.success(), "{}", stderr(&key));
    let key = stdout(&key).trim().to_owned();

    // From the environment, and from --token.
    let listed = ok(&origin, Some(&key), &["scans", "list", "--json"]);
    assert_eq!(listed.trim(), "[]");
    let id = ok(
        &origin,
        None,
        &[
            "--token",
            &key,
            "scans",
            "create",
            "--scanner",
            "noop",
            "--target",
            "example.com",
            "--no-start",
        ],
    );
    let table = ok(&origin, Some(&key), &["scans", "list"]);
    assert!(table.contains(id.trim()), "{table}");

    // Help teaches, and never shows the token from the environment.
    let help = remote(&origin, Some(&key), &["--help"]);
    let text = stdout(&help);
    assert!(
        text.contains("Examples:") && text.contains("ARGUS_TOKEN"),
        "{text}"
    );
    assert!(!text.contains(&key), "{text}");
}

#[test]
fn normalising_replaces_ids_and_times_only() {
    assert_eq!(
        normalise(
            "0193e0a1-7c2b-7d3e-9f00-0123456789ab at 2026-12-07T19:46:37.123456Z, \
             2026-12-07 19:46:37 and 2026-12-07T19:46:37+00:00 on http://h:1",
            "http://h:1"
        ),
        "<ID> at <TIME>, <TIME> and <TIME> on <SERVER>"
    );
    assert_eq!(normalise("0193e0a1 2026-12", "x"), "0193e0a1 2026-12");
}

#[test]
fn watch_resumes_where_it_was_when_the_server_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::serve(dir.path(), 1, &[]);
    let origin = server.base.trim_end_matches("/api/v1").to_owned();
    let addr = origin.trim_start_matches("http://").to_owned();
    let id = ok(
        &origin,
        None,
        &[
            "scans",
            "create",
            "--scanner",
            "noop",
            "--target",
            "example.com",
            "--param",
            "sleep_ms=2000",
            "--param",
            "findings=2",
        ],
    )
    .trim()
    .to_owned();
    let (watcher, lines, reader) = spawn_watch(&origin, &id);
    wait_line(&lines, "state: queued → running");

    // A graceful stop ends every event stream; the watcher retries until the server is back.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(server.child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    wait_line(&lines, "note: ");
    let mut server = server;
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(server);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_argus"));
    cmd.env("ARGUS_SCANNERS__NOOP__ENABLED", "true")
        .args(["serve", "--bind", &addr, "--workers", "1", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let _again = common::listen(cmd);

    let watched = wait_child(watcher, Duration::from_secs(60));
    reader.join().unwrap();
    let lines = lines.lock().unwrap().clone();
    assert_eq!(watched.status.code(), Some(0), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.starts_with("note: reconnecting")),
        "{lines:#?}"
    );
    // Each event once: the stream was resumed after the last event seen, not replayed.
    for state in [
        "state: created → queued",
        "state: queued → running",
        "state: running → completed",
    ] {
        let n = lines.iter().filter(|l| l.as_str() == state).count();
        assert_eq!(n, 1, "{state:?} {n} times: {lines:#?}");
    }
    assert_eq!(
        stdout(&watched),
        format!("scan {id} completed: 1/1 tasks done, 0 failed, 2 findings\n")
    );
}
