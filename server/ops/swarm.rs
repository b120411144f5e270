//! Swarm services: create, scale, remove (operators and admins), audited.

use super::{Actor, AuditAction, audited};
use crate::AppState;
use crate::engine::Mirror;
use crate::engine::swarm::{self, ServiceForm, ServiceRow};
use crate::error::Result;
use crate::http::access::Permission;

pub async fn create(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    f: &ServiceForm,
) -> Result<String> {
    actor.require(Permission::Operate)?;
    let r = swarm::create(m, f).await;
    audited(
        state,
        m,
        actor,
        AuditAction::ServiceCreate,
        f.name.trim(),
        r,
    )
    .await
}

pub async fn scale(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    key: &str,
    replicas: Option<i64>,
) -> Result<ServiceRow> {
    actor.require(Permission::Operate)?;
    let target = format!("{key} → {}", replicas.unwrap_or(1));
    let r = swarm::scale(m, key, replicas).await;
    audited(state, m, actor, AuditAction::ServiceScale, &target, r).await
}

pub async fn remove(state: &AppState, m: &Mirror, actor: &Actor, key: &str) -> Result<ServiceRow> {
    actor.require(Permission::Operate)?;
    let r = swarm::remove(m, key).await;
    audited(state, m, actor, AuditAction::ServiceRemove, key, r).await
}

pub async fn update_image(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    key: &str,
    image: &str,
) -> Result<ServiceRow> {
    actor.require(Permission::Operate)?;
    let target = format!("{key} → {}", image.trim());
    let r = swarm::update_image(m, key, image).await;
    audited(state, m, actor, AuditAction::ServiceUpdate, &target, r).await
}

pub async fn rollback(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    key: &str,
) -> Result<ServiceRow> {
    actor.require(Permission::Operate)?;
    let r = swarm::rollback(m, key).await;
    audited(state, m, actor, AuditAction::ServiceRollback, key, r).await
}

/// Nodes are the swarm itself: administrators only.
pub async fn node_act(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    id: &str,
    action: swarm::NodeAction,
) -> Result<()> {
    actor.require(Permission::Admin)?;
    let target = format!("{id} {}", action.as_str());
    let r = swarm::node_act(m, id, action).await;
    audited(state, m, actor, AuditAction::NodeUpdate, &target, r).await
}

/// Secrets and configs: administrators only.
pub async fn create_kept(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    kind: swarm::Kept,
    f: &swarm::KeptForm,
) -> Result<String> {
    actor.require(Permission::Admin)?;
    let action = match kind {
        swarm::Kept::Secret => AuditAction::SecretCreate,
        swarm::Kept::Config => AuditAction::ConfigCreate,
    };
    let r = swarm::create_kept(m, kind, f).await;
    audited(state, m, actor, action, f.name.trim(), r).await
}

pub async fn remove_kept(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    kind: swarm::Kept,
    key: &str,
) -> Result<()> {
    actor.require(Permission::Admin)?;
    let action = match kind {
        swarm::Kept::Secret => AuditAction::SecretRemove,
        swarm::Kept::Config => AuditAction::ConfigRemove,
    };
    let r = swarm::remove_kept(m, kind, key).await;
    audited(state, m, actor, action, key, r).await
}
