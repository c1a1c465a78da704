//! Hostile input against the real `argus` binary (issue #16, "Hostile input, in CI").
//!
//! - **Planted secrets**: a git repository whose history holds several full-length secrets in
//!   formats the built-in rules detect is scanned through `argus serve` (embedded SQLite, local
//!   artifacts, a repository copy key), every finding is selected and the history cleaned (the
//!   clean writes bundle, archives, commit map and report artifacts). Then, while the server
//!   runs and again after a `kill -9` (which leaves the `-wal` and `-shm` files as they were),
//!   the database, its `-wal` and `-shm` and every file under the data folder are read —
//!   bundles cloned and every git object printed, tar.gz and zip archives unpacked (and the
//!   repositories in them printed), sealed copies decrypted — and none of the full values may
//!   appear anywhere except in the decrypted plaintext of the sealed repository copy, which
//!   must hold them (so the copy is there, is encrypted, and the grep reaches inside it). A
//!   self-check runs the same grep over scratch files holding the secrets in each of those
//!   forms and insists it finds them, so this test can fail.
//! - **Upload names**: `POST /api/v1/scan/binary` with names that are traversals, absolute
//!   paths, backslashes, NULs: the verdict names the upload as given, and nothing is written
//!   anywhere a name could point; rule paths outside `scan.local_roots` (by `..` or a symlink)
//!   are refused with 422.
//! - **Configuration**: arbitrary TOML given to `argus --config FILE config show` is shown or
//!   refused with a message and a non-zero exit, never a panic.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use argus_secrets::sealed::{open_file, seal_file, RepoCopyKey, MAGIC};
use serde_json::{json, Value};

// Assembled at run time so this source file does not itself contain the values.
fn planted() -> Vec<String> {
    vec![
        format!("{}{}", "ghp_", "R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xx"),
        format!("{}{}", "sk_live_", "4eC39HqLyjWDarjtT1zdp7dc"),
        format!("{}{}", "glpat-", "Xy7Zq2Wv9Ut4Sr1Po6Nm"),
        format!("{}{}", "AKIA", "QYLPMN5HHHFPZAM2"),
        format!("{}{}", "t8Lq2V", "x9ZrP4mK7cW1nB6yH3jD5fG0sA2eR8uQ4o"),
    ]
}

const KEY_HEX: &str = "3c7a1f0e9b2d4c6a8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f";

fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .args(["-c", "user.name=Ann", "-c", "user.email=ann@example.com"])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A repository whose history holds every planted secret (added, then deleted from the tip).
fn planted_repo(root: &Path) -> PathBuf {
    let s = planted();
    let repo = root.join("project");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "project\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "initial"]);
    std::fs::write(repo.join("deploy.sh"), format!("export GH={}\n", s[0])).unwrap();
    std::fs::write(
        repo.join("billing.py"),
        format!("stripe.api_key = \"{}\"\n", s[1]),
    )
    .unwrap();
    std::fs::write(repo.join("ci.env"), format!("GITLAB_TOKEN={}\n", s[2])).unwrap();
    std::fs::write(
        repo.join("aws.ini"),
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            s[3], s[4]
        ),
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "add config"]);
    for f in ["deploy.sh", "billing.py", "ci.env", "aws.ini"] {
        std::fs::remove_file(repo.join(f)).unwrap();
    }
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "remove config"]);
    repo
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Where the grep found a secret.
#[derive(Debug, Default)]
struct Grep {
    /// `(what, secret)` in plain sight: a file, an unpacked archive member, a git object.
    plain: Vec<(String, String)>,
    /// `(sealed file, secret)` found only after decrypting a sealed copy.
    sealed: Vec<(String, String)>,
    /// Sealed files met.
    sealed_files: Vec<String>,
    /// Files read, members unpacked, repositories printed: what the grep went through.
    read: usize,
}

struct Grepper<'a> {
    secrets: &'a [String],
    key: &'a RepoCopyKey,
    scratch: tempfile::TempDir,
    n: std::cell::Cell<usize>,
}

impl<'a> Grepper<'a> {
    fn new(secrets: &'a [String], key: &'a RepoCopyKey) -> Self {
        Grepper {
            secrets,
            key,
            scratch: tempfile::tempdir().unwrap(),
            n: std::cell::Cell::new(0),
        }
    }

    fn fresh(&self, what: &str) -> PathBuf {
        let n = self.n.get() + 1;
        self.n.set(n);
        let p = self.scratch.path().join(format!("{what}-{n}"));
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Greps every file under `dir`.
    fn dir(&self, dir: &Path, sealed: Option<&str>, out: &mut Grep) {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            // A git directory inside (an unpacked archive of a bare repository): print it.
            if d.join("HEAD").is_file() && d.join("objects").is_dir() {
                self.git_dir(&d, &d.display().to_string(), sealed, out);
            }
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd {
                let e = e.unwrap();
                let ft = e.file_type().unwrap();
                if ft.is_dir() {
                    stack.push(e.path());
                } else if ft.is_file() {
                    // A file may vanish while the server runs (a temporary file renamed).
                    if let Ok(bytes) = std::fs::read(e.path()) {
                        self.bytes(&e.path().display().to_string(), &bytes, sealed, out);
                    }
                }
            }
        }
    }

    fn hit(&self, what: &str, hay: &[u8], sealed: Option<&str>, out: &mut Grep) {
        out.read += 1;
        for s in self.secrets {
            if contains(hay, s.as_bytes()) {
                match sealed {
                    Some(file) => out.sealed.push((file.to_owned(), s.clone())),
                    None => out.plain.push((what.to_owned(), s.clone())),
                }
            }
        }
    }

    /// Greps one file's bytes, and what they unpack to.
    fn bytes(&self, what: &str, bytes: &[u8], sealed: Option<&str>, out: &mut Grep) {
        self.hit(what, bytes, sealed, out);
        if bytes.starts_with(MAGIC) {
            out.sealed_files.push(what.to_owned());
            let d = self.fresh("sealed");
            let src = d.join("in.sealed");
            std::fs::write(&src, bytes).unwrap();
            let plain = d.join("plain");
            open_file(self.key, &src, &plain)
                .unwrap_or_else(|e| panic!("{what}: a sealed copy that does not open: {e}"));
            let plain_bytes = std::fs::read(&plain).unwrap();
            self.bytes(
                &format!("{what} (decrypted)"),
                &plain_bytes,
                Some(what),
                out,
            );
        } else if bytes.starts_with(b"# v2 git bundle") || bytes.starts_with(b"# v3 git bundle") {
            let d = self.fresh("bundle");
            let file = d.join("b.bundle");
            std::fs::write(&file, bytes).unwrap();
            git(&d, &["clone", "-q", "--mirror", "b.bundle", "clone.git"]);
            self.git_dir(&d.join("clone.git"), what, sealed, out);
        } else if bytes.starts_with(&[0x1f, 0x8b]) {
            let d = self.fresh("tgz");
            let file = d.join("a.tar.gz");
            std::fs::write(&file, bytes).unwrap();
            let x = d.join("x");
            std::fs::create_dir_all(&x).unwrap();
            let st = Command::new("tar")
                .arg("-xzf")
                .arg(&file)
                .arg("-C")
                .arg(&x)
                .status()
                .unwrap();
            assert!(st.success(), "{what}: not a tar.gz");
            self.unpacked(&x, what, sealed, out);
        } else if bytes.starts_with(b"PK\x03\x04") {
            let d = self.fresh("zip");
            let file = d.join("a.zip");
            std::fs::write(&file, bytes).unwrap();
            let x = d.join("x");
            let st = Command::new("unzip")
                .arg("-qq")
                .arg(&file)
                .arg("-d")
                .arg(&x)
                .status()
                .unwrap();
            assert!(st.success(), "{what}: not a zip");
            self.unpacked(&x, what, sealed, out);
        }
    }

    /// Greps an unpacked archive's folder; what is found there is named after the archive.
    fn unpacked(&self, x: &Path, archive: &str, sealed: Option<&str>, out: &mut Grep) {
        let from = out.plain.len();
        self.dir(x, sealed, out);
        for (what, _) in &mut out.plain[from..] {
            *what = format!("{archive} → {what}");
        }
    }

    /// Every object of a git directory, printed by git itself (packs and loose objects are
    /// compressed, so the raw files would hide a secret from a plain grep).
    fn git_dir(&self, dir: &Path, what: &str, sealed: Option<&str>, out: &mut Grep) {
        let printed = Command::new("git")
            .arg("--git-dir")
            .arg(dir)
            .args(["cat-file", "--batch-all-objects", "--batch"])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(printed.status.success(), "{what}: git cat-file failed");
        self.hit(
            &format!("{what} (git objects)"),
            &printed.stdout,
            sealed,
            out,
        );
    }
}

/// The grep finds each secret in every form it is looked for in (the test can fail).
#[test]
fn the_grep_finds_planted_secrets_in_every_form() {
    let secrets = planted();
    let key = RepoCopyKey::parse(KEY_HEX).unwrap();
    let root = tempfile::tempdir().unwrap();
    let repo = planted_repo(root.path());
    let scratch = root.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    // A plain file, a bundle, a tar.gz and a zip of a bare clone, and a sealed bundle.
    std::fs::write(scratch.join("notes.txt"), format!("x {} y", secrets[4])).unwrap();
    git(&repo, &["bundle", "create", "../repo.bundle", "--all"]);
    git(
        root.path(),
        &["clone", "-q", "--bare", "project", "bare.git"],
    );
    let tar = Command::new("tar")
        .args(["-czf", "scratch/bare.tar.gz", "bare.git"])
        .current_dir(root.path())
        .status()
        .unwrap();
    assert!(tar.success());
    let zip = Command::new("zip")
        .args(["-qr", "scratch/bare.zip", "bare.git"])
        .current_dir(root.path())
        .status();
    let zipped = zip.map(|s| s.success()).unwrap_or(false);
    std::fs::copy(root.path().join("repo.bundle"), scratch.join("repo.bundle")).unwrap();
    seal_file(
        &key,
        &root.path().join("repo.bundle"),
        &scratch.join("repo.bundle.sealed"),
    )
    .unwrap();

    let g = Grepper::new(&secrets, &key);
    let mut out = Grep::default();
    g.dir(&scratch, None, &mut out);
    let found_in =
        |suffix: &str, s: &str| out.plain.iter().any(|(w, x)| w.contains(suffix) && x == s);
    for s in &secrets {
        assert!(
            found_in("repo.bundle (git objects)", s),
            "bundle: {s}\n{out:?}"
        );
        assert!(found_in("bare.tar.gz", s), "tar.gz: {s}\n{out:?}");
        if zipped {
            assert!(found_in("bare.zip", s), "zip: {s}\n{out:?}");
        }
        assert!(
            out.sealed
                .iter()
                .any(|(w, x)| w.ends_with("repo.bundle.sealed") && x == s),
            "sealed plaintext: {s}\n{out:?}"
        );
    }
    assert!(found_in("notes.txt", &secrets[4]));
    // The sealed file itself shows nothing in plain sight.
    assert!(
        !out.plain
            .iter()
            .any(|(w, _)| w.ends_with("repo.bundle.sealed")),
        "{out:?}"
    );
    // The raw pack inside the bare clone does not show the secrets: a plain grep is not enough.
    let raw: Vec<u8> = walk(&root.path().join("bare.git/objects"))
        .into_iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(
        !secrets.iter().any(|s| contains(&raw, s.as_bytes())),
        "git objects are compressed: only printing them shows the values"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
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

    async fn ended(&self, id: &str) -> Value {
        common::wait_for(Duration::from_secs(120), "the scan to end", || async {
            let (status, scan) = self.call("GET", &format!("/scans/{id}"), None).await;
            assert_eq!(status, 200, "{scan}");
            matches!(
                scan["state"].as_str(),
                Some("completed" | "failed" | "cancelled")
            )
            .then_some(scan)
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_appear_nowhere_but_inside_the_sealed_copy() {
    let secrets = planted();
    let key = RepoCopyKey::parse(KEY_HEX).unwrap();
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    let repo = planted_repo(&root_path);
    let data = root_path.join("data");
    let roots = format!("[\"{}\"]", repo.display());
    let env: Vec<(String, String)> = [
        ("ARGUS_SCAN__LOCAL_ROOTS", roots.as_str()),
        ("ARGUS_SECRETS__REPO_COPY_KEY_ENV", "ARGUS_TEST_REPO_KEY"),
        ("ARGUS_TEST_REPO_KEY", KEY_HEX),
        ("RUST_LOG", "info"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let data_arg = data.to_string_lossy().into_owned();
    let mut server = common::spawn_argus(
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
    let api = Api {
        http: reqwest::Client::new(),
        base: server.base.clone().unwrap(),
    };

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

    // Every planted value was found (as hash and preview only), then all are selected.
    let (_, page) = api
        .call("GET", &format!("/scans/{source}/findings?limit=1000"), None)
        .await;
    let items = page["items"].as_array().unwrap().clone();
    let rules: Vec<&str> = items
        .iter()
        .filter_map(|f| f["data"]["rule_id"].as_str())
        .collect();
    for want in ["github-pat-classic", "gitlab-pat", "aws-access-key-id"] {
        assert!(rules.contains(&want), "{want} not found: {rules:?}");
    }
    assert!(rules.iter().any(|r| r.contains("stripe")), "{rules:?}");
    let ids: Vec<Value> = items.iter().map(|f| f["id"].clone()).collect();
    let (status, counts) = api
        .call(
            "POST",
            &format!("/scans/{source}/findings/select"),
            Some(json!({"select": ids})),
        )
        .await;
    assert_eq!(status, 200, "{counts}");
    let (status, clean) = api
        .call("POST", &format!("/scans/{source}/clean"), Some(json!({})))
        .await;
    assert_eq!(status, 202, "{clean}");
    let clean_id = clean["id"].as_str().unwrap().to_owned();
    let done = api.ended(&clean_id).await;
    assert_eq!(done["state"], "completed", "{done}");
    // The download routes answer from the artifacts the clean wrote.
    for format in ["bundle", "tar.gz", "zip"] {
        let r = api
            .http
            .get(format!(
                "{}/scans/{source}/download?format={format}",
                api.base
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{format}");
        let body = r.bytes().await.unwrap();
        for s in &secrets {
            assert!(
                !contains(&body, s.as_bytes()),
                "{format} download holds {s}"
            );
        }
    }

    let check = |when: &str| {
        let g = Grepper::new(&secrets, &key);
        let mut out = Grep::default();
        g.dir(&data, None, &mut out);
        let files: Vec<PathBuf> = walk(&data);
        assert!(
            files.iter().any(|p| p.ends_with("argus.db")),
            "{when}: the database is in the data folder: {files:?}"
        );
        assert!(
            out.plain.is_empty(),
            "{when}: secret values in plain sight: {:?}",
            out.plain
        );
        assert!(
            !out.sealed_files.is_empty(),
            "{when}: no sealed repository copy in {files:?}"
        );
        // The sealed copy holds every value (so it is the copy, and it is encrypted: the raw
        // file showed none of them above).
        for s in &secrets {
            assert!(
                out.sealed.iter().any(|(_, x)| x == s),
                "{when}: the sealed copy does not hold {s}: {out:?}"
            );
        }
        // The clean's artifacts were unpacked, not only listed.
        assert!(out.read > files.len(), "{when}: {out:?}");
        files
    };
    let running = check("while the server runs");
    assert!(
        running
            .iter()
            .any(|p| p.to_string_lossy().ends_with("argus.db-wal")),
        "a running server has its WAL: {running:?}"
    );
    // kill -9: the WAL and shared-memory files stay as they were.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    check("after kill -9");
    let logs = server.log.lock().unwrap().join("\n");
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "a secret value in the server's log"
        );
    }
}

// ------------------------------------------------------------------ upload names

#[cfg(feature = "yara")]
const RULES: &str = r#"
rule Argus_Hostile_Marker
{
    meta:
        verdict = "malicious"
    strings:
        $m = "ARGUS-HOSTILE-MARKER-91c2"
    condition:
        $m
}
"#;

// The `yara` scanner judges the uploads (the binary's default build has it).
#[cfg(feature = "yara")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_names_and_rule_paths_cannot_reach_outside() {
    let dir = tempfile::tempdir().unwrap();
    let base_dir = dir.path().canonicalize().unwrap();
    let allowed = base_dir.join("allowed");
    let rules = allowed.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("test.yar"), RULES).unwrap();
    let outside = base_dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("other.yar"), RULES).unwrap();
    std::os::unix::fs::symlink(&outside, allowed.join("out")).unwrap();
    // The data folder lives apart, so the tree checked below is untouched by the server.
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().canonicalize().unwrap();
    let roots = format!("[\"{}\"]", allowed.display());
    let server = common::serve(
        &data,
        1,
        &[
            ("ARGUS_SCAN__LOCAL_ROOTS", roots.as_str()),
            ("ARGUS_SERVER__UPLOAD_LIMIT", "65536"),
        ],
    );
    let before = walk(&base_dir);
    let http = reqwest::Client::new();
    let upload = |name: String, params: String| {
        let http = http.clone();
        let url = format!("{}/scan/binary", server.base);
        async move {
            let r = http
                .post(url)
                .query(&[
                    ("scanner", "yara"),
                    ("params", params.as_str()),
                    ("name", name.as_str()),
                ])
                .body(b"xx ARGUS-HOSTILE-MARKER-91c2 xx".to_vec())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            (status, v)
        }
    };
    let good = json!({"rules": rules.display().to_string()}).to_string();
    let unique = format!("argus-upload-{}", std::process::id());
    let names = [
        format!("../../{unique}"),
        format!("../../../../../../tmp/{unique}"),
        format!("/tmp/{unique}"),
        format!("{}/{unique}", base_dir.display()),
        format!("..\\..\\{unique}"),
        format!("a/../../{unique}\0.txt"),
        format!("%2e%2e/%2e%2e/{unique}"),
        format!("{unique}.zip!../../x"),
    ];
    for name in &names {
        let (status, v) = upload(name.clone(), good.clone()).await;
        assert_eq!(status, 200, "{name:?}: {v}");
        assert_eq!(v["verdict"], "malicious", "{name:?}: {v}");
        assert_eq!(
            v["key"],
            name.as_str(),
            "the verdict names the upload as given"
        );
    }
    for p in [
        PathBuf::from("/tmp").join(&unique),
        std::env::temp_dir().join(&unique),
        base_dir.join(&unique),
        data.join(&unique),
    ] {
        assert!(!p.exists(), "{} was written", p.display());
    }
    let after = walk(&base_dir);
    assert_eq!(
        before, after,
        "an upload wrote a file outside the data folder"
    );
    assert!(
        !walk(&data)
            .iter()
            .any(|p| p.to_string_lossy().contains(&unique)),
        "an upload left a file named after it"
    );

    // Rule paths that leave the allowed folder: by `..`, through a symlink, encoded.
    for rules_path in [
        format!("{}/../outside", allowed.display()),
        format!("{}/../outside/other.yar", allowed.display()),
        format!("{}/out", allowed.display()),
        format!("{}/out/other.yar", allowed.display()),
        format!("{}/rules/../../outside", allowed.display()),
        "/etc".to_owned(),
        "rules".to_owned(),
    ] {
        let (status, v) = upload(
            "sample.bin".into(),
            json!({"rules": rules_path}).to_string(),
        )
        .await;
        assert_eq!(status, 422, "{rules_path}: {v}");
        assert!(
            !v.to_string()
                .contains(&format!("\"{}\"", allowed.display())),
            "{v}"
        );
    }
}

// ------------------------------------------------------------------ configuration

mod config {
    use proptest::prelude::*;
    use std::process::Command;

    const SECTIONS: [&str; 8] = [
        "server",
        "worker",
        "store",
        "queue",
        "artifacts",
        "scan",
        "secrets",
        "auth",
    ];

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("\"\"".to_owned()),
            Just("\"../../etc/passwd\"".to_owned()),
            Just("\"/dev/null\"".to_owned()),
            Just("\"postgres://u:p@h/db\"".to_owned()),
            Just("\"sqlite://\\u0000\"".to_owned()),
            Just("-1".to_owned()),
            Just("18446744073709551616".to_owned()),
            Just("1e400".to_owned()),
            Just("nan".to_owned()),
            Just("true".to_owned()),
            Just("[1, \"a\", [ ]]".to_owned()),
            Just("{ a = 1 }".to_owned()),
            Just("1979-05-27T07:32:00Z".to_owned()),
            "[0-9]{1,8}",
            "\"[ -~]{0,16}\"",
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(vec![
                "bind",
                "url",
                "concurrency",
                "local_roots",
                "upload_limit",
                "mode",
                "data_dir",
                "lease_secs",
                "repo_copy_key_env",
                "max_tasks",
                "x",
            ])
            .prop_map(str::to_owned),
            "[a-z_]{1,10}",
        ]
    }

    fn document() -> impl Strategy<Value = String> {
        let table = (
            prop_oneof![
                proptest::sample::select(SECTIONS.to_vec()).prop_map(str::to_owned),
                "[a-z.]{1,10}",
                Just("[sinks]]".to_owned()),
            ],
            proptest::collection::vec((key(), value()), 0..4),
        )
            .prop_map(|(section, kvs)| {
                let mut t = format!("[{section}]\n");
                for (k, v) in kvs {
                    t.push_str(&format!("{k} = {v}\n"));
                }
                t
            });
        prop_oneof![
            4 => proptest::collection::vec(table, 0..4).prop_map(|v| v.concat()),
            1 => any::<String>(),
        ]
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 64,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        /// Any config file: shown, or refused with a message and exit code 1 or 2 (never 101, a
        /// panic, nor a signal).
        #[test]
        fn any_config_file_is_shown_or_refused_never_a_panic(text in document()) {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("argus.toml");
            std::fs::write(&file, &text).unwrap();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_argus"));
            for (k, _) in std::env::vars() {
                if k.starts_with("ARGUS_") {
                    cmd.env_remove(k);
                }
            }
            let out = cmd
                .arg("--config")
                .arg(&file)
                .args(["config", "show"])
                .env("ARGUS_SERVER__DATA_DIR", dir.path().join("data"))
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            prop_assert!(!stderr.contains("panicked"), "{text}\n{stderr}");
            match out.status.code() {
                Some(0) => {}
                Some(1 | 2) => prop_assert!(!stderr.trim().is_empty(), "{text}: no message"),
                other => prop_assert!(false, "{text}: exit {other:?}\n{stderr}"),
            }
        }
    }
}
