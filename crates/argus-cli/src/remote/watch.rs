//! `argus remote scans watch`: a scan's live progress from its SSE stream
//! (`GET /api/v1/scans/{id}/events?until_terminal=true`).
//!
//! The stream replays the scan's events from its first one, then follows it, and ends after
//! the terminal `state` event. On a terminal the progress is an `indicatif` bar on stderr; on
//! anything else (CI logs, pipes) plain lines on stderr: every state change, every failed task,
//! and a progress line each time the task counters change. stdout gets the final summary (or
//! with `--json` the final scan document), read back with `GET /scans/{id}` once the stream
//! said the scan ended, so it holds the stored final counters.
//!
//! Invariants: each event is rendered once — a dropped connection is reopened with
//! `Last-Event-ID` set to the last event seen, and the server sends exactly the events after
//! it; the exit code is 0 only for `completed` (1 for `failed` and `cancelled`).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use serde_json::Value;

use super::client::{is_final, Client, RemoteError};
use super::sse::SseEvent;
use super::view::{self, Progress};

/// Consecutive failed attempts to reopen the stream before giving up (with the backoff below,
/// about two minutes of a server that is gone).
const MAX_RECONNECTS: u32 = 30;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Follows scan `id` until it ends; returns the exit code.
pub async fn watch(client: &Client, id: &str, json: bool) -> anyhow::Result<u8> {
    let scan = client.scan(id).await?;
    let s = view::Scan::read(&scan);
    if view::is_terminal(&s.state) {
        return finish(json, &scan);
    }
    let mut out = Render::new(&s);
    let mut last_id: Option<i64> = None;
    let mut failures = 0u32;
    loop {
        let ended = match client.events(id, last_id).await {
            Ok(mut stream) => loop {
                match stream.next().await {
                    Ok(Some(e)) => {
                        failures = 0;
                        if let Some(n) = e.id.as_deref().and_then(|i| i.parse().ok()) {
                            last_id = Some(n);
                        }
                        if out.event(&e) {
                            break true;
                        }
                    }
                    // The server ended the stream before the scan ended (it is shutting
                    // down, or a proxy cut it): reopen after the last event.
                    Ok(None) => break false,
                    Err(e) => {
                        out.note(&format!("event stream interrupted: {e}"));
                        break false;
                    }
                }
            },
            Err(e) if is_final(&e) => {
                out.clear();
                return Err(e.into());
            }
            Err(e) => {
                out.note(&format!("{e}"));
                false
            }
        };
        if ended {
            break;
        }
        failures += 1;
        if failures > MAX_RECONNECTS {
            out.clear();
            return Err(RemoteError::Transport {
                server: String::from("the server"),
                detail: format!(
                    "lost the event stream of scan {id}; gave up after {MAX_RECONNECTS} attempts"
                ),
            }
            .into());
        }
        // Back off (0.25 s, 0.5 s, 1 s … 5 s) before reopening: the server may be restarting.
        let backoff = Duration::from_millis(250u64 << failures.min(5)).min(MAX_BACKOFF);
        out.note(&format!(
            "reconnecting in {:.1} s{}",
            backoff.as_secs_f64(),
            last_id
                .map(|n| format!(" (after event {n})"))
                .unwrap_or_default()
        ));
        tokio::time::sleep(backoff).await;
    }
    out.clear();
    let scan = client.scan(id).await?;
    finish(json, &scan)
}

/// Prints the final scan; exit code by its state.
fn finish(json: bool, scan: &Value) -> anyhow::Result<u8> {
    let s = view::Scan::read(scan);
    if json {
        println!("{}", serde_json::to_string_pretty(scan)?);
    } else {
        let reason = s
            .reason
            .as_deref()
            .map(|r| format!(" (reason: {r})"))
            .unwrap_or_default();
        println!(
            "scan {} {}: {}{reason}",
            s.id,
            s.state,
            s.progress.summary()
        );
    }
    Ok(if s.state == "completed" { 0 } else { 1 })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StateData {
    from: String,
    to: String,
    reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TaskFailedData {
    scanner: String,
    target: Value,
    error: Option<String>,
}

/// Where live output goes: a progress bar, or plain lines.
struct Render {
    bar: Option<ProgressBar>,
    state: String,
    progress: Progress,
    /// `(enqueued, done, failed)` of the last plain progress line.
    printed: Option<(u64, u64, u64)>,
}

impl Render {
    fn new(s: &view::Scan) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(s.progress.total());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} tasks  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let r = Render {
            bar,
            state: s.state.clone(),
            progress: s.progress.clone(),
            printed: None,
        };
        r.line(&format!("watching scan {} ({})", s.id, s.name));
        r.redraw();
        r
    }

    /// A line that stays (above the bar on a terminal).
    fn line(&self, text: &str) {
        match &self.bar {
            Some(b) => b.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn note(&self, text: &str) {
        self.line(&format!("note: {text}"));
    }

    fn redraw(&self) {
        if let Some(b) = &self.bar {
            let p = &self.progress;
            b.set_length(p.total());
            b.set_position(p.done + p.failed);
            b.set_message(format!(
                "{} · {} failed · {} findings",
                self.state, p.failed, p.findings
            ));
        }
    }

    fn clear(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    /// Renders one event; true when it was the scan's terminal state.
    fn event(&mut self, e: &SseEvent) -> bool {
        let Ok(ev) = serde_json::from_str::<Value>(&e.data) else {
            return false;
        };
        let data = ev.get("data").cloned().unwrap_or(Value::Null);
        match e.event.as_str() {
            "state" => {
                let d: StateData = serde_json::from_value(data).unwrap_or_default();
                let reason = d
                    .reason
                    .map(|r| format!(" (reason: {r})"))
                    .unwrap_or_default();
                // A scan's first event (its creation) goes from `created` to `created`.
                if d.from == d.to || d.from.is_empty() {
                    self.line(&format!("state: {}{reason}", d.to));
                } else {
                    self.line(&format!("state: {} → {}{reason}", d.from, d.to));
                }
                self.state = d.to;
                self.redraw();
                return view::is_terminal(&self.state);
            }
            "progress" => {
                if let Ok(p) = serde_json::from_value::<Progress>(data) {
                    self.progress = p;
                    self.redraw();
                    let key = (
                        self.progress.enqueued,
                        self.progress.done,
                        self.progress.failed,
                    );
                    if self.bar.is_none() && self.printed != Some(key) {
                        self.printed = Some(key);
                        self.line(&format!("progress: {}", self.progress.summary()));
                    }
                }
            }
            "task_failed" => {
                let d: TaskFailedData = serde_json::from_value(data).unwrap_or_default();
                let target = match (&d.target["kind"], &d.target["value"]) {
                    (Value::String(k), Value::String(v)) => format!("{k}:{v}"),
                    _ => "?".into(),
                };
                self.line(&format!(
                    "task failed: {} on {target}: {}",
                    d.scanner,
                    d.error.as_deref().unwrap_or("no detail")
                ));
            }
            // Findings show in the progress counter; listing them is `findings list`.
            _ => {}
        }
        false
    }
}
