//! `/networks` and `/networks/{id}`: driver, scope, IPAM, attached containers; create, connect,
//! disconnect, remove and prune with a preview.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};

use super::{Chrome, action_response, hx_redirect, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::network_spec::NetworkSpec;
use crate::engine::networks::{self, ConnectSpec, NetworkRow};
use crate::ops::prune::Prunable;
use crate::ops::{self, Actor};

use crate::engine::views::ContainerView;
use crate::error::{Error, Result};
use crate::http::bodies;
use crate::http::query::ListQ as Q;
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/networks", get(list_page).post(create))
        .route(
            "/networks/prune",
            get(super::prune::page::<{ Prunable::Networks as u8 }>)
                .post(super::prune::submit::<{ Prunable::Networks as u8 }>),
        )
        .route("/networks/{id}", get(detail))
        .route("/networks/{id}/remove", post(remove))
        .route("/networks/{id}/connect", post(connect))
        .route("/networks/{id}/disconnect", post(disconnect))
}

#[derive(Template)]
#[template(path = "networks.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    rows: Vec<NetworkRow>,
    drivers: Vec<String>,
}

async fn list_page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<Q>,
) -> Result<Response> {
    render(&ListPage {
        chrome: Chrome::new(&user, &ep, "networks"),
        rows: networks::list(&ep, &q.q),
        drivers: networks::drivers(&ep),
        q: q.q,
    })
}

#[derive(Template)]
#[template(path = "network.html")]
struct DetailPage {
    chrome: Chrome,
    n: bollard::models::NetworkInspect,
    subnets: Vec<(String, String, String)>,
    attached: Vec<(String, bollard::models::EndpointResource)>,
    labels: Vec<(String, String)>,
    raw: String,
    builtin: bool,
    /// Containers that can be connected (not attached yet).
    others: Vec<Arc<ContainerView>>,
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
    let n = networks::inspect(&ep, &id).await?;
    let raw = serde_json::to_string_pretty(&n)
        .map_err(|e| Error::internal(format!("inspect json: {e}")))?;
    let subnets = n
        .ipam
        .as_ref()
        .and_then(|i| i.config.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            (
                c.subnet.unwrap_or_default(),
                c.gateway.unwrap_or_default(),
                c.ip_range.unwrap_or_default(),
            )
        })
        .collect();
    let mut attached: Vec<_> = n
        .containers
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    attached.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    let mut labels: Vec<_> = n.labels.clone().unwrap_or_default().into_iter().collect();
    labels.sort();
    let name = n.name.clone().unwrap_or_default();
    let others = ep.read(|s| {
        let mut v: Vec<_> = s
            .containers
            .values()
            .filter(|c| !c.networks.contains(&name))
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    });
    let nid = n.id.clone().unwrap_or_default();
    let ev_rows = super::events::of_object(&ep, &[nid.as_str(), name.as_str()]);
    render(&DetailPage {
        chrome: Chrome::new(&user, &ep, "networks"),
        ev_rows,
        ev_error: None,
        with_object: false,
        ev_object: nid,
        builtin: crate::engine::views::BUILTIN_NETWORKS.contains(&name.as_str()),
        n,
        subnets,
        attached,
        labels,
        raw,
        others,
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
        let spec: NetworkSpec = bodies::form(&body)?;
        ops::networks::create(&state, &ep, &actor, &spec).await
    }
    .await;
    match r {
        Ok(id) => hx_redirect(&headers, &format!("{}/networks/{id}", ep.base)),
        Err(e) => action_response(&headers, "/networks", Err(e)),
    }
}

async fn remove(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match ops::networks::remove(&state, &ep, &actor, &id).await {
        Ok(()) => hx_redirect(&headers, &format!("{}/networks", ep.base)),
        Err(e) => action_response(&headers, "/networks", Err(e)),
    }
}

async fn connect(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let r = async {
        let spec: ConnectSpec = bodies::form(&body)?;
        ops::networks::connect(&state, &ep, &actor, &id, &spec).await
    }
    .await;
    action_response(&headers, &format!("{}/networks/{id}", ep.base), r)
}

async fn disconnect(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let r = async {
        let spec: ConnectSpec = bodies::form(&body)?;
        ops::networks::disconnect(&state, &ep, &actor, &id, &spec).await
    }
    .await;
    action_response(&headers, &format!("{}/networks/{id}", ep.base), r)
}
