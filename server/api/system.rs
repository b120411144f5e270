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

#[utoipa::path(
    get, path = "/api/info", tag = "system",
    responses((status = 200, description = "The engine at a glance", body = InfoView))
)]
async fn info(ep: Ep) -> Json<InfoView> {
    Json(system::info(&ep))
}

#[utoipa::path(
    get, path = "/api/df", tag = "system",
    responses((status = 200, description = "Disk use, as `docker system df` counts it", body = DiskUsage))
)]
async fn df(ep: Ep) -> ApiResult<Json<DiskUsage>> {
    Ok(Json((*ep.disk.get(&ep).await?).clone()))
}

#[utoipa::path(
    get, path = "/api/images", tag = "images",
    params(Q),
    responses((status = 200, description = "The endpoint's images, from the live mirror", body = Vec<ImageRow>))
)]
async fn image_list(ep: Ep, Query(q): Query<Q>) -> Json<Vec<ImageRow>> {
    Json(crate::engine::image_ops::filter_rows(
        images::list(&ep, &q.q),
        &q.filter,
    ))
}

#[utoipa::path(
    get, path = "/api/networks", tag = "networks",
    params(Q),
    responses((status = 200, description = "The endpoint's networks", body = Vec<NetworkRow>))
)]
async fn network_list(ep: Ep, Query(q): Query<Q>) -> Json<Vec<NetworkRow>> {
    Json(networks::list(&ep, &q.q))
}

#[utoipa::path(
    get, path = "/api/volumes", tag = "volumes",
    params(Q),
    responses((status = 200, description = "The endpoint's volumes", body = Vec<VolumeRow>))
)]
async fn volume_list(ep: Ep, Query(q): Query<Q>) -> Json<Vec<VolumeRow>> {
    Json(volumes::list(&ep, &q.q))
}
