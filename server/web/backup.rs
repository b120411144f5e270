//! The backup download on the settings page, and "restore from a backup" beside the setup
//! form of a fresh Berth.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, Multipart, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use serde::Deserialize;

use crate::AppState;
use crate::error::Result;
use crate::http::backup::{download, restore_form};
use crate::http::request::client;
use crate::ops::Actor;
use crate::ops::backup;

pub fn protected_router() -> Router<AppState> {
    Router::new().route("/settings/backup", post(create))
}

pub fn public_router() -> Router<AppState> {
    Router::new()
        .route("/setup/restore", post(restore))
        .layer(DefaultBodyLimit::disable())
}

#[derive(Deserialize)]
struct BackupForm {
    #[serde(default)]
    passphrase: String,
}

async fn create(
    State(state): State<AppState>,
    actor: Actor,
    Form(f): Form<BackupForm>,
) -> Result<Response> {
    let (file, name) = backup::create(&state, &actor, &f.passphrase).await?;
    download(file, &name).await
}

async fn restore(
    State(state): State<AppState>,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    form: Multipart,
) -> Result<Response> {
    backup::check_fresh(&state.store).await?;
    let f = restore_form(&state, form).await?;
    backup::restore_running(&state, &client(ci), &f.file.0, &f.passphrase).await?;
    Ok(Redirect::to("/login").into_response())
}
