//! `/volumes` and `/volumes/{name}`: driver, mountpoint, labels, containers using it.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};

use super::images::Q;
use super::{Chrome, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::volumes::{self, VolumeRow};
use crate::error::Result;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/volumes", get(list_page))
        .route("/volumes/{name}", get(detail))
}

#[derive(Template)]
#[template(path = "volumes.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    rows: Vec<VolumeRow>,
}

async fn list_page(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<Q>,
) -> Result<Response> {
    let m = state.engines.primary();
    render(&ListPage {
        chrome: Chrome::new(&user, m, "volumes"),
        rows: volumes::list(m, &q.q),
        q: q.q,
    })
}

#[derive(Template)]
#[template(path = "volume.html")]
struct DetailPage {
    chrome: Chrome,
    v: VolumeRow,
}

async fn detail(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Path(name): Path<String>,
) -> Result<Response> {
    let m = state.engines.primary();
    let v = volumes::get(m, &name)?;
    render(&DetailPage {
        chrome: Chrome::new(&user, m, "volumes"),
        v,
    })
}
