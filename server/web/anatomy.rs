//! The detail page's engine-backed tabs: `/containers/{id}/processes` (`top`, host PIDs) and
//! `/containers/{id}/changes` (the writable layer's added / changed / deleted paths).

use askama::Template;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};

use super::{Chrome, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::anatomy::{self, Change, Top};
use crate::engine::containers;
use crate::error::{Error, Result};
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/processes", get(processes))
        .route("/containers/{id}/changes", get(changes))
}

/// Id and name of a container for the tab pages (from the mirror; the engine when it is new).
pub async fn ident(ep: &Ep, key: &str) -> Result<(String, String)> {
    if let Some(c) = containers::find(ep, key) {
        return Ok((c.id.clone(), c.name.clone()));
    }
    let c = containers::inspect(ep, key).await?;
    Ok((
        c.id.unwrap_or_default(),
        c.name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
    ))
}

#[derive(Template)]
#[template(path = "container_processes.html")]
struct ProcessesPage {
    chrome: Chrome,
    id: String,
    name: String,
    tab: &'static str,
    top: Top,
    /// Why there is no list (the container is not running).
    note: Option<String>,
}

async fn processes(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(key): Path<String>,
) -> Result<Response> {
    let (id, name) = ident(&ep, &key).await?;
    let (top, note) = match anatomy::top(&ep, &id).await {
        Ok(t) => (t, None),
        Err(e @ (Error::Conflict { .. } | Error::EngineRefused { status: 409, .. })) => {
            (Top::default(), Some(e.public_message()))
        }
        Err(e) => return Err(e),
    };
    render(&ProcessesPage {
        chrome: Chrome::new(&user, &ep, "containers"),
        id,
        name,
        tab: "processes",
        top,
        note,
    })
}

#[derive(Template)]
#[template(path = "container_changes.html")]
struct ChangesPage {
    chrome: Chrome,
    id: String,
    name: String,
    tab: &'static str,
    changes: Vec<Change>,
    counts: (usize, usize, usize),
}

async fn changes(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(key): Path<String>,
) -> Result<Response> {
    let (id, name) = ident(&ep, &key).await?;
    let changes = anatomy::changes(&ep, &id).await?;
    let count = |k: &str| changes.iter().filter(|c| c.kind == k).count();
    let counts = (count("added"), count("changed"), count("deleted"));
    render(&ChangesPage {
        chrome: Chrome::new(&user, &ep, "containers"),
        id,
        name,
        tab: "changes",
        changes,
        counts,
    })
}
