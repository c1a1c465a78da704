//! Unit tests of the `secrets` platform scanner.

use super::*;
use crate::finding::{Confidence, Location, Severity};
use crate::{RefSelection, ScanPolicy};
use sha2::{Digest, Sha256};

fn scanner() -> SecretsScanner {
    SecretsScanner::new()
        .with_credential(
            "gh",
            GitCredential {
                host: "github.com".into(),
                secret: GitSecret::Token(Redacted::new("tok".into())),
            },
        )
        .with_credential(
            "gh-ssh",
            GitCredential {
                host: "github.com".into(),
                secret: GitSecret::SshKey {
                    key: Redacted::new("KEY-MATERIAL".into()),
                    known_hosts: None,
                },
            },
        )
}

fn invalid_path(r: Result<(), CoreError>) -> String {
    match r {
        Err(CoreError::Invalid { path, .. }) => path,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn schema_compiles_checks_and_defaults() {
    let s = scanner();
    assert!(s.validate_params(&Value::Null).is_ok());
    assert!(s
        .validate_params(
            &json!({"branch": "main", "since_commit": "abc", "all_refs": false,
            "max_blob_bytes": 1024, "bundle": false, "credential": "gh"})
        )
        .is_ok());
    assert_eq!(
        invalid_path(s.validate_params(&json!({"max_blob_bytes": 0}))),
        "/max_blob_bytes"
    );
    assert_eq!(
        invalid_path(s.validate_params(&json!({"bogus": 1}))),
        "/bogus"
    );
    assert_eq!(
        invalid_path(s.validate_params(&json!({"credential": "nope"}))),
        "/credential"
    );
    assert_eq!(
        invalid_path(s.validate_params(&json!({"credential": "a b"}))),
        "/credential"
    );
    let p = Params::parse(&Value::Null).unwrap();
    assert!(p.all_refs && p.bundle && p.skip_minified && !p.scan_binary);
    assert_eq!(p.max_blob_bytes, ScanPolicy::default().max_blob_size);
    assert_eq!(p.refs(), RefSelection::All);
    let p = Params::parse(&json!({"all_refs": false})).unwrap();
    assert_eq!(p.refs(), RefSelection::Refs(vec!["HEAD".into()]));
    let p = Params::parse(&json!({"branch": "dev", "all_refs": true})).unwrap();
    assert_eq!(p.refs(), RefSelection::Refs(vec!["dev".into()]));
    assert!(!p.policy().keep_secret_values);
    let info = s.info();
    assert_eq!(info.name, SECRETS);
    assert_eq!(
        info.target_kinds,
        vec![TargetKind::Repo, TargetKind::Location]
    );
}

#[test]
fn credentials_only_for_their_host_and_scheme() {
    let s = scanner();
    assert!(matches!(
        s.auth_for("https://github.com/o/r.git", Some("gh")),
        Ok(Auth::Token(_))
    ));
    assert!(matches!(
        s.auth_for("https://github.com/o/r.git", None),
        Ok(Auth::Ambient)
    ));
    for url in ["https://evil.example/o/r.git", "git@github.com:o/r.git"] {
        assert!(s.auth_for(url, Some("gh")).is_err(), "{url}");
    }
    assert!(s.auth_for("https://github.com/o/r", Some("other")).is_err());
    // ssh: only with an ssh key credential for the URL's host.
    for url in ["git@github.com:o/r.git", "ssh://git@github.com/o/r.git"] {
        assert!(
            matches!(s.auth_for(url, Some("gh-ssh")), Ok(Auth::Ssh { .. })),
            "{url}"
        );
    }
    assert!(s
        .auth_for("git@evil.example:o/r.git", Some("gh-ssh"))
        .is_err());
    assert!(s
        .auth_for("https://github.com/o/r.git", Some("gh-ssh"))
        .is_err());
    let why = s.auth_for("git@github.com:o/r.git", None).err().unwrap();
    assert!(why.contains("ssh key credential"), "{why}");
    assert!(matches!(
        s.allow_ambient_ssh(true)
            .auth_for("git@github.com:o/r.git", None),
        Ok(Auth::Ambient)
    ));
    let shown = format!("{:?}", scanner());
    assert!(
        !shown.contains("tok\"") && !shown.contains("KEY-MATERIAL"),
        "{shown}"
    );
}

#[test]
fn refuses_at_creation_what_cannot_run() {
    let s = scanner();
    let repo = |v: &str| Target::parse(TargetKind::Repo, v).unwrap();
    let none = json!({});
    assert!(s
        .check_target(&repo("https://github.com/o/r.git"), &none)
        .is_ok());
    assert!(s
        .check_target(&repo("git@github.com:o/r.git"), &none)
        .is_err());
    assert!(s
        .check_target(
            &repo("git@github.com:o/r.git"),
            &json!({"credential": "gh-ssh"})
        )
        .is_ok());
    assert!(s
        .check_target(
            &repo("https://github.com/o/r.git"),
            &json!({"credential": "gh-ssh"})
        )
        .is_err());
    for loc in [
        "s3://b/p",
        "az://c/p",
        "gs://b/p",
        "sharepoint://site/drive/p",
    ] {
        let t = Target::parse(TargetKind::Location, loc).unwrap();
        assert!(s.check_target(&t, &none).is_err(), "{loc}");
    }
    let f = Target::parse(TargetKind::Location, "file:///tmp/x").unwrap();
    assert!(s.check_target(&f, &none).is_ok());
}

#[test]
fn ssh_files_are_private_and_end_with_a_newline() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("ssh");
    let a = write_ssh_files(&d, &Redacted::new("-----KEY-----".into()), None).unwrap();
    assert_eq!(
        std::fs::read_to_string(&a.key_file).unwrap(),
        "-----KEY-----\n"
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&a.key_file), 0o600);
    assert_eq!(mode(&d), 0o700);
    assert!(!a.strict_host_key && a.known_hosts.starts_with(&d));
    let kh = dir.path().join("kh");
    let d2 = dir.path().join("ssh2");
    let b = write_ssh_files(&d2, &Redacted::new("k".into()), Some(kh.clone())).unwrap();
    assert!(b.strict_host_key);
    assert_eq!(b.known_hosts, kh);
}

#[test]
fn resolves_targets() {
    let dir = tempfile::tempdir().unwrap();
    let repo = |v: &str| Target::parse(TargetKind::Repo, v).unwrap();
    assert!(matches!(
        resolve(&repo("https://github.com/o/r.git")),
        Ok(Source::Clone(_))
    ));
    match resolve(&repo("https://u:pw-123@github.com/o/r.git")) {
        Err(ScanError::Failed(m)) => assert!(!m.contains("pw-123"), "{m}"),
        _ => panic!("password URL accepted"),
    }
    // A folder that is not a repository is not a repo target.
    let p = dir.path().to_string_lossy().into_owned();
    assert!(matches!(resolve(&repo(&p)), Err(ScanError::Failed(_))));
    let loc = Target::parse(
        TargetKind::Location,
        url::Url::from_directory_path(dir.path()).unwrap().as_str(),
    )
    .unwrap();
    assert!(matches!(resolve(&loc), Ok(Source::Files(_))));
    let s3 = Target::parse(TargetKind::Location, "s3://bucket/prefix").unwrap();
    assert!(matches!(resolve(&s3), Err(ScanError::Failed(_))));
}

#[test]
fn maps_findings_without_the_secret() {
    let secret = "AKIAQYLPMN5HHHFPZAM2";
    let loc = |commit: &str, line: u32| Location {
        path: "config/app.env".into(),
        line,
        column: 5,
        end_line: line,
        commit: Some(commit.into()),
        author: Some("Alice".into()),
        email: Some("alice@example.com".into()),
        date: Some("2024-01-01T00:00:00Z".into()),
        blob: Some("b1".into()),
        encoding: None,
    };
    let f = Finding {
        rule_id: "aws-access-key-id".into(),
        rule_name: "AWS Access Key ID".into(),
        severity: Severity::Critical,
        confidence: Confidence::High,
        fingerprint: "0123abcd".into(),
        preview: "AKI…AM2".into(),
        sha256: hex::encode(Sha256::digest(secret.as_bytes())),
        locations: vec![loc("c1", 2), loc("c2", 3)],
        tags: vec!["aws".into()],
        secret: Some(SecretValue::new(secret.into())),
    };
    let t = Target::parse(TargetKind::Repo, "https://github.com/o/r.git").unwrap();
    let name = repo_copy_name(&t).unwrap();
    let nf = to_new_finding(&f, &t);
    assert!(nf.validate().is_ok());
    assert_eq!(nf.kind, "secret");
    assert_eq!(nf.severity, CoreSeverity::Critical);
    assert_eq!(nf.title, "AWS Access Key ID in config/app.env");
    assert_eq!(nf.location.path.as_deref(), Some("config/app.env"));
    assert_eq!(nf.location.line, Some(2));
    assert_eq!(nf.location.commit.as_deref(), Some("c1"));
    assert_eq!(nf.data["rule_id"], "aws-access-key-id");
    assert_eq!(nf.data["engine_fingerprint"], "0123abcd");
    assert_eq!(nf.data["other_locations"][0]["commit"], "c2");
    assert_eq!(nf.data["locations_total"], 2);
    assert!(nf.data.get("bundle").is_none());
    assert_eq!(nf.secret.as_ref().unwrap().sha256, f.sha256);
    let all = serde_json::to_string(&nf).unwrap();
    assert!(!all.contains(secret), "secret value leaked: {all}");
    // Stable, and distinct per target.
    assert_eq!(nf.fingerprint, to_new_finding(&f, &t).fingerprint);
    let t2 = Target::parse(TargetKind::Repo, "https://github.com/fork/r.git").unwrap();
    assert_ne!(nf.fingerprint, to_new_finding(&f, &t2).fingerprint);
    assert_ne!(name, repo_copy_name(&t2).unwrap());
    assert!(name.is_private());
    assert!(name.as_str().starts_with("private/secrets/"));
    assert!(name.as_str().ends_with("/repo.bundle.sealed"));
}

#[tokio::test]
async fn cancelled_before_start_returns_promptly() {
    let s = SecretsScanner::new();
    let (emit, _rx) = argus_core::scanner::Emitter::channel(4);
    let dir = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let ctx = TaskContext {
        task: argus_core::task::Task {
            id: argus_core::ids::TaskId::new(),
            scan_id: argus_core::ids::ScanId::new(),
            org_id: argus_core::ids::OrgId::parse("o").unwrap(),
            scanner: SECRETS.into(),
            target: Target::parse(TargetKind::Repo, "https://github.com/o/r.git").unwrap(),
            depth: 0,
            priority: argus_core::scan::Priority::Medium,
            max_attempts: 1,
            params: None,
            enumerates: false,
        },
        params: Value::Null,
        cancel,
        work_dir: dir.path().join("w"),
        emit,
        inputs: argus_core::scanner::TaskInputs::none(),
        net: argus_core::net::NetAccess::default(),
    };
    assert!(matches!(s.run(&ctx).await, Err(ScanError::Cancelled)));
    assert!(
        !dir.path().join("w").exists(),
        "nothing should have started"
    );
}
