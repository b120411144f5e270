//! Actions that use the stored registries: pull with their credentials, push, and "pull and
//! recreate" a container on the newer image of its tag.

use tokio::sync::watch;

use super::{Actor, AuditAction, audited};
use crate::AppState;
use crate::engine::Mirror;
use crate::engine::image_ops::{self, PullSpec};
use crate::engine::progress::Progress;
use crate::error::{Error, Result};
use crate::registries;

/// A pull spec given no user name gets the stored registry's credentials for its host.
pub async fn with_stored_credentials(state: &AppState, mut spec: PullSpec) -> Result<PullSpec> {
    if spec.username.trim().is_empty()
        && let Some(c) = registries::credentials_for(state, &spec.reference).await?
    {
        spec.username = c.username.unwrap_or_default();
        spec.password = c.password.unwrap_or_default();
        spec.server = c.serveraddress.unwrap_or_default();
    }
    Ok(spec)
}

/// Pushes `image` as `target` with the stored credentials of the target's registry; one audit row.
pub async fn push(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    image: &str,
    target: &str,
    tx: &watch::Sender<Progress>,
) -> Result<()> {
    let r = async {
        let creds = registries::credentials_for(state, target).await?;
        image_ops::push(m, image, target, creds, tx).await
    }
    .await;
    audited(state, m, actor, AuditAction::ImagePush, target.trim(), r).await
}

/// Pulls the image a container was created from (its tag's current version, with stored
/// credentials) and recreates the container on it with its configuration kept; when the new
/// one fails, the old one comes back (see [`crate::engine::create::recreate`]). One audit row.
pub async fn pull_and_recreate(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    id: &str,
    tx: &watch::Sender<Progress>,
) -> Result<String> {
    let name = crate::engine::containers::find(m, id)
        .map(|c| c.name.clone())
        .unwrap_or_else(|| id.to_string());
    let r = async {
        let (old, spec) = crate::engine::create::spec_of(m, id).await?;
        let reference = old
            .config
            .as_ref()
            .and_then(|c| c.image.clone())
            .filter(|r| !r.starts_with("sha256:"))
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "{name} names its image by id: there is no tag to pull a newer version of."
                ))
            })?;
        let pull = with_stored_credentials(
            state,
            PullSpec {
                reference: reference.clone(),
                ..Default::default()
            },
        )
        .await?;
        image_ops::pull(m, &pull, tx).await?;
        let created = crate::engine::create::recreate(m, id, &spec).await?;
        let _ = m.refresh_container(&created.id).await;
        let image = crate::engine::containers::inspect(m, &created.id)
            .await
            .ok()
            .and_then(|c| c.image)
            .unwrap_or_default();
        Ok::<_, Error>(format!(
            "{name} recreated on {reference} ({}).",
            crate::engine::views::short_id(image.trim_start_matches("sha256:"))
        ))
    }
    .await;
    audited(state, m, actor, AuditAction::ContainerUpdate, &name, r).await
}
