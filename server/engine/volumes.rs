//! Volumes: the list with the containers using each (from the mirror), and one volume.

use std::sync::Arc;

use serde::Serialize;

use super::Mirror;
use super::views::VolumeView;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct VolumeRow {
    #[serde(flatten)]
    pub volume: Arc<VolumeView>,
    /// Names of the containers (any state) that mount it.
    pub used_by: Vec<String>,
}

pub fn list(m: &Mirror, q: &str) -> Vec<VolumeRow> {
    let needle = q.trim().to_lowercase();
    let mut rows: Vec<VolumeRow> = m.read(|s| {
        s.volumes
            .values()
            .filter(|v| {
                needle.is_empty()
                    || v.name.to_lowercase().contains(&needle)
                    || v.driver.contains(&needle)
            })
            .map(|v| VolumeRow {
                volume: v.clone(),
                used_by: s
                    .containers
                    .values()
                    .filter(|c| {
                        c.mounts.iter().any(|mt| {
                            mt.kind == "volume" && mt.name.as_deref() == Some(v.name.as_str())
                        })
                    })
                    .map(|c| c.name.clone())
                    .collect(),
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
