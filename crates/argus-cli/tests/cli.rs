//! The binary's user-facing commands: help, config show (golden), scanners, direct scans and
//! their exit codes, and the config reference page covering every key.
#![allow(clippy::disallowed_methods)]

use std::process::Command;

fn argus() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_argus"));
    // A clean environment for config: no inherited ARGUS_* variables.
    for (k, _) in std::env::vars() {
        if k.starts_with("ARGUS_") {
            c.env_remove(k);
        }
    }
    c
}

/// `argus` with the `noop` scanner registered (it is opt-in, for tests and benchmarks).
fn argus_noop() -> Command {
    let mut c = argus();
    c.env("ARGUS_SCANNERS__NOOP__ENABLED", "true");
    c
}

#[test]
fn config_show_matches_golden_and_masks_secrets() {
    // Paths are made absolute against the working directory at start-up; the golden file
    // writes that directory as `<cwd>`.
    let cwd = tempfile::tempdir().unwrap();
    let cwd_path = cwd.path().canonicalize().unwrap();
    let out = argus()
        .current_dir(&cwd_path)
        .args(["config", "show"])
        .env("ARGUS_STORE__URL", "sqlite://db.sqlite")
        .env("ARGUS_ARTIFACTS__URL", "file://u:hunter2@host/art")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replace(cwd_path.to_str().unwrap(), "<cwd>");
    assert!(!text.contains("hunter2"), "password leaked: {text}");
    let golden = include_str!("golden/config_show.toml");
    assert_eq!(
        text, golden,
        "update tests/golden/config_show.toml if the change is intended"
    );
}

#[test]
fn help_teaches_the_commands() {
    let out = argus().arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for cmd in ["serve", "worker", "scan", "config", "scanners"] {
        assert!(text.contains(cmd), "--help lacks {cmd}: {text}");
    }
}

#[test]
fn scanners_lists_noop_and_builtin_tools() {
    // Off by default: noop accepts every target kind and must not make them look supported.
    let out = argus().args(["scanners", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v.as_array().unwrap().iter().all(|s| s["name"] != "noop"),
        "noop registered without scanners.noop.enabled: {v}"
    );
    let out = argus_noop().args(["scanners", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for n in [
        "noop",
        "tool:subfinder",
        "tool:httpx",
        "tool:naabu",
        "tool:nuclei",
        "tool:trivy",
        "tool:gitleaks",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    for s in v.as_array().unwrap() {
        assert!(s["params_schema"].is_object(), "{s}");
        assert!(s["available"].is_boolean(), "{s}");
    }
}

#[test]
fn direct_scan_prints_json_and_sets_exit_code() {
    // noop with findings=2: two info findings → exit 1 with --fail-on info.
    let out = argus_noop()
        .args([
            "scan",
            "noop",
            "noop://x",
            "--kind",
            "url",
            "--param",
            "findings=2",
            "--format",
            "json",
            "--fail-on",
            "info",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);

    let out = argus_noop()
        .args([
            "scan",
            "noop",
            "noop://x",
            "--kind",
            "url",
            "--param",
            "findings=2",
            "--format",
            "jsonl",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);

    let out = argus_noop()
        .args(["scan", "noop", "noop://x", "--kind", "url"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn direct_scan_errors_are_clear() {
    let out = argus()
        .args(["scan", "tool:nope", "example.com"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown scanner 'tool:nope'"), "{err}");

    let out = argus_noop()
        .args([
            "scan",
            "noop",
            "noop://x",
            "--kind",
            "url",
            "--param",
            "fanout=-1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("fanout"), "{err}");
}

#[test]
fn config_reference_documents_every_key() {
    let doc = include_str!("../../../docs/config.md");
    let out = argus().args(["config", "show"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut section = String::new();
    for line in text.lines() {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_string();
        } else if let Some((key, _)) = line.split_once(" = ") {
            let full = format!("`{section}.{}`", key.trim());
            assert!(
                doc.contains(&full),
                "docs/config.md does not document {full}"
            );
        }
    }
}

#[test]
fn migrate_creates_the_embedded_database() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..2 {
        let out = argus()
            .args(["migrate", "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "round {round}: {stderr}");
        assert!(stderr.contains("is up to date"), "round {round}: {stderr}");
    }
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f.ends_with(".db") || f.ends_with(".sqlite")),
        "no database file in {files:?}"
    );
}

/// `argus scan secrets <url>` clones the repository into a temporary folder (here a `file://`
/// URL, so no network is needed), scans its whole history, prints findings and removes the
/// clone afterwards.
#[test]
fn scan_secrets_clones_a_repository_url() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("origin");
    std::fs::create_dir(&repo).unwrap();
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&repo)
            .status()
            .unwrap();
        assert!(st.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    // Assembled at run time so this source file does not itself contain the token.
    let token = format!("{}{}", "ghp_", "R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xx");
    std::fs::write(repo.join("deploy.sh"), format!("export GH={token}\n")).unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "add deploy script"]);
    // The secret is gone from HEAD but stays in history.
    std::fs::remove_file(repo.join("deploy.sh")).unwrap();
    git(&["commit", "-q", "-am", "remove it"]);

    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = argus()
        .args(["scan", "secrets", "--format", "json"])
        .arg(format!("file://{}", repo.display()))
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a finding fails the run; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("deploy.sh"), "{stdout}");
    assert!(
        !stdout.contains(&token),
        "secret shown without --show-secrets"
    );
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "the clone was not removed: {left:?}");

    // --fail-on none: the same report, exit 0 (as the file scanners' --fail-on none).
    let quiet = argus()
        .args(["scan", "secrets", "--format", "json", "--fail-on", "none"])
        .arg(format!("file://{}", repo.display()))
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_eq!(
        quiet.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    assert!(String::from_utf8_lossy(&quiet.stdout).contains("deploy.sh"));
}

/// The repository copy key and ssh credentials are checked at start-up with messages that say
/// what to set; a valid key and an ssh key credential start, and neither value is shown.
#[test]
fn repo_copy_key_and_ssh_credentials_are_checked_at_start_up() {
    let stderr_of = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let mut cmd = argus();
    cmd.arg("scanners")
        .env("ARGUS_SECRETS__REPO_COPY_KEY_ENV", "ARGUS_TEST_COPY_KEY")
        .env_remove("ARGUS_TEST_COPY_KEY");
    let (ok, err, _) = stderr_of(&mut cmd);
    assert!(
        !ok && err.contains("ARGUS_TEST_COPY_KEY") && err.contains("openssl rand -hex 32"),
        "{err}"
    );

    let mut cmd = argus();
    cmd.arg("scanners")
        .env("ARGUS_SECRETS__REPO_COPY_KEY_ENV", "ARGUS_TEST_COPY_KEY")
        .env("ARGUS_TEST_COPY_KEY", "too-short");
    let (ok, err, _) = stderr_of(&mut cmd);
    assert!(!ok && err.contains("32 bytes"), "{err}");

    let key = "ab".repeat(32);
    let mut cmd = argus();
    cmd.args(["config", "show"])
        .env("ARGUS_SECRETS__REPO_COPY_KEY_ENV", "ARGUS_TEST_COPY_KEY")
        .env("ARGUS_TEST_COPY_KEY", &key)
        .env("ARGUS_SECRETS__CREDENTIALS__GL__HOST", "gitlab.example")
        .env(
            "ARGUS_SECRETS__CREDENTIALS__GL__SSH_KEY_ENV",
            "ARGUS_TEST_SSH_KEY",
        )
        .env(
            "ARGUS_TEST_SSH_KEY",
            "-----BEGIN OPENSSH PRIVATE KEY-----hunter2",
        );
    let (ok, err, out) = stderr_of(&mut cmd);
    assert!(ok, "{err}");
    assert!(
        out.contains("ssh_key_env = \"ARGUS_TEST_SSH_KEY\""),
        "{out}"
    );
    assert!(!out.contains(&key) && !out.contains("hunter2"), "{out}");

    let mut cmd = argus();
    cmd.arg("scanners")
        .env("ARGUS_SECRETS__CREDENTIALS__GL__HOST", "gitlab.example")
        .env(
            "ARGUS_SECRETS__CREDENTIALS__GL__SSH_KEY_ENV",
            "ARGUS_TEST_SSH_KEY",
        )
        .env(
            "ARGUS_SECRETS__CREDENTIALS__GL__TOKEN_ENV",
            "ARGUS_TEST_SSH_KEY",
        )
        .env("ARGUS_TEST_SSH_KEY", "x");
    let (ok, err, _) = stderr_of(&mut cmd);
    assert!(!ok && err.contains("exactly one of token_env"), "{err}");
}

/// A configured git credential names the environment variable holding its token: start-up
/// fails with a clear message while it is unset, and the token never shows in `config show`.
#[test]
fn secrets_credentials_come_from_the_environment() {
    let with_cred = |cmd: &mut Command| {
        cmd.env("ARGUS_SECRETS__CREDENTIALS__GH__HOST", "github.com")
            .env(
                "ARGUS_SECRETS__CREDENTIALS__GH__TOKEN_ENV",
                "ARGUS_TEST_GH_TOKEN",
            )
            .env_remove("ARGUS_TEST_GH_TOKEN");
    };
    let mut cmd = argus();
    cmd.arg("scanners");
    with_cred(&mut cmd);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "missing token accepted");
    assert!(
        stderr.contains("ARGUS_TEST_GH_TOKEN") && stderr.contains("secrets.credentials.gh"),
        "{stderr}"
    );

    let mut cmd = argus();
    cmd.arg("scanners");
    with_cred(&mut cmd);
    let out = cmd
        .env("ARGUS_TEST_GH_TOKEN", "tok-hunter2")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("secrets"));

    let mut cmd = argus();
    cmd.args(["config", "show"]);
    with_cred(&mut cmd);
    let out = cmd
        .env("ARGUS_TEST_GH_TOKEN", "tok-hunter2")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("token_env = \"ARGUS_TEST_GH_TOKEN\""),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

/// `trusted-headers` mode with no trusted proxy would let any client claim any org: `argus
/// serve` refuses to start, naming the setting, before it binds or opens anything.
#[test]
fn serve_refuses_trusted_headers_without_trusted_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = argus()
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("ARGUS_AUTH__MODE", "trusted-headers")
        .env("ARGUS_SERVER__BIND", "127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Before the check existed it served until killed: bound the wait, then fail.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("argus serve started in trusted-headers mode without trusted proxies");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
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
    assert!(err.contains("auth.trusted_proxies"), "{err}");
    assert!(err.contains("trusted-headers"), "{err}");
    assert!(
        !dir.path().join("argus.db").exists(),
        "the store was opened before the config was checked"
    );

    // With a proxy listed the same config is fine (checked without serving: `config show`).
    let out = argus()
        .args(["config", "show"])
        .env("ARGUS_AUTH__MODE", "trusted-headers")
        .env("ARGUS_AUTH__TRUSTED_PROXIES", "[\"10.0.0.5\"]")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
