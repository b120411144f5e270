//! `/settings`: Berth's own settings, key and value, kept in the `settings` table of its data
//! folder (so they outlive its container). Every change is audited.
//!
//! The mechanism is deliberately small: a setting is a short text under a dotted key; the
//! features that read one validate its value where they use it.

use askama::Template;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;

use super::{Chrome, action_response, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::Result;
use crate::http::scope::Ep;
use crate::ops::{Actor, settings};

pub fn router() -> Router<AppState> {
    Router::new().route("/settings", get(page).post(submit))
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
    actor: Actor,
    headers: HeaderMap,
    Form(f): Form<SetForm>,
) -> Response {
    let key = f.key.trim();
    let outcome = settings::set(&state, &actor, key, &f.value)
        .await
        .map(|()| format!("Setting {key} saved."));
    action_response(&headers, "/settings", outcome)
}

#[cfg(test)]
mod tests {
    use crate::ops::settings::validate;

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
