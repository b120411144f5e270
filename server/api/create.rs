//! `POST /api/containers` (create), and the identity changes of one container: rename, commit,
//! and duplicate/edit (`GET …/spec` gives the form, `POST …/recreate` applies it).

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Client, CurrentUser};
use crate::engine::create::{self, CreateSpec, Created};
use crate::error::{ApiResult, Error, Result};
use crate::web::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/containers", post(create_one))
        .route("/api/containers/{id}/spec", get(spec))
        .route("/api/containers/{id}/recreate", post(recreate))
        .route("/api/containers/{id}/rename", post(rename))
        .route("/api/containers/{id}/commit", post(commit))
}

/// A JSON body, or a 422 that says what is wrong with it.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    let bad = |e: String| {
        Error::invalid(
            "body",
            format!("The request body is not the expected JSON: {e}"),
        )
    };
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    // serde would read an array into a struct's fields in order: only objects are meant.
    if !v.is_object() {
        return Err(bad("expected an object {…}".into()));
    }
    serde_json::from_value(v).map_err(|e| bad(e.to_string()))
}

async fn create_one(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let spec: CreateSpec = parse_json(&body)?;
    let r = create::create(&ep, &spec).await;
    audit(&state, &ep, &user, &ci, "container.create", &spec.name, &r).await;
    Ok((StatusCode::CREATED, Json(r?)))
}

async fn spec(ep: Ep, Path(id): Path<String>) -> ApiResult<Json<CreateSpec>> {
    Ok(Json(create::spec_of(&ep, &id).await?.1))
}

async fn recreate(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Created>> {
    let spec: CreateSpec = parse_json(&body)?;
    let r = create::recreate(&ep, &id, &spec).await;
    audit(&state, &ep, &user, &ci, "container.recreate", &id, &r).await;
    Ok(Json(r?))
}

#[derive(Deserialize)]
struct RenameBody {
    #[serde(default)]
    name: String,
}

async fn rename(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let b: RenameBody = parse_json(&body)?;
    let r = create::rename(&ep, &id, &b.name).await;
    audit(
        &state,
        &ep,
        &user,
        &ci,
        "container.rename",
        &format!("{id} → {}", b.name),
        &r,
    )
    .await;
    r?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct CommitBody {
    #[serde(default)]
    repo: String,
    #[serde(default)]
    message: String,
}

async fn commit(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let b: CommitBody = parse_json(&body)?;
    let r = create::commit(&ep, &id, &b.repo, &b.message).await;
    audit(
        &state,
        &ep,
        &user,
        &ci,
        "container.commit",
        &format!("{id} → {}", b.repo),
        &r,
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": r?, "repo": b.repo })),
    ))
}

/// Writes the audit row of an action on this endpoint.
pub async fn audit<T>(
    state: &AppState,
    ep: &Ep,
    user: &CurrentUser,
    ci: &SocketAddr,
    action: &str,
    target: &str,
    r: &Result<T>,
) {
    let outcome = match r {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("failed: {e}"),
    };
    state
        .audit_on(
            Some(&ep.name),
            Some(&user.username),
            &Client(ci.ip().to_string()),
            action,
            Some(target),
            &outcome,
        )
        .await;
}
