//! Networks: the list with attached-container counts (from the mirror), and inspect.

use std::sync::Arc;

use bollard::models::NetworkInspect;
use bollard::query_parameters::InspectNetworkOptions;
use serde::Serialize;

use super::Mirror;
use super::views::NetworkView;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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

// ---- actions ----

use std::collections::HashSet;

use bollard::models::{
    EndpointIpamConfig, EndpointSettings, NetworkConnectRequest, NetworkDisconnectRequest,
};
use bollard::query_parameters::PruneNetworksOptions;
use serde::Deserialize;

use super::network_spec::{self, NetworkSpec};
use super::prune::{self, LabelFilter, PruneItem, PruneOutcome, PrunePreview};

/// The drivers a network can be created with, from the engine's plugin list (host and null
/// networks exist once per engine and are not created).
pub fn drivers(m: &Mirror) -> Vec<String> {
    m.read(|s| {
        s.info
            .as_ref()
            .and_then(|i| i.plugins.as_ref())
            .and_then(|p| p.network.clone())
            .unwrap_or_default()
    })
    .into_iter()
    .filter(|d| !matches!(d.as_str(), "host" | "null" | "none"))
    .collect()
}

pub fn windows(m: &Mirror) -> bool {
    m.read(|s| {
        s.info
            .as_ref()
            .and_then(|i| i.os_type.clone())
            .is_some_and(|o| o == "windows")
    })
}

/// Creates a network after checking the spec; returns its id.
pub async fn create(m: &Mirror, spec: &NetworkSpec) -> Result<String> {
    let req = network_spec::validate(spec, &drivers(m), windows(m))?;
    let name = req.name.clone();
    // Older engines create a second network of the same name unless told not to; refuse here.
    if m.read(|s| s.networks.values().any(|n| n.name == name)) {
        return Err(Error::Conflict {
            field: "name",
            message: format!("A network named `{name}` already exists."),
        });
    }
    let r = m
        .docker()?
        .create_network(req)
        .await
        .map_err(|e| match m.err(e) {
            Error::EngineRefused {
                status: 409,
                message,
            } => Error::Conflict {
                field: "name",
                message,
            },
            other => other,
        })?;
    let _ = m.refresh_networks().await;
    tracing::debug!(%name, id = %r.id, "network created");
    Ok(r.id)
}

/// The network a user names (id, id prefix or name), from the mirror.
pub fn find(m: &Mirror, id: &str) -> Option<Arc<NetworkView>> {
    m.read(|s| {
        s.networks.get(id).cloned().or_else(|| {
            s.networks
                .values()
                .find(|n| n.name == id || (id.len() >= 4 && n.id.starts_with(id)))
                .cloned()
        })
    })
}

/// Removes a network; the engine's own networks are refused before it is asked.
pub async fn remove(m: &Mirror, id: &str) -> Result<()> {
    if let Some(n) = find(m, id)
        && n.builtin
    {
        return Err(Error::Conflict {
            field: "network",
            message: format!(
                "`{}` is a built-in network of the engine: it cannot be removed.",
                n.name
            ),
        });
    }
    m.docker()?
        .remove_network(id)
        .await
        .map_err(|e| not_found(m, id, e))?;
    let _ = m.refresh_networks().await;
    Ok(())
}

fn not_found(m: &Mirror, id: &str, e: bollard::errors::Error) -> Error {
    match m.err(e) {
        Error::EngineRefused {
            status: 404,
            message,
        } => Error::NotFound(format!("No network `{id}` on this engine ({message}).")),
        other => other,
    }
}

#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct ConnectSpec {
    #[serde(default)]
    pub container: String,
    /// Extra DNS names on this network: a list, or text separated by commas/spaces.
    #[serde(default)]
    pub aliases: Option<network_spec::Pairs>,
    #[serde(default)]
    pub alias: String,
    #[serde(default)]
    pub ipv4_address: String,
    #[serde(default)]
    pub ipv6_address: String,
    #[serde(default, deserialize_with = "network_spec::flag")]
    pub force: bool,
}

impl ConnectSpec {
    fn aliases(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |t: &str| {
            out.extend(
                t.split([',', ' ', '\n'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            )
        };
        add(&self.alias);
        match &self.aliases {
            Some(network_spec::Pairs::List(l)) => l.iter().for_each(|a| add(a)),
            Some(network_spec::Pairs::Text(t)) => add(t),
            _ => {}
        }
        out
    }
}

fn ip(field: &'static str, text: &str, v4: bool) -> Result<Option<String>> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<std::net::IpAddr>() {
        Ok(a) if a.is_ipv4() == v4 => Ok(Some(a.to_string())),
        _ => Err(Error::invalid(
            field,
            format!("`{t}` is not an IPv{} address.", if v4 { 4 } else { 6 }),
        )),
    }
}

pub async fn connect(m: &Mirror, net: &str, spec: &ConnectSpec) -> Result<()> {
    let container = spec.container.trim();
    if container.is_empty() {
        return Err(Error::invalid(
            "container",
            "Choose a container to connect.",
        ));
    }
    let v4 = ip("ipv4_address", &spec.ipv4_address, true)?;
    let v6 = ip("ipv6_address", &spec.ipv6_address, false)?;
    if let (Some(a), Some(n)) = (&v4, find(m, net)) {
        let addr: std::net::IpAddr = a
            .parse()
            .map_err(|_| Error::invalid("ipv4_address", a.clone()))?;
        let inside = n
            .subnets
            .iter()
            .any(|s| network_spec::Cidr::parse("subnet", s).is_ok_and(|c| c.contains(addr)));
        if !n.subnets.is_empty() && !inside {
            return Err(Error::invalid(
                "ipv4_address",
                format!(
                    "{a} is not in the network's subnet {}.",
                    n.subnets.join(", ")
                ),
            ));
        }
    }
    let aliases = spec.aliases();
    let ipam = (v4.is_some() || v6.is_some()).then_some(EndpointIpamConfig {
        ipv4_address: v4,
        ipv6_address: v6,
        link_local_ips: None,
    });
    let req = NetworkConnectRequest {
        container: container.to_string(),
        endpoint_config: Some(EndpointSettings {
            ipam_config: ipam,
            aliases: (!aliases.is_empty()).then_some(aliases),
            ..Default::default()
        }),
    };
    m.docker()?
        .connect_network(net, req)
        .await
        .map_err(|e| not_found(m, net, e))?;
    let _ = m.refresh_container(container).await;
    let _ = m.refresh_networks().await;
    Ok(())
}

pub async fn disconnect(m: &Mirror, net: &str, spec: &ConnectSpec) -> Result<()> {
    let container = spec.container.trim();
    if container.is_empty() {
        return Err(Error::invalid(
            "container",
            "Choose a container to disconnect.",
        ));
    }
    m.docker()?
        .disconnect_network(
            net,
            NetworkDisconnectRequest {
                container: container.to_string(),
                force: Some(spec.force),
            },
        )
        .await
        .map_err(|e| not_found(m, net, e))?;
    let _ = m.refresh_container(container).await;
    let _ = m.refresh_networks().await;
    Ok(())
}

/// Networks prune would remove: not built in, no running container attached, matching the label.
pub fn prune_preview(m: &Mirror, label: Option<&LabelFilter>) -> PrunePreview {
    let items = m.read(|s| {
        let in_use: HashSet<&str> = s
            .containers
            .values()
            .filter(|c| matches!(c.state.as_str(), "running" | "paused" | "restarting"))
            .flat_map(|c| c.networks.iter().map(String::as_str))
            .collect();
        let mut items: Vec<PruneItem> = s
            .networks
            .values()
            .filter(|n| !n.builtin && !in_use.contains(n.name.as_str()))
            .filter(|n| label.is_none_or(|l| l.matches(&n.labels)))
            .map(|n| PruneItem {
                id: n.id.clone(),
                name: n.name.clone(),
                size: None,
            })
            .collect();
        items.sort_by(|a, b| a.name.cmp(&b.name));
        items
    });
    PrunePreview {
        items,
        bytes: None,
        label: label.map(LabelFilter::as_text),
    }
}

pub async fn prune(m: &Mirror, label: Option<&LabelFilter>) -> Result<PruneOutcome> {
    let r = m
        .docker()?
        .prune_networks(Some(PruneNetworksOptions {
            filters: prune::filters(label),
        }))
        .await
        .map_err(|e| m.err(e))?;
    let _ = m.refresh_networks().await;
    // The engine answers the names of the networks it removed.
    let removed = r.networks_deleted.unwrap_or_default();
    Ok(PruneOutcome { removed, bytes: 0 })
}
