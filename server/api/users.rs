//! `/api/users` (admins), `/api/tokens` and `/api/account` (every user, their own).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiResult, Error};
use crate::ops::{Actor, account, tokens, users};
use crate::store::{ApiTokenRow, SessionInfo, UserInfo};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users", get(list).post(create))
        .route("/api/users/{id}", put(update).delete(remove))
        .route("/api/tokens", get(list_tokens).post(create_token))
        .route("/api/tokens/{id}", delete(revoke_token))
        .route("/api/account/password", post(change_password))
        .route("/api/account/sessions", get(sessions))
        .route("/api/account/sessions/{id}", delete(revoke_session))
}

/// A JSON body read by serde; a missing or mistyped field is a 422 that names it.
fn body<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, Error> {
    let de = &mut serde_json::Deserializer::from_slice(raw);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = match e.path().iter().next() {
            Some(serde_path_to_error::Segment::Map { key }) => match key.as_str() {
                "username" => "username",
                "password" => "password",
                "role" => "role",
                "disabled" => "disabled",
                "name" => "name",
                "expires_in_days" => "expires_in_days",
                "current" => "current",
                "new" => "new",
                _ => "body",
            },
            _ => missing_field(&e.inner().to_string()),
        };
        Error::invalid(field, format!("The JSON body does not read: {}", e.inner()))
    })
}

/// serde names a missing field only in its message ("missing field `x`").
fn missing_field(message: &str) -> &'static str {
    for f in ["username", "password", "role", "name", "current", "new"] {
        if message.contains(&format!("`{f}`")) {
            return f;
        }
    }
    "body"
}

#[utoipa::path(
    get, path = "/api/users", tag = "users",
    responses((status = 200, description = "Every user", body = Vec<UserInfo>))
)]
async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<UserInfo>>> {
    Ok(Json(state.store.users().await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewUser {
    username: String,
    password: String,
    role: String,
}

#[utoipa::path(
    post, path = "/api/users", tag = "users",
    request_body = NewUser,
    responses((status = 201, description = "Created", body = super::NewId))
)]
async fn create(
    State(state): State<AppState>,
    actor: Actor,
    raw: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<super::NewId>)> {
    let u: NewUser = body(&raw)?;
    let id = users::create(
        &state.store,
        &actor,
        u.username.trim(),
        &u.password,
        &u.role,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(super::NewId { id })))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct Change {
    role: Option<String>,
    disabled: Option<bool>,
    password: Option<String>,
}

#[utoipa::path(
    put, path = "/api/users/{id}", tag = "users",
    params(("id" = i64, Path, description = "User id")), request_body = Change,
    responses((status = 200, description = "Changed", body = UserInfo))
)]
async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    raw: axum::body::Bytes,
) -> ApiResult<Json<UserInfo>> {
    let c: Change = body(&raw)?;
    let u = users::Update {
        role: c.role,
        disabled: c.disabled,
        password: c.password,
    };
    users::update(&state.store, &actor, id, &u).await?;
    let user = state
        .store
        .user(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("No user {id}.")))?;
    Ok(Json(user))
}

#[utoipa::path(
    delete, path = "/api/users/{id}", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 204, description = "Deleted, with their sessions and tokens"))
)]
async fn remove(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    users::delete(&state.store, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct All {
    all: Option<String>,
}

#[utoipa::path(
    get, path = "/api/tokens", tag = "tokens",
    params(All),
    responses((status = 200, description = "Your API tokens (admins: `all=1` for everyone's)", body = Vec<ApiTokenRow>))
)]
async fn list_tokens(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<All>,
) -> ApiResult<Json<Vec<ApiTokenRow>>> {
    let all = crate::input::is_on_opt(q.all.as_deref());
    if all && !user.is_admin() {
        return Err(
            Error::Forbidden("Only administrators see everyone's tokens (?all=1).".into()).into(),
        );
    }
    Ok(Json(tokens::list(&state, &user, all).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewToken {
    name: String,
    expires_in_days: Option<i64>,
}

#[utoipa::path(
    post, path = "/api/tokens", tag = "tokens",
    request_body = NewToken,
    responses((status = 201, description = "Created: the only time the token is shown", body = TokenCreated))
)]
async fn create_token(
    State(state): State<AppState>,
    actor: Actor,
    Extension(user): Extension<CurrentUser>,
    raw: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    let t: NewToken = body(&raw)?;
    let (id, token) =
        tokens::create(&state, &actor, &user, t.name.trim(), t.expires_in_days).await?;
    Ok((StatusCode::CREATED, Json(TokenCreated { id, token })))
}

#[utoipa::path(
    delete, path = "/api/tokens/{id}", tag = "tokens",
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"))
)]
async fn revoke_token(
    State(state): State<AppState>,
    actor: Actor,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    tokens::revoke(&state, &actor, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewPassword {
    current: String,
    new: String,
}

#[utoipa::path(
    post, path = "/api/account/password", tag = "account",
    request_body = NewPassword,
    responses((status = 204, description = "Changed; your other sessions end"))
)]
async fn change_password(
    State(state): State<AppState>,
    actor: Actor,
    Extension(user): Extension<CurrentUser>,
    raw: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let p: NewPassword = body(&raw)?;
    account::change_password(&state, &actor, &user, &p.current, &p.new, &p.new).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/api/account/sessions", tag = "account",
    responses((status = 200, description = "Your sessions (admins: everyone's)", body = Vec<SessionInfo>))
)]
async fn sessions(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
) -> ApiResult<Json<Vec<SessionInfo>>> {
    Ok(Json(account::sessions(&state, &user).await?))
}

#[utoipa::path(
    delete, path = "/api/account/sessions/{id}", tag = "account",
    params(("id" = i64, Path, description = "Session id")),
    responses((status = 204, description = "Ended"))
)]
async fn revoke_session(
    State(state): State<AppState>,
    actor: Actor,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    account::revoke_session(&state, &actor, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct TokenCreated {
    id: i64,
    /// The token itself: shown this once, stored only as its SHA-256.
    token: String,
}
