//! Which endpoint a request is about.
//!
//! URLs may carry it: `/e/{id}/containers`, `/api/e/{id}/containers`. [`rewrite`] strips that
//! prefix before routing and leaves an [`EndpointId`] in the request, so every page and API
//! route exists scoped and unscoped without being declared twice. Handlers take [`Ep`]: the
//! endpoint's mirror and the prefix their links must carry. Unscoped paths mean the endpoint
//! the session switched to, else the first (the flags') endpoint.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::http::uri::PathAndQuery;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::engine::Mirror;
use crate::error::{ApiError, Error};

/// The endpoint named in the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointId(pub i64);

/// The mirror a JSON answer was read from, noted by [`Ep`] for [`rewrite`]: an answer read
/// from a mirror whose engine is not reachable says so in its headers (`x-berth-engine: down`,
/// `x-berth-last-seen: UNIX TIME` of its last complete listing). A JSON list has no banner,
/// and the state last seen must not pass for the current one.
#[derive(Clone, Default)]
struct AnsweredFrom(Arc<std::sync::OnceLock<Arc<Mirror>>>);

/// The endpoint of this request and the URL prefix that keeps links on it.
pub struct Ep {
    pub mirror: Arc<Mirror>,
    /// "" for the unscoped paths, "/e/{id}" for scoped ones.
    pub base: String,
    /// Every endpoint, for the layout's switch control.
    pub choices: Vec<EndpointChoice>,
}

/// One entry of the layout's "switch endpoint" control.
#[derive(Debug, Clone)]
pub struct EndpointChoice {
    pub id: i64,
    pub name: String,
    pub up: bool,
    /// Why its health ping fails (the precise reason, e.g. of a TLS handshake).
    pub error: Option<String>,
}

fn choices(state: &AppState) -> Vec<EndpointChoice> {
    state
        .engines
        .slots()
        .iter()
        .map(|s| {
            let st = s.status();
            EndpointChoice {
                id: s.def.id,
                name: s.def.name.clone(),
                up: st.up,
                error: st.error,
            }
        })
        .collect()
}

impl std::ops::Deref for Ep {
    type Target = Mirror;
    fn deref(&self) -> &Mirror {
        &self.mirror
    }
}

/// How long a view waits for a mirror that is still connecting (its first listing).
pub const CONNECT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl FromRequestParts<AppState> for Ep {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let api = parts.uri.path().starts_with("/api/");
        let reject = |e: Error| {
            if api {
                ApiError(e).into_response()
            } else {
                e.into_response()
            }
        };
        let ep = Self::resolve(parts, state).map_err(|e| reject(*e))?;
        if let Some(a) = parts.extensions.get::<AnsweredFrom>() {
            let _ = a.0.set(ep.mirror.clone());
        }
        // A view never answers from a mirror that has not listed yet: it would show an empty
        // engine. Wait for the listing (or the failure to reach the engine) a moment.
        if parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD {
            ep.mirror
                .ready_for_view(CONNECT_WAIT, api)
                .await
                .map_err(reject)?;
        }
        Ok(ep)
    }
}

impl Ep {
    fn resolve(parts: &mut Parts, state: &AppState) -> Result<Self, Box<Error>> {
        match parts.extensions.get::<EndpointId>() {
            None => {
                let chosen = parts
                    .extensions
                    .get::<crate::auth::CurrentUser>()
                    .and_then(|u| u.endpoint_id)
                    .and_then(|id| state.engines.get(id));
                let mirror = match chosen {
                    Some(m) => m,
                    None => state
                        .engines
                        .get(state.engines.primary_id())
                        .unwrap_or_else(|| state.engines.primary()),
                };
                Ok(Ep {
                    mirror,
                    base: String::new(),
                    choices: choices(state),
                })
            }
            Some(EndpointId(id)) => match state.engines.get(*id) {
                Some(mirror) => Ok(Ep {
                    mirror,
                    base: format!("/e/{id}"),
                    choices: choices(state),
                }),
                None => Err(Box::new(Error::NotFound(format!(
                    "No endpoint {id}: see /endpoints."
                )))),
            },
        }
    }
}

/// Splits `/e/{id}/rest` (or `/api/e/{id}/rest`) into the id and the unscoped path.
pub fn split_scoped(path: &str) -> Option<(i64, String)> {
    let (api, rest) = match path.strip_prefix("/api/e/") {
        Some(r) => (true, r),
        None => (false, path.strip_prefix("/e/")?),
    };
    let (id, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let id: i64 = id.parse().ok()?;
    let unscoped = if api {
        format!("/api{tail}")
    } else {
        tail.to_string()
    };
    Some((id, unscoped))
}

/// Runs before routing: moves the endpoint from the path into the request's extensions.
pub async fn rewrite(mut req: Request, next: Next) -> Response {
    if let Some((id, path)) = split_scoped(req.uri().path()) {
        let pq = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        if let Ok(pq) = pq.parse::<PathAndQuery>() {
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
                req.extensions_mut().insert(EndpointId(id));
            }
        }
    }
    let api = req.uri().path().starts_with("/api/");
    let from = AnsweredFrom::default();
    if api {
        req.extensions_mut().insert(from.clone());
    }
    let mut res = next.run(req).await;
    if let Some(m) = from.0.get() {
        let h = m.health();
        if !h.up && res.status().is_success() {
            let headers = res.headers_mut();
            headers.insert("x-berth-engine", HeaderValue::from_static("down"));
            if let Some(t) = h.last_sync {
                headers.insert("x-berth-last-seen", HeaderValue::from(t));
            }
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_paths_split() {
        assert_eq!(
            split_scoped("/e/2/containers/abc"),
            Some((2, "/containers/abc".into()))
        );
        assert_eq!(
            split_scoped("/api/e/3/containers"),
            Some((3, "/api/containers".into()))
        );
        assert_eq!(split_scoped("/e/2"), Some((2, "/".into())));
        assert_eq!(split_scoped("/e/x/containers"), None);
        assert_eq!(split_scoped("/containers"), None);
    }
}
