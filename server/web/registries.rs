//! `/registries` (admin): add, edit, test, remove, browse repositories and tags. Image push and
//! "pull and recreate" run as jobs followed live, like a pull; "check for updates" fills the
//! badges of the containers list and pages.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;

use super::images::job_started;
use super::{Chrome, action_response, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{Error, Result};
use crate::http::scope::Ep;
use crate::ops::Actor;
use crate::registries::client::TagInfo;
use crate::registries::{self, Registry, RegistryForm};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/registries", get(list).post(add))
        .route("/registries/{id}", get(one).post(edit))
        .route("/registries/{id}/remove", post(remove))
        .route("/registries/{id}/test", post(test))
        .route("/registries/{id}/tags", get(tags))
        .route("/images/{id}/push", post(push))
        .route("/updates/check", post(check))
        .route("/containers/{id}/update", post(update_container))
}

#[derive(Template)]
#[template(path = "registries.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Registry>,
}

async fn list(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response> {
    render(&ListPage {
        chrome: Chrome::new(&user, &ep, "registries"),
        rows: registries::list(&state).await?,
    })
}

async fn add(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Form(f): Form<RegistryForm>,
) -> Response {
    let r = registries::add(&state, &actor, &f)
        .await
        .map(|r| format!("Registry {} added.", r.name));
    action_response(&headers, "/registries", r)
}

#[derive(Template)]
#[template(path = "registry.html")]
struct OnePage {
    chrome: Chrome,
    reg: Registry,
    repos: Vec<String>,
    next: Option<String>,
    /// Why the catalog could not be read.
    catalog_error: Option<String>,
}

#[derive(Deserialize)]
struct PageQ {
    last: Option<String>,
}

async fn one(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<i64>,
    Query(q): Query<PageQ>,
) -> Result<Response> {
    let reg = registries::get(&state, id).await?;
    let (repos, next, catalog_error) =
        match registries::repositories(&state, id, q.last.as_deref()).await {
            Ok((r, n)) => (r, n, None),
            Err(e) => (Vec::new(), None, Some(e.public_message())),
        };
    render(&OnePage {
        chrome: Chrome::new(&user, &ep, "registries"),
        reg,
        repos,
        next,
        catalog_error,
    })
}

async fn edit(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<RegistryForm>,
) -> Response {
    let r = registries::update(&state, &actor, id, &f)
        .await
        .map(|r| format!("Registry {} saved.", r.name));
    action_response(&headers, &format!("/registries/{id}"), r)
}

async fn remove(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let r = registries::remove(&state, &actor, id)
        .await
        .map(|()| "Registry removed.".to_string());
    action_response(&headers, "/registries", r)
}

async fn test(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let r = registries::test(&state, id)
        .await
        .map(|p| match (p.auth, p.authenticated) {
            ("none", _) => "The registry answers; it asks for no credentials.".to_string(),
            (auth, true) => {
                format!("The registry answers and accepts the stored credentials ({auth}).")
            }
            (auth, false) => {
                format!("The registry answers and asks for credentials ({auth}); none are stored.")
            }
        });
    action_response(&headers, &format!("/registries/{id}"), r)
}

#[derive(Template)]
#[template(path = "registry_tags.html")]
struct TagsPage {
    chrome: Chrome,
    reg: Registry,
    repo: String,
    tags: Vec<TagInfo>,
}

#[derive(Deserialize)]
struct RepoQ {
    #[serde(default)]
    repo: String,
}

async fn tags(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<i64>,
    Query(q): Query<RepoQ>,
) -> Result<Response> {
    let reg = registries::get(&state, id).await?;
    let tags = registries::tags(&state, id, &q.repo).await?;
    render(&TagsPage {
        chrome: Chrome::new(&user, &ep, "registries"),
        reg,
        repo: q.repo.trim().to_string(),
        tags,
    })
}

#[derive(Deserialize)]
struct PushForm {
    #[serde(default)]
    target: String,
}

/// Starts a push as a job (the page follows it live); the ops action writes its audit row.
async fn push(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<PushForm>,
) -> Response {
    if let Err(e) = crate::engine::image_ops::split_reference(&f.target) {
        return action_response(&headers, &format!("{}/images/{id}", ep.base), Err(e));
    }
    let target = f.target.trim().to_string();
    let job = ep.jobs.start(format!("push {target}"));
    let (j, m) = (job.clone(), ep.mirror.clone());
    tokio::spawn(async move {
        let r = crate::ops::registries::push(&state, &m, &actor, &id, &target, &j.progress).await;
        finish(&j, r.err());
    });
    job_started(&headers, &ep, &job)
}

async fn update_container(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    // Known before the job starts: an unknown id is answered here, not in a job.
    let Some(name) = crate::engine::containers::find(&ep, &id).map(|c| c.name.clone()) else {
        return action_response(
            &headers,
            &format!("{}/containers", ep.base),
            Err(Error::NotFound(format!(
                "No container `{id}` on this engine."
            ))),
        );
    };
    let job = ep.jobs.start(format!("pull and recreate {name}"));
    let (j, m) = (job.clone(), ep.mirror.clone());
    tokio::spawn(async move {
        let r =
            crate::ops::registries::pull_and_recreate(&state, &m, &actor, &id, &j.progress).await;
        if let Ok(msg) = &r {
            j.progress.send_modify(|p| p.log.push(msg.clone()));
        }
        finish(&j, r.err());
    });
    job_started(&headers, &ep, &job)
}

fn finish(j: &crate::engine::progress::Job, err: Option<Error>) {
    if let Some(e) = err {
        let msg = e.public_message();
        j.progress.send_modify(|p| {
            if p.error.is_none() {
                p.error = Some(msg);
            }
        });
    }
    j.progress.send_modify(|p| p.done = true);
}

async fn check(State(state): State<AppState>, ep: Ep, headers: HeaderMap) -> Response {
    let r = registries::updates::check(&state, &ep).await.map(|checks| {
        let n = checks.iter().filter(|c| c.state == "available").count();
        let unknown = checks.iter().filter(|c| c.state == "unknown").count();
        format!(
            "{} image(s) checked: {n} with an update available, {unknown} unknown.",
            checks.len()
        )
    });
    let back = format!("{}/containers", ep.base);
    match r {
        Ok(msg) => action_response(&headers, &back, Ok(msg)),
        Err(e) => e.into_response(),
    }
}
