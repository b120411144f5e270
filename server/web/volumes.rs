//! `/volumes` and `/volumes/{name}`: driver, labels, containers using it, its files (read
//! through a helper container), upload; create, remove and prune with a preview.

use std::net::SocketAddr;

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use super::acts::{audited, client};
use super::images::Q;
use super::networks::PrunePage;
use super::{Chrome, action_response, hx_redirect, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::prune::{LabelFilter, PruneForm, PrunePreview};
use crate::engine::volume_files::{self, FileEntry, VolPath};
use crate::engine::volumes::{self, VolumeRow, VolumeSpec};
use crate::error::{Error, Result};
use crate::web::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/volumes", get(list_page).post(create))
        .route("/volumes/prune", get(prune_page).post(prune))
        .route("/volumes/{name}", get(detail))
        .route("/volumes/{name}/remove", post(remove))
        .route("/volumes/{name}/files", get(files))
        .route("/volumes/{name}/download", get(download))
        .route(
            "/volumes/{name}/upload",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
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

#[derive(serde::Deserialize, Default)]
pub struct PathQ {
    #[serde(default)]
    pub path: String,
}

#[derive(Template)]
#[template(path = "volume.html")]
struct DetailPage {
    chrome: Chrome,
    v: VolumeRow,
    path: String,
    upload_limit: String,
}

async fn detail(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(name): Path<String>,
    Query(q): Query<PathQ>,
) -> Result<Response> {
    let v = volumes::get(&ep, &name)?;
    let path = VolPath::parse(&q.path)?.display();
    render(&DetailPage {
        chrome: Chrome::new(&user, &ep, "volumes"),
        v,
        path,
        upload_limit: crate::web::fmt::size(state.config.volume_upload_limit as i64),
    })
}

#[derive(Template)]
#[template(path = "volume_files.html")]
struct FilesFragment {
    chrome: Chrome,
    name: String,
    path: String,
    /// (label, path) of each folder from the root down.
    crumbs: Vec<(String, String)>,
    entries: Vec<FileEntry>,
    error: Option<String>,
}

impl FilesFragment {
    fn child(&self, name: &str) -> String {
        if self.path == "/" {
            format!("/{name}")
        } else {
            format!("{}/{name}", self.path)
        }
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The file browser fragment (loaded by the detail page): engine calls happen here only.
async fn files(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(name): Path<String>,
    Query(q): Query<PathQ>,
) -> Result<Response> {
    let p = VolPath::parse(&q.path)?;
    let mut crumbs = vec![("/".to_string(), "/".to_string())];
    for i in 0..p.0.len() {
        let sub = VolPath(p.0[..=i].to_vec());
        crumbs.push((p.0[i].clone(), sub.display()));
    }
    let (entries, error) = match volume_files::list(&ep, &name, &q.path).await {
        Ok(e) => (e, None),
        Err(e) => (Vec::new(), Some(e.public_message())),
    };
    render(&FilesFragment {
        chrome: Chrome::new(&user, &ep, "volumes"),
        name,
        path: p.display(),
        crumbs,
        entries,
        error,
    })
}

/// A file or folder as a tar download.
pub async fn tar_response(ep: &Ep, name: &str, path: &str) -> Result<Response> {
    let (file, stream) = volume_files::download(ep, name, path).await?;
    let mut r = Body::from_stream(stream).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}.tar\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

async fn download(ep: Ep, Path(name): Path<String>, Query(q): Query<PathQ>) -> Result<Response> {
    tar_response(&ep, &name, &q.path).await
}

#[allow(clippy::too_many_arguments)] // one per extractor
async fn upload(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<PathQ>,
    mut form: Multipart,
) -> Response {
    let limit = state.config.volume_upload_limit;
    let r = async {
        let mut file: Option<(String, Vec<u8>)> = None;
        while let Some(mut field) = form
            .next_field()
            .await
            .map_err(|e| Error::invalid("file", format!("The upload could not be read: {e}")))?
        {
            if field.name() != Some("file") {
                continue;
            }
            let fname = field.file_name().unwrap_or("upload").to_string();
            let mut data = Vec::new();
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| Error::invalid("file", format!("The upload broke off: {e}")))?
            {
                if (data.len() + chunk.len()) as u64 > limit {
                    return Err(Error::TooLarge(format!(
                        "The file is larger than the upload limit of {}.",
                        crate::web::fmt::size(limit as i64)
                    )));
                }
                data.extend_from_slice(&chunk);
            }
            file = Some((fname, data));
        }
        let (fname, data) =
            file.ok_or_else(|| Error::invalid("file", "Choose a file to upload."))?;
        let target = format!("{name}:{}/{fname}", q.path);
        let r = volume_files::upload(&ep, &name, &q.path, &fname, Bytes::from(data)).await;
        audited(&state, &ep, &user, &client(ci), "volume.upload", &target, r).await?;
        Ok(format!("{fname} uploaded."))
    }
    .await;
    action_response(&headers, &format!("{}/volumes/{name}", ep.base), r)
}

async fn create(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = async {
        let spec: VolumeSpec = serde_urlencoded::from_bytes(&body)
            .map_err(|e| Error::invalid("form", format!("The form could not be read: {e}")))?;
        let r = volumes::create(&ep, &spec).await;
        audited(
            &state,
            &ep,
            &user,
            &client(ci),
            "volume.create",
            spec.name.trim(),
            r,
        )
        .await
    }
    .await;
    match r {
        Ok(name) => hx_redirect(
            &headers,
            &format!("{}/volumes/{}", ep.base, urlencode(&name)),
        ),
        Err(e) => action_response(&headers, "/volumes", Err(e)),
    }
}

#[derive(serde::Deserialize, Default)]
struct RemoveForm {
    #[serde(default, deserialize_with = "crate::engine::network_spec::flag")]
    force: bool,
}

async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let f: RemoveForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let r = volumes::remove(&ep, &name, f.force).await;
    match audited(&state, &ep, &user, &client(ci), "volume.remove", &name, r).await {
        Ok(()) => hx_redirect(&headers, &format!("{}/volumes", ep.base)),
        Err(e) => action_response(&headers, "/volumes", Err(e)),
    }
}

async fn prune_page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(f): Query<PruneForm>,
) -> Result<Response> {
    let (preview, error) = match LabelFilter::parse(&f.label) {
        Ok(l) => (volumes::prune_preview(&ep, l.as_ref()), None),
        Err(e) => (PrunePreview::default(), Some(e.to_string())),
    };
    render(&PrunePage {
        chrome: Chrome::new(&user, &ep, "volumes"),
        kind: "volumes",
        what: "local volumes that no container (running or stopped) mounts, and their data",
        preview,
        label: f.label,
        offers_all: false,
        all: false,
        error,
    })
}

async fn prune(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = async {
        let f: PruneForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        let label = LabelFilter::parse(&f.label)?;
        let r = volumes::prune(&ep, label.as_ref()).await;
        let r = audited(&state, &ep, &user, &client(ci), "volume.prune", &f.label, r).await?;
        Ok(format!(
            "Removed {} volume(s), {} freed.",
            r.removed.len(),
            crate::web::fmt::size(r.bytes)
        ))
    }
    .await;
    action_response(&headers, &format!("{}/volumes", ep.base), r)
}
