//! `GET /api/containers/{id}/top` and `…/changes`.

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};

use crate::AppState;
use crate::engine::anatomy::{self, Change, Top};
use crate::error::ApiResult;
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/containers/{id}/top", get(top))
        .route("/api/containers/{id}/changes", get(changes))
}

#[utoipa::path(
    get, path = "/api/containers/{id}/top", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name")),
    responses((status = 200, description = "The processes, as `docker top` shows them", body = Top))
)]
async fn top(ep: Ep, Path(id): Path<String>) -> ApiResult<Json<Top>> {
    Ok(Json(anatomy::top(&ep, &id).await?))
}

#[utoipa::path(
    get, path = "/api/containers/{id}/changes", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name")),
    responses((status = 200, description = "Files changed against the image", body = Vec<Change>))
)]
async fn changes(ep: Ep, Path(id): Path<String>) -> ApiResult<Json<Vec<Change>>> {
    Ok(Json(anatomy::changes(&ep, &id).await?))
}
