//! `/users` (administrators): add users with a role, change the role, disable or enable,
//! reset a password, delete. Each form calls one `ops::users` function; an error re-renders
//! the page with the sentence, a success goes back to the list.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;

use super::{Chrome, render};
use crate::AppState;
use crate::auth::{CurrentUser, MIN_PASSWORD_LEN};
use crate::error::{Error, Result};
#[allow(unused_imports)]
use crate::fmt;
use crate::http::scope::Ep;
use crate::ops::{Actor, users};
use crate::store::UserInfo;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(page).post(create))
        .route("/users/{id}", post(update))
        .route("/users/{id}/password", post(reset_password))
        .route("/users/{id}/delete", post(remove))
}

#[derive(Template)]
#[template(path = "users.html")]
struct Page {
    chrome: Chrome,
    users: Vec<UserInfo>,
    me: i64,
    error: Option<String>,
    min_len: usize,
}

async fn show(
    state: &AppState,
    ep: &Ep,
    user: &CurrentUser,
    outcome: Result<()>,
) -> Result<Response> {
    match outcome {
        Ok(()) => Ok(Redirect::to("/users").into_response()),
        Err(e) => {
            let status = e.status();
            if status.is_server_error() {
                return Err(e);
            }
            let page = Page {
                chrome: Chrome::new(user, ep, "users"),
                users: state.store.users().await?,
                me: user.id,
                error: Some(e.public_message()),
                min_len: MIN_PASSWORD_LEN,
            };
            Ok((status, render(&page)?).into_response())
        }
    }
}

async fn page(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response> {
    render(&Page {
        chrome: Chrome::new(&user, &ep, "users"),
        users: state.store.users().await?,
        me: user.id,
        error: None,
        min_len: MIN_PASSWORD_LEN,
    })
}

#[derive(Deserialize)]
struct NewUser {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
}

async fn create(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Extension(user): Extension<CurrentUser>,
    Form(f): Form<NewUser>,
) -> Result<Response> {
    let r = users::create(
        &state.store,
        &actor,
        f.username.trim(),
        &f.password,
        &f.role,
    )
    .await
    .map(|_| ());
    show(&state, &ep, &user, r).await
}

#[derive(Deserialize)]
struct Change {
    /// `role`, `disable` or `enable`.
    #[serde(default)]
    action: String,
    role: Option<String>,
}

async fn update(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<i64>,
    Form(f): Form<Change>,
) -> Result<Response> {
    let u = match f.action.as_str() {
        "role" => Some(users::Update {
            role: Some(f.role.unwrap_or_default()),
            ..Default::default()
        }),
        "disable" => Some(users::Update {
            disabled: Some(true),
            ..Default::default()
        }),
        "enable" => Some(users::Update {
            disabled: Some(false),
            ..Default::default()
        }),
        _ => None,
    };
    let r = match u {
        Some(u) => users::update(&state.store, &actor, id, &u).await,
        None => Err(Error::invalid(
            "action",
            "Choose a role, disable or enable.",
        )),
    };
    show(&state, &ep, &user, r).await
}

#[derive(Deserialize)]
struct Reset {
    #[serde(default)]
    password: String,
}

async fn reset_password(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<i64>,
    Form(f): Form<Reset>,
) -> Result<Response> {
    let u = users::Update {
        password: Some(f.password),
        ..Default::default()
    };
    let r = users::update(&state.store, &actor, id, &u).await;
    show(&state, &ep, &user, r).await
}

async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> Result<Response> {
    let r = users::delete(&state.store, &actor, id).await;
    if r.is_ok() && id == user.id {
        // Deleting oneself ends one's own session too.
        return Ok(Redirect::to("/login").into_response());
    }
    show(&state, &ep, &user, r).await
}
