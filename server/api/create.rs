//! `POST /api/containers` (create), and the identity changes of one container: rename, commit,
//! and duplicate/edit (`GET …/spec` gives the form, `POST …/recreate` applies it).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::AppState;
use crate::engine::create::{self, CreateSpec, Created};
use crate::error::ApiResult;
use crate::http::bodies::JsonBody;
use crate::http::scope::Ep;
use crate::ops::{Actor, containers};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/containers", post(create_one))
        .route("/api/containers/{id}/spec", get(spec))
        .route("/api/containers/{id}/recreate", post(recreate))
        .route("/api/containers/{id}/rename", post(rename))
        .route("/api/containers/{id}/commit", post(commit))
}

#[utoipa::path(
    post, path = "/api/containers", tag = "containers",
    request_body = CreateSpec,
    responses((status = 201, description = "Created (and started when asked)", body = Created))
)]
async fn create_one(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    JsonBody(spec): JsonBody<CreateSpec>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let c = containers::create(&state, &ep, &actor, &spec).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

#[utoipa::path(
    get, path = "/api/containers/{id}/spec", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name")),
    responses((status = 200, description = "The create form that would make this container again", body = CreateSpec))
)]
async fn spec(ep: Ep, Path(id): Path<String>) -> ApiResult<Json<CreateSpec>> {
    Ok(Json(create::spec_of(&ep, &id).await?.1))
}

#[utoipa::path(
    post, path = "/api/containers/{id}/recreate", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name")), request_body = CreateSpec,
    responses((status = 200, description = "The container was replaced by one made from the spec", body = Created))
)]
async fn recreate(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(spec): JsonBody<CreateSpec>,
) -> ApiResult<Json<Created>> {
    Ok(Json(
        containers::recreate(&state, &ep, &actor, &id, &spec).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct RenameBody {
    #[serde(default)]
    name: String,
}

#[utoipa::path(
    post, path = "/api/containers/{id}/rename", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name")), request_body = RenameBody,
    responses((status = 204, description = "Renamed"))
)]
async fn rename(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<RenameBody>,
) -> ApiResult<StatusCode> {
    containers::rename(&state, &ep, &actor, &id, &b.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
struct CommitBody {
    #[serde(default)]
    repo: String,
    #[serde(default)]
    message: String,
}

#[utoipa::path(
    post, path = "/api/containers/{id}/commit", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name")), request_body = CommitBody,
    responses((status = 201, description = "The new image", body = Committed))
)]
async fn commit(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<CommitBody>,
) -> ApiResult<(StatusCode, Json<Committed>)> {
    let image = containers::commit(&state, &ep, &actor, &id, &b.repo, &b.message).await?;
    Ok((
        StatusCode::CREATED,
        Json(Committed {
            id: image,
            repo: b.repo,
        }),
    ))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Committed {
    /// The new image's id.
    id: String,
    /// The repository (and tag) it was given, as asked.
    repo: String,
}
