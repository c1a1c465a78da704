//! The web UI: the files of `crates/argus-api/ui/`, embedded in the binary and served at `/`
//! and under `/ui/`.
//!
//! The UI is plain HTML, CSS and JavaScript modules that call the public API with the
//! person's token (see `ui/README.md`); this module only serves files, so the UI can do
//! nothing a script with the same token could not.
//!
//! Invariants:
//! - Only the files listed in [`ASSETS`] are served, by exact name, from the binary. In
//!   development mode (`ARGUS_UI_DIR`, set by the operator) files are read from that folder
//!   instead, and a file not listed yet is served too when every segment of its name is plain
//!   (letters, digits, `-`, `_`, one dot before the extension; no `..`) with a known extension.
//! - `/`, `/ui` and every `/ui/…` path that is not an asset answer `index.html`: the page routes
//!   on the path itself, so a reload or a shared link of any page works.
//! - The routes are public (like `/docs`): the files hold no data. Every answer carries a
//!   Content-Security-Policy that allows only this origin's scripts, styles and connections,
//!   and an `ETag`; browsers revalidate (`no-cache`) so an upgraded server never mixes old and
//!   new modules.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::problem::{Code, Problem};
use crate::AppState;

/// One embedded file of the UI.
pub struct Asset {
    /// Path under `crates/argus-api/ui/` and under `/ui/assets/`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $ct:expr) => {
        Asset {
            path: $path,
            content_type: $ct,
            bytes: include_bytes!(concat!("../ui/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the UI. A file in `ui/` missing here is a test failure (`tests/ui.rs`).
pub const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("theme.js", JS),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/sse.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/scanctl.js", JS),
    asset!("js/schema_form.js", JS),
    asset!("js/pages/scans.js", JS),
    asset!("js/pages/scan.js", JS),
    asset!("js/pages/new_scan.js", JS),
    asset!("js/pages/templates.js", JS),
    asset!("js/pages/template.js", JS),
    asset!("js/pages/schedules.js", JS),
    asset!("js/pages/schedule.js", JS),
    asset!("js/pages/scanners.js", JS),
    asset!("js/pages/connectors.js", JS),
    asset!("js/pages/sinks.js", JS),
];

/// Where the UI's files come from.
#[derive(Clone, Debug, Default)]
pub enum UiSource {
    /// The copy embedded in the binary.
    #[default]
    Embedded,
    /// The listed files, read from this folder at every request (development: edit, reload).
    Folder(PathBuf),
}

/// The policy every UI answer carries: this origin only, no inline script, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: \
                   blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| ASSETS.iter().map(|a| etag(a.bytes)).collect())
}

fn etag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn find(path: &str) -> Option<usize> {
    ASSETS.iter().position(|a| a.path == path)
}

async fn serve(state: &AppState, index: usize, headers: &HeaderMap) -> Response {
    let asset = &ASSETS[index];
    respond(state, asset.path, asset.content_type, Some(index), headers).await
}

/// A file of the folder in development mode that is not listed yet, if its name is plain.
async fn serve_unlisted(state: &AppState, name: &str, headers: &HeaderMap) -> Option<Response> {
    let UiSource::Folder(_) = &state.ui else {
        return None;
    };
    let plain = |seg: &str| {
        let mut parts = seg.split('.');
        let stem = parts.next().unwrap_or("");
        !stem.is_empty()
            && stem
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && parts.count() <= 1
    };
    if name.is_empty() || !name.split('/').all(plain) {
        return None;
    }
    let content_type = match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => JS,
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => return None,
    };
    Some(respond(state, name, content_type, None, headers).await)
}

async fn respond(
    state: &AppState,
    path: &str,
    content_type: &'static str,
    index: Option<usize>,
    headers: &HeaderMap,
) -> Response {
    let embedded = index.map(|i| (ASSETS[i].bytes, etags()[i].clone()));
    let (bytes, tag) = match (&state.ui, embedded) {
        (UiSource::Embedded, Some((bytes, tag))) => (std::borrow::Cow::Borrowed(bytes), tag),
        (UiSource::Embedded, None) => {
            return Problem::new(Code::NotFound, format!("the UI has no file {path}"))
                .into_response()
        }
        (UiSource::Folder(dir), _) => match tokio::fs::read(dir.join(path)).await {
            Ok(b) => {
                let tag = etag(&b);
                (std::borrow::Cow::Owned(b), tag)
            }
            Err(e) => {
                tracing::warn!(file = path, dir = %dir.display(), error = %e, "cannot read a UI file");
                return Problem::new(
                    Code::NotFound,
                    format!("UI file {path} cannot be read from ARGUS_UI_DIR"),
                )
                .into_response();
            }
        },
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = bytes.into_owned().into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

fn index_position() -> usize {
    find("index.html").unwrap_or(0)
}

/// `GET /`, `/ui`, `/ui/`: the page.
pub(crate) async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    serve(&state, index_position(), &headers).await
}

/// `GET /ui/{*rest}`: an asset under `assets/`, else the page (it routes on the path).
pub(crate) async fn page_or_asset(
    State(state): State<AppState>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    match rest.strip_prefix("assets/") {
        Some(name) => match find(name) {
            Some(i) => serve(&state, i, &headers).await,
            None => match serve_unlisted(&state, name, &headers).await {
                Some(res) => res,
                None => Problem::new(Code::NotFound, format!("the UI has no file {name}"))
                    .into_response(),
            },
        },
        None => serve(&state, index_position(), &headers).await,
    }
}

/// Whether a matched route path is one of the UI's (public) routes.
pub(crate) fn is_ui_route(path: &str) -> bool {
    path == "/" || path == "/ui" || path.starts_with("/ui/")
}

/// The paths of every embedded file, for tests and tools.
pub fn asset_paths() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|a| a.path)
}
