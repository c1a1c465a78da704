//! `/api/v1/apikeys`: the organisation's API keys, for its admins. A new key is shown once, in
//! the answer that creates it; lists show only its public prefix.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use argus_core::apikey::ApiKey;
use argus_core::ids::{ApiKeyId, Role};
use argus_engine::services::NewKey;

use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// `POST /api/v1/apikeys`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateApiKeyRequest {
    /// What the key may do in the caller's organisation.
    pub role: Role,
    /// A label for people (at most 100 characters).
    #[serde(default)]
    pub name: String,
    /// When it stops working, as a duration from now (`30d`, `12h`, `2w`); no expiry when
    /// both this and `expires_at` are absent.
    #[serde(default)]
    pub expires_in: Option<String>,
    /// When it stops working (RFC 3339), instead of `expires_in`.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new key: `key` is shown here only.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedApiKey {
    /// The key, to send as `Authorization: Bearer …`. Not retrievable later.
    pub key: String,
    #[serde(flatten)]
    pub record: ApiKey,
}

/// The caller's organisation's keys, newest first (revoked ones included, marked).
#[utoipa::path(
    get,
    security(("bearer" = ["admin"])),
    path = "/apikeys",
    tag = "apikeys",
    responses(
        (status = 200, description = "The organisation's keys", body = Vec<ApiKey>),
    )
)]
pub(crate) async fn list_api_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ApiKey>>> {
    Ok(Json(state.engine.api_keys().list(Some(&caller.org)).await?))
}

/// Creates a key of the caller's organisation with the given role.
#[utoipa::path(
    post,
    security(("bearer" = ["admin"])),
    path = "/apikeys",
    tag = "apikeys",
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "The new key (shown once)", body = CreatedApiKey),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid role, name or expiry (see `path`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let expires_at = match (req.expires_in.as_deref(), req.expires_at) {
        (Some(_), Some(_)) => {
            return Err(Problem::invalid(
                "/expires_in",
                "give expires_in or expires_at, not both",
            ))
        }
        (Some(ttl), None) => {
            let ttl = argus_engine::services::apikeys::parse_ttl(ttl)
                .map_err(|e| Problem::invalid("/expires_in", e.to_string()))?;
            Some(Utc::now() + ttl)
        }
        (None, at) => at,
    };
    let created = state
        .engine
        .api_keys()
        .create(NewKey {
            org: caller.org.clone(),
            role: req.role,
            name: req.name,
            expires_at,
            created_by: format!("{}@{}", caller.user, caller.org),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            key: created.key,
            record: created.record,
        }),
    ))
}

/// Revokes a key of the caller's organisation (at once in this process; within 30 s in other
/// API replicas). Revoking twice is fine. A path id that is not a UUID answers 404.
#[utoipa::path(
    delete,
    security(("bearer" = ["admin"])),
    path = "/apikeys/{id}",
    tag = "apikeys",
    params(("id" = String, Path, format = Uuid, description = "API key id")),
    responses(
        (status = 200, description = "The revoked key", body = ApiKey),
        (status = 404, description = "No such key in the caller's org", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ApiKeyId>,
) -> ApiResult<Json<ApiKey>> {
    Ok(Json(
        state
            .engine
            .api_keys()
            .revoke(Some(&caller.org), id)
            .await?,
    ))
}
