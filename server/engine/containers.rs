//! Containers: the list as pages show it (filtered, sorted, from the mirror), inspect, and the
//! life-cycle actions. Each action updates the mirror before it returns, so its result is on the
//! next page load without waiting for the event.

use std::sync::Arc;

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    KillContainerOptions, RemoveContainerOptions, RestartContainerOptions, StartContainerOptions,
    StopContainerOptions,
};
use serde::Deserialize;

use super::Mirror;
use super::views::ContainerView;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Start,
    Stop,
    Restart,
    Kill,
    Pause,
    Unpause,
    Remove,
}

impl Action {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "start" => Action::Start,
            "stop" => Action::Stop,
            "restart" => Action::Restart,
            "kill" => Action::Kill,
            "pause" => Action::Pause,
            "unpause" => Action::Unpause,
            "remove" => Action::Remove,
            other => {
                return Err(Error::invalid(
                    "action",
                    format!(
                        "`{other}` is not a container action (start, stop, restart, kill, pause, unpause, remove)"
                    ),
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::Kill => "kill",
            Action::Pause => "pause",
            Action::Unpause => "unpause",
            Action::Remove => "remove",
        }
    }

    /// The states (the engine's words) in which the engine carries the action out; in the
    /// others it refuses it or does nothing (a removal of a running container needs force).
    pub fn states(self) -> &'static [&'static str] {
        match self {
            Action::Start => &["created", "exited"],
            Action::Stop | Action::Kill => &["running", "paused", "restarting"],
            Action::Restart => &["running", "paused", "restarting", "created", "exited"],
            Action::Pause => &["running"],
            Action::Unpause => &["paused"],
            Action::Remove => &[
                "created",
                "exited",
                "dead",
                "running",
                "paused",
                "restarting",
            ],
        }
    }

    /// Whether the action fits a container in `state` (`force` for a removal of a running one).
    pub fn applies(self, state: &str, force: bool) -> bool {
        if self == Action::Remove && !force && matches!(state, "running" | "paused" | "restarting")
        {
            return false;
        }
        self.states().contains(&state)
    }

    pub const ALL: [Action; 7] = [
        Action::Start,
        Action::Stop,
        Action::Restart,
        Action::Pause,
        Action::Unpause,
        Action::Kill,
        Action::Remove,
    ];
}

/// Options of a removal (the other actions take none).
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemoveOpts {
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub volumes: bool,
}

/// Query of the container list page.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Text matched against name, image, id, status, ports and labels.
    #[serde(default)]
    pub q: String,
    /// running, paused, exited, created, restarting, dead; empty for all.
    #[serde(default)]
    pub state: String,
    /// name, image, state, created, status (prefix `-` for descending).
    #[serde(default)]
    pub sort: String,
}

pub fn list(m: &Mirror, q: &ListQuery) -> Vec<Arc<ContainerView>> {
    let needle = q.q.trim().to_lowercase();
    let mut rows: Vec<Arc<ContainerView>> = m.read(|s| {
        s.containers
            .values()
            .filter(|c| {
                q.state.is_empty()
                    || c.state == q.state
                    || (q.state == "stopped" && c.state != "running" && c.state != "paused")
            })
            .filter(|c| needle.is_empty() || matches_text(c, &needle))
            .cloned()
            .collect()
    });
    let (key, desc) = match q.sort.strip_prefix('-') {
        Some(k) => (k, true),
        None => (q.sort.as_str(), false),
    };
    match key {
        "image" => rows.sort_by(|a, b| a.image.cmp(&b.image).then_with(|| a.name.cmp(&b.name))),
        "state" => rows.sort_by(|a, b| a.state.cmp(&b.state).then_with(|| a.name.cmp(&b.name))),
        "created" => {
            rows.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.name.cmp(&b.name)))
        }
        "status" => rows.sort_by_cached_key(|c| (c.status_now(), c.name.clone())),
        _ => rows.sort_by(|a, b| a.name.cmp(&b.name)),
    }
    if desc {
        rows.reverse();
    }
    rows
}

fn matches_text(c: &ContainerView, needle: &str) -> bool {
    c.name.to_lowercase().contains(needle)
        || c.image.to_lowercase().contains(needle)
        || c.id.starts_with(needle)
        || c.status_now().to_lowercase().contains(needle)
        || c.ports_text.contains(needle)
        || c.labels
            .iter()
            .any(|(k, v)| k.to_lowercase().contains(needle) || v.to_lowercase().contains(needle))
}

/// Counts by state for the dashboard: (running, paused, stopped).
pub fn counts(m: &Mirror) -> (usize, usize, usize) {
    m.read(|s| {
        let running = s
            .containers
            .values()
            .filter(|c| c.state == "running")
            .count();
        let paused = s
            .containers
            .values()
            .filter(|c| c.state == "paused")
            .count();
        (running, paused, s.containers.len() - running - paused)
    })
}

/// Finds a container in the mirror by id, id prefix or name.
pub fn find(m: &Mirror, key: &str) -> Option<Arc<ContainerView>> {
    let key = key.trim_start_matches('/');
    m.read(|s| {
        s.containers.get(key).cloned().or_else(|| {
            s.containers
                .values()
                .find(|c| c.name == key || (key.len() >= 4 && c.id.starts_with(key)))
                .cloned()
        })
    })
}

/// The full id for a key the user gave, when the mirror knows it; else the key as given.
fn resolve(m: &Mirror, key: &str) -> String {
    find(m, key)
        .map(|c| c.id.clone())
        .unwrap_or_else(|| key.to_string())
}

pub async fn inspect(m: &Mirror, key: &str) -> Result<ContainerInspectResponse> {
    let id = resolve(m, key);
    m.docker()?
        .inspect_container(&id, None)
        .await
        .map_err(|e| not_found_as(m.err(e), key))
}

fn not_found_as(e: Error, key: &str) -> Error {
    match e {
        Error::EngineRefused { status: 404, .. } => {
            Error::NotFound(format!("No container `{key}` on this engine."))
        }
        other => other,
    }
}

/// Runs one action and brings the mirror up to date with its result.
pub async fn act(m: &Mirror, key: &str, action: Action, opts: RemoveOpts) -> Result<()> {
    let id = resolve(m, key);
    let d = m.docker()?;
    let r = match action {
        Action::Start => d.start_container(&id, None::<StartContainerOptions>).await,
        Action::Stop => d.stop_container(&id, None::<StopContainerOptions>).await,
        Action::Restart => {
            d.restart_container(&id, None::<RestartContainerOptions>)
                .await
        }
        Action::Kill => d.kill_container(&id, None::<KillContainerOptions>).await,
        Action::Pause => d.pause_container(&id).await,
        Action::Unpause => d.unpause_container(&id).await,
        Action::Remove => {
            let o = RemoveContainerOptions {
                force: opts.force,
                v: opts.volumes,
                link: false,
            };
            d.remove_container(&id, Some(o)).await
        }
    };
    match r.map_err(|e| m.err(e)) {
        Ok(()) => {}
        // 304: already in the asked state (start a running one, stop a stopped one): done.
        Err(Error::EngineRefused { status: 304, .. }) => {}
        Err(e) => return Err(state_conflict(not_found_as(e, key))),
    }
    if action == Action::Remove {
        m.forget_container(&id);
    } else if let Err(e) = m.refresh_container(&id).await {
        tracing::debug!(error = %e, "refresh after action failed; the event will repair it");
    }
    Ok(())
}

/// The engine answers 500 when an action does not fit the container's state ("is not paused",
/// "is not running", "is already paused", …): the request's fault, so a 409 on `state` with the
/// engine's words.
fn state_conflict(e: Error) -> Error {
    const STATE_WORDS: [&str; 7] = [
        "is not paused",
        "is already paused",
        "is not running",
        "is paused",
        "is restarting",
        "marked for removal",
        "already in progress",
    ];
    match e {
        Error::EngineRefused {
            status: 500,
            message,
        } if STATE_WORDS.iter().any(|w| message.contains(w)) => Error::Conflict {
            field: "state",
            message,
        },
        other => other,
    }
}

/// The running container `key` names: (full id, name). A stopped one is a conflict whose
/// message ends with `why` ("a console needs a running container").
pub fn running(m: &Mirror, key: &str, why: &str) -> Result<(String, String)> {
    let c = find(m, key)
        .ok_or_else(|| Error::NotFound(format!("No container `{key}` on this engine.")))?;
    if c.state != "running" {
        return Err(Error::Conflict {
            field: "state",
            message: format!("{} is {}: {why}.", c.name, c.state),
        });
    }
    Ok((c.id.clone(), c.name.clone()))
}

/// Joins the live stats feed of a running container (one engine stream however many watch).
pub fn watch_stats(m: &Mirror, key: &str) -> Result<super::stats::Watch> {
    let (id, _) = running(m, key, "only running containers have live stats")?;
    m.stats.watch(m, &id)
}
