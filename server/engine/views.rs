//! Berth's own view of engine objects: what pages and the JSON API need, computed once when an
//! object enters the mirror (names without the slash, port strings, short ids), not per view.

use std::collections::BTreeMap;

use bollard::models::{ContainerSummary, ImageSummary, Network, PortSummary, Volume};
use serde::Serialize;

pub fn short_id(id: &str) -> String {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.chars().take(12).collect()
}

fn sorted(map: Option<std::collections::HashMap<String, String>>) -> BTreeMap<String, String> {
    map.unwrap_or_default().into_iter().collect()
}

/// An object of a list the mirror keeps: its key in the list, and whether a fresh reading of it
/// says anything new (see `mirror::merge`).
pub trait Listed: PartialEq {
    fn key(&self) -> &str;
    fn same_as(&self, fresh: &Self) -> bool {
        self == fresh
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortView {
    pub host_ip: Option<String>,
    pub host_port: Option<u16>,
    pub container_port: u16,
    pub protocol: String,
}

impl PortView {
    fn from_summary(p: &PortSummary) -> Self {
        PortView {
            host_ip: p.ip.clone().filter(|s| !s.is_empty()),
            host_port: p.public_port,
            container_port: p.private_port,
            protocol: p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into()),
        }
    }

    /// `0.0.0.0:8080->80/tcp`, or `80/tcp` when not published.
    pub fn text(&self) -> String {
        match self.host_port {
            Some(hp) => {
                let ip = self.host_ip.as_deref().unwrap_or("0.0.0.0");
                let ip = if ip.contains(':') {
                    format!("[{ip}]")
                } else {
                    ip.to_string()
                };
                format!("{ip}:{hp}->{}/{}", self.container_port, self.protocol)
            }
            None => format!("{}/{}", self.container_port, self.protocol),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MountBrief {
    /// bind, volume, tmpfs, npipe
    pub kind: String,
    pub name: Option<String>,
    pub source: Option<String>,
    pub destination: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ContainerView {
    pub id: String,
    pub short_id: String,
    /// The primary name, without the leading slash.
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub command: String,
    /// created, running, paused, restarting, exited, removing, dead
    pub state: String,
    /// The engine's words when last read: "Up 3 minutes", "Exited (0) 2 hours ago".
    pub status: String,
    /// Unix time `status` was read (its durations are relative to then: see [`ContainerView::status_now`]).
    pub status_at: i64,
    pub health: Option<String>,
    pub created: i64,
    pub ports: Vec<PortView>,
    /// The ports as the docker CLI prints them, deduplicated.
    pub ports_text: String,
    pub labels: BTreeMap<String, String>,
    pub networks: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub mounts: Vec<MountBrief>,
}

impl ContainerView {
    pub fn from_summary(c: ContainerSummary) -> Option<Self> {
        let id = c.id?;
        let name = c
            .names
            .as_ref()
            .and_then(|n| {
                // The primary name is the one without a further slash (links add /a/b names).
                n.iter()
                    .find(|x| x.trim_start_matches('/').find('/').is_none())
                    .or(n.first())
            })
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_else(|| short_id(&id));
        let mut ports: Vec<PortView> = c
            .ports
            .unwrap_or_default()
            .iter()
            .map(PortView::from_summary)
            .collect();
        ports.sort_by(|a, b| {
            (a.container_port, &a.protocol, a.host_port).cmp(&(
                b.container_port,
                &b.protocol,
                b.host_port,
            ))
        });
        let mut texts: Vec<String> = ports.iter().map(PortView::text).collect();
        texts.dedup();
        let (mut networks, mut ips) = (Vec::new(), Vec::new());
        if let Some(nets) = c.network_settings.and_then(|n| n.networks) {
            let mut nets: Vec<_> = nets.into_iter().collect();
            nets.sort_by(|a, b| a.0.cmp(&b.0));
            for (net, ep) in nets {
                if let Some(ip) = ep.ip_address.filter(|s| !s.is_empty()) {
                    ips.push(ip);
                }
                networks.push(net);
            }
        }
        let mounts = c
            .mounts
            .unwrap_or_default()
            .into_iter()
            .map(|m| MountBrief {
                kind: m
                    .typ
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "bind".into()),
                name: m.name.filter(|s| !s.is_empty()),
                source: m.source.filter(|s| !s.is_empty()),
                destination: m.destination.unwrap_or_default(),
                read_only: m.rw == Some(false),
            })
            .collect();
        Some(ContainerView {
            short_id: short_id(&id),
            id,
            name,
            image: c.image.unwrap_or_default(),
            image_id: c.image_id.unwrap_or_default(),
            command: c.command.unwrap_or_default(),
            state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            status: c.status.unwrap_or_default(),
            status_at: crate::store::now(),
            health: c
                .health
                .and_then(|h| h.status)
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty() && s != "none"),
            created: c.created.unwrap_or_default(),
            ports,
            ports_text: texts.join(", "),
            labels: sorted(c.labels),
            networks,
            ip_addresses: ips,
            mounts,
        })
    }

    pub fn is_running(&self) -> bool {
        self.state == "running"
    }

    /// The status as the engine would word it now: its durations ("Up 3 minutes", "Exited (0)
    /// 2 hours ago") advanced by the time since it was read, so that a page never shows "Up Less
    /// than a second" for a container that has run for an hour.
    pub fn status_now(&self) -> String {
        advance_status(&self.status, crate::store::now() - self.status_at)
    }
}

/// Seconds of a duration worded like the engine (go-units HumanDuration), or None.
fn parse_human(s: &str) -> Option<(i64, usize)> {
    const FIXED: &[(&str, i64)] = &[
        ("Less than a second", 0),
        ("About a minute", 60),
        ("About an hour", 3600),
    ];
    for (w, secs) in FIXED {
        if s.starts_with(w) {
            return Some((*secs, w.len()));
        }
    }
    let num_len = s.find(' ')?;
    let n: i64 = s[..num_len].parse().ok()?;
    let rest = &s[num_len + 1..];
    const UNITS: &[(&str, i64)] = &[
        ("seconds", 1),
        ("second", 1),
        ("minutes", 60),
        ("hours", 3600),
        ("days", 86_400),
        ("weeks", 7 * 86_400),
        ("months", 30 * 86_400),
        ("years", 365 * 86_400),
    ];
    UNITS
        .iter()
        .find(|(u, _)| rest.starts_with(u))
        .map(|(u, k)| (n * k, num_len + 1 + u.len()))
}

/// Words a duration like the engine does (go-units HumanDuration).
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let (m, h) = (s / 60, s / 3600);
    match () {
        _ if s < 1 => "Less than a second".into(),
        _ if s == 1 => "1 second".into(),
        _ if s < 60 => format!("{s} seconds"),
        _ if m == 1 => "About a minute".into(),
        _ if m < 60 => format!("{m} minutes"),
        _ if h == 1 => "About an hour".into(),
        _ if h < 48 => format!("{h} hours"),
        _ if h < 24 * 7 * 2 => format!("{} days", h / 24),
        _ if h < 24 * 30 * 2 => format!("{} weeks", h / 24 / 7),
        _ if h < 24 * 365 * 2 => format!("{} months", h / 24 / 30),
        _ => format!("{} years", h / 24 / 365),
    }
}

/// Advances the duration inside an engine status by `elapsed` seconds.
fn advance_status(status: &str, elapsed: i64) -> String {
    if elapsed <= 0 {
        return status.to_string();
    }
    // "Up 5 minutes (healthy)", "Up 2 hours (Paused)", "Exited (0) 3 days ago", "Restarting (1) 2 seconds ago"
    let start = if let Some(rest) = status.strip_prefix("Up ") {
        status.len() - rest.len()
    } else if let Some(close) = status.find(") ") {
        close + 2
    } else {
        return status.to_string();
    };
    match parse_human(&status[start..]) {
        Some((secs, len)) => format!(
            "{}{}{}",
            &status[..start],
            human_duration(secs + elapsed),
            &status[start + len..]
        ),
        None => status.to_string(),
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ImageView {
    pub id: String,
    pub short_id: String,
    /// repo:tag names; empty for a dangling image.
    pub tags: Vec<String>,
    pub digests: Vec<String>,
    pub size: i64,
    /// Bytes in layers shared with other images (-1 when the engine did not compute it).
    pub shared_size: i64,
    pub created: i64,
    pub labels: BTreeMap<String, String>,
    pub parent_id: String,
}

impl Listed for ContainerView {
    fn key(&self) -> &str {
        &self.id
    }

    /// Equal but for the time its status was read: "Up 3 minutes" read a minute ago is the same
    /// container as "Up 4 minutes" read now.
    fn same_as(&self, fresh: &Self) -> bool {
        if advance_status(&self.status, fresh.status_at - self.status_at) != fresh.status {
            return false;
        }
        let mut probe = fresh.clone();
        probe.status.clone_from(&self.status);
        probe.status_at = self.status_at;
        probe == *self
    }
}

impl Listed for ImageView {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Listed for NetworkView {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Listed for VolumeView {
    fn key(&self) -> &str {
        &self.name
    }
}

impl ImageView {
    pub fn from_summary(i: ImageSummary) -> Self {
        let tags: Vec<String> = i
            .repo_tags
            .into_iter()
            .filter(|t| t != "<none>:<none>")
            .collect();
        let digests = i
            .repo_digests
            .into_iter()
            .filter(|t| t != "<none>@<none>")
            .collect();
        ImageView {
            short_id: short_id(&i.id),
            id: i.id,
            tags,
            digests,
            size: i.size,
            shared_size: i.shared_size,
            created: i.created,
            labels: i.labels.into_iter().collect(),
            parent_id: i.parent_id,
        }
    }

    pub fn display_name(&self) -> String {
        self.tags
            .first()
            .cloned()
            .unwrap_or_else(|| format!("<none> ({})", self.short_id))
    }

    pub fn dangling(&self) -> bool {
        self.tags.is_empty()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NetworkView {
    pub id: String,
    pub short_id: String,
    pub name: String,
    pub driver: String,
    pub scope: String,
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub internal: bool,
    pub attachable: bool,
    pub ipv6: bool,
    pub created: String,
    pub labels: BTreeMap<String, String>,
    /// bridge/host/none on Linux, nat/none on Windows: made by the engine, not removable.
    pub builtin: bool,
}

pub const BUILTIN_NETWORKS: &[&str] = &[
    "bridge",
    "host",
    "none",
    "nat",
    "ingress",
    "docker_gwbridge",
];

impl NetworkView {
    pub fn from_network(n: Network) -> Option<Self> {
        let id = n.id?;
        let name = n.name.unwrap_or_default();
        let (mut subnets, mut gateways) = (Vec::new(), Vec::new());
        for cfg in n.ipam.and_then(|i| i.config).unwrap_or_default() {
            if let Some(s) = cfg.subnet.filter(|s| !s.is_empty()) {
                subnets.push(s);
            }
            if let Some(g) = cfg.gateway.filter(|s| !s.is_empty()) {
                gateways.push(g);
            }
        }
        Some(NetworkView {
            short_id: short_id(&id),
            builtin: BUILTIN_NETWORKS.contains(&name.as_str()),
            id,
            name,
            driver: n.driver.unwrap_or_default(),
            scope: n.scope.unwrap_or_default(),
            subnets,
            gateways,
            internal: n.internal.unwrap_or(false),
            attachable: n.attachable.unwrap_or(false),
            ipv6: n.enable_ipv6.unwrap_or(false),
            created: n.created.map(|d| d.to_string()).unwrap_or_default(),
            labels: sorted(n.labels),
        })
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VolumeView {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    pub scope: String,
    pub created: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// Bytes used, where the engine reports it (-1 or None when it does not).
    pub size: Option<i64>,
}

impl VolumeView {
    pub fn from_volume(v: Volume) -> Self {
        VolumeView {
            name: v.name,
            driver: v.driver,
            mountpoint: v.mountpoint,
            scope: v.scope.map(|s| s.to_string()).unwrap_or_default(),
            created: v.created_at.map(|d| d.to_string()).unwrap_or_default(),
            labels: v.labels.into_iter().collect(),
            options: v.options.into_iter().collect(),
            size: v.usage_data.map(|u| u.size).filter(|s| *s >= 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_text_like_the_cli() {
        let p = PortView {
            host_ip: Some("0.0.0.0".into()),
            host_port: Some(8080),
            container_port: 80,
            protocol: "tcp".into(),
        };
        assert_eq!(p.text(), "0.0.0.0:8080->80/tcp");
        let p = PortView {
            host_ip: Some("::".into()),
            host_port: Some(8080),
            container_port: 80,
            protocol: "udp".into(),
        };
        assert_eq!(p.text(), "[::]:8080->80/udp");
        let p = PortView {
            host_ip: None,
            host_port: None,
            container_port: 443,
            protocol: "tcp".into(),
        };
        assert_eq!(p.text(), "443/tcp");
    }

    #[test]
    fn status_advances_like_the_engine_words_it() {
        assert_eq!(
            advance_status("Up Less than a second", 90),
            "Up About a minute"
        );
        assert_eq!(
            advance_status("Up 5 minutes (healthy)", 600),
            "Up 15 minutes (healthy)"
        );
        assert_eq!(
            advance_status("Exited (137) 2 seconds ago", 7200),
            "Exited (137) 2 hours ago"
        );
        assert_eq!(
            advance_status("Up About an hour (Paused)", 3600 * 3),
            "Up 4 hours (Paused)"
        );
        assert_eq!(advance_status("Created", 500), "Created");
        assert_eq!(advance_status("Up 3 days", 0), "Up 3 days");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(86_400 * 20), "2 weeks");
    }

    #[test]
    fn primary_name_skips_link_names() {
        let c = ContainerSummary {
            id: Some("abcdef0123456789".into()),
            names: Some(vec!["/web/db".into(), "/db".into()]),
            ..Default::default()
        };
        let v = ContainerView::from_summary(c).unwrap();
        assert_eq!(v.name, "db");
        assert_eq!(v.short_id, "abcdef012345");
    }

    fn summary(id: &str, status: &str, state: &str) -> ContainerView {
        ContainerView::from_summary(ContainerSummary {
            id: Some(id.into()),
            names: Some(vec![format!("/{id}")]),
            status: Some(status.into()),
            state: Some(state.parse().unwrap()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn a_container_read_again_later_is_the_same_when_only_time_passed() {
        let mut old = summary("a", "Up 3 minutes", "running");
        old.status_at = 1000;
        let mut fresh = summary("a", "Up 4 minutes", "running");
        fresh.status_at = 1060;
        assert!(old.same_as(&fresh));
        // The clock moved but the engine says something else: it changed (restarted).
        let mut restarted = summary("a", "Up 2 seconds", "running");
        restarted.status_at = 1060;
        assert!(!old.same_as(&restarted));
        let mut stopped = summary("a", "Up 4 minutes", "exited");
        stopped.status_at = 1060;
        assert!(!old.same_as(&stopped));
    }
}
