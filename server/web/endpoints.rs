//! `/endpoints`: every endpoint with its live health; add, edit (certificate rotation),
//! remove, test a connection, switch the session's current endpoint.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;

use super::{Chrome, hx_redirect, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::endpoints::{self, EndpointView, Input, TestResult, TlsInput};
use crate::error::{Error, Result};
use crate::http::scope::Ep;
use crate::ops::{self, Actor};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/endpoints", get(list_page).post(create))
        .route("/endpoints/test", post(test_new))
        .route("/endpoints/{id}", post(update))
        .route("/endpoints/{id}/edit", get(edit_page))
        .route("/endpoints/{id}/test", post(test_stored))
        .route("/endpoints/{id}/delete", post(remove))
        .route("/endpoints/{id}/switch", post(switch))
}

/// The add/edit form. PEM fields are never filled back in.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct EndpointForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub url: String,
    /// "socket", "tcp" or "tls".
    #[serde(default)]
    pub kind: String,
    /// "verify" or "skip".
    #[serde(default)]
    pub verify: String,
    #[serde(default)]
    pub skip_confirm: Option<String>,
    #[serde(default)]
    pub ca: String,
    #[serde(default)]
    pub cert: String,
    #[serde(default)]
    pub key: String,
}

impl EndpointForm {
    fn input(&self) -> Result<Input> {
        let url = self.url.trim();
        match self.kind.as_str() {
            "socket" if !(url.starts_with("unix://") || url.starts_with("npipe://")) => {
                return Err(Error::invalid(
                    "url",
                    "A local socket is unix:///var/run/docker.sock (or npipe:////./pipe/docker_engine on Windows).",
                ));
            }
            "tcp" | "tls"
                if !(url.starts_with("tcp://")
                    || url.starts_with("https://")
                    || url.starts_with("http://")) =>
            {
                return Err(Error::invalid(
                    "url",
                    "A TCP endpoint is tcp://host:port, e.g. tcp://172.17.64.1:2375.",
                ));
            }
            _ => {}
        }
        let tls = self.kind == "tls";
        let skip = tls && self.verify == "skip";
        if skip && self.skip_confirm.is_none() {
            return Err(Error::invalid(
                "skip_confirm",
                "Skipping verification means anyone between Berth and the engine can pose as the engine: tick the box to confirm that you accept this.",
            ));
        }
        let opt = |s: &str| (!s.trim().is_empty()).then(|| s.to_string());
        Ok(Input {
            name: self.name.clone(),
            url: self.url.clone(),
            tls: tls.then(|| TlsInput {
                ca: opt(&self.ca),
                cert: opt(&self.cert),
                key: opt(&self.key),
            }),
            tls_verify: tls.then_some(!skip),
        })
    }

    /// The form as shown again after an error: without any PEM text.
    fn shown(&self) -> EndpointForm {
        EndpointForm {
            ca: String::new(),
            cert: String::new(),
            key: String::new(),
            skip_confirm: None,
            ..self.clone()
        }
    }
}

#[derive(Template)]
#[template(path = "endpoints.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<EndpointView>,
    current: i64,
    form: EndpointForm,
    error: Option<String>,
    field: &'static str,
    action: String,
    test_action: String,
    stored_ca: bool,
    stored_cert: bool,
}

fn current_id(user: &CurrentUser, state: &AppState) -> i64 {
    user.endpoint_id
        .filter(|id| state.engines.slot(*id).is_some())
        .unwrap_or_else(|| state.engines.primary_id())
}

async fn list_page(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response> {
    render(&ListPage {
        chrome: Chrome::new(&user, &ep, "endpoints"),
        rows: endpoints::list(&state),
        current: current_id(&user, &state),
        form: EndpointForm {
            kind: "tcp".into(),
            verify: "verify".into(),
            ..Default::default()
        },
        error: None,
        field: "",
        action: "/endpoints".into(),
        test_action: "/endpoints/test".into(),
        stored_ca: false,
        stored_cert: false,
    })
}

async fn create(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    actor: Actor,
    Form(f): Form<EndpointForm>,
) -> Result<Response> {
    let r = ops::endpoints::create(&state, &actor, &f.name, f.input()).await;
    match r {
        Ok(_) => Ok(Redirect::to("/endpoints").into_response()),
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => render(&ListPage {
            chrome: Chrome::new(&user, &ep, "endpoints"),
            rows: endpoints::list(&state),
            current: current_id(&user, &state),
            field: e.field().unwrap_or(""),
            error: Some(e.public_message()),
            form: f.shown(),
            action: "/endpoints".into(),
            test_action: "/endpoints/test".into(),
            stored_ca: false,
            stored_cert: false,
        })
        .map(|mut r| {
            *r.status_mut() = e.status();
            r
        }),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "endpoint_edit.html")]
struct EditPage {
    chrome: Chrome,
    e: EndpointView,
    form: EndpointForm,
    error: Option<String>,
    field: &'static str,
    action: String,
    test_action: String,
    stored_ca: bool,
    stored_cert: bool,
}

fn edit_form(e: &EndpointView) -> EndpointForm {
    EndpointForm {
        name: e.name.clone(),
        url: e.url.clone(),
        kind: match e.kind {
            "tls" => "tls",
            "socket" | "pipe" => "socket",
            _ => "tcp",
        }
        .into(),
        verify: if e.tls_verify == Some(false) {
            "skip"
        } else {
            "verify"
        }
        .into(),
        ..Default::default()
    }
}

fn view_of(state: &AppState, id: i64) -> Result<EndpointView> {
    state
        .engines
        .slot(id)
        .map(|s| endpoints::view(&s))
        .ok_or_else(|| Error::NotFound(format!("No endpoint {id}.")))
}

async fn edit_page(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> Result<Response> {
    let e = view_of(&state, id)?;
    if e.from_flags {
        return Err(Error::Forbidden(
            "This endpoint is configured by flags (-H, --tls…, DOCKER_HOST): change them and restart Berth.".into(),
        ));
    }
    render(&EditPage {
        chrome: Chrome::new(&user, &ep, "endpoints"),
        form: edit_form(&e),
        action: format!("/endpoints/{id}"),
        test_action: format!("/endpoints/{id}/test"),
        stored_ca: e.has_ca,
        stored_cert: e.has_client_cert,
        e,
        error: None,
        field: "",
    })
}

async fn update(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    actor: Actor,
    Path(id): Path<i64>,
    Form(f): Form<EndpointForm>,
) -> Result<Response> {
    let r = ops::endpoints::update(&state, &actor, id, &f.name, f.input()).await;
    match r {
        Ok(()) => Ok(Redirect::to("/endpoints").into_response()),
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
            let view = view_of(&state, id)?;
            render(&EditPage {
                chrome: Chrome::new(&user, &ep, "endpoints"),
                action: format!("/endpoints/{id}"),
                test_action: format!("/endpoints/{id}/test"),
                stored_ca: view.has_ca,
                stored_cert: view.has_client_cert,
                e: view,
                field: e.field().unwrap_or(""),
                error: Some(e.public_message()),
                form: f.shown(),
            })
            .map(|mut r| {
                *r.status_mut() = e.status();
                r
            })
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "endpoint_test.html")]
struct TestFragment {
    r: Option<TestResult>,
    error: Option<String>,
}

fn test_fragment(r: Result<TestResult>) -> Result<Response> {
    match r {
        Ok(r) => render(&TestFragment {
            r: Some(r),
            error: None,
        }),
        Err(
            e @ (Error::Invalid { .. }
            | Error::Conflict { .. }
            | Error::NotFound(_)
            | Error::Forbidden(_)),
        ) => render(&TestFragment {
            r: None,
            error: Some(e.public_message()),
        }),
        Err(e) => Err(e),
    }
}

async fn test_new(State(state): State<AppState>, Form(f): Form<EndpointForm>) -> Result<Response> {
    let r = match f.input() {
        Ok(input) => endpoints::test(&state, None, &input).await,
        Err(e) => Err(e),
    };
    test_fragment(r)
}

async fn test_stored(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(f): Form<EndpointForm>,
) -> Result<Response> {
    let r = if f.url.trim().is_empty() {
        match state.engines.slot(id) {
            Some(s) => Ok(endpoints::test_def(&s.def).await),
            None => Err(Error::NotFound(format!("No endpoint {id}."))),
        }
    } else {
        match f.input() {
            Ok(input) => endpoints::test(&state, Some(id), &input).await,
            Err(e) => Err(e),
        }
    };
    test_fragment(r)
}

async fn remove(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response> {
    ops::endpoints::remove(&state, &actor, id).await?;
    Ok(hx_redirect(&headers, "/endpoints"))
}

async fn switch(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response> {
    endpoints::switch(&state, &user.token_hash, id).await?;
    Ok(hx_redirect(&headers, "/"))
}
