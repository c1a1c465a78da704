//! RFC 9457 problem details: the one error shape of the API.
//!
//! Every error answer is `application/problem+json` with `type`, `title`, `status`, `detail` and a
//! stable machine-readable `code` (see [`Code`]); `invalid` answers add the JSON pointer `path` of
//! the failing field and `conflict` answers add the scan's current `state`. Clients branch on
//! `code`, never on `detail` (which is prose and may change).
//!
//! Invariant: `CoreError::Backend` is the only source of a 500, and its detail is logged, not
//! returned (backend messages are for operators).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use argus_core::scan::ScanState;
use argus_core::CoreError;

/// Stable error codes. Adding one is fine; renaming one breaks clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    NotFound,
    Conflict,
    Invalid,
    Unavailable,
    PayloadTooLarge,
    UnsupportedMediaType,
    BadRequest,
    Unauthorized,
    /// The caller is known but its role lacks the route's permission.
    Forbidden,
    MethodNotAllowed,
    QuotaExceeded,
    Internal,
    /// 429: over a request rate limit (`retry_after` says when to come back).
    RateLimited,
    /// 431: the request head is over the server's header limits.
    HeadersTooLarge,
}

impl Code {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::NotFound => "not_found",
            Code::Conflict => "conflict",
            Code::Invalid => "invalid",
            Code::Unavailable => "unavailable",
            Code::PayloadTooLarge => "payload_too_large",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::BadRequest => "bad_request",
            Code::Unauthorized => "unauthorized",
            Code::Forbidden => "forbidden",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::QuotaExceeded => "quota_exceeded",
            Code::Internal => "internal",
            Code::RateLimited => "rate_limited",
            Code::HeadersTooLarge => "headers_too_large",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::Conflict => StatusCode::CONFLICT,
            Code::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::BadRequest => StatusCode::BAD_REQUEST,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Forbidden => StatusCode::FORBIDDEN,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Code::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        }
    }

    /// The code for a bare status (used to wrap errors produced below the handlers).
    pub(crate) fn for_status(status: StatusCode) -> Code {
        match status {
            StatusCode::NOT_FOUND => Code::NotFound,
            StatusCode::CONFLICT => Code::Conflict,
            StatusCode::UNPROCESSABLE_ENTITY => Code::Invalid,
            StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
            StatusCode::PAYLOAD_TOO_LARGE => Code::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::UnsupportedMediaType,
            StatusCode::UNAUTHORIZED => Code::Unauthorized,
            StatusCode::FORBIDDEN => Code::Forbidden,
            StatusCode::METHOD_NOT_ALLOWED => Code::MethodNotAllowed,
            StatusCode::TOO_MANY_REQUESTS => Code::RateLimited,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => Code::HeadersTooLarge,
            s if s.is_server_error() => Code::Internal,
            _ => Code::BadRequest,
        }
    }
}

/// A problem-details body (RFC 9457).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:argus:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary of the kind of problem (the HTTP reason phrase).
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Human-readable explanation of this occurrence.
    pub detail: String,
    /// Stable machine-readable code.
    pub code: Code,
    /// JSON pointer to the failing field (`invalid` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The scan's current state (`conflict` only, when known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<ScanState>,
    /// Seconds after which a retry may succeed (`unavailable`, `rate_limited` and
    /// `quota_exceeded` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
}

impl Problem {
    /// A problem with a code and a detail.
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        let status = code.status();
        Problem {
            type_uri: format!("urn:argus:problem:{}", code.as_str()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code,
            path: None,
            state: None,
            retry_after: None,
        }
    }

    /// 404 for a path that names nothing (unknown route or malformed id).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(Code::NotFound, detail)
    }

    /// 422 at a JSON pointer.
    pub fn invalid(path: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut p = Problem::new(Code::Invalid, detail);
        p.path = Some(path.into());
        p
    }

    /// The HTTP status.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// The content type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let retry_after = self.retry_after;
        let body = match serde_json::to_vec(&self) {
            Ok(b) => b,
            // Serializing plain strings and enums cannot fail; keep a valid body regardless.
            Err(_) => br#"{"type":"urn:argus:problem:internal","title":"Internal Server Error","status":500,"detail":"error","code":"internal"}"#.to_vec(),
        };
        let mut res = (status, body).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<CoreError> for Problem {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound { what, id } => {
                Problem::new(Code::NotFound, format!("{what} {id} not found"))
            }
            CoreError::Conflict { message, state } => {
                let mut p = Problem::new(Code::Conflict, message);
                p.state = state;
                p
            }
            CoreError::Invalid { path, message } => Problem::invalid(path, message),
            CoreError::QuotaExceeded {
                message,
                retry_after_secs,
            } => {
                let mut p = Problem::new(Code::QuotaExceeded, message);
                p.retry_after = Some(retry_after_secs);
                p
            }
            CoreError::Unavailable { what, message } => {
                let mut p =
                    Problem::new(Code::Unavailable, format!("{what} unavailable: {message}"));
                p.retry_after = Some(5);
                p
            }
            CoreError::Backend(message) => {
                tracing::error!(error = %message, "backend error");
                Problem::new(Code::Internal, "internal error; see the server log")
            }
        }
    }
}

/// Handler result: a value or a problem.
pub type ApiResult<T> = Result<T, Problem>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_codes() {
        let p = Problem::from(CoreError::illegal("pause", ScanState::Created));
        assert_eq!(
            (p.status, p.code, p.state),
            (409, Code::Conflict, Some(ScanState::Created))
        );
        let p = Problem::from(CoreError::invalid("/config/targets", "x"));
        assert_eq!(
            (p.status, p.path.as_deref()),
            (422, Some("/config/targets"))
        );
        let p = Problem::from(CoreError::Backend("secret-ish detail".into()));
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("secret-ish"));
        let json = serde_json::to_value(Problem::not_found("x")).unwrap();
        assert_eq!(json["type"], "urn:argus:problem:not_found");
        assert_eq!(json["code"], "not_found");
        assert!(json.get("path").is_none());
    }
}
