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

#[utoipa::path(
    get, path = "/api/settings", tag = "settings",
    responses((status = 200, description = "Every setting", body = BTreeMap<String, String>))
)]
async fn list(State(state): State<AppState>) -> ApiResult<Json<BTreeMap<String, String>>> {
    Ok(Json(state.store.settings().await?.into_iter().collect()))
}

#[utoipa::path(
    get, path = "/api/settings/{key}", tag = "settings",
    params(("key" = String, Path, description = "Setting name")),
    responses((status = 200, description = "The setting", body = Setting))
)]
async fn one(State(state): State<AppState>, Path(key): Path<String>) -> ApiResult<Json<Setting>> {
    match state.store.setting(&key).await? {
        Some(value) => Ok(Json(Setting { key, value })),
        None => Err(Error::NotFound(format!("No setting {key}.")).into()),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = NewValue)]
struct Value {
    value: String,
}

#[utoipa::path(
    put, path = "/api/settings/{key}", tag = "settings",
    params(("key" = String, Path, description = "Setting name")), request_body = Value,
    responses((status = 204, description = "Changed"))
)]
async fn put(
    State(state): State<AppState>,
    actor: Actor,
    Path(key): Path<String>,
    crate::http::bodies::JsonBody(body): crate::http::bodies::JsonBody<Value>,
) -> ApiResult<StatusCode> {
    crate::ops::settings::set(&state, &actor, &key, &body.value).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Setting {
    key: String,
    value: String,
}
