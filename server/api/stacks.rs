//! `/api/stacks`: every compose project on the endpoint; deploy, redeploy, lifecycle, down,
//! rollback. The contract is in README ("Stacks").

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Serialize;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiResult, Error};
use crate::http::bodies::json as body;
use crate::http::request::client;
use crate::http::scope::Ep;
use crate::stacks::{self, DeploySpec, Deployed, Lifecycle, StackRow, store::Version};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/stacks", get(list).post(create))
        .route("/api/stacks/{name}", get(one).put(update).delete(remove))
        .route("/api/stacks/{name}/versions", get(versions))
        .route("/api/stacks/{name}/preview", post(preview))
        .route("/api/stacks/{name}/copy", post(copy))
        .route("/api/stacks/{name}/stats", get(stats))
        .route("/api/stacks/{name}/{action}", post(act))
}

#[utoipa::path(
    get, path = "/api/stacks", tag = "stacks",
    responses((status = 200, description = "Every compose project on the endpoint", body = Vec<StackRow>))
)]
async fn list(State(state): State<AppState>, ep: Ep) -> ApiResult<Json<Vec<StackRow>>> {
    let held = stacks::held(&state.store, &ep).await?;
    Ok(Json(stacks::list(&ep, &held)))
}

#[derive(Serialize, utoipa::ToSchema)]
struct One {
    #[serde(flatten)]
    stack: StackRow,
    /// The held file's current version, when Berth holds it.
    version: Option<i64>,
    compose: Option<String>,
    env: Option<String>,
}

#[utoipa::path(
    get, path = "/api/stacks/{name}", tag = "stacks",
    params(("name" = String, Path, description = "Stack (compose project) name")),
    responses((status = 200, description = "The stack, with the file Berth holds for it", body = One))
)]
async fn one(
    State(state): State<AppState>,
    ep: Ep,
    Path(name): Path<String>,
) -> ApiResult<Json<One>> {
    let held = stacks::held(&state.store, &ep).await?;
    let stack = stacks::get(&ep, &held, &name)?;
    let latest = stacks::store::latest(state.store.pool(), ep.endpoint_id, &name).await?;
    Ok(Json(One {
        stack,
        version: latest.as_ref().map(|v| v.version),
        compose: latest.as_ref().map(|v| v.compose.clone()),
        env: latest.map(|v| v.env),
    }))
}

#[utoipa::path(
    get, path = "/api/stacks/{name}/versions", tag = "stacks",
    params(("name" = String, Path, description = "Stack (compose project) name")),
    responses((status = 200, description = "Every deployed version of the file, newest first", body = Vec<Version>))
)]
async fn versions(
    State(state): State<AppState>,
    ep: Ep,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<Version>>> {
    Ok(Json(
        stacks::store::versions(state.store.pool(), ep.endpoint_id, &name).await?,
    ))
}

/// A usage sample of every running container of the stack.
#[utoipa::path(
    get, path = "/api/stacks/{name}/stats", tag = "stacks",
    params(("name" = String, Path, description = "Stack (compose project) name")),
    responses((status = 200, description = "A usage sample of every running container of the stack", body = Vec<stacks::ContainerUsage>))
)]
async fn stats(
    State(state): State<AppState>,
    ep: Ep,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<stacks::ContainerUsage>>> {
    let held = stacks::held(&state.store, &ep).await?;
    let row = stacks::get(&ep, &held, &name)?;
    Ok(Json(stacks::stats(&ep, &row).await))
}

#[utoipa::path(
    post, path = "/api/stacks", tag = "stacks",
    request_body = DeploySpec,
    responses((status = 201, description = "Deployed", body = Deployed))
)]
async fn create(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    raw: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Deployed>)> {
    let spec: DeploySpec = body(&raw)?;
    let r = stacks::deploy(&state.store, &ep, &spec, &user.username, true).await;
    let d = crate::ops::audited(
        &state,
        &ep,
        &crate::ops::Actor::user(&user, &client(ci)),
        crate::ops::AuditAction::StackDeploy,
        spec.name.trim(),
        r,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

#[utoipa::path(
    put, path = "/api/stacks/{name}", tag = "stacks",
    params(("name" = String, Path, description = "Stack (compose project) name")), request_body = DeploySpec,
    responses((status = 200, description = "Redeployed (only the services that changed are recreated)", body = Deployed))
)]
async fn update(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(name): Path<String>,
    raw: axum::body::Bytes,
) -> ApiResult<Json<Deployed>> {
    let mut spec: DeploySpec = body(&raw)?;
    if !spec.name.trim().is_empty() && spec.name.trim() != name {
        return Err(Error::invalid("name", "The body names another stack than the URL.").into());
    }
    spec.name = name.clone();
    let r = stacks::deploy(&state.store, &ep, &spec, &user.username, false).await;
    Ok(Json(
        crate::ops::audited(
            &state,
            &ep,
            &crate::ops::Actor::user(&user, &client(ci)),
            crate::ops::AuditAction::StackRedeploy,
            &name,
            r,
        )
        .await?,
    ))
}

#[utoipa::path(
    post, path = "/api/stacks/{name}/preview", tag = "stacks",
    params(("name" = String, Path, description = "Stack (compose project) name")), request_body = DeploySpec,
    responses((status = 200, description = "What a deploy of this file would change", body = stacks::Preview))
)]
async fn preview(
    State(state): State<AppState>,
    ep: Ep,
    Path(name): Path<String>,
    raw: axum::body::Bytes,
) -> ApiResult<Json<stacks::Preview>> {
    let mut spec: DeploySpec = body(&raw)?;
    spec.name = name;
    Ok(Json(stacks::preview(&state.store, &ep, &spec).await?))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
struct CopyBody {
    endpoint: i64,
    #[serde(default)]
    name: String,
}

/// Deploys the stack's file on another endpoint: `{"endpoint": id, "name"?}` → 201.
#[utoipa::path(
    post, path = "/api/stacks/{name}/copy", tag = "stacks",
    params(("name" = String, Path, description = "Stack (compose project) name")), request_body = CopyBody,
    responses((status = 201, description = "Deployed on the other endpoint", body = Deployed))
)]
async fn copy(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(name): Path<String>,
    raw: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Deployed>)> {
    let b: CopyBody = body(&raw)?;
    let to = state
        .engines
        .get(b.endpoint)
        .ok_or_else(|| Error::NotFound(format!("No endpoint {}.", b.endpoint)))?;
    let r = stacks::copy(&state.store, &ep, &to, &name, &b.name, &user.username).await;
    let target = format!("{name} → {}", to.name);
    let d = crate::ops::audited(
        &state,
        &to,
        &crate::ops::Actor::user(&user, &client(ci)),
        crate::ops::AuditAction::StackCopy,
        &target,
        r,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

#[utoipa::path(
    post, path = "/api/stacks/{name}/{action}", tag = "stacks",
    params(
        ("name" = String, Path, description = "Stack (compose project) name"),
        ("action" = String, Path, description = "start, stop, restart, pull (pull the images and redeploy) or rollback (to the version before)"),
    ),
    responses(
        (status = 200, description = "rollback and pull: the deploy they made", body = Deployed),
        (status = 204, description = "start, stop, restart: done"),
    )
)]
async fn act(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path((name, action)): Path<(String, String)>,
) -> ApiResult<Response> {
    let who = client(ci);
    match action.as_str() {
        "rollback" => {
            let r = stacks::rollback(&state.store, &ep, &name, &user.username).await;
            let d = crate::ops::audited(
                &state,
                &ep,
                &crate::ops::Actor::user(&user, &who),
                crate::ops::AuditAction::StackRollback,
                &name,
                r,
            )
            .await?;
            Ok(Json(d).into_response())
        }
        "pull" => {
            let r = stacks::pull_and_redeploy(&state.store, &ep, &name).await;
            let d = crate::ops::audited(
                &state,
                &ep,
                &crate::ops::Actor::user(&user, &who),
                crate::ops::AuditAction::StackPull,
                &name,
                r,
            )
            .await?;
            Ok(Json(d).into_response())
        }
        other => {
            let Some(what) = Lifecycle::parse(other) else {
                return Err(Error::NotFound(format!(
                    "`{other}` is not a stack action (start, stop, restart, pull, rollback)."
                ))
                .into());
            };
            let r = stacks::lifecycle(&ep, &name, what).await;
            let action = crate::ops::AuditAction::from(what);
            crate::ops::audited(
                &state,
                &ep,
                &crate::ops::Actor::user(&user, &who),
                action,
                &name,
                r,
            )
            .await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DownQ {
    #[serde(default, deserialize_with = "crate::engine::network_spec::flag")]
    volumes: bool,
}

#[utoipa::path(
    delete, path = "/api/stacks/{name}", tag = "stacks",
    params(("name" = String, Path, description = "Stack (compose project) name"), DownQ),
    responses((status = 204, description = "Down: its containers and networks are removed"))
)]
async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(name): Path<String>,
    Query(q): Query<DownQ>,
) -> ApiResult<StatusCode> {
    let r = stacks::down(&state.store, &ep, &name, q.volumes).await;
    let action = if q.volumes {
        crate::ops::AuditAction::StackDownVolumes
    } else {
        crate::ops::AuditAction::StackDown
    };
    crate::ops::audited(
        &state,
        &ep,
        &crate::ops::Actor::user(&user, &client(ci)),
        action,
        &name,
        r,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
