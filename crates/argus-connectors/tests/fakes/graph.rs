//! A local Microsoft Graph fake: a real HTTP server (axum on a loopback port) speaking the
//! part of Graph the SharePoint connector uses, with Graph's JSON shapes: an OAuth2 token
//! endpoint (client-credentials grant), `sites/{site}`, `sites/{id}/drives` (two pages),
//! driveItems by id and by path (`root:/a/b`), `children` paged with `@odata.nextLink` (small
//! pages, in an order that is not key order), `content` answered with a 302 to a download URL,
//! folder creation, `PATCH` moves and deletes.
//!
//! Faults, as the real service has them: every [`THROTTLE_EVERY`]th Graph request is refused
//! with 429 or 503 (alternately) and `Retry-After: 1`; a client whose app has no access to the site
//! ([`DENIED_CLIENT`]) gets tokens but 403 `accessDenied` on every Graph call; a wrong secret
//! gets 401 `invalid_client` from the token endpoint.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// The site's host name.
pub const SITE: &str = "contoso.example";
const SITE_ID: &str = "contoso.example,5a3f0c6e-site,9b1d-web";
/// The document library the tests use, and its drive id.
pub const LIBRARY: &str = "Documents";
const DRIVE_ID: &str = "b!docs";
/// The app that may read the site, and its secret.
pub const CLIENT: &str = "argus-app";
pub const SECRET: &str = "client-secret-value";
/// An app with a valid secret but no access to the site.
pub const DENIED_CLIENT: &str = "argus-nosite";
/// Every this many Graph requests, one is throttled.
pub const THROTTLE_EVERY: u64 = 7;
/// Children per page (Graph sends at most what `$top` asks, and often fewer).
const PAGE: usize = 4;

#[derive(Clone, Debug)]
struct Item {
    name: String,
    parent: Option<String>,
    folder: bool,
    content: Vec<u8>,
    version: u64,
}

#[derive(Debug, Default)]
struct State {
    items: BTreeMap<String, Item>,
    next_id: u64,
    /// Token → whether its app may use the site.
    tokens: BTreeMap<String, bool>,
    downloads: BTreeMap<String, String>,
    graph_requests: u64,
    throttled: u64,
    /// Throttling switched off (for tests making many requests about something else).
    no_throttle: bool,
    token_requests: u64,
}

/// A running fake; stops with the test's runtime.
#[derive(Clone)]
pub struct GraphFake {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    state: Arc<Mutex<State>>,
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

impl State {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("01ITEM{:06}", self.next_id)
    }

    fn child(&self, parent: &str, name: &str) -> Option<String> {
        self.items
            .iter()
            .find(|(_, i)| i.parent.as_deref() == Some(parent) && i.name == name)
            .map(|(id, _)| id.clone())
    }

    fn by_path(&self, segments: &[String]) -> Option<String> {
        let mut cur = "root".to_owned();
        for s in segments {
            cur = self.child(&cur, s)?;
        }
        Some(cur)
    }

    fn path_of(&self, id: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = id.to_owned();
        while let Some(item) = self.items.get(&cur) {
            match &item.parent {
                Some(p) => {
                    out.push(item.name.clone());
                    cur = p.clone();
                }
                None => break,
            }
        }
        out.reverse();
        out
    }

    /// Creates the folders of `segments` that are missing; the last one's id.
    fn mkdirs(&mut self, segments: &[&str]) -> String {
        let mut cur = "root".to_owned();
        for s in segments {
            cur = match self.child(&cur, s) {
                Some(id) => id,
                None => {
                    let id = self.new_id();
                    self.items.insert(
                        id.clone(),
                        Item {
                            name: (*s).to_owned(),
                            parent: Some(cur.clone()),
                            folder: true,
                            content: Vec::new(),
                            version: 1,
                        },
                    );
                    id
                }
            };
        }
        cur
    }

    fn json(&self, id: &str) -> Value {
        let item = &self.items[id];
        let parent_path = item
            .parent
            .as_ref()
            .map(|p| format!("/drives/{DRIVE_ID}/root:/{}", self.path_of(p).join("/")));
        let mut v = json!({
            "id": id,
            "name": item.name,
            "size": if item.folder { 0 } else { item.content.len() },
            "eTag": format!("\"{{{id}}},{}\"", item.version),
            "createdDateTime": "2024-05-01T10:00:00Z",
            "lastModifiedDateTime": "2024-05-02T11:30:00Z",
            "webUrl": format!("https://{SITE}/{LIBRARY}/{}", self.path_of(id).join("/")),
        });
        if let Some(pp) = parent_path {
            v["parentReference"] = json!({
                "driveId": DRIVE_ID,
                "driveType": "documentLibrary",
                "id": item.parent,
                "path": pp.trim_end_matches('/'),
            });
        }
        if item.folder {
            let n = self
                .items
                .values()
                .filter(|i| i.parent.as_deref() == Some(id))
                .count();
            v["folder"] = json!({ "childCount": n });
        } else {
            v["file"] = json!({ "mimeType": "application/octet-stream", "hashes": {} });
        }
        v
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query(uri: &Uri) -> BTreeMap<String, String> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

impl GraphFake {
    /// Starts a fake on a free loopback port, with an empty drive.
    pub async fn start() -> GraphFake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut st = State::default();
        st.items.insert(
            "root".into(),
            Item {
                name: "root".into(),
                parent: None,
                folder: true,
                content: Vec::new(),
                version: 1,
            },
        );
        let fake = GraphFake {
            base,
            state: Arc::new(Mutex::new(st)),
        };
        let f = fake.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let f = f.clone();
                async move { f.handle(method, uri, headers, body) }
            },
        );
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("graph fake");
        });
        fake
    }

    /// The Graph base URL.
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.base)
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/tenant-1/oauth2/v2.0/token", self.base)
    }

    /// Puts a file at `path` (folders created as needed), as a user uploading it would.
    pub fn put(&self, path: &str, data: &[u8]) {
        let mut st = self.state.lock().unwrap();
        let segs: Vec<&str> = path.split('/').collect();
        let (name, dirs) = segs.split_last().unwrap();
        let parent = st.mkdirs(dirs);
        match st.child(&parent, name) {
            Some(id) => {
                let item = st.items.get_mut(&id).unwrap();
                item.content = data.to_vec();
                item.version += 1;
            }
            None => {
                let id = st.new_id();
                st.items.insert(
                    id,
                    Item {
                        name: (*name).to_owned(),
                        parent: Some(parent),
                        folder: false,
                        content: data.to_vec(),
                        version: 1,
                    },
                );
            }
        }
    }

    /// Creates the folder `path`.
    pub fn mkdir(&self, path: &str) {
        let segs: Vec<&str> = path.split('/').collect();
        self.state.lock().unwrap().mkdirs(&segs);
    }

    /// Whether a file exists at `path`.
    pub fn exists(&self, path: &str) -> bool {
        let st = self.state.lock().unwrap();
        let segs: Vec<String> = path.split('/').map(str::to_owned).collect();
        st.by_path(&segs).is_some_and(|id| !st.items[&id].folder)
    }

    /// Revokes every token issued so far (they get 401 from now on).
    pub fn revoke_tokens(&self) {
        self.state.lock().unwrap().tokens.clear();
    }

    /// Stops throttling (each throttled request costs a second of `Retry-After`).
    pub fn stop_throttling(&self) {
        self.state.lock().unwrap().no_throttle = true;
    }

    /// Requests refused with 429 or 503 so far.
    pub fn throttled(&self) -> u64 {
        self.state.lock().unwrap().throttled
    }

    /// Token requests so far.
    pub fn token_requests(&self) -> u64 {
        self.state.lock().unwrap().token_requests
    }

    fn handle(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let path = uri.path().to_owned();
        if method == Method::POST && path.ends_with("/oauth2/v2.0/token") {
            return self.token(&body);
        }
        if let Some(id) = path.strip_prefix("/download/") {
            let st = self.state.lock().unwrap();
            return match st.downloads.get(id).and_then(|item| st.items.get(item)) {
                Some(item) => (StatusCode::OK, item.content.clone()).into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            };
        }
        let Some(rest) = path.strip_prefix("/v1.0/") else {
            return graph_error(StatusCode::BAD_REQUEST, "invalidRequest", "unknown API");
        };
        let mut st = self.state.lock().unwrap();
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        match st.tokens.get(token) {
            None => {
                return graph_error(
                    StatusCode::UNAUTHORIZED,
                    "InvalidAuthenticationToken",
                    "Access token is empty or invalid.",
                )
            }
            Some(false) => {
                return graph_error(StatusCode::FORBIDDEN, "accessDenied", "Access denied")
            }
            Some(true) => {}
        }
        st.graph_requests += 1;
        if !st.no_throttle && st.graph_requests.is_multiple_of(THROTTLE_EVERY) {
            st.throttled += 1;
            // Alternately throttled (429) and unavailable (503), both with `Retry-After`.
            let mut r = if st.throttled % 2 == 1 {
                graph_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "activityLimitReached",
                    "The request has been throttled",
                )
            } else {
                graph_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "serviceNotAvailable",
                    "The service is temporarily unavailable",
                )
            };
            r.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
            return r;
        }
        let segs: Vec<String> = rest.split('/').map(decode).collect();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let q = query(&uri);
        match (method.clone(), s.as_slice()) {
            (Method::GET, ["sites", site]) if *site == SITE || *site == SITE_ID => {
                axum::Json(json!({
                    "id": SITE_ID, "name": "Contoso", "displayName": "Contoso",
                    "webUrl": format!("https://{SITE}"),
                }))
                .into_response()
            }
            (Method::GET, ["sites", _]) => {
                graph_error(StatusCode::NOT_FOUND, "itemNotFound", "site not found")
            }
            (Method::GET, ["sites", SITE_ID, "drives"]) => {
                // Two pages, the library on the second, as a site with many libraries has.
                if q.contains_key("$skiptoken") {
                    axum::Json(json!({"value": [
                        {"id": DRIVE_ID, "name": LIBRARY, "driveType": "documentLibrary"}
                    ]}))
                    .into_response()
                } else {
                    axum::Json(json!({
                        "value": [{"id": "b!other", "name": "Site Assets", "driveType": "documentLibrary"}],
                        "@odata.nextLink": format!("{}/v1.0/sites/{SITE_ID}/drives?$skiptoken=p2", self.base),
                    }))
                    .into_response()
                }
            }
            (_, ["drives", d, ..]) if *d != DRIVE_ID => {
                graph_error(StatusCode::NOT_FOUND, "itemNotFound", "drive not found")
            }
            (Method::GET, ["drives", _, "root"]) => axum::Json(st.json("root")).into_response(),
            (Method::GET, ["drives", _, root, tail @ ..]) if root.starts_with("root:") => {
                // `root:/a/b` arrives as segments `root:`, `a`, `b` (a trailing `:` optional).
                let mut p: Vec<String> = tail.iter().map(|x| (*x).to_owned()).collect();
                if let Some(last) = p.last_mut() {
                    if let Some(t) = last.strip_suffix(':') {
                        *last = t.to_owned();
                    }
                }
                match st.by_path(&p) {
                    Some(id) => axum::Json(st.json(&id)).into_response(),
                    None => graph_error(
                        StatusCode::NOT_FOUND,
                        "itemNotFound",
                        "The resource could not be found.",
                    ),
                }
            }
            (Method::GET, ["drives", _, "items", id, "children"]) => {
                if !st.items.get(*id).is_some_and(|i| i.folder) {
                    return graph_error(StatusCode::NOT_FOUND, "itemNotFound", "no such folder");
                }
                // Newest first: not the key order the connector must produce.
                let mut kids: Vec<String> = st
                    .items
                    .iter()
                    .filter(|(_, i)| i.parent.as_deref() == Some(*id))
                    .map(|(k, _)| k.clone())
                    .collect();
                kids.reverse();
                let top: usize = q.get("$top").and_then(|t| t.parse().ok()).unwrap_or(200);
                let size = top.min(PAGE);
                let skip: usize = q
                    .get("$skiptoken")
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                let page: Vec<Value> = kids
                    .iter()
                    .skip(skip)
                    .take(size)
                    .map(|k| st.json(k))
                    .collect();
                let mut v = json!({ "value": page });
                if skip + size < kids.len() {
                    v["@odata.nextLink"] = json!(format!(
                        "{}/v1.0/drives/{DRIVE_ID}/items/{id}/children?$top={top}&$skiptoken={}",
                        self.base,
                        skip + size
                    ));
                }
                axum::Json(v).into_response()
            }
            (Method::GET, ["drives", _, "items", id, "content"]) => {
                if st.items.get(*id).is_none_or(|i| i.folder) {
                    return graph_error(StatusCode::NOT_FOUND, "itemNotFound", "no such file");
                }
                let n = st.next_id;
                let token = format!("dl-{n}-{id}");
                st.next_id += 1;
                st.downloads.insert(token.clone(), (*id).to_owned());
                let mut r = StatusCode::FOUND.into_response();
                r.headers_mut().insert(
                    "location",
                    format!("{}/download/{token}", self.base).parse().unwrap(),
                );
                r
            }
            (Method::DELETE, ["drives", _, "items", id]) => {
                if st.items.remove(*id).is_none() {
                    return graph_error(StatusCode::NOT_FOUND, "itemNotFound", "no such item");
                }
                StatusCode::NO_CONTENT.into_response()
            }
            (Method::POST, ["drives", _, "items", id, "children"]) => {
                let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                let Some(name) = v["name"].as_str() else {
                    return graph_error(StatusCode::BAD_REQUEST, "invalidRequest", "no name");
                };
                if !st.items.get(*id).is_some_and(|i| i.folder) || v.get("folder").is_none() {
                    return graph_error(StatusCode::BAD_REQUEST, "invalidRequest", "bad parent");
                }
                if st.child(id, name).is_some() {
                    return graph_error(
                        StatusCode::CONFLICT,
                        "nameAlreadyExists",
                        "An item with the same name already exists",
                    );
                }
                let new = st.new_id();
                st.items.insert(
                    new.clone(),
                    Item {
                        name: name.to_owned(),
                        parent: Some((*id).to_owned()),
                        folder: true,
                        content: Vec::new(),
                        version: 1,
                    },
                );
                (StatusCode::CREATED, axum::Json(st.json(&new))).into_response()
            }
            (Method::PATCH, ["drives", _, "items", id]) => {
                let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                if !st.items.contains_key(*id) {
                    return graph_error(StatusCode::NOT_FOUND, "itemNotFound", "no such item");
                }
                let parent = v["parentReference"]["id"]
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| st.items[*id].parent.clone())
                    .unwrap_or_default();
                let name = v["name"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| st.items[*id].name.clone());
                if !st.items.get(&parent).is_some_and(|i| i.folder) {
                    return graph_error(StatusCode::BAD_REQUEST, "invalidRequest", "bad parent");
                }
                if st.child(&parent, &name).is_some_and(|c| c != *id) {
                    return graph_error(StatusCode::CONFLICT, "nameAlreadyExists", "exists");
                }
                let item = st.items.get_mut(*id).unwrap();
                item.parent = Some(parent);
                item.name = name;
                item.version += 1;
                axum::Json(st.json(id)).into_response()
            }
            _ => graph_error(StatusCode::BAD_REQUEST, "invalidRequest", "not in the fake"),
        }
    }

    fn token(&self, body: &[u8]) -> Response {
        let form: BTreeMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        let mut st = self.state.lock().unwrap();
        st.token_requests += 1;
        let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
        if get("grant_type") != "client_credentials"
            || get("scope") != "https://graph.microsoft.com/.default"
        {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "invalid_request", "error_description": "bad grant"})),
            )
                .into_response();
        }
        let granted = match (get("client_id"), get("client_secret")) {
            (CLIENT, SECRET) => true,
            (DENIED_CLIENT, SECRET) => false,
            _ => {
                return (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided.",
                    })),
                )
                    .into_response()
            }
        };
        let token = format!("eyJ0eXAi.fake-{}", st.tokens.len() + 1);
        st.tokens.insert(token.clone(), granted);
        axum::Json(json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": token,
        }))
        .into_response()
    }
}
