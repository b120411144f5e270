//! `/containers/{id}/console`: a terminal in the browser (xterm.js) over a websocket to an
//! engine exec with a TTY, or attached to the container's main process.
//!
//! The browser first creates the exec with a POST (so the forgery layer and the role guard see
//! it like any action), then opens `…/console/ws?exec=ID` (or `?attach=1`). Websocket upgrades
//! are GETs, which the forgery layer lets through, so the upgrade checks itself that the
//! `Origin` is this very host, and that the user may act. Resizes are POSTs to
//! `…/console/resize`; the websocket carries only the terminal's bytes, as the xterm attach
//! add-on expects.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use bollard::container::LogOutput;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use super::{Chrome, render};
use crate::AppState;
use crate::auth::{Client, CurrentUser};
use crate::engine::exec::{self, ConsoleRequest, Session};
use crate::error::{ApiError, Error, Result};
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/console", get(page))
        .route("/containers/{id}/console/exec", post(create))
        .route("/containers/{id}/console/resize", post(resize))
        .route("/containers/{id}/console/ws", get(ws))
}

fn may_act(user: &CurrentUser) -> Result<()> {
    if user.can_act() {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "Your account may look but not open a console.".into(),
        ))
    }
}

/// The running container `key` names: (full id, name).
fn running(ep: &Ep, key: &str) -> Result<(String, String)> {
    crate::engine::containers::running(ep, key, "a console needs a running container")
}

/// True when the request's `Origin` is the host it was sent to (what a page of Berth sends).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(o), Some(h)) => {
            let o = o
                .strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
                .unwrap_or("");
            !h.is_empty() && o.eq_ignore_ascii_case(h)
        }
        _ => false,
    }
}

#[derive(Template)]
#[template(path = "container_console.html")]
struct ConsolePage {
    chrome: Chrome,
    id: String,
    name: String,
    tab: &'static str,
    windows: bool,
    running: bool,
    state: String,
}

async fn page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(key): Path<String>,
) -> Result<Response> {
    may_act(&user)?;
    let c = crate::engine::containers::find(&ep, &key)
        .ok_or_else(|| Error::NotFound(format!("No container `{key}` on this engine.")))?;
    render(&ConsolePage {
        chrome: Chrome::new(&user, &ep, "containers"),
        id: c.id.clone(),
        name: c.name.clone(),
        tab: "console",
        windows: exec::is_windows(&ep),
        running: c.state == "running",
        state: c.state.clone(),
    })
}

#[derive(serde::Serialize)]
struct Created {
    exec: String,
}

/// Creates the exec the websocket will start; audited (a shell is a strong power).
async fn create(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(key): Path<String>,
    Form(req): Form<ConsoleRequest>,
) -> std::result::Result<Json<Created>, ApiError> {
    may_act(&user)?;
    let (id, name) = running(&ep, &key)?;
    let r = exec::create(&ep, &id, &req).await;
    let what = format!("{name} ({} {})", req.shell, req.custom);
    let actor = crate::ops::Actor::user(&user, &Client(ci.ip().to_string()));
    crate::ops::note(
        &state,
        &ep,
        &actor,
        crate::ops::AuditAction::ContainerConsole,
        what.trim(),
        &r,
    )
    .await;
    Ok(Json(Created { exec: r? }))
}

#[derive(Deserialize)]
struct ResizeForm {
    #[serde(default)]
    exec: Option<String>,
    cols: u16,
    rows: u16,
}

async fn resize(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(key): Path<String>,
    Form(f): Form<ResizeForm>,
) -> std::result::Result<StatusCode, ApiError> {
    may_act(&user)?;
    let (id, _) = running(&ep, &key)?;
    let (cols, rows) = (f.cols.clamp(10, 1000), f.rows.clamp(4, 500));
    match f.exec.as_deref().filter(|e| !e.is_empty()) {
        Some(e) => exec::resize_exec(&ep, e, cols, rows).await?,
        None => exec::resize_tty(&ep, &id, cols, rows).await?,
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct WsQuery {
    #[serde(default)]
    exec: Option<String>,
    #[serde(default, deserialize_with = "crate::engine::logs::flag")]
    attach: bool,
    #[serde(default)]
    cols: Option<u16>,
    #[serde(default)]
    rows: Option<u16>,
}

// Each argument is an extractor; grouping them would only hide what the upgrade checks.
#[allow(clippy::too_many_arguments)]
async fn ws(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Query(q): Query<WsQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let opened: Result<Session> = async {
        may_act(&user)?;
        if !same_origin(&headers) {
            return Err(Error::Forbidden(
                "A console opens only from Berth's own pages (Origin differs from Host).".into(),
            ));
        }
        let (id, _) = running(&ep, &key)?;
        match q.exec.as_deref().filter(|e| !e.is_empty()) {
            Some(e) => {
                let size = q
                    .cols
                    .zip(q.rows)
                    .map(|(c, r)| (c.clamp(10, 1000), r.clamp(4, 500)));
                exec::start(&ep, &id, e, size).await
            }
            None if q.attach => {
                let r = exec::attach(&ep, &id).await;
                let name = crate::engine::containers::find(&ep, &id).map(|c| c.name.clone());
                crate::ops::record(
                    &state,
                    Some(&ep.name),
                    &crate::ops::Actor::user(&user, &Client(ci.ip().to_string())),
                    crate::ops::AuditAction::ContainerAttach,
                    name.as_deref(),
                    &crate::ops::outcome(&r),
                )
                .await;
                r
            }
            None => Err(Error::invalid(
                "exec",
                "Create an exec first, or ask to attach.",
            )),
        }
    }
    .await;
    match opened {
        Ok(session) => {
            let stop = state.shutdown.clone();
            upgrade
                .on_upgrade(move |socket| bridge(socket, session, stop))
                .into_response()
        }
        Err(e) => ApiError(e).into_response(),
    }
}

/// Copies the process's output to the browser and the browser's keys to the process, until
/// either side ends; then closes the other cleanly.
async fn bridge(socket: WebSocket, session: Session, stop: CancellationToken) {
    let (mut to_browser, mut from_browser) = socket.split();
    let Session {
        mut output,
        mut input,
    } = session;
    let reason = loop {
        tokio::select! {
            _ = stop.cancelled() => break "Berth is shutting down",
            out = output.next() => match out {
                Some(Ok(LogOutput::StdOut { message } | LogOutput::StdErr { message } | LogOutput::Console { message })) => {
                    if to_browser.send(Message::Binary(message)).await.is_err() {
                        break "";
                    }
                }
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "console output failed");
                    break "the connection to the engine broke";
                }
                None => break "the process ended",
            },
            msg = from_browser.next() => {
                let bytes = match msg {
                    Some(Ok(Message::Text(t))) => bytes::Bytes::from(t.as_str().to_owned()),
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break "",
                };
                if let Some(w) = input.as_mut()
                    && (w.write_all(&bytes).await.is_err() || w.flush().await.is_err())
                {
                    break "the process's input closed";
                }
            }
        }
    };
    if let Some(mut w) = input.take() {
        let _ = w.shutdown().await;
    }
    if !reason.is_empty() {
        let _ = to_browser
            .send(Message::Close(Some(CloseFrame {
                code: 1000,
                reason: reason.into(),
            })))
            .await;
    }
    let _ = to_browser.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(origin: Option<&str>, host: Option<&str>) -> HeaderMap {
        let mut m = HeaderMap::new();
        if let Some(o) = origin {
            m.insert(header::ORIGIN, o.parse().unwrap());
        }
        if let Some(h) = host {
            m.insert(header::HOST, h.parse().unwrap());
        }
        m
    }

    #[test]
    fn only_the_host_itself_is_same_origin() {
        assert!(same_origin(&h(
            Some("http://berth:9000"),
            Some("berth:9000")
        )));
        assert!(same_origin(&h(
            Some("https://Berth.example"),
            Some("berth.example")
        )));
        assert!(!same_origin(&h(
            Some("http://evil.example"),
            Some("berth:9000")
        )));
        assert!(!same_origin(&h(
            Some("http://berth:9001"),
            Some("berth:9000")
        )));
        assert!(!same_origin(&h(Some("null"), Some("berth:9000"))));
        assert!(!same_origin(&h(None, Some("berth:9000"))));
        assert!(!same_origin(&h(Some("http://berth:9000"), None)));
    }
}
