//! `argus push` with the real binary and real git: to a local bare repository (exit code, refs
//! arrived), a named config credential whose variable is unset, and bad input.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

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

fn argus(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(args)
        .current_dir(dir)
        .env_remove("ARGUS_CONFIG")
        .env_remove("ARGUS_GIT_TOKEN")
        .output()
        .unwrap()
}

/// A bare repository `src.git` with `main`, `side` and tag `v1`, and an empty bare `dst.git`.
fn repos() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("a.txt"), "a\n").unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "a"]);
    git(&work, &["tag", "v1"]);
    git(&work, &["branch", "side"]);
    git(root.path(), &["clone", "-q", "--bare", "work", "src.git"]);
    git(root.path(), &["init", "-q", "--bare", "dst.git"]);
    root
}

#[test]
fn pushes_to_a_local_bare_repository() {
    let root = repos();
    let r = root.path();
    let out = argus(r, &["push", "src.git", "--to", "dst.git", "--ref", "main"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("refs/heads/main -> refs/heads/main"),
        "{stdout}"
    );
    assert_eq!(refs(&r.join("dst.git")).len(), 1);

    // Default: every branch and tag.
    let out = argus(r, &["push", "src.git", "--to", "dst.git"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(refs(&r.join("dst.git")), refs(&r.join("src.git")));
}

#[test]
fn bad_input_fails_with_a_clear_message_and_exit_2() {
    let root = repos();
    let r = root.path();
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();

    std::fs::create_dir(r.join("plain")).unwrap();
    let out = argus(r, &["push", "plain", "--to", "dst.git"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not a git repository"),
        "{}",
        stderr(&out)
    );

    let out = argus(r, &["push", "src.git", "--to", "nowhere.git"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot reach the remote"),
        "{}",
        stderr(&out)
    );

    let out = argus(
        r,
        &["push", "src.git", "--to", "https://u:pw@example.com/r.git"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("password"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("pw@"), "the password is not echoed");

    // A config credential whose variable is unset: named, not guessed.
    std::fs::write(
        r.join("argus.toml"),
        "[secrets.credentials.gh]\nhost = \"example.com\"\ntoken_env = \"ARGUS_TEST_UNSET_TOKEN\"\n",
    )
    .unwrap();
    let out = argus(
        r,
        &[
            "--config",
            "argus.toml",
            "push",
            "src.git",
            "--to",
            "https://example.com/r.git",
            "--credential",
            "gh",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("ARGUS_TEST_UNSET_TOKEN is not set"),
        "{}",
        stderr(&out)
    );

    // --mirror and --ref exclude each other (clap's usage error).
    let out = argus(
        r,
        &[
            "push", "src.git", "--to", "dst.git", "--mirror", "--ref", "main",
        ],
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(refs(&r.join("dst.git")).is_empty(), "nothing was pushed");

    // --help teaches the credential sources.
    let out = argus(r, &["push", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--credentials-service") && help.contains("Examples"),
        "{help}"
    );
}
