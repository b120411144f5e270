//! Network actions: create, remove, connect, disconnect (prune is in [`super::prune`]).

use super::{Actor, AuditAction, audited};
use crate::AppState;
use crate::engine::Mirror;
use crate::engine::network_spec::NetworkSpec;
use crate::engine::networks::{self, ConnectSpec};
use crate::error::Result;
use crate::http::access::Permission;

/// Creates a network; the outcome is its id.
pub async fn create(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    spec: &NetworkSpec,
) -> Result<String> {
    actor.require(Permission::Operate)?;
    let r = networks::create(m, spec).await;
    audited(
        state,
        m,
        actor,
        AuditAction::NetworkCreate,
        spec.name.trim(),
        r,
    )
    .await
}

/// Removes a network (audited under its name when Berth knows it).
pub async fn remove(state: &AppState, m: &Mirror, actor: &Actor, id: &str) -> Result<()> {
    actor.require(Permission::Operate)?;
    let name = networks::find(m, id)
        .map(|n| n.name.clone())
        .unwrap_or_else(|| id.to_string());
    let r = networks::remove(m, id).await;
    audited(state, m, actor, AuditAction::NetworkRemove, &name, r).await
}

/// Connects a container to network `id`; the outcome is the sentence a page shows.
pub async fn connect(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    id: &str,
    spec: &ConnectSpec,
) -> Result<String> {
    actor.require(Permission::Operate)?;
    let r = networks::connect(m, id, spec).await;
    let target = format!("{} → {id}", spec.container);
    audited(state, m, actor, AuditAction::NetworkConnect, &target, r).await?;
    Ok(format!("{} connected.", spec.container))
}

/// Disconnects a container from network `id`; the outcome is the sentence a page shows.
pub async fn disconnect(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    id: &str,
    spec: &ConnectSpec,
) -> Result<String> {
    actor.require(Permission::Operate)?;
    let r = networks::disconnect(m, id, spec).await;
    let target = format!("{} ← {id}", spec.container);
    audited(state, m, actor, AuditAction::NetworkDisconnect, &target, r).await?;
    Ok(format!("{} disconnected.", spec.container))
}
