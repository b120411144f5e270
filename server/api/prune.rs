//! `/api/{images,networks,volumes}/prune`: the preview (GET, query) and the prune (POST, JSON
//! `{"label", "all"}`) of every kind, through the one prune action.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};

use crate::AppState;
use crate::engine::prune::{PruneForm, PruneOutcome, PrunePreview};
use crate::error::ApiResult;
use crate::http::bodies::json_or_default;
use crate::http::scope::Ep;
use crate::ops::Actor;
use crate::ops::prune::{self, Prunable};

const fn kind(k: u8) -> Prunable {
    match k {
        0 => Prunable::Images,
        1 => Prunable::Networks,
        _ => Prunable::Volumes,
    }
}

async fn preview<const K: u8>(ep: Ep, Query(f): Query<PruneForm>) -> ApiResult<Json<PrunePreview>> {
    Ok(Json(prune::preview(&ep, kind(K), &f).await?))
}

async fn prune<const K: u8>(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    raw: Bytes,
) -> ApiResult<Json<PruneOutcome>> {
    let f: PruneForm = json_or_default(&raw)?;
    Ok(Json(prune::prune(&state, &ep, &actor, kind(K), &f).await?))
}

// One annotated handler per route, for the OpenAPI description.

#[utoipa::path(
    get, path = "/api/images/prune", tag = "images",
    params(PruneForm),
    responses((status = 200, description = "What a prune would remove now (`all`: every unused image, not only dangling ones)", body = PrunePreview))
)]
pub async fn images_preview(ep: Ep, q: Query<PruneForm>) -> ApiResult<Json<PrunePreview>> {
    preview::<{ Prunable::Images as u8 }>(ep, q).await
}

#[utoipa::path(
    post, path = "/api/images/prune", tag = "images",
    request_body(content = Option<PruneForm>, description = "An optional label filter (`all`: every unused image, not only dangling ones)"),
    responses((status = 200, description = "What was removed and the bytes freed", body = PruneOutcome))
)]
pub async fn images_prune(
    state: State<AppState>,
    ep: Ep,
    actor: Actor,
    raw: Bytes,
) -> ApiResult<Json<PruneOutcome>> {
    prune::<{ Prunable::Images as u8 }>(state, ep, actor, raw).await
}

#[utoipa::path(
    get, path = "/api/networks/prune", tag = "networks",
    params(PruneForm),
    responses((status = 200, description = "What a prune would remove now", body = PrunePreview))
)]
pub async fn networks_preview(ep: Ep, q: Query<PruneForm>) -> ApiResult<Json<PrunePreview>> {
    preview::<{ Prunable::Networks as u8 }>(ep, q).await
}

#[utoipa::path(
    post, path = "/api/networks/prune", tag = "networks",
    request_body(content = Option<PruneForm>, description = "An optional label filter"),
    responses((status = 200, description = "What was removed and the bytes freed", body = PruneOutcome))
)]
pub async fn networks_prune(
    state: State<AppState>,
    ep: Ep,
    actor: Actor,
    raw: Bytes,
) -> ApiResult<Json<PruneOutcome>> {
    prune::<{ Prunable::Networks as u8 }>(state, ep, actor, raw).await
}

#[utoipa::path(
    get, path = "/api/volumes/prune", tag = "volumes",
    params(PruneForm),
    responses((status = 200, description = "What a prune would remove now", body = PrunePreview))
)]
pub async fn volumes_preview(ep: Ep, q: Query<PruneForm>) -> ApiResult<Json<PrunePreview>> {
    preview::<{ Prunable::Volumes as u8 }>(ep, q).await
}

#[utoipa::path(
    post, path = "/api/volumes/prune", tag = "volumes",
    request_body(content = Option<PruneForm>, description = "An optional label filter"),
    responses((status = 200, description = "What was removed and the bytes freed", body = PruneOutcome))
)]
pub async fn volumes_prune(
    state: State<AppState>,
    ep: Ep,
    actor: Actor,
    raw: Bytes,
) -> ApiResult<Json<PruneOutcome>> {
    prune::<{ Prunable::Volumes as u8 }>(state, ep, actor, raw).await
}
