//! A small W3C WebDriver client for the browser tests (tests/ui.rs): Debian's `chromedriver`
//! started on a free port (`--port=0`, the port read from its first lines) driving headless
//! `chromium` with a fresh profile in a temp dir. JSON over HTTP with `reqwest`; no other
//! dependency.
//!
//! Gated like the other service tests: `ARGUS_TEST_CHROMEDRIVER` and `ARGUS_TEST_CHROMIUM`
//! name the executables; unset, [`Browser::start`] prints why and returns `None` (under
//! `CI=true` it fails, see `argus_core::testkit::service_url`).
//!
//! Synchronisation is [`Browser::wait`]: a condition polled until a deadline, failing with what
//! was awaited, the last thing seen, the page's address and text, and a screenshot.
//!
//! Cleanup: chromedriver runs in its own process group. On drop the session is deleted (which
//! closes chromium) and then the whole group (chromedriver and any chromium process left) is
//! killed, so a failing test leaves no browser behind.
#![allow(
    clippy::disallowed_methods,
    clippy::expect_used,
    clippy::unwrap_used,
    dead_code
)]

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// The W3C key of an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a UI condition may take by default (a loaded 2-core machine).
pub const UI_WAIT: Duration = Duration::from_secs(30);

/// Chromium's flags: headless, nothing fetched in the background, a fixed window size.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

/// A WebDriver error answer (`value.error` / `value.message`), or a transport failure.
#[derive(Debug, Clone)]
pub struct WdError {
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first = self.message.lines().next().unwrap_or_default();
        write!(f, "{}: {first}", self.error)
    }
}

pub type WdResult<T> = Result<T, WdError>;

/// An element reference of the session it was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element(pub String);

impl Element {
    fn json(&self) -> Value {
        json!({ ELEMENT_KEY: self.0 })
    }
}

/// Where the tests write their screenshots: `ARGUS_UI_SCREENSHOTS`, else `ui-screenshots` in
/// the cargo target folder (the one holding the `argus` binary under test).
pub fn screenshot_dir() -> PathBuf {
    let dir = match std::env::var("ARGUS_UI_SCREENSHOTS") {
        Ok(d) if !d.trim().is_empty() => PathBuf::from(d),
        _ => {
            let bin = Path::new(env!("CARGO_BIN_EXE_argus"));
            // <target>/<profile>/argus
            bin.parent()
                .and_then(Path::parent)
                .map(|t| t.join("ui-screenshots"))
                .unwrap_or_else(|| PathBuf::from("target/ui-screenshots"))
        }
    };
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Only one browser test at a time: two cores cannot run several chromiums and servers and
/// keep the timings of a UI meaningful.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT`
    driver: String,
    session: String,
    /// Chromium's main process (`goog:processID` of the session).
    pub browser_pid: Option<u32>,
    child: Child,
    _profile: tempfile::TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Delete the session (chromium quits), synchronously: Drop cannot await.
        let _ = delete_session_blocking(&self.driver, &self.session);
        let pgid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn delete_session_blocking(driver: &str, session: &str) -> std::io::Result<()> {
    let addr = driver.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "DELETE /session/{session} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut sink = Vec::new();
    let _ = s.read_to_end(&mut sink);
    Ok(())
}

impl Browser {
    /// Starts chromedriver and a headless chromium session, or `None` (printed) when the
    /// executables are not configured. Browser tests run one at a time.
    pub async fn start() -> Option<Browser> {
        let driver_bin = argus_core::testkit::service_url("ARGUS_TEST_CHROMEDRIVER")?;
        let chromium = argus_core::testkit::service_url("ARGUS_TEST_CHROMIUM")?;
        let turn = ONE_AT_A_TIME.lock().await;
        let mut child = Command::new(&driver_bin)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {driver_bin}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        // "ChromeDriver was started successfully on port 36113."
        let port = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("{driver_bin} exited before saying its port"))
                .expect("read chromedriver output");
            if let Some(rest) = line.split(" on port ").nth(1) {
                if line.contains("started successfully") {
                    break rest.trim_end_matches('.').trim().to_string();
                }
            }
        };
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        let driver = format!("http://127.0.0.1:{port}");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let answer = http
            .post(format!("{driver}/session"))
            .json(&caps)
            .send()
            .await
            .expect("chromedriver answers");
        let body: Value = answer.json().await.expect("session JSON");
        let session = body["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| {
                let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
                panic!("no WebDriver session: {body}")
            })
            .to_string();
        let browser_pid = body["value"]["capabilities"]["goog:processID"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok());
        Some(Browser {
            http,
            driver,
            session,
            browser_pid,
            child,
            _profile: profile,
            _turn: turn,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> WdResult<Value> {
        let url = format!("{}/session/{}{path}", self.driver, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.map_err(|e| WdError {
            error: "transport".into(),
            message: format!("{url}: {e}"),
        })?;
        let v: Value = res.json().await.map_err(|e| WdError {
            error: "transport".into(),
            message: format!("{url}: not JSON: {e}"),
        })?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if let Some(err) = value.get("error").and_then(Value::as_str) {
            return Err(WdError {
                error: err.to_string(),
                message: value["message"].as_str().unwrap_or_default().to_string(),
            });
        }
        Ok(value)
    }

    async fn post(&self, path: &str, body: Value) -> WdResult<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> WdResult<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    // ---- navigation ------------------------------------------------------------------------

    /// Opens `url` and waits for the document to load.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url }))
            .await
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    pub async fn url(&self) -> String {
        self.get("/url")
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    pub async fn refresh(&self) {
        self.post("/refresh", json!({})).await.expect("refresh");
    }

    /// Sets the window's size (CSS pixels of the outer window).
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await
            .expect("set window rect");
    }

    // ---- elements --------------------------------------------------------------------------

    fn element_of(v: &Value) -> WdResult<Element> {
        v.get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .map(|s| Element(s.to_string()))
            .ok_or_else(|| WdError {
                error: "bad answer".into(),
                message: format!("not an element: {v}"),
            })
    }

    /// The first element matching `css`, now.
    pub async fn find(&self, css: &str) -> WdResult<Element> {
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await?;
        Self::element_of(&v)
    }

    /// Every element matching `css`, now.
    pub async fn find_all(&self, css: &str) -> WdResult<Vec<Element>> {
        let v = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await?;
        v.as_array()
            .into_iter()
            .flatten()
            .map(Self::element_of)
            .collect()
    }

    /// The first element matching `css` inside `parent`.
    pub async fn find_in(&self, parent: &Element, css: &str) -> WdResult<Element> {
        let v = self
            .post(
                &format!("/element/{}/element", parent.0),
                json!({"using": "css selector", "value": css}),
            )
            .await?;
        Self::element_of(&v)
    }

    /// Waits until an element matching `css` exists and is displayed, and returns it.
    pub async fn wait_visible(&self, css: &str) -> Element {
        self.wait(&format!("{css} to be visible"), UI_WAIT, || async move {
            let el = self.find(css).await.map_err(|e| e.to_string())?;
            if self.displayed(&el).await {
                Ok(el)
            } else {
                Err("present but not displayed".to_string())
            }
        })
        .await
    }

    pub async fn click(&self, el: &Element) -> WdResult<()> {
        self.post(&format!("/element/{}/click", el.0), json!({}))
            .await
            .map(drop)
    }

    /// Waits for `css` to be visible, then clicks it (retrying while the page re-renders it).
    pub async fn click_css(&self, css: &str) {
        self.wait(&format!("a click on {css}"), UI_WAIT, || async move {
            let el = self.find(css).await.map_err(|e| e.to_string())?;
            self.click(&el).await.map_err(|e| e.to_string())
        })
        .await
    }

    pub async fn clear(&self, el: &Element) -> WdResult<()> {
        self.post(&format!("/element/{}/clear", el.0), json!({}))
            .await
            .map(drop)
    }

    pub async fn send_keys(&self, el: &Element, text: &str) -> WdResult<()> {
        self.post(&format!("/element/{}/value", el.0), json!({"text": text}))
            .await
            .map(drop)
    }

    /// Clears the field matching `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.wait_visible(css).await;
        self.clear(&el)
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        self.send_keys(&el, text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    pub async fn text(&self, el: &Element) -> WdResult<String> {
        let v = self.get(&format!("/element/{}/text", el.0)).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    pub async fn attribute(&self, el: &Element, name: &str) -> WdResult<Option<String>> {
        let v = self
            .get(&format!("/element/{}/attribute/{name}", el.0))
            .await?;
        Ok(v.as_str().map(str::to_string))
    }

    pub async fn property(&self, el: &Element, name: &str) -> WdResult<Value> {
        self.get(&format!("/element/{}/property/{name}", el.0))
            .await
    }

    pub async fn displayed(&self, el: &Element) -> bool {
        self.get(&format!("/element/{}/displayed", el.0))
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page.
    pub async fn exec(&self, script: &str, args: Vec<Value>) -> WdResult<Value> {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Passes an element to [`Browser::exec`].
    pub fn arg(el: &Element) -> Value {
        el.json()
    }

    // ---- reading the page by selector (never stale) ---------------------------------------

    /// `getAttribute(name)` of the first element matching `css`, `None` when absent.
    pub async fn attr_of(&self, css: &str, name: &str) -> Option<String> {
        self.exec(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
            vec![json!(css), json!(name)],
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
    }

    /// The rendered text (`innerText`) of the first element matching `css`, `None` when absent.
    pub async fn text_of(&self, css: &str) -> Option<String> {
        self.exec(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
            vec![json!(css)],
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
    }

    /// Whether an element matching `css` exists and takes space on the page (not `hidden`,
    /// not `display: none`).
    pub async fn visible(&self, css: &str) -> bool {
        self.exec(
            "const e = document.querySelector(arguments[0]); return !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';",
            vec![json!(css)],
        )
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> usize {
        self.exec(
            "return document.querySelectorAll(arguments[0]).length;",
            vec![json!(css)],
        )
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(0) as usize
    }

    // ---- waiting ---------------------------------------------------------------------------

    /// Polls `f` until it returns `Ok`, for at most `timeout`. `Err` carries what was seen
    /// instead; on timeout the test fails with `what`, that last observation, the page's
    /// address and text, and a screenshot (`FAILED-*.png` in [`screenshot_dir`]).
    pub async fn wait<T, F, Fut>(&self, what: &str, timeout: Duration, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match f().await {
                Ok(v) => return v,
                Err(seen) => seen,
            };
            if Instant::now() >= deadline {
                let url = self.url().await;
                let body = self
                    .text_of("body")
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(1500)
                    .collect::<String>();
                let shot = self
                    .screenshot(&format!(
                        "FAILED-{}",
                        what.chars()
                            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                            .take(60)
                            .collect::<String>()
                    ))
                    .await;
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n  last seen: {last}\n  page: {url}\n  screenshot: {}\n  page text:\n{body}",
                    shot.map(|p| p.display().to_string()).unwrap_or_else(|e| e),
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the attribute `name` of the first `css` element is `want`.
    pub async fn wait_attr(&self, css: &str, name: &str, want: &str) {
        self.wait(
            &format!("{css} [{name}={want:?}]"),
            UI_WAIT,
            || async move {
                match self.attr_of(css, name).await {
                    Some(v) if v == want => Ok(()),
                    other => Err(format!("{name} = {other:?}")),
                }
            },
        )
        .await
    }

    /// Waits until the first `css` element's text contains `needle`; returns the text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        self.wait(
            &format!("{css} to contain {needle:?}"),
            UI_WAIT,
            || async move {
                match self.text_of(css).await {
                    Some(t) if t.contains(needle) => Ok(t),
                    other => Err(format!("text {other:?}")),
                }
            },
        )
        .await
    }

    // ---- screenshots -----------------------------------------------------------------------

    /// Saves the viewport as `<screenshot_dir>/<name>.png`; returns the path.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf, String> {
        let v = self.get("/screenshot").await.map_err(|e| e.to_string())?;
        let b64 = v.as_str().ok_or("screenshot: not a string")?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| e.to_string())?;
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    /// Like [`Browser::screenshot`], failing the test when it cannot be written or is no PNG.
    /// Finite CSS transitions and animations (a progress bar growing) end first, so the
    /// picture shows the state the test saw; endless ones (a spinner) are not waited for.
    pub async fn save_screenshot(&self, name: &str) -> PathBuf {
        let settled = "return document.getAnimations().filter((a) => a.playState === 'running' \
            && a.effect && a.effect.getComputedTiming().endTime !== Infinity).length;";
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.exec(settled, vec![]).await {
                Ok(n) if n.as_u64() == Some(0) => break,
                Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(_) => break,
            }
        }
        let path = self.screenshot(name).await.expect("screenshot");
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000,
            "{} is not a PNG of a page",
            path.display()
        );
        eprintln!("screenshot: {}", path.display());
        path
    }
}

/// Whether process `pid` still runs (a zombie does not count).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S …": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}
