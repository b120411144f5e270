//! Endpoint actions: add, change, remove. These are Berth's own records (not an engine's), so
//! their audit rows name no endpoint.

use super::{Actor, AuditAction, outcome, record};
use crate::AppState;
use crate::endpoints::{self, Input};
use crate::error::Result;
use crate::http::access::Permission;

/// Adds an endpoint from `input` (or refuses the form that did not read, under `name`); the
/// outcome is its id.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    name: &str,
    input: Result<Input>,
) -> Result<i64> {
    actor.require(Permission::Admin)?;
    let r = match input {
        Ok(input) => endpoints::create(state, &input).await,
        Err(e) => Err(e),
    };
    let o = outcome(&r);
    record(
        state,
        None,
        actor,
        AuditAction::EndpointCreate,
        Some(name.trim()),
        &o,
    )
    .await;
    r
}

/// Changes endpoint `id` (or refuses the form that did not read, under `name`).
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: i64,
    name: &str,
    input: Result<Input>,
) -> Result<()> {
    actor.require(Permission::Admin)?;
    let r = match input {
        Ok(input) => endpoints::update(state, id, &input).await,
        Err(e) => Err(e),
    };
    let o = outcome(&r);
    record(
        state,
        None,
        actor,
        AuditAction::EndpointUpdate,
        Some(name.trim()),
        &o,
    )
    .await;
    r
}

/// Removes endpoint `id`; the outcome is the name it had.
pub async fn remove(state: &AppState, actor: &Actor, id: i64) -> Result<String> {
    actor.require(Permission::Admin)?;
    let r = endpoints::remove(state, id).await;
    let target = match &r {
        Ok(name) => name.clone(),
        Err(_) => id.to_string(),
    };
    let o = outcome(&r);
    record(
        state,
        None,
        actor,
        AuditAction::EndpointRemove,
        Some(&target),
        &o,
    )
    .await;
    r
}
