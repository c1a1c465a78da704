//! `/api/v1/sinks`: the result forwarding destinations the operator configured (`[[sinks]]`),
//! their state (cursor lag, sent, dropped, dead-lettered, last error) without credentials, and
//! the caller's org's dead letters.

use axum::extract::State;
use axum::Json;

use argus_core::finding::Page;
use argus_core::sink::DeadLetter;
use argus_engine::services::SinkView;

use crate::auth::Caller;
use crate::dto::{parse_limit, DeadLetterListParams};
use crate::extract::{ApiPath, ApiQuery};
use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// Every configured sink with its forwarding state.
#[utoipa::path(
    get,
    security(("bearer" = ["admin"])),
    path = "/sinks",
    tag = "sinks",
    responses(
        (status = 200, description = "The configured sinks", body = Vec<SinkView>),
    )
)]
pub(crate) async fn list_sinks(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<SinkView>>> {
    Ok(Json(state.engine.forwarding().list(&caller).await?))
}

/// One sink by name.
#[utoipa::path(
    get,
    security(("bearer" = ["admin"])),
    path = "/sinks/{name}",
    tag = "sinks",
    params(("name" = String, Path, description = "The sink's name")),
    responses(
        (status = 200, description = "The sink", body = SinkView),
        (status = 404, description = "No sink of that name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_sink(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<SinkView>> {
    Ok(Json(state.engine.forwarding().get(&caller, &name).await?))
}

/// Events of the caller's org that the sink gave up on (refused by the destination, or still
/// failing after the last retry), newest first.
#[utoipa::path(
    get,
    security(("bearer" = ["admin"])),
    path = "/sinks/{name}/dead-letters",
    tag = "sinks",
    params(("name" = String, Path, description = "The sink's name"), DeadLetterListParams),
    responses(
        (status = 200, description = "One page of dead letters", body = Page<DeadLetter>),
        (status = 404, description = "No sink of that name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad query parameter or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_dead_letters(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeadLetterListParams>,
) -> ApiResult<Json<Page<DeadLetter>>> {
    let limit = parse_limit(q.limit.as_deref())?;
    let before = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .ok()
                .filter(|n| *n > 0 && c.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    Problem::invalid("/cursor", "cursor must be a next_cursor of this list")
                })?,
        ),
    };
    Ok(Json(
        state
            .engine
            .forwarding()
            .dead_letters(&caller, &name, before, limit)
            .await?,
    ))
}
