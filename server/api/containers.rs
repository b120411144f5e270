//! `/api/containers`: list, inspect, actions.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};

use crate::AppState;
use crate::auth::{Client, CurrentUser};
use crate::engine::containers::{self, Action, ListQuery, RemoveOpts};
use crate::engine::views::ContainerView;
use crate::error::ApiResult;
use crate::web::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/containers", get(list))
        .route("/api/containers/{id}", get(inspect).delete(remove))
        .route("/api/containers/{id}/{action}", post(act))
        .route("/api/containers/{id}/remove", delete(remove))
}

async fn list(ep: Ep, Query(q): Query<ListQuery>) -> Json<Vec<Arc<ContainerView>>> {
    Json(containers::list(&ep, &q))
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
    crate::web::containers::perform(
        &state,
        &ep,
        &user,
        &client,
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
    crate::web::containers::perform(&state, &ep, &user, &client, &id, Action::Remove, opts).await?;
    Ok(StatusCode::NO_CONTENT)
}
