//! `/api/endpoints`: list with live health, add, change (certificate rotation), remove, test,
//! switch the session's current endpoint. Certificates go in, never come out.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

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

async fn list(State(state): State<AppState>) -> Json<Vec<EndpointView>> {
    Json(endpoints::list(&state))
}

async fn one(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<EndpointView>> {
    let slot = state
        .engines
        .slot(id)
        .ok_or_else(|| Error::NotFound(format!("No endpoint {id}.")))?;
    Ok(Json(endpoints::view(&slot)))
}

async fn create(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(input): JsonBody<Input>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = input.name.clone();
    let id = ops::endpoints::create(&state, &actor, &name, Ok(input)).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))))
}

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

async fn remove(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    ops::endpoints::remove(&state, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test_new(
    State(state): State<AppState>,
    Json(input): Json<Input>,
) -> ApiResult<Json<TestResult>> {
    Ok(Json(endpoints::test(&state, None, &input).await?))
}

/// Tests a stored endpoint as it is (empty body) or with changes (a body like PUT's).
async fn test_stored(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<Input>>,
) -> ApiResult<Json<TestResult>> {
    match body {
        Some(Json(input)) => Ok(Json(endpoints::test(&state, Some(id), &input).await?)),
        None => {
            let slot = state
                .engines
                .slot(id)
                .ok_or_else(|| Error::NotFound(format!("No endpoint {id}.")))?;
            Ok(Json(endpoints::test_def(&slot.def).await))
        }
    }
}

async fn switch(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    endpoints::switch(&state, &user.token_hash, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
