//! `GET /api/events`: the engine's events the mirror heard, from its bounded ring.

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};

use crate::AppState;
use crate::engine::events::{self, EngineEvent};
use crate::error::ApiResult;
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/events", get(list))
}

#[utoipa::path(
    get, path = "/api/events", tag = "events",
    params(events::Query),
    responses((status = 200, description = "Engine events, oldest first (the newest `limit` of those that match); \
        the ring keeps the last 2000 per endpoint, filled at connect from the engine's own event log", body = Vec<EngineEvent>))
)]
async fn list(ep: Ep, Query(q): Query<events::Query>) -> ApiResult<Json<Vec<EngineEvent>>> {
    Ok(Json(events::list(&ep, &q)?))
}
