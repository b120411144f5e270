//! Server-rendered pages (askama + htmx), one module per page.

use crate::fmt;

pub mod account;
pub mod anatomy;
pub mod audit;
pub mod backup;
pub mod console;
pub mod containers;
pub mod create;
pub mod dashboard;
pub mod endpoints;
pub mod events;
pub mod files;
pub mod health;
pub mod images;
pub mod layers;
pub mod live;
pub mod logs;
pub mod metrics;
pub mod networks;
pub mod profile;
pub mod prune;
pub mod registries;
pub mod search;
pub mod settings;
pub mod stacks;
pub mod stats;
pub mod swarm;
pub mod users;
pub mod volumes;

use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::Mirror;
use crate::error::{Error, Result};
use crate::http::scope::{self, Ep};

/// Pages: the public ones (setup, login, health) and the ones behind the login guard.
pub fn router(state: AppState) -> Router<AppState> {
    let protected = Router::new()
        .merge(dashboard::router())
        .merge(containers::router())
        .merge(create::router())
        .merge(anatomy::router())
        .merge(files::router())
        .merge(images::router())
        .merge(layers::router())
        .merge(networks::router())
        .merge(volumes::router())
        .merge(live::router())
        .merge(events::router())
        .merge(search::router())
        .merge(swarm::router())
        .merge(endpoints::router())
        .merge(settings::router())
        .merge(stacks::router())
        .merge(registries::router())
        .merge(metrics::router())
        .merge(logs::router())
        .merge(console::router())
        .merge(stats::router())
        .merge(account::protected_router())
        .merge(users::router())
        .merge(profile::router())
        .merge(audit::router())
        .merge(backup::protected_router())
        .route_layer(middleware::from_fn_with_state(
            state,
            crate::auth::require_user,
        ));
    Router::new()
        .merge(account::public_router())
        .merge(backup::public_router())
        .merge(health::router())
        .merge(protected)
}

/// What the layout shows around every page: who is logged in, which engine, and its health.
#[derive(Debug)]
pub struct Chrome {
    /// Prefix of every link, so that a tab stays on its endpoint ("" or "/e/{id}").
    pub base: String,
    pub user: String,
    pub can_act: bool,
    /// May read env values, files, exports (operator and admin).
    pub can_read_secrets: bool,
    /// May manage endpoints, settings, the audit log.
    pub is_admin: bool,
    pub nav: &'static str,
    pub endpoint: String,
    pub engine_up: bool,
    /// Why the engine is unreachable, shown as a banner on every page.
    pub banner: Option<String>,
    /// The page's endpoint, and every endpoint for the switch control.
    pub endpoint_id: i64,
    pub endpoint_name: String,
    pub endpoints: Vec<scope::EndpointChoice>,
}

impl Chrome {
    pub fn new(user: &CurrentUser, ep: &Ep, nav: &'static str) -> Self {
        let mirror: &Mirror = ep;
        let h = mirror.health();
        // The health ping names failures precisely (TLS handshake, refused…): prefer its reason.
        let pinged = ep
            .choices
            .iter()
            .find(|c| c.id == mirror.endpoint_id)
            .and_then(|c| c.error.clone());
        let banner = (!h.up).then(|| {
            let why = pinged.or(h.error).unwrap_or_else(|| "connecting…".into());
            match h.last_sync {
                Some(t) => format!(
                    "The engine at {} is not reachable: {why}. Showing the state last seen {}; Berth keeps retrying.",
                    mirror.url,
                    fmt::ago(t)
                ),
                None => format!("The engine at {} is not reachable: {why}. Berth keeps retrying.", mirror.url),
            }
        });
        Chrome {
            base: ep.base.clone(),
            user: user.username.clone(),
            can_act: user.can_act(),
            can_read_secrets: user.can_read_secrets(),
            is_admin: user.is_admin(),
            nav,
            endpoint: mirror.url.clone(),
            engine_up: h.up,
            banner,
            endpoint_id: mirror.endpoint_id,
            endpoint_name: mirror.name.clone(),
            endpoints: ep.choices.clone(),
        }
    }
}

#[cfg(test)]
impl Chrome {
    /// The layout of an admin on the local engine, for rendering templates in unit tests.
    pub fn for_tests(nav: &'static str) -> Self {
        Chrome {
            base: String::new(),
            user: "admin".into(),
            can_act: true,
            can_read_secrets: true,
            is_admin: true,
            nav,
            endpoint: "unix:///var/run/docker.sock".into(),
            engine_up: true,
            banner: None,
            endpoint_id: 1,
            endpoint_name: "local".into(),
            endpoints: Vec::new(),
        }
    }
}

/// Renders a template into a response; a template error becomes our error type.
pub fn render<T: Template>(t: &T) -> Result<Response> {
    let html = t
        .render()
        .map_err(|e| Error::internal(format!("template: {e}")))?;
    Ok(Html(html).into_response())
}

/// The error page (kept in [`crate::http`], which the error type may name).
pub use crate::http::render_error_page;

/// True when htmx made the request (it then wants a fragment, not a page).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

#[derive(Template)]
#[template(path = "flash.html")]
pub struct Flash<'a> {
    pub ok: bool,
    pub message: &'a str,
}

/// The answer to an action: for htmx a flash message (and an event so lists refresh), for a
/// plain form a redirect back, for errors without htmx the error page.
pub fn action_response(headers: &HeaderMap, back: &str, outcome: Result<String>) -> Response {
    match (is_htmx(headers), outcome) {
        (true, Ok(msg)) => {
            let mut r = render(&Flash {
                ok: true,
                message: &msg,
            })
            .unwrap_or_else(|e| e.into_response());
            r.headers_mut()
                .insert("hx-trigger", HeaderValue::from_static("berth-changed"));
            r
        }
        (true, Err(e)) => {
            let status = e.status();
            let msg = e.public_message();
            let mut r = render(&Flash {
                ok: false,
                message: &msg,
            })
            .unwrap_or_else(|e| e.into_response());
            // htmx leaves error statuses unswapped; the status goes in a header for scripts.
            r.headers_mut()
                .insert("x-berth-status", HeaderValue::from(status.as_u16()));
            r
        }
        (false, Ok(_)) => Redirect::to(back).into_response(),
        (false, Err(e)) => e.into_response(),
    }
}

/// A redirect that htmx follows as a full navigation.
pub fn hx_redirect(headers: &HeaderMap, to: &str) -> Response {
    if is_htmx(headers) {
        let mut r = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(to) {
            r.headers_mut().insert("hx-redirect", v);
        }
        r
    } else {
        (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
    }
}
