//! `/api/info`, `/api/df`, `/api/images`, `/api/networks`, `/api/volumes`.

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};

use crate::AppState;
use crate::engine::images::{self, ImageRow};
use crate::engine::networks::{self, NetworkRow};
use crate::engine::system::{self, DiskUsage, InfoView};
use crate::engine::volumes::{self, VolumeRow};
use crate::error::ApiResult;
use crate::http::query::ListQ as Q;
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/info", get(info))
        .route("/api/df", get(df))
        .route("/api/images", get(image_list))
        .route("/api/networks", get(network_list))
        .route("/api/volumes", get(volume_list))
}

async fn info(ep: Ep) -> Json<InfoView> {
    Json(system::info(&ep))
}

async fn df(ep: Ep) -> ApiResult<Json<DiskUsage>> {
    Ok(Json((*ep.disk.get(&ep).await?).clone()))
}

async fn image_list(ep: Ep, Query(q): Query<Q>) -> Json<Vec<ImageRow>> {
    Json(crate::engine::image_ops::filter_rows(
        images::list(&ep, &q.q),
        &q.filter,
    ))
}

async fn network_list(ep: Ep, Query(q): Query<Q>) -> Json<Vec<NetworkRow>> {
    Json(networks::list(&ep, &q.q))
}

async fn volume_list(ep: Ep, Query(q): Query<Q>) -> Json<Vec<VolumeRow>> {
    Json(volumes::list(&ep, &q.q))
}
