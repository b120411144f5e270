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
use crate::error::{ApiResult, Error};
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/containers", get(list))
        .route("/api/containers/{id}", get(inspect).delete(remove))
        .route("/api/containers/{id}/{action}", post(act))
        .route("/api/containers/{id}/remove", delete(remove))
}

/// Serialised once per snapshot, query and second (statuses are worded to the second, as
/// `docker ps` words them), shared by every client until the mirror changes.
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

async fn inspect(
    ep: Ep,
    Path(id): Path<String>,
) -> ApiResult<Json<bollard::models::ContainerInspectResponse>> {
    Ok(Json(containers::inspect(&ep, &id).await?))
}

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
