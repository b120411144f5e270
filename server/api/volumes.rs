//! `/api/volumes`: create, remove, files (list, download, upload), prune (preview with GET).

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::AppState;
use crate::engine::volume_files::{self, FileEntry};
use crate::engine::volumes::{self, VolumeRow, VolumeSpec};
use crate::error::{ApiError, ApiResult};
use crate::http::bodies::JsonBody;
use crate::http::query::PathQ;
use crate::http::request::read_limited;
use crate::http::scope::Ep;
use crate::ops::{self, Actor};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/volumes", post(create))
        .route(
            "/api/volumes/prune",
            get(super::prune::volumes_preview).post(super::prune::volumes_prune),
        )
        .route("/api/volumes/{name}", get(one).delete(remove))
        .route(
            "/api/volumes/{name}/files",
            get(files)
                .post(upload)
                .put(upload_put)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/api/volumes/{name}/download", get(download))
}

#[utoipa::path(
    post, path = "/api/volumes", tag = "volumes",
    request_body = VolumeSpec,
    responses((status = 201, description = "Created", body = NewName))
)]
async fn create(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    JsonBody(spec): JsonBody<VolumeSpec>,
) -> ApiResult<(StatusCode, Json<NewName>)> {
    let name = ops::volumes::create(&state, &ep, &actor, &spec).await?;
    Ok((StatusCode::CREATED, Json(NewName { name })))
}

#[utoipa::path(
    get, path = "/api/volumes/{name}", tag = "volumes",
    params(("name" = String, Path, description = "Volume name")),
    responses((status = 200, description = "The volume and what uses it", body = VolumeRow))
)]
async fn one(ep: Ep, Path(name): Path<String>) -> ApiResult<Json<VolumeRow>> {
    Ok(Json(volumes::get(&ep, &name)?))
}

#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RemoveQ {
    #[serde(default, deserialize_with = "crate::engine::network_spec::flag")]
    force: bool,
}

#[utoipa::path(
    delete, path = "/api/volumes/{name}", tag = "volumes",
    params(("name" = String, Path, description = "Volume name"), RemoveQ),
    responses((status = 204, description = "Removed"))
)]
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

#[utoipa::path(
    get, path = "/api/volumes/{name}/files", tag = "volumes",
    params(("name" = String, Path, description = "Volume name"), PathQ),
    responses((status = 200, description = "The folder's entries", body = Vec<FileEntry>))
)]
async fn files(
    State(state): State<AppState>,
    ep: Ep,
    Path(name): Path<String>,
    Query(q): Query<PathQ>,
) -> ApiResult<Json<Vec<FileEntry>>> {
    state.own.check_volume(&ep, &name).await?;
    Ok(Json(volume_files::list(&ep, &name, &q.path).await?))
}

#[utoipa::path(
    get, path = "/api/volumes/{name}/download", tag = "volumes",
    params(("name" = String, Path, description = "Volume name"), PathQ),
    responses((status = 200, description = "A tar archive of the path", content_type = "application/x-tar", body = Vec<u8>))
)]
async fn download(
    State(state): State<AppState>,
    ep: Ep,
    Path(name): Path<String>,
    Query(q): Query<PathQ>,
) -> Result<Response, ApiError> {
    Ok(crate::http::attachment::volume_tar(&state, &ep, &name, &q.path).await?)
}

#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadQ {
    /// The folder to write into.
    #[serde(default)]
    path: String,
    /// The file's name in that folder.
    #[serde(default)]
    name: String,
}

#[allow(clippy::too_many_arguments)] // one per extractor
#[utoipa::path(
    post, path = "/api/volumes/{name}/files", tag = "volumes",
    params(("name" = String, Path, description = "Volume name"), UploadQ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses((status = 201, description = "Written"))
)]
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

#[derive(serde::Serialize, utoipa::ToSchema)]
struct NewName {
    /// The volume's name (the engine's when none was asked).
    name: String,
}

/// `PUT` of the same upload (a client that writes a file where it names it).
#[utoipa::path(
    put, path = "/api/volumes/{name}/files", tag = "volumes",
    params(("name" = String, Path, description = "Volume name"), UploadQ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses((status = 201, description = "Written"))
)]
#[allow(clippy::too_many_arguments)] // one per extractor
async fn upload_put(
    state: State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    name: Path<String>,
    q: Query<UploadQ>,
    raw: Body,
) -> ApiResult<StatusCode> {
    upload(state, ep, actor, headers, name, q, raw).await
}
