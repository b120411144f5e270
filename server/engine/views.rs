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

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct MountBrief {
    /// bind, volume, tmpfs, npipe
    pub kind: String,
    pub name: Option<String>,
    pub source: Option<String>,
    pub destination: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq)]
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
    /// The engine's words when last listed: "Up 3 minutes", "Exited (0) 2 hours ago". Only a
    /// fallback: the status shown is worded from the engine's timestamps ([`ContainerView::status_now`]).
    pub status: String,
    /// Unix time `status` was read (its durations are relative to then).
    pub status_at: i64,
    /// The engine's own clock of the state (`State.StartedAt`, `State.FinishedAt`, `State.ExitCode`,
    /// from inspect or from the event that made the state), None until known.
    pub clock: Option<StateClock>,
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

/// The JSON of a container: the view, with `status` worded at the moment it is written.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ContainerView)]
struct Wire<'a> {
    id: &'a str,
    short_id: &'a str,
    name: &'a str,
    image: &'a str,
    image_id: &'a str,
    command: &'a str,
    state: &'a str,
    status: String,
    health: &'a Option<String>,
    exit_code: Option<i64>,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    created: i64,
    ports: &'a [PortView],
    ports_text: &'a str,
    labels: &'a BTreeMap<String, String>,
    networks: &'a [String],
    ip_addresses: &'a [String],
    mounts: &'a [MountBrief],
}

impl Serialize for ContainerView {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let clock = self.clock.unwrap_or_default();
        Wire {
            id: &self.id,
            short_id: &self.short_id,
            name: &self.name,
            image: &self.image,
            image_id: &self.image_id,
            command: &self.command,
            state: &self.state,
            status: self.status_now(),
            health: &self.health,
            exit_code: clock.exit_code,
            started_at: clock.started_at.map(|n| n / 1_000_000_000),
            finished_at: clock.finished_at.map(|n| n / 1_000_000_000),
            created: self.created,
            ports: &self.ports,
            ports_text: &self.ports_text,
            labels: &self.labels,
            networks: &self.networks,
            ip_addresses: &self.ip_addresses,
            mounts: &self.mounts,
        }
        .serialize(ser)
    }
}

/// The schema of what [`ContainerView`]'s `Serialize` writes: [`Wire`]'s.
impl utoipa::PartialSchema for ContainerView {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <Wire<'static> as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for ContainerView {
    fn name() -> std::borrow::Cow<'static, str> {
        <Wire<'static> as utoipa::ToSchema>::name()
    }
    fn schemas(
        out: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <Wire<'static> as utoipa::ToSchema>::schemas(out)
    }
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
            clock: None,
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

    /// The status as `docker ps` words it now ("Up 3 minutes (healthy)", "Exited (3) 2 minutes
    /// ago"): from the engine's timestamps when known (the daemon's `State.String()`), else the
    /// listed words advanced by the time since they were read.
    pub fn status_now(&self) -> String {
        self.status_at_nanos(now_nanos())
    }

    /// The status as worded at `now` (unix nanoseconds).
    pub fn status_at_nanos(&self, now: i64) -> String {
        let Some(clock) = &self.clock else {
            return advance_status(&self.status, now / 1_000_000_000 - self.status_at);
        };
        let since = |t: Option<i64>| human_duration_nanos(now - t.unwrap_or(now));
        let code = clock.exit_code.unwrap_or(0);
        match self.state.as_str() {
            "paused" => format!("Up {} (Paused)", since(clock.started_at)),
            "restarting" => format!("Restarting ({code}) {} ago", since(clock.finished_at)),
            "running" => match self.health.as_deref() {
                Some("starting") => format!("Up {} (health: starting)", since(clock.started_at)),
                Some(h) => format!("Up {} ({h})", since(clock.started_at)),
                None => format!("Up {}", since(clock.started_at)),
            },
            "removing" => "Removal In Progress".into(),
            "dead" => "Dead".into(),
            "created" => "Created".into(),
            _ => match clock.finished_at {
                Some(f) => format!("Exited ({code}) {} ago", human_duration_nanos(now - f)),
                None => String::new(),
            },
        }
    }

    /// Takes the state from the engine's inspect of this container (the container's own state,
    /// which the engine updates before it emits the event; its list may still lag).
    /// State, health, clock and restart rule from an inspect.
    pub fn set_state(&mut self, ins: &bollard::models::ContainerInspectResponse) {
        let Some(st) = ins.state.as_ref() else {
            return;
        };
        if let Some(status) = st.status {
            self.state = status.to_string();
        }
        self.health = st
            .health
            .as_ref()
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty() && s != "none");
        self.clock = Some(StateClock {
            started_at: st.started_at.as_deref().and_then(parse_rfc3339_nanos),
            finished_at: st.finished_at.as_deref().and_then(parse_rfc3339_nanos),
            exit_code: st.exit_code,
            restart: Restarts::of(ins),
            stop_asked: false,
        });
    }
}

/// What the engine's restart manager will do when the container's process ends: the restart
/// policy as inspect gives it, with the restarts already made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restarts {
    #[default]
    Never,
    Always,
    UnlessStopped,
    /// Up to this many restarts in all (0: no limit); the count already made.
    OnFailure {
        max: i64,
        made: i64,
    },
}

impl Restarts {
    fn of(ins: &bollard::models::ContainerInspectResponse) -> Self {
        use bollard::models::RestartPolicyNameEnum as N;
        let Some(p) = ins
            .host_config
            .as_ref()
            .and_then(|h| h.restart_policy.as_ref())
        else {
            return Restarts::Never;
        };
        match p.name {
            Some(N::ALWAYS) => Restarts::Always,
            Some(N::UNLESS_STOPPED) => Restarts::UnlessStopped,
            Some(N::ON_FAILURE) => Restarts::OnFailure {
                max: p.maximum_retry_count.unwrap_or(0),
                made: ins.restart_count.unwrap_or(0),
            },
            _ => Restarts::Never,
        }
    }

    /// Whether a process that ended with `code` is restarted, by moby's rules: the engine sets
    /// the container restarting before it tells of the `die`, so the event means "restarting"
    /// then. A stop or kill asked for since the start means no restart.
    pub fn restarts_after(self, code: Option<i64>, stop_asked: bool) -> bool {
        if stop_asked {
            return false;
        }
        match self {
            Restarts::Never => false,
            Restarts::Always | Restarts::UnlessStopped => true,
            Restarts::OnFailure { max, made } => {
                code.is_some_and(|c| c != 0) && (max == 0 || made < max)
            }
        }
    }
}

/// When a container's state began, by the engine's clock (unix nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateClock {
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub exit_code: Option<i64>,
    /// The restart rule (from inspect), to know what a `die` leads to.
    pub restart: Restarts,
    /// A stop or kill was asked since the last start (the engine will not restart it).
    pub stop_asked: bool,
}

pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Unix nanoseconds of an RFC 3339 time as the engine writes it
/// (`2026-12-06T02:35:43.123456789Z`, or with an offset); None for Go's zero time.
pub fn parse_rfc3339_nanos(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if y <= 1 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac = 0i64;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        let mut f: String = r[..digits].chars().take(9).collect();
        while f.len() < 9 {
            f.push('0');
        }
        frac = f.parse().ok()?;
        rest = &r[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 3600 + o[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    // Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
    let (yy, m) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    Some(secs * 1_000_000_000 + frac)
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
    human_duration_nanos(secs.saturating_mul(1_000_000_000))
}

/// go-units `HumanDuration`: seconds and minutes truncated, hours rounded to the nearest hour
/// (half away from zero), years from the truncated hours.
pub fn human_duration_nanos(nanos: i64) -> String {
    const SEC: i64 = 1_000_000_000;
    const HOUR: i64 = 3600 * SEC;
    let s = nanos / SEC;
    let m = nanos / (60 * SEC);
    let rounded_hours = if nanos >= 0 {
        (nanos + HOUR / 2) / HOUR
    } else {
        (nanos - HOUR / 2) / HOUR
    };
    match () {
        _ if s < 1 => "Less than a second".into(),
        _ if s == 1 => "1 second".into(),
        _ if s < 60 => format!("{s} seconds"),
        _ if m == 1 => "About a minute".into(),
        _ if m < 60 => format!("{m} minutes"),
        _ if rounded_hours == 1 => "About an hour".into(),
        _ if rounded_hours < 48 => format!("{rounded_hours} hours"),
        _ if rounded_hours < 24 * 7 * 2 => format!("{} days", rounded_hours / 24),
        _ if rounded_hours < 24 * 30 * 2 => format!("{} weeks", rounded_hours / 24 / 7),
        _ if rounded_hours < 24 * 365 * 2 => format!("{} months", rounded_hours / 24 / 30),
        _ => format!("{} years", nanos / HOUR / 24 / 365),
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

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
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
    /// A listing carries no clock: a fresh reading without one is the same as a held one with
    /// it when everything else agrees.
    fn same_as(&self, fresh: &Self) -> bool {
        if advance_status(&self.status, fresh.status_at - self.status_at) != fresh.status {
            return false;
        }
        let mut probe = fresh.clone();
        probe.status.clone_from(&self.status);
        probe.status_at = self.status_at;
        if probe.clock.is_none() {
            probe.clock = self.clock;
        }
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

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
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

    #[test]
    fn engine_times_parse_to_nanoseconds() {
        assert_eq!(
            parse_rfc3339_nanos("1970-01-01T00:00:01Z"),
            Some(1_000_000_000)
        );
        assert_eq!(
            parse_rfc3339_nanos("2026-12-06T02:35:43.123456789Z"),
            Some(1_796_524_543_123_456_789)
        );
        assert_eq!(
            parse_rfc3339_nanos("2026-12-06T03:35:43.5+01:00"),
            Some(1_796_524_543_500_000_000)
        );
        assert_eq!(parse_rfc3339_nanos("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_nanos("yesterday"), None);
    }

    #[test]
    fn durations_round_like_go_units() {
        const S: i64 = 1_000_000_000;
        assert_eq!(human_duration_nanos(999_999_999), "Less than a second");
        assert_eq!(human_duration_nanos(-5 * S), "Less than a second");
        assert_eq!(human_duration_nanos(59 * S + S / 2), "59 seconds");
        assert_eq!(human_duration_nanos(119 * S), "About a minute");
        assert_eq!(human_duration_nanos(3599 * S), "59 minutes");
        // Hours round to the nearest: 1 h 29 min is "About an hour", 1 h 31 min is "2 hours".
        assert_eq!(human_duration_nanos(89 * 60 * S), "About an hour");
        assert_eq!(human_duration_nanos(91 * 60 * S), "2 hours");
        assert_eq!(human_duration_nanos(47 * 3600 * S + 1800 * S), "2 days");
        assert_eq!(human_duration_nanos(3 * 365 * 86_400 * S), "3 years");
    }

    #[test]
    fn status_is_worded_from_the_engine_clock_like_the_daemon() {
        const S: i64 = 1_000_000_000;
        let now = 1_000_000 * S;
        let mut c = summary("a", "Up 1 second", "running");
        c.clock = Some(StateClock {
            started_at: Some(now - 200 * S),
            finished_at: Some(now - 130 * S),
            exit_code: Some(3),
            ..StateClock::default()
        });
        assert_eq!(c.status_at_nanos(now), "Up 3 minutes");
        c.health = Some("starting".into());
        assert_eq!(c.status_at_nanos(now), "Up 3 minutes (health: starting)");
        c.health = Some("healthy".into());
        assert_eq!(c.status_at_nanos(now), "Up 3 minutes (healthy)");
        c.state = "paused".into();
        assert_eq!(c.status_at_nanos(now), "Up 3 minutes (Paused)");
        c.state = "exited".into();
        assert_eq!(c.status_at_nanos(now), "Exited (3) 2 minutes ago");
        c.state = "restarting".into();
        assert_eq!(c.status_at_nanos(now), "Restarting (3) 2 minutes ago");
        c.state = "created".into();
        assert_eq!(c.status_at_nanos(now), "Created");
        c.state = "removing".into();
        assert_eq!(c.status_at_nanos(now), "Removal In Progress");
        c.state = "dead".into();
        assert_eq!(c.status_at_nanos(now), "Dead");
    }

    #[test]
    fn a_die_means_restarting_when_the_engine_will_restart() {
        let on_failure = |max, made| Restarts::OnFailure { max, made };
        assert!(!Restarts::Never.restarts_after(Some(1), false));
        assert!(Restarts::Always.restarts_after(Some(0), false));
        assert!(Restarts::UnlessStopped.restarts_after(Some(0), false));
        assert!(!Restarts::Always.restarts_after(Some(137), true));
        assert!(on_failure(0, 9).restarts_after(Some(1), false));
        assert!(!on_failure(0, 0).restarts_after(Some(0), false));
        assert!(on_failure(3, 2).restarts_after(Some(1), false));
        assert!(!on_failure(3, 3).restarts_after(Some(1), false));
    }
}
