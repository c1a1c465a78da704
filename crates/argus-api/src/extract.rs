//! Extractors whose rejections are problem details, so that no input can produce a 500 or a
//! plain-text error.
//!
//! - [`ApiJson`]: requires a JSON content type (else 415), honours the body limit (413), answers
//!   400 for malformed JSON and 422 with the JSON pointer of the failing field for JSON that is
//!   well formed but does not fit the request type (unknown field, wrong type, invalid target).
//!   Every request body is a JSON object: any other JSON value is a 422 at `/` (serde would
//!   otherwise read a struct from an array of its fields, `[]` included).
//! - [`ApiPath`]: a path segment that does not parse (a malformed id) names no resource: 404.
//! - [`ApiQuery`]: a query string that does not fit: 422.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::fmt::Write as _;

use crate::problem::{Code, Problem};

/// A JSON request body (see the module docs for its rejections).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(Problem::new(
                Code::UnsupportedMediaType,
                "expected a request body with content-type application/json",
            ));
        }
        // `Bytes` honours `DefaultBodyLimit` and answers 413 past it.
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| Problem::new(Code::for_status(e.status()), e.body_text()))?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON body: 400 when it is not JSON, 422 (with the failing path) when it is not an
/// object or does not fit.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        // Well-formed JSON of another type is invalid input; anything else is malformed.
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => Problem::invalid("/", "the request body must be a JSON object"),
                Err(e) => Problem::new(Code::BadRequest, format!("malformed JSON: {e}")),
            },
        );
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let pointer = to_pointer(e.path());
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                // Errors raised by our own newtypes (`CoreError::Invalid`) carry a pointer
                // relative to the value they parse: "invalid /value: …". Extend the path with it.
                let (pointer, message) = match message
                    .strip_prefix("invalid /")
                    .and_then(|rest| rest.split_once(": "))
                {
                    Some((rel, msg)) => (format!("{pointer}/{rel}"), msg.to_owned()),
                    None => (pointer, message),
                };
                Problem::invalid(
                    if pointer.is_empty() {
                        "/".to_owned()
                    } else {
                        pointer
                    },
                    message,
                )
            }
            _ => Problem::new(Code::BadRequest, format!("malformed JSON: {inner}")),
        }
    })?;
    de.end()
        .map_err(|e| Problem::new(Code::BadRequest, format!("malformed JSON: {e}")))?;
    Ok(value)
}

/// Renders a serde path as a JSON pointer (RFC 6901): `config.targets[0]` → `/config/targets/0`.
fn to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => {
                let _ = write!(out, "/{index}");
            }
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push('/');
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// Path parameters; a segment that does not parse (e.g. an id that is not a UUID) is a 404.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(Problem::not_found(format!(
                "no resource at {}: {}",
                parts.uri.path(),
                e.body_text()
            ))),
        }
    }
}

/// Query parameters; a query string that does not fit is a 422.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(Problem::invalid("/query", e.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::scan::ScanConfig;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: Option<String>,
        config: ScanConfig,
    }

    #[test]
    fn json_errors_are_400_or_422_with_a_pointer() {
        let e = parse_json::<Body>(b"{\"name\": ").unwrap_err();
        assert_eq!((e.status, e.code), (400, Code::BadRequest));
        let e = parse_json::<serde_json::Value>(b"{} trailing").unwrap_err();
        assert_eq!(e.status, 400);
        let e = parse_json::<Body>(br#"{"name": 3}"#).unwrap_err();
        assert_eq!((e.status, e.path.as_deref()), (422, Some("/name")));
        let e = parse_json::<Body>(
            br#"{"config": {"scanners": [], "targets": [{"kind": "ip", "value": "300.0.0.1"}]}}"#,
        )
        .unwrap_err();
        assert_eq!(
            (e.status, e.path.as_deref()),
            (422, Some("/config/targets/0/value"))
        );
        let e = parse_json::<Body>(br#"{"config": {"scanners": [], "targets": []}, "x": 1}"#)
            .unwrap_err();
        assert_eq!(e.status, 422);
        assert!(e.detail.contains("unknown field"), "{}", e.detail);
        assert_eq!(e.path.as_deref(), Some("/x"));
        // Only objects: serde alone would read `Body` from an array of its fields.
        for other in [
            &b"[null, {\"scanners\": [], \"targets\": []}]"[..],
            b" []",
            b"\"x\"",
            b"1",
            b"null",
        ] {
            let e = parse_json::<Body>(other).unwrap_err();
            assert_eq!((e.status, e.path.as_deref()), (422, Some("/")), "{other:?}");
        }
        for malformed in [&b""[..], b"  ", b"[", b"nul"] {
            assert_eq!(
                parse_json::<Body>(malformed).unwrap_err().status,
                400,
                "{malformed:?}"
            );
        }
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/merge-patch+json".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&h));
    }
}
