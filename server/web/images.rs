//! `/images` and `/images/{id}`: the list (filters, unique/shared sizes, export of a
//! selection), inspect and history; pull, build and load as background jobs followed live;
//! tag, remove, prune with a preview.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use futures_util::Stream;

use super::acts::{audited, client};
use super::networks::PrunePage;
use super::{Chrome, action_response, hx_redirect, is_htmx, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::image_ops::{self, BuildSpec, PullSpec, RemoveOpts};
use crate::engine::images::{self, ImageDetail, ImageRow};
use crate::engine::layers::LayerMap;
use crate::engine::progress::{Job, Progress};
use crate::engine::prune::{LabelFilter, PruneForm, PrunePreview};
use crate::error::{Error, Result};
use crate::web::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/images", get(list_page))
        .route("/images/export", get(export))
        .route("/images/prune", get(prune_page).post(prune))
        .route("/images/pull", post(pull))
        .route(
            "/images/build",
            post(build).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/images/load",
            post(load).layer(DefaultBodyLimit::disable()),
        )
        .route("/images/{id}", get(detail))
        .route("/images/{id}/tag", post(tag))
        .route("/images/{id}/remove", post(remove))
        .route("/jobs/{id}", get(job_page))
        .route("/jobs/{id}/events", get(job_events))
}

#[derive(serde::Deserialize, Default)]
pub struct Q {
    #[serde(default)]
    pub q: String,
    /// `dangling`, `unused` or empty.
    #[serde(default)]
    pub filter: String,
}

#[derive(Template)]
#[template(path = "images.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    filter: String,
    rows: Vec<ImageRow>,
    /// The layer map, when computed for the current images (never computed for this page).
    map: Option<Arc<LayerMap>>,
}

impl ListPage {
    /// (unique, shared) bytes of an image: the layer map's, else the engine's list's.
    fn split(&self, r: &ImageRow) -> Option<(i64, i64)> {
        if let Some(m) = &self.map
            && let Some(i) = m.images.iter().find(|i| i.id == r.image.id)
        {
            return Some((i.unique_size, i.shared_size));
        }
        (r.image.shared_size >= 0)
            .then(|| (r.image.size - r.image.shared_size, r.image.shared_size))
    }
}

async fn list_page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<Q>,
) -> Result<Response> {
    let map = ep.layers.current(&ep);
    if map.is_none() {
        // Computed in the background (not on this view's account): the next view shows it.
        let m = ep.mirror.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::engine::layers::map(&m).await {
                tracing::debug!(error = %e, "layer map not computed");
            }
        });
    }
    render(&ListPage {
        chrome: Chrome::new(&user, &ep, "images"),
        rows: image_ops::filter_rows(images::list(&ep, &q.q), &q.filter),
        map,
        q: q.q,
        filter: q.filter,
    })
}

#[derive(Template)]
#[template(path = "image.html")]
struct DetailPage {
    chrome: Chrome,
    id: String,
    d: ImageDetail,
    tags: Vec<String>,
    layers: usize,
    raw: String,
}

async fn detail(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Response> {
    let d = images::detail(&ep, &id).await?;
    let raw = serde_json::to_string_pretty(&d.inspect)
        .map_err(|e| Error::internal(format!("inspect json: {e}")))?;
    let tags = d.inspect.repo_tags.clone().unwrap_or_default();
    let layers = d
        .inspect
        .root_fs
        .as_ref()
        .and_then(|r| r.layers.as_ref())
        .map(|l| l.len())
        .unwrap_or(0);
    render(&DetailPage {
        chrome: Chrome::new(&user, &ep, "images"),
        id: d.inspect.id.clone().unwrap_or(id),
        d,
        tags,
        layers,
        raw,
    })
}

// ---- export ----

/// The tar download of `docker save` for the named images.
pub fn save_response(ep: &Ep, names: &[String]) -> Result<Response> {
    let names = image_ops::resolve_names(ep, names)?;
    let stream = image_ops::export(ep, &names)?;
    let file = if names.len() == 1 {
        crate::engine::volume_files::safe_file_name(&names[0])
    } else {
        "images".to_string()
    };
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

/// `?ids=a&ids=b` (repeated) or `?ids=a,b`.
pub fn ids_of(query: Option<&str>) -> Vec<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "ids" || k == "id")
        .flat_map(|(_, v)| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

async fn export(ep: Ep, uri: axum::http::Uri) -> Result<Response> {
    save_response(&ep, &ids_of(uri.query()))
}

// ---- jobs: pull, build, load ----

#[derive(Template)]
#[template(path = "job_page.html")]
struct JobPage {
    chrome: Chrome,
    id: u64,
    base: String,
    p: Progress,
}

#[derive(Template)]
#[template(path = "job_fragment.html")]
struct JobFragment {
    id: u64,
    base: String,
    p: Progress,
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobBody<'a> {
    base: &'a str,
    p: &'a Progress,
}

/// What a started job answers: its live box for htmx, its page otherwise.
fn job_started(headers: &HeaderMap, ep: &Ep, job: &Job) -> Response {
    if is_htmx(headers) {
        render(&JobFragment {
            id: job.id,
            base: ep.base.clone(),
            p: job.progress.borrow().clone(),
        })
        .unwrap_or_else(|e| e.into_response())
    } else {
        hx_redirect(headers, &format!("{}/jobs/{}", ep.base, job.id))
    }
}

async fn job_page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<u64>,
) -> Result<Response> {
    let job = ep.jobs.get(id).ok_or_else(|| {
        Error::NotFound(format!("No job {id} (jobs are kept until Berth restarts)."))
    })?;
    let p = job.progress.borrow().clone();
    render(&JobPage {
        chrome: Chrome::new(&user, &ep, "images"),
        id,
        base: ep.base.clone(),
        p,
    })
}

/// The job's progress, rendered, each time it changes (at most every 200 ms); then `done`.
async fn job_events(
    State(state): State<AppState>,
    ep: Ep,
    Path(id): Path<u64>,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    let job = ep
        .jobs
        .get(id)
        .ok_or_else(|| Error::NotFound(format!("No job {id}.")))?;
    let mut rx = job.progress.subscribe();
    let base = ep.base.clone();
    let stop = state.shutdown.clone();
    let stream = async_stream::stream! {
        loop {
            let p = rx.borrow_and_update().clone();
            let html = JobBody { base: &base, p: &p }.render().unwrap_or_default();
            yield Ok(Event::default().event("progress").data(html));
            if p.done {
                yield Ok(Event::default().event("done").data("done"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            tokio::select! {
                _ = stop.cancelled() => break,
                r = rx.changed() => if r.is_err() { break },
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Runs `work` in the background as a job of this endpoint, with an audit row at its end.
fn spawn_job<F, Fut, T>(
    state: &AppState,
    ep: &Ep,
    user: &CurrentUser,
    client: crate::auth::Client,
    action: &'static str,
    title: String,
    work: F,
) -> Arc<Job>
where
    F: FnOnce(Arc<crate::engine::Mirror>, Arc<Job>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let job = ep.jobs.start(title.clone());
    let (state, mirror, user, j) = (state.clone(), ep.mirror.clone(), user.clone(), job.clone());
    tokio::spawn(async move {
        let r = work(mirror.clone(), j.clone()).await;
        if let Err(e) = &r {
            let msg = e.public_message();
            j.progress.send_modify(|p| {
                if p.error.is_none() {
                    p.error = Some(msg);
                }
            });
        }
        j.progress.send_modify(|p| p.done = true);
        let _ = audited(&state, &mirror, &user, &client, action, &title, r).await;
    });
    job
}

async fn pull(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let spec: PullSpec = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if let Err(e) = image_ops::split_reference(&spec.reference) {
        return action_response(&headers, "/images", Err(e));
    }
    let title = format!("pull {}", spec.reference.trim());
    let job = spawn_job(
        &state,
        &ep,
        &user,
        client(ci),
        "image.pull",
        title,
        move |m, j| async move { image_ops::pull(&m, &spec, &j.progress).await },
    );
    job_started(&headers, &ep, &job)
}

/// The build form: a file (Dockerfile or tar context) or a Dockerfile typed in, tags, args.
async fn read_build_form(form: &mut Multipart, limit: u64) -> Result<(BuildSpec, Bytes)> {
    let mut spec = BuildSpec::default();
    let mut context: Option<Bytes> = None;
    let mut typed = String::new();
    let bad = |e: axum::extract::multipart::MultipartError| {
        Error::invalid("context", format!("The upload could not be read: {e}"))
    };
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        if name == "context" {
            let mut data = bytes::BytesMut::new();
            while let Some(chunk) = field.chunk().await.map_err(bad)? {
                if (data.len() + chunk.len()) as u64 > limit {
                    return Err(Error::TooLarge(format!(
                        "The build context is larger than the limit of {}.",
                        crate::web::fmt::size(limit as i64)
                    )));
                }
                data.extend_from_slice(&chunk);
            }
            if !data.is_empty() {
                context = Some(data.freeze());
            }
            continue;
        }
        let text = field.text().await.map_err(bad)?;
        match name.as_str() {
            "dockerfile" => typed = text,
            "tags" => spec.tags = split_list(&text),
            "nocache" => spec.nocache = matches!(text.as_str(), "on" | "true" | "1"),
            "buildargs" => spec.buildargs = parse_args(&text)?,
            "dockerfile_path" => spec.dockerfile = text,
            _ => {}
        }
    }
    let context = match context {
        Some(c) => c,
        None if !typed.trim().is_empty() => Bytes::from(typed.into_bytes()),
        None => {
            return Err(Error::invalid(
                "context",
                "Upload a Dockerfile or a tar build context, or type a Dockerfile.",
            ));
        }
    };
    Ok((spec, context))
}

pub fn split_list(t: &str) -> Vec<String> {
    t.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `KEY=value` lines.
pub fn parse_args(t: &str) -> Result<std::collections::HashMap<String, String>> {
    let mut out = std::collections::HashMap::new();
    for line in t.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.insert(k.trim().to_string(), v.to_string());
            }
            _ => {
                return Err(Error::invalid(
                    "buildargs",
                    format!("`{line}` is not NAME=value."),
                ));
            }
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)] // one per extractor
async fn build(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let (spec, context) = match read_build_form(&mut form, state.config.image_upload_limit).await {
        Ok(x) => x,
        Err(e) => return action_response(&headers, "/images", Err(e)),
    };
    let title = match spec.tags.first() {
        Some(t) => format!("build {t}"),
        None => "build".to_string(),
    };
    let job = spawn_job(
        &state,
        &ep,
        &user,
        client(ci),
        "image.build",
        title,
        move |m, j| async move { image_ops::build(&m, &spec, context, &j.progress).await },
    );
    job_started(&headers, &ep, &job)
}

/// Load: the uploaded file is streamed into the engine while it arrives.
async fn load(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::result::Result<Bytes, String>>(8);
    let limit = state.config.image_upload_limit;
    let job = spawn_job(
        &state,
        &ep,
        &user,
        client(ci),
        "image.load",
        "load".into(),
        move |m, j| async move {
            let body = tokio_stream::wrappers::ReceiverStream::new(rx);
            image_ops::load(&m, body, limit, &j.progress).await
        },
    );
    let mut got_file = false;
    let feed = async {
        while let Some(mut field) = form.next_field().await.map_err(|e| e.to_string())? {
            if field.name() != Some("file") {
                continue;
            }
            got_file = true;
            while let Some(chunk) = field.chunk().await.map_err(|e| e.to_string())? {
                if tx.send(Ok(chunk)).await.is_err() {
                    // The engine stopped reading (an error, or the limit): its job says why.
                    return Ok(());
                }
            }
        }
        Ok::<(), String>(())
    }
    .await;
    if let Err(e) = feed {
        let _ = tx.send(Err(format!("the upload broke off: {e}"))).await;
    } else if !got_file {
        let _ = tx.send(Err("no file was uploaded".into())).await;
    }
    drop(tx);
    job_started(&headers, &ep, &job)
}

// ---- tag, remove, prune ----

#[derive(serde::Deserialize, Default)]
struct TagForm {
    #[serde(default)]
    reference: String,
}

async fn tag(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f: TagForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let r = image_ops::tag(&ep, &id, &f.reference).await;
    let target = format!("{id} as {}", f.reference.trim());
    let r = audited(&state, &ep, &user, &client(ci), "image.tag", &target, r)
        .await
        .map(|()| format!("Tagged {}.", f.reference.trim()));
    action_response(&headers, &format!("{}/images/{id}", ep.base), r)
}

async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let opts: RemoveOpts = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let r = image_ops::remove(&ep, &id, &opts).await;
    match audited(&state, &ep, &user, &client(ci), "image.remove", &id, r).await {
        Ok(_) => hx_redirect(&headers, &format!("{}/images", ep.base)),
        Err(e) => action_response(&headers, "/images", Err(e)),
    }
}

async fn prune_page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(f): Query<PruneForm>,
) -> Result<Response> {
    let (preview, error) = match LabelFilter::parse(&f.label) {
        Ok(l) => (image_ops::prune_preview(&ep, f.all, l.as_ref()).await, None),
        Err(e) => (PrunePreview::default(), Some(e.to_string())),
    };
    render(&PrunePage {
        chrome: Chrome::new(&user, &ep, "images"),
        kind: "images",
        what: if f.all {
            "every image no container uses (a tagged image that is the base of another is only untagged)"
        } else {
            "dangling images (no tag) that no container uses"
        },
        preview,
        label: f.label,
        offers_all: true,
        all: f.all,
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
        let r = image_ops::prune(&ep, f.all, label.as_ref()).await;
        let r = audited(&state, &ep, &user, &client(ci), "image.prune", &f.label, r).await?;
        Ok(format!(
            "Removed {} image(s), {} freed.",
            r.removed.len(),
            crate::web::fmt::size(r.bytes)
        ))
    }
    .await;
    action_response(&headers, &format!("{}/images", ep.base), r)
}
