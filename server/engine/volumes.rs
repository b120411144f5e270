//! Volumes: the list with the containers using each (from the mirror), and one volume.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::Mirror;
use super::views::VolumeView;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VolumeRow {
    #[serde(flatten)]
    pub volume: Arc<VolumeView>,
    /// Names of the containers (any state) that mount it.
    pub used_by: Vec<String>,
}

pub fn list(m: &Mirror, q: &str) -> Vec<VolumeRow> {
    let needle = q.trim().to_lowercase();
    let mut rows: Vec<VolumeRow> = m.read(|s| {
        // Who mounts what, in one pass over the containers (not one per volume: 200 volumes ×
        // 1000 containers made this list slower than the engine's own).
        let mut users: HashMap<&str, Vec<String>> = HashMap::new();
        for c in s.containers.values() {
            for mt in &c.mounts {
                if let (Some(name), "volume") = (mt.name.as_deref(), mt.kind.as_str()) {
                    let list = users.entry(name).or_default();
                    if !list.contains(&c.name) {
                        list.push(c.name.clone());
                    }
                }
            }
        }
        s.volumes
            .values()
            .filter(|v| {
                needle.is_empty()
                    || v.name.to_lowercase().contains(&needle)
                    || v.driver.contains(&needle)
            })
            .map(|v| VolumeRow {
                volume: v.clone(),
                used_by: users.remove(v.name.as_str()).unwrap_or_default(),
            })
            .collect()
    });
    rows.sort_by(|a, b| a.volume.name.cmp(&b.volume.name));
    rows
}

pub fn get(m: &Mirror, name: &str) -> Result<VolumeRow> {
    list(m, "")
        .into_iter()
        .find(|r| r.volume.name == name)
        .ok_or_else(|| Error::NotFound(format!("No volume `{name}` on this engine.")))
}

// ---- actions ----

use std::collections::HashSet;

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{PruneVolumesOptions, RemoveVolumeOptions};
use serde::Deserialize;

use super::network_spec::Pairs;
use super::prune::{self, LabelFilter, PruneItem, PruneOutcome, PrunePreview};

#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct VolumeSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub driver: String,
    #[serde(default)]
    pub labels: Pairs,
    /// Driver options (`driver_opts` in the engine's words).
    #[serde(default, alias = "driver_opts")]
    pub options: Pairs,
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Creates a volume (an empty name lets the engine pick one); returns its name.
pub async fn create(m: &Mirror, spec: &VolumeSpec) -> Result<String> {
    let name = spec.name.trim();
    if !name.is_empty() && (name.len() < 2 || !valid_name(name)) {
        return Err(Error::invalid(
            "name",
            "A volume name has two or more letters, digits, _ . - and starts with a letter or digit.",
        ));
    }
    let labels = spec.labels.to_map("labels")?;
    let opts = spec.options.to_map("options")?;
    let driver = spec.driver.trim();
    let windows = super::networks::windows(m);
    if windows && !opts.is_empty() && (driver.is_empty() || driver == "local") {
        return Err(Error::invalid(
            "options",
            "The local volume driver of Windows engines takes no options.",
        ));
    }
    if !name.is_empty() && m.read(|s| s.volumes.contains_key(name)) {
        // The engine would answer with the existing volume and change nothing.
        return Err(Error::Conflict {
            field: "name",
            message: format!("A volume named `{name}` already exists."),
        });
    }
    let v = m
        .docker()?
        .create_volume(VolumeCreateRequest {
            name: (!name.is_empty()).then(|| name.to_string()),
            driver: (!driver.is_empty()).then(|| driver.to_string()),
            driver_opts: Some(opts),
            labels: Some(labels),
            ..Default::default()
        })
        .await
        .map_err(|e| m.err(e))?;
    let _ = m.refresh_volumes().await;
    Ok(v.name)
}

pub async fn remove(m: &Mirror, name: &str, force: bool) -> Result<()> {
    m.docker()?
        .remove_volume(name, Some(RemoveVolumeOptions { force }))
        .await
        .map_err(|e| match m.err(e) {
            Error::EngineRefused { status: 404, .. } => {
                Error::NotFound(format!("No volume `{name}` on this engine."))
            }
            other => other,
        })?;
    let _ = m.refresh_volumes().await;
    Ok(())
}

/// Volumes prune would remove: local ones no container (in any state) mounts, with the label.
pub fn prune_preview(m: &Mirror, label: Option<&LabelFilter>) -> PrunePreview {
    let items: Vec<PruneItem> = m.read(|s| {
        let used: HashSet<&str> = s
            .containers
            .values()
            .flat_map(|c| c.mounts.iter())
            .filter(|mt| mt.kind == "volume")
            .filter_map(|mt| mt.name.as_deref())
            .collect();
        s.volumes
            .values()
            .filter(|v| v.scope.is_empty() || v.scope == "local")
            .filter(|v| !used.contains(v.name.as_str()))
            .filter(|v| label.is_none_or(|l| l.matches(&v.labels)))
            .map(|v| PruneItem {
                id: v.name.clone(),
                name: v.name.clone(),
                size: v.size,
            })
            .collect()
    });
    let bytes = items
        .iter()
        .all(|i| i.size.is_some())
        .then(|| items.iter().filter_map(|i| i.size).sum());
    PrunePreview {
        items,
        bytes,
        label: label.map(LabelFilter::as_text),
    }
}

/// Whether the engine prunes only anonymous volumes unless told `all` (API 1.42 and later).
fn needs_all(m: &Mirror) -> bool {
    let v = m.health().api_version.unwrap_or_default();
    let mut it = v.split('.').map(|x| x.parse::<u32>().unwrap_or(0));
    let (a, b) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (a, b) >= (1, 42)
}

pub async fn prune(m: &Mirror, label: Option<&LabelFilter>) -> Result<PruneOutcome> {
    let mut filters = prune::filters(label).unwrap_or_default();
    if needs_all(m) {
        // Named volumes too, as the preview shows them.
        filters.insert("all".into(), vec!["true".into()]);
    }
    let r = m
        .docker()?
        .prune_volumes(Some(PruneVolumesOptions {
            filters: Some(filters),
        }))
        .await
        .map_err(|e| m.err(e))?;
    let _ = m.refresh_volumes().await;
    Ok(PruneOutcome {
        removed: r.volumes_deleted.unwrap_or_default(),
        bytes: r.space_reclaimed.unwrap_or(0),
    })
}
