//! `/api/layers`: the layer sharing map.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};

use crate::AppState;
use crate::engine::layers::{self, LayerMap};
use crate::error::ApiResult;
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/layers", get(map))
}

#[utoipa::path(
    get, path = "/api/layers", tag = "images",
    responses((status = 200, description = "Which images share which layers", body = LayerMap))
)]
async fn map(ep: Ep) -> ApiResult<Json<Arc<LayerMap>>> {
    Ok(Json(layers::map(&ep).await?))
}
