//! The web UI end to end: a real `argus serve` (embedded SQLite, local auth unless the test is
//! about sign-in) on a loopback port, driven by headless Chromium through chromedriver
//! (tests/browser). The tests use only the hooks listed in crates/argus-api/ui/README.md
//! ("Hooks the browser tests use") and check what the UI did through the public API.
//!
//! Needs `ARGUS_TEST_CHROMEDRIVER` and `ARGUS_TEST_CHROMIUM` (Debian's /usr/bin/chromedriver
//! and /usr/bin/chromium); unset, each test prints why and skips (fails under `CI=true`).
//! Screenshots of the main pages go to `ARGUS_UI_SCREENSHOTS` (default:
//! `<target>/ui-screenshots`). Browser tests run one at a time.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod common;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use browser::{Browser, UI_WAIT};
use futures::FutureExt as _;
use serde_json::{json, Value};

/// Long enough for a scan on a loaded 2-core machine.
const SCAN_WAIT: Duration = Duration::from_secs(120);
/// Failsafe for work the server does (never an assertion on time: a loaded machine only takes
/// longer).
const BACKEND_WAIT: Duration = Duration::from_secs(600);

/// A running `argus serve` that a test can kill and restart on the same port and data dir.
struct Argus {
    server: Option<common::Server>,
    data: PathBuf,
    env: Vec<(String, String)>,
    /// `http://127.0.0.1:PORT`
    origin: String,
    /// `http://127.0.0.1:PORT/api/v1`
    base: String,
}

impl Argus {
    /// Starts `argus serve` on a free loopback port with `noop` enabled, 2 workers, `data` as
    /// its data dir and `env` on top.
    fn start(data: &Path, env: &[(&str, &str)]) -> Argus {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let server = serve_on(data, "127.0.0.1:0", &env);
        let base = server.base.clone();
        Argus {
            server: Some(server),
            data: data.to_path_buf(),
            env,
            origin: base.trim_end_matches("/api/v1").to_string(),
            base,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Kills the server (SIGKILL) and waits for it to be gone.
    fn kill(&mut self) {
        self.server.take();
    }

    /// Starts the server again on the same port and data dir.
    fn restart(&mut self) {
        self.kill();
        let bind = self.origin.trim_start_matches("http://").to_string();
        let server = serve_on(&self.data, &bind, &self.env);
        assert_eq!(server.base, self.base, "restarted on another address");
        self.server = Some(server);
    }
}

fn serve_on(data: &Path, bind: &str, env: &[(String, String)]) -> common::Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_argus"));
    cmd.args(["serve", "--bind", bind, "--workers", "2", "--data-dir"])
        .arg(data)
        .env("ARGUS_SCANNERS__NOOP__ENABLED", "true")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    common::listen(cmd)
}

/// An API client with `key` as its bearer token when given.
struct Api {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Api {
    fn new(base: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: base.to_string(),
            key: None,
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> Value {
        let (status, v) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// Creates and starts a scan; its id.
    async fn scan(&self, config: Value) -> String {
        let (status, v) = self
            .post("/scans", json!({"config": config, "start": true}))
            .await;
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    async fn state(&self, id: &str) -> String {
        self.get(&format!("/scans/{id}/status")).await["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// The scan id in a `/ui/scans/<id>` address.
fn scan_id_in(url: &str) -> Option<String> {
    let id = url.split("/ui/scans/").nth(1)?;
    let id = id.split(['?', '#']).next()?;
    (id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        .then(|| id.to_string())
}

/// Waits for the page's one `h1` to contain `title` (the page has rendered).
async fn page_titled(b: &Browser, title: &str) {
    b.wait(
        &format!("the page titled {title:?}"),
        UI_WAIT,
        || async move {
            let n = b.count("h1").await;
            match b.text_of("h1").await {
                Some(t) if n == 1 && t.contains(title) => Ok(()),
                other => Err(format!("{n} h1, first {other:?}")),
            }
        },
    )
    .await
}

/// Waits (up to [`SCAN_WAIT`]) until the scan page's state badge says `want`.
async fn detail_state(b: &Browser, want: &str) {
    b.wait(
        &format!("the scan's state badge to say {want}"),
        SCAN_WAIT,
        || async move {
            match b
                .attr_of("#scan-state .badge[data-state]", "data-state")
                .await
            {
                Some(s) if s == want => Ok(()),
                other => Err(format!("data-state {other:?}")),
            }
        },
    )
    .await
}

/// Picks `kind` in the first target row and types `value`.
async fn set_target(b: &Browser, kind: &str, value: &str) {
    let row = "#targets .target-row";
    b.wait_visible(&format!("{row} select[name=target-kind]"))
        .await;
    b.click_css(&format!(
        "{row} select[name=target-kind] option[value=\"{kind}\"]"
    ))
    .await;
    b.wait(&format!("target kind {kind}"), UI_WAIT, || async move {
        let v = b
            .exec(
                "return document.querySelector(arguments[0]).value;",
                vec![json!(format!("{row} select[name=target-kind]"))],
            )
            .await
            .map_err(|e| e.to_string())?;
        (v == kind).then_some(()).ok_or(format!("kind {v}"))
    })
    .await;
    b.fill(&format!("{row} input[name=target-value]"), value)
        .await;
}

// ---- the harness itself, on a page that exists without the UI -----------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_drives_the_api_docs_page() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let argus = Argus::start(dir.path(), &[]);
    b.goto(&argus.url("/docs")).await;
    // Swagger UI renders the operations of the OpenAPI document.
    b.wait("the docs to list an operation", UI_WAIT, || async {
        match b.count(".opblock").await {
            0 => Err("no .opblock yet".to_string()),
            n => Ok(n),
        }
    })
    .await;
    let title = b.wait_text("body", "/api/v1/scans").await;
    assert!(title.contains("/api/v1/scans"));
    let el = b.find("body").await.unwrap();
    assert!(b.text(&el).await.unwrap().contains("/api/v1/scans"));
    let missing = b.find("#no-such-element").await.unwrap_err();
    assert_eq!(missing.error, "no such element", "{missing}");
    b.set_window_size(390, 844).await;
    let width = b.exec("return window.innerWidth;", vec![]).await.unwrap();
    assert_eq!(width, 390, "phone width");
    b.save_screenshot("harness-docs").await;

    // A condition that never holds fails the test with what was awaited, the last thing seen,
    // the page and a screenshot.
    let failed = AssertUnwindSafe(
        b.wait("the impossible", Duration::from_millis(300), || async {
            Err::<(), _>("still impossible".to_string())
        }),
    )
    .catch_unwind()
    .await
    .expect_err("a wait past its deadline fails");
    let msg = failed.downcast_ref::<String>().cloned().unwrap_or_default();
    for needle in [
        "waiting for the impossible",
        "last seen: still impossible",
        "/docs",
        "FAILED-the-impossible.png",
    ] {
        assert!(msg.contains(needle), "{needle:?} not in {msg}");
    }
    assert!(browser::screenshot_dir()
        .join("FAILED-the-impossible.png")
        .is_file());
    std::fs::remove_file(browser::screenshot_dir().join("FAILED-the-impossible.png")).unwrap();

    // Dropping the browser ends chromium (no process left behind).
    let pid = b.browser_pid.expect("chromium's pid");
    assert!(browser::process_alive(pid));
    drop(b);
    common::wait_for(Duration::from_secs(20), "chromium to exit", || async {
        (!browser::process_alive(pid)).then_some(())
    })
    .await;
}

// ---- scans --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_created_from_the_form_runs_to_completion() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let argus = Argus::start(dir.path(), &[]);
    let api = Api::new(&argus.base);

    b.goto(&argus.url("/ui/scans/new")).await;
    page_titled(&b, "New scan").await;
    b.wait_visible("form#new-scan").await;
    b.click_css("input[type=checkbox][name=scanner][value=noop]")
        .await;
    // The scanner's params appear once it is picked; ask for three findings.
    let findings = "fieldset[data-scanner=noop] [data-pointer$=\"/params/findings\"]";
    b.fill(findings, "3").await;
    set_target(&b, "domain", "example.com").await;
    b.save_screenshot("new-scan").await;
    b.click_css("button#create").await;

    let id = b
        .wait("the new scan's page", UI_WAIT, || async {
            let url = b.url().await;
            scan_id_in(&url).ok_or(url)
        })
        .await;
    detail_state(&b, "completed").await;
    b.wait_attr("#scan-progress[role=progressbar]", "aria-valuenow", "100")
        .await;
    b.save_screenshot("scan-detail").await;

    // What the page showed is what the API says.
    let scan = api.get(&format!("/scans/{id}")).await;
    let scan = if scan.get("scan").is_some() {
        scan["scan"].clone()
    } else {
        scan
    };
    assert_eq!(scan["state"], "completed", "{scan}");
    assert_eq!(scan["config"]["scanners"][0]["name"], "noop", "{scan}");
    assert_eq!(
        scan["config"]["scanners"][0]["params"]["findings"], 3,
        "{scan}"
    );
    assert_eq!(
        scan["config"]["targets"][0],
        json!({"kind": "domain", "value": "example.com"}),
        "{scan}"
    );
    let status = api.get(&format!("/scans/{id}/status")).await;
    assert_eq!(status["progress"]["findings"], 3, "{status}");

    // The list shows the scan with its summary.
    b.goto(&argus.url("/ui/")).await;
    page_titled(&b, "Scans").await;
    let row = format!("#scans-table tr[data-scan-id=\"{id}\"]");
    let counts = b.wait_text(&format!("{row} .counts"), "3 findings").await;
    assert!(counts.contains("completed"), "{counts}");
    assert_eq!(
        b.attr_of(&format!("{row} .badge[data-state]"), "data-state")
            .await
            .as_deref(),
        Some("completed")
    );
    assert_eq!(
        b.attr_of(&format!("{row} [role=progressbar]"), "aria-valuenow")
            .await
            .as_deref(),
        Some("100")
    );
    b.save_screenshot("scans-list").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_is_paused_from_the_list_and_resumed_from_its_page() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let argus = Argus::start(dir.path(), &[]);
    let api = Api::new(&argus.base);
    // 40 sub-tasks of 1.5 s on 2 workers: about 30 s, time enough to pause.
    let id = api
        .scan(json!({
            "scanners": [{"name": "noop", "params": {"fanout": 40, "child": {"sleep_ms": 1500}}}],
            "targets": [{"kind": "domain", "value": "example.com"}]
        }))
        .await;

    b.goto(&argus.url("/ui/")).await;
    page_titled(&b, "Scans").await;
    let row = format!("#scans-table tr[data-scan-id=\"{id}\"]");
    b.wait_attr(
        &format!("{row} .badge[data-state]"),
        "data-state",
        "running",
    )
    .await;
    let pause = format!("{row} button[data-action=pause]");
    b.wait("the pause button", UI_WAIT, || async {
        b.visible(&pause)
            .await
            .then_some(())
            .ok_or("hidden or absent".to_string())
    })
    .await;
    b.click_css(&pause).await;
    b.wait_attr(&format!("{row} .badge[data-state]"), "data-state", "paused")
        .await;
    let resume = format!("{row} button[data-action=resume]");
    b.wait("the resume button in the list", UI_WAIT, || async {
        b.visible(&resume)
            .await
            .then_some(())
            .ok_or("hidden or absent".to_string())
    })
    .await;
    assert!(
        !b.visible(&pause).await,
        "pause still shown on a paused scan"
    );
    assert_eq!(api.state(&id).await, "paused");

    // Its page shows it paused, with Resume.
    b.goto(&argus.url(&format!("/ui/scans/{id}"))).await;
    b.wait_attr("#scan-state .badge[data-state]", "data-state", "paused")
        .await;
    let resume = "button[data-action=resume]";
    b.wait("the resume button on the scan page", UI_WAIT, || async {
        b.visible(resume)
            .await
            .then_some(())
            .ok_or("hidden or absent".to_string())
    })
    .await;
    b.save_screenshot("scan-detail-paused").await;
    b.click_css(resume).await;
    b.wait("the scan to run again", UI_WAIT, || async {
        match b
            .attr_of("#scan-state .badge[data-state]", "data-state")
            .await
        {
            Some(s) if s == "running" || s == "completed" => Ok(()),
            other => Err(format!("data-state {other:?}")),
        }
    })
    .await;
    let state = api.state(&id).await;
    assert!(
        state == "running" || state == "completed",
        "after resume: {state}"
    );
    // And it finishes: first on the server (a slow machine only takes longer; the progress
    // goes into the message), then on the page, which must follow the live stream.
    let deadline = std::time::Instant::now() + BACKEND_WAIT;
    loop {
        let status = api.get(&format!("/scans/{id}/status")).await;
        if status["state"] == "completed" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline
                && !matches!(status["state"].as_str(), Some("failed" | "stopped")),
            "the resumed scan did not complete: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    detail_state(&b, "completed").await;
    b.wait_attr("#scan-progress[role=progressbar]", "aria-valuenow", "100")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_is_marked_false_positive_on_the_scan_page() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    let repo = root_path.join("project");
    std::fs::create_dir(&repo).unwrap();
    common::git(&repo, &["init", "-q", "-b", "main"]);
    // Assembled at run time so this source file does not itself contain the token.
    let token = format!("{}{}", "ghp_", "R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xx");
    std::fs::write(repo.join("deploy.sh"), format!("export GH={token}\n")).unwrap();
    common::git(&repo, &["add", "."]);
    common::git(&repo, &["commit", "-q", "-m", "add deploy script"]);
    let roots = format!("[\"{}\"]", repo.display());
    let key = "7f".repeat(32);
    let argus = Argus::start(
        &root_path.join("argus-data"),
        &[
            ("ARGUS_SCAN__LOCAL_ROOTS", roots.as_str()),
            ("ARGUS_SECRETS__REPO_COPY_KEY_ENV", "ARGUS_TEST_REPO_KEY"),
            ("ARGUS_TEST_REPO_KEY", key.as_str()),
        ],
    );
    let api = Api::new(&argus.base);
    let id = api
        .scan(json!({
            "scanners": [{"name": "secrets"}],
            "targets": [{"kind": "repo", "value": repo.to_string_lossy()}]
        }))
        .await;

    b.goto(&argus.url(&format!("/ui/scans/{id}"))).await;
    detail_state(&b, "completed").await;
    let finding = b
        .wait("a finding in the table", UI_WAIT, || async {
            b.attr_of("#findings-table tr[data-finding-id]", "data-finding-id")
                .await
                .ok_or("no finding row".to_string())
        })
        .await;
    let row = format!("#findings-table tr[data-finding-id=\"{finding}\"]");
    // The row's triage state: on the row itself or an element in it.
    let state_sel = format!("{row}[data-triage-state], {row} [data-triage-state]");
    assert_eq!(
        b.attr_of(&state_sel, "data-triage-state").await.as_deref(),
        Some("open")
    );
    let before = api.get(&format!("/findings/{finding}")).await;
    assert_eq!(before["triage"], "open", "{before}");
    assert_eq!(before["data"]["rule_id"], "github-pat-classic", "{before}");
    b.save_screenshot("scan-detail-findings").await;

    b.click_css(&format!("{row} button[data-triage=false_positive]"))
        .await;
    b.wait_attr(&state_sel, "data-triage-state", "false_positive")
        .await;
    let after = api.get(&format!("/findings/{finding}")).await;
    assert_eq!(after["triage"], "false_positive", "{after}");
    // And it survives a reload (the page shows the server's state).
    b.refresh().await;
    b.wait_attr(&state_sel, "data-triage-state", "false_positive")
        .await;
}

// ---- connectors ---------------------------------------------------------------------------

const RULES: &str = r#"
rule Argus_Test_EICAR : malware test
{
    meta:
        description = "EICAR anti-malware test file"
        verdict = "malicious"
    strings:
        $eicar = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
    condition:
        $eicar
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_full_scan_runs_from_its_card() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    let share = root_path.join("share");
    std::fs::create_dir(&share).unwrap();
    for i in 0..5 {
        std::fs::write(share.join(format!("note{i}.txt")), format!("hello {i}\n")).unwrap();
    }
    std::fs::write(
        share.join("eicar.com"),
        // Built at run time: no scanner flags this source file.
        format!(
            "X5O!P%@AP[4\\PZX54(P^)7CC)7}}${}-{}!$H+H*",
            "EICAR-STANDARD", "ANTIVIRUS-TEST-FILE"
        ),
    )
    .unwrap();
    let rules = root_path.join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("test.yar"), RULES).unwrap();
    let roots = format!("[\"{}\", \"{}\"]", share.display(), rules.display());
    let argus = Argus::start(
        &root_path.join("argus-data"),
        &[("ARGUS_SCAN__LOCAL_ROOTS", roots.as_str())],
    );
    let api = Api::new(&argus.base);
    let location = url::Url::from_directory_path(&share).unwrap();
    let (status, connector) = api
        .post(
            "/connectors",
            json!({
                "name": "team share",
                "location": {"kind": "location", "value": location.as_str()},
                "scanners": [{"name": "yara", "params": {"rules": rules.display().to_string()}}],
            }),
        )
        .await;
    assert_eq!(status, 201, "{connector}");
    let cid = connector["id"].as_str().unwrap().to_string();

    b.goto(&argus.url("/ui/connectors")).await;
    page_titled(&b, "Connectors").await;
    let card = format!(".connector-card[data-connector-id=\"{cid}\"]");
    b.wait_text(&card, "team share").await;
    b.save_screenshot("connectors").await;
    b.click_css(&format!("{card} button[data-action=full-scan]"))
        .await;
    // The scan it started, seen through the API.
    let scan_id = b
        .wait("the connector's full scan", UI_WAIT, || async {
            let v = api.get(&format!("/connectors/{cid}")).await;
            v["last_full_scan"]["id"]
                .as_str()
                .map(str::to_string)
                .ok_or(format!("last_full_scan {}", v["last_full_scan"]))
        })
        .await;
    // The card follows it to the end: 100 %, every task processed, the verdicts of the six
    // files (one malicious).
    b.wait("the card's progress to reach 100 %", SCAN_WAIT, || async {
        let v = b
            .attr_of(&format!("{card} [role=progressbar]"), "aria-valuenow")
            .await;
        let processed = b.text_of(&format!("{card} .processed")).await;
        let done = processed.as_deref().and_then(|p| {
            let (a, rest) = p.split_once(" / ")?;
            let b = rest.split_whitespace().next()?;
            (a == b && a != "0").then_some(())
        });
        match (&v, done) {
            (Some(v), Some(())) if v == "100" => Ok(()),
            _ => Err(format!("aria-valuenow {v:?}, processed {processed:?}")),
        }
    })
    .await;
    b.wait("the card's verdicts", UI_WAIT, || async {
        let m = b
            .text_of(&format!("{card} .verdicts [data-verdict=malicious] .v"))
            .await
            .unwrap_or_default();
        let c = b
            .text_of(&format!("{card} .verdicts [data-verdict=clean] .v"))
            .await
            .unwrap_or_default();
        (m == "1" && c == "5")
            .then_some(())
            .ok_or(format!("malicious {m:?}, clean {c:?}"))
    })
    .await;
    b.save_screenshot("connectors-after-full-scan").await;
    // Once the scan has ended the card flips back: Full scan again, no pause/cancel.
    b.wait("the card to offer a full scan again", SCAN_WAIT, || async {
        let full = b
            .visible(&format!("{card} button[data-action=full-scan]"))
            .await;
        let pause = b
            .visible(&format!("{card} button[data-action=pause]"))
            .await;
        let cancel = b
            .visible(&format!("{card} button[data-action=cancel]"))
            .await;
        (full && !pause && !cancel)
            .then_some(())
            .ok_or(format!("full-scan {full}, pause {pause}, cancel {cancel}"))
    })
    .await;
    assert_eq!(api.state(&scan_id).await, "completed");
    let v = api.get(&format!("/connectors/{cid}")).await;
    assert_eq!(v["last_full_scan"]["verdicts"]["malicious"], 1, "{v}");
}

// ---- schedules ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_is_created_disabled_and_deleted_from_the_ui() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let argus = Argus::start(dir.path(), &[]);
    let api = Api::new(&argus.base);
    let (status, template) = api
        .post(
            "/templates",
            json!({"name": "nightly noop", "config": {
                "scanners": [{"name": "noop"}],
                "targets": [{"kind": "domain", "value": "example.com"}]
            }}),
        )
        .await;
    assert_eq!(status, 201, "{template}");
    let tid = template["id"].as_str().unwrap().to_string();

    // No schedule yet: the empty state offers one.
    b.goto(&argus.url("/ui/schedules")).await;
    page_titled(&b, "Schedules").await;
    b.wait_visible(".empty").await;
    b.save_screenshot("schedules-empty").await;
    b.click_css("#new-schedule").await;
    page_titled(&b, "New schedule").await;
    b.wait_visible("form#schedule-form").await;
    b.fill("#schedule-name", "nightly example").await;
    // The nightly preset writes the expression, which the page reads out in words.
    b.click_css("button[data-preset=nightly]").await;
    b.wait_text("#cron-words", "every day at 02:00").await;
    let cron = b
        .exec(
            "return document.querySelector('#schedule-cron').value;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(cron, "0 2 * * *");
    // The zone defaults to the browser's; pick another.
    let zone = b
        .exec(
            "return document.querySelector('#schedule-timezone').value;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        !zone.as_str().unwrap_or_default().is_empty(),
        "no default zone"
    );
    b.fill("#schedule-timezone", "Europe/Paris").await;
    let checked = b
        .exec(
            "return document.querySelector('#source-template').checked;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(checked, true, "a template is the default source");
    b.click_css(&format!("select#schedule-template option[value=\"{tid}\"]"))
        .await;
    b.save_screenshot("schedule-new").await;
    b.click_css("button#save").await;

    // Saved: the page becomes the schedule's own and shows the server's next run.
    let id = b
        .wait("the new schedule's page", UI_WAIT, || async {
            let url = b.url().await;
            url.split("/ui/schedules/")
                .nth(1)
                .filter(|id| id.len() == 36)
                .map(str::to_string)
                .ok_or(url)
        })
        .await;
    b.wait_visible("#schedule-next time").await;
    let saved = api.get(&format!("/schedules/{id}")).await;
    assert_eq!(saved["name"], "nightly example", "{saved}");
    assert_eq!(saved["cron"], "0 2 * * *", "{saved}");
    assert_eq!(saved["timezone"], "Europe/Paris", "{saved}");
    assert_eq!(saved["template_id"], tid.as_str(), "{saved}");
    assert_eq!(saved["enabled"], true, "{saved}");
    assert_eq!(saved["concurrency"], "forbid", "{saved}");
    assert_eq!(saved["missed_runs"], "skip", "{saved}");
    assert!(saved.get("config").is_none_or(Value::is_null), "{saved}");
    let next = saved["next_fire_at"].as_str().unwrap().to_string();
    assert_eq!(
        b.attr_of("#schedule-next time", "datetime")
            .await
            .as_deref(),
        Some(next.as_str())
    );
    b.save_screenshot("schedule-saved").await;

    // Listed, with its next run.
    b.click_css("nav a[data-nav=schedules]").await;
    page_titled(&b, "Schedules").await;
    let row = format!("#schedules-table tr[data-schedule-id=\"{id}\"]");
    b.wait_visible(&format!("{row} .next-run time")).await;
    assert_eq!(
        b.attr_of(&format!("{row} .next-run time"), "datetime")
            .await
            .as_deref(),
        Some(next.as_str())
    );
    let text = b.text_of(&row).await.unwrap();
    assert!(
        text.contains("nightly example")
            && text.contains("every day at 02:00")
            && text.contains("Europe/Paris"),
        "{text}"
    );
    b.save_screenshot("schedules").await;

    // Disabled through its switch: the server has no next run for it any more.
    b.click_css(&format!("{row} input[type=checkbox][data-action=toggle]"))
        .await;
    b.wait_attr(&row, "data-enabled", "false").await;
    let off = api.get(&format!("/schedules/{id}")).await;
    assert_eq!(off["enabled"], false, "{off}");
    assert!(off["next_fire_at"].is_null(), "{off}");
    assert_eq!(off["cron"], "0 2 * * *", "the rest is kept: {off}");
    assert_eq!(off["template_id"], tid.as_str(), "{off}");
    b.wait_text(&format!("{row} .next-run"), "disabled").await;
    assert_eq!(b.count(&format!("{row} .next-run time")).await, 0);

    // A bad expression: the server's message beside the cron field; nothing changed.
    let (status, problem) = api
        .post(
            "/schedules",
            json!({"name": "bad", "cron": "61 * * * *", "template_id": tid}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["path"], "/cron", "{problem}");
    let detail = problem["detail"].as_str().unwrap().to_string();
    b.click_css(&format!("{row} [data-action=edit]")).await;
    page_titled(&b, "Schedule: nightly example").await;
    b.fill("#schedule-cron", "61 * * * *").await;
    b.click_css("button#save").await;
    b.wait_attr("#schedule-cron", "aria-invalid", "true").await;
    let shown = b
        .wait("the cron field's error", UI_WAIT, || async {
            b.exec(
                "const i = document.querySelector('#schedule-cron');\
                 const e = document.getElementById(i.id + '-error');\
                 if (!e || !e.innerText.trim() || !e.getClientRects().length) return null;\
                 const described = (i.getAttribute('aria-describedby') || '').split(' ');\
                 return (described.includes(e.id) ? '' : 'NOT DESCRIBED BY: ') + e.innerText;",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or("no visible error".to_string())
        })
        .await;
    assert_eq!(shown.trim(), detail, "field error vs the API's detail");
    b.save_screenshot("schedule-bad-cron").await;
    let unchanged = api.get(&format!("/schedules/{id}")).await;
    assert_eq!(unchanged["cron"], "0 2 * * *", "{unchanged}");

    // Deleted from the list (after the confirmation, accepted here).
    b.click_css("a[href=\"/ui/schedules\"].button").await;
    page_titled(&b, "Schedules").await;
    b.wait_visible(&row).await;
    b.exec("window.confirm = () => true;", vec![])
        .await
        .unwrap();
    b.click_css(&format!("{row} button[data-action=delete]"))
        .await;
    b.wait("the row to go", UI_WAIT, || async {
        match b.count(&row).await {
            0 => Ok(()),
            n => Err(format!("{n} rows")),
        }
    })
    .await;
    b.wait_visible(".empty").await;
    let (status, gone) = api
        .send(reqwest::Method::GET, &format!("/schedules/{id}"), None)
        .await;
    assert_eq!(status, 404, "{gone}");
}

// ---- bad states ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_shows_a_banner() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut argus = Argus::start(dir.path(), &[]);
    b.goto(&argus.url("/ui/")).await;
    page_titled(&b, "Scans").await;
    assert!(!b.visible("#banner-unreachable").await);
    argus.kill();
    b.wait_visible("#banner-unreachable").await;
    b.save_screenshot("banner-unreachable").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_target_is_reported_beside_its_field() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let argus = Argus::start(dir.path(), &[]);
    let api = Api::new(&argus.base);
    let bad = "not a domain!";
    // What the API says about it.
    let (status, problem) = api
        .post(
            "/scans",
            json!({"config": {
                "scanners": [{"name": "noop"}],
                "targets": [{"kind": "domain", "value": bad}]
            }}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let detail = problem["detail"].as_str().unwrap().to_string();

    b.goto(&argus.url("/ui/scans/new")).await;
    page_titled(&b, "New scan").await;
    b.click_css("input[type=checkbox][name=scanner][value=noop]")
        .await;
    set_target(&b, "domain", bad).await;
    b.click_css("button#create").await;
    let input = "#targets .target-row input[name=target-value]";
    b.wait_attr(input, "aria-invalid", "true").await;
    // The error sits in the target's row, next to its input, and carries the API's message.
    let shown = b
        .wait("the field error beside the target", UI_WAIT, || async {
            let t = b
                .exec(
                    "const i = document.querySelector(arguments[0]);\
                     const row = i.closest('.target-row');\
                     const errs = row ? [...row.querySelectorAll('.field-error')] : [];\
                     const e = errs.find((e) => e.innerText.trim() && e.getClientRects().length);\
                     if (!e) return null;\
                     const described = (i.getAttribute('aria-describedby') || '').split(' ');\
                     return (described.includes(e.id) ? '' : 'NOT DESCRIBED BY: ') + e.innerText;",
                    vec![json!(input)],
                )
                .await
                .map_err(|e| e.to_string())?;
            t.as_str()
                .filter(|t| !t.trim().is_empty())
                .map(str::to_string)
                .ok_or(format!("no visible .field-error in the row ({t})"))
        })
        .await;
    assert!(
        !shown.starts_with("NOT DESCRIBED BY"),
        "the input's aria-describedby does not name its error: {shown}"
    );
    assert!(
        shown.contains(&detail) || detail.contains(shown.trim()),
        "field error {shown:?}, API said {detail:?}"
    );
    // No scan was created and the page did not move.
    assert!(b.url().await.ends_with("/ui/scans/new"));
    let list = api.get("/scans").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    b.save_screenshot("new-scan-invalid-target").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_from_before_a_restart_says_it_expired() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut argus = Argus::start(dir.path(), &[]);
    let api = Api::new(&argus.base);
    let before = api.get("/meta").await["instance"].clone();
    assert!(before.is_string(), "meta has no instance: {before}");
    b.goto(&argus.url("/ui/")).await;
    page_titled(&b, "Scans").await;
    assert!(!b.visible("#banner-expired").await);
    argus.restart();
    let after = api.get("/meta").await["instance"].clone();
    assert_ne!(before, after, "a restarted server has a new instance id");
    b.wait_visible("#banner-expired").await;
    // Back online: the unreachable banner is gone.
    b.wait("the unreachable banner to go", UI_WAIT, || async {
        (!b.visible("#banner-unreachable").await)
            .then_some(())
            .ok_or("still shown".to_string())
    })
    .await;
    b.save_screenshot("banner-expired").await;
}

// ---- sign-in ------------------------------------------------------------------------------

fn apikey_create(data: &Path, org: &str, role: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["admin", "apikey", "create", "--org", org, "--role", role])
        .args(["--name", "ui-test", "--expires", "1d", "--data-dir"])
        .arg(data)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "argus admin apikey create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_with_an_api_key() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = apikey_create(dir.path(), "acme", "analyst");
    let argus = Argus::start(dir.path(), &[("ARGUS_AUTH__MODE", "apikey")]);

    b.goto(&argus.url("/ui/")).await;
    page_titled(&b, "Sign in").await;
    b.wait_visible("input#token").await;
    assert_eq!(b.text_of("#identity").await.as_deref(), Some(""));
    b.save_screenshot("sign-in").await;

    // A wrong key: refused, said beside the field.
    b.fill("input#token", "argus_wrong_0000000000000000").await;
    b.click_css("form button[type=submit]").await;
    b.wait_attr("input#token", "aria-invalid", "true").await;
    let error = b
        .wait("the sign-in error", UI_WAIT, || async {
            b.exec(
                "const e = document.querySelector('[role=alert]'); return e && e.innerText.trim() ? e.innerText : null;",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or("no [role=alert] text".to_string())
        })
        .await;
    assert!(!error.is_empty());
    b.save_screenshot("sign-in-refused").await;
    assert!(b.visible("input#token").await, "still on the sign-in form");

    // The key from `argus admin apikey create`: signed in, the header shows org and role.
    b.fill("input#token", &key).await;
    b.click_css("form button[type=submit]").await;
    page_titled(&b, "Scans").await;
    b.wait_text("#identity", "acme").await;
    let identity = b.text_of("#identity").await.unwrap();
    assert!(identity.contains("analyst"), "{identity}");
    assert!(!identity.contains(&key), "the key is not shown");
    assert!(b.visible("#signout").await, "no Sign out button");
    b.save_screenshot("signed-in").await;
}

// ---- screenshots of every page ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_the_main_pages() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let hook = argus_sinks::testkit::webhook::WebhookReceiver::start(None)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().canonicalize().unwrap().join("share");
    std::fs::create_dir(&share).unwrap();
    let roots = format!("[\"{}\"]", share.display());
    let hook_url = hook.url();
    let argus = Argus::start(
        &dir.path().join("argus-data"),
        &[
            ("ARGUS_SCAN__LOCAL_ROOTS", roots.as_str()),
            ("ARGUS_SINKS__HOOKS__TYPE", "webhook"),
            ("ARGUS_SINKS__HOOKS__URL", hook_url.as_str()),
        ],
    );
    let api = Api::new(&argus.base);
    // Something on every page: scans (one finished, one paused), a template, a connector.
    let done = api
        .scan(json!({
            "scanners": [{"name": "noop", "params": {"findings": 4}}],
            "targets": [{"kind": "domain", "value": "example.com"}]
        }))
        .await;
    let slow = api
        .scan(json!({
            "scanners": [{"name": "noop", "params": {"fanout": 20, "child": {"sleep_ms": 2000}}}],
            "targets": [{"kind": "domain", "value": "example.org"}]
        }))
        .await;
    let (status, v) = api.post(&format!("/scans/{slow}/pause"), json!({})).await;
    assert!(status < 300, "pause: {v}");
    let (status, v) = api
        .post(
            "/templates",
            json!({"name": "weekly noop", "config": {
                "scanners": [{"name": "noop"}],
                "targets": [{"kind": "domain", "value": "example.com"}]
            }}),
        )
        .await;
    assert_eq!(status, 201, "template: {v}");
    let location = url::Url::from_directory_path(&share).unwrap();
    let (status, v) = api
        .post(
            "/connectors",
            json!({
                "name": "share",
                "location": {"kind": "location", "value": location.as_str()},
                "scanners": [{"name": "noop"}],
            }),
        )
        .await;
    assert_eq!(status, 201, "connector: {v}");
    common::wait_for(SCAN_WAIT, "the first scan to complete", || async {
        (api.state(&done).await == "completed").then_some(())
    })
    .await;

    let pages: [(&str, &str, &str, &str); 7] = [
        (
            "/ui/",
            "Scans",
            "#scans-table tr[data-scan-id]",
            "page-scans",
        ),
        (
            "/ui/scans/new",
            "New scan",
            "form#new-scan",
            "page-new-scan",
        ),
        (
            &format!("/ui/scans/{done}"),
            "",
            "#scan-state .badge[data-state=completed]",
            "page-scan-detail",
        ),
        (
            "/ui/connectors",
            "Connectors",
            ".connector-card[data-connector-id]",
            "page-connectors",
        ),
        (
            "/ui/templates",
            "Templates",
            "#templates-table tr[data-template-id]",
            "page-templates",
        ),
        (
            "/ui/scanners",
            "Scanners",
            ".scanner[data-scanner=noop]",
            "page-scanners",
        ),
        (
            "/ui/sinks",
            "Sinks",
            "#sinks-table tr[data-sink]",
            "page-sinks",
        ),
    ];
    for (path, title, hook_css, name) in &pages {
        b.goto(&argus.url(path)).await;
        page_titled(&b, title).await;
        b.wait_visible(hook_css).await;
        b.save_screenshot(name).await;
    }
    // Phone width: the scans list and a scan's page.
    b.set_window_size(390, 844).await;
    for (path, title, hook_css, name) in [&pages[0], &pages[2]] {
        b.goto(&argus.url(path)).await;
        page_titled(&b, title).await;
        b.wait_visible(hook_css).await;
        b.save_screenshot(&format!("{name}-phone")).await;
        let overflow = b
            .exec(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap_or(0) <= 0,
            "{path} scrolls sideways at 390 px by {overflow} px"
        );
    }
}
