//! `/networks` and `/networks/{id}`: driver, scope, IPAM, attached containers; create, connect,
//! disconnect, remove and prune with a preview.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};

use super::acts::{audited, client};
use super::images::Q;
use super::{Chrome, action_response, hx_redirect, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::network_spec::NetworkSpec;
use crate::engine::networks::{self, ConnectSpec, NetworkRow};
use crate::engine::prune::{LabelFilter, PruneForm, PrunePreview};
use crate::engine::views::ContainerView;
use crate::error::{Error, Result};
use crate::web::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/networks", get(list_page).post(create))
        .route("/networks/prune", get(prune_page).post(prune))
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
    render(&DetailPage {
        chrome: Chrome::new(&user, &ep, "networks"),
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
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = async {
        let spec: NetworkSpec = serde_urlencoded::from_bytes(&body)
            .map_err(|e| Error::invalid("form", format!("The form could not be read: {e}")))?;
        let name = spec.name.clone();
        let r = networks::create(&ep, &spec).await;
        audited(&state, &ep, &user, &client(ci), "network.create", &name, r).await
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
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let name = networks::find(&ep, &id)
        .map(|n| n.name.clone())
        .unwrap_or_else(|| id.clone());
    let r = networks::remove(&ep, &id).await;
    match audited(&state, &ep, &user, &client(ci), "network.remove", &name, r).await {
        Ok(()) => hx_redirect(&headers, &format!("{}/networks", ep.base)),
        Err(e) => action_response(&headers, "/networks", Err(e)),
    }
}

async fn connect(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let r = async {
        let spec: ConnectSpec = serde_urlencoded::from_bytes(&body)
            .map_err(|e| Error::invalid("form", format!("The form could not be read: {e}")))?;
        let r = networks::connect(&ep, &id, &spec).await;
        let target = format!("{} → {id}", spec.container);
        audited(
            &state,
            &ep,
            &user,
            &client(ci),
            "network.connect",
            &target,
            r,
        )
        .await?;
        Ok(format!("{} connected.", spec.container))
    }
    .await;
    action_response(&headers, &format!("{}/networks/{id}", ep.base), r)
}

async fn disconnect(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let r = async {
        let spec: ConnectSpec = serde_urlencoded::from_bytes(&body)
            .map_err(|e| Error::invalid("form", format!("The form could not be read: {e}")))?;
        let r = networks::disconnect(&ep, &id, &spec).await;
        let target = format!("{} ← {id}", spec.container);
        audited(
            &state,
            &ep,
            &user,
            &client(ci),
            "network.disconnect",
            &target,
            r,
        )
        .await?;
        Ok(format!("{} disconnected.", spec.container))
    }
    .await;
    action_response(&headers, &format!("{}/networks/{id}", ep.base), r)
}

/// The preview page every prune shares.
#[derive(Template)]
#[template(path = "prune.html")]
pub struct PrunePage {
    pub chrome: Chrome,
    /// "networks", "volumes", "images": the list the page belongs to.
    pub kind: &'static str,
    pub what: &'static str,
    pub preview: PrunePreview,
    pub label: String,
    /// Images: whether the "every unused image" choice is offered, and taken.
    pub offers_all: bool,
    pub all: bool,
    pub error: Option<String>,
}

async fn prune_page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(f): Query<PruneForm>,
) -> Result<Response> {
    let (preview, error) = match LabelFilter::parse(&f.label) {
        Ok(l) => (networks::prune_preview(&ep, l.as_ref()), None),
        Err(e) => (PrunePreview::default(), Some(e.to_string())),
    };
    render(&PrunePage {
        chrome: Chrome::new(&user, &ep, "networks"),
        kind: "networks",
        what: "networks with no running container attached (built-in networks are never pruned)",
        preview,
        label: f.label,
        offers_all: false,
        all: false,
        error,
    })
}

async fn prune(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = async {
        let f: PruneForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        let label = LabelFilter::parse(&f.label)?;
        let r = networks::prune(&ep, label.as_ref()).await;
        let r = audited(
            &state,
            &ep,
            &user,
            &client(ci),
            "network.prune",
            &f.label,
            r,
        )
        .await?;
        Ok(format!(
            "Removed {} network(s){}",
            r.removed.len(),
            if r.removed.is_empty() {
                String::new()
            } else {
                format!(": {}", r.removed.join(", "))
            }
        ))
    }
    .await;
    action_response(&headers, &format!("{}/networks", ep.base), r)
}
