//! Stats pages: `/containers/{id}/stats` (live charts over SSE) and the compact CPU · memory
//! cell that the container list loads for running containers. Both join the endpoint's
//! [`StatsHub`](crate::engine::stats::StatsHub): however many look, one engine stream per
//! container.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::{Chrome, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::stats::{Sample, Watch};
use crate::error::{Error, Result};
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/stats", get(page))
        .route("/containers/{id}/stats/stream", get(stream))
        .route("/containers/{id}/stats/cell", get(cell))
}

#[derive(Template)]
#[template(path = "container_stats.html")]
struct StatsPage {
    chrome: Chrome,
    id: String,
    name: String,
    tab: &'static str,
    running: bool,
    state: String,
    /// A Windows engine: memory is the private working set, no process count.
    windows: bool,
}

async fn page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(key): Path<String>,
) -> Result<Response> {
    let c = crate::engine::containers::find(&ep, &key)
        .ok_or_else(|| Error::NotFound(format!("No container `{key}` on this engine.")))?;
    render(&StatsPage {
        chrome: Chrome::new(&user, &ep, "containers"),
        id: c.id.clone(),
        name: c.name.clone(),
        tab: "stats",
        running: c.state == "running",
        state: c.state.clone(),
        windows: crate::engine::windows::on_windows(&ep),
    })
}

/// `history` (the samples the feed kept), then one `sample` per engine sample; `end` when
/// the container stops, `failure` (`{error}`) when the feed cannot be joined.
async fn stream(State(state): State<AppState>, ep: Ep, Path(key): Path<String>) -> Response {
    sse(
        crate::engine::containers::watch_stats(&ep, &key),
        state.shutdown.clone(),
    )
    .into_response()
}

fn sse(
    joined: Result<Watch>,
    stop: CancellationToken,
) -> Sse<impl Stream<Item = std::result::Result<Event, Infallible>>> {
    let s = async_stream::stream! {
        let Watch { history, mut rx } = match joined {
            Ok(w) => w,
            Err(e) => {
                let body = serde_json::json!({"error": e.public_message(), "field": e.field()});
                yield Ok(Event::default().event("failure").data(body.to_string()));
                return;
            }
        };
        if let Ok(ev) = Event::default().event("history").json_data(&history) {
            yield Ok(ev);
        }
        loop {
            let r = tokio::select! {
                _ = stop.cancelled() => break,
                r = rx.recv() => r,
            };
            match r {
                Ok(s) => {
                    if let Ok(ev) = Event::default().event("sample").json_data(&*s) {
                        yield Ok(ev);
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => {
                    yield Ok(Event::default().event("end").data("the stats stream ended"));
                    break;
                }
            }
        }
    };
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
}

/// The list's compact cell: "CPU % · memory" of a running container, or nothing.
async fn cell(ep: Ep, Path(key): Path<String>) -> Response {
    let sample: Result<Arc<Sample>> = async {
        crate::engine::containers::watch_stats(&ep, &key)?
            .current(Duration::from_secs(4))
            .await
    }
    .await;
    let html = match sample {
        Ok(s) => format!(
            "<span class=\"stat-cell\" title=\"CPU · memory in use\">{:.1} % · {}</span>",
            s.cpu_percent,
            crate::fmt::size(s.memory_usage as i64)
        ),
        Err(_) => "<span class=\"muted\">—</span>".to_string(),
    };
    Html(html).into_response()
}
