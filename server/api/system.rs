//! `/api/info`, `/api/df`, `/api/images`, `/api/networks`, `/api/volumes`.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};

use crate::AppState;
use crate::engine::images::{self, ImageRow};
use crate::engine::networks::{self, NetworkRow};
use crate::engine::system::{self, DiskUsage, InfoView};
use crate::engine::volumes::{self, VolumeRow};
use crate::error::ApiResult;
use crate::web::images::Q;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/info", get(info))
        .route("/api/df", get(df))
        .route("/api/images", get(image_list))
        .route("/api/networks", get(network_list))
        .route("/api/volumes", get(volume_list))
}

async fn info(State(state): State<AppState>) -> Json<InfoView> {
    Json(system::info(state.engines.primary()))
}

async fn df(State(state): State<AppState>) -> ApiResult<Json<DiskUsage>> {
    let m = state.engines.primary();
    Ok(Json((*m.disk.get(m).await?).clone()))
}

async fn image_list(State(state): State<AppState>, Query(q): Query<Q>) -> Json<Vec<ImageRow>> {
    Json(images::list(state.engines.primary(), &q.q))
}

async fn network_list(State(state): State<AppState>, Query(q): Query<Q>) -> Json<Vec<NetworkRow>> {
    Json(networks::list(state.engines.primary(), &q.q))
}

async fn volume_list(State(state): State<AppState>, Query(q): Query<Q>) -> Json<Vec<VolumeRow>> {
    Json(volumes::list(state.engines.primary(), &q.q))
}
