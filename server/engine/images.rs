//! Images: the list with usage counts (from the mirror), inspect and history.

use std::collections::HashMap;
use std::sync::Arc;

use bollard::models::{ImageHistoryResponseItem, ImageInspect};
use serde::Serialize;

use super::Mirror;
use super::views::ImageView;
use crate::error::{Error, Result};

/// An image row: the image and how many containers (any state) use it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImageRow {
    #[serde(flatten)]
    pub image: Arc<ImageView>,
    pub containers: usize,
}

pub fn list(m: &Mirror, q: &str) -> Vec<ImageRow> {
    let needle = q.trim().to_lowercase();
    let mut rows: Vec<ImageRow> = m.read(|s| {
        let mut used: HashMap<&str, usize> = HashMap::new();
        for c in s.containers.values() {
            *used.entry(c.image_id.as_str()).or_default() += 1;
        }
        s.images
            .values()
            .filter(|i| {
                needle.is_empty()
                    || i.id.contains(&needle)
                    || i.tags.iter().any(|t| t.to_lowercase().contains(&needle))
            })
            .map(|i| ImageRow {
                image: i.clone(),
                containers: used.get(i.id.as_str()).copied().unwrap_or(0),
            })
            .collect()
    });
    rows.sort_by_key(|r| r.image.display_name());
    rows
}

pub struct ImageDetail {
    pub inspect: ImageInspect,
    pub history: Vec<ImageHistoryResponseItem>,
}

pub async fn detail(m: &Mirror, id: &str) -> Result<ImageDetail> {
    let d = m.docker()?;
    let nf = |e| match m.err(e) {
        Error::EngineRefused { status: 404, .. } => {
            Error::NotFound(format!("No image `{id}` on this engine."))
        }
        other => other,
    };
    let inspect = d.inspect_image(id).await.map_err(nf)?;
    let history = d.image_history(id).await.map_err(nf)?;
    Ok(ImageDetail { inspect, history })
}
