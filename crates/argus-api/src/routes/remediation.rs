//! Remediation of a secrets scan's repository: clean its history of the selected secrets,
//! download the cleaned repository, push it to a remote. A clean and a push are scans of their
//! own (202 with the new scan: follow it with `GET /scans/{id}`, its events, `stop`), linked to
//! the scan they act on by `source_scan_id`. Download and push accept the clean scan's id or
//! the secrets scan's (then its newest clean).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;

use argus_core::ids::ScanId;
use argus_core::scan::Scan;
use argus_engine::services::{CleanRequest, ExportFormat, PushRequest};

use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// `POST /api/v1/scans/{id}/clean`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CleanBody {
    /// Text written in place of each selected secret (default `***REMOVED***`); no line breaks.
    #[serde(default)]
    #[schema(max_length = 1000, pattern = "^[^\\n\\r\\u0000]*$")]
    pub replacement: Option<String>,
    /// Also replace the secrets in commit and tag messages.
    #[serde(default)]
    pub messages: bool,
    /// Per-rule replacement (rule id → text; at most 200 rules), e.g. to keep a password inside
    /// a URL parseable.
    #[serde(default)]
    pub replace_rules: BTreeMap<String, String>,
    /// Which repository of the scan, when the selected findings are in several.
    #[serde(default)]
    pub target: Option<String>,
}

/// `POST /api/v1/scans/{id}/push`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushBody {
    /// Where to push: an `https://` (or `http://`) URL; a path on the server only inside
    /// `scan.local_roots`. No password in the URL: name a credential.
    #[schema(min_length = 1, max_length = 2048)]
    pub target_url: String,
    /// A credential configured on the server (`[secrets.credentials.NAME]`), by name.
    #[serde(default)]
    pub credential: Option<String>,
    /// A credential of the external credentials service (`secrets.credentials_service_url`),
    /// by id; fetched for the calling user when the push runs, never stored.
    #[serde(default)]
    pub credentials_id: Option<String>,
    /// Refspecs to push (`main`, `refs/tags/v1`); empty: every branch and tag.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub refs: Vec<String>,
    /// Push every ref and delete remote refs that do not exist in the cleaned repository.
    #[serde(default)]
    pub mirror: bool,
    /// Replace the remote's history (needed when the remote holds the old history).
    #[serde(default)]
    pub force: bool,
}

/// Query of `GET /api/v1/scans/{id}/download`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadParams {
    /// `bundle` (default; `git clone repo.bundle`), `zip` or `tar.gz` (a bare mirror).
    #[param(value_type = Option<String>, pattern = "^(bundle|zip|tar\\.gz)$")]
    pub format: Option<String>,
}

/// Starts cleaning the history of the scan's repository: every occurrence of each selected
/// secret, in every blob of every branch and tag (and in messages with `messages`), is replaced.
/// Answers 202 with the clean scan, which runs as a task (progress, events, stop). The platform
/// never held the secret values: the task finds them again by SHA-256.
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/scans/{id}/clean",
    tag = "remediation",
    params(("id" = String, Path, format = Uuid, description = "The secrets scan")),
    request_body(content = CleanBody, description = "Optional; `{}` takes the defaults"),
    responses(
        (status = 202, description = "The clean scan, started", body = Scan),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such scan in the caller's org", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a completed secrets scan, or nothing is selected", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad replacement, or `target` needed / unknown", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The queue is unreachable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn clean_scan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
    ApiJson(body): ApiJson<CleanBody>,
) -> ApiResult<(StatusCode, Json<Scan>)> {
    let scan = state
        .engine
        .remediation()
        .clean(
            &caller,
            id,
            CleanRequest {
                replacement: body.replacement,
                messages: body.messages,
                replace_rules: body.replace_rules,
                target: body.target,
            },
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(scan)))
}

/// Downloads the cleaned repository (streamed from the artifact store): a git bundle of every
/// ref, or a `.zip` / `.tar.gz` of a bare mirror. `id` is the clean scan or the secrets scan
/// (then its newest clean).
#[utoipa::path(
    get,
    security(("bearer" = ["read"])),
    path = "/scans/{id}/download",
    tag = "remediation",
    params(("id" = String, Path, format = Uuid, description = "The clean scan, or the secrets scan"), DownloadParams),
    responses(
        (status = 200, description = "The cleaned repository", body = String, content_type = "application/octet-stream"),
        (status = 404, description = "No such scan in the caller's org", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not cleaned yet, or the clean has not completed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown format", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn download(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
    ApiQuery(q): ApiQuery<DownloadParams>,
) -> ApiResult<Response> {
    let format = match q.format.as_deref() {
        None => ExportFormat::Bundle,
        Some(f) => ExportFormat::parse(f).ok_or_else(|| {
            Problem::invalid("/format", "format must be one of bundle, zip, tar.gz")
        })?,
    };
    let (file_name, content_type, stream) = state
        .engine
        .remediation()
        .download(&caller, id, format)
        .await?;
    let mut res = super::attachment(stream, &file_name, "application/octet-stream");
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        res.headers_mut().insert("x-argus-format", v);
    }
    Ok(res)
}

/// Starts pushing the cleaned repository to `target_url` through `git`, authenticated with a
/// configured credential or one of the credentials service (the token reaches `git` only through
/// its environment; never in a URL, a log line, the database or an artifact). Answers 202 with
/// the push scan; a push the remote rejects fails that scan with git's message.
#[utoipa::path(
    post,
    security(("bearer" = ["write"])),
    path = "/scans/{id}/push",
    tag = "remediation",
    params(("id" = String, Path, format = Uuid, description = "The clean scan, or the secrets scan")),
    request_body = PushBody,
    responses(
        (status = 202, description = "The push scan, started", body = Scan),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such scan in the caller's org", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not cleaned yet, or the clean has not completed", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad target URL (a password in it, a server path outside the allowed folders), an unknown or unusable credential", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The queue is unreachable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn push_scan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScanId>,
    ApiJson(body): ApiJson<PushBody>,
) -> ApiResult<(StatusCode, Json<Scan>)> {
    let scan = state
        .engine
        .remediation()
        .push(
            &caller,
            id,
            PushRequest {
                target_url: body.target_url,
                credential: body.credential,
                credentials_id: body.credentials_id,
                refs: body.refs,
                mirror: body.mirror,
                force: body.force,
            },
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(scan)))
}
