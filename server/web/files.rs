//! `/containers/{id}/files`: browse a container's filesystem (running or stopped), download a
//! file or folder as tar, upload a file into a folder. The JSON twins live here too, since they
//! share the upload plumbing:
//!
//! - `GET /api/containers/{id}/files?path=` → listing JSON
//! - `GET /containers/{id}/files/download?path=` (and under `/api`) → tar
//! - `POST /containers/{id}/files/upload?path=DIR` multipart field `file` (page and `/api`)
//! - `PUT /api/containers/{id}/files?path=DIR&name=FILE` raw body
//!
//! Uploads have their own size limit (`--upload-limit-mib`, 64 MiB by default) instead of the
//! app-wide 2 MiB: [`upload_router`] is merged outside that layer, with the same login guard.

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router, middleware};
use futures_util::StreamExt;
use serde::Deserialize;

use super::{Chrome, action_response, is_htmx, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::files::{self, Listing};
use crate::error::{ApiError, ApiResult, Error, Result};
use crate::http::attachment::{OCTETS, TAR, attachment};
use crate::http::scope::Ep;
use crate::ops::{self, Actor};

/// Browsing and downloading (normal limits).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/files", get(page))
        .route("/containers/{id}/files/download", get(download))
        .route("/api/containers/{id}/files/download", get(download))
        .route("/api/containers/{id}/files", get(api_list))
}

/// The upload routes: their own body limit, behind the same login guard. Merged in
/// [`crate::router`] after the app-wide body limit layer, so that it does not apply to them.
pub fn upload_router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/files/upload", post(upload_form))
        .route("/api/containers/{id}/files/upload", post(upload_form))
        .route("/api/containers/{id}/files", axum::routing::put(upload_raw))
        .layer(DefaultBodyLimit::disable())
        .route_layer(middleware::from_fn_with_state(
            state,
            crate::auth::require_user,
        ))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PathQ {
    #[serde(default)]
    path: String,
    #[serde(default)]
    name: String,
    /// Download a regular file as itself, not as tar.
    #[serde(default)]
    raw: bool,
}

#[derive(Template)]
#[template(path = "container_files.html")]
struct FilesPage {
    chrome: Chrome,
    id: String,
    name: String,
    tab: &'static str,
    l: Option<Listing>,
    /// The path asked for (kept when it does not exist).
    asked: String,
    /// Breadcrumbs: (label, path).
    crumbs: Vec<(String, String)>,
    error: Option<String>,
    limit_mib: u64,
}

impl FilesPage {
    fn child(&self, name: &str) -> String {
        let base = self.l.as_ref().map(|l| l.path.as_str()).unwrap_or("/");
        files::join(base, name)
    }
}

fn crumbs(path: &str) -> Vec<(String, String)> {
    let mut out = vec![("/".to_string(), "/".to_string())];
    let mut cur = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        cur.push('/');
        cur.push_str(part);
        out.push((part.to_string(), cur.clone()));
    }
    out
}

pub fn urlencode(s: impl AsRef<str>) -> String {
    form_urlencoded::byte_serialize(s.as_ref().as_bytes()).collect()
}

async fn page(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(key): Path<String>,
    Query(q): Query<PathQ>,
) -> Result<Response> {
    let (id, name) = super::anatomy::ident(&ep, &key).await?;
    state.own.check_container(&id)?;
    let asked = files::normalise(if q.path.is_empty() { "/" } else { &q.path });
    let (l, error, status) = match files::list(&ep, &id, &asked).await {
        Ok(l) => (Some(l), None, StatusCode::OK),
        // A bad path is shown on the page, with the way back.
        Err(e @ (Error::NotFound(_) | Error::EngineRefused { .. })) => {
            (None, Some(e.public_message()), e.status())
        }
        Err(e) => return Err(e),
    };
    let shown = l.as_ref().map(|l| l.path.clone()).unwrap_or(asked.clone());
    let page = FilesPage {
        chrome: Chrome::new(&user, &ep, "containers"),
        id,
        name,
        tab: "files",
        crumbs: crumbs(&shown),
        l,
        asked,
        error,
        limit_mib: state.config.upload_limit_mib,
    };
    Ok((status, render(&page)?).into_response())
}

#[utoipa::path(
    get, path = "/api/containers/{id}/files", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name"), PathQ),
    responses((status = 200, description = "The folder's entries (a running or stopped container)", body = Listing))
)]
async fn api_list(
    State(state): State<AppState>,
    ep: Ep,
    Path(key): Path<String>,
    Query(q): Query<PathQ>,
) -> ApiResult<Json<Listing>> {
    let id = files::container_id(&ep, &key).await?;
    state.own.check_container(&id)?;
    let path = if q.path.is_empty() { "/" } else { &q.path };
    Ok(Json(files::list(&ep, &id, path).await?))
}

#[utoipa::path(
    get, path = "/api/containers/{id}/files/download", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name"), PathQ),
    responses((status = 200, description = "A tar archive of the path", content_type = "application/x-tar", body = Vec<u8>))
)]
async fn download(
    State(state): State<AppState>,
    ep: Ep,
    uri: axum::http::Uri,
    Path(key): Path<String>,
    Query(q): Query<PathQ>,
) -> Response {
    let api = uri.path().starts_with("/api/");
    let r = async {
        let id = files::container_id(&ep, &key).await?;
        state.own.check_container(&id)?;
        let path = files::normalise(&q.path);
        let base = path
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("root");
        if q.raw {
            // Never rendered by the browser: container files are not Berth's pages.
            let (size, stream) = files::download_file(&ep, &id, &path).await?;
            return Ok(attachment(
                Body::from_stream(stream),
                OCTETS,
                base,
                Some(size),
            ));
        }
        let stream = files::download(&ep, &id, &path).await?;
        Ok::<_, Error>(attachment(
            Body::from_stream(stream),
            TAR,
            &format!("{base}.tar"),
            None,
        ))
    }
    .await;
    match r {
        Ok(resp) => resp,
        Err(e) if api => ApiError(e).into_response(),
        Err(e) => e.into_response(),
    }
}

fn limit(state: &AppState) -> usize {
    (state.config.upload_limit_mib as usize).saturating_mul(1 << 20)
}

fn too_large(limit: usize) -> Error {
    Error::TooLarge(format!(
        "The file is larger than the upload limit of {} MiB (set with --upload-limit-mib).",
        limit >> 20
    ))
}

/// Reads at most `limit` bytes of a stream of chunks; more is a 413.
async fn read_limited<S, E>(mut s: S, limit: usize) -> Result<Vec<u8>>
where
    S: futures_util::Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut buf = Vec::new();
    while let Some(chunk) = s.next().await {
        let chunk =
            chunk.map_err(|e| Error::invalid("file", format!("The upload broke off: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

fn declared_too_big(headers: &HeaderMap, limit: usize, slack: usize) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > limit.saturating_add(slack))
}

/// Multipart upload (the page's form, and `/api`): field `file`, into folder `?path=`.
#[allow(clippy::too_many_arguments)] // an axum handler: one argument per extractor
#[utoipa::path(
    post, path = "/api/containers/{id}/files/upload", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name"), PathQ),
    request_body(content = FileUpload, content_type = "multipart/form-data"),
    responses((status = 201, description = "Written", body = Uploaded))
)]
async fn upload_form(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Path(key): Path<String>,
    Query(q): Query<PathQ>,
    multipart: std::result::Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let api = uri.path().starts_with("/api/");
    let limit = limit(&state);
    let dir = files::normalise(&q.path);
    let r = async {
        if declared_too_big(&headers, limit, 64 << 10) {
            return Err(too_large(limit));
        }
        let mut mp = multipart.map_err(|e| {
            Error::invalid("file", format!("Send the file as multipart/form-data: {e}"))
        })?;
        let mut dir = dir.clone();
        let mut got = None;
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|e| Error::invalid("file", format!("The upload broke off: {e}")))?
        {
            match field.name() {
                Some("path") => {
                    let t = field.text().await.unwrap_or_default();
                    if !t.trim().is_empty() {
                        dir = files::normalise(&t);
                    }
                }
                Some("file") => {
                    let fname = field.file_name().unwrap_or("").to_string();
                    let data = read_limited(field, limit).await?;
                    got = Some((fname, data));
                }
                _ => {}
            }
        }
        let (fname, data) =
            got.ok_or_else(|| Error::invalid("file", "Choose a file to upload."))?;
        let r = ops::containers::upload(&state, &ep, &actor, &key, &dir, &fname, &data).await;
        r.map(|p| (p, data.len()))
    }
    .await;
    answer(&ep, &headers, &key, &dir, api, r)
}

/// `PUT /api/containers/{id}/files?path=DIR&name=FILE` with the file as the body.
#[allow(clippy::too_many_arguments)] // an axum handler: one argument per extractor
#[utoipa::path(
    put, path = "/api/containers/{id}/files", tag = "containers",
    params(("id" = String, Path, description = "Container id, unique id prefix, or name"), PathQ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses((status = 201, description = "Written", body = Uploaded))
)]
async fn upload_raw(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(key): Path<String>,
    Query(q): Query<PathQ>,
    body: Body,
) -> Response {
    let limit = limit(&state);
    let dir = files::normalise(&q.path);
    let r = async {
        if declared_too_big(&headers, limit, 0) {
            return Err(too_large(limit));
        }
        let name = files::check_file_name(&q.name)?;
        let data = read_limited(body.into_data_stream(), limit).await?;
        let r = ops::containers::upload(&state, &ep, &actor, &key, &dir, &name, &data).await;
        r.map(|p| (p, data.len()))
    }
    .await;
    answer(&ep, &headers, &key, &dir, true, r)
}

fn answer(
    ep: &Ep,
    headers: &HeaderMap,
    key: &str,
    dir: &str,
    api: bool,
    r: Result<(String, usize)>,
) -> Response {
    if api {
        return match r {
            Ok((path, size)) => {
                (StatusCode::CREATED, Json(Uploaded { path, size })).into_response()
            }
            Err(e) => ApiError(e).into_response(),
        };
    }
    let back = format!("{}/containers/{key}/files?path={}", ep.base, urlencode(dir));
    let status = r.as_ref().err().map(|e| e.status());
    let mut resp = action_response(
        headers,
        &back,
        r.map(|(p, n)| format!("Uploaded {p} ({n} bytes).")),
    );
    // A plain form post that failed: keep the right status on the error page.
    if let Some(s) = status
        && !is_htmx(headers)
    {
        *resp.status_mut() = s;
    }
    resp
}

/// The answer of an upload through `/api`.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Uploaded {
    /// Where the file now is, in the container.
    path: String,
    /// Its size in bytes.
    size: usize,
}

/// The multipart form of an upload (the schema of `POST …/files/upload`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // read field by field from the multipart stream, never as a whole
struct FileUpload {
    /// The folder to write into (overrides `?path=`).
    path: Option<String>,
    /// The file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}
