//! `runner = "container"` tools.
//!
//! Two halves:
//! - the command lines: a recording process door stands in for the machine, so the `podman` and
//!   `docker` invocations (run, the leftover removal before it, the removal after a cancel), the
//!   CLI's environment, load-time checks and availability are checked exactly, everywhere;
//! - real containers: with `ARGUS_TEST_PODMAN` set (the CLI to use; `.ci/run` sets it and
//!   `CONTAINERS_CONF`), each test imports an image built offline from the machine's static
//!   busybox (`/bin/busybox`, Debian's busybox-static) and runs tool definitions on it: output
//!   and a file written into `/work` become findings and an artifact, a cancelled run leaves no
//!   container behind, and the `Scanner` conformance suite runs on a container tool. Unset, they
//!   skip with a printed reason (and fail under `CI=true`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argus_core::door::{ProcessDoor, ProcessError, ProcessOutput, ProcessSpec, SharedProcessDoor};
use argus_core::ids::{OrgId, ScanId, TaskId};
use argus_core::scanner::{Emission, Emitter, ScanError, Scanner, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::task::Task;
use argus_scanners::{parse_tool, ToolScanner};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------------------------------------
// Running a scanner

struct Run {
    result: Result<(), ScanError>,
    emissions: Vec<Emission>,
    task_id: TaskId,
    _work: tempfile::TempDir,
}

impl Run {
    fn findings(&self) -> Vec<&argus_core::finding::NewFinding> {
        self.emissions
            .iter()
            .filter_map(|e| match e {
                Emission::Finding(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    /// Artifact name (after `tools/<tool>/<task>/`) and content.
    fn artifacts(&self) -> BTreeMap<String, String> {
        let prefix = format!("/{}/", self.task_id);
        self.emissions
            .iter()
            .filter_map(|e| match e {
                Emission::Artifact { name, path, .. } => {
                    let short = name.as_str().split_once(&prefix).unwrap().1.to_owned();
                    Some((short, std::fs::read_to_string(path).unwrap_or_default()))
                }
                _ => None,
            })
            .collect()
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
    let (emit, rx) = Emitter::channel(10_000);
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

/// Runs `scanner`; `on_start` gets the task id before the run starts (to watch its container).
async fn run_with(
    scanner: &dyn Scanner,
    target: Target,
    params: Value,
    cancel: CancellationToken,
    on_start: impl FnOnce(TaskId),
) -> Run {
    let (ctx, mut rx, work) = context(scanner, target, params, cancel);
    on_start(ctx.task.id);
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
        task_id,
        _work: work,
    }
}

fn domain(d: &str) -> Target {
    Target::parse(TargetKind::Domain, d).unwrap()
}

fn tool(text: &str) -> Result<ToolScanner, String> {
    parse_tool(text, "test.toml", None).map_err(|e| e.to_string())
}

fn strings(v: &[OsString]) -> Vec<String> {
    v.iter().map(|a| a.to_string_lossy().into_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// Command lines, through a recording door

/// A process door that starts nothing: it records every spec, "finds" only the programs it was
/// given, and answers a `run` by writing `stdout` into the spec's stdout file (or, with `hang`,
/// by waiting for the cancel token).
#[derive(Debug, Default)]
struct Recorder {
    programs: Vec<&'static str>,
    stdout: &'static str,
    hang: bool,
    calls: Mutex<Vec<ProcessSpec>>,
}

impl Recorder {
    fn new(programs: &[&'static str], stdout: &'static str) -> Arc<Self> {
        Arc::new(Recorder {
            programs: programs.to_vec(),
            stdout,
            ..Recorder::default()
        })
    }

    fn calls(&self) -> Vec<(PathBuf, Vec<String>)> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|s| (s.program.clone(), strings(&s.args)))
            .collect()
    }
}

/// A process that exited 0 having written nothing (empty stdout/stderr files, as the door
/// leaves them).
fn exited(spec: &ProcessSpec) -> ProcessOutput {
    for f in [&spec.stdout_file, &spec.stderr_file].into_iter().flatten() {
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, "").unwrap();
    }
    ProcessOutput {
        status: std::process::ExitStatus::from_raw(0),
        stdout: Vec::new(),
        stderr: Vec::new(),
        stderr_tail: Vec::new(),
        stdout_len: 0,
        stderr_len: 0,
        stdout_truncated: false,
        stderr_truncated: false,
        pid: 1,
        elapsed: Duration::ZERO,
    }
}

#[async_trait::async_trait]
impl ProcessDoor for Recorder {
    async fn run(
        &self,
        spec: ProcessSpec,
        cancel: &CancellationToken,
    ) -> Result<ProcessOutput, ProcessError> {
        self.calls.lock().unwrap().push(spec.clone());
        let is_run = spec.args.first().is_some_and(|a| a == "run");
        if !is_run {
            return Ok(exited(&spec));
        }
        if self.hang {
            cancel.cancelled().await;
            return Err(ProcessError::Cancelled);
        }
        let out = exited(&spec);
        std::fs::write(spec.stdout_file.as_ref().unwrap(), self.stdout).unwrap();
        Ok(out)
    }

    fn which(&self, program: &Path) -> Option<PathBuf> {
        let name = program.to_str()?;
        self.programs
            .iter()
            .find(|p| **p == name || Path::new(p).file_name() == program.file_name())
            .map(|p| {
                if p.starts_with('/') {
                    PathBuf::from(p)
                } else {
                    Path::new("/usr/bin").join(p)
                }
            })
    }
}

const ECHO_TOOL: &str = r#"
name = "echo"
runner = "container"
image = "localhost/argus-test-busybox:1"
executable = "/bin/sh"
cpus = 0.5
memory = "64m"
target_kinds = ["domain"]
env = { GREETING = "hello world" }
env_passthrough = ["ARGUS_TEST_CONTAINER_TOKEN"]
keep_files = ["report.txt"]
argv = ["-c", "echo $1", "sh", "{target}", "{work_dir}/report.txt"]
[output]
format = "jsonl"
[output.finding]
kind = "echo"
title = "Echo {host}"
"#;

#[tokio::test]
async fn podman_command_line_and_environment() {
    // A variable of Argus's own environment a tool passes through: it reaches the CLI's
    // environment and the container as a bare `--env=NAME`, never on the command line.
    std::env::set_var("ARGUS_TEST_CONTAINER_TOKEN", "s3cret");
    let door = Recorder::new(&["podman", "docker"], "{\"host\":\"example.com\"}\n");
    let scanner = tool(ECHO_TOOL)
        .unwrap()
        .with_process_door(door.clone() as SharedProcessDoor);
    let info = scanner.info();
    assert!(info.available, "{info:?}");
    assert_eq!(
        info.detail.as_deref(),
        Some("container image localhost/argus-test-busybox:1 run by /usr/bin/podman")
    );

    let run = run_with(
        &scanner,
        domain("example.com"),
        json!({}),
        CancellationToken::new(),
        |_| {},
    )
    .await;
    run.result.as_ref().unwrap();
    let name = format!("argus-{}", run.task_id);
    let work = run._work.path().display().to_string();
    let calls = door.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    // First the leftover of an earlier attempt, if any, then the run.
    assert_eq!(calls[0].0, Path::new("/usr/bin/podman"));
    assert_eq!(calls[0].1, ["rm", "--force", "--time=0", name.as_str()]);
    assert_eq!(calls[1].0, Path::new("/usr/bin/podman"));
    assert_eq!(
        calls[1].1,
        [
            "run".to_owned(),
            "--rm".to_owned(),
            format!("--name={name}"),
            format!("--label=argus.task={}", run.task_id),
            "--network=none".to_owned(),
            "--security-opt=no-new-privileges".to_owned(),
            "--cpus=0.5".to_owned(),
            "--memory=64m".to_owned(),
            format!("--volume={work}:/work:Z"),
            "--workdir=/work".to_owned(),
            "--env=GREETING=hello world".to_owned(),
            "--env=ARGUS_TEST_CONTAINER_TOKEN".to_owned(),
            "--entrypoint=/bin/sh".to_owned(),
            "localhost/argus-test-busybox:1".to_owned(),
            "-c".to_owned(),
            "echo $1".to_owned(),
            "sh".to_owned(),
            "example.com".to_owned(),
            // {work_dir} is where the work folder is inside the container.
            "/work/report.txt".to_owned(),
        ]
    );
    let spec = door.calls.lock().unwrap()[1].clone();
    assert_eq!(spec.cwd.as_deref(), Some(run._work.path()));
    assert_eq!(
        spec.env
            .get("ARGUS_TEST_CONTAINER_TOKEN")
            .map(String::as_str),
        Some("s3cret")
    );
    // `env` values travel on the command line, not in the CLI's own environment.
    assert!(!spec.env.contains_key("GREETING"), "{:?}", spec.env);
    // The container's output maps as a process tool's does.
    let findings = run.findings();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].title, "Echo example.com");
}

#[tokio::test]
async fn docker_is_found_when_podman_is_not_and_cancel_removes_the_container() {
    let door = Arc::new(Recorder {
        programs: vec!["docker"],
        hang: true,
        ..Recorder::default()
    });
    let scanner =
        tool(&ECHO_TOOL.replace("cpus = 0.5\nmemory = \"64m\"\n", "network = \"bridge\"\n"))
            .unwrap()
            .with_process_door(door.clone() as SharedProcessDoor);
    assert!(scanner.info().available);

    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let recorder = door.clone();
    let running = tokio::spawn(async move {
        run_with(&scanner, domain("example.com"), json!({}), token, |_| {}).await
    });
    // The run is under way once the door has seen `docker run`.
    let deadline = Instant::now() + Duration::from_secs(10);
    while recorder.calls().len() < 2 {
        assert!(Instant::now() < deadline, "the run never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cancel.cancel();
    let run = running.await.unwrap();
    assert!(
        matches!(run.result, Err(ScanError::Cancelled)),
        "{:?}",
        run.result
    );
    let name = format!("argus-{}", run.task_id);
    let calls = door.calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(calls[0].1, ["rm", "--force", name.as_str()]);
    assert_eq!(calls[1].0, Path::new("/usr/bin/docker"));
    assert!(calls[1].1.contains(&"--network=bridge".to_owned()));
    assert!(!calls[1].1.iter().any(|a| a.starts_with("--cpus")));
    // Killing the CLI does not stop the container: it is removed explicitly.
    assert_eq!(calls[2].0, Path::new("/usr/bin/docker"));
    assert_eq!(calls[2].1, ["rm", "--force", name.as_str()]);
}

#[tokio::test]
async fn configured_cli_is_used_and_missing_cli_is_unavailable() {
    let door = Recorder::new(&["/opt/podman-5/bin/podman", "docker"], "");
    let scanner = tool(ECHO_TOOL)
        .unwrap()
        .with_process_door(door.clone() as SharedProcessDoor)
        .with_container_cli(Some("/opt/podman-5/bin/podman".into()));
    assert_eq!(
        scanner.resolve_executable().as_deref(),
        Some(Path::new("/opt/podman-5/bin/podman"))
    );

    // Nothing on PATH: unavailable, saying why, and a run fails with the same words.
    let none = Recorder::new(&[], "");
    let scanner = tool(ECHO_TOOL)
        .unwrap()
        .with_process_door(none.clone() as SharedProcessDoor);
    let info = scanner.info();
    assert!(!info.available);
    let detail = info.detail.unwrap();
    assert!(
        detail.contains("no container CLI found") && detail.contains("container_cli"),
        "{detail}"
    );
    let run = run_with(
        &scanner,
        domain("example.com"),
        json!({}),
        CancellationToken::new(),
        |_| {},
    )
    .await;
    match &run.result {
        Err(ScanError::Failed(m)) => assert!(m.contains("no container CLI found"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(none.calls().is_empty());

    // A configured CLI that is missing is named.
    let scanner = tool(ECHO_TOOL)
        .unwrap()
        .with_process_door(door as SharedProcessDoor)
        .with_container_cli(Some("nerdctl".into()));
    let detail = scanner.info().detail.unwrap();
    assert!(detail.contains("'nerdctl'"), "{detail}");
}

#[test]
fn container_keys_are_checked_at_load() {
    let cases: [(&str, &str, &str); 8] = [
        (
            "image = \"localhost/argus-test-busybox:1\"\n",
            "",
            "needs an image",
        ),
        (
            "image = \"localhost/argus-test-busybox:1\"\n",
            "image = \"--privileged\"\n",
            "must be a reference",
        ),
        ("memory = \"64m\"\n", "memory = \"lots\"\n", "memory 'lots'"),
        ("cpus = 0.5\n", "cpus = 0.0\n", "cpus must be"),
        (
            "cpus = 0.5\n",
            "cpus = 0.5\nnetwork = \"everything\"\n",
            "unknown variant `everything`",
        ),
        (
            "env_passthrough = [\"ARGUS_TEST_CONTAINER_TOKEN\"]\n",
            "env_passthrough = [\"DOCKER_HOST\"]\n",
            "DOCKER_HOST",
        ),
        (
            "cpus = 0.5\n",
            "cpus = 0.5\nlocal_paths_only = true\n",
            "local_paths_only",
        ),
        (
            "runner = \"container\"\n",
            "runner = \"process\"\n",
            "only apply to runner = \"container\"",
        ),
    ];
    for (from, to, want) in cases {
        let text = ECHO_TOOL.replace(from, to);
        assert_ne!(text, ECHO_TOOL, "{from}");
        match tool(&text) {
            Err(e) => assert!(e.contains(want), "{from} -> {to}: {e}"),
            Ok(_) => panic!("{to} was accepted"),
        }
    }
    // A container tool may leave the image's entrypoint alone.
    let t = tool(&ECHO_TOOL.replace("executable = \"/bin/sh\"\n", "")).unwrap();
    assert!(t.is_container());
}

// ---------------------------------------------------------------------------------------------
// Real containers (podman)

const IMAGE: &str = "localhost/argus-test-busybox:1";

/// The container CLI (`ARGUS_TEST_PODMAN`), with the test image imported; `None` to skip.
async fn podman() -> Option<String> {
    let cli = argus_core::testkit::service_url("ARGUS_TEST_PODMAN")?;
    static IMPORTED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    IMPORTED.get_or_init(|| import_image(&cli)).await;
    Some(cli)
}

/// Runs the CLI through the process door; panics unless it exits 0. Returns stdout.
async fn cli(cli: &str, args: &[&str]) -> String {
    let (ok, out) = try_cli(cli, args).await;
    assert!(ok, "{cli} {args:?}: {out}");
    out
}

/// Runs the CLI through the process door: whether it exited 0, and stdout (stderr if not).
async fn try_cli(cli: &str, args: &[&str]) -> (bool, String) {
    let program = argus_scanners::process::which(cli).unwrap_or_else(|| panic!("{cli} not found"));
    let spec = ProcessSpec {
        program,
        args: args.iter().map(OsString::from).collect(),
        env: ["CONTAINERS_CONF"]
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect(),
        cwd: None,
        timeout: Duration::from_secs(120),
        stdout_cap: 1 << 20,
        stderr_cap: 1 << 20,
        stdout_file: None,
        stderr_file: None,
        stdin: None,
    };
    let out = argus_scanners::process::run(spec, &CancellationToken::new())
        .await
        .unwrap();
    if out.success() {
        (true, String::from_utf8(out.stdout).unwrap())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        (false, format!("{:?}: {err}", out.status))
    }
}

/// Builds the image offline: a root filesystem holding the static busybox and a link per
/// applet, as a tarball given to `podman import`.
async fn import_image(podman: &str) {
    // Imported by an earlier run: importing again would only leave an untagged copy behind.
    if try_cli(podman, &["image", "exists", IMAGE]).await.0 {
        return;
    }
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.is_file(),
        "/bin/busybox is missing: install Debian's busybox-static"
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    for d in ["bin", "tmp", "work"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    let applets = cli("/bin/busybox", &["--list"]).await;
    for a in applets.split_whitespace().filter(|a| *a != "busybox") {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    let tar = dir.path().join("root.tar");
    cli(
        "tar",
        &[
            "-C",
            root.to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            ".",
        ],
    )
    .await;
    // No ENV PATH in the image: podman gives containers a default PATH that includes /bin.
    cli(podman, &["import", tar.to_str().unwrap(), IMAGE]).await;
}

/// The names of containers (running or not) called `name`.
async fn containers_named(podman: &str, name: &str) -> Vec<String> {
    let out = cli(
        podman,
        &[
            "ps",
            "--all",
            "--filter",
            &format!("name=^{name}$"),
            "--format",
            "{{.Names}}",
        ],
    )
    .await;
    out.lines().map(str::to_owned).collect()
}

/// A container tool on the test image running `script` with `sh -c` (`$1` the target, `$2`
/// the work folder as the container sees it).
fn sh_tool(podman: &str, name: &str, script: &str, extra: &str) -> ToolScanner {
    // Braces in an argv entry are placeholders unless doubled.
    let script = script.replace('{', "{{").replace('}', "}}");
    let text = format!(
        r#"
name = "{name}"
runner = "container"
image = "{IMAGE}"
executable = "/bin/sh"
cpus = 0.5
memory = "64m"
target_kinds = ["domain"]
keep_files = ["report.txt"]
argv = ["-c", '''{script}''', "sh", "{{target}}", "{{work_dir}}", {{ args = ["{{params.count}}"] }}]
{extra}
[params]
type = "object"
additionalProperties = false
[params.properties.count]
type = "integer"
[output]
format = "jsonl"
[output.finding]
kind = "container-check"
title = "{{check}} on {{host}}"
fingerprint = ["check", "host"]
"#
    );
    tool(&text)
        .unwrap()
        .with_container_cli(Some(podman.to_owned()))
}

const REPORT_SCRIPT: &str = r#"set -e
echo "report for $1" > "$2/report.txt"
echo "{\"check\":\"workdir\",\"host\":\"$1\",\"pwd\":\"$(pwd)\"}"
echo "{\"check\":\"network\",\"host\":\"$1\",\"ifaces\":\"$(ls /sys/class/net | tr '\n' ' ')\"}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_output_becomes_findings_and_its_files_artifacts() {
    let Some(podman) = podman().await else { return };
    let scanner = sh_tool(&podman, "report", REPORT_SCRIPT, "");
    let info = scanner.info();
    assert!(info.available, "{info:?}");

    let run = run_with(
        &scanner,
        domain("example.com"),
        json!({}),
        CancellationToken::new(),
        |_| {},
    )
    .await;
    run.result.as_ref().unwrap();
    let findings = run.findings();
    let titles: Vec<&str> = findings.iter().map(|f| f.title.as_str()).collect();
    assert_eq!(titles, ["workdir on example.com", "network on example.com"]);
    // The work folder is the container's working directory…
    assert_eq!(findings[0].data["pwd"], "/work");
    // …and `network = none` (the default) leaves it nothing but loopback.
    assert_eq!(findings[1].data["ifaces"].as_str().unwrap().trim(), "lo");

    // The file the tool wrote into /work is an artifact, as are its stdout and stderr.
    let artifacts = run.artifacts();
    assert_eq!(
        artifacts.keys().map(String::as_str).collect::<Vec<_>>(),
        ["report.txt", "stderr.log", "stdout.log"]
    );
    assert_eq!(artifacts["report.txt"], "report for example.com\n");
    assert!(artifacts["stdout.log"].contains("\"check\":\"workdir\""));

    // `--rm`: nothing is left once the run is over.
    let name = format!("argus-{}", run.task_id);
    assert!(containers_named(&podman, &name).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_container_fails_the_task_with_its_stderr() {
    let Some(podman) = podman().await else { return };
    let scanner = sh_tool(&podman, "fails", "echo 'no such template' >&2; exit 3", "");
    let run = run_with(
        &scanner,
        domain("example.com"),
        json!({}),
        CancellationToken::new(),
        |_| {},
    )
    .await;
    match &run.result {
        Err(ScanError::Failed(m)) => {
            assert_eq!(m, "exited with status 3: no such template")
        }
        other => panic!("{other:?}"),
    }
}

/// Polls until the container `name` exists in podman's list (the run is under way).
async fn wait_until_listed(podman: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while containers_named(podman, name).await.is_empty() {
        assert!(Instant::now() < deadline, "{name} never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until no container is called `name`; false if one still is after a while (the
/// removal may finish in the background after a cancelled task returned).
async fn gone(podman: &str, name: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if containers_named(podman, name).await.is_empty() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_run_removes_the_container() {
    let Some(podman) = podman().await else { return };
    let scanner = sh_tool(&podman, "sleeper", "exec sleep 600", "");
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let (id_tx, id_rx) = tokio::sync::oneshot::channel();
    let running = tokio::spawn(async move {
        run_with(&scanner, domain("example.com"), json!({}), token, |id| {
            id_tx.send(id).unwrap();
        })
        .await
    });
    let name = format!("argus-{}", id_rx.await.unwrap());
    wait_until_listed(&podman, &name).await;

    cancel.cancel();
    let run = running.await.unwrap();
    assert!(
        matches!(run.result, Err(ScanError::Cancelled)),
        "{:?}",
        run.result
    );
    assert!(
        gone(&podman, &name).await,
        "{name} outlived its cancelled task"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_removes_the_container() {
    let Some(podman) = podman().await else { return };
    let scanner = sh_tool(&podman, "slowpoke", "exec sleep 600", "timeout_secs = 2");
    let run = run_with(
        &scanner,
        domain("example.com"),
        json!({}),
        CancellationToken::new(),
        |_| {},
    )
    .await;
    match &run.result {
        Err(ScanError::Failed(m)) => assert_eq!(m, "timed out after 2s"),
        other => panic!("{other:?}"),
    }
    let name = format!("argus-{}", run.task_id);
    assert!(gone(&podman, &name).await, "{name} outlived its task");
}

// ---------------------------------------------------------------------------------------------
// The conformance suite on a container tool

mod suite {
    use super::*;
    use argus_core::testkit::scanner_suite::{
        self, wrong_type_param, ScannerFixture, ScannerHarness,
    };

    struct ContainerTool(String);

    #[async_trait::async_trait]
    impl ScannerHarness for ContainerTool {
        async fn fixtures(&self) -> Vec<ScannerFixture> {
            let scanner: Arc<dyn Scanner> = Arc::new(sh_tool(&self.0, "suite", REPORT_SCRIPT, ""));
            let slow: Arc<dyn Scanner> = Arc::new(sh_tool(&self.0, "suite", "exec sleep 600", ""));
            let target = domain("example.com");
            let bad = wrong_type_param(&scanner.info().params_schema).unwrap();
            vec![ScannerFixture::new(
                scanner.clone(),
                vec![target.clone()],
                scanner_suite::Run {
                    scanner,
                    target: target.clone(),
                    params: json!({"count": 2}),
                },
                scanner_suite::Run {
                    scanner: slow,
                    target,
                    params: json!({}),
                },
                vec![bad],
                (),
            )]
        }
    }

    // The suite's tests, each skipping without podman (the suite refuses an empty harness).
    macro_rules! checks {
        ($($check:ident),* $(,)?) => {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some(podman) = podman().await else { return };
                scanner_suite::$check(&ContainerTool(podman)).await;
            }
        )*};
    }

    checks!(
        accepts_declared_targets,
        rejects_bad_params_with_a_path,
        stops_within_one_second_of_cancel,
        emits_stable_fingerprints,
    );
}
