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

pub async fn preview<const K: u8>(
    ep: Ep,
    Query(f): Query<PruneForm>,
) -> ApiResult<Json<PrunePreview>> {
    Ok(Json(prune::preview(&ep, kind(K), &f).await?))
}

pub async fn prune<const K: u8>(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    raw: Bytes,
) -> ApiResult<Json<PruneOutcome>> {
    let f: PruneForm = json_or_default(&raw)?;
    Ok(Json(prune::prune(&state, &ep, &actor, kind(K), &f).await?))
}
