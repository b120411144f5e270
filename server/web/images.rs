//! `/images` and `/images/{id}`: the list (filters, unique/shared sizes, export of a
//! selection), inspect and history; pull, build and load as background jobs followed live;
//! tag, remove, prune with a preview.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use futures_util::Stream;

use super::{Chrome, action_response, hx_redirect, is_htmx, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::image_ops::{self, BuildSpec, PullSpec, RemoveOpts};
use crate::engine::images::{self, ImageDetail, ImageRow};
use crate::engine::layers::LayerMap;
use crate::engine::progress::{Job, Progress};
use crate::ops::prune::Prunable;
use crate::ops::{self, Actor};

use crate::error::{Error, Result};
use crate::http::query::{ListQ as Q, ids_of, parse_args};
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/images", get(list_page))
        .route("/images/export", get(export))
        .route(
            "/images/prune",
            get(super::prune::page::<{ Prunable::Images as u8 }>)
                .post(super::prune::submit::<{ Prunable::Images as u8 }>),
        )
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
    /// The object's last events (from the mirror's ring), newest first.
    ev_rows: Vec<crate::engine::events::EngineEvent>,
    ev_error: Option<String>,
    with_object: bool,
    ev_object: String,
}

async fn detail(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Response> {
    let mut d = images::detail(&ep, &id).await?;
    if !user.can_read_secrets()
        && let Some(env) = d.inspect.config.as_mut().and_then(|c| c.env.as_mut())
    {
        crate::http::access::mask_env(env);
    }
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
    let full = d.inspect.id.clone().unwrap_or(id);
    let mut names: Vec<&str> = vec![full.as_str()];
    names.extend(tags.iter().map(String::as_str));
    let ev_rows = super::events::of_object(&ep, &names);
    render(&DetailPage {
        chrome: Chrome::new(&user, &ep, "images"),
        ev_rows,
        ev_error: None,
        with_object: false,
        ev_object: full.clone(),
        id: full,
        d,
        tags,
        layers,
        raw,
    })
}

// ---- export ----

async fn export(ep: Ep, uri: axum::http::Uri) -> Result<Response> {
    crate::http::attachment::image_save(&ep, &ids_of(uri.query()))
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
pub(super) fn job_started(headers: &HeaderMap, ep: &Ep, job: &Job) -> Response {
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

/// Runs `work` (an action, which writes its own audit row) in the background as a job of this
/// endpoint; its error, if any, is the job's.
fn spawn_job<F, Fut, T>(ep: &Ep, title: String, work: F) -> Arc<Job>
where
    F: FnOnce(Arc<crate::engine::Mirror>, Arc<Job>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let job = ep.jobs.start(title);
    let (mirror, j) = (ep.mirror.clone(), job.clone());
    tokio::spawn(async move {
        let r = work(mirror, j.clone()).await;
        if let Err(e) = &r {
            let msg = e.public_message();
            j.progress.send_modify(|p| {
                if p.error.is_none() {
                    p.error = Some(msg);
                }
            });
        }
        j.progress.send_modify(|p| p.done = true);
    });
    job
}

async fn pull(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let spec: PullSpec = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if let Err(e) = ops::images::check_pull(&state, &ep, &actor, &spec).await {
        return action_response(&headers, "/images", Err(e));
    }
    let title = format!("pull {}", spec.reference.trim());
    let job = spawn_job(&ep, title, move |m, j| async move {
        ops::images::pull(&state, &m, &actor, &spec, &j.progress).await
    });
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
                        crate::fmt::size(limit as i64)
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
            "nocache" => spec.nocache = crate::input::is_on(&text),
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

async fn build(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let (spec, context) = match read_build_form(&mut form, state.config.image_upload_limit).await {
        Ok(x) => x,
        Err(e) => return action_response(&headers, "/images", Err(e)),
    };
    let title = ops::images::build_title(&spec);
    let job = spawn_job(&ep, title, move |m, j| async move {
        ops::images::build(&state, &m, &actor, &spec, context, &j.progress).await
    });
    job_started(&headers, &ep, &job)
}

/// Load: the uploaded file is streamed into the engine while it arrives.
async fn load(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::result::Result<Bytes, String>>(8);
    let limit = state.config.image_upload_limit;
    let job = spawn_job(&ep, "load".into(), move |m, j| async move {
        let body = tokio_stream::wrappers::ReceiverStream::new(rx);
        ops::images::load(&state, &m, &actor, body, limit, &j.progress).await
    });
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
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f: TagForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let r = ops::images::tag(&state, &ep, &actor, &id, &f.reference).await;
    action_response(&headers, &format!("{}/images/{id}", ep.base), r)
}

async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let opts: RemoveOpts = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    match ops::images::remove(&state, &ep, &actor, &id, &opts).await {
        Ok(_) => hx_redirect(&headers, &format!("{}/images", ep.base)),
        Err(e) => action_response(&headers, "/images", Err(e)),
    }
}
