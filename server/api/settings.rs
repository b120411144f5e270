//! `/api/settings`: read them, change one.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::AppState;
use crate::error::{ApiResult, Error};
use crate::ops::Actor;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/settings", get(list))
        .route("/api/settings/{key}", get(one).put(put))
}

async fn list(State(state): State<AppState>) -> ApiResult<Json<BTreeMap<String, String>>> {
    Ok(Json(state.store.settings().await?.into_iter().collect()))
}

async fn one(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    match state.store.setting(&key).await? {
        Some(value) => Ok(Json(serde_json::json!({ "key": key, "value": value }))),
        None => Err(Error::NotFound(format!("No setting {key}.")).into()),
    }
}

#[derive(Deserialize)]
struct Value {
    value: String,
}

async fn put(
    State(state): State<AppState>,
    actor: Actor,
    Path(key): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult<StatusCode> {
    crate::ops::settings::set(&state, &actor, &key, &body.value).await?;
    Ok(StatusCode::NO_CONTENT)
}
