//! `/account`: the user's own password, sessions and API tokens (admins see and end everyone's
//! sessions). A new token is shown on the page once, right after it is made.

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
use crate::ops::{Actor, account, tokens};
use crate::store::{ApiTokenRow, SessionInfo};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(page))
        .route("/account/password", post(change_password))
        .route("/account/sessions/{id}/revoke", post(revoke_session))
        .route("/account/tokens", post(create_token))
        .route("/account/tokens/{id}/revoke", post(revoke_token))
}

#[derive(Template)]
#[template(path = "account.html")]
struct Page {
    chrome: Chrome,
    username: String,
    role: String,
    must_change: bool,
    sessions: Vec<SessionInfo>,
    tokens: Vec<ApiTokenRow>,
    /// A token just made: its only showing.
    new_token: Option<(String, String)>,
    error: Option<String>,
    field: &'static str,
    min_len: usize,
}

async fn render_page(
    state: &AppState,
    ep: &Ep,
    user: &CurrentUser,
    new_token: Option<(String, String)>,
    error: Option<&Error>,
) -> Result<Response> {
    let page = Page {
        chrome: Chrome::new(user, ep, "account"),
        username: user.username.clone(),
        role: user.role.to_string(),
        must_change: user.must_change_password,
        sessions: account::sessions(state, user).await?,
        tokens: tokens::list(state, user, false).await?,
        new_token,
        error: error.map(Error::public_message),
        field: error.and_then(Error::field).unwrap_or(""),
        min_len: MIN_PASSWORD_LEN,
    };
    let status = error.map_or(axum::http::StatusCode::OK, Error::status);
    Ok((status, render(&page)?).into_response())
}

/// Back to the page after a success; the page with the sentence after a refusal.
async fn answer(state: &AppState, ep: &Ep, user: &CurrentUser, r: Result<()>) -> Result<Response> {
    match r {
        Ok(()) => Ok(Redirect::to("/account").into_response()),
        Err(e) if e.status().is_server_error() => Err(e),
        Err(e) => render_page(state, ep, user, None, Some(&e)).await,
    }
}

async fn page(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response> {
    render_page(&state, &ep, &user, None, None).await
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

async fn change_password(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Extension(mut user): Extension<CurrentUser>,
    Form(f): Form<PasswordForm>,
) -> Result<Response> {
    let r = account::change_password(&state, &actor, &user, &f.current, &f.new, &f.confirm).await;
    if r.is_ok() {
        user.must_change_password = false;
    }
    answer(&state, &ep, &user, r).await
}

async fn revoke_session(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> Result<Response> {
    let r = account::revoke_session(&state, &actor, &user, id).await;
    answer(&state, &ep, &user, r).await
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires_in_days: String,
}

async fn create_token(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Extension(user): Extension<CurrentUser>,
    Form(f): Form<TokenForm>,
) -> Result<Response> {
    let days = match f.expires_in_days.trim() {
        "" => Ok(None),
        d => d.parse::<i64>().map(Some).map_err(|_| {
            Error::invalid(
                "expires_in_days",
                "The expiry is a number of days, or empty for never.",
            )
        }),
    };
    let name = f.name.trim();
    let r = match days {
        Ok(days) => tokens::create(&state, &actor, &user, name, days).await,
        Err(e) => Err(e),
    };
    match r {
        Ok((_, token)) => {
            render_page(&state, &ep, &user, Some((name.to_string(), token)), None).await
        }
        Err(e) => answer(&state, &ep, &user, Err(e)).await,
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> Result<Response> {
    let r = tokens::revoke(&state, &actor, &user, id).await;
    answer(&state, &ep, &user, r).await
}
