//! `/api/volumes`: create, remove, files (list, download, upload), prune (preview with GET).

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::AppState;
use crate::engine::volume_files::{self, FileEntry};
use crate::engine::volumes::{self, VolumeRow, VolumeSpec};
use crate::error::{ApiError, ApiResult};
use crate::http::bodies::JsonBody;
use crate::http::query::PathQ;
use crate::http::request::read_limited;
use crate::http::scope::Ep;
use crate::ops::prune::Prunable;
use crate::ops::{self, Actor};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/volumes", post(create))
        .route(
            "/api/volumes/prune",
            get(super::prune::preview::<{ Prunable::Volumes as u8 }>)
                .post(super::prune::prune::<{ Prunable::Volumes as u8 }>),
        )
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
    actor: Actor,
    JsonBody(spec): JsonBody<VolumeSpec>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = ops::volumes::create(&state, &ep, &actor, &spec).await?;
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
    actor: Actor,
    Path(name): Path<String>,
    Query(q): Query<RemoveQ>,
) -> ApiResult<StatusCode> {
    ops::volumes::remove(&state, &ep, &actor, &name, q.force).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn files(
    State(state): State<AppState>,
    ep: Ep,
    Path(name): Path<String>,
    Query(q): Query<PathQ>,
) -> ApiResult<Json<Vec<FileEntry>>> {
    state.own.check_volume(&ep, &name).await?;
    Ok(Json(volume_files::list(&ep, &name, &q.path).await?))
}

async fn download(
    State(state): State<AppState>,
    ep: Ep,
    Path(name): Path<String>,
    Query(q): Query<PathQ>,
) -> Result<Response, ApiError> {
    Ok(crate::http::attachment::volume_tar(&state, &ep, &name, &q.path).await?)
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
    actor: Actor,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<UploadQ>,
    raw: Body,
) -> ApiResult<StatusCode> {
    let data = read_limited(&headers, raw, state.config.volume_upload_limit).await?;
    ops::volumes::upload(&state, &ep, &actor, &name, &q.path, &q.name, data).await?;
    Ok(StatusCode::CREATED)
}
