//! Fixture generator: builds real git repositories with the `git` CLI, with secrets planted across
//! history, fixed authors and dates (so commit ids are reproducible), and returns the commit ids.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    dead_code
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

// Secret values are assembled with concat! so this source file does not itself contain them.
pub const AWS_ID: &str = concat!("AKIA", "QYLPMN5HHHFPZAM2");
pub const AWS_SECRET: &str = concat!("t8Lq2V", "x9ZrP4mK7cW1nB6yH3jD5fG0sA2eR8uQ4o");
pub const GH_TOKEN: &str = concat!("ghp_", "R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xx");
pub const GH_TOKEN_BAD_CRC: &str = concat!("ghp_", "R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xy");
pub const NPM_TOKEN: &str = concat!("npm_", "Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz24X8RHx");
pub const SESSION_SECRET: &str = concat!("kP9vX2", "mQ7wR4tY8uN3bL6cZ1aS5dF0gH2jK4e");
pub const SLACK_BOT: &str = concat!(
    "xoxb-",
    "123456789012-1234567890123-",
    "AbCdEfGhIjKlMnOpQrStUvWx"
);
pub const STRIPE: &str = concat!("sk_live_", "4eC39HqLyjWDarjtT1zdp7dc");
pub const DATADOG: &str = concat!("3f9a1c", "7e2b4d8a6c0e5f1b9d3a7c2e4f");
pub const SENDGRID: &str = concat!(
    "SG.",
    "aB3dE5fG7hI9jK1lM3nO5p",
    ".",
    "qR7sT9uV1wX3yZ5aB7cD9eF1gH3iJ5kL7mN9oP1qR3s"
);
pub const GITLAB: &str = concat!("glpat-", "Xy7Zq2Wv9Ut4Sr1Po6Nm");
pub const RSA_BODY: [&str; 4] = [
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK",
    "LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo",
    "9z+tRHM3wQ5KE7WPvVQpEgE2Gy9cJQ3OiYkR0c6Fp2Xe0qGHnY8tBz3Ma1VvA6o4",
];
pub const T0: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z
const DAY: i64 = 86_400;

pub fn rsa_key() -> String {
    format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
        RSA_BODY.join("\n")
    )
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    /// Commit ids by label (c1..c6, h1, m1, f1, t1).
    pub commits: HashMap<&'static str, String>,
    /// Blob id of the unreachable object holding the GitLab token.
    pub dangling_blob: String,
}

impl Fixture {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn id(&self, label: &str) -> String {
        self.commits[label].clone()
    }
}

pub fn git(dir: &Path, args: &[&str], who: (&str, &str), when: i64) -> String {
    let date = format!("{when} +0000");
    let out = Command::new("git")
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
            "-c",
            "core.autocrlf=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", who.0)
        .env("GIT_AUTHOR_EMAIL", who.1)
        .env("GIT_COMMITTER_NAME", who.0)
        .env("GIT_COMMITTER_EMAIL", who.1)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn write(root: &Path, rel: &str, data: &[u8]) {
    let p: PathBuf = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

pub const ALICE: (&str, &str) = ("Alice", "alice@example.com");
pub const BOB: (&str, &str) = ("Bob", "bob@example.com");
pub const CAROL: (&str, &str) = ("Carol", "carol@example.com");
pub const DAVE: (&str, &str) = ("Dave", "dave@example.com");
pub const EVE: (&str, &str) = ("Eve", "eve@example.com");

/// Build the history described in `tests/git_history.rs`.
pub fn build() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    let mut commits = HashMap::new();
    let commit = |msg: &str, who, day: i64| {
        git(r, &["add", "-A"], who, T0 + day * DAY);
        git(r, &["commit", "-q", "-m", msg], who, T0 + day * DAY);
        git(r, &["rev-parse", "HEAD"], who, T0 + day * DAY)
    };
    git(r, &["init", "-q", "-b", "main"], ALICE, T0);

    // c1: AWS key pair in config/app.env, decoys in README.
    write(
        r,
        "README.md",
        b"# demo\nUse AKIAIOSFODNN7EXAMPLE as in the AWS docs.\npassword = \"changeme\"\n",
    );
    write(
        r,
        "config/app.env",
        format!("# app config\nAWS_ACCESS_KEY_ID={AWS_ID}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n")
            .as_bytes(),
    );
    commits.insert("c1", commit("add config", ALICE, 0));

    // c2: the config is deleted again (secret lives only in history).
    std::fs::remove_file(r.join("config/app.env")).unwrap();
    write(r, "src/main.rs", b"fn main() {}\n");
    commits.insert("c2", commit("remove config", BOB, 1));
    git(r, &["branch", "feature"], BOB, T0 + DAY);

    // c3: GitHub token in settings.py, session secret in .env.
    write(
        r,
        "settings.py",
        format!("import os\nGITHUB_TOKEN = \"{GH_TOKEN}\"\n").as_bytes(),
    );
    write(
        r,
        ".env",
        format!("SESSION_SECRET={SESSION_SECRET}\n").as_bytes(),
    );
    commits.insert("c3", commit("settings", ALICE, 2));

    // c4: rename (same blob, new path).
    std::fs::create_dir_all(r.join("conf")).unwrap();
    git(
        r,
        &["mv", "settings.py", "conf/settings.py"],
        ALICE,
        T0 + 3 * DAY,
    );
    commits.insert("c4", commit("move settings", ALICE, 3));

    // c5: a binary file with a token inside, an inline-allowed test fixture, decoys.
    let mut bin = b"\x00\x01BIN\x00".to_vec();
    bin.extend_from_slice(format!("token={SLACK_BOT}\n").as_bytes());
    bin.push(0);
    write(r, "assets/blob.bin", &bin);
    write(
        r,
        "tests/fixture.py",
        format!("STRIPE = \"{STRIPE}\"  # argus:allow\n").as_bytes(),
    );
    write(
        r,
        "docs/example.md",
        format!("token: {GH_TOKEN_BAD_CRC}\nDATABASE_URL=postgres://user:password@localhost/db\n")
            .as_bytes(),
    );
    commits.insert("c5", commit("assets and docs", BOB, 4));

    // c6: .env modified (new blob, same secret on line 1).
    write(
        r,
        ".env",
        format!("SESSION_SECRET={SESSION_SECRET}\nDEBUG=1\n").as_bytes(),
    );
    commits.insert("c6", commit("debug flag", CAROL, 5));

    // h1 on a hotfix branch, merged into main with a merge commit m1.
    git(r, &["checkout", "-q", "-b", "hotfix"], DAVE, T0 + 6 * DAY);
    write(
        r,
        "ops/datadog.yaml",
        format!("DD_API_KEY: {DATADOG}\n").as_bytes(),
    );
    commits.insert("h1", commit("datadog", DAVE, 6));
    git(r, &["checkout", "-q", "main"], ALICE, T0 + 7 * DAY);
    git(
        r,
        &["merge", "-q", "--no-ff", "-m", "merge hotfix", "hotfix"],
        ALICE,
        T0 + 7 * DAY,
    );
    commits.insert("m1", git(r, &["rev-parse", "HEAD"], ALICE, T0 + 7 * DAY));
    git(r, &["branch", "-D", "hotfix"], ALICE, T0 + 7 * DAY);

    // f1: only on the side branch `feature`: a private key split across lines.
    git(r, &["checkout", "-q", "feature"], CAROL, T0 + 8 * DAY);
    write(r, "deploy/key.pem", rsa_key().as_bytes());
    commits.insert("f1", commit("deploy key", CAROL, 8));

    // t1: only reachable from an annotated tag (no branch).
    git(
        r,
        &["checkout", "-q", "--detach", &commits["c2"].clone()],
        EVE,
        T0 + 9 * DAY,
    );
    write(
        r,
        ".npmrc",
        format!("//registry.npmjs.org/:_authToken={NPM_TOKEN}\n").as_bytes(),
    );
    commits.insert("t1", commit("npm release", EVE, 9));
    git(
        r,
        &["tag", "-a", "v0.0.1-leak", "-m", "release"],
        EVE,
        T0 + 9 * DAY,
    );
    git(r, &["checkout", "-q", "main"], ALICE, T0 + 10 * DAY);

    // Staged but not committed.
    write(
        r,
        "staged.txt",
        format!("SENDGRID_API_KEY={SENDGRID}\n").as_bytes(),
    );
    git(r, &["add", "staged.txt"], ALICE, T0 + 10 * DAY);

    // An unreachable blob in the object database.
    let dangling = r.join("dangling.txt");
    std::fs::write(&dangling, format!("token = {GITLAB}\n")).unwrap();
    let dangling_blob = git(
        r,
        &["hash-object", "-w", "dangling.txt"],
        ALICE,
        T0 + 10 * DAY,
    );
    std::fs::remove_file(dangling).unwrap();

    Fixture {
        dir,
        commits,
        dangling_blob,
    }
}
