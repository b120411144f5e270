//! `/swarm`: what the engine is in swarm terms; on a manager its nodes and services (create,
//! scale, remove) and `/swarm/services/{id}` with the service's tasks. Workers and standalone
//! engines get a page that says what they are.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};

use super::{Chrome, action_response, hx_redirect, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::swarm::{
    self, Kept, KeptForm, NodeAction, NodeRow, ObjectRow, ServiceForm, ServiceRow, SwarmStatus,
    TaskRow,
};
use crate::error::Result;
use crate::http::bodies;
use crate::http::scope::Ep;
use crate::ops::{self, Actor};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/swarm", get(page))
        .route("/swarm/services", post(create))
        .route("/swarm/services/{id}", get(service_page))
        .route("/swarm/services/{id}/scale", post(scale))
        .route("/swarm/services/{id}/remove", post(remove))
        .route("/swarm/services/{id}/update", post(update))
        .route("/swarm/services/{id}/rollback", post(rollback))
        .route("/swarm/nodes/{id}/{action}", post(node_act))
        .route("/swarm/secrets", post(create_secret))
        .route("/swarm/configs", post(create_config))
        .route("/swarm/secrets/{id}/remove", post(remove_secret))
        .route("/swarm/configs/{id}/remove", post(remove_config))
}

#[derive(Template)]
#[template(path = "swarm.html")]
struct Page {
    chrome: Chrome,
    status: SwarmStatus,
    nodes: Vec<NodeRow>,
    services: Vec<ServiceRow>,
    secrets: Vec<ObjectRow>,
    configs: Vec<ObjectRow>,
    /// Why the lists are missing although the engine is a manager (it did not answer).
    error: Option<String>,
}

impl Page {
    /// Secrets and configs, for one loop of the template: (title, path word, rows).
    fn kept_lists(&self) -> [(&'static str, &'static str, &Vec<ObjectRow>); 2] {
        [
            ("Secrets", "secrets", &self.secrets),
            ("Configs", "configs", &self.configs),
        ]
    }
}

async fn page(ep: Ep, Extension(user): Extension<CurrentUser>) -> Result<Response> {
    let status = swarm::status(&ep);
    let (mut nodes, mut services, mut error) = (Vec::new(), Vec::new(), None);
    let (mut secrets, mut configs) = (Vec::new(), Vec::new());
    if status.manager {
        let lists = async {
            Ok::<_, crate::error::Error>((
                swarm::nodes(&ep).await?,
                swarm::services(&ep).await?,
                swarm::kept(&ep, Kept::Secret).await?,
                swarm::kept(&ep, Kept::Config).await?,
            ))
        };
        match lists.await {
            Ok((n, s, sec, cfg)) => (nodes, services, secrets, configs) = (n, s, sec, cfg),
            Err(e) => error = Some(e.public_message()),
        }
    }
    render(&Page {
        chrome: Chrome::new(&user, &ep, "swarm"),
        status,
        nodes,
        services,
        secrets,
        configs,
        error,
    })
}

#[derive(Template)]
#[template(path = "swarm_service.html")]
struct ServicePage {
    chrome: Chrome,
    s: ServiceRow,
    tasks: Vec<TaskRow>,
    /// The last lines of its log (every task's), or why there are none.
    log: Vec<String>,
    log_error: Option<String>,
}

async fn service_page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Response> {
    let s = swarm::service(&ep, &id).await?;
    let tasks = swarm::tasks(&ep, Some(&s.id), None).await?;
    let (log, log_error) = match swarm::recent_log(&ep, &s.id, 200).await {
        Ok(l) => (l, None),
        Err(e) => (Vec::new(), Some(e.public_message())),
    };
    render(&ServicePage {
        chrome: Chrome::new(&user, &ep, "swarm"),
        s,
        tasks,
        log,
        log_error,
    })
}

async fn create(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = async {
        let f: ServiceForm = bodies::form(&body)?;
        ops::swarm::create(&state, &ep, &actor, &f).await
    }
    .await;
    match r {
        Ok(id) => hx_redirect(&headers, &format!("{}/swarm/services/{id}", ep.base)),
        Err(e) => action_response(&headers, &format!("{}/swarm", ep.base), Err(e)),
    }
}

#[derive(serde::Deserialize)]
struct ScaleForm {
    replicas: i64,
}

async fn scale(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let r = async {
        let f: ScaleForm = bodies::form(&body)?;
        let s = ops::swarm::scale(&state, &ep, &actor, &id, Some(f.replicas)).await?;
        Ok(format!("{} scaled to {}.", s.name, f.replicas))
    }
    .await;
    action_response(&headers, &format!("{}/swarm/services/{id}", ep.base), r)
}

async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match ops::swarm::remove(&state, &ep, &actor, &id).await {
        Ok(_) => hx_redirect(&headers, &format!("{}/swarm", ep.base)),
        Err(e) => action_response(&headers, &format!("{}/swarm", ep.base), Err(e)),
    }
}

#[derive(serde::Deserialize)]
struct ImageForm {
    image: String,
}

async fn update(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let r = async {
        let f: ImageForm = bodies::form(&body)?;
        let s = ops::swarm::update_image(&state, &ep, &actor, &id, &f.image).await?;
        Ok(format!("{} is updating to {}.", s.name, f.image.trim()))
    }
    .await;
    action_response(&headers, &format!("{}/swarm/services/{id}", ep.base), r)
}

async fn rollback(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let r = ops::swarm::rollback(&state, &ep, &actor, &id)
        .await
        .map(|s| format!("{} is rolling back to its previous version.", s.name));
    action_response(&headers, &format!("{}/swarm/services/{id}", ep.base), r)
}

async fn node_act(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let r = async {
        let a = NodeAction::parse(&action)?;
        ops::swarm::node_act(&state, &ep, &actor, &id, a).await?;
        Ok(format!(
            "Node {}: {} done.",
            crate::engine::views::short_id(&id),
            a.as_str()
        ))
    }
    .await;
    action_response(&headers, &format!("{}/swarm", ep.base), r)
}

async fn create_kept(
    state: &AppState,
    ep: &Ep,
    actor: &Actor,
    headers: &HeaderMap,
    kind: Kept,
    body: &[u8],
) -> Response {
    let r = async {
        let f: KeptForm = bodies::form(body)?;
        ops::swarm::create_kept(state, ep, actor, kind, &f).await?;
        Ok(format!("{} {} created.", kind.word(), f.name.trim()))
    }
    .await;
    action_response(headers, &format!("{}/swarm", ep.base), r)
}

async fn create_secret(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create_kept(&state, &ep, &actor, &headers, Kept::Secret, &body).await
}

async fn create_config(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create_kept(&state, &ep, &actor, &headers, Kept::Config, &body).await
}

async fn remove_secret(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let r = ops::swarm::remove_kept(&state, &ep, &actor, Kept::Secret, &id)
        .await
        .map(|()| format!("secret {id} removed."));
    action_response(&headers, &format!("{}/swarm", ep.base), r)
}

async fn remove_config(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let r = ops::swarm::remove_kept(&state, &ep, &actor, Kept::Config, &id)
        .await
        .map(|()| format!("config {id} removed."));
    action_response(&headers, &format!("{}/swarm", ep.base), r)
}
