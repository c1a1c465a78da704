//! The process door, with real processes (scripts in `tests/fixtures`).

// Helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod common;
use common::{alive, all_gone, read_pids};

use argus_scanners::process::{self, ProcessError, ProcessSpec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[tokio::test]
async fn captures_output_and_exit_status() {
    let out = process::run(
        ProcessSpec::new(fixture("crash.sh")),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.code(), Some(3));
    assert!(!out.success());
    assert_eq!(out.stdout, b"{\"partial\": true}\n");
    assert_eq!(
        out.last_stderr_line().as_deref(),
        Some("[FTL] could not resolve host: no such host")
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("[INF] loading templates"));
    assert!(!out.stdout_truncated && !out.stderr_truncated);
}

#[tokio::test]
async fn arguments_are_passed_literally_without_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let args = vec![
        "a b".to_owned(),
        format!("$(touch {})", marker.display()),
        format!("`touch {}`", marker.display()),
        "; rm -rf /nonexistent".to_owned(),
        "*".to_owned(),
        "'single'".to_owned(),
        "\"double\"".to_owned(),
        String::new(),
        "x|y&z>w".to_owned(),
        "$HOME".to_owned(),
        "ünïcode".to_owned(),
    ];
    let mut spec = ProcessSpec::new(fixture("args.py")).args(args.clone());
    spec.cwd = Some(dir.path().to_path_buf());
    let out = process::run(spec, &CancellationToken::new()).await.unwrap();
    assert!(
        out.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<String> = serde_json::from_value(v["args"].clone()).unwrap();
    assert_eq!(got, args);
    assert_eq!(
        Path::new(v["cwd"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        dir.path().canonicalize().unwrap()
    );
    assert!(!marker.exists(), "a shell interpreted an argument");
}

#[tokio::test]
async fn environment_is_cleaned() {
    // Safe here: Rust serialises its own environment access, and nothing else reads this var.
    std::env::set_var("ARGUS_TEST_LEAK", "do-not-leak");
    assert!(
        std::env::var_os("CARGO_MANIFEST_DIR").is_some(),
        "cargo sets this for tests"
    );
    let mut spec = ProcessSpec::new(fixture("printenv.sh"));
    spec.env = BTreeMap::from([("EXTRA_VAR".to_owned(), "given by spec".to_owned())]);
    let out = process::run(spec, &CancellationToken::new()).await.unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let env: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    assert!(
        !env.contains_key("ARGUS_TEST_LEAK"),
        "our env leaked: {env:?}"
    );
    assert!(
        !env.contains_key("CARGO_MANIFEST_DIR"),
        "our env leaked: {env:?}"
    );
    assert_eq!(env.get("EXTRA_VAR"), Some(&"given by spec"));
    assert_eq!(
        env.get("PATH").copied(),
        std::env::var("PATH").ok().as_deref()
    );
    // Only the inherited four, the spec's own, and what bash itself always sets.
    let allowed = [
        "PATH",
        "HOME",
        "LANG",
        "TMPDIR",
        "EXTRA_VAR",
        "PWD",
        "SHLVL",
        "_",
    ];
    for k in env.keys() {
        assert!(
            allowed.contains(k),
            "unexpected variable {k} in the child's environment"
        );
    }
}

#[tokio::test]
async fn cancel_kills_child_and_grandchild_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pids");
    let cancel = CancellationToken::new();
    let spec = ProcessSpec::new(fixture("hang.sh"))
        .arg(&pidfile)
        .timeout(Duration::from_secs(600));
    let c2 = cancel.clone();
    let run = tokio::spawn(async move { process::run(spec, &c2).await });
    let pids = read_pids(&pidfile).await;
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|p| alive(*p)));

    let t0 = Instant::now();
    cancel.cancel();
    let res = run.await.unwrap();
    let took = t0.elapsed();
    assert!(matches!(res, Err(ProcessError::Cancelled)), "{res:?}");
    assert!(took < Duration::from_secs(1), "cancel took {took:?}");
    assert!(
        all_gone(&pids).await,
        "child or grandchild survived: {pids:?}"
    );
}

#[tokio::test]
async fn timeout_kills_the_group_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pids");
    let spec = ProcessSpec::new(fixture("hang.sh"))
        .arg(&pidfile)
        .timeout(Duration::from_millis(1500));
    let res = process::run(spec, &CancellationToken::new()).await;
    match res {
        Err(e @ ProcessError::TimedOut { .. }) => {
            assert_eq!(e.to_string(), "timed out after 1500ms")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    let pids = read_pids(&pidfile).await;
    assert!(
        all_gone(&pids).await,
        "child or grandchild survived the timeout: {pids:?}"
    );
    assert_eq!(
        ProcessError::TimedOut {
            after: Duration::from_secs(30)
        }
        .to_string(),
        "timed out after 30s"
    );
}

#[tokio::test]
async fn dropping_the_run_future_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pids");
    let spec = ProcessSpec::new(fixture("hang.sh"))
        .arg(&pidfile)
        .timeout(Duration::from_secs(600));
    let cancel = CancellationToken::new();
    let pf = pidfile.clone();
    let mut fut = Box::pin(process::run(spec, &cancel));
    // Drive the run until the fixture is up, then drop the future without cancelling.
    let pids = tokio::select! {
        r = &mut fut => panic!("hang.sh returned: {r:?}"),
        pids = read_pids(&pf) => pids,
    };
    drop(fut);
    assert!(
        all_gone(&pids).await,
        "dropping run() left processes behind: {pids:?}"
    );
}

#[tokio::test]
async fn strays_of_an_exited_tool_are_killed_and_do_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let spec = ProcessSpec::new(fixture("stray.sh"))
        .arg(&pidfile)
        .timeout(Duration::from_secs(600));
    let out = process::run(spec, &CancellationToken::new()).await.unwrap();
    assert!(out.success());
    assert_eq!(out.stdout, b"done\n");
    let pids = read_pids(&pidfile).await;
    assert!(
        all_gone(&pids).await,
        "the stray background child survived: {pids:?}"
    );
}

#[tokio::test]
async fn output_caps_truncate_but_keep_draining() {
    // 5000 lines of ~100 bytes on each stream: far beyond the caps and the pipe buffers.
    let mut spec = ProcessSpec::new(fixture("flood.sh")).arg("5000");
    spec.stdout_cap = 10_000;
    spec.stderr_cap = 1_000;
    let out = process::run(spec, &CancellationToken::new()).await.unwrap();
    assert!(out.success(), "the child must not block on a full pipe");
    assert_eq!(out.stdout.len(), 10_000);
    assert_eq!(out.stderr.len(), 1_000);
    assert!(out.stdout_truncated && out.stderr_truncated);
    let line_len = out.stdout.iter().position(|b| *b == b'\n').unwrap() as u64 + 1;
    assert_eq!(
        out.stdout_len,
        5000 * line_len,
        "every byte was read, kept or not"
    );
    assert!(out
        .last_stderr_line()
        .unwrap()
        .starts_with("noise line 004999"));

    // Streamed to files: the file holds exactly the cap.
    let dir = tempfile::tempdir().unwrap();
    let mut spec = ProcessSpec::new(fixture("flood.sh")).arg("2000");
    spec.stdout_cap = 4_096;
    spec.stdout_file = Some(dir.path().join("sub/stdout"));
    spec.stderr_file = Some(dir.path().join("sub/stderr"));
    let out = process::run(spec, &CancellationToken::new()).await.unwrap();
    assert!(out.stdout.is_empty() && out.stdout_truncated);
    assert_eq!(
        std::fs::metadata(dir.path().join("sub/stdout"))
            .unwrap()
            .len(),
        4_096
    );
    assert_eq!(
        std::fs::metadata(dir.path().join("sub/stderr"))
            .unwrap()
            .len(),
        out.stderr_len
    );
    assert!(!out.stderr_truncated);
}

#[tokio::test]
async fn stdin_is_delivered() {
    let mut spec = ProcessSpec::new(fixture("stdin_echo.sh"));
    spec.stdin = Some(bytes::Bytes::from_static(b"hello\nworld\n"));
    let out = process::run(spec, &CancellationToken::new()).await.unwrap();
    assert_eq!(out.stdout, b"hello\nworld\n");
}

#[tokio::test]
async fn missing_programs_are_reported_by_name() {
    let res = process::run(
        ProcessSpec::new("argus-definitely-not-a-tool"),
        &CancellationToken::new(),
    )
    .await;
    match res {
        Err(e @ ProcessError::NotFound(_)) => {
            assert_eq!(
                e.to_string(),
                "executable 'argus-definitely-not-a-tool' not found on PATH"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(process::which("sh").is_some());
    assert!(process::which("argus-definitely-not-a-tool").is_none());
    assert_eq!(
        process::which(fixture("crash.sh")),
        Some(fixture("crash.sh"))
    );
    // Not executable: a plain file is not a program.
    assert!(process::which(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).is_none());
    // An already-cancelled token starts nothing.
    let c = CancellationToken::new();
    c.cancel();
    assert!(matches!(
        process::run(ProcessSpec::new("sh"), &c).await,
        Err(ProcessError::Cancelled)
    ));
}
