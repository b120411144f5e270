//! User actions: who acts ([`Actor`]), what they did ([`AuditAction`], one name per action), and
//! the one writer of audit rows ([`record`], [`audited`]). `web` (pages) and `api` (JSON) decode
//! a request, call the action here or in a submodule, and render its outcome.

pub mod account;
pub mod audit;
pub mod backup;
pub mod containers;
pub mod endpoints;
pub mod images;
pub mod networks;
pub mod prune;
pub mod registries;
pub mod settings;
pub mod swarm;
pub mod tokens;
pub mod users;
pub mod volumes;

use std::fmt;

use crate::AppState;
use crate::auth::{Client, CurrentUser, Role};
use crate::engine::Mirror;
use crate::error::{Error, Result};
use crate::http::access::Permission;
use crate::store::Audit;

/// Who asks for an action: the user, their role, and where the request came from.
#[derive(Debug, Clone)]
pub struct Actor {
    /// None before anyone is logged in (a failed login names the user it tried).
    pub username: Option<String>,
    pub role: Option<Role>,
    pub client: String,
    /// The API token the request came with (`#id name`), named in the audit row.
    pub token: Option<String>,
}

impl Actor {
    pub fn user(user: &CurrentUser, client: &Client) -> Self {
        Actor {
            username: Some(user.username.clone()),
            role: Some(user.role),
            client: client.0.clone(),
            token: user.token.as_ref().map(|t| format!("#{} {}", t.id, t.name)),
        }
    }

    /// `Ok` when the actor's role holds `perm`. The route guard has checked already; an action
    /// checks again so that no way in can skip it. Refused actions write no audit row.
    pub fn require(&self, perm: Permission) -> Result<()> {
        match self.role {
            Some(role) => role.require(perm),
            None => Err(Error::Unauthorized),
        }
    }

    /// Somebody not logged in (yet): setup, login.
    pub fn named(username: &str, client: &Client) -> Self {
        Actor {
            username: Some(username.to_string()),
            role: None,
            client: client.0.clone(),
            token: None,
        }
    }
}

/// Every audited action, with the name its audit rows carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    Setup,
    SeedAdmin,
    Login,
    Logout,
    SettingChange,
    UserCreate,
    UserUpdate,
    UserDelete,
    PasswordChange,
    SessionRevoke,
    TokenCreate,
    TokenRevoke,
    EndpointCreate,
    EndpointUpdate,
    EndpointRemove,
    ContainerStart,
    ContainerStop,
    ContainerRestart,
    ContainerKill,
    ContainerPause,
    ContainerUnpause,
    ContainerRemove,
    ContainerCreate,
    ContainerRecreate,
    ContainerRename,
    ContainerCommit,
    ContainerUpload,
    ContainerConsole,
    ContainerAttach,
    ImagePull,
    ImageBuild,
    ImageLoad,
    ImageTag,
    ImageRemove,
    ImagePrune,
    NetworkCreate,
    NetworkRemove,
    NetworkConnect,
    NetworkDisconnect,
    NetworkPrune,
    VolumeCreate,
    VolumeRemove,
    VolumeUpload,
    VolumePrune,
    StackDeploy,
    StackRedeploy,
    StackCopy,
    StackRollback,
    StackPull,
    StackStart,
    StackStop,
    StackRestart,
    StackDown,
    StackDownVolumes,
    AuditPrune,
    BackupCreate,
    BackupRestore,
    RegistryCreate,
    RegistryUpdate,
    RegistryRemove,
    ImagePush,
    ContainerUpdate,
    ServiceCreate,
    ServiceScale,
    ServiceRemove,
    ServiceUpdate,
    ServiceRollback,
    NodeUpdate,
    SecretCreate,
    SecretRemove,
    ConfigCreate,
    ConfigRemove,
    /// A request through the Docker API gateway that changes something.
    DockerApi,
}

impl AuditAction {
    pub const ALL: &[AuditAction] = &[
        AuditAction::Setup,
        AuditAction::SeedAdmin,
        AuditAction::Login,
        AuditAction::Logout,
        AuditAction::SettingChange,
        AuditAction::UserCreate,
        AuditAction::UserUpdate,
        AuditAction::UserDelete,
        AuditAction::PasswordChange,
        AuditAction::SessionRevoke,
        AuditAction::TokenCreate,
        AuditAction::TokenRevoke,
        AuditAction::EndpointCreate,
        AuditAction::EndpointUpdate,
        AuditAction::EndpointRemove,
        AuditAction::ContainerStart,
        AuditAction::ContainerStop,
        AuditAction::ContainerRestart,
        AuditAction::ContainerKill,
        AuditAction::ContainerPause,
        AuditAction::ContainerUnpause,
        AuditAction::ContainerRemove,
        AuditAction::ContainerCreate,
        AuditAction::ContainerRecreate,
        AuditAction::ContainerRename,
        AuditAction::ContainerCommit,
        AuditAction::ContainerUpload,
        AuditAction::ContainerConsole,
        AuditAction::ContainerAttach,
        AuditAction::ImagePull,
        AuditAction::ImageBuild,
        AuditAction::ImageLoad,
        AuditAction::ImageTag,
        AuditAction::ImageRemove,
        AuditAction::ImagePrune,
        AuditAction::NetworkCreate,
        AuditAction::NetworkRemove,
        AuditAction::NetworkConnect,
        AuditAction::NetworkDisconnect,
        AuditAction::NetworkPrune,
        AuditAction::VolumeCreate,
        AuditAction::VolumeRemove,
        AuditAction::VolumeUpload,
        AuditAction::VolumePrune,
        AuditAction::StackDeploy,
        AuditAction::StackRedeploy,
        AuditAction::StackCopy,
        AuditAction::StackRollback,
        AuditAction::StackPull,
        AuditAction::StackStart,
        AuditAction::StackStop,
        AuditAction::StackRestart,
        AuditAction::StackDown,
        AuditAction::StackDownVolumes,
        AuditAction::AuditPrune,
        AuditAction::BackupCreate,
        AuditAction::BackupRestore,
        AuditAction::RegistryCreate,
        AuditAction::RegistryUpdate,
        AuditAction::RegistryRemove,
        AuditAction::ImagePush,
        AuditAction::ContainerUpdate,
        AuditAction::ServiceCreate,
        AuditAction::ServiceScale,
        AuditAction::ServiceRemove,
        AuditAction::ServiceUpdate,
        AuditAction::ServiceRollback,
        AuditAction::NodeUpdate,
        AuditAction::SecretCreate,
        AuditAction::SecretRemove,
        AuditAction::ConfigCreate,
        AuditAction::ConfigRemove,
        AuditAction::DockerApi,
    ];

    /// The name in the audit log: `area.verb`, except the account's own events.
    pub fn as_str(self) -> &'static str {
        use AuditAction::*;
        match self {
            Setup => "setup",
            SeedAdmin => "seed-admin",
            Login => "login",
            Logout => "logout",
            SettingChange => "setting.change",
            UserCreate => "user.create",
            UserUpdate => "user.update",
            UserDelete => "user.delete",
            PasswordChange => "account.password",
            SessionRevoke => "session.revoke",
            TokenCreate => "token.create",
            TokenRevoke => "token.revoke",
            EndpointCreate => "endpoint.create",
            EndpointUpdate => "endpoint.update",
            EndpointRemove => "endpoint.remove",
            ContainerStart => "container.start",
            ContainerStop => "container.stop",
            ContainerRestart => "container.restart",
            ContainerKill => "container.kill",
            ContainerPause => "container.pause",
            ContainerUnpause => "container.unpause",
            ContainerRemove => "container.remove",
            ContainerCreate => "container.create",
            ContainerRecreate => "container.recreate",
            ContainerRename => "container.rename",
            ContainerCommit => "container.commit",
            ContainerUpload => "container.upload",
            ContainerConsole => "container.console",
            ContainerAttach => "container.attach",
            ImagePull => "image.pull",
            ImageBuild => "image.build",
            ImageLoad => "image.load",
            ImageTag => "image.tag",
            ImageRemove => "image.remove",
            ImagePrune => "image.prune",
            NetworkCreate => "network.create",
            NetworkRemove => "network.remove",
            NetworkConnect => "network.connect",
            NetworkDisconnect => "network.disconnect",
            NetworkPrune => "network.prune",
            VolumeCreate => "volume.create",
            VolumeRemove => "volume.remove",
            VolumeUpload => "volume.upload",
            VolumePrune => "volume.prune",
            StackDeploy => "stack.deploy",
            StackRedeploy => "stack.redeploy",
            StackCopy => "stack.copy",
            StackRollback => "stack.rollback",
            StackPull => "stack.pull",
            StackStart => "stack.start",
            StackStop => "stack.stop",
            StackRestart => "stack.restart",
            StackDown => "stack.down",
            StackDownVolumes => "stack.down_volumes",
            AuditPrune => "audit.prune",
            BackupCreate => "backup.create",
            BackupRestore => "backup.restore",
            RegistryCreate => "registry.create",
            RegistryUpdate => "registry.update",
            RegistryRemove => "registry.remove",
            ImagePush => "image.push",
            ContainerUpdate => "container.update",
            ServiceCreate => "service.create",
            ServiceScale => "service.scale",
            ServiceRemove => "service.remove",
            ServiceUpdate => "service.update",
            ServiceRollback => "service.rollback",
            NodeUpdate => "node.update",
            SecretCreate => "secret.create",
            SecretRemove => "secret.remove",
            ConfigCreate => "config.create",
            ConfigRemove => "config.remove",
            DockerApi => "docker.api",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes one audit row; a failure to write is logged, never hides the action's outcome.
pub async fn record(
    state: &AppState,
    endpoint: Option<&str>,
    actor: &Actor,
    action: AuditAction,
    target: Option<&str>,
    outcome: &str,
) {
    record_in(&state.store, endpoint, actor, action, target, outcome).await
}

/// [`record`] with only the store at hand (the command line works on the data folder alone).
pub async fn record_in(
    store: &crate::store::Store,
    endpoint: Option<&str>,
    actor: &Actor,
    action: AuditAction,
    target: Option<&str>,
    outcome: &str,
) {
    let a = Audit {
        username: actor.username.as_deref(),
        client: Some(&actor.client),
        endpoint,
        action: action.as_str(),
        target,
        outcome,
        token: actor.token.as_deref(),
    };
    if let Err(e) = store.audit(a).await {
        tracing::error!(error = ?e, action = action.as_str(), "audit write failed");
    }
}

/// The outcome column of a result: `ok`, or `failed: …` with the reason.
pub fn outcome<T>(r: &Result<T>) -> String {
    match r {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("failed: {e}"),
    }
}

/// Writes the audit row of an action on an endpoint's engine and hands the outcome on.
pub async fn audited<T>(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    action: AuditAction,
    target: &str,
    r: Result<T>,
) -> Result<T> {
    record(
        state,
        Some(&m.name),
        actor,
        action,
        Some(target),
        &outcome(&r),
    )
    .await;
    r
}

/// [`audited`] for a result the caller keeps.
pub async fn note<T>(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    action: AuditAction,
    target: &str,
    r: &Result<T>,
) {
    record(
        state,
        Some(&m.name),
        actor,
        action,
        Some(target),
        &outcome(r),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_names_are_unique_and_dotted() {
        let mut seen = std::collections::HashSet::new();
        for a in AuditAction::ALL {
            assert!(seen.insert(a.as_str()), "{a} twice");
            let account = matches!(
                a,
                AuditAction::Setup
                    | AuditAction::SeedAdmin
                    | AuditAction::Login
                    | AuditAction::Logout
            );
            assert!(account || a.as_str().contains('.'), "{a}");
        }
    }
}
