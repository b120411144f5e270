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
