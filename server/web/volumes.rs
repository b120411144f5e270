//! `/volumes` and `/volumes/{name}`: driver, labels, containers using it, its files (read
//! through a helper container), upload; create, remove and prune with a preview.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};

use super::{Chrome, action_response, hx_redirect, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::ops::prune::Prunable;
use crate::ops::{self, Actor};

use crate::engine::volume_files::{self, FileEntry, VolPath};
use crate::engine::volumes::{self, VolumeRow, VolumeSpec};
use crate::error::{Error, Result};
use crate::http::access::Permission;
use crate::http::bodies;
use crate::http::query::ListQ as Q;
use crate::http::query::PathQ;
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/volumes", get(list_page).post(create))
        .route(
            "/volumes/prune",
            get(super::prune::page::<{ Prunable::Volumes as u8 }>)
                .post(super::prune::submit::<{ Prunable::Volumes as u8 }>),
        )
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

#[derive(Template)]
#[template(path = "volume.html")]
struct DetailPage {
    chrome: Chrome,
    v: VolumeRow,
    path: String,
    upload_limit: String,
    /// Why the files are not shown (the viewer's role, or Berth's own data volume).
    files_refused: Option<String>,
    /// The object's last events (from the mirror's ring), newest first.
    ev_rows: Vec<crate::engine::events::EngineEvent>,
    ev_error: Option<String>,
    with_object: bool,
    ev_object: String,
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
    let files_refused = match user.role.require(Permission::Secrets) {
        Err(e) => Some(e.public_message()),
        Ok(()) => state
            .own
            .check_volume(&ep, &name)
            .await
            .err()
            .map(|e| e.public_message()),
    };
    let ev_rows = super::events::of_object(&ep, &[v.volume.name.as_str()]);
    render(&DetailPage {
        chrome: Chrome::new(&user, &ep, "volumes"),
        ev_rows,
        ev_error: None,
        with_object: false,
        ev_object: v.volume.name.clone(),
        v,
        path,
        files_refused,
        upload_limit: crate::fmt::size(state.config.volume_upload_limit as i64),
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
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(name): Path<String>,
    Query(q): Query<PathQ>,
) -> Result<Response> {
    state.own.check_volume(&ep, &name).await?;
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

async fn download(
    State(state): State<AppState>,
    ep: Ep,
    Path(name): Path<String>,
    Query(q): Query<PathQ>,
) -> Result<Response> {
    crate::http::attachment::volume_tar(&state, &ep, &name, &q.path).await
}

#[allow(clippy::too_many_arguments)] // one per extractor
async fn upload(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
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
                        crate::fmt::size(limit as i64)
                    )));
                }
                data.extend_from_slice(&chunk);
            }
            file = Some((fname, data));
        }
        let (fname, data) =
            file.ok_or_else(|| Error::invalid("file", "Choose a file to upload."))?;
        let data = Bytes::from(data);
        ops::volumes::upload(&state, &ep, &actor, &name, &q.path, &fname, data).await?;
        Ok(format!("{fname} uploaded."))
    }
    .await;
    action_response(&headers, &format!("{}/volumes/{name}", ep.base), r)
}

async fn create(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = async {
        let spec: VolumeSpec = bodies::form(&body)?;
        ops::volumes::create(&state, &ep, &actor, &spec).await
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
    actor: Actor,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let f: RemoveForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    match ops::volumes::remove(&state, &ep, &actor, &name, f.force).await {
        Ok(()) => hx_redirect(&headers, &format!("{}/volumes", ep.base)),
        Err(e) => action_response(&headers, "/volumes", Err(e)),
    }
}
