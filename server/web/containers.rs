//! `/containers`: the list (filter, sort, live rows, per-row and bulk actions) and the detail page.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use super::{Chrome, action_response, render};
use crate::AppState;
use crate::auth::{Client, CurrentUser};
use crate::engine::containers::{self, Action, ListQuery, RemoveOpts};
use crate::engine::views::ContainerView;
use crate::error::{Error, Result};
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/containers", get(list_page))
        .route("/containers/rows", get(rows))
        .route("/containers/bulk", post(bulk))
        .route("/containers/{id}", get(detail))
        .route("/containers/{id}/actions", get(actions))
        .route("/containers/{id}/{action}", post(act))
}

pub const STATES: &[&str] = &[
    "running",
    "paused",
    "stopped",
    "exited",
    "created",
    "restarting",
    "dead",
];

/// Running containers a list shows live usage for at most: each cell is a request every 3 s and
/// an engine stats stream, so 500 running rows would cost a browser 500 requests per refresh
/// and the engine 500 streams. Past this, each row links to the container's stats page.
pub const LIVE_STATS_MAX: usize = 50;

fn live_stats(rows: &[Arc<ContainerView>]) -> bool {
    rows.iter().filter(|c| c.is_running()).count() <= LIVE_STATS_MAX
}

#[derive(Template)]
#[template(path = "containers.html")]
struct ListPage {
    chrome: Chrome,
    q: ListQuery,
    rows: Vec<Arc<ContainerView>>,
    live_stats: bool,
    total: usize,
    states: &'static [&'static str],
}

#[derive(Template)]
#[template(path = "containers_rows.html")]
struct Rows {
    chrome: Chrome,
    rows: Vec<Arc<ContainerView>>,
    live_stats: bool,
}

impl ListPage {
    /// The link of a column header: sorts by `key`, flipping the order when already sorted by it.
    fn sort_link(&self, key: &str) -> String {
        format!("{}{}", self.chrome.base, sort_link(&self.q, key))
    }
}

fn sort_link(q: &ListQuery, key: &str) -> String {
    let next = if q.sort == key {
        format!("-{key}")
    } else {
        key.to_string()
    };
    format!(
        "/containers?q={}&state={}&sort={}",
        urlencode(&q.q),
        urlencode(&q.state),
        urlencode(&next)
    )
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn list_page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let chrome = Chrome::new(&user, &ep, "containers");
    let key = view_key("page", &chrome, &q);
    let mirror = ep.mirror.clone();
    let body = ep.renderings.get(key, Some(crate::store::now()), move || {
        let rows = containers::list(&mirror, &q);
        let total = mirror.read(|s| s.containers.len());
        to_bytes(&ListPage {
            chrome,
            q,
            live_stats: live_stats(&rows),
            rows,
            total,
            states: STATES,
        })
    })?;
    Ok(Html(body).into_response())
}

/// The table body alone, for the live refresh.
async fn rows(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let chrome = Chrome::new(&user, &ep, "containers");
    let key = view_key("rows", &chrome, &q);
    let mirror = ep.mirror.clone();
    let body = ep.renderings.get(key, Some(crate::store::now()), move || {
        let rows = containers::list(&mirror, &q);
        to_bytes(&Rows {
            chrome,
            live_stats: live_stats(&rows),
            rows,
        })
    })?;
    Ok(Html(body).into_response())
}

/// Everything a list rendering depends on besides the snapshot and the second its durations are
/// worded for: what the layout shows (who looks, the endpoint, the engine's health when it is
/// down) and the query. Rendered once, a list of 1000 containers is then shared by every viewer.
fn view_key(what: &str, chrome: &Chrome, q: &ListQuery) -> String {
    format!("containers.{what}{:?}", (chrome, &q.q, &q.state, &q.sort))
}

fn to_bytes<T: Template>(t: &T) -> Result<Bytes> {
    t.render()
        .map(Bytes::from)
        .map_err(|e| Error::internal(format!("template: {e}")))
}

/// What the action bar of a container shows: the actions its state allows, the destructive
/// ones apart and confirmed by name (the removal naming the anonymous volumes it may take).
pub struct ActionBox {
    pub id: String,
    pub name: String,
    pub state: String,
    pub status: String,
    /// Anonymous volumes mounted (named by the engine: 64 hex digits).
    pub anonymous: Vec<String>,
}

impl ActionBox {
    pub fn of(c: &crate::engine::views::ContainerView) -> Self {
        ActionBox {
            id: c.id.clone(),
            name: c.name.clone(),
            state: c.state.clone(),
            status: c.status_now(),
            anonymous: c
                .mounts
                .iter()
                .filter(|m| m.kind == "volume")
                .filter_map(|m| m.name.clone())
                .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
                .collect(),
        }
    }

    pub fn running(&self) -> bool {
        matches!(self.state.as_str(), "running" | "paused" | "restarting")
    }

    pub fn remove_question(&self) -> String {
        let mut q = format!("Remove {}?", self.name);
        if self.running() {
            q.push_str(" It is running: it is killed first.");
        }
        q.push_str(" Its writable layer is lost.");
        if !self.anonymous.is_empty() {
            let short: Vec<&str> = self.anonymous.iter().map(|v| &v[..12]).collect();
            q.push_str(&format!(
                " Anonymous volumes {} go too only if \"with its anonymous volumes\" is ticked.",
                short.join(", ")
            ));
        }
        q
    }
}

#[derive(Template)]
#[template(path = "container_actions.html")]
struct ActionsFragment {
    chrome: Chrome,
    box_: ActionBox,
}

async fn actions(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(key): Path<String>,
) -> Result<Response> {
    let c = containers::find(&ep, &key)
        .ok_or_else(|| Error::NotFound(format!("No container `{key}` on this endpoint.")))?;
    render(&ActionsFragment {
        chrome: Chrome::new(&user, &ep, "containers"),
        box_: ActionBox::of(&c),
    })
}

#[derive(Template)]
#[template(path = "container.html")]
struct DetailPage {
    chrome: Chrome,
    box_: ActionBox,
    c: bollard::models::ContainerInspectResponse,
    name: String,
    id: String,
    raw: String,
    env: Vec<String>,
    labels: Vec<(String, String)>,
    networks: Vec<(String, bollard::models::EndpointSettings)>,
    ports: Vec<String>,
    mounts: Vec<bollard::models::MountPoint>,
    isolation: String,
    restart: String,
    tab: &'static str,
    /// The image it was created from (None when it is gone) and its layers, bottom first.
    image: Option<bollard::models::ImageInspect>,
    layers: Vec<String>,
    host_os_version: String,
    /// The last "update available" check of its image, if one was made.
    update: Option<crate::registries::updates::Check>,
}

async fn detail(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Response> {
    let mut c = containers::inspect(&ep, &id).await?;
    if !user.can_read_secrets()
        && let Some(env) = c.config.as_mut().and_then(|c| c.env.as_mut())
    {
        crate::http::access::mask_env(env);
    }
    let raw = serde_json::to_string_pretty(&c)
        .map_err(|e| Error::internal(format!("inspect json: {e}")))?;
    let config = c.config.clone().unwrap_or_default();
    let host = c.host_config.clone().unwrap_or_default();
    let mut labels: Vec<(String, String)> = config
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.sort();
    let mut networks: Vec<_> = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    networks.sort_by(|a, b| a.0.cmp(&b.0));
    let mut ports: Vec<String> = Vec::new();
    if let Some(map) = c.network_settings.as_ref().and_then(|n| n.ports.clone()) {
        let mut map: Vec<_> = map.into_iter().collect();
        map.sort_by(|a, b| a.0.cmp(&b.0));
        for (cport, bindings) in map {
            match bindings {
                Some(bs) if !bs.is_empty() => {
                    for b in bs {
                        ports.push(format!(
                            "{}:{} → {cport}",
                            b.host_ip.unwrap_or_default(),
                            b.host_port.unwrap_or_default()
                        ));
                    }
                }
                _ => ports.push(format!("{cport} (not published)")),
            }
        }
    }
    let restart = host
        .restart_policy
        .as_ref()
        .map(|r| {
            let name = r.name.map(|n| n.to_string()).unwrap_or_default();
            match r.maximum_retry_count {
                Some(n) if n > 0 => format!("{name}:{n}"),
                _ => {
                    if name.is_empty() {
                        "no".into()
                    } else {
                        name
                    }
                }
            }
        })
        .unwrap_or_else(|| "no".into());
    let image = match c.image.as_deref() {
        Some(img) => ep.docker()?.inspect_image(img).await.ok(),
        None => None,
    };
    let layers = image
        .as_ref()
        .and_then(|i| i.root_fs.as_ref())
        .and_then(|r| r.layers.clone())
        .unwrap_or_default();
    let host_os_version = ep.read(|s| {
        s.info
            .as_ref()
            .and_then(|i| i.os_version.clone())
            .unwrap_or_default()
    });
    let update = state.updates.of(
        &ep.name,
        config.image.as_deref().unwrap_or_default(),
        c.image.as_deref().unwrap_or_default(),
    );
    let box_ = match containers::find(&ep, c.id.as_deref().unwrap_or(&id)) {
        Some(v) => ActionBox::of(&v),
        None => ActionBox {
            id: c.id.clone().unwrap_or_default(),
            name: c
                .name
                .clone()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            state: c
                .state
                .as_ref()
                .and_then(|s| s.status)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            status: String::new(),
            anonymous: Vec::new(),
        },
    };
    let page = DetailPage {
        box_,
        update,
        tab: "overview",
        image,
        layers,
        host_os_version,
        chrome: Chrome::new(&user, &ep, "containers"),
        name: c
            .name
            .clone()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        id: c.id.clone().unwrap_or_default(),
        env: config.env.clone().unwrap_or_default(),
        labels,
        networks,
        ports,
        mounts: c.mounts.clone().unwrap_or_default(),
        isolation: host
            .isolation
            .map(|i| i.to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into()),
        restart,
        raw,
        c,
    };
    render(&page)
}

#[derive(serde::Deserialize, Default)]
struct ActForm {
    #[serde(default)]
    force: Option<String>,
    #[serde(default)]
    volumes: Option<String>,
}

fn checked(v: &Option<String>) -> bool {
    crate::input::is_on_opt(v.as_deref())
}

/// One action on one container. `remove` reads `force` and `volumes` from the form.
async fn act(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let form: ActForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let opts = RemoveOpts {
        force: checked(&form.force),
        volumes: checked(&form.volumes),
    };
    let client = Client(ci.ip().to_string());
    let outcome = async {
        let action = Action::parse(&action)?;
        crate::ops::containers::perform(
            &state,
            &ep,
            &crate::ops::Actor::user(&user, &client),
            &id,
            action,
            opts,
        )
        .await
    }
    .await;
    let back = if action == "remove" {
        "/containers".to_string()
    } else {
        format!("/containers/{id}")
    };
    action_response(&headers, &back, outcome)
}

/// The same action on every selected container; says which failed and why.
async fn bulk(
    State(state): State<AppState>,
    ep: Ep,
    ConnectInfo(ci): ConnectInfo<SocketAddr>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client = Client(ci.ip().to_string());
    let mut ids = Vec::new();
    let mut action = String::new();
    let mut opts = RemoveOpts::default();
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "ids" => ids.push(v.into_owned()),
            "action" => action = v.into_owned(),
            "force" => opts.force = crate::input::is_on(&v),
            "volumes" => opts.volumes = crate::input::is_on(&v),
            _ => {}
        }
    }
    let outcome = async {
        let action = Action::parse(&action)?;
        if ids.is_empty() {
            return Err(Error::invalid("ids", "Select at least one container."));
        }
        let mut failed = Vec::new();
        // What the action does not fit is skipped and counted, not sent to be refused.
        let mut skipped: std::collections::BTreeMap<String, usize> = Default::default();
        let mut done = 0;
        for id in &ids {
            if let Some(c) = containers::find(&ep, id)
                && !action.applies(&c.state, opts.force)
            {
                *skipped.entry(c.state.clone()).or_default() += 1;
                continue;
            }
            done += 1;
            if let Err(e) = crate::ops::containers::perform(
                &state,
                &ep,
                &crate::ops::Actor::user(&user, &client),
                id,
                action,
                opts,
            )
            .await
            {
                failed.push(format!("{id}: {}", e.public_message()));
            }
        }
        let skips = if skipped.is_empty() {
            String::new()
        } else {
            let why: Vec<String> = skipped.iter().map(|(s, n)| format!("{n} {s}")).collect();
            let force = if action == Action::Remove && !opts.force {
                " (a running one needs force)"
            } else {
                ""
            };
            format!(
                " Skipped {} that it does not apply to: {}{force}.",
                skipped.values().sum::<usize>(),
                why.join(", ")
            )
        };
        if done == 0 {
            let why: Vec<String> = skipped.iter().map(|(s, n)| format!("{n} {s}")).collect();
            return Ok(format!(
                "Nothing done: {} fits none of the {} selected ({}).",
                action.as_str(),
                ids.len(),
                why.join(", ")
            ));
        }
        if failed.is_empty() {
            Ok(format!(
                "{} on {done} container{}: done.{skips}",
                action.as_str(),
                if done == 1 { "" } else { "s" }
            ))
        } else {
            Err(Error::EngineRefused {
                status: 409,
                message: format!(
                    "{} of {done} failed — {}.{skips}",
                    failed.len(),
                    failed.join("; ")
                ),
            })
        }
    }
    .await;
    action_response(&headers, "/containers", outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::ContainerSummary;

    fn running(n: usize) -> Vec<Arc<ContainerView>> {
        (0..n)
            .map(|i| {
                let id = format!("{i:064x}");
                Arc::new(
                    ContainerView::from_summary(ContainerSummary {
                        id: Some(id.clone()),
                        names: Some(vec![format!("/c{i}")]),
                        state: Some(bollard::models::ContainerSummaryStateEnum::RUNNING),
                        status: Some("Up 3 minutes".into()),
                        ..Default::default()
                    })
                    .expect("a view"),
                )
            })
            .collect()
    }

    fn rows_html(rows: Vec<Arc<ContainerView>>) -> String {
        Rows {
            chrome: Chrome::for_tests("containers"),
            live_stats: live_stats(&rows),
            rows,
        }
        .render()
        .expect("rows render")
    }

    #[test]
    fn live_usage_only_for_a_list_a_browser_can_poll() {
        let few = rows_html(running(LIVE_STATS_MAX));
        assert_eq!(few.matches("/stats/cell").count(), LIVE_STATS_MAX);
        let many = rows_html(running(LIVE_STATS_MAX + 1));
        assert!(
            !many.contains("/stats/cell"),
            "no polling cell past the limit"
        );
        assert_eq!(
            many.matches("/stats\">stats</a>").count(),
            LIVE_STATS_MAX + 1
        );
    }
}
