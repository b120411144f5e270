//! `/api/networks`: create, remove, connect, disconnect, drivers, prune (preview with GET).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::AppState;
use crate::engine::network_spec::NetworkSpec;
use crate::engine::networks::ConnectSpec;
use crate::error::ApiResult;
use crate::http::bodies::JsonBody;
use crate::http::scope::Ep;
use crate::ops::{Actor, networks};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/networks", post(create))
        .route("/api/networks/drivers", get(drivers))
        .route(
            "/api/networks/prune",
            get(super::prune::networks_preview).post(super::prune::networks_prune),
        )
        .route("/api/networks/{id}", get(inspect).delete(remove))
        .route("/api/networks/{id}/connect", post(connect))
        .route("/api/networks/{id}/disconnect", post(disconnect))
}

#[utoipa::path(
    post, path = "/api/networks", tag = "networks",
    request_body = NetworkSpec,
    responses((status = 201, description = "Created", body = NetworkCreated))
)]
async fn create(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    JsonBody(spec): JsonBody<NetworkSpec>,
) -> ApiResult<(StatusCode, Json<NetworkCreated>)> {
    let id = networks::create(&state, &ep, &actor, &spec).await?;
    Ok((StatusCode::CREATED, Json(NetworkCreated { id })))
}

#[utoipa::path(
    get, path = "/api/networks/drivers", tag = "networks",
    responses((status = 200, description = "The network drivers this engine offers", body = Vec<String>))
)]
async fn drivers(ep: Ep) -> Json<Vec<String>> {
    Json(crate::engine::networks::drivers(&ep))
}

#[utoipa::path(
    get, path = "/api/networks/{id}", tag = "networks",
    params(("id" = String, Path, description = "Network id, unique id prefix, or name")),
    responses((status = 200, description = "The engine's inspect answer, unchanged (see the Docker Engine API)", body = Object))
)]
async fn inspect(
    ep: Ep,
    Path(id): Path<String>,
) -> ApiResult<Json<bollard::models::NetworkInspect>> {
    Ok(Json(crate::engine::networks::inspect(&ep, &id).await?))
}

#[utoipa::path(
    delete, path = "/api/networks/{id}", tag = "networks",
    params(("id" = String, Path, description = "Network id, unique id prefix, or name")),
    responses((status = 204, description = "Removed"))
)]
async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    networks::remove(&state, &ep, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/api/networks/{id}/connect", tag = "networks",
    params(("id" = String, Path, description = "Network id, unique id prefix, or name")), request_body = ConnectSpec,
    responses((status = 204, description = "Connected"))
)]
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

#[utoipa::path(
    post, path = "/api/networks/{id}/disconnect", tag = "networks",
    params(("id" = String, Path, description = "Network id, unique id prefix, or name")), request_body = ConnectSpec,
    responses((status = 204, description = "Disconnected"))
)]
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

#[derive(serde::Serialize, utoipa::ToSchema)]
struct NetworkCreated {
    /// The new network's id.
    id: String,
}
