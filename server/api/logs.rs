//! `GET /api/containers/{id}/logs`: the log as text/plain (not followed), for scripts and for
//! the logs page's download button.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;

use crate::AppState;
use crate::engine::logs;
use crate::error::{ApiResult, Error};
use crate::http::query::parse_query;
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/containers/{id}/logs", get(text))
}

/// `?tail=N|all` (default all), `since`, `timestamps`, `no_stdout`, `no_stderr`; `download=1`
/// makes it an attachment named after the container.
#[utoipa::path(
    get, path = "/api/containers/{id}/logs", tag = "containers",
    params(
        ("id" = String, Path, description = "Container id, unique id prefix, or name"),
        crate::engine::logs::LogQuery,
        ("download" = Option<bool>, Query, description = "An attachment named after the container"),
    ),
    responses((status = 200, description = "The log, one line per line", content_type = "text/plain", body = String))
)]
async fn text(ep: Ep, Path(id): Path<String>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let (q, _) = parse_query(raw.as_deref())?;
    let download = raw
        .as_deref()
        .map(|r| form_urlencoded::parse(r.as_bytes()).any(|(k, v)| k == "download" && v != "0"))
        .unwrap_or(false);
    let (cid, name) = logs::resolve(&ep, &id)?;
    let lines = logs::lines(&ep, &cid, q.options(false, "all")?)?;
    let body = lines.map(|l| {
        l.map(|l| {
            let mut t = l.text;
            t.push('\n');
            t
        })
        .map_err(|e: Error| std::io::Error::other(e.to_string()))
    });
    let mut resp = Body::from_stream(body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if download {
        let file: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}.log\"")) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(resp)
}
