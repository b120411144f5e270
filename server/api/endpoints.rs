//! `/api/endpoints`: list with live health, add, change (certificate rotation), remove, test,
//! switch the session's current endpoint. Certificates go in, never come out.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::endpoints::{self, EndpointView, Input, TestResult};
use crate::error::{ApiResult, Error};
use crate::http::bodies::JsonBody;
use crate::ops::{self, Actor};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/endpoints", get(list).post(create))
        .route("/api/endpoints/test", post(test_new))
        .route("/api/endpoints/{id}", get(one).put(update).delete(remove))
        .route("/api/endpoints/{id}/test", post(test_stored))
        .route("/api/endpoints/{id}/switch", post(switch))
}

#[utoipa::path(
    get, path = "/api/endpoints", tag = "endpoints",
    responses((status = 200, description = "Every endpoint with its live health", body = Vec<EndpointView>))
)]
async fn list(State(state): State<AppState>) -> Json<Vec<EndpointView>> {
    Json(endpoints::list(&state))
}

#[utoipa::path(
    get, path = "/api/endpoints/{id}", tag = "endpoints",
    params(("id" = i64, Path, description = "Endpoint id")),
    responses((status = 200, description = "One endpoint", body = EndpointView))
)]
async fn one(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<EndpointView>> {
    let slot = state
        .engines
        .slot(id)
        .ok_or_else(|| Error::NotFound(format!("No endpoint {id}.")))?;
    Ok(Json(endpoints::view(&slot)))
}

#[utoipa::path(
    post, path = "/api/endpoints", tag = "endpoints",
    request_body = Input,
    responses((status = 201, description = "Added", body = super::NewId))
)]
async fn create(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(input): JsonBody<Input>,
) -> ApiResult<(StatusCode, Json<super::NewId>)> {
    let name = input.name.clone();
    let id = ops::endpoints::create(&state, &actor, &name, Ok(input)).await?;
    Ok((StatusCode::CREATED, Json(super::NewId { id })))
}

#[utoipa::path(
    put, path = "/api/endpoints/{id}", tag = "endpoints",
    params(("id" = i64, Path, description = "Endpoint id")), request_body = Input,
    responses((status = 200, description = "Changed", body = EndpointView))
)]
async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    JsonBody(input): JsonBody<Input>,
) -> ApiResult<Json<EndpointView>> {
    let name = input.name.clone();
    ops::endpoints::update(&state, &actor, id, &name, Ok(input)).await?;
    one(State(state), Path(id)).await
}

#[utoipa::path(
    delete, path = "/api/endpoints/{id}", tag = "endpoints",
    params(("id" = i64, Path, description = "Endpoint id")),
    responses((status = 204, description = "Removed"))
)]
async fn remove(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    ops::endpoints::remove(&state, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/api/endpoints/test", tag = "endpoints",
    request_body = Input,
    responses((status = 200, description = "Whether Berth reaches that engine, and how", body = TestResult))
)]
async fn test_new(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<Input>,
) -> ApiResult<Json<TestResult>> {
    Ok(Json(endpoints::test(&state, None, &input).await?))
}

/// Tests a stored endpoint as it is (empty body) or with changes (a body like PUT's).
#[utoipa::path(
    post, path = "/api/endpoints/{id}/test", tag = "endpoints",
    params(("id" = i64, Path, description = "Endpoint id")), request_body(content = Option<Input>, description = "Changes to try (none: the endpoint as stored)"),
    responses((status = 200, description = "Whether Berth reaches that engine, and how", body = TestResult))
)]
async fn test_stored(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    raw: axum::body::Bytes,
) -> ApiResult<Json<TestResult>> {
    let body: Option<Input> = if raw.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(crate::http::bodies::json(&raw)?)
    };
    match body {
        Some(input) => Ok(Json(endpoints::test(&state, Some(id), &input).await?)),
        None => {
            let slot = state
                .engines
                .slot(id)
                .ok_or_else(|| Error::NotFound(format!("No endpoint {id}.")))?;
            Ok(Json(endpoints::test_def(&slot.def).await))
        }
    }
}

#[utoipa::path(
    post, path = "/api/endpoints/{id}/switch", tag = "endpoints",
    params(("id" = i64, Path, description = "Endpoint id")),
    responses((status = 204, description = "The session's unscoped paths now mean this endpoint"))
)]
async fn switch(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    endpoints::switch(&state, &user.token_hash, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
