//! `/`: the engine at a glance, and its disk usage as a chart.

use std::sync::Arc;

use askama::Template;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};

use super::{Chrome, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::system::{self, DiskUsage, InfoView};
use crate::error::Result;
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/dashboard/disk", get(disk))
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Page {
    chrome: Chrome,
    info: InfoView,
    swarm: crate::engine::swarm::SwarmStatus,
}

async fn page(ep: Ep, Extension(user): Extension<CurrentUser>) -> Result<Response> {
    render(&Page {
        chrome: Chrome::new(&user, &ep, "dashboard"),
        info: system::info(&ep),
        swarm: crate::engine::swarm::status(&ep),
    })
}

#[derive(Template)]
#[template(path = "dashboard_disk.html")]
struct Disk {
    du: Option<Arc<DiskUsage>>,
    error: Option<String>,
}

/// The disk usage chart, loaded after the page (it may take the engine a moment).
async fn disk(ep: Ep) -> Result<Response> {
    match ep.disk.get(&ep).await {
        Ok(du) => render(&Disk {
            du: Some(du),
            error: None,
        }),
        Err(e) => render(&Disk {
            du: None,
            error: Some(e.public_message()),
        }),
    }
}
