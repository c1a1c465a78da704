//! `tool:<name>` and `noop` scanners run end to end with real processes: the shipped tool
//! definitions against fake tools that print the real tools' output formats, and test tool
//! definitions (tests/tools) for failures, hangs, caps and argument building.

// Helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod common;
use common::{all_gone, read_pids};

use argus_core::finding::{fingerprint, NewFinding, SecretDigest, Severity};
use argus_core::ids::{OrgId, ScanId, TaskId};
use argus_core::scanner::{Emission, Emitter, ScanError, Scanner, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::task::Task;
use argus_core::CoreError;
use argus_scanners::{
    builtin_tool_files, builtin_tools, load_tool_dir, parse_tool, registry, registry_with,
    NoopScanner, RegistryOptions, ToolDef, ToolScanner,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    manifest().join("tests/fixtures").join(name)
}

fn test_tools() -> PathBuf {
    manifest().join("tests/tools")
}

fn repo_tools() -> PathBuf {
    manifest().join("../../tools")
}

/// A shipped definition with its executable replaced by a fake.
fn builtin_with_fake(name: &str, fake: &str) -> ToolScanner {
    let (_, text) = builtin_tool_files()
        .iter()
        .find(|(f, _)| *f == format!("{name}.toml"))
        .unwrap();
    let mut def: ToolDef = toml::from_str(text).unwrap();
    def.executable = fixture(fake).display().to_string();
    ToolScanner::new(def, None).unwrap()
}

fn test_tool(name: &str) -> Arc<dyn Scanner> {
    let reg = registry(Some(&test_tools())).unwrap();
    reg.get(&format!("tool:{name}")).unwrap().clone()
}

struct Run {
    result: Result<(), ScanError>,
    emissions: Vec<Emission>,
    work: tempfile::TempDir,
    task_id: TaskId,
}

impl Run {
    fn findings(&self) -> Vec<&NewFinding> {
        self.emissions
            .iter()
            .filter_map(|e| match e {
                Emission::Finding(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    fn targets(&self) -> Vec<&Target> {
        self.emissions
            .iter()
            .filter_map(|e| match e {
                Emission::Target(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    fn artifacts(&self) -> Vec<(String, PathBuf, String)> {
        self.emissions
            .iter()
            .filter_map(|e| match e {
                Emission::Artifact {
                    name,
                    path,
                    content_type,
                } => Some((name.as_str().to_owned(), path.clone(), content_type.clone())),
                _ => None,
            })
            .collect()
    }

    fn error(&self) -> String {
        match &self.result {
            Err(ScanError::Failed(m)) => m.clone(),
            other => panic!("expected Failed, got {other:?}"),
        }
    }
}

fn context(
    scanner: &dyn Scanner,
    target: Target,
    params: Value,
    cancel: CancellationToken,
) -> (
    TaskContext,
    tokio::sync::mpsc::Receiver<Emission>,
    tempfile::TempDir,
) {
    let work = tempfile::tempdir().unwrap();
    let (emit, rx) = Emitter::channel(100_000);
    let task = Task {
        id: TaskId::new(),
        scan_id: ScanId::new(),
        org_id: OrgId::parse("test-org").unwrap(),
        scanner: scanner.info().name,
        target,
        depth: 0,
        priority: Default::default(),
        max_attempts: 1,
        params: None,
        enumerates: false,
    };
    let ctx = TaskContext {
        task,
        params,
        cancel,
        work_dir: work.path().to_path_buf(),
        emit,
        inputs: argus_core::scanner::TaskInputs::none(),
        net: argus_core::net::NetAccess::default(),
    };
    (ctx, rx, work)
}

async fn run_with(
    scanner: &dyn Scanner,
    target: Target,
    params: Value,
    cancel: CancellationToken,
) -> Run {
    let (ctx, mut rx, work) = context(scanner, target, params, cancel);
    let result = scanner.run(&ctx).await;
    let task_id = ctx.task.id;
    drop(ctx);
    let mut emissions = Vec::new();
    while let Some(e) = rx.recv().await {
        emissions.push(e);
    }
    Run {
        result,
        emissions,
        work,
        task_id,
    }
}

async fn run(scanner: &dyn Scanner, target: Target, params: Value) -> Run {
    run_with(scanner, target, params, CancellationToken::new()).await
}

fn domain(d: &str) -> Target {
    Target::parse(TargetKind::Domain, d).unwrap()
}

fn invalid_path(r: Result<(), CoreError>) -> String {
    match r {
        Err(CoreError::Invalid { path, .. }) => path,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Loading

#[test]
fn shipped_tool_files_parse_validate_and_are_all_embedded() {
    let tools = builtin_tools().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.def().name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["gitleaks", "httpx", "naabu", "nuclei", "subfinder", "trivy"]
    );

    // The embedded copies are exactly the repository's tools/ folder.
    let from_dir = load_tool_dir(&repo_tools()).unwrap();
    assert_eq!(from_dir.len(), tools.len());
    for (file, text) in builtin_tool_files() {
        assert_eq!(
            std::fs::read_to_string(repo_tools().join(file)).unwrap(),
            *text,
            "{file} is stale"
        );
    }

    let work = Path::new("/work/dir");
    for t in &tools {
        let info = t.info();
        assert_eq!(info.name, format!("tool:{}", t.def().name));
        assert_eq!(info.source, "tool");
        assert_eq!(info.params_schema["type"], "object");
        assert!(!info.target_kinds.is_empty());
        // Default params are valid and build an argv containing the target.
        assert!(t.validate_params(&Value::Null).is_ok(), "{}", info.name);
        let target = match info.target_kinds[0] {
            TargetKind::Repo => {
                Target::parse(TargetKind::Repo, "https://git.example/acme/app.git").unwrap()
            }
            TargetKind::Url => Target::parse(TargetKind::Url, "https://app.example/").unwrap(),
            kind => Target::parse(kind, "app.example").unwrap(),
        };
        let argv = t.build_argv(&target, &Value::Null, work).unwrap();
        assert!(
            argv.iter()
                .any(|a| a.to_string_lossy().contains(target.value())),
            "{}: {argv:?}",
            info.name
        );
    }

    // `noop` is opt-in: a production registry does not have it.
    let reg = registry(None).unwrap();
    let names: Vec<&str> = reg.names().collect();
    assert!(!names.contains(&"noop"), "{names:?}");
    let reg = registry_with(&RegistryOptions {
        noop: true,
        ..RegistryOptions::default()
    })
    .unwrap();
    let names: Vec<&str> = reg.names().collect();
    assert_eq!(
        names,
        [
            "noop",
            "tool:gitleaks",
            "tool:httpx",
            "tool:naabu",
            "tool:nuclei",
            "tool:subfinder",
            "tool:trivy"
        ]
    );
}

#[test]
fn shipped_argv_follow_params() {
    let tools = builtin_tools().unwrap();
    let nuclei = tools.iter().find(|t| t.def().name == "nuclei").unwrap();
    let url = Target::parse(TargetKind::Url, "https://app.example/").unwrap();
    let argv: Vec<String> = nuclei
        .build_argv(
            &url,
            &json!({"tags": ["cve", "rce"], "rate_limit": 50, "automatic_scan": true}),
            Path::new("/w"),
        )
        .unwrap()
        .into_iter()
        .map(|a| a.into_string().unwrap())
        .collect();
    assert_eq!(
        argv,
        [
            "-u",
            "https://app.example/",
            "-jsonl",
            "-silent",
            "-nc",
            "-duc",
            "-or",
            "-tags",
            "cve,rce",
            "-as",
            "-rl",
            "50"
        ]
    );
    let gitleaks = tools.iter().find(|t| t.def().name == "gitleaks").unwrap();
    let repo = Target::parse(TargetKind::Repo, "/src/app").unwrap();
    let argv: Vec<String> = gitleaks
        .build_argv(&repo, &json!({"log_opts": "--all"}), Path::new("/w/t1"))
        .unwrap()
        .into_iter()
        .map(|a| a.into_string().unwrap())
        .collect();
    assert_eq!(
        argv,
        [
            "detect",
            "--source",
            "/src/app",
            "--report-format",
            "json",
            "--report-path",
            "/w/t1/report.json",
            "--no-banner",
            "--exit-code",
            "0",
            "--log-opts=--all"
        ]
    );
}

#[test]
fn user_tools_override_builtins_and_report_availability() {
    let reg = registry(Some(&test_tools())).unwrap();
    let sub = reg.get("tool:subfinder").unwrap().info();
    assert_eq!(sub.description, "fake subfinder (test)");
    assert!(sub.available);
    assert!(sub.detail.unwrap().ends_with("fake_subfinder.sh"));
    // Built-ins not overridden are still there (`noop` is opt-in, so not here).
    assert!(reg.get("tool:nuclei").is_some() && reg.get("tool:hang").is_some());
}

#[tokio::test]
async fn missing_executable_is_unavailable_and_fails_clearly() {
    let text = r#"
        name = "ghost"
        executable = "argus-no-such-tool"
        target_kinds = ["domain"]
        argv = ["{target}"]
        [output]
        format = "lines"
        [output.finding]
        kind = "x"
        title = "{line}"
    "#;
    let t = parse_tool(text, "ghost.toml", None).unwrap();
    let info = t.info();
    assert!(!info.available);
    assert_eq!(
        info.detail.as_deref(),
        Some("executable 'argus-no-such-tool' not found on PATH")
    );
    let r = run(&t, domain("example.com"), Value::Null).await;
    assert_eq!(
        r.error(),
        "executable 'argus-no-such-tool' not found on PATH"
    );
}

#[test]
fn malformed_tool_files_are_clear_errors() {
    let good = |extra: &str, argv: &str| {
        format!(
            "name = \"bad\"\nexecutable = \"x\"\ntarget_kinds = [\"domain\"]\n{extra}\nargv = {argv}\n[output]\nformat = \"jsonl\"\n[output.finding]\nkind = \"k\"\ntitle = \"t\"\n"
        )
    };
    let cases: Vec<(String, &str)> = vec![
        (
            "name = \"bad\"\nexecutable = ".to_owned(),
            "line 2, column 14: ",
        ),
        (good("", "[\"{tagret}\"]"), "unknown placeholder '{tagret}'"),
        (
            good("", "[\"-r\", \"{params.rate}\"]"),
            "argv refers to params.rate, which the params schema does not declare",
        ),
        (good("timeout = 5", "[]"), "unknown field `timeout`"),
        (good("", "[\"{target\"]"), "unclosed '{'"),
        (
            good("keep_files = [\"../etc/passwd\"]", "[]"),
            "keep_files: '../etc/passwd'",
        ),
        (
            good("", "[{ args = [\"-a\"], when = \"rate\" }]"),
            "when must be \"params.NAME\"",
        ),
        (
            good("params = { type = \"string\" }", "[]"),
            "params schema must have type = \"object\"",
        ),
        (
            good("target_kinds2 = 1", "[]"),
            "unknown field `target_kinds2`",
        ),
        (
            good("", "[{ args = [\"-a\"], whn = \"params.x\" }]"),
            "unknown field `whn`",
        ),
        (good("", "[1]"), "a string or a table"),
    ];
    for (text, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.toml"), &text).unwrap();
        let err = load_tool_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("bad.toml"),
            "error does not name the file: {err}"
        );
        assert!(err.contains(expected), "expected {expected:?} in: {err}");
        let err = registry(Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("bad.toml") && err.contains(expected), "{err}");
    }
    // Bad names, kinds and output sources.
    for (text, expected) in [
        (
            good("", "[]").replace("name = \"bad\"", "name = \"Bad Name\""),
            "name 'Bad Name'",
        ),
        (
            good("", "[]").replace("[\"domain\"]", "[\"planet\"]"),
            "unknown variant `planet`",
        ),
        (
            good("", "[]").replace(
                "format = \"jsonl\"",
                "format = \"jsonl\"\nsource = \"file:/etc/x\"",
            ),
            "output.source",
        ),
    ] {
        let err = parse_tool(&text, "x.toml", None).unwrap_err().to_string();
        assert!(
            err.starts_with("tool file x.toml: ") && err.contains(expected),
            "{err}"
        );
    }
    // Two files declaring the same name.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), good("", "[]")).unwrap();
    std::fs::write(dir.path().join("b.toml"), good("", "[]")).unwrap();
    let err = load_tool_dir(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("b.toml") && err.contains("already defined in") && err.contains("a.toml"),
        "{err}"
    );
    // A missing folder.
    assert!(registry(Some(Path::new("/nonexistent/argus-tools")))
        .unwrap_err()
        .to_string()
        .contains("cannot read tool folder"));
}

// ---------------------------------------------------------------------------------------------
// Params

#[test]
fn params_are_validated_with_the_failing_path() {
    let reg = registry(Some(&test_tools())).unwrap();
    let args = reg.get("tool:args").unwrap();
    assert!(args
        .validate_params(&json!({"rate": 3, "tags": ["a"]}))
        .is_ok());
    assert_eq!(
        invalid_path(args.validate_params(&json!({"rate": 0}))),
        "/rate"
    );
    assert_eq!(
        invalid_path(args.validate_params(&json!({"rate": "fast"}))),
        "/rate"
    );
    assert_eq!(
        invalid_path(args.validate_params(&json!({"nope": 1}))),
        "/nope"
    );
    assert_eq!(
        invalid_path(args.validate_params(&json!({"tags": ["ok", 7]}))),
        "/tags/1"
    );
    let hang = reg.get("tool:hang").unwrap();
    assert_eq!(invalid_path(hang.validate_params(&json!({}))), "/pidfile");
    let nuclei = reg.get("tool:nuclei").unwrap();
    assert_eq!(
        invalid_path(nuclei.validate_params(&json!({"severity": ["urgent"]}))),
        "/severity/0"
    );
    assert!(nuclei
        .validate_params(&json!({"severity": ["high", "critical"]}))
        .is_ok());
    // The free function does the same for any schema.
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer", "maximum": 3}}});
    assert_eq!(
        invalid_path(argus_scanners::validate_params(&schema, &json!({"n": 4}))),
        "/n"
    );
}

// ---------------------------------------------------------------------------------------------
// Shipped mappings against fake tools

#[tokio::test]
async fn nuclei_records_map_to_findings_exactly_and_stably() {
    let nuclei = builtin_with_fake("nuclei", "fake_nuclei.sh");
    let target = Target::parse(TargetKind::Url, "https://app.example").unwrap();
    let r = run(&nuclei, target.clone(), Value::Null).await;
    r.result.as_ref().unwrap();
    let f = r.findings();
    assert_eq!(f.len(), 3, "the duplicate line is emitted once: {f:#?}");

    let base = target.value(); // canonical: "https://app.example/"
    let cve = f
        .iter()
        .find(|x| x.title.contains("CVE-2021-41773"))
        .unwrap();
    assert_eq!(cve.kind, "vulnerability");
    assert_eq!(cve.severity, Severity::High);
    assert_eq!(cve.title, "Apache 2.4.49 - Path Traversal (CVE-2021-41773)");
    assert_eq!(
        cve.description.as_deref(),
        Some("Path traversal in Apache 2.4.49.")
    );
    let matched = format!("{base}/cgi-bin/.%2e/etc/passwd");
    assert_eq!(cve.location.url.as_deref(), Some(matched.as_str()));
    assert_eq!(cve.target, target);
    assert_eq!(
        cve.fingerprint,
        fingerprint(&[
            "tool:nuclei",
            "vulnerability",
            &target.key(),
            "CVE-2021-41773",
            "",
            &matched
        ])
    );
    assert_eq!(cve.data["template-id"], "CVE-2021-41773");

    let tech = f.iter().find(|x| x.title.contains("tech-detect")).unwrap();
    assert_eq!(tech.severity, Severity::Info);
    assert!(
        tech.data.get("request").is_none(),
        "raw request must be dropped"
    );
    assert_eq!(tech.data["matcher-name"], "nginx");
    let odd = f.iter().find(|x| x.title.contains("weird-sev")).unwrap();
    assert_eq!(
        odd.severity,
        Severity::Info,
        "unknown severities fall back to the default"
    );
    for x in &f {
        x.validate().unwrap();
    }

    // Stable across runs (new task, new work folder).
    let again = run(&nuclei, target.clone(), Value::Null).await;
    let mut a: Vec<&str> = f.iter().map(|x| x.fingerprint.as_str()).collect();
    let mut b: Vec<String> = again
        .findings()
        .iter()
        .map(|x| x.fingerprint.clone())
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);

    // stdout and stderr are kept as artifacts under the task's folder.
    let arts = r.artifacts();
    let names: Vec<&str> = arts.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("tools/nuclei/{}/stdout.log", r.task_id),
            format!("tools/nuclei/{}/stderr.log", r.task_id)
        ]
    );
    assert_eq!(arts[0].2, "application/x-ndjson");
    let stderr = std::fs::read_to_string(&arts[1].1).unwrap();
    assert!(stderr.contains("[INF] scanning https://app.example/"));
    assert!(arts.iter().all(|a| a.1.starts_with(r.work.path())));
}

#[tokio::test]
async fn subfinder_findings_chain_domain_targets() {
    let sub = test_tool("subfinder");
    let r = run(sub.as_ref(), domain("Example.com"), Value::Null).await;
    r.result.as_ref().unwrap();
    let titles: Vec<&str> = r.findings().iter().map(|f| f.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Subdomain www.example.com",
            "Subdomain api.example.com",
            "Subdomain WWW.example.com",
            "Subdomain *.example.com"
        ]
    );
    assert!(r
        .findings()
        .iter()
        .all(|f| f.kind == "subdomain" && f.severity == Severity::Info));
    // WWW canonicalises to www (deduped); the wildcard is not a domain and is skipped.
    let targets: Vec<String> = r.targets().iter().map(|t| t.key()).collect();
    assert_eq!(
        targets,
        ["domain:www.example.com", "domain:api.example.com"]
    );
}

#[tokio::test]
async fn trivy_json_records_with_parent_fields() {
    let trivy = builtin_with_fake("trivy", "fake_trivy.sh");
    let target = Target::parse(TargetKind::Repo, "https://git.example/acme/app.git").unwrap();
    let r = run(&trivy, target.clone(), Value::Null).await;
    r.result.as_ref().unwrap();
    let f = r.findings();
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].kind, "vulnerable_dependency");
    assert_eq!(f[0].title, "CVE-2022-0001 in lodash 4.17.20");
    assert_eq!(f[0].severity, Severity::Critical);
    assert_eq!(f[0].location.path.as_deref(), Some("package-lock.json"));
    assert_eq!(
        f[0].location.url.as_deref(),
        Some("https://avd.aquasec.com/nvd/cve-2022-0001")
    );
    assert_eq!(
        f[0].description.as_deref(),
        Some("Prototype pollution (fixed in: 4.17.21)")
    );
    assert_eq!(
        f[0].fingerprint,
        fingerprint(&[
            "tool:trivy",
            "vulnerable_dependency",
            &target.key(),
            "package-lock.json",
            "lodash",
            "4.17.20",
            "CVE-2022-0001"
        ])
    );
    assert_eq!(f[1].severity, Severity::Info, "UNKNOWN maps to info");
    assert!(r.targets().is_empty());
}

#[tokio::test]
async fn gitleaks_secret_is_digested_and_never_stored() {
    let gl = builtin_with_fake("gitleaks", "fake_gitleaks.sh");
    let target = Target::parse(TargetKind::Repo, "/src/app").unwrap();
    let r = run(&gl, target, Value::Null).await;
    r.result.as_ref().unwrap();
    let f = r.findings();
    assert_eq!(f.len(), 1);
    let s = f[0];
    assert_eq!(s.kind, "secret");
    assert_eq!(s.severity, Severity::High);
    assert_eq!(
        s.title,
        "AWS Access Key (aws-access-token) in config/prod.env:12"
    );
    assert_eq!(s.location.path.as_deref(), Some("config/prod.env"));
    assert_eq!(s.location.line, Some(12));
    assert_eq!(
        s.location.commit.as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    assert_eq!(s.secret, Some(SecretDigest::of("AKIAABCDEFGHIJKLMNOP")));
    assert_eq!(s.secret.as_ref().unwrap().preview, "AKI…NOP");
    for k in ["Secret", "Match", "Line"] {
        assert!(s.data.get(k).is_none(), "{k} must be removed from data");
    }
    assert_eq!(s.data["RuleID"], "aws-access-token");
    let stored = serde_json::to_string(s).unwrap();
    assert!(!stored.contains("AKIAABCDEFGHIJKLMNOP") && !stored.contains("ABCDEFGHIJKLMNOP"));
    // The report holds raw secrets: only stdout/stderr are kept, never report.json.
    let names: Vec<String> = r.artifacts().into_iter().map(|a| a.0).collect();
    assert_eq!(names.len(), 2);
    assert!(names
        .iter()
        .all(|n| n.ends_with("stdout.log") || n.ends_with("stderr.log")));
}

#[tokio::test]
async fn lines_format_maps_and_chains() {
    let lines = test_tool("lines");
    let r = run(lines.as_ref(), domain("example.com"), Value::Null).await;
    r.result.as_ref().unwrap();
    let titles: Vec<&str> = r.findings().iter().map(|f| f.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Saw https://a.example/login",
            "Saw https://b.example/admin",
            "Saw not a url"
        ]
    );
    let targets: Vec<String> = r.targets().iter().map(|t| t.key()).collect();
    assert_eq!(
        targets,
        ["url:https://a.example/login", "url:https://b.example/admin"]
    );
}

// ---------------------------------------------------------------------------------------------
// Failures

#[tokio::test]
async fn cancelling_a_hanging_tool_stops_it_and_its_children_within_a_second() {
    let hang = test_tool("hang");
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pids");
    let cancel = CancellationToken::new();
    let (c2, h2, pf) = (cancel.clone(), hang.clone(), pidfile.clone());
    let task = tokio::spawn(async move {
        run_with(
            h2.as_ref(),
            domain("example.com"),
            json!({"pidfile": pf.display().to_string()}),
            c2,
        )
        .await
    });
    let pids = read_pids(&pidfile).await;
    assert_eq!(pids.len(), 2);
    let t0 = Instant::now();
    cancel.cancel();
    let r = task.await.unwrap();
    let took = t0.elapsed();
    assert!(
        matches!(r.result, Err(ScanError::Cancelled)),
        "{:?}",
        r.result
    );
    assert!(took < Duration::from_secs(1), "cancel took {took:?}");
    assert!(
        all_gone(&pids).await,
        "tool or its child survived the cancel: {pids:?}"
    );
    assert!(r.findings().is_empty());
}

#[tokio::test]
async fn timeout_fails_the_task_with_the_limit() {
    let hang = test_tool("hang-short");
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pids");
    let r = run(
        hang.as_ref(),
        domain("example.com"),
        json!({"pidfile": pidfile.display().to_string()}),
    )
    .await;
    assert_eq!(r.error(), "timed out after 1s");
    let pids = read_pids(&pidfile).await;
    assert!(all_gone(&pids).await, "{pids:?}");
    // What it printed before the timeout is kept.
    let arts = r.artifacts();
    let stdout = arts.iter().find(|a| a.0.ends_with("stdout.log")).unwrap();
    assert_eq!(std::fs::read_to_string(&stdout.1).unwrap(), "started\n");
}

#[tokio::test]
async fn nonzero_exit_fails_with_the_last_stderr_line() {
    let crash = test_tool("crash");
    let r = run(crash.as_ref(), domain("example.com"), Value::Null).await;
    assert_eq!(
        r.error(),
        "exited with status 3: [FTL] could not resolve host: no such host"
    );
    assert!(
        r.findings().is_empty(),
        "output of a failed run is not parsed"
    );
    let arts = r.artifacts();
    let stderr = arts.iter().find(|a| a.0.ends_with("stderr.log")).unwrap();
    assert!(std::fs::read_to_string(&stderr.1)
        .unwrap()
        .contains("[FTL]"));
}

#[tokio::test]
async fn malformed_output_names_the_line() {
    let g = test_tool("garbage");
    let r = run(g.as_ref(), domain("example.com"), Value::Null).await;
    let err = r.error();
    assert!(err.starts_with("malformed output at line 3: "), "{err}");
    assert_eq!(
        r.findings().len(),
        1,
        "records before the bad line were reported"
    );
    assert_eq!(r.findings()[0].severity, Severity::Low);
}

#[tokio::test]
async fn output_over_the_cap_is_truncated_and_reported() {
    let flood = test_tool("flood");
    let r = run(
        flood.as_ref(),
        domain("example.com"),
        json!({"lines": 1000}),
    )
    .await;
    let err = r.error();
    assert!(
        err.starts_with("stdout exceeded the cap of 10000 bytes"),
        "{err}"
    );
    let arts = r.artifacts();
    let stdout = arts.iter().find(|a| a.0.ends_with("stdout.log")).unwrap();
    let stderr = arts.iter().find(|a| a.0.ends_with("stderr.log")).unwrap();
    assert_eq!(std::fs::metadata(&stdout.1).unwrap().len(), 10_000);
    assert_eq!(std::fs::metadata(&stderr.1).unwrap().len(), 5_000);
    // Every complete line within the cap became a finding; the cut one did not.
    let text = std::fs::read_to_string(&stdout.1).unwrap();
    let complete = text.matches('\n').count();
    assert!(complete > 10 && complete < 1000);
    assert_eq!(r.findings().len(), complete);
    assert!(err.contains(&format!("after {complete} records")), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Arguments

fn argv_of(r: &Run) -> (Vec<String>, String) {
    r.result.as_ref().unwrap();
    let f = r.findings();
    assert_eq!(f.len(), 1);
    (
        serde_json::from_value(f[0].data["args"].clone()).unwrap(),
        f[0].data["cwd"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn argv_is_built_from_whole_arguments_without_a_shell() {
    let args = test_tool("args");
    let params = json!({"rate": 5, "a": "x y", "b": "$(id)", "text": "a;b|c && d > /tmp/x", "tags": ["t1", "t2"], "verbose": true});
    let r = run(args.as_ref(), domain("example.com"), params).await;
    let (argv, cwd) = argv_of(&r);
    let work = r.work.path().display().to_string();
    assert_eq!(
        argv,
        [
            "--target",
            "example.com",
            "--kind=domain",
            "--out",
            &format!("{work}/out.json"),
            "-rl",
            "5",
            "--verbose",
            "--pair",
            "x y",
            "$(id)",
            "a;b|c && d > /tmp/x",
            "--tags",
            "t1,t2"
        ]
    );
    assert_eq!(
        Path::new(&cwd).canonicalize().unwrap(),
        r.work.path().canonicalize().unwrap()
    );
    // keep_files that were not written are skipped silently.
    assert_eq!(r.artifacts().len(), 2);

    // Absent params drop their argument, or their whole group.
    let r = run(args.as_ref(), domain("example.com"), json!({"a": "only-a"})).await;
    let (argv, _) = argv_of(&r);
    let work = r.work.path().display().to_string();
    assert_eq!(
        argv,
        [
            "--target",
            "example.com",
            "--kind=domain",
            "--out",
            &format!("{work}/out.json")
        ]
    );

    // A target that would be read as an option is refused.
    let evil = Target::parse(TargetKind::Repo, "--upload-pack=touch /tmp/pwned").unwrap();
    let r = run(args.as_ref(), evil, Value::Null).await;
    assert!(
        r.error()
            .starts_with("refusing to pass '--upload-pack=touch /tmp/pwned' for {target}"),
        "{}",
        r.error()
    );
    let r = run(args.as_ref(), domain("example.com"), json!({"text": "-rf"})).await;
    assert!(r.error().contains("for {params.text}"), "{}", r.error());
}

// ---------------------------------------------------------------------------------------------
// noop

#[tokio::test]
async fn noop_fans_out_emits_findings_and_fails_on_request() {
    let noop = NoopScanner;
    let info = noop.info();
    assert_eq!(info.name, "noop");
    assert_eq!(info.target_kinds, TargetKind::ALL.to_vec());
    assert!(info.available);

    let target = Target::parse(TargetKind::Url, "noop://root").unwrap();
    let r = run(&noop, target.clone(), json!({"fanout": 3, "findings": 2})).await;
    r.result.as_ref().unwrap();
    let subs: Vec<(String, String, Option<Value>)> = r
        .emissions
        .iter()
        .filter_map(|e| match e {
            Emission::SubTask {
                scanner,
                target,
                params,
            } => Some((scanner.clone(), target.value().to_owned(), params.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        subs,
        (0..3)
            .map(|i| (
                "noop".to_owned(),
                format!("noop://task/{i}"),
                Some(json!({}))
            ))
            .collect::<Vec<_>>()
    );
    let fps: Vec<String> = r.findings().iter().map(|f| f.fingerprint.clone()).collect();
    assert_eq!(fps.len(), 2);
    assert_ne!(fps[0], fps[1]);
    let again = run(&noop, target.clone(), json!({"findings": 2})).await;
    let fps2: Vec<String> = again
        .findings()
        .iter()
        .map(|f| f.fingerprint.clone())
        .collect();
    assert_eq!(fps, fps2, "fingerprints are stable across runs");

    // `child` params go to the sub-tasks; `discover` emits targets.
    let r = run(
        &noop,
        target.clone(),
        json!({"fanout": 2, "child": {"findings": 1}, "discover": ["A.example.com", "https://b.example/x"]}),
    )
    .await;
    r.result.as_ref().unwrap();
    let params: Vec<Value> = r
        .emissions
        .iter()
        .filter_map(|e| match e {
            Emission::SubTask { params, .. } => params.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(params, [json!({"findings": 1}), json!({"findings": 1})]);
    let found: Vec<String> = r.targets().iter().map(|t| t.key()).collect();
    assert_eq!(found, ["domain:a.example.com", "url:https://b.example/x"]);

    let r = run(&noop, target.clone(), json!({"fail": true, "findings": 1})).await;
    assert_eq!(r.error(), "noop failed as requested (fail = true)");
    assert!(r.findings().is_empty());

    let r = run(&noop, target, Value::Null).await;
    r.result.as_ref().unwrap();
    assert!(r.emissions.is_empty());
}

#[tokio::test]
async fn noop_sleep_stops_promptly_on_cancel() {
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    let target = Target::parse(TargetKind::Url, "noop://slow").unwrap();
    let (ctx, _rx, _work) = context(&NoopScanner, target, json!({"sleep_ms": 600_000}), c2);
    let task = tokio::spawn(async move { NoopScanner.run(&ctx).await });
    // Let it reach the sleep; cancellation must work whenever it lands.
    tokio::task::yield_now().await;
    let t0 = Instant::now();
    cancel.cancel();
    let res = task.await.unwrap();
    assert!(matches!(res, Err(ScanError::Cancelled)), "{res:?}");
    assert!(t0.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn noop_fanout_of_100k_is_cheap_enough_for_the_benchmark() {
    let target = Target::parse(TargetKind::Url, "noop://root").unwrap();
    let r = run(&NoopScanner, target, json!({"fanout": 100_000})).await;
    r.result.as_ref().unwrap();
    assert_eq!(r.emissions.len(), 100_000);
}

#[tokio::test]
async fn keep_files_become_artifacts() {
    let keeps = test_tool("keeps");
    let r = run(
        keeps.as_ref(),
        Target::parse(TargetKind::Repo, "/src/app").unwrap(),
        Value::Null,
    )
    .await;
    r.result.as_ref().unwrap();
    assert_eq!(r.findings().len(), 1);
    let arts = r.artifacts();
    let names: Vec<&str> = arts.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("tools/keeps/{}/stdout.log", r.task_id),
            format!("tools/keeps/{}/stderr.log", r.task_id),
            format!("tools/keeps/{}/report.json", r.task_id),
        ]
    );
    assert_eq!(arts[2].1, r.work.path().join("report.json"));
    assert_eq!(arts[2].2, "application/json");
    let report: Value = serde_json::from_slice(&std::fs::read(&arts[2].1).unwrap()).unwrap();
    assert_eq!(report[0]["RuleID"], "aws-access-token");
}
