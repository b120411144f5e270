//! `/images` and `/images/{id}` (inspect summary and the history, one row per layer).

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};

use super::{Chrome, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::images::{self, ImageDetail, ImageRow};
use crate::error::{Error, Result};
use crate::web::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/images", get(list_page))
        .route("/images/{id}", get(detail))
}

#[derive(serde::Deserialize, Default)]
pub struct Q {
    #[serde(default)]
    pub q: String,
}

#[derive(Template)]
#[template(path = "images.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    rows: Vec<ImageRow>,
}

async fn list_page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<Q>,
) -> Result<Response> {
    render(&ListPage {
        chrome: Chrome::new(&user, &ep, "images"),
        rows: images::list(&ep, &q.q),
        q: q.q,
    })
}

#[derive(Template)]
#[template(path = "image.html")]
struct DetailPage {
    chrome: Chrome,
    id: String,
    d: ImageDetail,
    tags: Vec<String>,
    layers: usize,
    raw: String,
}

async fn detail(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Response> {
    let d = images::detail(&ep, &id).await?;
    let raw = serde_json::to_string_pretty(&d.inspect)
        .map_err(|e| Error::internal(format!("inspect json: {e}")))?;
    let tags = d.inspect.repo_tags.clone().unwrap_or_default();
    let layers = d
        .inspect
        .root_fs
        .as_ref()
        .and_then(|r| r.layers.as_ref())
        .map(|l| l.len())
        .unwrap_or(0);
    render(&DetailPage {
        chrome: Chrome::new(&user, &ep, "images"),
        id: d.inspect.id.clone().unwrap_or(id),
        d,
        tags,
        layers,
        raw,
    })
}
