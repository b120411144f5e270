//! Container actions: start, stop, restart, kill, pause, unpause, remove.

use super::{Actor, AuditAction, audited};
use crate::AppState;
use crate::engine::Mirror;
use crate::engine::containers::{self, Action, RemoveOpts};
use crate::engine::create::{self, CreateSpec, Created};
use crate::engine::files;
use crate::error::Result;
use crate::http::access::Permission;

impl From<Action> for AuditAction {
    fn from(a: Action) -> Self {
        match a {
            Action::Start => AuditAction::ContainerStart,
            Action::Stop => AuditAction::ContainerStop,
            Action::Restart => AuditAction::ContainerRestart,
            Action::Kill => AuditAction::ContainerKill,
            Action::Pause => AuditAction::ContainerPause,
            Action::Unpause => AuditAction::ContainerUnpause,
            Action::Remove => AuditAction::ContainerRemove,
        }
    }
}

/// Runs an action and audits it; the message says what happened.
pub async fn perform(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    id: &str,
    action: Action,
    opts: RemoveOpts,
) -> Result<String> {
    actor.require(Permission::Operate)?;
    let name = containers::find(m, id)
        .map(|c| c.name.clone())
        .unwrap_or_else(|| id.to_string());
    let r = containers::act(m, id, action, opts).await;
    let r = audited(state, m, actor, action.into(), &name, r).await;
    r.map(|()| format!("{}: {} done.", name, action.as_str()))
}

impl From<crate::stacks::Lifecycle> for AuditAction {
    fn from(l: crate::stacks::Lifecycle) -> Self {
        match l {
            crate::stacks::Lifecycle::Start => AuditAction::StackStart,
            crate::stacks::Lifecycle::Stop => AuditAction::StackStop,
            crate::stacks::Lifecycle::Restart => AuditAction::StackRestart,
        }
    }
}

/// Creates (and, when the spec says so, starts) a container.
pub async fn create(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    spec: &CreateSpec,
) -> Result<Created> {
    actor.require(Permission::Operate)?;
    let r = create::create(m, spec).await;
    audited(state, m, actor, AuditAction::ContainerCreate, &spec.name, r).await
}

/// Replaces container `key` by one made from `spec` (duplicate/edit).
pub async fn recreate(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    key: &str,
    spec: &CreateSpec,
) -> Result<Created> {
    actor.require(Permission::Operate)?;
    let r = create::recreate(m, key, spec).await;
    audited(state, m, actor, AuditAction::ContainerRecreate, key, r).await
}

/// Renames container `key`; the outcome is the sentence a page shows.
pub async fn rename(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    key: &str,
    name: &str,
) -> Result<String> {
    actor.require(Permission::Operate)?;
    let r = create::rename(m, key, name).await;
    let target = format!("{key} → {name}");
    audited(state, m, actor, AuditAction::ContainerRename, &target, r).await?;
    Ok(format!("Renamed to {}.", name.trim()))
}

/// Commits container `key` as image `repo` (`name[:tag]`); the outcome is the image id.
pub async fn commit(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    key: &str,
    repo: &str,
    message: &str,
) -> Result<String> {
    actor.require(Permission::Operate)?;
    let r = create::commit(m, key, repo, message).await;
    let target = format!("{key} → {repo}");
    audited(state, m, actor, AuditAction::ContainerCommit, &target, r).await
}

/// Writes file `name` into folder `dir` of container `key`; the outcome is the file's path.
/// Berth's own container is refused (and not audited: nothing was tried).
#[allow(clippy::too_many_arguments)] // who, where, which container, which file, what
pub async fn upload(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    key: &str,
    dir: &str,
    name: &str,
    data: &[u8],
) -> Result<String> {
    actor.require(Permission::Operate)?;
    let id = files::container_id(m, key).await?;
    state.own.check_container(&id)?;
    let r = files::upload(m, &id, dir, name, data).await;
    let target = format!("{key}:{dir}/{name}");
    audited(state, m, actor, AuditAction::ContainerUpload, &target, r).await
}
