//! `/{images,networks,volumes}/prune`: one preview page and one form answer for every prune.

use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{Chrome, action_response, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::prune::{PruneForm, PrunePreview};
use crate::error::{Error, Result};
use crate::http::scope::Ep;
use crate::ops::Actor;
use crate::ops::prune::{self, Prunable};

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

/// The kind a route's const parameter names (`Prunable::Images as u8`, …).
const fn kind(k: u8) -> Prunable {
    match k {
        0 => Prunable::Images,
        1 => Prunable::Networks,
        _ => Prunable::Volumes,
    }
}

pub async fn page<const K: u8>(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(f): Query<PruneForm>,
) -> Result<Response> {
    let kind = kind(K);
    let (preview, error) = match prune::preview(&ep, kind, &f).await {
        Ok(p) => (p, None),
        Err(e) => (PrunePreview::default(), Some(e.public_message())),
    };
    render(&PrunePage {
        chrome: Chrome::new(&user, &ep, kind.list()),
        kind: kind.list(),
        what: kind.what(f.all),
        preview,
        label: f.label,
        offers_all: kind.offers_all(),
        all: f.all && kind.offers_all(),
        error,
    })
}

pub async fn submit<const K: u8>(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let kind = kind(K);
    let r = async {
        // A form that cannot be read is refused, never read as "no filter: prune everything".
        let f: PruneForm = serde_urlencoded::from_bytes(&body).map_err(|e| {
            Error::invalid("label", format!("The prune form could not be read: {e}"))
        })?;
        let r = prune::prune(&state, &ep, &actor, kind, &f).await?;
        Ok(kind.summary(&r))
    }
    .await;
    action_response(&headers, &format!("{}/{}", ep.base, kind.list()), r)
}
