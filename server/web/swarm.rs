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
use crate::engine::swarm::{self, NodeRow, ServiceForm, ServiceRow, SwarmStatus, TaskRow};
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
}

#[derive(Template)]
#[template(path = "swarm.html")]
struct Page {
    chrome: Chrome,
    status: SwarmStatus,
    nodes: Vec<NodeRow>,
    services: Vec<ServiceRow>,
    /// Why the lists are missing although the engine is a manager (it did not answer).
    error: Option<String>,
}

async fn page(ep: Ep, Extension(user): Extension<CurrentUser>) -> Result<Response> {
    let status = swarm::status(&ep);
    let (mut nodes, mut services, mut error) = (Vec::new(), Vec::new(), None);
    if status.manager {
        match (swarm::nodes(&ep).await, swarm::services(&ep).await) {
            (Ok(n), Ok(s)) => (nodes, services) = (n, s),
            (Err(e), _) | (_, Err(e)) => error = Some(e.public_message()),
        }
    }
    render(&Page {
        chrome: Chrome::new(&user, &ep, "swarm"),
        status,
        nodes,
        services,
        error,
    })
}

#[derive(Template)]
#[template(path = "swarm_service.html")]
struct ServicePage {
    chrome: Chrome,
    s: ServiceRow,
    tasks: Vec<TaskRow>,
}

async fn service_page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Response> {
    let s = swarm::service(&ep, &id).await?;
    let tasks = swarm::tasks(&ep, Some(&s.id), None).await?;
    render(&ServicePage {
        chrome: Chrome::new(&user, &ep, "swarm"),
        s,
        tasks,
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
