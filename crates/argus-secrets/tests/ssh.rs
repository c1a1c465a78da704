//! Cloning over ssh from a real OpenSSH server (`sshd`, path in `ARGUS_TEST_SSHD`), started here
//! on a loopback port with its own host key and authorized keys.
//!
//! Checked: a named ssh key clones and the scan finds the planted secret; with a named key ssh
//! uses that key and nothing else, even while an agent holding an authorized key is reachable;
//! the host key is checked against a configured known_hosts file; without a credential an ssh
//! URL is refused (the server's own identity is not for tenants); no key file outlives the
//! clone.
//!
//! One test in this binary on purpose: it points `SSH_AUTH_SOCK` of this process at its own
//! agent, which no other test may see.
// The test harness starts sshd, ssh-agent and git itself, around the code under test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use argus_core::finding::NewFinding;
use argus_core::redacted::Redacted;
use argus_core::remediation::push_input_name;
use argus_core::scanner::{Emission, Emitter, ScanError, Scanner, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::testkit::scanner_suite::{run_with, Run};
use argus_secrets::remediate::GitPushScanner;
use argus_secrets::scanner::{GitCredential, GitSecret, SecretsScanner, SECRETS};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

const GH_TOKEN: &str = concat!("ghp_", "R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xx");

/// Kills the child when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "argus-test", "-f"])
        .arg(path));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (polling, with a deadline) until the server sends its SSH banner.
fn wait_for_banner(port: u16, server: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = [0u8; 8];
            if s.read_exact(&mut buf).is_ok() && buf.starts_with(b"SSH-2.0") {
                return;
            }
        }
        if let Some(status) = server.try_wait().unwrap() {
            panic!("sshd exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "sshd did not answer on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A bare repository with one commit that plants a GitHub token.
fn make_repo(dir: &Path) -> PathBuf {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let git = |args: &[&str], cwd: &Path| {
        run(Command::new("git")
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(cwd)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Alice")
            .env("GIT_AUTHOR_EMAIL", "alice@example.com")
            .env("GIT_COMMITTER_NAME", "Alice")
            .env("GIT_COMMITTER_EMAIL", "alice@example.com"))
    };
    git(&["init", "-q", "-b", "main"], &work);
    std::fs::write(
        work.join("settings.py"),
        format!("GITHUB_TOKEN = \"{GH_TOKEN}\"\n"),
    )
    .unwrap();
    git(&["add", "-A"], &work);
    git(&["commit", "-q", "-m", "settings"], &work);
    let bare = dir.join("repo.git");
    git(
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
        dir,
    );
    bare
}

fn ssh_cred(key_file: &Path, known_hosts: Option<PathBuf>) -> GitCredential {
    GitCredential {
        host: "127.0.0.1".into(),
        secret: GitSecret::SshKey {
            key: Redacted::new(std::fs::read_to_string(key_file).unwrap()),
            known_hosts,
        },
    }
}

/// Runs one `secrets` task on `url` and returns its findings, and whether anything is left in
/// the work folder's ssh folder.
async fn scan(
    scanner: &SecretsScanner,
    url: &str,
    params: serde_json::Value,
) -> (Result<Vec<NewFinding>, ScanError>, bool) {
    let work = tempfile::tempdir().unwrap();
    let (emit, mut rx) = Emitter::channel(1024);
    let target = Target::parse(TargetKind::Repo, url).unwrap();
    let ctx = TaskContext {
        task: argus_core::task::Task {
            id: argus_core::ids::TaskId::new(),
            scan_id: argus_core::ids::ScanId::new(),
            org_id: argus_core::ids::OrgId::parse("o").unwrap(),
            scanner: SECRETS.into(),
            target,
            depth: 0,
            priority: argus_core::scan::Priority::Medium,
            max_attempts: 1,
            params: None,
            enumerates: false,
        },
        params,
        cancel: CancellationToken::new(),
        work_dir: work.path().join("task"),
        emit,
        inputs: argus_core::scanner::TaskInputs::none(),
        net: argus_core::net::NetAccess::default(),
    };
    let result = scanner.run(&ctx).await;
    drop(ctx);
    let mut found = Vec::new();
    while let Some(e) = rx.recv().await {
        if let Emission::Finding(f) = e {
            found.push(f);
        }
    }
    let key_left = work.path().join("task/ssh").exists();
    (result.map(|()| found), key_left)
}

fn failure(r: Result<Vec<NewFinding>, ScanError>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(f) => panic!("expected a failure, got {} finding(s)", f.len()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_over_ssh_only_with_the_named_key() {
    let Some(sshd) = argus_core::testkit::service_url("ARGUS_TEST_SSHD") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for k in ["host", "good", "other", "wrong_host"] {
        keygen(&d.join(k));
    }
    std::fs::copy(d.join("good.pub"), d.join("authorized_keys")).unwrap();
    let user = run(Command::new("id").arg("-un"));
    let port = free_port();
    std::fs::write(
        d.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {pid}\n\
             AuthorizedKeysFile {auth}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\nAllowUsers {user}\nLogLevel ERROR\n",
            host = d.join("host").display(),
            pid = d.join("sshd.pid").display(),
            auth = d.join("authorized_keys").display(),
        ),
    )
    .unwrap();
    // sshd insists on its privilege-separation folder (root only; harmless when it exists).
    let _ = std::fs::create_dir_all("/run/sshd");
    let mut server = Command::new(&sshd)
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting sshd");
    wait_for_banner(port, &mut server);
    let _server = Killed(server);

    let bare = make_repo(d);
    let url = format!("ssh://{user}@127.0.0.1:{port}{}", bare.display());
    let host_pub = std::fs::read_to_string(d.join("host.pub")).unwrap();
    let known_hosts = d.join("known_hosts");
    std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {host_pub}")).unwrap();
    let bad_known_hosts = d.join("bad_known_hosts");
    let wrong_pub = std::fs::read_to_string(d.join("wrong_host.pub")).unwrap();
    std::fs::write(&bad_known_hosts, format!("[127.0.0.1]:{port} {wrong_pub}")).unwrap();

    // An agent holding the authorized key, reachable through this process's SSH_AUTH_SOCK: a
    // clone that may use only its named key must not touch it.
    let sock = d.join("agent.sock");
    let agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _agent = Killed(agent);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "ssh-agent did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    run(Command::new("ssh-add")
        .arg("-q")
        .arg(d.join("good"))
        .env("SSH_AUTH_SOCK", &sock));
    std::env::set_var("SSH_AUTH_SOCK", &sock);

    let with = |name: &str, cred: GitCredential| SecretsScanner::new().with_credential(name, cred);
    let named = serde_json::json!({"credential": "k", "bundle": false});

    // The authorized key, host key checked: the clone works and the secret is found.
    let good = with("k", ssh_cred(&d.join("good"), Some(known_hosts.clone())));
    let (found, key_left) = scan(&good, &url, named.clone()).await;
    let found = found.expect("clone with the authorized key");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].data["rule_id"], "github-pat-classic");
    assert!(!key_left, "the key file outlived the clone");

    // Another key: refused by the server, though the agent holds the authorized one.
    let other = with("k", ssh_cred(&d.join("other"), Some(known_hosts.clone())));
    let (r, key_left) = scan(&other, &url, named.clone()).await;
    let why = failure(r);
    assert!(why.to_lowercase().contains("permission denied"), "{why}");
    assert!(!key_left);

    // The right key but a server whose host key is not the known one: refused.
    let spoofed = with("k", ssh_cred(&d.join("good"), Some(bad_known_hosts)));
    let why = failure(scan(&spoofed, &url, named.clone()).await.0);
    assert!(why.to_lowercase().contains("host key"), "{why}");

    // No known_hosts configured: the first connection's host key is accepted.
    let tofu = with("k", ssh_cred(&d.join("good"), None));
    assert_eq!(scan(&tofu, &url, named.clone()).await.0.unwrap().len(), 1);

    // No credential: refused (the server's own identity is not for tenants) …
    let plain = serde_json::json!({"bundle": false});
    let why = failure(scan(&SecretsScanner::new(), &url, plain.clone()).await.0);
    assert!(why.contains("ssh key credential"), "{why}");
    // Positive control: the agent's key does open the server (so the refusal of the other key
    // above shows the agent was not used). A plain ssh with the agent only, no key files.
    let empty_home = d.join("home");
    std::fs::create_dir_all(&empty_home).unwrap();
    let heads = run(Command::new("git")
        .args(["ls-remote", &url])
        .env("HOME", &empty_home)
        .env("SSH_AUTH_SOCK", &sock)
        .env(
            "GIT_SSH_COMMAND",
            format!(
                "ssh -F /dev/null -o BatchMode=yes -o UserKnownHostsFile={}",
                known_hosts.display()
            ),
        ));
    assert!(heads.contains("refs/heads/main"), "{heads}");

    // A push over ssh (`git-push`, the repository as its task input) with the same named key
    // arrives whole; without a credential it is refused before it runs.
    let pushed = d.join("pushed.git");
    run(Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(&pushed));
    let bundle = d.join("push.bundle");
    run(Command::new("git")
        .arg("-C")
        .arg(&bare)
        .args(["bundle", "create", "-q"])
        .arg(&bundle)
        .arg("--all"));
    let push_url = format!("ssh://{user}@127.0.0.1:{port}{}", pushed.display());
    let push_target = Target::parse(TargetKind::Repo, &push_url).unwrap();
    let pusher: Arc<dyn Scanner> = Arc::new(GitPushScanner::new(
        Arc::new(with(
            "k",
            ssh_cred(&d.join("good"), Some(known_hosts.clone())),
        )),
        None,
    ));
    let params = serde_json::json!({"user_id": "u", "credential": "k"});
    pusher.check_target(&push_target, &params).unwrap();
    let out = run_with(
        &Run {
            scanner: pusher.clone(),
            target: push_target.clone(),
            params,
        },
        CancellationToken::new(),
        &[(push_input_name().unwrap(), std::fs::read(&bundle).unwrap())],
    )
    .await;
    assert!(out.result.is_ok(), "{:?}", out.result);
    assert_eq!(out.artifacts, vec!["push/result.json".to_owned()]);
    let refs = |r: &Path| run(Command::new("git").arg("-C").arg(r).args(["for-each-ref"]));
    assert_eq!(refs(&pushed), refs(&bare));
    let refused = pusher
        .check_target(&push_target, &serde_json::json!({"user_id": "u"}))
        .unwrap_err();
    assert!(
        refused.to_string().contains("ssh key credential"),
        "{refused}"
    );
}
