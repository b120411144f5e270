//! `/api/settings` (read, change one) and `/api/audit` (the audit log, admins only).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Client, CurrentUser};
use crate::error::{ApiResult, Error};
use crate::store::AuditEntry;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/settings", get(list))
        .route("/api/settings/{key}", get(one).put(put))
        .route("/api/audit", get(audit))
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
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(key): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult<StatusCode> {
    let client = Client(ci.ip().to_string());
    crate::web::settings::set(&state, &user, &client, &key, &body.value).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<i64>,
}

/// The newest audit rows first (at most 1000).
async fn audit(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<Limit>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    if user.role != "admin" {
        return Err(Error::Forbidden("Only an admin reads the audit log.".into()).into());
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(state.store.recent_audit(limit).await?))
}
