//! Networks: the list with attached-container counts (from the mirror), and inspect.

use std::sync::Arc;

use bollard::models::NetworkInspect;
use bollard::query_parameters::InspectNetworkOptions;
use serde::Serialize;

use super::Mirror;
use super::views::NetworkView;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct NetworkRow {
    #[serde(flatten)]
    pub network: Arc<NetworkView>,
    pub containers: usize,
}

pub fn list(m: &Mirror, q: &str) -> Vec<NetworkRow> {
    let needle = q.trim().to_lowercase();
    let mut rows: Vec<NetworkRow> = m.read(|s| {
        s.networks
            .values()
            .filter(|n| {
                needle.is_empty()
                    || n.name.to_lowercase().contains(&needle)
                    || n.id.starts_with(&needle)
                    || n.driver.contains(&needle)
            })
            .map(|n| NetworkRow {
                network: n.clone(),
                containers: s
                    .containers
                    .values()
                    .filter(|c| c.networks.iter().any(|x| *x == n.name))
                    .count(),
            })
            .collect()
    });
    rows.sort_by(|a, b| a.network.name.cmp(&b.network.name));
    rows
}

pub async fn inspect(m: &Mirror, id: &str) -> Result<NetworkInspect> {
    m.docker()?
        .inspect_network(
            id,
            Some(InspectNetworkOptions {
                verbose: false,
                scope: None,
            }),
        )
        .await
        .map_err(|e| match m.err(e) {
            Error::EngineRefused { status: 404, .. } => {
                Error::NotFound(format!("No network `{id}` on this engine."))
            }
            other => other,
        })
}
