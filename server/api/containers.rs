//! `/api/containers`: list, inspect, actions.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use bytes::Bytes;

use crate::AppState;
use crate::auth::{Client, CurrentUser};
use crate::engine::containers::{self, Action, ListQuery, RemoveOpts};
use crate::engine::views::ContainerView;
use crate::error::{ApiResult, Error};
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/containers", get(list))
        .route("/api/containers/{id}", get(inspect).delete(remove))
        .route("/api/containers/{id}/{action}", post(act))
        .route("/api/containers/{id}/remove", delete(remove_alias))
}

/// Serialised once per snapshot, query and second (statuses are worded to the second, as
/// `docker ps` words them), shared by every client until the mirror changes.
#[utoipa::path(
    get, path = "/api/containers", tag = "containers",
    params(ListQuery),
    responses((status = 200, description = "The endpoint's containers, from the live mirror", body = Vec<ContainerView>))
)]
async fn list(ep: Ep, Query(q): Query<ListQuery>) -> ApiResult<Response> {
    let key = format!("api.containers{:?}", (&q.q, &q.state, &q.sort));
    let mirror = ep.mirror.clone();
    let body = ep.renderings.get_exact(key, crate::store::now(), move || {
        serde_json::to_vec(&containers::list(&mirror, &q))
            .map(Bytes::from)
            .map_err(|e| Error::internal(format!("json: {e}")))
    })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[utoipa::path(
    get, path = "/api/containers/{id}", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name")),
    responses((status = 200, description = "The engine's inspect answer, unchanged (see the Docker Engine API)", body = Object))
)]
async fn inspect(
    ep: Ep,
    Path(id): Path<String>,
) -> ApiResult<Json<bollard::models::ContainerInspectResponse>> {
    Ok(Json(containers::inspect(&ep, &id).await?))
}

#[utoipa::path(
    post, path = "/api/containers/{id}/{action}", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name"), ("action" = Action, Path, description = "What to do")),
    responses((status = 204, description = "Done"))
)]
async fn act(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let action = Action::parse(&action)?;
    let client = Client(ci.ip().to_string());
    crate::ops::containers::perform(
        &state,
        &ep,
        &crate::ops::Actor::user(&user, &client),
        &id,
        action,
        RemoveOpts::default(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete, path = "/api/containers/{id}", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name"), RemoveOpts),
    responses((status = 204, description = "Removed"))
)]
async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
    Query(opts): Query<RemoveOpts>,
) -> ApiResult<StatusCode> {
    let client = Client(ci.ip().to_string());
    crate::ops::containers::perform(
        &state,
        &ep,
        &crate::ops::Actor::user(&user, &client),
        &id,
        Action::Remove,
        opts,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE …/remove`: the same removal, for clients that name the action in the path.
#[utoipa::path(
    delete, path = "/api/containers/{id}/remove", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name"), RemoveOpts),
    responses((status = 204, description = "Removed"))
)]
async fn remove_alias(
    state: State<AppState>,
    ep: Ep,
    ci: ConnectInfo<SocketAddr>,
    user: Extension<CurrentUser>,
    id: Path<String>,
    opts: Query<RemoveOpts>,
) -> ApiResult<StatusCode> {
    remove(state, ep, ci, user, id, opts).await
}
