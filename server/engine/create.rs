//! Creating a container: what the user asks for ([`CreateSpec`]), checked before the engine is
//! called ([`validate`], pure, with the engine's OS and what the mirror knows), turned into the
//! engine's `ContainerCreateBody` ([`to_body`]), and the reverse for "duplicate/edit"
//! ([`spec_from_inspect`]: only what differs from the image becomes explicit config).
//! Rename and commit live here too: they are the other ways a container's identity changes.
//!
//! The HTML form and `POST /api/containers` both end in [`create`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use bollard::models::{
    ContainerConfig, ContainerCreateBody, ContainerInspectResponse, EndpointSettings, HostConfig,
    HostConfigIsolationEnum, ImageInspect, Mount, MountType, NetworkingConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CommitContainerOptions, CreateContainerOptions, RemoveContainerOptions, RenameContainerOptions,
    StartContainerOptions, StopContainerOptions,
};
use serde::{Deserialize, Deserializer, Serialize};

use super::Mirror;
use super::views::short_id;
use crate::error::{Error, Result};

/// A port mapping as the user wrote it (text, so that a bad value is shown back as typed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct PortSpec {
    #[serde(deserialize_with = "text")]
    pub host_ip: String,
    /// Empty or 0: a random free port.
    #[serde(deserialize_with = "text")]
    pub host_port: String,
    #[serde(deserialize_with = "text")]
    pub container_port: String,
    /// tcp (default), udp, sctp.
    #[serde(deserialize_with = "text")]
    pub protocol: String,
}

/// A mount: `bind` (a host path), `volume` (named: existing or new; no source: anonymous) or
/// `tmpfs` (Linux only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct MountSpec {
    #[serde(rename = "type", deserialize_with = "text")]
    pub kind: String,
    #[serde(deserialize_with = "text")]
    pub source: String,
    #[serde(deserialize_with = "text")]
    pub target: String,
    pub read_only: bool,
}

/// Everything the create form and `POST /api/containers` can say. Empty means "the image's (or
/// the engine's) default".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct CreateSpec {
    #[serde(deserialize_with = "text")]
    pub name: String,
    #[serde(deserialize_with = "text")]
    pub image: String,
    /// An array, or one string read like a shell would split it.
    #[serde(deserialize_with = "args")]
    pub cmd: Vec<String>,
    #[serde(deserialize_with = "args")]
    pub entrypoint: Vec<String>,
    #[serde(deserialize_with = "text")]
    pub workdir: String,
    #[serde(deserialize_with = "text")]
    pub user: String,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<PortSpec>,
    pub mounts: Vec<MountSpec>,
    /// no, always, unless-stopped, on-failure, on-failure:N (or the engine's
    /// `{"Name", "MaximumRetryCount"}` object).
    #[serde(deserialize_with = "restart")]
    pub restart_policy: String,
    /// A network name or id; empty for the engine's default.
    #[serde(deserialize_with = "text")]
    pub network: String,
    /// Aliases on `network` (user-defined networks only; the engine says so otherwise).
    pub aliases: Vec<String>,
    #[serde(deserialize_with = "text")]
    pub hostname: String,
    /// Bytes, or a number with b/k/m/g (binary, as the docker CLI reads `--memory`).
    #[serde(deserialize_with = "text")]
    pub memory: String,
    /// CPUs, like `--cpus` (0.5, 2).
    #[serde(deserialize_with = "text")]
    pub cpus: String,
    /// default, process, hyperv: Windows engines only.
    #[serde(deserialize_with = "text")]
    pub isolation: String,
    pub auto_remove: bool,
    pub tty: bool,
    pub open_stdin: bool,
    /// Start it once created.
    pub start: bool,
}

/// Accepts a string, a number, a bool or null as text (JSON clients send ports as numbers).
fn text<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        other => {
            return Err(serde::de::Error::custom(format!(
                "expected text or a number, got {other}"
            )));
        }
    })
}

/// Arguments: a JSON array of strings, or one string split like a shell would.
fn args<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => Ok(Vec::new()),
        serde_json::Value::String(s) => split_args(&s).map_err(serde::de::Error::custom),
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                serde_json::Value::Number(n) => Ok(n.to_string()),
                other => Err(serde::de::Error::custom(format!(
                    "expected a string argument, got {other}"
                ))),
            })
            .collect(),
        other => Err(serde::de::Error::custom(format!(
            "expected an array of strings, got {other}"
        ))),
    }
}

/// A restart policy as text, or as the engine's object.
fn restart<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Object(o) => {
            let get = |k: &str| {
                o.iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.clone())
            };
            let name = get("name")
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let n = get("maximum_retry_count")
                .or_else(|| get("MaximumRetryCount"))
                .and_then(|v| v.as_i64())
                .unwrap_or(0);
            Ok(if name == "on-failure" && n > 0 {
                format!("on-failure:{n}")
            } else {
                name
            })
        }
        serde_json::Value::Null => Ok(String::new()),
        serde_json::Value::String(s) => Ok(s),
        other => Err(serde::de::Error::custom(format!(
            "expected a restart policy, got {other}"
        ))),
    }
}

/// What validation needs to know of the engine, read from the mirror in one go.
#[derive(Debug, Clone, Default)]
pub struct EngineFacts {
    /// "linux" or "windows".
    pub os_type: String,
    /// Every image's id, tags and digests.
    pub images: Vec<(String, Vec<String>, Vec<String>)>,
    /// Network names and ids.
    pub networks: Vec<(String, String)>,
    /// A Windows host's build number (`Info.KernelVersion`), when known.
    pub os_build: Option<u32>,
}

impl EngineFacts {
    pub fn of(m: &Mirror) -> Self {
        m.read(|s| EngineFacts {
            os_type: s
                .info
                .as_ref()
                .and_then(|i| i.os_type.clone())
                .unwrap_or_else(|| "linux".into()),
            images: s
                .images
                .values()
                .map(|i| (i.id.clone(), i.tags.clone(), i.digests.clone()))
                .collect(),
            networks: s
                .networks
                .values()
                .map(|n| (n.name.clone(), n.id.clone()))
                .collect(),
            os_build: s
                .info
                .as_ref()
                .and_then(|i| i.kernel_version.as_deref())
                .and_then(super::windows::os_build),
        })
    }

    pub fn windows(&self) -> bool {
        self.os_type.eq_ignore_ascii_case("windows")
    }

    /// Whether `reference` names a local image (tag, id, id prefix or digest).
    pub fn has_image(&self, reference: &str) -> bool {
        let r = reference.trim();
        let with_tag = normalise_ref(r);
        let hex = r.strip_prefix("sha256:").unwrap_or(r);
        let hex_ok = hex.len() >= 4 && hex.chars().all(|c| c.is_ascii_hexdigit());
        self.images.iter().any(|(id, tags, digests)| {
            let id_hex = id.strip_prefix("sha256:").unwrap_or(id);
            tags.iter().any(|t| normalise_ref(t) == with_tag)
                || digests.iter().any(|d| d == r)
                || (hex_ok && id_hex.starts_with(hex))
        })
    }

    fn has_network(&self, key: &str) -> bool {
        self.networks
            .iter()
            .any(|(name, id)| name == key || (key.len() >= 4 && id.starts_with(key)))
    }
}

/// `busybox` → `busybox:latest`, `docker.io/library/x:1` → `x:1` (digests left alone).
pub fn normalise_ref(r: &str) -> String {
    let r = r
        .strip_prefix("docker.io/library/")
        .or_else(|| r.strip_prefix("docker.io/"))
        .unwrap_or(r);
    if r.contains('@') {
        return r.to_string();
    }
    let last = r.rsplit('/').next().unwrap_or(r);
    if last.contains(':') {
        r.to_string()
    } else {
        format!("{r}:latest")
    }
}

/// A container (or volume) name as the engine accepts it: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let n = name.strip_prefix('/').unwrap_or(name);
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && n.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn check_name(field: &'static str, name: &str) -> Result<()> {
    if !valid_name(name) {
        return Err(Error::invalid(
            field,
            format!(
                "`{name}` is not a valid name: use at least two characters, letters, digits, `_`, `.` or `-`, starting with a letter or digit"
            ),
        ));
    }
    Ok(())
}

/// An RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
pub fn valid_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// `512m`, `1g`, `1.5g`, `268435456` (bytes) → bytes. Binary units, as the docker CLI.
pub fn parse_bytes(s: &str) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s
        .strip_suffix("ib")
        .or_else(|| {
            s.strip_suffix('b')
                .filter(|r| r.ends_with(|c: char| c.is_ascii_alphabetic()))
        })
        .unwrap_or(&s);
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1i64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        't' => (&s[..s.len() - 1], 1 << 40),
        'b' => (&s[..s.len() - 1], 1),
        _ => (s, 1),
    };
    let v: f64 = num.trim().parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    let bytes = v * mult as f64;
    (bytes < i64::MAX as f64).then_some(bytes as i64)
}

/// Windows-style absolute path: `C:\x`, `c:/x` (a drive letter and a separator).
pub fn is_windows_abs(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/')
}

/// `C:\`, `c:/`, `C:` — the root of a drive.
pub fn is_drive_root(p: &str) -> bool {
    let b = p.trim_end_matches(['\\', '/']).as_bytes();
    b.len() == 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// `\\server\share\…` or `//server/share`: network paths, which Windows engines cannot bind.
pub fn is_unc(p: &str) -> bool {
    // `\\?\C:\…` is a local path in long form, which the engine accepts.
    let long_local = p
        .strip_prefix("\\\\?\\")
        .is_some_and(|r| is_windows_abs(r) || is_drive_root(r));
    (p.starts_with("\\\\") || p.starts_with("//")) && !p.starts_with("\\\\.\\pipe\\") && !long_local
}

fn is_pipe(p: &str) -> bool {
    p.starts_with("\\\\.\\pipe\\") || p.starts_with("//./pipe/")
}

/// Restart policy text → (name, retries).
pub fn parse_restart(s: &str) -> Result<Option<(RestartPolicyNameEnum, i64)>> {
    let s = s.trim();
    Ok(Some(match s {
        "" => return Ok(None),
        "no" => (RestartPolicyNameEnum::NO, 0),
        "always" => (RestartPolicyNameEnum::ALWAYS, 0),
        "unless-stopped" => (RestartPolicyNameEnum::UNLESS_STOPPED, 0),
        "on-failure" => (RestartPolicyNameEnum::ON_FAILURE, 0),
        other => match other
            .strip_prefix("on-failure:")
            .map(|n| n.trim().parse::<i64>())
        {
            Some(Ok(n)) if n >= 0 => (RestartPolicyNameEnum::ON_FAILURE, n),
            _ => {
                return Err(Error::invalid(
                    "restart_policy",
                    format!(
                        "`{other}` is not a restart policy: use no, always, unless-stopped, on-failure or on-failure:N"
                    ),
                ));
            }
        },
    }))
}

/// A checked port row.
#[derive(Debug, Clone, PartialEq)]
struct Port {
    host_ip: String,
    host_port: Option<u16>,
    container_port: u16,
    protocol: String,
}

fn parse_ports(ports: &[PortSpec]) -> Result<Vec<Port>> {
    let mut out: Vec<Port> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let row = i + 1;
        let bad = |m: String| Err(Error::invalid("ports", format!("Port row {row}: {m}")));
        let cp = p.container_port.trim();
        let container_port = match cp.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => {
                return bad(format!(
                    "container port `{cp}` is not a port number (1–65535)"
                ));
            }
        };
        let hp = p.host_port.trim();
        let host_port = match hp {
            "" | "0" => None,
            _ => match hp.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return bad(format!(
                        "host port `{hp}` is not a port number (1–65535; leave it empty for a random one)"
                    ));
                }
            },
        };
        let protocol = match p.protocol.trim().to_ascii_lowercase().as_str() {
            "" | "tcp" => "tcp".to_string(),
            "udp" => "udp".into(),
            "sctp" => "sctp".into(),
            other => return bad(format!("protocol `{other}` is not tcp, udp or sctp")),
        };
        let ip = p
            .host_ip
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
            return bad(format!("host IP `{ip}` is not an IP address"));
        }
        let port = Port {
            host_ip: ip.to_string(),
            host_port,
            container_port,
            protocol,
        };
        if let Some(hp) = port.host_port {
            let wildcard = |ip: &str| ip.is_empty() || ip == "0.0.0.0" || ip == "::";
            if let Some(j) = out.iter().position(|o| {
                o.host_port == Some(hp)
                    && o.protocol == port.protocol
                    && (o.host_ip == port.host_ip
                        || wildcard(&o.host_ip)
                        || wildcard(&port.host_ip))
            }) {
                return bad(format!(
                    "host port {hp}/{} is already used by row {}",
                    port.protocol,
                    j + 1
                ));
            }
        }
        out.push(port);
    }
    Ok(out)
}

fn check_mounts(mounts: &[MountSpec], windows: bool, build: Option<u32>) -> Result<()> {
    let mut targets = HashSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let row = i + 1;
        let bad = |msg: String| Err(Error::invalid("mounts", format!("Mount row {row}: {msg}")));
        let target = m.target.trim();
        let source = m.source.trim();
        let kind = m.kind.trim();
        if target.is_empty() {
            return bad("the target (path in the container) is required".into());
        }
        if windows {
            // The engine's own rules and words (moby's Windows mount parser).
            use super::windows::{MountType as W, check_mount, pipe_backslashed};
            let (source, target) = (pipe_backslashed(source), pipe_backslashed(target));
            let wkind = match kind {
                "npipe" => W::NamedPipe,
                "bind" if is_pipe(&source) => W::NamedPipe,
                "bind" => W::Bind,
                "volume" => W::Volume,
                "tmpfs" => W::Tmpfs,
                other => return bad(format!("type `{other}` is not bind, volume or npipe")),
            };
            if wkind == W::Bind && is_unc(&source) {
                return bad(format!(
                    "host path `{source}` is a network (UNC) path: Windows engines cannot bind those; use a local folder"
                ));
            }
            if let Err(msg) = check_mount(wkind, &source, &target, m.read_only, build) {
                return bad(msg);
            }
            if wkind == W::Volume && !source.is_empty() && !valid_name(&source) {
                return bad(format!(
                    "`{source}` is not a valid volume name (letters, digits, `_`, `.`, `-`)"
                ));
            }
            let key = target
                .to_ascii_lowercase()
                .replace('/', "\\")
                .trim_end_matches('\\')
                .to_string();
            if !targets.insert(key) {
                return bad(format!("target `{target}` is mounted twice"));
            }
            continue;
        }
        if !target.starts_with('/') {
            return bad(format!(
                "target `{target}` must be an absolute path (starting with /)"
            ));
        }
        let key = target.trim_end_matches('/').to_string();
        if !targets.insert(key) {
            return bad(format!("target `{target}` is mounted twice"));
        }
        match kind {
            "bind" => {
                if source.is_empty() {
                    return bad("a bind mount needs a host path".into());
                }
                if !source.starts_with('/') {
                    return bad(format!(
                        "host path `{source}` is relative: give an absolute path (starting with /)"
                    ));
                }
            }
            "volume" => {
                if !source.is_empty() && !valid_name(source) {
                    return bad(format!(
                        "`{source}` is not a valid volume name (letters, digits, `_`, `.`, `-`)"
                    ));
                }
            }
            "tmpfs" => {
                if !source.is_empty() {
                    return bad("a tmpfs mount takes no source".into());
                }
            }
            other => return bad(format!("type `{other}` is not bind, volume or tmpfs")),
        }
    }
    Ok(())
}

/// Every check that can be made before the engine is called. The error names the field.
pub fn validate(spec: &CreateSpec, facts: &EngineFacts) -> Result<()> {
    let name = spec.name.trim();
    if !name.is_empty() {
        check_name("name", name)?;
    }
    let image = spec.image.trim();
    if image.is_empty() {
        return Err(Error::invalid("image", "Choose an image."));
    }
    if !facts.has_image(image) {
        return Err(Error::invalid(
            "image",
            format!("No image `{image}` on this engine: pull or build it first."),
        ));
    }
    let wd = spec.workdir.trim();
    let absolute = wd.starts_with('/') || (facts.windows() && is_windows_abs(wd));
    if !wd.is_empty() && !absolute {
        return Err(Error::invalid(
            "workdir",
            format!("The working directory `{wd}` must be an absolute path."),
        ));
    }
    for (i, e) in spec.env.iter().enumerate() {
        match e.split_once('=') {
            Some((k, _)) if !k.trim().is_empty() && !k.contains(char::is_whitespace) => {}
            _ => {
                return Err(Error::invalid(
                    "env",
                    format!(
                        "Environment row {}: `{e}` is not KEY=VALUE (a name without spaces, then =)",
                        i + 1
                    ),
                ));
            }
        }
    }
    if spec.labels.keys().any(|k| k.trim().is_empty()) {
        return Err(Error::invalid("labels", "A label needs a key."));
    }
    parse_ports(&spec.ports)?;
    check_mounts(&spec.mounts, facts.windows(), facts.os_build)?;
    let restart = parse_restart(&spec.restart_policy)?;
    if spec.auto_remove && matches!(restart, Some((ref n, _)) if *n != RestartPolicyNameEnum::NO) {
        return Err(Error::invalid(
            "auto_remove",
            "Auto-remove and a restart policy exclude each other: choose one.",
        ));
    }
    let net = spec.network.trim();
    if !net.is_empty() && !facts.has_network(net) {
        return Err(Error::invalid(
            "network",
            format!("No network `{net}` on this engine."),
        ));
    }
    if !spec.aliases.is_empty() && net.is_empty() {
        return Err(Error::invalid(
            "aliases",
            "Aliases need a network: choose one.",
        ));
    }
    if let Some(a) = spec.aliases.iter().find(|a| !valid_hostname(a.trim())) {
        return Err(Error::invalid(
            "aliases",
            format!("`{a}` is not a valid alias (letters, digits, inner hyphens, dots)"),
        ));
    }
    let host = spec.hostname.trim();
    if !host.is_empty() && !valid_hostname(host) {
        return Err(Error::invalid(
            "hostname",
            format!(
                "`{host}` is not a valid host name (RFC 1123: letters, digits, inner hyphens, dots)"
            ),
        ));
    }
    let mem = spec.memory.trim();
    if !mem.is_empty() {
        match parse_bytes(mem) {
            Some(b) if b >= 6 << 20 => {}
            Some(0) => {}
            Some(_) => {
                return Err(Error::invalid(
                    "memory",
                    "The memory limit must be at least 6 MiB (or empty for none).",
                ));
            }
            None => {
                return Err(Error::invalid(
                    "memory",
                    format!("`{mem}` is not a size: use bytes or a number with k, m or g (512m)."),
                ));
            }
        }
    }
    let cpus = spec.cpus.trim();
    if !cpus.is_empty() {
        match cpus.parse::<f64>() {
            Ok(c) if (0.0..1e6).contains(&c) => {}
            _ => {
                return Err(Error::invalid(
                    "cpus",
                    format!("`{cpus}` is not a number of CPUs (such as 0.5 or 2)."),
                ));
            }
        }
    }
    use super::windows::Isolation;
    match Isolation::parse(&spec.isolation) {
        Some(Isolation::Default) => {}
        Some(_) if facts.windows() => {}
        Some(_) => {
            return Err(Error::invalid(
                "isolation",
                "Isolation is a setting of Windows engines; this engine runs Linux.",
            ));
        }
        None => {
            return Err(Error::invalid(
                "isolation",
                format!(
                    "`{}` is not an isolation mode: default, process or hyperv.",
                    spec.isolation.trim()
                ),
            ));
        }
    }
    Ok(())
}

fn opt_vec(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

fn opt_text(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// The engine's create body for a validated spec.
pub fn to_body(spec: &CreateSpec, facts: &EngineFacts) -> Result<ContainerCreateBody> {
    let ports = parse_ports(&spec.ports)?;
    let mut exposed = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &ports {
        let key = format!("{}/{}", p.container_port, p.protocol);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: opt_text(&p.host_ip),
                host_port: Some(p.host_port.map(|n| n.to_string()).unwrap_or_default()),
            });
    }
    let mounts: Vec<Mount> = spec
        .mounts
        .iter()
        .map(|m| Mount {
            target: Some(super::windows::pipe_backslashed(m.target.trim())),
            source: opt_text(&super::windows::pipe_backslashed(m.source.trim())),
            typ: Some(match m.kind.trim() {
                "npipe" => MountType::NPIPE,
                "bind" if is_pipe(m.source.trim()) => MountType::NPIPE,
                "bind" => MountType::BIND,
                "tmpfs" => MountType::TMPFS,
                _ => MountType::VOLUME,
            }),
            read_only: Some(m.read_only),
            ..Default::default()
        })
        .collect();
    let restart = parse_restart(&spec.restart_policy)?.map(|(name, n)| RestartPolicy {
        name: Some(name),
        maximum_retry_count: (n > 0).then_some(n),
    });
    let memory = parse_bytes(&spec.memory).filter(|b| *b > 0);
    let nano_cpus = spec
        .cpus
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|c| *c > 0.0)
        .map(|c| (c * 1e9).round() as i64);
    let isolation = match super::windows::Isolation::parse(&spec.isolation) {
        Some(super::windows::Isolation::Process) if facts.windows() => {
            Some(HostConfigIsolationEnum::PROCESS)
        }
        Some(super::windows::Isolation::HyperV) if facts.windows() => {
            Some(HostConfigIsolationEnum::HYPERV)
        }
        _ => None,
    };
    let network = opt_text(&spec.network);
    let aliases: Vec<String> = spec
        .aliases
        .iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    let networking_config = match (&network, aliases.is_empty()) {
        (Some(net), false) => Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                net.clone(),
                EndpointSettings {
                    aliases: Some(aliases),
                    ..Default::default()
                },
            )])),
        }),
        _ => None,
    };
    let labels: HashMap<String, String> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.trim().to_string(), v.clone()))
        .collect();
    Ok(ContainerCreateBody {
        image: Some(spec.image.trim().to_string()),
        cmd: opt_vec(&spec.cmd),
        entrypoint: opt_vec(&spec.entrypoint),
        working_dir: opt_text(&spec.workdir),
        user: opt_text(&spec.user),
        env: opt_vec(&spec.env),
        labels: (!labels.is_empty()).then_some(labels),
        hostname: opt_text(&spec.hostname),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        tty: spec.tty.then_some(true),
        open_stdin: spec.open_stdin.then_some(true),
        attach_stdin: spec.open_stdin.then_some(false),
        host_config: Some(HostConfig {
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            mounts: (!mounts.is_empty()).then_some(mounts),
            restart_policy: restart,
            network_mode: network,
            auto_remove: spec.auto_remove.then_some(true),
            memory,
            nano_cpus,
            isolation,
            ..Default::default()
        }),
        networking_config,
        ..Default::default()
    })
}

/// The engine's refusal, told next to the field it is about when we can tell which.
fn refusal(e: Error) -> Error {
    match e {
        Error::EngineRefused { status, message } => {
            let lower = message.to_lowercase();
            if status == 409 && lower.contains("name") {
                Error::Conflict {
                    field: "name",
                    message,
                }
            } else if lower.contains("port is already allocated")
                || lower.contains("address already in use")
            {
                Error::Conflict {
                    field: "ports",
                    message,
                }
            } else {
                Error::EngineRefused { status, message }
            }
        }
        other => other,
    }
}

/// What [`create`] did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Created {
    pub id: String,
    pub name: String,
    pub started: bool,
}

/// Validates, creates, and (when asked) starts. A start that fails removes the new container
/// again, so that the user can fix the form and submit the same name.
pub async fn create(m: &Mirror, spec: &CreateSpec) -> Result<Created> {
    let facts = EngineFacts::of(m);
    validate(spec, &facts)?;
    let body = to_body(spec, &facts)?;
    let d = m.docker()?;
    let name = spec.name.trim().trim_start_matches('/').to_string();
    let opts = CreateContainerOptions {
        name: (!name.is_empty()).then(|| name.clone()),
        ..Default::default()
    };
    let r = d
        .create_container(Some(opts), body)
        .await
        .map_err(|e| refusal(m.err(e)))?;
    let id = r.id;
    if spec.start
        && let Err(e) = d.start_container(&id, None::<StartContainerOptions>).await
    {
        let e = refusal(m.err(e));
        let rm = RemoveContainerOptions {
            force: true,
            v: true,
            link: false,
        };
        if let Err(re) = d.remove_container(&id, Some(rm)).await {
            tracing::warn!(error = %re, %id, "removing a container that failed to start");
        }
        m.forget_container(&id);
        return Err(e);
    }
    if let Err(e) = m.refresh_container(&id).await {
        tracing::debug!(error = %e, "refresh after create failed; the event will repair it");
    }
    let name = if name.is_empty() {
        super::containers::find(m, &id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| short_id(&id))
    } else {
        name
    };
    Ok(Created {
        id,
        name,
        started: spec.start,
    })
}

// ---------- duplicate / edit ----------

/// `src:dst[:opts]` of `HostConfig.Binds`, Windows drive letters included.
pub fn parse_bind(b: &str) -> Option<MountSpec> {
    // Split on ':' that is not a drive letter's (a ':' right after a single letter at a part start).
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in b.chars() {
        if c == ':' {
            let letter = cur.strip_prefix("\\\\?\\").unwrap_or(&cur);
            let drive = letter.len() == 1 && letter.chars().all(|x| x.is_ascii_alphabetic());
            if !drive {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
        }
        cur.push(c);
    }
    parts.push(cur);
    let (src, dst, opts) = match parts.as_slice() {
        [s, d] => (s.clone(), d.clone(), String::new()),
        [s, d, o] => (s.clone(), d.clone(), o.clone()),
        _ => return None,
    };
    let local = src.strip_prefix("\\\\?\\").unwrap_or(&src);
    let kind = if src.starts_with('/') || is_windows_abs(local) || is_pipe(&src) {
        "bind"
    } else {
        "volume"
    };
    Some(MountSpec {
        kind: kind.into(),
        source: src,
        target: dst,
        read_only: opts.split(',').any(|o| o == "ro"),
    })
}

/// `sh -c 'echo hi'` style text → arguments (single and double quotes, backslash escapes).
pub fn split_args(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut any = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                any = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err("a single quote is not closed".into()),
                    }
                }
            }
            '"' => {
                any = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x) => cur.push(x),
                            None => return Err("a backslash ends the text".into()),
                        },
                        Some(x) => cur.push(x),
                        None => return Err("a double quote is not closed".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(x) => {
                    any = true;
                    cur.push(x)
                }
                None => return Err("a backslash ends the text".into()),
            },
            c if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                any = true;
                cur.push(c)
            }
        }
    }
    if any {
        out.push(cur);
    }
    Ok(out)
}

/// Arguments → text that [`split_args`] reads back to the same arguments.
pub fn join_args(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The form for "duplicate/edit": the container's settings, minus what it inherited from its
/// image. A value equal to the image's (ENV entries, CMD, Entrypoint, labels, WorkingDir, User)
/// is left out, so the new container keeps following its image for it.
pub fn spec_from_inspect(c: &ContainerInspectResponse, image: Option<&ImageInspect>) -> CreateSpec {
    let cfg = c.config.clone().unwrap_or_default();
    let host = c.host_config.clone().unwrap_or_default();
    let img = image.and_then(|i| i.config.clone()).unwrap_or_default();
    let id = c.id.clone().unwrap_or_default();
    let name = c
        .name
        .clone()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();

    let entrypoint = cfg.entrypoint.clone().unwrap_or_default();
    let img_entrypoint = img.entrypoint.clone().unwrap_or_default();
    let entry_overridden = entrypoint != img_entrypoint;
    let cmd = cfg.cmd.clone().unwrap_or_default();
    let img_cmd = img.cmd.clone().unwrap_or_default();
    let img_env: HashSet<String> = img.env.clone().unwrap_or_default().into_iter().collect();
    let img_labels = img.labels.clone().unwrap_or_default();
    let mut labels = BTreeMap::new();
    for (k, v) in cfg.labels.clone().unwrap_or_default() {
        if img_labels.get(&k) != Some(&v) {
            labels.insert(k, v);
        }
    }
    let same_or_empty = |v: Option<String>, i: Option<String>| {
        let v = v.unwrap_or_default();
        if v == i.unwrap_or_default() {
            String::new()
        } else {
            v
        }
    };

    let mut ports = Vec::new();
    let mut pb: Vec<_> = host
        .port_bindings
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    pb.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, bindings) in pb {
        let (cp, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        for b in bindings.unwrap_or_default() {
            ports.push(PortSpec {
                host_ip: b.host_ip.unwrap_or_default(),
                host_port: b.host_port.unwrap_or_default(),
                container_port: cp.to_string(),
                protocol: proto.to_string(),
            });
        }
    }

    let mut mounts: Vec<MountSpec> = host
        .binds
        .clone()
        .unwrap_or_default()
        .iter()
        .filter_map(|b| parse_bind(b))
        .collect();
    for mt in host.mounts.clone().unwrap_or_default() {
        let kind = match mt.typ {
            // A pipe reads back as a bind of a pipe path, as the form writes it.
            Some(MountType::BIND) | Some(MountType::NPIPE) => "bind",
            Some(MountType::TMPFS) => "tmpfs",
            _ => "volume",
        };
        mounts.push(MountSpec {
            kind: kind.into(),
            source: mt.source.unwrap_or_default(),
            target: mt.target.unwrap_or_default(),
            read_only: mt.read_only.unwrap_or(false),
        });
    }
    let mut tmpfs: Vec<_> = host.tmpfs.clone().unwrap_or_default().into_keys().collect();
    tmpfs.sort();
    for t in tmpfs {
        mounts.push(MountSpec {
            kind: "tmpfs".into(),
            target: t,
            ..Default::default()
        });
    }

    let restart_policy = match &host.restart_policy {
        Some(RestartPolicy {
            name: Some(n),
            maximum_retry_count,
        }) => match n {
            RestartPolicyNameEnum::ON_FAILURE => match maximum_retry_count {
                Some(k) if *k > 0 => format!("on-failure:{k}"),
                _ => "on-failure".into(),
            },
            RestartPolicyNameEnum::EMPTY => "no".into(),
            other => other.to_string(),
        },
        _ => "no".into(),
    };
    let network = host
        .network_mode
        .clone()
        .filter(|n| n != "default")
        .unwrap_or_default();
    let aliases = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .and_then(|n| n.get(&network))
        .and_then(|e| e.aliases.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|a| !id.starts_with(a.as_str()) && *a != name)
        .collect();
    let hostname = cfg
        .hostname
        .clone()
        .filter(|h| !id.starts_with(h.as_str()))
        .unwrap_or_default();

    CreateSpec {
        name,
        image: cfg.image.clone().unwrap_or_default(),
        cmd: if entry_overridden || cmd != img_cmd {
            cmd
        } else {
            Vec::new()
        },
        entrypoint: if entry_overridden {
            entrypoint
        } else {
            Vec::new()
        },
        workdir: same_or_empty(cfg.working_dir.clone(), img.working_dir.clone()),
        user: same_or_empty(cfg.user.clone(), img.user.clone()),
        env: cfg
            .env
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| !img_env.contains(e))
            .collect(),
        labels,
        ports,
        mounts,
        restart_policy,
        network,
        aliases,
        hostname,
        memory: host
            .memory
            .filter(|m| *m > 0)
            .map(|m| m.to_string())
            .unwrap_or_default(),
        cpus: host
            .nano_cpus
            .filter(|n| *n > 0)
            .map(|n| format!("{}", n as f64 / 1e9))
            .unwrap_or_default(),
        isolation: host
            .isolation
            .map(|i| i.to_string())
            .filter(|i| !i.is_empty() && i != "default")
            .unwrap_or_default(),
        auto_remove: host.auto_remove.unwrap_or(false),
        tty: cfg.tty.unwrap_or(false),
        open_stdin: cfg.open_stdin.unwrap_or(false),
        start: c.state.as_ref().and_then(|s| s.running).unwrap_or(false),
    }
}

/// The form of an existing container for "duplicate/edit" (inspects it and its image).
pub async fn spec_of(m: &Mirror, key: &str) -> Result<(ContainerInspectResponse, CreateSpec)> {
    let c = super::containers::inspect(m, key).await?;
    let image = match c.image.as_deref() {
        Some(img) => m.docker()?.inspect_image(img).await.ok(),
        None => None,
    };
    let spec = spec_from_inspect(&c, image.as_ref());
    Ok((c, spec))
}

/// Re-creates container `key` from `spec`: the old one is stopped and renamed aside, the new one
/// created (and started when asked); on success the old one is removed, on failure it gets its
/// name back (and is started again if it ran) and the engine's error is returned.
pub async fn recreate(m: &Mirror, key: &str, spec: &CreateSpec) -> Result<Created> {
    let facts = EngineFacts::of(m);
    validate(spec, &facts)?;
    let old = super::containers::inspect(m, key).await?;
    let old_id = old.id.clone().unwrap_or_default();
    let old_name = old
        .name
        .clone()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let was_running = old.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    let d = m.docker()?;
    let aside = format!("{old_name}-berth-old-{}", short_id(&old_id));
    d.rename_container(&old_id, RenameContainerOptions { name: aside })
        .await
        .map_err(|e| m.err(e))?;
    if was_running
        && let Err(e) = d
            .stop_container(&old_id, None::<StopContainerOptions>)
            .await
    {
        restore(m, &old_id, &old_name, false).await;
        return Err(m.err(e));
    }
    let mut spec = spec.clone();
    if spec.name.trim().is_empty() {
        spec.name = old_name.clone();
    }
    keep_anonymous_volumes(&old, &mut spec);
    match create(m, &spec).await {
        Ok(created) => {
            let rm = RemoveContainerOptions {
                force: true,
                v: false,
                link: false,
            };
            if let Err(e) = d.remove_container(&old_id, Some(rm)).await {
                tracing::warn!(error = %e, %old_id, "removing the replaced container");
            }
            m.forget_container(&old_id);
            Ok(created)
        }
        Err(e) => {
            restore(m, &old_id, &old_name, was_running).await;
            Err(e)
        }
    }
}

/// Volumes the old container got without asking (an image's VOLUME) are mounted again by name
/// where the new spec mounts nothing, so that an edit keeps their data.
pub fn keep_anonymous_volumes(old: &ContainerInspectResponse, spec: &mut CreateSpec) {
    let explicit: Vec<String> = old
        .host_config
        .as_ref()
        .map(|h| {
            let binds = h.binds.clone().unwrap_or_default();
            let mounts = h.mounts.clone().unwrap_or_default();
            binds
                .iter()
                .filter_map(|b| parse_bind(b).map(|m| m.target))
                .chain(mounts.into_iter().filter_map(|m| m.target))
                .collect()
        })
        .unwrap_or_default();
    for mp in old.mounts.clone().unwrap_or_default() {
        let (Some(name), Some(dest)) = (mp.name.clone(), mp.destination.clone()) else {
            continue;
        };
        let is_volume = mp.typ.as_deref() == Some("volume");
        let taken = spec.mounts.iter().any(|m| m.target.trim() == dest);
        if is_volume && !taken && !explicit.contains(&dest) {
            spec.mounts.push(MountSpec {
                kind: "volume".into(),
                source: name,
                target: dest,
                read_only: mp.rw == Some(false),
            });
        }
    }
}

async fn restore(m: &Mirror, id: &str, name: &str, start: bool) {
    let Ok(d) = m.docker() else { return };
    if let Err(e) = d
        .rename_container(id, RenameContainerOptions { name: name.into() })
        .await
    {
        tracing::error!(error = %e, %id, %name, "could not give the old container its name back");
    }
    if start && let Err(e) = d.start_container(id, None::<StartContainerOptions>).await {
        tracing::error!(error = %e, %id, "could not restart the old container");
    }
    let _ = m.refresh_container(id).await;
}

/// Renames a container.
pub async fn rename(m: &Mirror, key: &str, new_name: &str) -> Result<()> {
    let new_name = new_name.trim().trim_start_matches('/');
    check_name("name", new_name)?;
    let c = super::containers::inspect(m, key).await?;
    let id = c.id.unwrap_or_default();
    m.docker()?
        .rename_container(
            &id,
            RenameContainerOptions {
                name: new_name.into(),
            },
        )
        .await
        .map_err(|e| refusal(m.err(e)))?;
    if let Err(e) = m.refresh_container(&id).await {
        tracing::debug!(error = %e, "refresh after rename failed");
    }
    Ok(())
}

/// `repo[:tag]` → (repo, tag); checks the reference's grammar (lowercase repository path).
pub fn parse_repo_tag(s: &str) -> Result<(String, String)> {
    let s = s.trim();
    let bad = || {
        Error::invalid(
            "repo",
            format!(
                "`{s}` is not an image name: use repo or repo:tag, lowercase letters, digits, `.`, `_`, `-` and `/` in the repository"
            ),
        )
    };
    if s.is_empty() {
        return Err(Error::invalid(
            "repo",
            "Give the new image a name (repo:tag).",
        ));
    }
    let (repo, tag) = match s.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (s, "latest"),
    };
    let repo_ok = !repo.is_empty()
        && repo.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-:".contains(c))
                && part.starts_with(|c: char| c.is_ascii_alphanumeric())
        });
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !repo_ok || !tag_ok {
        return Err(bad());
    }
    Ok((repo.to_string(), tag.to_string()))
}

/// Commits a container's filesystem to a new image; returns the image id.
pub async fn commit(m: &Mirror, key: &str, repo_tag: &str, message: &str) -> Result<String> {
    let (repo, tag) = parse_repo_tag(repo_tag)?;
    let c = super::containers::inspect(m, key).await?;
    let id = c.id.unwrap_or_default();
    let opts = CommitContainerOptions {
        container: Some(id),
        repo: Some(repo),
        tag: Some(tag),
        comment: opt_text(message),
        pause: true,
        ..Default::default()
    };
    let r = m
        .docker()?
        .commit_container(opts, ContainerConfig::default())
        .await
        .map_err(|e| m.err(e))?;
    if let Err(e) = m.refresh_images().await {
        tracing::debug!(error = %e, "refresh after commit failed");
    }
    Ok(r.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(os: &str) -> EngineFacts {
        EngineFacts {
            os_build: None,
            os_type: os.into(),
            images: vec![(
                "sha256:0de0793af3ac0000".into(),
                vec!["berth-test/busybox:latest".into()],
                vec![],
            )],
            networks: vec![
                ("bridge".into(), "abcd1234".into()),
                ("nat".into(), "ffff0000".into()),
            ],
        }
    }

    fn spec() -> CreateSpec {
        CreateSpec {
            image: "berth-test/busybox".into(),
            ..Default::default()
        }
    }

    fn field(r: Result<()>) -> &'static str {
        r.expect_err("should be refused").field().unwrap_or("?")
    }

    #[test]
    fn images_are_found_by_tag_id_and_short_ref() {
        let f = facts("linux");
        assert!(f.has_image("berth-test/busybox"));
        assert!(f.has_image("berth-test/busybox:latest"));
        assert!(f.has_image("0de0793af3ac"));
        assert!(f.has_image("sha256:0de0793a"));
        assert!(!f.has_image("berth-test/busybox:1"));
        assert!(!f.has_image("nginx"));
    }

    #[test]
    fn each_bad_field_is_named() {
        let f = facts("linux");
        let mut s = spec();
        s.name = "-bad name".into();
        assert_eq!(field(validate(&s, &f)), "name");
        let mut s = spec();
        s.image = "nope:1".into();
        assert_eq!(field(validate(&s, &f)), "image");
        let mut s = spec();
        s.ports = vec![PortSpec {
            container_port: "80x".into(),
            ..Default::default()
        }];
        assert_eq!(field(validate(&s, &f)), "ports");
        let p = |h: &str, ip: &str| PortSpec {
            host_ip: ip.into(),
            host_port: h.into(),
            container_port: "80".into(),
            protocol: "tcp".into(),
        };
        s.ports = vec![p("8080", ""), p("8080", "127.0.0.1")];
        assert_eq!(field(validate(&s, &f)), "ports");
        s.ports = vec![p("8080", "127.0.0.1"), p("8080", "127.0.0.2")];
        assert!(validate(&s, &f).is_ok(), "different IPs may share a port");
        s.ports = vec![p("", ""), p("0", "")];
        assert!(validate(&s, &f).is_ok(), "random ports never clash");
        let mut s = spec();
        s.mounts = vec![MountSpec {
            kind: "bind".into(),
            source: "data".into(),
            target: "/data".into(),
            read_only: false,
        }];
        assert_eq!(field(validate(&s, &f)), "mounts");
        let mut s = spec();
        s.restart_policy = "sometimes".into();
        assert_eq!(field(validate(&s, &f)), "restart_policy");
        s.restart_policy = "on-failure:3".into();
        assert!(validate(&s, &f).is_ok());
        s.auto_remove = true;
        assert_eq!(field(validate(&s, &f)), "auto_remove");
        let mut s = spec();
        s.memory = "lots".into();
        assert_eq!(field(validate(&s, &f)), "memory");
        let mut s = spec();
        s.hostname = "-x".into();
        assert_eq!(field(validate(&s, &f)), "hostname");
        let mut s = spec();
        s.network = "nowhere".into();
        assert_eq!(field(validate(&s, &f)), "network");
        let mut s = spec();
        s.isolation = "hyperv".into();
        assert_eq!(field(validate(&s, &f)), "isolation");
        let mut s = spec();
        s.env = vec!["NOVALUE".into()];
        assert_eq!(field(validate(&s, &f)), "env");
        let mut s = spec();
        s.workdir = "relative".into();
        assert_eq!(field(validate(&s, &f)), "workdir");
    }

    #[test]
    fn windows_mount_rules() {
        let f = facts("windows");
        let m = |kind: &str, src: &str, dst: &str| {
            let mut s = spec();
            s.mounts = vec![MountSpec {
                kind: kind.into(),
                source: src.into(),
                target: dst.into(),
                read_only: false,
            }];
            validate(&s, &f)
        };
        assert!(m("bind", "C:\\data", "C:\\app\\data").is_ok());
        assert!(m("bind", "d:/logs", "c:/logs").is_ok());
        assert!(m("volume", "berth-data", "C:\\Data").is_ok());
        assert!(
            m(
                "bind",
                "\\\\.\\pipe\\docker_engine",
                "\\\\.\\pipe\\docker_engine"
            )
            .is_ok()
        );
        let mut s = spec();
        s.mounts = vec![MountSpec {
            kind: "bind".into(),
            source: r"\\.\pipe\docker_engine".into(),
            target: r"\\.\pipe\docker_engine".into(),
            read_only: false,
        }];
        let mounts = to_body(&s, &f)
            .unwrap()
            .host_config
            .unwrap()
            .mounts
            .unwrap();
        assert_eq!(mounts[0].typ, Some(MountType::NPIPE));
        // The engine's own words (moby's Windows mount parser): C:'s root and C: are refused,
        // any other drive (root or folder) is a target.
        let err = m("bind", "C:\\data", "C:\\").unwrap_err().to_string();
        assert!(
            err.contains("destination path cannot be `c:` or `c:\\`: c:\\"),
            "{err}"
        );
        let err = m("bind", "C:\\data", "C:").unwrap_err().to_string();
        assert!(err.contains("cannot be `c:`"), "{err}");
        assert!(m("bind", "C:\\data", "d:").is_ok());
        assert!(m("bind", "C:\\data", "D:\\").is_ok());
        assert!(m("bind", "C:\\data", "D:\\data").is_ok());
        assert!(m("bind", "\\\\?\\C:\\data", "C:\\data").is_ok());
        // Pipes: both ends pipes, never read-only, none on Server 2016.
        assert!(m("bind", "//./pipe/docker_engine", "//./pipe/docker_engine").is_ok());
        let err = m("bind", "\\\\.\\pipe\\x", "C:\\x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a valid pipe path"), "{err}");
        let mut ro = spec();
        ro.mounts = vec![MountSpec {
            kind: "bind".into(),
            source: r"\\.\pipe\x".into(),
            target: r"\\.\pipe\x".into(),
            read_only: true,
        }];
        let err = validate(&ro, &f).unwrap_err().to_string();
        assert!(
            err.contains("field ReadOnly must not be specified"),
            "{err}"
        );
        ro.mounts[0].read_only = false;
        let old = EngineFacts {
            os_build: Some(14393),
            ..facts("windows")
        };
        let err = validate(&ro, &old).unwrap_err().to_string();
        assert!(err.contains("named pipe mounts are not supported"), "{err}");
        assert!(m("volume", "v1", "c:/").is_err());
        assert!(
            m("bind", "\\\\server\\share", "C:\\s")
                .unwrap_err()
                .to_string()
                .contains("UNC")
        );
        assert!(
            m("bind", "/data", "C:\\data").is_err(),
            "Linux paths are not Windows paths"
        );
        assert!(m("bind", "C:\\data", "/data").is_err());
        assert!(
            m("tmpfs", "", "C:\\tmp")
                .unwrap_err()
                .to_string()
                .contains("tmpfs")
        );
        // Isolation exists on Windows, in any case as the engine reads it.
        let mut s = spec();
        s.isolation = "process".into();
        assert!(validate(&s, &f).is_ok());
        let body = to_body(&s, &f).unwrap();
        assert_eq!(
            body.host_config.unwrap().isolation,
            Some(HostConfigIsolationEnum::PROCESS)
        );
        s.isolation = "HyperV".into();
        assert!(validate(&s, &f).is_ok());
        assert_eq!(
            to_body(&s, &f).unwrap().host_config.unwrap().isolation,
            Some(HostConfigIsolationEnum::HYPERV)
        );
        s.isolation = "vm".into();
        assert_eq!(field(validate(&s, &f)), "isolation");
        // Same target twice, differing only by case and slashes.
        let mut s = spec();
        s.mounts = vec![
            MountSpec {
                kind: "volume".into(),
                source: "a1".into(),
                target: "C:\\Data".into(),
                read_only: false,
            },
            MountSpec {
                kind: "volume".into(),
                source: "b1".into(),
                target: "c:/data".into(),
                read_only: false,
            },
        ];
        assert!(validate(&s, &f).unwrap_err().to_string().contains("twice"));
    }

    #[test]
    fn body_carries_every_field() {
        let f = facts("linux");
        let s = CreateSpec {
            name: "web".into(),
            image: "berth-test/busybox".into(),
            cmd: vec!["sleep".into(), "60".into()],
            env: vec!["A=1".into()],
            ports: vec![PortSpec {
                host_ip: "127.0.0.1".into(),
                host_port: "".into(),
                container_port: "80".into(),
                protocol: "udp".into(),
            }],
            mounts: vec![MountSpec {
                kind: "tmpfs".into(),
                source: "".into(),
                target: "/run/x".into(),
                read_only: true,
            }],
            restart_policy: "on-failure:4".into(),
            memory: "64m".into(),
            cpus: "0.5".into(),
            ..Default::default()
        };
        validate(&s, &f).unwrap();
        let b = to_body(&s, &f).unwrap();
        let h = b.host_config.unwrap();
        assert_eq!(b.exposed_ports.unwrap(), vec!["80/udp".to_string()]);
        let pb = h.port_bindings.unwrap();
        let bind = &pb["80/udp"].as_ref().unwrap()[0];
        assert_eq!(bind.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(bind.host_port.as_deref(), Some(""));
        assert_eq!(h.memory, Some(64 << 20));
        assert_eq!(h.nano_cpus, Some(500_000_000));
        assert_eq!(h.restart_policy.unwrap().maximum_retry_count, Some(4));
        assert_eq!(h.mounts.unwrap()[0].typ, Some(MountType::TMPFS));
        assert_eq!(h.isolation, None);
    }

    #[test]
    fn json_accepts_numbers_for_ports() {
        let s: CreateSpec = serde_json::from_str(
            r#"{"image":"x","ports":[{"host_port":8080,"container_port":80,"protocol":"tcp","host_ip":null}],"memory":67108864}"#,
        )
        .unwrap();
        assert_eq!(s.ports[0].host_port, "8080");
        assert_eq!(s.memory, "67108864");
        let s: CreateSpec = serde_json::from_str(
            r#"{"image":"x","cmd":"sh -c 'sleep 1'","restart_policy":{"Name":"on-failure","MaximumRetryCount":2}}"#,
        )
        .unwrap();
        assert_eq!(s.cmd, vec!["sh", "-c", "sleep 1"]);
        assert_eq!(s.restart_policy, "on-failure:2");
        assert!(serde_json::from_str::<CreateSpec>(r#"{"cmd":{"a":1}}"#).is_err());
    }

    #[test]
    fn sizes_args_and_binds_parse() {
        assert_eq!(parse_bytes("512m"), Some(512 << 20));
        assert_eq!(parse_bytes("1g"), Some(1 << 30));
        assert_eq!(parse_bytes("1GiB"), Some(1 << 30));
        assert_eq!(parse_bytes("100"), Some(100));
        assert_eq!(parse_bytes("x"), None);
        let a = split_args(r#"sh -c 'echo "hi there"' x\ y"#).unwrap();
        assert_eq!(a, vec!["sh", "-c", "echo \"hi there\"", "x y"]);
        assert_eq!(split_args(&join_args(&a)).unwrap(), a);
        assert!(split_args("'open").is_err());
        let b = parse_bind("C:\\data:C:\\app:ro").unwrap();
        assert_eq!(
            (
                b.kind.as_str(),
                b.source.as_str(),
                b.target.as_str(),
                b.read_only
            ),
            ("bind", "C:\\data", "C:\\app", true)
        );
        let b = parse_bind("vol1:/data").unwrap();
        assert_eq!((b.kind.as_str(), b.read_only), ("volume", false));
        assert_eq!(
            parse_repo_tag("me/app:v1").unwrap(),
            ("me/app".into(), "v1".into())
        );
        assert_eq!(
            parse_repo_tag("localhost:5000/app").unwrap(),
            ("localhost:5000/app".into(), "latest".into())
        );
        assert!(parse_repo_tag("Bad/App").is_err());
    }

    #[test]
    fn duplicate_keeps_only_what_differs_from_the_image() {
        let image = ImageInspect {
            config: Some(bollard::models::ImageConfig {
                env: Some(vec!["PATH=/bin".into(), "FROM_IMAGE=1".into()]),
                cmd: Some(vec!["sh".into()]),
                labels: Some(HashMap::from([("maintainer".into(), "x".into())])),
                working_dir: Some("/srv".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let c = ContainerInspectResponse {
            id: Some("0123456789abcdef".into()),
            name: Some("/web".into()),
            config: Some(ContainerConfig {
                image: Some("berth-test/busybox".into()),
                hostname: Some("0123456789ab".into()),
                env: Some(vec![
                    "PATH=/bin".into(),
                    "FROM_IMAGE=1".into(),
                    "MINE=2".into(),
                ]),
                cmd: Some(vec!["sh".into()]),
                labels: Some(HashMap::from([
                    ("maintainer".into(), "x".into()),
                    ("mine".into(), "y".into()),
                ])),
                working_dir: Some("/srv".into()),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                binds: Some(vec!["/tmp/a:/a:ro".into()]),
                network_mode: Some("default".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = spec_from_inspect(&c, Some(&image));
        assert_eq!(s.name, "web");
        assert_eq!(s.env, vec!["MINE=2".to_string()]);
        assert!(s.cmd.is_empty() && s.entrypoint.is_empty());
        assert_eq!(s.labels.len(), 1);
        assert_eq!(s.labels["mine"], "y");
        assert!(s.workdir.is_empty() && s.hostname.is_empty() && s.network.is_empty());
        assert_eq!(s.mounts[0].source, "/tmp/a");
        assert!(s.mounts[0].read_only);
        assert_eq!(s.restart_policy, "no");
    }

    /// A Windows container as the engine's inspect shows it (moby's `api/types/mount` Mount
    /// with `Type: npipe`, `Binds` in `-v` form): duplicating it gives back the same mounts,
    /// and the new body mounts the pipe as a pipe again, not as a volume.
    #[test]
    fn npipe_mounts_survive_duplicate_and_edit() {
        let c = ContainerInspectResponse {
            name: Some("/portainer".into()),
            config: Some(ContainerConfig {
                image: Some("berth-test/busybox".into()),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                binds: Some(vec![
                    r"\\.\pipe\docker_engine:\\.\pipe\docker_engine".into(),
                    r"\\?\C:\ProgramData\Berth:C:\Data".into(),
                ]),
                mounts: Some(vec![Mount {
                    typ: Some(MountType::NPIPE),
                    source: Some(r"\\.\pipe\other".into()),
                    target: Some(r"\\.\pipe\other".into()),
                    ..Default::default()
                }]),
                isolation: Some(HostConfigIsolationEnum::HYPERV),
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = spec_from_inspect(&c, None);
        assert_eq!(s.isolation, "hyperv");
        let kinds: Vec<(&str, &str, &str)> = s
            .mounts
            .iter()
            .map(|m| (m.kind.as_str(), m.source.as_str(), m.target.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("bind", r"\\.\pipe\docker_engine", r"\\.\pipe\docker_engine"),
                ("bind", r"\\?\C:\ProgramData\Berth", r"C:\Data"),
                ("bind", r"\\.\pipe\other", r"\\.\pipe\other"),
            ]
        );
        let f = facts("windows");
        validate(&s, &f).unwrap();
        let types: Vec<Option<MountType>> = to_body(&s, &f)
            .unwrap()
            .host_config
            .unwrap()
            .mounts
            .unwrap()
            .into_iter()
            .map(|m| m.typ)
            .collect();
        assert_eq!(
            types,
            [
                Some(MountType::NPIPE),
                Some(MountType::BIND),
                Some(MountType::NPIPE)
            ]
        );
    }
}
