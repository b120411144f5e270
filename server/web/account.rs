//! First-run setup, login and logout.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;

use super::render;
use crate::AppState;
use crate::auth::{self, Client, CurrentUser};
use crate::error::{Error, Result};
use crate::https::Secure;

pub fn public_router() -> Router<AppState> {
    Router::new()
        .route("/setup", get(setup_page).post(setup_submit))
        .route("/login", get(login_page).post(login_submit))
}

pub fn protected_router() -> Router<AppState> {
    Router::new().route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    closed: Option<String>,
    username: String,
    error: Option<String>,
    field: &'static str,
    min_len: usize,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    username: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

fn client(ci: &ConnectInfo<SocketAddr>) -> Client {
    Client(ci.0.ip().to_string())
}

fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// 303 to `to` with the session cookie set.
fn logged_in(state: &AppState, token: &str, to: &str, secure: Secure) -> Response {
    let cookie = auth::session_cookie(token, state.config.session_idle, secure.0);
    let mut r = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn setup_page(State(state): State<AppState>) -> Result<Response> {
    let closed = auth::setup_closed_reason(&state).await?;
    if closed.is_some() && state.store.user_count().await? > 0 {
        return Ok(Redirect::to("/login").into_response());
    }
    let status = if closed.is_some() {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    let page = SetupPage {
        closed,
        username: "admin".into(),
        error: None,
        field: "",
        min_len: auth::MIN_PASSWORD_LEN,
    };
    Ok((status, render(&page)?).into_response())
}

async fn setup_submit(
    State(state): State<AppState>,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    secure: Secure,
    headers: HeaderMap,
    Form(f): Form<SetupForm>,
) -> Result<Response> {
    match auth::setup(
        &state,
        &client(&ConnectInfo(ci)),
        user_agent(&headers),
        f.username.trim(),
        &f.password,
        &f.password_confirm,
    )
    .await
    {
        Ok(token) => Ok(logged_in(&state, &token, "/", secure)),
        Err(Error::Forbidden(reason)) => {
            let page = SetupPage {
                closed: Some(reason),
                username: f.username,
                error: None,
                field: "",
                min_len: auth::MIN_PASSWORD_LEN,
            };
            Ok((StatusCode::FORBIDDEN, render(&page)?).into_response())
        }
        Err(e @ Error::Invalid { .. }) => {
            let page = SetupPage {
                closed: None,
                username: f.username,
                field: e.field().unwrap_or(""),
                error: Some(e.public_message()),
                min_len: auth::MIN_PASSWORD_LEN,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    if state.store.user_count().await? == 0 {
        return Ok(Redirect::to("/setup").into_response());
    }
    if auth::current_user(&state, &headers).await?.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    render(&LoginPage {
        username: String::new(),
        error: None,
    })
}

async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    secure: Secure,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response> {
    match auth::login(
        &state,
        &client(&ConnectInfo(ci)),
        user_agent(&headers),
        f.username.trim(),
        &f.password,
    )
    .await
    {
        Ok(token) => Ok(logged_in(&state, &token, "/", secure)),
        Err(e @ (Error::Invalid { .. } | Error::Throttled { .. } | Error::Busy { .. })) => {
            let status = match &e {
                Error::Throttled { .. } | Error::Busy { .. } => StatusCode::TOO_MANY_REQUESTS,
                Error::Invalid {
                    field: "username", ..
                } => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::UNAUTHORIZED,
            };
            let message = match &e {
                Error::Throttled { retry_after } => format!(
                    "Too many failed logins from this address or for this user. Try again in {retry_after} seconds."
                ),
                other => other.public_message(),
            };
            // A name that cannot be one is not echoed back (it may be 256 KiB).
            let username = if auth::plausible_login_name(f.username.trim()).is_ok() {
                f.username
            } else {
                String::new()
            };
            let page = LoginPage {
                username,
                error: Some(message),
            };
            Ok((status, render(&page)?).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn logout(
    State(state): State<AppState>,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    secure: Secure,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response> {
    auth::logout(&state, &client(&ConnectInfo(ci)), &user).await?;
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::session_cookie(
        "",
        state.config.session_idle,
        secure.0,
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}
