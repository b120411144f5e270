//! Prune, one action for images, networks and volumes: the label filter parsed once, the preview
//! and the prune from the same form, one audit row.

use super::{Actor, AuditAction, audited};
use crate::AppState;
use crate::engine::prune::{LabelFilter, PruneForm, PruneOutcome, PrunePreview};
use crate::engine::{Mirror, image_ops, networks, volumes};
use crate::error::Result;

/// What a prune removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Prunable {
    Images = 0,
    Networks = 1,
    Volumes = 2,
}

impl Prunable {
    /// The list the prune belongs to (`/images`, …) and the page's navigation entry.
    pub fn list(self) -> &'static str {
        match self {
            Prunable::Images => "images",
            Prunable::Networks => "networks",
            Prunable::Volumes => "volumes",
        }
    }

    /// What the prune removes, in words.
    pub fn what(self, all: bool) -> &'static str {
        match self {
            Prunable::Images if all => {
                "every image no container uses (a tagged image that is the base of another is only untagged)"
            }
            Prunable::Images => "dangling images (no tag) that no container uses",
            Prunable::Networks => {
                "networks with no running container attached (built-in networks are never pruned)"
            }
            Prunable::Volumes => {
                "local volumes that no container (running or stopped) mounts, and their data"
            }
        }
    }

    /// Whether "every unused one" is a choice (images only).
    pub fn offers_all(self) -> bool {
        self == Prunable::Images
    }

    fn audit(self) -> AuditAction {
        match self {
            Prunable::Images => AuditAction::ImagePrune,
            Prunable::Networks => AuditAction::NetworkPrune,
            Prunable::Volumes => AuditAction::VolumePrune,
        }
    }

    /// The sentence after a prune.
    pub fn summary(self, r: &PruneOutcome) -> String {
        match self {
            Prunable::Networks => format!(
                "Removed {} network(s){}",
                r.removed.len(),
                if r.removed.is_empty() {
                    String::new()
                } else {
                    format!(": {}", r.removed.join(", "))
                }
            ),
            Prunable::Images | Prunable::Volumes => format!(
                "Removed {} {}(s), {} freed.",
                r.removed.len(),
                self.list().trim_end_matches('s'),
                crate::fmt::size(r.bytes)
            ),
        }
    }
}

/// What a prune with this form would remove.
pub async fn preview(m: &Mirror, kind: Prunable, f: &PruneForm) -> Result<PrunePreview> {
    let label = LabelFilter::parse(&f.label)?;
    let label = label.as_ref();
    Ok(match kind {
        Prunable::Images => image_ops::prune_preview(m, f.all && kind.offers_all(), label).await,
        Prunable::Networks => networks::prune_preview(m, label),
        Prunable::Volumes => volumes::prune_preview(m, label),
    })
}

/// Prunes and writes one audit row (target: the label filter).
pub async fn prune(
    state: &AppState,
    m: &Mirror,
    actor: &Actor,
    kind: Prunable,
    f: &PruneForm,
) -> Result<PruneOutcome> {
    let label = LabelFilter::parse(&f.label)?;
    let label = label.as_ref();
    let r = match kind {
        Prunable::Images => image_ops::prune(m, f.all, label).await,
        Prunable::Networks => networks::prune(m, label).await,
        Prunable::Volumes => volumes::prune(m, label).await,
    };
    audited(state, m, actor, kind.audit(), &f.label, r).await
}
