//! `/api/images`: pull, build, load (answered when the engine is done), export, tag, remove,
//! prune (preview with GET), and the jobs pages started.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::networks::{body, body_or_default};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::image_ops::{self, BuildSpec, PullSpec, RemoveOpts, Removed};
use crate::engine::progress::Progress;
use crate::engine::prune::{LabelFilter, PruneForm, PruneOutcome, PrunePreview};
use crate::error::{ApiError, ApiResult, Error};
use crate::web::acts::{audited, client, read_limited};
use crate::web::images::{ids_of, save_response};
use crate::web::scope::Ep;

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
        .route("/api/images/prune", get(preview).post(prune))
        .route("/api/images/{id}", get(inspect).delete(remove))
        .route("/api/images/{id}/export", get(export_one))
        .route("/api/images/{id}/tag", post(tag))
        .route("/api/jobs/{id}", get(job))
}

fn summary(p: &Progress) -> Value {
    json!({ "images": p.images, "layers": p.layers, "log": p.log })
}

async fn pull(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    raw: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let spec: PullSpec = body(&raw)?;
    let (tx, _rx) = watch::channel(Progress::new(format!("pull {}", spec.reference.trim())));
    let r = image_ops::pull(&ep, &spec, &tx).await;
    audited(
        &state,
        &ep,
        &user,
        &client(ci),
        "image.pull",
        spec.reference.trim(),
        r,
    )
    .await?;
    Ok(Json(summary(&tx.borrow())))
}

#[derive(serde::Deserialize, Default)]
struct BuildQ {
    #[serde(default)]
    nocache: Option<String>,
    #[serde(default)]
    dockerfile: String,
}

#[allow(clippy::too_many_arguments)] // one per extractor
async fn build(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: axum::http::HeaderMap,
    uri: Uri,
    Query(q): Query<BuildQ>,
    raw: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let context = read_limited(&headers, raw, state.config.image_upload_limit).await?;
    let query = uri.query().unwrap_or("");
    let mut spec = BuildSpec {
        nocache: matches!(q.nocache.as_deref(), Some("1" | "true" | "on" | "yes")),
        dockerfile: q.dockerfile,
        ..Default::default()
    };
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "t" | "tag" => spec.tags.push(v.trim().to_string()),
            "buildarg" => {
                spec.buildargs.extend(crate::web::images::parse_args(&v)?);
            }
            _ => {}
        }
    }
    let title = spec.tags.first().cloned().unwrap_or_else(|| "build".into());
    let (tx, _rx) = watch::channel(Progress::new(format!("build {title}")));
    let r = image_ops::build(&ep, &spec, context, &tx).await;
    let id = audited(&state, &ep, &user, &client(ci), "image.build", &title, r).await?;
    let p = tx.borrow().clone();
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "log": p.log }))))
}

async fn load(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: axum::http::HeaderMap,
    raw: Body,
) -> ApiResult<Json<Value>> {
    let limit = state.config.image_upload_limit;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError(Error::TooLarge(format!(
            "The upload is larger than the limit of {}.",
            crate::web::fmt::size(limit as i64)
        ))));
    }
    let (tx, _rx) = watch::channel(Progress::new("load"));
    let r = image_ops::load(&ep, raw.into_data_stream(), limit, &tx).await;
    audited(
        &state,
        &ep,
        &user,
        &client(ci),
        "image.load",
        "tar upload",
        r,
    )
    .await?;
    Ok(Json(summary(&tx.borrow())))
}

async fn export_many(ep: Ep, uri: Uri) -> Result<Response, ApiError> {
    Ok(save_response(&ep, &ids_of(uri.query()))?)
}

async fn export_one(ep: Ep, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(save_response(&ep, &[id])?)
}

async fn inspect(ep: Ep, Path(id): Path<String>) -> ApiResult<Json<bollard::models::ImageInspect>> {
    Ok(Json(crate::engine::images::detail(&ep, &id).await?.inspect))
}

#[derive(serde::Deserialize)]
struct TagBody {
    #[serde(default)]
    reference: String,
}

async fn tag(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let b: TagBody = body(&raw)?;
    let r = image_ops::tag(&ep, &id, &b.reference).await;
    let target = format!("{id} as {}", b.reference.trim());
    audited(&state, &ep, &user, &client(ci), "image.tag", &target, r).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
    Query(opts): Query<RemoveOpts>,
) -> ApiResult<Json<Removed>> {
    let r = image_ops::remove(&ep, &id, &opts).await;
    Ok(Json(
        audited(&state, &ep, &user, &client(ci), "image.remove", &id, r).await?,
    ))
}

async fn preview(ep: Ep, Query(f): Query<PruneForm>) -> ApiResult<Json<PrunePreview>> {
    let label = LabelFilter::parse(&f.label)?;
    Ok(Json(
        image_ops::prune_preview(&ep, f.all, label.as_ref()).await,
    ))
}

async fn prune(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    raw: axum::body::Bytes,
) -> ApiResult<Json<PruneOutcome>> {
    let f: PruneForm = body_or_default(&raw)?;
    let label = LabelFilter::parse(&f.label)?;
    let r = image_ops::prune(&ep, f.all, label.as_ref()).await;
    Ok(Json(
        audited(&state, &ep, &user, &client(ci), "image.prune", &f.label, r).await?,
    ))
}

async fn job(ep: Ep, Path(id): Path<u64>) -> ApiResult<Json<Progress>> {
    let job = ep
        .jobs
        .get(id)
        .ok_or_else(|| Error::NotFound(format!("No job {id}.")))?;
    let p = job.progress.borrow().clone();
    Ok(Json(p))
}
