//! Logs pages: one container's (`/containers/{id}/logs`) and several merged (`/logs?c=…&c=…`),
//! both followed live over server-sent events.
//!
//! Lines go out in batches: the lines of a burst (up to [`BATCH_LINES`] lines or
//! [`BATCH_BYTES`]) are one event, so a burst of 100k lines is a few hundred events, and the
//! engine is read only as fast as the browser takes them. Text is sent as JSON and the browser
//! puts it in text nodes (static/logs.js): log lines never become HTML.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

use super::{Chrome, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::logs::{self, LogLine, LogLines, LogQuery};
use crate::engine::views::ContainerView;
use crate::error::{Error, Result};
use crate::http::query::parse_query;
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/logs", get(page))
        .route("/containers/{id}/logs/stream", get(stream))
        .route("/logs", get(merged_page))
        .route("/logs/stream", get(merged_stream))
}

pub const BATCH_LINES: usize = 500;
pub const BATCH_BYTES: usize = 256 * 1024;
/// Longest a line waits for others to share its event.
const BATCH_WAIT: Duration = Duration::from_millis(25);
/// A pause this long ends a burst.
const GAP: Duration = Duration::from_millis(2);
/// Lines a page keeps; older ones scroll away.
pub const BROWSER_LINES: usize = 5000;

#[derive(Template)]
#[template(path = "container_logs.html")]
struct LogPage {
    chrome: Chrome,
    id: String,
    name: String,
    tab: &'static str,
    /// Where the page's stream comes from, with the options of the page's URL.
    stream: String,
    download: String,
    q: LogQuery,
    max_lines: usize,
    merged: bool,
    choices: Vec<Arc<ContainerView>>,
    chosen: Vec<String>,
}

impl LogPage {
    fn is_chosen(&self, id: &str) -> bool {
        self.chosen.iter().any(|c| c == id)
    }
}

async fn page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let (cid, name) = logs::resolve(&ep, &id)?;
    let (q, _) = parse_query(raw.as_deref())?;
    render(&LogPage {
        stream: format!("{}/containers/{cid}/logs/stream", ep.base),
        download: format!("{}/api/containers/{cid}/logs", ep.base),
        chrome: Chrome::new(&user, &ep, "containers"),
        id: cid,
        name,
        tab: "logs",
        q,
        max_lines: BROWSER_LINES,
        merged: false,
        choices: Vec::new(),
        chosen: Vec::new(),
    })
}

async fn merged_page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let (q, chosen) = parse_query(raw.as_deref())?;
    let mut choices = crate::engine::containers::list(&ep, &Default::default());
    choices.sort_by(|a, b| {
        (a.state != "running")
            .cmp(&(b.state != "running"))
            .then_with(|| a.name.cmp(&b.name))
    });
    let chosen: Vec<String> = chosen
        .iter()
        .filter_map(|c| logs::resolve(&ep, c).ok().map(|(id, _)| id))
        .collect();
    let mut stream = format!("{}/logs/stream?", ep.base);
    for c in &chosen {
        stream.push_str(&format!("c={c}&"));
    }
    render(&LogPage {
        chrome: Chrome::new(&user, &ep, "containers"),
        id: String::new(),
        name: String::new(),
        tab: "logs",
        stream,
        download: String::new(),
        q,
        max_lines: BROWSER_LINES,
        merged: true,
        choices,
        chosen,
    })
}

async fn stream(
    State(state): State<AppState>,
    ep: Ep,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let opened = (|| {
        let (q, _) = parse_query(raw.as_deref())?;
        let (cid, _) = logs::resolve(&ep, &id)?;
        logs::lines(&ep, &cid, q.options(true, "200")?)
    })();
    sse(opened, state.shutdown.clone()).into_response()
}

async fn merged_stream(State(state): State<AppState>, ep: Ep, RawQuery(raw): RawQuery) -> Response {
    let opened = (|| {
        let (q, chosen) = parse_query(raw.as_deref())?;
        if chosen.is_empty() {
            return Err(Error::invalid("c", "Choose at least one container."));
        }
        let opts = q.options(true, "100")?;
        let mut all = Vec::new();
        for c in &chosen {
            let (id, name) = logs::resolve(&ep, c)?;
            let name: Arc<str> = name.into();
            let lines = logs::lines(&ep, &id, opts.clone())?;
            all.push(lines.map(move |l| {
                l.map(|mut l| {
                    l.container = Some(name.clone());
                    l
                })
            }));
        }
        let merged: LogLines = Box::pin(futures_util::stream::select_all(all));
        Ok(merged)
    })();
    sse(opened, state.shutdown.clone()).into_response()
}

#[derive(serde::Serialize)]
struct Failure {
    error: String,
    field: Option<&'static str>,
}

/// A log stream as server-sent events: `lines` (a JSON array of `{s, t, c?}`), then `end` when
/// the engine ends the log (the container stopped), or `failure` (`{error, field}`) when it
/// could not be opened or broke off. The browser closes its EventSource on either, so that it
/// does not reconnect and replay the tail.
pub fn sse(
    opened: Result<LogLines>,
    stop: CancellationToken,
) -> Sse<impl Stream<Item = std::result::Result<Event, Infallible>>> {
    let s = async_stream::stream! {
        let mut lines = match opened {
            Ok(l) => l,
            Err(e) => {
                yield Ok(failure(&e));
                return;
            }
        };
        loop {
            let first = tokio::select! {
                _ = stop.cancelled() => break,
                l = lines.next() => l,
            };
            let mut batch: Vec<LogLine> = Vec::new();
            let mut bytes = 0;
            let mut ended = None;
            match first {
                None => ended = Some(None),
                Some(Err(e)) => ended = Some(Some(e)),
                Some(Ok(l)) => {
                    bytes += l.text.len();
                    batch.push(l);
                }
            }
            // Gather the rest of a burst: lines that follow within GAP of each other, for at
            // most BATCH_WAIT, go out as one event. A lone line waits only GAP.
            let until = tokio::time::Instant::now() + BATCH_WAIT;
            while ended.is_none() && batch.len() < BATCH_LINES && bytes < BATCH_BYTES {
                let wait = until.min(tokio::time::Instant::now() + GAP);
                match tokio::time::timeout_at(wait, lines.next()).await {
                    Err(_) => break,
                    Ok(None) => ended = Some(None),
                    Ok(Some(Err(e))) => ended = Some(Some(e)),
                    Ok(Some(Ok(l))) => {
                        bytes += l.text.len();
                        batch.push(l);
                    }
                }
            }
            if !batch.is_empty() {
                match Event::default().event("lines").json_data(&batch) {
                    Ok(ev) => yield Ok(ev),
                    Err(e) => {
                        yield Ok(failure(&Error::internal(format!("log batch: {e}"))));
                        break;
                    }
                }
            }
            match ended {
                None => {}
                Some(None) => {
                    yield Ok(Event::default().event("end").data("the log ended"));
                    break;
                }
                Some(Some(e)) => {
                    yield Ok(failure(&e));
                    break;
                }
            }
        }
    };
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(5)))
}

fn failure(e: &Error) -> Event {
    let body = Failure {
        error: e.public_message(),
        field: e.field(),
    };
    Event::default()
        .event("failure")
        .json_data(&body)
        .unwrap_or_else(|_| Event::default().event("failure").data("{}"))
}
