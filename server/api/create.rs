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

async fn create_one(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    JsonBody(spec): JsonBody<CreateSpec>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let c = containers::create(&state, &ep, &actor, &spec).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

async fn spec(ep: Ep, Path(id): Path<String>) -> ApiResult<Json<CreateSpec>> {
    Ok(Json(create::spec_of(&ep, &id).await?.1))
}

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

#[derive(Deserialize)]
struct RenameBody {
    #[serde(default)]
    name: String,
}

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

#[derive(Deserialize)]
struct CommitBody {
    #[serde(default)]
    repo: String,
    #[serde(default)]
    message: String,
}

async fn commit(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<CommitBody>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let image = containers::commit(&state, &ep, &actor, &id, &b.repo, &b.message).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": image, "repo": b.repo })),
    ))
}
