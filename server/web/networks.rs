//! `/networks` and `/networks/{id}`: driver, scope, IPAM, attached containers.

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};

use super::images::Q;
use super::{Chrome, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::networks::{self, NetworkRow};
use crate::error::{Error, Result};
use crate::web::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/networks", get(list_page))
        .route("/networks/{id}", get(detail))
}

#[derive(Template)]
#[template(path = "networks.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    rows: Vec<NetworkRow>,
}

async fn list_page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<Q>,
) -> Result<Response> {
    render(&ListPage {
        chrome: Chrome::new(&user, &ep, "networks"),
        rows: networks::list(&ep, &q.q),
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
    render(&DetailPage {
        chrome: Chrome::new(&user, &ep, "networks"),
        n,
        subnets,
        attached,
        labels,
        raw,
    })
}
