//! `/api/networks`: create, remove, connect, disconnect, drivers, prune (preview with GET).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::AppState;
use crate::engine::network_spec::NetworkSpec;
use crate::engine::networks::ConnectSpec;
use crate::error::ApiResult;
use crate::http::bodies::JsonBody;
use crate::http::scope::Ep;
use crate::ops::prune::Prunable;
use crate::ops::{Actor, networks};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/networks", post(create))
        .route("/api/networks/drivers", get(drivers))
        .route(
            "/api/networks/prune",
            get(super::prune::preview::<{ Prunable::Networks as u8 }>)
                .post(super::prune::prune::<{ Prunable::Networks as u8 }>),
        )
        .route("/api/networks/{id}", get(inspect).delete(remove))
        .route("/api/networks/{id}/connect", post(connect))
        .route("/api/networks/{id}/disconnect", post(disconnect))
}

async fn create(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    JsonBody(spec): JsonBody<NetworkSpec>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = networks::create(&state, &ep, &actor, &spec).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

async fn drivers(ep: Ep) -> Json<Vec<String>> {
    Json(crate::engine::networks::drivers(&ep))
}

async fn inspect(
    ep: Ep,
    Path(id): Path<String>,
) -> ApiResult<Json<bollard::models::NetworkInspect>> {
    Ok(Json(crate::engine::networks::inspect(&ep, &id).await?))
}

async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    networks::remove(&state, &ep, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn connect(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(spec): JsonBody<ConnectSpec>,
) -> ApiResult<StatusCode> {
    networks::connect(&state, &ep, &actor, &id, &spec).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn disconnect(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(spec): JsonBody<ConnectSpec>,
) -> ApiResult<StatusCode> {
    networks::disconnect(&state, &ep, &actor, &id, &spec).await?;
    Ok(StatusCode::NO_CONTENT)
}
