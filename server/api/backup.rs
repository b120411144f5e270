//! `POST /api/backup` (admin): the encrypted archive of Berth's state; `POST /api/restore`
//! (a fresh Berth only, no login): multipart `file` + `passphrase` → 204.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiResult;
use crate::http::backup::{download, restore_form};
use crate::http::bodies::JsonBody;
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

/// The passphrase the archive is encrypted with (never in the URL).
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = BackupRequest)]
struct Body {
    #[serde(default)]
    passphrase: String,
}

#[utoipa::path(
    post, path = "/api/backup", tag = "backup",
    request_body = Body,
    responses((status = 200, description = "The encrypted archive (age, with the passphrase)", content_type = "application/octet-stream", body = Vec<u8>))
)]
async fn create(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(b): JsonBody<Body>,
) -> ApiResult<Response> {
    let (file, name) = backup::create(&state, &actor, &b.passphrase).await?;
    Ok(download(file, &name).await?)
}

#[utoipa::path(
    post, path = "/api/restore", tag = "backup",
    request_body(content = RestoreUpload, content_type = "multipart/form-data"),
    responses((status = 204, description = "Restored (a fresh Berth only)")),
    security(())
)]
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

/// The multipart form of `POST /api/restore` (its schema; the fields are read as they stream).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct RestoreUpload {
    /// The archive `POST /api/backup` made.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The passphrase it was made with.
    passphrase: String,
}
