//! `/volumes` and `/volumes/{name}`: driver, mountpoint, labels, containers using it.

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};

use super::images::Q;
use super::{Chrome, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::volumes::{self, VolumeRow};
use crate::error::Result;
use crate::web::scope::Ep;

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
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<Q>,
) -> Result<Response> {
    render(&ListPage {
        chrome: Chrome::new(&user, &ep, "volumes"),
        rows: volumes::list(&ep, &q.q),
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
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(name): Path<String>,
) -> Result<Response> {
    let v = volumes::get(&ep, &name)?;
    render(&DetailPage {
        chrome: Chrome::new(&user, &ep, "volumes"),
        v,
    })
}
