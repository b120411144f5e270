//! `/settings`: Berth's own settings, key and value, kept in the `settings` table of its data
//! folder (so they outlive its container). Every change is audited.
//!
//! The mechanism is deliberately small: a setting is a short text under a dotted key; the
//! features that read one validate its value where they use it.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;

use super::{Chrome, action_response, render};
use crate::AppState;
use crate::auth::{Client, CurrentUser};
use crate::error::{Error, Result};
use crate::web::scope::Ep;

pub const MAX_KEY_LEN: usize = 64;
pub const MAX_VALUE_LEN: usize = 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/settings", get(page).post(submit))
}

/// A key is 1 to 64 of `a-z 0-9 . _ -`, starting with a letter (`ui.theme`).
pub fn validate(key: &str, value: &str) -> Result<()> {
    let key_ok = key.len() <= MAX_KEY_LEN
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !key_ok {
        return Err(Error::invalid(
            "key",
            format!(
                "A setting's key has 1 to {MAX_KEY_LEN} characters a-z, 0-9, '.', '_' or '-' and starts with a letter."
            ),
        ));
    }
    if value.chars().count() > MAX_VALUE_LEN {
        return Err(Error::invalid(
            "value",
            format!("A setting's value has at most {MAX_VALUE_LEN} characters."),
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(
            "value",
            "A setting's value is one line of text without control characters.",
        ));
    }
    Ok(())
}

/// Validates, stores and audits one setting.
pub async fn set(
    state: &AppState,
    user: &CurrentUser,
    client: &Client,
    key: &str,
    value: &str,
) -> Result<()> {
    if let Err(e) = validate(key, value) {
        state
            .audit(
                Some(&user.username),
                client,
                "setting",
                Some(key),
                &format!("refused: {e}"),
            )
            .await;
        return Err(e);
    }
    state.store.set_setting(key, value).await?;
    state
        .audit(Some(&user.username), client, "setting", Some(key), "ok")
        .await;
    Ok(())
}

#[derive(Template)]
#[template(path = "settings.html")]
struct Page {
    chrome: Chrome,
    settings: Vec<(String, String)>,
}

async fn page(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response> {
    render(&Page {
        chrome: Chrome::new(&user, &ep, "settings"),
        settings: state.store.settings().await?,
    })
}

#[derive(Deserialize)]
struct SetForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

async fn submit(
    State(state): State<AppState>,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<SetForm>,
) -> Response {
    let client = Client(ci.ip().to_string());
    let key = f.key.trim();
    let outcome = set(&state, &user, &client, key, &f.value)
        .await
        .map(|()| format!("Setting {key} saved."));
    action_response(&headers, "/settings", outcome)
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn keys_and_values_are_checked() {
        assert!(validate("ui.theme", "dark").is_ok());
        assert!(validate("", "x").is_err());
        assert!(validate("Ui", "x").is_err());
        assert!(validate("1ui", "x").is_err());
        assert!(validate("ui theme", "x").is_err());
        assert!(validate(&"a".repeat(65), "x").is_err());
        assert!(validate("ui.theme", &"v".repeat(1025)).is_err());
        assert!(validate("ui.theme", "two\nlines").is_err());
    }
}
