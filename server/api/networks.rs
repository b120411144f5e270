//! `/api/networks`: create, remove, connect, disconnect, drivers, prune (preview with GET).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::network_spec::NetworkSpec;
use crate::engine::networks::{self, ConnectSpec};
use crate::engine::prune::{LabelFilter, PruneForm, PruneOutcome, PrunePreview};
use crate::error::{ApiResult, Error};
use crate::web::acts::{audited, client};
use crate::web::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/networks", post(create))
        .route("/api/networks/drivers", get(drivers))
        .route("/api/networks/prune", get(preview).post(prune))
        .route("/api/networks/{id}", get(inspect).delete(remove))
        .route("/api/networks/{id}/connect", post(connect))
        .route("/api/networks/{id}/disconnect", post(disconnect))
}

/// The body as JSON; a body that is not gets a 422 naming it.
pub fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::invalid(
            "body",
            format!("The request body is not the expected JSON: {e}"),
        )
    })
}

/// [`body`], where an empty body means every field's default (prune takes no options by default).
pub fn body_or_default<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.is_empty() {
        Ok(T::default())
    } else {
        body(bytes)
    }
}

async fn create(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    raw: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let spec: NetworkSpec = body(&raw)?;
    let r = networks::create(&ep, &spec).await;
    let id = audited(
        &state,
        &ep,
        &user,
        &client(ci),
        "network.create",
        spec.name.trim(),
        r,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

async fn drivers(ep: Ep) -> Json<Vec<String>> {
    Json(networks::drivers(&ep))
}

async fn inspect(
    ep: Ep,
    Path(id): Path<String>,
) -> ApiResult<Json<bollard::models::NetworkInspect>> {
    Ok(Json(networks::inspect(&ep, &id).await?))
}

async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let name = networks::find(&ep, &id)
        .map(|n| n.name.clone())
        .unwrap_or_else(|| id.clone());
    let r = networks::remove(&ep, &id).await;
    audited(&state, &ep, &user, &client(ci), "network.remove", &name, r).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn connect(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let spec: ConnectSpec = body(&raw)?;
    let r = networks::connect(&ep, &id, &spec).await;
    let target = format!("{} → {id}", spec.container);
    audited(
        &state,
        &ep,
        &user,
        &client(ci),
        "network.connect",
        &target,
        r,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn disconnect(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let spec: ConnectSpec = body(&raw)?;
    let r = networks::disconnect(&ep, &id, &spec).await;
    let target = format!("{} ← {id}", spec.container);
    audited(
        &state,
        &ep,
        &user,
        &client(ci),
        "network.disconnect",
        &target,
        r,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn preview(ep: Ep, Query(f): Query<PruneForm>) -> ApiResult<Json<PrunePreview>> {
    let label = LabelFilter::parse(&f.label)?;
    Ok(Json(networks::prune_preview(&ep, label.as_ref())))
}

async fn prune(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    raw: axum::body::Bytes,
) -> ApiResult<Json<PruneOutcome>> {
    let f: PruneForm = body_or_default(&raw)?;
    let label = LabelFilter::parse(&f.label)?;
    let r = networks::prune(&ep, label.as_ref()).await;
    Ok(Json(
        audited(
            &state,
            &ep,
            &user,
            &client(ci),
            "network.prune",
            &f.label,
            r,
        )
        .await?,
    ))
}
