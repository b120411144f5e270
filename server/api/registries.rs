//! `/api/registries` (admin): add, list, edit, remove, test, browse; `/api/images/push`,
//! `/api/updates` and `/api/containers/{id}/update` (pull and recreate) for operators.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::AppState;
use crate::engine::progress::Progress;
use crate::error::{ApiResult, Error};
use crate::http::bodies::json as body;
use crate::http::scope::Ep;
use crate::ops::Actor;
use crate::registries::{self, Registry, RegistryForm};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/registries", get(list).post(add))
        .route("/api/registries/{id}", get(one).put(update).delete(remove))
        .route("/api/registries/{id}/test", post(test))
        .route("/api/registries/{id}/repositories", get(repositories))
        .route("/api/registries/{id}/tags", get(tags))
        .route("/api/images/push", post(push))
        .route("/api/updates", get(updates))
        .route("/api/updates/check", post(check))
        .route("/api/containers/{id}/update", post(update_container))
}

async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<Registry>>> {
    Ok(Json(registries::list(&state).await?))
}

async fn one(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Registry>> {
    Ok(Json(registries::get(&state, id).await?))
}

async fn add(
    State(state): State<AppState>,
    actor: Actor,
    raw: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Registry>)> {
    let f: RegistryForm = body(&raw)?;
    let r = registries::add(&state, &actor, &f).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    raw: axum::body::Bytes,
) -> ApiResult<Json<Registry>> {
    let f: RegistryForm = body(&raw)?;
    Ok(Json(registries::update(&state, &actor, id, &f).await?))
}

async fn remove(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    registries::remove(&state, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<registries::client::Ping>> {
    Ok(Json(registries::test(&state, id).await?))
}

#[derive(Deserialize)]
struct Page {
    last: Option<String>,
}

async fn repositories(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<Page>,
) -> ApiResult<Json<Value>> {
    let (repos, next) = registries::repositories(&state, id, q.last.as_deref()).await?;
    Ok(Json(json!({ "repositories": repos, "next": next })))
}

#[derive(Deserialize)]
struct Repo {
    #[serde(default)]
    repo: String,
}

async fn tags(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<Repo>,
) -> ApiResult<Json<Vec<registries::client::TagInfo>>> {
    Ok(Json(registries::tags(&state, id, &q.repo).await?))
}

#[derive(Deserialize)]
struct PushBody {
    #[serde(default)]
    image: String,
    #[serde(default)]
    target: String,
}

/// Pushes and answers when the engine is done: the log, or the engine's refusal verbatim.
async fn push(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    raw: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let b: PushBody = body(&raw)?;
    if b.image.trim().is_empty() {
        return Err(Error::invalid("image", "Name the local image to push.").into());
    }
    let (tx, _rx) = watch::channel(Progress::new(format!("push {}", b.target.trim())));
    crate::ops::registries::push(&state, &ep, &actor, &b.image, &b.target, &tx).await?;
    let p = tx.borrow().clone();
    Ok(Json(json!({ "target": b.target.trim(), "log": p.log })))
}

async fn updates(State(state): State<AppState>, ep: Ep) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "checks": state.updates.all(&ep.name) })))
}

async fn check(State(state): State<AppState>, ep: Ep) -> ApiResult<Json<Value>> {
    let checks = registries::updates::check(&state, &ep).await?;
    Ok(Json(json!({ "checks": checks })))
}

async fn update_container(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (tx, _rx) = watch::channel(Progress::new(format!("update {id}")));
    let msg = crate::ops::registries::pull_and_recreate(&state, &ep, &actor, &id, &tx).await?;
    let c = crate::engine::containers::find(&ep, &id);
    Ok(Json(json!({ "message": msg, "container": c })))
}
