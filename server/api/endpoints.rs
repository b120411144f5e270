//! `/api/endpoints`: list with live health, add, change (certificate rotation), remove, test,
//! switch the session's current endpoint. Certificates go in, never come out.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{Client, CurrentUser};
use crate::endpoints::{self, EndpointView, Input, TestResult};
use crate::error::{ApiResult, Error};

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
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Json(input): Json<Input>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let client = Client(ci.ip().to_string());
    let r = endpoints::create(&state, &input).await;
    let outcome = match &r {
        Ok(_) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    state
        .audit(
            Some(&user.username),
            &client,
            "endpoint-add",
            Some(input.name.trim()),
            &outcome,
        )
        .await;
    Ok((StatusCode::CREATED, Json(json!({"id": r?}))))
}

async fn update(
    State(state): State<AppState>,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<i64>,
    Json(input): Json<Input>,
) -> ApiResult<Json<EndpointView>> {
    let client = Client(ci.ip().to_string());
    let r = endpoints::update(&state, id, &input).await;
    let outcome = match &r {
        Ok(_) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    state
        .audit(
            Some(&user.username),
            &client,
            "endpoint-change",
            Some(input.name.trim()),
            &outcome,
        )
        .await;
    r?;
    one(State(state), Path(id)).await
}

async fn remove(
    State(state): State<AppState>,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let client = Client(ci.ip().to_string());
    let name = endpoints::remove(&state, id).await?;
    state
        .audit(
            Some(&user.username),
            &client,
            "endpoint-remove",
            Some(&name),
            "ok",
        )
        .await;
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
