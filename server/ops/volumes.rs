//! Volume actions: create, remove, upload a file (prune is in [`super::prune`]).

use bytes::Bytes;

use super::{Actor, AuditAction, audited};
use crate::AppState;
use crate::engine::volumes::{self, VolumeSpec};
use crate::engine::{Mirror, volume_files};
use crate::error::Result;
use crate::http::access::Permission;

/// Creates a volume; the outcome is its name (the engine's, when the spec left it empty).
pub async fn create(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    spec: &VolumeSpec,
) -> Result<String> {
    actor.require(Permission::Operate)?;
    let r = volumes::create(m, spec).await;
    audited(
        state,
        m,
        actor,
        AuditAction::VolumeCreate,
        spec.name.trim(),
        r,
    )
    .await
}

/// Removes a volume (`force` even when a stopped container mounts it).
pub async fn remove(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    name: &str,
    force: bool,
) -> Result<()> {
    actor.require(Permission::Operate)?;
    let r = volumes::remove(m, name, force).await;
    audited(state, m, actor, AuditAction::VolumeRemove, name, r).await
}

/// Writes file `file` into folder `dir` of volume `name`. Berth's own data volume is refused
/// (and not audited: nothing was tried).
pub async fn upload(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    name: &str,
    dir: &str,
    file: &str,
    data: Bytes,
) -> Result<()> {
    actor.require(Permission::Operate)?;
    state.own.check_volume(m, name).await?;
    let r = volume_files::upload(m, name, dir, file, data).await;
    let target = format!("{name}:{dir}/{file}");
    audited(state, m, actor, AuditAction::VolumeUpload, &target, r).await
}
