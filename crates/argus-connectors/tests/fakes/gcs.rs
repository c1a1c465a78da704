//! A local Google Cloud Storage fake: a real HTTP server (axum on a loopback port) speaking the
//! part of GCS's **XML API** that `object_store` 0.12's GCS client uses (it does not use the
//! JSON API): `GET /{bucket}?list-type=2` with `prefix`, `start-after`, `continuation-token`
//! (small pages, `NextContinuationToken`), `GET`/`HEAD`/`PUT`/`DELETE /{bucket}/{object}`
//! (the object name percent-encoded as one segment), copies (`PUT` with `x-goog-copy-source`,
//! which `rename` uses before a delete), and XML multipart uploads (`POST ?uploads`,
//! `PUT ?partNumber&uploadId`, `POST ?uploadId`, `DELETE ?uploadId`).
//!
//! No GCS emulator is installable from the registries this project uses, hence the fake.
//!
//! Authentication as GCS does it for a service account key: `object_store` signs a JWT with the
//! key (RS256, no token endpoint) and sends it as the bearer token. The fake reads the JWT's
//! `iss` (the service account's e-mail; the signature is not verified) and answers 401 without
//! a token and 403 `AccessDenied` for an account that has no access to the bucket
//! ([`DENIED_ACCOUNT`]). `gcs-test-key.pem` beside this file is a throw-away RSA key made for
//! these tests (`openssl genpkey -algorithm RSA`), not a credential of anything.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// The test bucket.
pub const BUCKET: &str = "argus-test";
/// The account allowed to use the bucket.
pub const ACCOUNT: &str = "argus-scanner@argus-test.iam.gserviceaccount.com";
/// An account without access.
pub const DENIED_ACCOUNT: &str = "someone-else@argus-test.iam.gserviceaccount.com";
/// The throw-away signing key (see the module docs).
pub const KEY_PEM: &str = include_str!("gcs-test-key.pem");
/// Objects per list page.
const PAGE: usize = 3;

#[derive(Clone, Debug)]
struct Object {
    data: Vec<u8>,
    generation: u64,
}

#[derive(Debug, Default)]
struct State {
    objects: BTreeMap<String, Object>,
    uploads: BTreeMap<String, (String, BTreeMap<u32, Vec<u8>>)>,
    generation: u64,
}

/// A running fake; stops with the test's runtime.
#[derive(Clone)]
pub struct GcsFake {
    /// `http://127.0.0.1:<port>`: the `gcs_base_url`.
    pub base: String,
    state: Arc<Mutex<State>>,
}

/// A service account JSON key for `email` (the endpoint is set by the opener's `endpoint`).
pub fn service_account_key(email: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": "argus-test",
        "private_key_id": "0123456789abcdef",
        "private_key": KEY_PEM,
        "client_email": email,
        "client_id": "1",
        "token_uri": "http://127.0.0.1:9/token",
    })
    .to_string()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn xml_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/xml; charset=UTF-8")],
        format!(
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{}</Message></Error>",
            xml_escape(message)
        ),
    )
        .into_response()
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn b64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The `iss` of the bearer JWT, if any.
fn caller(headers: &HeaderMap) -> Option<String> {
    let token = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let payload = token.split('.').nth(1)?;
    let claims: serde_json::Value = serde_json::from_slice(&b64url(payload)?).ok()?;
    claims["iss"].as_str().map(str::to_owned)
}

fn etag(o: &Object) -> String {
    format!("\"g{}\"", o.generation)
}

const LAST_MODIFIED: &str = "Thu, 02 May 2024 11:30:00 GMT";

impl GcsFake {
    /// Starts a fake on a free loopback port, with the empty bucket [`BUCKET`].
    pub async fn start() -> GcsFake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let fake = GcsFake {
            base,
            state: Arc::new(Mutex::new(State::default())),
        };
        let f = fake.clone();
        let app = axum::Router::new()
            .fallback(
                move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                    let f = f.clone();
                    async move { f.handle(method, uri, headers, body) }
                },
            )
            // Multipart parts are several MiB (axum's default limit is 2 MiB).
            .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024));
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("gcs fake");
        });
        fake
    }

    /// Puts an object straight into the bucket.
    pub fn put(&self, name: &str, data: &[u8]) {
        let mut st = self.state.lock().unwrap();
        st.generation += 1;
        let generation = st.generation;
        st.objects.insert(
            name.to_owned(),
            Object {
                data: data.to_vec(),
                generation,
            },
        );
    }

    /// Whether an object exists.
    pub fn exists(&self, name: &str) -> bool {
        self.state.lock().unwrap().objects.contains_key(name)
    }

    fn handle(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        match caller(&headers) {
            None => {
                return xml_error(
                    StatusCode::UNAUTHORIZED,
                    "AuthenticationRequired",
                    "Authentication required.",
                )
            }
            Some(who) if who != ACCOUNT => {
                return xml_error(
                    StatusCode::FORBIDDEN,
                    "AccessDenied",
                    &format!("{who} does not have storage.objects access to the bucket."),
                )
            }
            Some(_) => {}
        }
        let q: BTreeMap<String, String> = uri
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        let path = uri.path().trim_start_matches('/');
        let (bucket, object) = match path.split_once('/') {
            Some((b, o)) => (decode(b), Some(decode(o))),
            None => (decode(path), None),
        };
        if bucket != BUCKET {
            return xml_error(StatusCode::NOT_FOUND, "NoSuchBucket", "no such bucket");
        }
        let mut st = self.state.lock().unwrap();
        let Some(name) = object.filter(|o| !o.is_empty()) else {
            return if method == Method::GET {
                self.list(&st, &q)
            } else {
                xml_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "bucket operation",
                )
            };
        };
        match method {
            Method::GET | Method::HEAD => match st.objects.get(&name) {
                Some(o) => {
                    let body = if method == Method::HEAD {
                        Vec::new()
                    } else {
                        o.data.clone()
                    };
                    (
                        StatusCode::OK,
                        [
                            ("etag", etag(o)),
                            ("last-modified", LAST_MODIFIED.to_owned()),
                            ("x-goog-generation", o.generation.to_string()),
                            ("content-length", o.data.len().to_string()),
                            ("content-type", "application/octet-stream".to_owned()),
                        ],
                        body,
                    )
                        .into_response()
                }
                None => xml_error(
                    StatusCode::NOT_FOUND,
                    "NoSuchKey",
                    "The specified key does not exist.",
                ),
            },
            Method::PUT => {
                if let (Some(part), Some(id)) = (q.get("partNumber"), q.get("uploadId")) {
                    let Some((_, parts)) = st.uploads.get_mut(id) else {
                        return xml_error(StatusCode::NOT_FOUND, "NoSuchUpload", "no such upload");
                    };
                    let n: u32 = part.parse().unwrap_or(0);
                    parts.insert(n, body.to_vec());
                    return (StatusCode::OK, [("etag", format!("\"part-{n}\""))]).into_response();
                }
                let data = if let Some(src) = headers.get("x-goog-copy-source") {
                    let src = decode(src.to_str().unwrap_or_default());
                    let src_name = src.strip_prefix(&format!("{BUCKET}/")).unwrap_or(&src);
                    match st.objects.get(src_name) {
                        Some(o) => o.data.clone(),
                        None => {
                            return xml_error(StatusCode::NOT_FOUND, "NoSuchKey", "no copy source")
                        }
                    }
                } else {
                    body.to_vec()
                };
                if headers
                    .get("x-goog-if-generation-match")
                    .is_some_and(|v| v == "0")
                    && st.objects.contains_key(&name)
                {
                    return xml_error(
                        StatusCode::PRECONDITION_FAILED,
                        "PreconditionFailed",
                        "exists",
                    );
                }
                st.generation += 1;
                let o = Object {
                    data,
                    generation: st.generation,
                };
                let tag = etag(&o);
                st.objects.insert(name, o);
                (
                    StatusCode::OK,
                    [
                        ("etag", tag),
                        ("x-goog-generation", st.generation.to_string()),
                    ],
                )
                    .into_response()
            }
            Method::POST if q.contains_key("uploads") => {
                st.generation += 1;
                let id = format!("upload-{}", st.generation);
                st.uploads
                    .insert(id.clone(), (name.clone(), BTreeMap::new()));
                xml_ok(format!(
                    "<InitiateMultipartUploadResult><Bucket>{BUCKET}</Bucket><Key>{}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>",
                    xml_escape(&name)
                ))
            }
            Method::POST if q.contains_key("uploadId") => {
                let Some((_, parts)) = st.uploads.remove(&q["uploadId"]) else {
                    return xml_error(StatusCode::NOT_FOUND, "NoSuchUpload", "no such upload");
                };
                let data: Vec<u8> = parts.into_values().flatten().collect();
                st.generation += 1;
                let o = Object {
                    data,
                    generation: st.generation,
                };
                let tag = etag(&o);
                st.objects.insert(name.clone(), o);
                let body = format!(
                    "<CompleteMultipartUploadResult><Bucket>{BUCKET}</Bucket><Key>{}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
                    xml_escape(&name),
                    xml_escape(&tag)
                );
                xml_ok(body)
            }
            Method::DELETE if q.contains_key("uploadId") => {
                st.uploads.remove(&q["uploadId"]);
                StatusCode::NO_CONTENT.into_response()
            }
            Method::DELETE => match st.objects.remove(&name) {
                Some(_) => StatusCode::NO_CONTENT.into_response(),
                None => xml_error(
                    StatusCode::NOT_FOUND,
                    "NoSuchKey",
                    "The specified key does not exist.",
                ),
            },
            _ => xml_error(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "not in the fake",
            ),
        }
    }

    fn list(&self, st: &State, q: &BTreeMap<String, String>) -> Response {
        if q.get("list-type").map(String::as_str) != Some("2") {
            return xml_error(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "list-type=2 only",
            );
        }
        let prefix = q.get("prefix").cloned().unwrap_or_default();
        let after = q
            .get("continuation-token")
            .or_else(|| q.get("start-after"))
            .cloned();
        let delimiter = q.get("delimiter").cloned();
        let mut contents = String::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut count = 0;
        let mut last = None;
        let mut truncated = false;
        for (name, o) in st
            .objects
            .range::<String, _>((
                after
                    .as_ref()
                    .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
                std::ops::Bound::Unbounded,
            ))
            .filter(|(n, _)| n.starts_with(&prefix))
        {
            if count == PAGE {
                truncated = true;
                break;
            }
            if let Some(d) = &delimiter {
                if let Some(pos) = name[prefix.len()..].find(d.as_str()) {
                    let p = name[..prefix.len() + pos + d.len()].to_owned();
                    if !prefixes.contains(&p) {
                        prefixes.push(p);
                    }
                    continue;
                }
            }
            contents.push_str(&format!(
                "<Contents><Key>{}</Key><Generation>{}</Generation><LastModified>2024-05-02T11:30:00.000Z</LastModified><ETag>{}</ETag><Size>{}</Size></Contents>",
                xml_escape(name),
                o.generation,
                xml_escape(&etag(o)),
                o.data.len()
            ));
            count += 1;
            last = Some(name.clone());
        }
        let mut body = format!(
            "<?xml version='1.0' encoding='UTF-8'?><ListBucketResult xmlns='http://doc.s3.amazonaws.com/2006-03-01'><Name>{BUCKET}</Name><Prefix>{}</Prefix><KeyCount>{count}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>{truncated}</IsTruncated>{contents}",
            xml_escape(&prefix)
        );
        for p in prefixes {
            body.push_str(&format!(
                "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
                xml_escape(&p)
            ));
        }
        if truncated {
            if let Some(l) = last {
                body.push_str(&format!(
                    "<NextContinuationToken>{}</NextContinuationToken>",
                    xml_escape(&l)
                ));
            }
        }
        body.push_str("</ListBucketResult>");
        xml_ok(body)
    }
}

fn xml_ok(body: String) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/xml; charset=UTF-8")],
        body,
    )
        .into_response()
}
