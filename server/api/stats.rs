//! `GET /api/containers/{id}/stats`: one sample, computed as `docker stats` computes it.

use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};

use crate::AppState;
use crate::engine::stats::Sample;
use crate::error::ApiResult;
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/containers/{id}/stats", get(one))
}

/// A fresh sample with a CPU figure (the feed's latest, or the next one: up to ~2 s when no
/// one was watching). 409 when the container is not running.
#[utoipa::path(
    get, path = "/api/containers/{id}/stats", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name")),
    responses((status = 200, description = "One usage sample, computed as `docker stats` computes it", body = Sample))
)]
async fn one(ep: Ep, Path(id): Path<String>) -> ApiResult<Json<Sample>> {
    let w = crate::engine::containers::watch_stats(&ep, &id)?;
    let s = w.current(Duration::from_secs(10)).await?;
    Ok(Json((*s).clone()))
}
