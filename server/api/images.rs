//! `/api/images`: pull, build, load (answered when the engine is done), export, tag, remove,
//! prune (preview with GET), and the jobs pages started.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::watch;

use crate::AppState;
use crate::engine::image_ops::{BuildSpec, PullSpec, RemoveOpts, Removed};
use crate::engine::progress::Progress;
use crate::error::{ApiError, ApiResult, Error};
use crate::http::bodies::JsonBody;
use crate::http::query::ids_of;
use crate::http::request::read_limited;
use crate::http::scope::Ep;
use crate::ops::{self, Actor};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/images/pull", post(pull))
        .route(
            "/api/images/build",
            post(build).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/images/load",
            post(load).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/images/export", get(export_many))
        .route(
            "/api/images/prune",
            get(super::prune::images_preview).post(super::prune::images_prune),
        )
        .route("/api/images/{id}", get(inspect).delete(remove))
        .route("/api/images/{id}/export", get(export_one))
        .route("/api/images/{id}/tag", post(tag))
        .route("/api/jobs/{id}", get(job))
}

fn summary(p: &Progress) -> JobSummary {
    JobSummary {
        images: p.images.clone(),
        layers: p.layers.clone(),
        log: p.log.clone(),
    }
}

#[utoipa::path(
    post, path = "/api/images/pull", tag = "images",
    request_body = PullSpec,
    responses((status = 200, description = "Pulled: the images, layers and the engine's log", body = JobSummary))
)]
async fn pull(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    JsonBody(spec): JsonBody<PullSpec>,
) -> ApiResult<Json<JobSummary>> {
    let (tx, _rx) = watch::channel(Progress::new(format!("pull {}", spec.reference.trim())));
    ops::images::pull(&state, &ep, &actor, &spec, &tx).await?;
    Ok(Json(summary(&tx.borrow())))
}

#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct BuildQ {
    #[serde(default)]
    nocache: Option<String>,
    #[serde(default)]
    dockerfile: String,
}

#[allow(clippy::too_many_arguments)] // one per extractor
#[utoipa::path(
    post, path = "/api/images/build", tag = "images",
    params(BuildQ,
        ("t" = Option<Vec<String>>, Query, description = "A tag for the image (repeatable; `tag` is the same)"),
        ("buildarg" = Option<String>, Query, description = "Build arguments, `NAME=value` lines")),
    request_body(content = Vec<u8>, content_type = "application/x-tar", description = "The build context (a tar archive)"),
    responses((status = 201, description = "Built", body = Built))
)]
async fn build(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: axum::http::HeaderMap,
    uri: Uri,
    Query(q): Query<BuildQ>,
    raw: Body,
) -> ApiResult<(StatusCode, Json<Built>)> {
    let context = read_limited(&headers, raw, state.config.image_upload_limit).await?;
    let query = uri.query().unwrap_or("");
    let mut spec = BuildSpec {
        nocache: crate::input::is_on_opt(q.nocache.as_deref()),
        dockerfile: q.dockerfile,
        ..Default::default()
    };
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "t" | "tag" => spec.tags.push(v.trim().to_string()),
            "buildarg" => {
                spec.buildargs.extend(crate::http::query::parse_args(&v)?);
            }
            _ => {}
        }
    }
    let (tx, _rx) = watch::channel(Progress::new(ops::images::build_title(&spec)));
    let id = ops::images::build(&state, &ep, &actor, &spec, context, &tx).await?;
    let p = tx.borrow().clone();
    Ok((StatusCode::CREATED, Json(Built { id, log: p.log })))
}

#[utoipa::path(
    post, path = "/api/images/load", tag = "images",
    request_body(content = Vec<u8>, content_type = "application/x-tar", description = "A `docker save` archive"),
    responses((status = 200, description = "Loaded", body = JobSummary))
)]
async fn load(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: axum::http::HeaderMap,
    raw: Body,
) -> ApiResult<Json<JobSummary>> {
    let limit = state.config.image_upload_limit;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError(Error::TooLarge(format!(
            "The upload is larger than the limit of {}.",
            crate::fmt::size(limit as i64)
        ))));
    }
    let (tx, _rx) = watch::channel(Progress::new("load"));
    ops::images::load(&state, &ep, &actor, raw.into_data_stream(), limit, &tx).await?;
    Ok(Json(summary(&tx.borrow())))
}

#[utoipa::path(
    get, path = "/api/images/export", tag = "images",
    params(("ids" = Vec<String>, Query, description = "Image ids or references, repeated or comma-separated")),
    responses((status = 200, description = "A `docker save` archive of the images", content_type = "application/x-tar", body = Vec<u8>))
)]
async fn export_many(ep: Ep, uri: Uri) -> Result<Response, ApiError> {
    Ok(crate::http::attachment::image_save(
        &ep,
        &ids_of(uri.query()),
    )?)
}

#[utoipa::path(
    get, path = "/api/images/{id}/export", tag = "images",
    params(("id" = String, Path, description = "Image id, unique id prefix, or reference")),
    responses((status = 200, description = "A `docker save` archive of the image", content_type = "application/x-tar", body = Vec<u8>))
)]
async fn export_one(ep: Ep, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(crate::http::attachment::image_save(&ep, &[id])?)
}

#[utoipa::path(
    get, path = "/api/images/{id}", tag = "images",
    params(("id" = String, Path, description = "Image id, unique id prefix, or reference")),
    responses((status = 200, description = "The engine's inspect answer, unchanged (see the Docker Engine API)", body = Object))
)]
async fn inspect(ep: Ep, Path(id): Path<String>) -> ApiResult<Json<bollard::models::ImageInspect>> {
    Ok(Json(crate::engine::images::detail(&ep, &id).await?.inspect))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
struct TagBody {
    #[serde(default)]
    reference: String,
}

#[utoipa::path(
    post, path = "/api/images/{id}/tag", tag = "images",
    params(("id" = String, Path, description = "Image id, unique id prefix, or reference")), request_body = TagBody,
    responses((status = 204, description = "Tagged"))
)]
async fn tag(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<TagBody>,
) -> ApiResult<StatusCode> {
    ops::images::tag(&state, &ep, &actor, &id, &b.reference).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete, path = "/api/images/{id}", tag = "images",
    params(("id" = String, Path, description = "Image id, unique id prefix, or reference"), RemoveOpts),
    responses((status = 200, description = "What the engine untagged and deleted", body = Removed))
)]
async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    Path(id): Path<String>,
    Query(opts): Query<RemoveOpts>,
) -> ApiResult<Json<Removed>> {
    Ok(Json(
        ops::images::remove(&state, &ep, &actor, &id, &opts).await?,
    ))
}

#[utoipa::path(
    get, path = "/api/jobs/{id}", tag = "images",
    params(("id" = u64, Path, description = "A job a page started (pull, build, load, push)")),
    responses((status = 200, description = "Its progress so far", body = Progress))
)]
async fn job(ep: Ep, Path(id): Path<u64>) -> ApiResult<Json<Progress>> {
    let job = ep
        .jobs
        .get(id)
        .ok_or_else(|| Error::NotFound(format!("No job {id}.")))?;
    let p = job.progress.borrow().clone();
    Ok(Json(p))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct JobSummary {
    /// The images the job made or fetched.
    images: Vec<String>,
    layers: Vec<crate::engine::progress::LayerProgress>,
    /// The engine's messages, in order.
    log: Vec<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Built {
    /// The new image's id.
    id: String,
    /// The build's output, in order.
    log: Vec<String>,
}
