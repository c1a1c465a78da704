//! `POST /api/v1/scan/binary`: one file in the body, judged at once by a file scanner (the
//! engine's uploads service); the answer is the verdict. Nothing is stored.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde::Deserialize;

use argus_core::detector::NewVerdict;

use crate::auth::Caller;
use crate::extract::ApiQuery;
use crate::problem::{ApiResult, Code, Problem};
use crate::AppState;

/// Query of `POST /api/v1/scan/binary`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The file scanner (`yara`, `clamav`, `http-scanner`); default `yara`.
    pub scanner: Option<String>,
    /// The scanner's params as a JSON object (e.g. `{"rules": "/srv/rules"}` for `yara`,
    /// paths inside the server's `scan.local_roots`).
    pub params: Option<String>,
    /// A name for the file in the verdict (default `upload`).
    pub name: Option<String>,
}

/// Judges one uploaded file (the raw request body, up to `server.upload_limit` bytes) with a
/// file scanner and answers its verdict: `clean`, `malicious`, `suspicious`, `error` or
/// `skipped`, with the engine's hits.
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/scan/binary",
    tag = "scans",
    params(UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file"),
    responses(
        (status = 200, description = "The verdict", body = NewVerdict),
        (status = 413, description = "Larger than server.upload_limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown scanner, not a file scanner, or bad params", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The scanning engine is unreachable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn scan_binary(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<UploadParams>,
    body: Body,
) -> ApiResult<Json<NewVerdict>> {
    let limit = state.upload_limit;
    let too_large = || {
        Problem::new(
            Code::PayloadTooLarge,
            format!("the file is larger than this server's upload limit of {limit} bytes (server.upload_limit)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let params: serde_json::Value = match q.params.as_deref().filter(|p| !p.is_empty()) {
        None => serde_json::json!({}),
        Some(p) => match serde_json::from_str(p) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ => return Err(Problem::invalid("/params", "params must be a JSON object")),
        },
    };
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    let scanner = q
        .scanner
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "yara".into());
    let name = q
        .name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "upload".into());
    let verdict = state
        .engine
        .uploads()
        .scan(&caller, &scanner, &params, &name, bytes)
        .await?;
    Ok(Json(verdict))
}
