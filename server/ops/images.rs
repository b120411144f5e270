//! Image actions: pull, build, load, tag, remove (prune is in [`super::prune`]). Pull, build and
//! load report progress into a channel: a page shows it as a job, the API answers at the end.

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::watch;

use super::{Actor, AuditAction, audited};
use crate::AppState;
use crate::engine::Mirror;
use crate::engine::image_ops::{self, BuildSpec, PullSpec, RemoveOpts, Removed};
use crate::engine::progress::Progress;
use crate::error::Result;
use crate::http::access::Permission;

/// Refuses a pull that cannot start (no or a malformed reference) before it runs in the
/// background; the refusal is the action's one audit row.
pub async fn check_pull(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    spec: &PullSpec,
) -> Result<()> {
    actor.require(Permission::Operate)?;
    if let Err(e) = image_ops::split_reference(&spec.reference) {
        return audited(
            state,
            m,
            actor,
            AuditAction::ImagePull,
            spec.reference.trim(),
            Err(e),
        )
        .await;
    }
    Ok(())
}

/// Pulls an image.
pub async fn pull(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    spec: &PullSpec,
    tx: &watch::Sender<Progress>,
) -> Result<()> {
    actor.require(Permission::Operate)?;
    // A spec naming no user gets the stored registry's credentials for its host.
    let r = match super::registries::with_stored_credentials(state, spec.clone()).await {
        Ok(spec) => image_ops::pull(m, &spec, tx).await,
        Err(e) => Err(e),
    };
    audited(
        state,
        m,
        actor,
        AuditAction::ImagePull,
        spec.reference.trim(),
        r,
    )
    .await
}

/// What a build is called (its first tag) in the audit log and on its job.
pub fn build_title(spec: &BuildSpec) -> String {
    match spec.tags.first() {
        Some(t) => format!("build {t}"),
        None => "build".to_string(),
    }
}

/// Builds an image from a context (a tar, or a lone Dockerfile); the outcome is its id.
pub async fn build(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    spec: &BuildSpec,
    context: Bytes,
    tx: &watch::Sender<Progress>,
) -> Result<String> {
    actor.require(Permission::Operate)?;
    let r = image_ops::build(m, spec, context, tx).await;
    audited(
        state,
        m,
        actor,
        AuditAction::ImageBuild,
        &build_title(spec),
        r,
    )
    .await
}

/// Loads images from a tar stream (at most `limit` bytes); the outcome names them.
pub async fn load<S, E>(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    body: S,
    limit: u64,
    tx: &watch::Sender<Progress>,
) -> Result<Vec<String>>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    actor.require(Permission::Operate)?;
    let r = image_ops::load(m, body, limit, tx).await;
    audited(state, m, actor, AuditAction::ImageLoad, "tar upload", r).await
}

/// Tags image `id` as `reference`; the outcome is the sentence a page shows.
pub async fn tag(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    id: &str,
    reference: &str,
) -> Result<String> {
    actor.require(Permission::Operate)?;
    let r = image_ops::tag(m, id, reference).await;
    let target = format!("{id} as {}", reference.trim());
    audited(state, m, actor, AuditAction::ImageTag, &target, r).await?;
    Ok(format!("Tagged {}.", reference.trim()))
}

/// Removes (or untags) image `id`.
pub async fn remove(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    id: &str,
    opts: &RemoveOpts,
) -> Result<Removed> {
    actor.require(Permission::Operate)?;
    let r = image_ops::remove(m, id, opts).await;
    audited(state, m, actor, AuditAction::ImageRemove, id, r).await
}
