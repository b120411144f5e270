//! `/search?q=`: the global search box's answer, from the mirror. One hit, or one thing named
//! exactly so, goes straight to its page (`all=1` lists instead); else the hits are listed,
//! names before ids.

use askama::Template;
use axum::extract::Query;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};

use super::{Chrome, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::search::{self, Hit};
use crate::error::Result;
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new().route("/search", get(page))
}

#[derive(serde::Deserialize, Default)]
struct Q {
    #[serde(default)]
    q: String,
    #[serde(default)]
    all: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct Page {
    chrome: Chrome,
    q: String,
    hits: Vec<Hit>,
}

async fn page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<Q>,
) -> Result<Response> {
    let list = !q.all.is_empty();
    let q: String = q.q.trim().chars().take(200).collect();
    let hits = search::search(&ep, &q);
    let exact: Vec<Hit> = hits.iter().filter(|h| h.exact).cloned().collect();
    let go = match (hits.as_slice(), exact.as_slice()) {
        ([one], _) | (_, [one]) if !list => Some(one.href(&ep.base)),
        _ => None,
    };
    if let Some(href) = go {
        return Ok(Redirect::to(&href).into_response());
    }
    render(&Page {
        chrome: Chrome::new(&user, &ep, "search"),
        q,
        hits,
    })
}
