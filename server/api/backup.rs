//! `POST /api/backup` (admin): the encrypted archive of Berth's state; `POST /api/restore`
//! (a fresh Berth only, no login): multipart `file` + `passphrase` → 204.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiResult;
use crate::http::backup::{download, restore_form};
use crate::http::request::client;
use crate::ops::Actor;
use crate::ops::backup;

/// Behind the login guard (the API's).
pub fn router() -> Router<AppState> {
    Router::new().route("/api/backup", post(create))
}

/// Before any login: only a Berth without users answers it.
pub fn public_router() -> Router<AppState> {
    Router::new()
        .route("/api/restore", post(restore))
        .layer(DefaultBodyLimit::disable())
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    passphrase: String,
}

async fn create(
    State(state): State<AppState>,
    actor: Actor,
    Json(b): Json<Body>,
) -> ApiResult<Response> {
    let (file, name) = backup::create(&state, &actor, &b.passphrase).await?;
    Ok(download(file, &name).await?)
}

async fn restore(
    State(state): State<AppState>,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    form: Multipart,
) -> ApiResult<StatusCode> {
    // Refused before the upload is read when this Berth has users.
    backup::check_fresh(&state.store).await?;
    let f = restore_form(&state, form).await?;
    backup::restore_running(&state, &client(ci), &f.file.0, &f.passphrase).await?;
    Ok(StatusCode::NO_CONTENT)
}
