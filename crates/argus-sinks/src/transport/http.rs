//! HTTP transport: sends one request through the process's client and classifies the answer
//! the same way for every HTTP destination.
//!
//! A connection failure, a timeout, `408`, `429` and every `5xx` are
//! [`SinkError::Retryable`]; any other non-`2xx` is [`SinkError::Rejected`] (the destination
//! refused this payload: sending it again cannot help). Error texts carry the status and at
//! most 300 characters of the answer, never the request (its headers hold credentials).

use std::time::Duration;

use argus_core::sink::SinkError;
use reqwest::{RequestBuilder, StatusCode};

/// How long one request may take when the entry does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A `2xx` answer's status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: bytes::Bytes,
}

/// Sends `request` (with `timeout`) and returns the `2xx` answer, or the classified error.
/// `what` names the destination in error texts (`splunk_hec`).
pub async fn send(
    what: &str,
    request: RequestBuilder,
    timeout: Duration,
) -> Result<Answer, SinkError> {
    let response = request.timeout(timeout).send().await.map_err(|e| {
        // reqwest's error text may include the URL; ours never carry credentials in URLs.
        SinkError::Retryable(format!("{what}: {}", without_url(&e)))
    })?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| {
        SinkError::Retryable(format!("{what}: reading the answer: {}", without_url(&e)))
    })?;
    if status.is_success() {
        return Ok(Answer { status, body });
    }
    let text = excerpt(&body);
    let message = format!("{what}: HTTP {status}: {text}");
    if is_retryable(status) {
        Err(SinkError::Retryable(message))
    } else {
        Err(SinkError::Rejected(message))
    }
}

/// Statuses worth another try.
pub fn is_retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

/// At most 300 characters of an answer, on one line.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        out.push('…');
    }
    out.replace(['\n', '\r'], " ")
}

fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert!(is_retryable(StatusCode::SERVICE_UNAVAILABLE));
        assert!(is_retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(!is_retryable(StatusCode::BAD_REQUEST));
        assert!(!is_retryable(StatusCode::FORBIDDEN));
    }

    #[test]
    fn excerpts_are_short_and_one_line() {
        let long = "x\n".repeat(400);
        let e = excerpt(long.as_bytes());
        assert!(!e.contains('\n'));
        assert_eq!(e.chars().count(), 301);
    }
}
