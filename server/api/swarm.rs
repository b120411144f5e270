//! `/api/swarm`: the endpoint's swarm mode; on a manager its nodes, services and tasks; services
//! created, scaled and removed. On an engine that is not a manager the lists answer 409 saying
//! what the engine is.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::engine::swarm::{
    self, Kept, KeptForm, NodeAction, NodeRow, ObjectRow, ServiceForm, ServiceRow, SwarmStatus,
    TaskRow,
};
use crate::error::ApiResult;
use crate::http::bodies::JsonBody;
use crate::http::scope::Ep;
use crate::ops::{self, Actor};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/swarm", get(status))
        .route("/api/swarm/nodes", get(nodes))
        .route("/api/swarm/nodes/{id}/tasks", get(node_tasks))
        .route("/api/swarm/services", get(services).post(create))
        .route("/api/swarm/services/{id}", get(one).delete(remove))
        .route("/api/swarm/services/{id}/tasks", get(service_tasks))
        .route("/api/swarm/services/{id}/logs", get(service_logs))
        .route("/api/swarm/services/{id}/scale", post(scale))
        .route("/api/swarm/services/{id}/update", post(update))
        .route("/api/swarm/services/{id}/rollback", post(rollback))
        .route("/api/swarm/nodes/{id}/{action}", post(node_act))
        .route("/api/swarm/secrets", get(secrets).post(create_secret))
        .route(
            "/api/swarm/secrets/{id}",
            axum::routing::delete(remove_secret),
        )
        .route("/api/swarm/configs", get(configs).post(create_config))
        .route(
            "/api/swarm/configs/{id}",
            axum::routing::delete(remove_config),
        )
}

#[utoipa::path(
    get, path = "/api/swarm", tag = "swarm",
    responses((status = 200, description = "What the engine is in swarm terms (from the live mirror)", body = SwarmStatus))
)]
async fn status(ep: Ep) -> Json<SwarmStatus> {
    Json(swarm::status(&ep))
}

#[utoipa::path(
    get, path = "/api/swarm/nodes", tag = "swarm",
    responses((status = 200, description = "The swarm's nodes", body = Vec<NodeRow>),
        (status = 409, description = "Not a swarm manager", body = crate::error::ApiErrorBody))
)]
async fn nodes(ep: Ep) -> ApiResult<Json<Vec<NodeRow>>> {
    Ok(Json(swarm::nodes(&ep).await?))
}

#[utoipa::path(
    get, path = "/api/swarm/nodes/{id}/tasks", tag = "swarm",
    params(("id" = String, Path, description = "Node id")),
    responses((status = 200, description = "The node's tasks, newest first", body = Vec<TaskRow>))
)]
async fn node_tasks(ep: Ep, Path(id): Path<String>) -> ApiResult<Json<Vec<TaskRow>>> {
    Ok(Json(swarm::tasks(&ep, None, Some(&id)).await?))
}

#[utoipa::path(
    get, path = "/api/swarm/services", tag = "swarm",
    responses((status = 200, description = "The swarm's services, with running/desired tasks", body = Vec<ServiceRow>),
        (status = 409, description = "Not a swarm manager", body = crate::error::ApiErrorBody))
)]
async fn services(ep: Ep) -> ApiResult<Json<Vec<ServiceRow>>> {
    Ok(Json(swarm::services(&ep).await?))
}

#[utoipa::path(
    get, path = "/api/swarm/services/{id}", tag = "swarm",
    params(("id" = String, Path, description = "Service id, unique id prefix, or name")),
    responses((status = 200, description = "The service", body = ServiceRow))
)]
async fn one(ep: Ep, Path(id): Path<String>) -> ApiResult<Json<ServiceRow>> {
    Ok(Json(swarm::service(&ep, &id).await?))
}

#[utoipa::path(
    get, path = "/api/swarm/services/{id}/tasks", tag = "swarm",
    params(("id" = String, Path, description = "Service id, unique id prefix, or name")),
    responses((status = 200, description = "The service's tasks, newest first", body = Vec<TaskRow>))
)]
async fn service_tasks(ep: Ep, Path(id): Path<String>) -> ApiResult<Json<Vec<TaskRow>>> {
    let s = swarm::service(&ep, &id).await?;
    Ok(Json(swarm::tasks(&ep, Some(&s.id), None).await?))
}

/// What a create made.
#[derive(Serialize, utoipa::ToSchema)]
struct ServiceCreated {
    id: String,
}

#[utoipa::path(
    post, path = "/api/swarm/services", tag = "swarm",
    request_body = ServiceForm,
    responses((status = 201, description = "Created", body = ServiceCreated))
)]
async fn create(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    JsonBody(f): JsonBody<ServiceForm>,
) -> ApiResult<(StatusCode, Json<ServiceCreated>)> {
    let id = ops::swarm::create(&state, &ep, &actor, &f).await?;
    Ok((StatusCode::CREATED, Json(ServiceCreated { id })))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct Scale {
    /// 0 to 1000
    replicas: i64,
}

#[utoipa::path(
    post, path = "/api/swarm/services/{id}/scale", tag = "swarm",
    params(("id" = String, Path, description = "Service id, unique id prefix, or name")),
    request_body = Scale,
    responses((status = 200, description = "The service, as the engine has it now", body = ServiceRow))
)]
async fn scale(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(s): JsonBody<Scale>,
) -> ApiResult<Json<ServiceRow>> {
    Ok(Json(
        ops::swarm::scale(&state, &ep, &actor, &id, Some(s.replicas)).await?,
    ))
}

#[utoipa::path(
    delete, path = "/api/swarm/services/{id}", tag = "swarm",
    params(("id" = String, Path, description = "Service id, unique id prefix, or name")),
    responses((status = 204, description = "Removed, with its tasks"))
)]
async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    ops::swarm::remove(&state, &ep, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ImageUpdate {
    /// The image the tasks should run.
    image: String,
}

#[utoipa::path(
    post, path = "/api/swarm/services/{id}/update", tag = "swarm",
    params(("id" = String, Path, description = "Service id, unique id prefix, or name")),
    request_body = ImageUpdate,
    responses((status = 200, description = "The service, its rolling update begun", body = ServiceRow))
)]
async fn update(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(u): JsonBody<ImageUpdate>,
) -> ApiResult<Json<ServiceRow>> {
    Ok(Json(
        ops::swarm::update_image(&state, &ep, &actor, &id, &u.image).await?,
    ))
}

#[utoipa::path(
    post, path = "/api/swarm/services/{id}/rollback", tag = "swarm",
    params(("id" = String, Path, description = "Service id, unique id prefix, or name")),
    responses((status = 200, description = "The service, going back to its previous spec", body = ServiceRow),
        (status = 409, description = "No previous spec", body = crate::error::ApiErrorBody))
)]
async fn rollback(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceRow>> {
    Ok(Json(ops::swarm::rollback(&state, &ep, &actor, &id).await?))
}

#[utoipa::path(
    post, path = "/api/swarm/nodes/{id}/{action}", tag = "swarm",
    params(("id" = String, Path, description = "Node id"), ("action" = NodeAction, Path, description = "What to do (administrators)")),
    responses((status = 204, description = "Done"))
)]
async fn node_act(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let action = NodeAction::parse(&action)?;
    ops::swarm::node_act(&state, &ep, &actor, &id, action).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/api/swarm/secrets", tag = "swarm",
    responses((status = 200, description = "Secrets (names only: their data is never shown)", body = Vec<ObjectRow>))
)]
async fn secrets(ep: Ep) -> ApiResult<Json<Vec<ObjectRow>>> {
    Ok(Json(swarm::kept(&ep, Kept::Secret).await?))
}

#[utoipa::path(
    get, path = "/api/swarm/configs", tag = "swarm",
    responses((status = 200, description = "Configs", body = Vec<ObjectRow>))
)]
async fn configs(ep: Ep) -> ApiResult<Json<Vec<ObjectRow>>> {
    Ok(Json(swarm::kept(&ep, Kept::Config).await?))
}

#[utoipa::path(
    post, path = "/api/swarm/secrets", tag = "swarm",
    request_body = KeptForm,
    responses((status = 201, description = "Created (administrators)", body = ServiceCreated))
)]
async fn create_secret(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    JsonBody(f): JsonBody<KeptForm>,
) -> ApiResult<(StatusCode, Json<ServiceCreated>)> {
    let id = ops::swarm::create_kept(&state, &ep, &actor, Kept::Secret, &f).await?;
    Ok((StatusCode::CREATED, Json(ServiceCreated { id })))
}

#[utoipa::path(
    post, path = "/api/swarm/configs", tag = "swarm",
    request_body = KeptForm,
    responses((status = 201, description = "Created (administrators)", body = ServiceCreated))
)]
async fn create_config(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    JsonBody(f): JsonBody<KeptForm>,
) -> ApiResult<(StatusCode, Json<ServiceCreated>)> {
    let id = ops::swarm::create_kept(&state, &ep, &actor, Kept::Config, &f).await?;
    Ok((StatusCode::CREATED, Json(ServiceCreated { id })))
}

#[utoipa::path(
    delete, path = "/api/swarm/secrets/{id}", tag = "swarm",
    params(("id" = String, Path, description = "Secret id or name")),
    responses((status = 204, description = "Removed (administrators)"))
)]
async fn remove_secret(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    ops::swarm::remove_kept(&state, &ep, &actor, Kept::Secret, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete, path = "/api/swarm/configs/{id}", tag = "swarm",
    params(("id" = String, Path, description = "Config id or name")),
    responses((status = 204, description = "Removed (administrators)"))
)]
async fn remove_config(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    ops::swarm::remove_kept(&state, &ep, &actor, Kept::Config, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The service's log, merged across its tasks by the engine: `?tail=N|all` (default all),
/// `since`, `timestamps`, `no_stdout`, `no_stderr`.
#[utoipa::path(
    get, path = "/api/swarm/services/{id}/logs", tag = "swarm",
    params(("id" = String, Path, description = "Service id, unique id prefix, or name"), crate::engine::logs::LogQuery),
    responses((status = 200, description = "The log, one line per line (every task's)", content_type = "text/plain", body = String))
)]
async fn service_logs(
    ep: Ep,
    Path(id): Path<String>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    use futures_util::StreamExt;
    let (q, _) = crate::http::query::parse_query(raw.as_deref())?;
    let s = swarm::service(&ep, &id).await?;
    let lines = crate::engine::logs::service_lines(&ep, &s.id, q.options(false, "all")?)?;
    let body = lines.map(|l| {
        l.map(|l| {
            let mut t = l.text;
            t.push('\n');
            t
        })
        .map_err(|e: crate::error::Error| std::io::Error::other(e.to_string()))
    });
    let mut resp = axum::body::Body::from_stream(body).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(resp)
}
