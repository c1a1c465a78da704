//! A small typed client of the public HTTP API (`/api/v1`) of a running Argus server.
//!
//! It knows routes, query parameters, the bearer token and the problem+json error format, and
//! nothing about rendering. Bodies are returned as raw JSON ([`Value`]) so `--json` prints
//! exactly what the server sent; the lenient views in [`super::view`] read what tables show.
//!
//! Invariants: the token is only ever sent in the `Authorization` header (never logged, never
//! part of an error message); every non-2xx answer becomes [`RemoteError::Api`] carrying the
//! server's problem `title`/`detail`; a refused connection names the server URL.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use super::sse::{SseEvent, SseParser};

/// Time to open a connection; requests other than streams also get [`REQUEST_TIMEOUT`].
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What went wrong talking to the server.
#[derive(Debug)]
pub enum RemoteError {
    /// No TCP/TLS connection to the server at all.
    Connect { server: String, detail: String },
    /// The connection was made but the exchange failed (reset, timeout, bad TLS …).
    Transport { server: String, detail: String },
    /// The server answered with an error status.
    Api(ApiProblem),
    /// A 2xx answer whose body was not what the API documents.
    Decode { what: String, detail: String },
    /// A bad `--server` URL.
    BadServer(String),
}

/// The parts of a problem+json body (RFC 9457) that a person needs.
#[derive(Debug, Clone)]
pub struct ApiProblem {
    pub status: u16,
    pub title: String,
    pub detail: String,
    /// JSON pointer of the failing field (422).
    pub path: Option<String>,
    /// Current scan state (409).
    pub state: Option<String>,
    /// Seconds before a retry may succeed (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiProblem {
    /// What the user can do about it, when there is something to say.
    fn hint(&self) -> Option<String> {
        match self.status {
            401 => Some("pass --token or set ARGUS_TOKEN".into()),
            403 => Some(
                "the token's role does not allow this; ask an admin for a key with a higher role"
                    .into(),
            ),
            404 => {
                Some("check the id: `argus remote scans list` shows the scans you can see".into())
            }
            409 => self
                .state
                .as_ref()
                .map(|s| format!("the scan is {s}: `argus remote scans get ID` shows it")),
            429 | 503 => self.retry_after.map(|s| format!("retry in {s} s")),
            _ => None,
        }
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteError::Connect { server, detail } => write!(
                f,
                "cannot connect to the Argus server at {server} ({detail}); is `argus serve` \
                 running there? (set --server or ARGUS_SERVER)"
            ),
            RemoteError::Transport { server, detail } => {
                write!(f, "request to {server} failed: {detail}")
            }
            RemoteError::Api(p) => {
                write!(f, "{} {}", p.status, p.title)?;
                if !p.detail.is_empty() && p.detail != p.title {
                    write!(f, ": {}", p.detail)?;
                }
                if let Some(path) = &p.path {
                    write!(f, " (at {path})")?;
                }
                if let Some(h) = p.hint() {
                    write!(f, " — hint: {h}")?;
                }
                Ok(())
            }
            RemoteError::Decode { what, detail } => {
                write!(f, "unexpected answer for {what}: {detail}")
            }
            RemoteError::BadServer(detail) => write!(f, "bad --server URL: {detail}"),
        }
    }
}

impl std::error::Error for RemoteError {}

/// One page of a list route: `{items, next_cursor}`.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Value>,
    pub next_cursor: Option<String>,
}

/// Filters of `GET /scans`.
#[derive(Debug, Default, Clone)]
pub struct ScanFilter {
    pub state: Option<String>,
    pub limit: Option<u32>,
}

/// Filters of `GET /scans/{id}/findings`.
#[derive(Debug, Default, Clone)]
pub struct FindingFilter {
    pub severity: Option<String>,
    pub min_severity: Option<String>,
    pub limit: Option<u32>,
}

/// A lifecycle action on a scan (`POST /scans/{id}/<action>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Pause,
    Resume,
    Stop,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Stop => "stop",
        }
    }
}

/// The client: one connection pool, the API base URL and the token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `http://host:port/api/v1` (no trailing slash).
    api: String,
    /// What the user named, for messages.
    server: String,
    token: Option<String>,
}

// The token must never reach a Debug dump.
impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api", &self.api)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Client {
    /// A client of the server at `server` (`http://host:port`, with or without `/api/v1`).
    pub fn new(server: &str, token: Option<String>) -> Result<Self, RemoteError> {
        let trimmed = server.trim().trim_end_matches('/');
        let url = url::Url::parse(trimmed)
            .map_err(|e| RemoteError::BadServer(format!("{trimmed}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(RemoteError::BadServer(format!(
                "{trimmed}: expected http://HOST:PORT or https://HOST"
            )));
        }
        let root = trimmed.strip_suffix("/api/v1").unwrap_or(trimmed);
        // Not the server's HTTP door (`argus_scanners::http`, for components' outbound
        // traffic): this process is a client of the one server the user named, and holds no
        // components.
        #[allow(clippy::disallowed_methods)]
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("argus-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RemoteError::BadServer(e.to_string()))?;
        Ok(Client {
            http,
            api: format!("{root}/api/v1"),
            server: root.to_owned(),
            token: token.filter(|t| !t.is_empty()),
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut req = self.http.request(method, format!("{}{path}", self.api));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req
    }

    /// Sends `req`; a non-2xx answer becomes [`RemoteError::Api`].
    async fn send(&self, req: RequestBuilder) -> Result<Response, RemoteError> {
        let resp = req.send().await.map_err(|e| self.transport(e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(RemoteError::Api(problem(resp).await))
    }

    fn transport(&self, e: reqwest::Error) -> RemoteError {
        // The chain's innermost cause says what happened ("Connection refused"); reqwest's own
        // message names the URL, which we say ourselves.
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            detail = s.to_string();
            source = s.source();
        }
        if e.is_connect() {
            RemoteError::Connect {
                server: self.server.clone(),
                detail,
            }
        } else {
            RemoteError::Transport {
                server: self.server.clone(),
                detail,
            }
        }
    }

    async fn json(&self, req: RequestBuilder, what: &str) -> Result<Value, RemoteError> {
        let resp = self.send(req.timeout(REQUEST_TIMEOUT)).await?;
        let bytes = resp.bytes().await.map_err(|e| self.transport(e))?;
        serde_json::from_slice(&bytes).map_err(|e| RemoteError::Decode {
            what: what.to_owned(),
            detail: e.to_string(),
        })
    }

    async fn page(&self, req: RequestBuilder, what: &str) -> Result<Page, RemoteError> {
        let v = self.json(req, what).await?;
        let decode = |detail: &str| RemoteError::Decode {
            what: what.to_owned(),
            detail: detail.to_owned(),
        };
        let items = v
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| decode("no `items` array"))?;
        let next_cursor = v
            .get("next_cursor")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Ok(Page { items, next_cursor })
    }

    /// `GET /scans`: one page, newest first.
    pub async fn list_scans(
        &self,
        filter: &ScanFilter,
        cursor: Option<&str>,
    ) -> Result<Page, RemoteError> {
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(s) = &filter.state {
            q.push(("state", s.clone()));
        }
        if let Some(l) = filter.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(c) = cursor {
            q.push(("cursor", c.to_owned()));
        }
        self.page(self.request(Method::GET, "/scans").query(&q), "GET /scans")
            .await
    }

    /// `GET /scans/{id}`.
    pub async fn scan(&self, id: &str) -> Result<Value, RemoteError> {
        self.json(
            self.request(Method::GET, &format!("/scans/{}", seg(id))),
            "GET /scans/{id}",
        )
        .await
    }

    /// `POST /scans` with a `CreateScanRequest` body.
    pub async fn create_scan(&self, body: &Value) -> Result<Value, RemoteError> {
        self.json(
            self.request(Method::POST, "/scans").json(body),
            "POST /scans",
        )
        .await
    }

    /// `POST /templates/{id}/scans` with a `ScanFromTemplateRequest` body.
    pub async fn scan_from_template(
        &self,
        template: &str,
        body: &Value,
    ) -> Result<Value, RemoteError> {
        self.json(
            self.request(Method::POST, &format!("/templates/{}/scans", seg(template)))
                .json(body),
            "POST /templates/{id}/scans",
        )
        .await
    }

    /// `POST /scans/{id}/{action}` (`?force=true` with `force`).
    pub async fn act(&self, id: &str, action: Action, force: bool) -> Result<Value, RemoteError> {
        let mut req = self.request(
            Method::POST,
            &format!("/scans/{}/{}", seg(id), action.as_str()),
        );
        if force {
            req = req.query(&[("force", "true")]);
        }
        self.json(req, &format!("POST /scans/{{id}}/{}", action.as_str()))
            .await
    }

    /// `GET /scans/{id}/findings`: one page.
    pub async fn list_findings(
        &self,
        scan: &str,
        filter: &FindingFilter,
        cursor: Option<&str>,
    ) -> Result<Page, RemoteError> {
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(s) = &filter.severity {
            q.push(("severity", s.clone()));
        }
        if let Some(s) = &filter.min_severity {
            q.push(("min_severity", s.clone()));
        }
        if let Some(l) = filter.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(c) = cursor {
            q.push(("cursor", c.to_owned()));
        }
        self.page(
            self.request(Method::GET, &format!("/scans/{}/findings", seg(scan)))
                .query(&q),
            "GET /scans/{id}/findings",
        )
        .await
    }

    /// `GET /scans/{id}/artifacts`.
    pub async fn list_artifacts(&self, scan: &str) -> Result<Page, RemoteError> {
        self.page(
            self.request(Method::GET, &format!("/scans/{}/artifacts", seg(scan))),
            "GET /scans/{id}/artifacts",
        )
        .await
    }

    /// `GET /scanners`.
    pub async fn scanners(&self) -> Result<Page, RemoteError> {
        self.page(self.request(Method::GET, "/scanners"), "GET /scanners")
            .await
    }

    /// `GET /scans/{id}/artifacts/{name}`: the streaming response (its body not yet read).
    pub async fn download(&self, scan: &str, name: &str) -> Result<Download, RemoteError> {
        // Each segment of the name is escaped on its own: `/` separates them on the wire too.
        let name: Vec<String> = name.split('/').map(seg).collect();
        let resp = self
            .send(self.request(
                Method::GET,
                &format!("/scans/{}/artifacts/{}", seg(scan), name.join("/")),
            ))
            .await?;
        Ok(Download {
            size: resp.content_length(),
            resp,
            client: self.clone(),
        })
    }

    /// `GET /scans/{id}/events?until_terminal=true`, after `last_event_id` when resuming.
    pub async fn events(
        &self,
        scan: &str,
        last_event_id: Option<i64>,
    ) -> Result<EventStream, RemoteError> {
        let mut req = self
            .request(Method::GET, &format!("/scans/{}/events", seg(scan)))
            .query(&[("until_terminal", "true")])
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = self.send(req).await?;
        Ok(EventStream {
            resp,
            parser: SseParser::default(),
            ready: std::collections::VecDeque::new(),
            client: self.clone(),
        })
    }
}

/// A path segment, percent-encoded (ids are UUIDs, but whatever the user typed stays one
/// segment and cannot reach another route).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads an error answer: problem+json when the server sent one, else the status and the
/// start of the body.
async fn problem(resp: Response) -> ApiProblem {
    let status = resp.status();
    let reason = status.canonical_reason().unwrap_or("error").to_owned();
    let text = resp.text().await.unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let detail = field("detail").unwrap_or_else(|| {
        let t = text.trim();
        // A proxy's HTML error page says little; keep the first line, short.
        let first = t.lines().next().unwrap_or("");
        first.chars().take(200).collect()
    });
    ApiProblem {
        status: status.as_u16(),
        title: field("title").unwrap_or(reason),
        detail,
        path: field("path"),
        state: field("state"),
        retry_after: parsed
            .as_ref()
            .and_then(|v| v.get("retry_after"))
            .and_then(Value::as_u64),
    }
}

/// An artifact being downloaded.
pub struct Download {
    /// `Content-Length`, when the server sent one.
    pub size: Option<u64>,
    resp: Response,
    client: Client,
}

impl Download {
    /// Copies the body into `w` chunk by chunk (never whole in memory), calling `progress` with
    /// the bytes written so far; returns the total.
    pub async fn copy_to(
        &mut self,
        w: &mut dyn std::io::Write,
        mut progress: impl FnMut(u64),
    ) -> Result<u64, DownloadError> {
        let mut total = 0u64;
        while let Some(chunk) = self
            .resp
            .chunk()
            .await
            .map_err(|e| DownloadError::Remote(self.client.transport(e)))?
        {
            w.write_all(&chunk).map_err(DownloadError::Write)?;
            total += chunk.len() as u64;
            progress(total);
        }
        Ok(total)
    }
}

/// A download that failed on either side.
#[derive(Debug)]
pub enum DownloadError {
    Remote(RemoteError),
    Write(std::io::Error),
}

impl fmt::Display for DownloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownloadError::Remote(e) => e.fmt(f),
            DownloadError::Write(e) => write!(f, "cannot write the artifact: {e}"),
        }
    }
}

impl std::error::Error for DownloadError {}

/// A scan's live events (SSE), parsed frame by frame.
pub struct EventStream {
    resp: Response,
    parser: SseParser,
    ready: std::collections::VecDeque<SseEvent>,
    client: Client,
}

impl EventStream {
    /// The next event; `Ok(None)` when the server ended the stream.
    pub async fn next(&mut self) -> Result<Option<SseEvent>, RemoteError> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Ok(Some(e));
            }
            match self
                .resp
                .chunk()
                .await
                .map_err(|e| self.client.transport(e))?
            {
                Some(bytes) => self.ready.extend(self.parser.push(&bytes)),
                None => return Ok(None),
            }
        }
    }
}

/// Whether a status is one a retry cannot fix (the stream should not be reopened).
pub fn is_final(e: &RemoteError) -> bool {
    match e {
        RemoteError::Api(p) => {
            let s = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
            s.is_client_error() && s != StatusCode::TOO_MANY_REQUESTS
        }
        RemoteError::BadServer(_) | RemoteError::Decode { .. } => true,
        RemoteError::Connect { .. } | RemoteError::Transport { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_escaped() {
        assert_eq!(seg("0193-ab_c.d~"), "0193-ab_c.d~");
        assert_eq!(seg("../x y"), "..%2Fx%20y");
    }

    #[test]
    fn server_urls_take_or_leave_the_api_prefix() {
        let c = Client::new("http://127.0.0.1:8080/", None).unwrap();
        assert_eq!(c.api, "http://127.0.0.1:8080/api/v1");
        let c = Client::new("http://h:1/api/v1", Some(String::new())).unwrap();
        assert_eq!(c.api, "http://h:1/api/v1");
        assert!(c.token.is_none());
        assert!(Client::new("ftp://h", None).is_err());
        assert!(Client::new("not a url", None).is_err());
    }

    #[test]
    fn debug_never_shows_the_token() {
        let c = Client::new("http://h:1", Some("argus_secret".into())).unwrap();
        assert!(!format!("{c:?}").contains("argus_secret"));
    }

    #[test]
    fn problems_read_as_one_line_with_a_hint() {
        let p = ApiProblem {
            status: 401,
            title: "Unauthorized".into(),
            detail: "missing bearer token".into(),
            path: None,
            state: None,
            retry_after: None,
        };
        assert_eq!(
            RemoteError::Api(p).to_string(),
            "401 Unauthorized: missing bearer token — hint: pass --token or set ARGUS_TOKEN"
        );
    }
}
