//! `/api/volumes`: create, remove, files (list, download, upload), prune (preview with GET).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use super::networks::{body, body_or_default};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::prune::{LabelFilter, PruneForm, PruneOutcome, PrunePreview};
use crate::engine::volume_files::{self, FileEntry};
use crate::engine::volumes::{self, VolumeRow, VolumeSpec};
use crate::error::{ApiError, ApiResult};
use crate::web::acts::{audited, client, read_limited};
use crate::web::scope::Ep;
use crate::web::volumes::PathQ;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/volumes", post(create))
        .route("/api/volumes/prune", get(preview).post(prune))
        .route("/api/volumes/{name}", get(one).delete(remove))
        .route(
            "/api/volumes/{name}/files",
            get(files)
                .post(upload)
                .put(upload)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/api/volumes/{name}/download", get(download))
}

async fn create(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    raw: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let spec: VolumeSpec = body(&raw)?;
    let r = volumes::create(&ep, &spec).await;
    let name = audited(
        &state,
        &ep,
        &user,
        &client(ci),
        "volume.create",
        spec.name.trim(),
        r,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "name": name }))))
}

async fn one(ep: Ep, Path(name): Path<String>) -> ApiResult<Json<VolumeRow>> {
    Ok(Json(volumes::get(&ep, &name)?))
}

#[derive(serde::Deserialize, Default)]
struct RemoveQ {
    #[serde(default, deserialize_with = "crate::engine::network_spec::flag")]
    force: bool,
}

async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(name): Path<String>,
    Query(q): Query<RemoveQ>,
) -> ApiResult<StatusCode> {
    let r = volumes::remove(&ep, &name, q.force).await;
    audited(&state, &ep, &user, &client(ci), "volume.remove", &name, r).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn files(
    ep: Ep,
    Path(name): Path<String>,
    Query(q): Query<PathQ>,
) -> ApiResult<Json<Vec<FileEntry>>> {
    Ok(Json(volume_files::list(&ep, &name, &q.path).await?))
}

async fn download(
    ep: Ep,
    Path(name): Path<String>,
    Query(q): Query<PathQ>,
) -> Result<Response, ApiError> {
    Ok(crate::web::volumes::tar_response(&ep, &name, &q.path).await?)
}

#[derive(serde::Deserialize, Default)]
struct UploadQ {
    /// The folder to write into.
    #[serde(default)]
    path: String,
    /// The file's name in that folder.
    #[serde(default)]
    name: String,
}

#[allow(clippy::too_many_arguments)] // one per extractor
async fn upload(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<UploadQ>,
    raw: Body,
) -> ApiResult<StatusCode> {
    let data = read_limited(&headers, raw, state.config.volume_upload_limit).await?;
    let target = format!("{name}:{}/{}", q.path, q.name);
    let r = volume_files::upload(&ep, &name, &q.path, &q.name, data).await;
    audited(&state, &ep, &user, &client(ci), "volume.upload", &target, r).await?;
    Ok(StatusCode::CREATED)
}

async fn preview(ep: Ep, Query(f): Query<PruneForm>) -> ApiResult<Json<PrunePreview>> {
    let label = LabelFilter::parse(&f.label)?;
    Ok(Json(volumes::prune_preview(&ep, label.as_ref())))
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
    let r = volumes::prune(&ep, label.as_ref()).await;
    Ok(Json(
        audited(&state, &ep, &user, &client(ci), "volume.prune", &f.label, r).await?,
    ))
}
