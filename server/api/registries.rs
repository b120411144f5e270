//! `/api/registries` (admin): add, list, edit, remove, test, browse; `/api/images/push`,
//! `/api/updates` and `/api/containers/{id}/update` (pull and recreate) for operators.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
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

#[utoipa::path(
    get, path = "/api/registries", tag = "registries",
    responses((status = 200, description = "Stored registries (passwords are never shown)", body = Vec<Registry>))
)]
async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<Registry>>> {
    Ok(Json(registries::list(&state).await?))
}

#[utoipa::path(
    get, path = "/api/registries/{id}", tag = "registries",
    params(("id" = i64, Path, description = "Registry id")),
    responses((status = 200, description = "One registry", body = Registry))
)]
async fn one(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Registry>> {
    Ok(Json(registries::get(&state, id).await?))
}

#[utoipa::path(
    post, path = "/api/registries", tag = "registries",
    request_body = RegistryForm,
    responses((status = 201, description = "Stored", body = Registry))
)]
async fn add(
    State(state): State<AppState>,
    actor: Actor,
    raw: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Registry>)> {
    let f: RegistryForm = body(&raw)?;
    let r = registries::add(&state, &actor, &f).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[utoipa::path(
    put, path = "/api/registries/{id}", tag = "registries",
    params(("id" = i64, Path, description = "Registry id")), request_body = RegistryForm,
    responses((status = 200, description = "Changed", body = Registry))
)]
async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    raw: axum::body::Bytes,
) -> ApiResult<Json<Registry>> {
    let f: RegistryForm = body(&raw)?;
    Ok(Json(registries::update(&state, &actor, id, &f).await?))
}

#[utoipa::path(
    delete, path = "/api/registries/{id}", tag = "registries",
    params(("id" = i64, Path, description = "Registry id")),
    responses((status = 204, description = "Removed"))
)]
async fn remove(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    registries::remove(&state, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/api/registries/{id}/test", tag = "registries",
    params(("id" = i64, Path, description = "Registry id")),
    responses((status = 200, description = "How the registry answered", body = registries::client::Ping))
)]
async fn test(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<registries::client::Ping>> {
    Ok(Json(registries::test(&state, id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Page {
    last: Option<String>,
}

#[utoipa::path(
    get, path = "/api/registries/{id}/repositories", tag = "registries",
    params(("id" = i64, Path, description = "Registry id"), Page),
    responses((status = 200, description = "A page of the registry's catalogue", body = Repositories))
)]
async fn repositories(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<Page>,
) -> ApiResult<Json<Repositories>> {
    let (repos, next) = registries::repositories(&state, id, q.last.as_deref()).await?;
    Ok(Json(Repositories {
        repositories: repos,
        next,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Repo {
    #[serde(default)]
    repo: String,
}

#[utoipa::path(
    get, path = "/api/registries/{id}/tags", tag = "registries",
    params(("id" = i64, Path, description = "Registry id"), Repo),
    responses((status = 200, description = "The repository's tags", body = Vec<registries::client::TagInfo>))
)]
async fn tags(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<Repo>,
) -> ApiResult<Json<Vec<registries::client::TagInfo>>> {
    Ok(Json(registries::tags(&state, id, &q.repo).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct PushBody {
    #[serde(default)]
    image: String,
    #[serde(default)]
    target: String,
}

/// Pushes and answers when the engine is done: the log, or the engine's refusal verbatim.
#[utoipa::path(
    post, path = "/api/images/push", tag = "images",
    request_body = PushBody,
    responses((status = 200, description = "Pushed: the engine's log", body = Pushed))
)]
async fn push(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    raw: axum::body::Bytes,
) -> ApiResult<Json<Pushed>> {
    let b: PushBody = body(&raw)?;
    if b.image.trim().is_empty() {
        return Err(Error::invalid("image", "Name the local image to push.").into());
    }
    let (tx, _rx) = watch::channel(Progress::new(format!("push {}", b.target.trim())));
    crate::ops::registries::push(&state, &ep, &actor, &b.image, &b.target, &tx).await?;
    let p = tx.borrow().clone();
    Ok(Json(Pushed {
        target: b.target.trim().to_string(),
        log: p.log,
    }))
}

#[utoipa::path(
    get, path = "/api/updates", tag = "updates",
    responses((status = 200, description = "The last update checks of the images containers run", body = Checks))
)]
async fn updates(State(state): State<AppState>, ep: Ep) -> ApiResult<Json<Checks>> {
    Ok(Json(Checks {
        checks: state.updates.all(&ep.name),
    }))
}

#[utoipa::path(
    post, path = "/api/updates/check", tag = "updates",
    responses((status = 200, description = "Every image containers run, checked against its registry now", body = Checks))
)]
async fn check(State(state): State<AppState>, ep: Ep) -> ApiResult<Json<Checks>> {
    let checks = registries::updates::check(&state, &ep).await?;
    Ok(Json(Checks { checks }))
}

#[utoipa::path(
    post, path = "/api/containers/{id}/update", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name")),
    responses((status = 200, description = "Pulled and recreated with the same configuration", body = ContainerUpdated))
)]
async fn update_container(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<ContainerUpdated>> {
    let (tx, _rx) = watch::channel(Progress::new(format!("update {id}")));
    let msg = crate::ops::registries::pull_and_recreate(&state, &ep, &actor, &id, &tx).await?;
    let c = crate::engine::containers::find(&ep, &id);
    Ok(Json(ContainerUpdated {
        message: msg,
        container: c,
    }))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Repositories {
    repositories: Vec<String>,
    /// Pass as `last` for the next page; null on the last page.
    next: Option<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Pushed {
    /// Where the image went.
    target: String,
    /// The engine's messages, in order.
    log: Vec<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Checks {
    checks: Vec<registries::updates::Check>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct ContainerUpdated {
    /// What was done, in a sentence.
    message: String,
    /// The new container, as the mirror saw it when the answer was written.
    container: Option<std::sync::Arc<crate::engine::views::ContainerView>>,
}
