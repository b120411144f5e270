//! `/stacks` and `/stacks/{name}`: every compose project on the endpoint; deploy from an editor
//! or an uploaded file (with an optional .env), the diff before a redeploy, versions with
//! rollback, lifecycle and `down`. Handlers are thin: each calls one `stacks::` function.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Multipart, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use super::{Chrome, action_response, hx_redirect, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{Error, Result};
use crate::http::request::client;
use crate::http::scope::Ep;
use crate::stacks::{self, DeploySpec, Lifecycle, StackRow, diff, store::Version};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/stacks", get(list_page).post(create))
        .route("/stacks/{name}", get(detail))
        .route("/stacks/{name}/deploy", post(redeploy))
        .route("/stacks/{name}/preview", post(preview))
        .route("/stacks/{name}/copy", post(copy))
        .route("/stacks/{name}/versions/{version}", get(version_page))
        .route("/stacks/{name}/{action}", post(act))
}

/// The editor's content and the error shown beside it.
#[derive(Debug, Default)]
struct Editor {
    name: String,
    compose: String,
    env: String,
    error: Option<String>,
    line: Option<usize>,
}

impl Editor {
    fn failed(spec: DeploySpec, e: &Error) -> Self {
        let line = match e {
            Error::File { line, .. } => *line,
            _ => None,
        };
        Editor {
            name: spec.name,
            compose: spec.compose,
            env: spec.env.unwrap_or_default(),
            error: Some(e.public_message()),
            line,
        }
    }
}

#[derive(Template)]
#[template(path = "stacks.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<StackRow>,
    editor: Editor,
}

async fn list_page(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response> {
    let held = stacks::held(&state.store, &ep).await?;
    render(&ListPage {
        chrome: Chrome::new(&user, &ep, "stacks"),
        rows: stacks::list(&ep, &held),
        editor: Editor::default(),
    })
}

/// Reads the deploy form: `name`, `compose` (or an uploaded `compose_file`), `env` (or an
/// uploaded `env_file`), and the files that `env_file:` entries name (`env_files`, by file name).
async fn read_form(mut form: Multipart) -> Result<DeploySpec> {
    let mut spec = DeploySpec::default();
    let (mut file, mut env_file) = (None, None);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| Error::invalid("compose", format!("The form could not be read: {e}")))?
    {
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let text = field
            .text()
            .await
            .map_err(|e| Error::invalid("compose", format!("The form could not be read: {e}")))?;
        if text.len() > stacks::MAX_FILE {
            return Err(Error::TooLarge(format!(
                "A compose file or .env is limited to {} KiB.",
                stacks::MAX_FILE / 1024
            )));
        }
        match name.as_str() {
            "name" => spec.name = text.trim().to_string(),
            "compose" => spec.compose = text,
            "env" => spec.env = Some(text),
            "compose_file" if !text.trim().is_empty() => file = Some(text),
            "env_file" if !text.trim().is_empty() => env_file = Some(text),
            "env_files" => {
                if let Some(f) = file_name.filter(|f| !f.is_empty()) {
                    spec.env_files.insert(f, text.replace("\r\n", "\n"));
                }
            }
            _ => {}
        }
    }
    if let Some(f) = file {
        spec.compose = f;
    }
    if let Some(f) = env_file {
        spec.env = Some(f);
    }
    // Browsers send CRLF from a textarea.
    spec.compose = spec.compose.replace("\r\n", "\n");
    spec.env = spec.env.map(|e| e.replace("\r\n", "\n"));
    Ok(spec)
}

async fn create(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    form: Multipart,
) -> Result<Response> {
    let spec = read_form(form).await?;
    let r = stacks::deploy(&state.store, &ep, &spec, &user.username, true).await;
    let r = crate::ops::audited(
        &state,
        &ep,
        &crate::ops::Actor::user(&user, &client(ci)),
        crate::ops::AuditAction::StackDeploy,
        &spec.name,
        r,
    )
    .await;
    match r {
        Ok(d) => Ok(hx_redirect(
            &HeaderMap::new(),
            &format!("{}/stacks/{}", ep.base, d.name),
        )),
        Err(e) => {
            let held = stacks::held(&state.store, &ep).await?;
            let status = e.status();
            let page = render(&ListPage {
                chrome: Chrome::new(&user, &ep, "stacks"),
                rows: stacks::list(&ep, &held),
                editor: Editor::failed(spec, &e),
            })?;
            Ok((status, page).into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "stack.html")]
struct DetailPage {
    chrome: Chrome,
    s: StackRow,
    versions: Vec<Version>,
    editor: Editor,
    /// `/logs?c=…&c=…` for the merged log view of every container.
    logs: String,
    /// Live usage cells, while the stack runs few enough containers (as the container list).
    live_stats: bool,
}

async fn detail_page(
    state: &AppState,
    ep: &Ep,
    user: &CurrentUser,
    name: &str,
    editor: Option<Editor>,
) -> Result<DetailPage> {
    let held = stacks::held(&state.store, ep).await?;
    let s = stacks::get(ep, &held, name)?;
    let versions = stacks::store::versions(state.store.pool(), ep.endpoint_id, name).await?;
    let editor = editor.unwrap_or_else(|| Editor {
        name: name.to_string(),
        compose: versions
            .first()
            .map(|v| v.compose.clone())
            .unwrap_or_default(),
        env: versions.first().map(|v| v.env.clone()).unwrap_or_default(),
        ..Default::default()
    });
    let logs = format!(
        "{}/logs?{}",
        ep.base,
        s.container_ids()
            .iter()
            .map(|id| format!("c={id}"))
            .collect::<Vec<_>>()
            .join("&")
    );
    Ok(DetailPage {
        chrome: Chrome::new(user, ep, "stacks"),
        live_stats: s.running() <= super::containers::LIVE_STATS_MAX,
        s,
        versions,
        editor,
        logs,
    })
}

async fn detail(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(name): Path<String>,
) -> Result<Response> {
    render(&detail_page(&state, &ep, &user, &name, None).await?)
}

async fn redeploy(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    Path(name): Path<String>,
    form: Multipart,
) -> Result<Response> {
    let mut spec = read_form(form).await?;
    spec.name = name.clone();
    let r = stacks::deploy(&state.store, &ep, &spec, &user.username, false).await;
    match crate::ops::audited(
        &state,
        &ep,
        &crate::ops::Actor::user(&user, &client(ci)),
        crate::ops::AuditAction::StackRedeploy,
        &name,
        r,
    )
    .await
    {
        Ok(_) => Ok(hx_redirect(
            &HeaderMap::new(),
            &format!("{}/stacks/{name}", ep.base),
        )),
        Err(e) => {
            let status = e.status();
            let page = render(
                &detail_page(&state, &ep, &user, &name, Some(Editor::failed(spec, &e))).await?,
            )?;
            Ok((status, page).into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "stack_diff.html")]
struct DiffPage {
    chrome: Chrome,
    name: String,
    diff: Vec<diff::Line>,
    changes: bool,
    error: Option<String>,
    compose: String,
    env: String,
}

async fn preview(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(name): Path<String>,
    form: Multipart,
) -> Result<Response> {
    let mut spec = read_form(form).await?;
    spec.name = name.clone();
    let p = stacks::preview(&state.store, &ep, &spec).await?;
    render(&DiffPage {
        chrome: Chrome::new(&user, &ep, "stacks"),
        name,
        changes: diff::changes(&p.diff),
        diff: p.diff,
        error: p.error,
        compose: spec.compose,
        env: spec.env.unwrap_or_default(),
    })
}

#[derive(Template)]
#[template(path = "stack_version.html")]
struct VersionPage {
    chrome: Chrome,
    name: String,
    v: Version,
    diff: Vec<diff::Line>,
}

/// One recorded version, and its diff against the current one.
async fn version_page(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path((name, version)): Path<(String, i64)>,
) -> Result<Response> {
    let pool = state.store.pool();
    let v = stacks::store::version(pool, ep.endpoint_id, &name, version)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Stack `{name}` has no version {version}.")))?;
    let current = stacks::store::latest(pool, ep.endpoint_id, &name)
        .await?
        .map(|v| v.compose)
        .unwrap_or_default();
    render(&VersionPage {
        chrome: Chrome::new(&user, &ep, "stacks"),
        diff: diff::lines(&current, &v.compose),
        name,
        v,
    })
}

#[derive(serde::Deserialize, Default)]
struct CopyForm {
    #[serde(default)]
    endpoint: i64,
    #[serde(default)]
    name: String,
}

/// Deploys the stack's file on another endpoint, then shows it there.
async fn copy(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let back = format!("{}/stacks/{name}", ep.base);
    let r = async {
        let f: CopyForm = serde_urlencoded::from_bytes(&body)
            .map_err(|e| Error::invalid("form", format!("The form could not be read: {e}")))?;
        let to = state
            .engines
            .get(f.endpoint)
            .ok_or_else(|| Error::NotFound(format!("No endpoint {}.", f.endpoint)))?;
        let r = stacks::copy(&state.store, &ep, &to, &name, &f.name, &user.username).await;
        let target = format!("{name} → {}", to.name);
        crate::ops::audited(
            &state,
            &to,
            &crate::ops::Actor::user(&user, &client(ci)),
            crate::ops::AuditAction::StackCopy,
            &target,
            r,
        )
        .await
        .map(|d| (to.endpoint_id, d.name))
    }
    .await;
    match r {
        Ok((id, new)) => hx_redirect(&headers, &format!("/e/{id}/stacks/{new}")),
        Err(e) => action_response(&headers, &back, Err(e)),
    }
}

#[derive(serde::Deserialize, Default)]
struct ActForm {
    #[serde(default)]
    version: Option<i64>,
}

async fn act(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Path((name, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let who = client(ci);
    let back = format!("{}/stacks/{name}", ep.base);
    let form: ActForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let outcome: Result<String> = match action.as_str() {
        "rollback" | "redeploy-version" => {
            let r = match form.version {
                Some(v) if action == "redeploy-version" => {
                    stacks::redeploy_version(&state.store, &ep, &name, v, &user.username).await
                }
                _ => stacks::rollback(&state.store, &ep, &name, &user.username).await,
            };
            crate::ops::audited(
                &state,
                &ep,
                &crate::ops::Actor::user(&user, &who),
                crate::ops::AuditAction::StackRollback,
                &name,
                r,
            )
            .await
            .map(|d| format!("Stack {name} is at version {} now.", d.version))
        }
        "pull" => {
            let r = stacks::pull_and_redeploy(&state.store, &ep, &name).await;
            crate::ops::audited(
                &state,
                &ep,
                &crate::ops::Actor::user(&user, &who),
                crate::ops::AuditAction::StackPull,
                &name,
                r,
            )
            .await
            .map(|_| format!("Pulled the images of {name} and redeployed what changed."))
        }
        "down" | "down-volumes" => {
            let volumes = action == "down-volumes";
            let r = stacks::down(&state.store, &ep, &name, volumes).await;
            let act = if volumes {
                crate::ops::AuditAction::StackDownVolumes
            } else {
                crate::ops::AuditAction::StackDown
            };
            return match crate::ops::audited(
                &state,
                &ep,
                &crate::ops::Actor::user(&user, &who),
                act,
                &name,
                r,
            )
            .await
            {
                Ok(_) => hx_redirect(&headers, &format!("{}/stacks", ep.base)),
                Err(e) => action_response(&headers, &back, Err(e)),
            };
        }
        other => match Lifecycle::parse(other) {
            Some(what) => {
                let r = stacks::lifecycle(&ep, &name, what).await;
                let act = crate::ops::AuditAction::from(what);
                crate::ops::audited(
                    &state,
                    &ep,
                    &crate::ops::Actor::user(&user, &who),
                    act,
                    &name,
                    r,
                )
                .await
                .map(|n| {
                    format!(
                        "{} {n} container(s) of {name}.",
                        match what {
                            Lifecycle::Start => "Started",
                            Lifecycle::Stop => "Stopped",
                            Lifecycle::Restart => "Restarted",
                        }
                    )
                })
            }
            None => Err(Error::NotFound(format!("`{other}` is not a stack action."))),
        },
    };
    if !super::is_htmx(&headers) && outcome.is_ok() {
        return hx_redirect(&headers, &back);
    }
    action_response(&headers, &back, outcome)
}
