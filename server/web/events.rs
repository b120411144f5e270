//! `/events`: the engine's events live, from the mirror's ring (no engine call per view);
//! `/events/rows` is the table's body, fetched again when the ring takes an event (the `/live`
//! topic `events`) unless the viewer paused it; `/containers/{id}/events` is a container's tab.

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};

use super::{Chrome, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::events::{self, EngineEvent};
use crate::error::Result;
use crate::http::scope::Ep;

/// Rows a page shows (the API gives up to the ring's size).
pub const SHOWN: usize = 300;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(page))
        .route("/events/rows", get(rows))
        .route("/containers/{id}/events", get(container_tab))
}

/// The rows, newest first; or the reason the filter does not read.
fn newest_first(ep: &Ep, q: &events::Query) -> (Vec<EngineEvent>, Option<String>) {
    let mut q = q.clone();
    q.limit = Some(q.limit.unwrap_or(SHOWN).clamp(1, SHOWN));
    match events::list(ep, &q) {
        Ok(mut rows) => {
            rows.reverse();
            (rows, None)
        }
        Err(e) => (Vec::new(), Some(e.public_message())),
    }
}

#[derive(Template)]
#[template(path = "events.html")]
struct Page {
    chrome: Chrome,
    q: events::Query,
    types: &'static [&'static str],
    ev_rows: Vec<EngineEvent>,
    ev_error: Option<String>,
    with_object: bool,
    kept: usize,
}

async fn page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<events::Query>,
) -> Result<Response> {
    let (rows, error) = newest_first(&ep, &q);
    render(&Page {
        chrome: Chrome::new(&user, &ep, "events"),
        kept: ep.events.len(),
        q,
        types: &events::TYPES,
        ev_rows: rows,
        ev_error: error,
        with_object: true,
    })
}

#[derive(Template)]
#[template(path = "events_rows.html")]
struct Rows {
    chrome: Chrome,
    ev_rows: Vec<EngineEvent>,
    ev_error: Option<String>,
    /// The `object` column is shown (not on one object's tab).
    with_object: bool,
}

async fn rows(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<events::Query>,
) -> Result<Response> {
    let (rows, error) = newest_first(&ep, &q);
    render(&Rows {
        chrome: Chrome::new(&user, &ep, "events"),
        ev_rows: rows,
        ev_error: error,
        with_object: q.object.trim().is_empty(),
    })
}

#[derive(Template)]
#[template(path = "container_events.html")]
struct ContainerTab {
    chrome: Chrome,
    id: String,
    name: String,
    tab: &'static str,
    ev_rows: Vec<EngineEvent>,
    ev_error: Option<String>,
    with_object: bool,
}

async fn container_tab(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(key): Path<String>,
) -> Result<Response> {
    let (id, name) = super::anatomy::ident(&ep, &key).await?;
    let (rows, error) = newest_first(
        &ep,
        &events::Query {
            object: id.clone(),
            ..Default::default()
        },
    );
    render(&ContainerTab {
        chrome: Chrome::new(&user, &ep, "containers"),
        id,
        name,
        tab: "events",
        ev_rows: rows,
        ev_error: error,
        with_object: false,
    })
}

/// The last events of one object (an image, network or volume page's section), newest first.
pub fn of_object(ep: &Ep, names: &[&str]) -> Vec<EngineEvent> {
    let f = events::Filter {
        objects: names
            .iter()
            .filter(|n| !n.is_empty())
            .map(|n| n.to_string())
            .collect(),
        ..Default::default()
    };
    if f.objects.is_empty() {
        return Vec::new();
    }
    let mut rows = ep.events.query(&f, 20);
    rows.reverse();
    rows
}
