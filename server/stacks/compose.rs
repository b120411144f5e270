//! A compose file read into Berth's model of a project: every supported key typed, every other
//! key refused by name with its line and column, references (networks, volumes, depends_on)
//! checked, and short syntaxes (ports, volumes, environment, command) normalised — before
//! anything is created on the engine.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::yaml::{self, FileError, Marks, Pos};

// ---- the file as written (serde, unknown keys refused) ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
    services: BTreeMap<String, ServiceDef>,
    #[serde(default)]
    networks: BTreeMap<String, Option<NetworkDef>>,
    #[serde(default)]
    volumes: BTreeMap<String, Option<VolumeDef>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ServiceDef {
    image: Option<String>,
    command: Option<StrOrList>,
    entrypoint: Option<StrOrList>,
    environment: Option<ListOrMap>,
    env_file: Option<StrOrList>,
    ports: Option<Vec<PortDef>>,
    volumes: Option<Vec<VolumeMountDef>>,
    tmpfs: Option<StrOrList>,
    networks: Option<ServiceNetworks>,
    depends_on: Option<DependsOn>,
    restart: Option<String>,
    labels: Option<ListOrMap>,
    healthcheck: Option<HealthDef>,
    deploy: Option<DeployDef>,
    user: Option<Scalar>,
    working_dir: Option<String>,
    hostname: Option<String>,
    scale: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StrOrList {
    Str(String),
    List(Vec<Scalar>),
}

/// A scalar that may be written as a string, a number or a boolean.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Str(s) => s.clone(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ListOrMap {
    List(Vec<String>),
    Map(BTreeMap<String, Option<Scalar>>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PortDef {
    Short(Scalar),
    Long(PortLong),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PortLong {
    target: u16,
    published: Option<Scalar>,
    host_ip: Option<String>,
    protocol: Option<String>,
    mode: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum VolumeMountDef {
    Short(String),
    Long(VolumeLong),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VolumeLong {
    #[serde(rename = "type")]
    kind: String,
    source: Option<String>,
    target: String,
    read_only: Option<bool>,
    volume: Option<VolumeOpts>,
    tmpfs: Option<TmpfsOpts>,
    bind: Option<BindOpts>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VolumeOpts {
    nocopy: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TmpfsOpts {
    size: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BindOpts {
    create_host_path: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ServiceNetworks {
    List(Vec<String>),
    Map(BTreeMap<String, Option<ServiceNetworkDef>>),
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ServiceNetworkDef {
    aliases: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DependsOn {
    List(Vec<String>),
    Map(BTreeMap<String, DependsOnDef>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DependsOnDef {
    condition: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthDef {
    test: Option<StrOrList>,
    interval: Option<String>,
    timeout: Option<String>,
    retries: Option<i64>,
    start_period: Option<String>,
    disable: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployDef {
    replicas: Option<u32>,
    resources: Option<ResourcesDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourcesDef {
    limits: Option<LimitsDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsDef {
    cpus: Option<Scalar>,
    memory: Option<Scalar>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NetworkDef {
    driver: Option<String>,
    driver_opts: Option<BTreeMap<String, Scalar>>,
    external: Option<bool>,
    name: Option<String>,
    labels: Option<ListOrMap>,
    internal: Option<bool>,
    attachable: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct VolumeDef {
    driver: Option<String>,
    driver_opts: Option<BTreeMap<String, Scalar>>,
    external: Option<bool>,
    name: Option<String>,
    labels: Option<ListOrMap>,
}

// ---- the project Berth deploys ----

/// A project ready to deploy: everything checked and normalised.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Project {
    pub name: String,
    pub services: BTreeMap<String, Service>,
    /// Networks by their key in the file.
    pub networks: BTreeMap<String, Network>,
    /// Volumes by their key in the file.
    pub volumes: BTreeMap<String, Volume>,
}

/// One service; its JSON (without `replicas`) plus its image's id is its config hash.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Service {
    pub name: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=value`, sorted by key.
    pub env: Vec<String>,
    pub ports: Vec<Port>,
    pub mounts: Vec<Mount>,
    /// Network key → aliases.
    pub networks: BTreeMap<String, Vec<String>>,
    /// Service → condition (`service_started`, `service_healthy`, `service_completed_successfully`).
    pub depends_on: BTreeMap<String, String>,
    pub restart: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub healthcheck: Option<Health>,
    pub memory: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub hostname: Option<String>,
    #[serde(skip)]
    pub replicas: u32,
    /// Where the service's `image` key is, for errors about the image.
    #[serde(skip)]
    pub image_pos: Option<Pos>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Port {
    pub host_ip: Option<String>,
    /// None: the engine picks a port.
    pub host_port: Option<u16>,
    pub container_port: u16,
    pub protocol: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Mount {
    /// `volume`, `bind` or `tmpfs`.
    pub kind: String,
    /// The volume's key in the file (None: anonymous), or the host path.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub nocopy: bool,
    pub tmpfs_size: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Health {
    pub test: Vec<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub retries: Option<i64>,
    pub start_period: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Network {
    /// The engine's name for it (`<project>_<key>`, or `name:`).
    pub name: String,
    pub external: bool,
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub internal: bool,
    pub attachable: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Volume {
    pub name: String,
    pub external: bool,
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// A project name as compose accepts it: lowercase letters, digits, `-` and `_`, starting with
/// a letter or digit.
pub fn check_project_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a stack name: use lowercase letters, digits, `-` and `_`, starting with a letter or digit (at most 63)"
        ))
    }
}

/// Reads a compose file (and its `.env`, and the env files it names) into a [`Project`].
pub fn parse(
    project: &str,
    text: &str,
    env_text: &str,
    env_files: &HashMap<String, String>,
) -> Result<Project, FileError> {
    check_project_name(project).map_err(|m| FileError::at(None, m))?;
    let vars =
        yaml::parse_env_file(env_text).map_err(|e| FileError::at(None, format!(".env: {e}")))?;
    let (value, marks) = yaml::load(text, &vars)?;
    if !value.is_object() {
        return Err(FileError::at(
            marks.find(""),
            "a compose file is a map with a `services` key",
        ));
    }
    let def: FileDef =
        serde_path_to_error::deserialize(value).map_err(|e| serde_error(e, &marks))?;
    normalise(project, def, &marks, env_files)
}

/// Turns a serde error into one that names the key and its place.
fn serde_error(e: serde_path_to_error::Error<serde_json::Error>, marks: &Marks) -> FileError {
    let path = e.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let inner = e.inner().to_string();
    if let Some(rest) = inner.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or("");
        // The path ends with the unknown key itself, or at its map: try both.
        let parent = path
            .strip_suffix(key)
            .map(|p| p.trim_end_matches('.').to_string())
            .unwrap_or_else(|| path.clone());
        let pos = marks.key(&parent, key).or_else(|| marks.find(&path));
        let place = if parent.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in `{parent}`")
        };
        return FileError::at(
            pos,
            format!(
                "`{key}` {place} is not supported by Berth's stacks (it is refused rather than ignored)"
            ),
        );
    }
    if let Some(rest) = inner.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or("");
        return FileError::at(marks.find(&path), format!("`{path}` needs the key `{key}`"));
    }
    let what = if inner.contains("did not match any variant") {
        "has a form Berth does not understand here".to_string()
    } else {
        format!("is not valid: {inner}")
    };
    FileError::at(marks.find(&path), format!("`{path}` {what}"))
}

fn normalise(
    project: &str,
    def: FileDef,
    marks: &Marks,
    env_files: &HashMap<String, String>,
) -> Result<Project, FileError> {
    if def.services.is_empty() {
        return Err(FileError::at(marks.find("services"), "`services` is empty"));
    }
    let mut networks = BTreeMap::new();
    for (key, n) in def.networks {
        let n = n.unwrap_or_default();
        let external = n.external.unwrap_or(false);
        let name = match (&n.name, external) {
            (Some(name), _) => name.clone(),
            (None, true) => key.clone(),
            (None, false) => format!("{project}_{key}"),
        };
        networks.insert(
            key.clone(),
            Network {
                name,
                external,
                driver: n.driver,
                driver_opts: n
                    .driver_opts
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.text()))
                    .collect(),
                labels: labels(n.labels, marks, &format!("networks.{key}.labels"))?,
                internal: n.internal.unwrap_or(false),
                attachable: n.attachable.unwrap_or(false),
            },
        );
    }
    let mut volumes = BTreeMap::new();
    for (key, v) in def.volumes {
        let v = v.unwrap_or_default();
        let external = v.external.unwrap_or(false);
        let name = match (&v.name, external) {
            (Some(name), _) => name.clone(),
            (None, true) => key.clone(),
            (None, false) => format!("{project}_{key}"),
        };
        volumes.insert(
            key.clone(),
            Volume {
                name,
                external,
                driver: v.driver,
                driver_opts: v
                    .driver_opts
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.text()))
                    .collect(),
                labels: labels(v.labels, marks, &format!("volumes.{key}.labels"))?,
            },
        );
    }

    let names: Vec<String> = def.services.keys().cloned().collect();
    let mut services = BTreeMap::new();
    let mut uses_default = false;
    for (name, s) in def.services {
        let at = format!("services.{name}");
        if check_project_name(&name).is_err()
            && !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(FileError::at(
                marks.key("services", &name),
                format!("`{name}` is not a service name: use letters, digits, `.`, `_` and `-`"),
            ));
        }
        let svc = service(&name, s, &at, marks, env_files, &names, &networks, &volumes)?;
        if svc.networks.contains_key("default") {
            uses_default = true;
        }
        services.insert(name, svc);
    }
    if uses_default && !networks.contains_key("default") {
        networks.insert(
            "default".into(),
            Network {
                name: format!("{project}_default"),
                ..Default::default()
            },
        );
    }
    check_cycles(&services, marks)?;
    Ok(Project {
        name: project.to_string(),
        services,
        networks,
        volumes,
    })
}

#[allow(clippy::too_many_arguments)]
fn service(
    name: &str,
    s: ServiceDef,
    at: &str,
    marks: &Marks,
    env_files: &HashMap<String, String>,
    names: &[String],
    networks: &BTreeMap<String, Network>,
    volumes: &BTreeMap<String, Volume>,
) -> Result<Service, FileError> {
    let pos = |p: &str| marks.find(&format!("{at}.{p}"));
    let image = match s.image {
        Some(i) if !i.trim().is_empty() => i.trim().to_string(),
        _ => {
            return Err(FileError::at(
                marks.key("services", name),
                format!(
                    "service `{name}` needs an `image` (Berth does not build images from a stack: build it first, then name it)"
                ),
            ));
        }
    };
    if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(FileError::at(
            pos("image"),
            format!("`{image}` is not an image reference"),
        ));
    }

    // Environment: env_file first, then `environment` over it.
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    if let Some(files) = s.env_file {
        for (i, f) in str_list(files).into_iter().enumerate() {
            let p = marks
                .find(&format!("{at}.env_file[{i}]"))
                .or(pos("env_file"));
            let base = f.trim_start_matches("./");
            let Some(text) = env_files.get(base).or_else(|| env_files.get(&f)) else {
                return Err(FileError::at(
                    p,
                    format!("env_file `{f}` was not uploaded with the stack"),
                ));
            };
            let vars = yaml::parse_env_file(text)
                .map_err(|e| FileError::at(p, format!("env_file `{f}`: {e}")))?;
            env.extend(vars);
        }
    }
    match s.environment {
        None => {}
        Some(ListOrMap::Map(m)) => {
            for (k, v) in m {
                // A key without a value would take it from the shell; Berth has none.
                env.insert(k, v.map(|v| v.text()).unwrap_or_default());
            }
        }
        Some(ListOrMap::List(l)) => {
            for (i, item) in l.into_iter().enumerate() {
                match item.split_once('=') {
                    Some((k, v)) => env.insert(k.to_string(), v.to_string()),
                    None => env.insert(item.clone(), String::new()),
                };
                let _ = i;
            }
        }
    }
    for k in env.keys() {
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(FileError::at(
                pos("environment"),
                format!("`{k}` is not an environment variable name"),
            ));
        }
    }

    let mut ports = Vec::new();
    for (i, p) in s.ports.unwrap_or_default().into_iter().enumerate() {
        let ppos = marks.find(&format!("{at}.ports[{i}]"));
        ports.extend(port(p).map_err(|m| FileError::at(ppos, m))?);
    }

    let mut mounts = Vec::new();
    for (i, v) in s.volumes.unwrap_or_default().into_iter().enumerate() {
        let vpos = marks.find(&format!("{at}.volumes[{i}]"));
        let m = mount(v).map_err(|m| FileError::at(vpos, m))?;
        if m.kind == "volume"
            && let Some(src) = &m.source
            && !volumes.contains_key(src)
        {
            return Err(FileError::at(
                vpos,
                format!(
                    "volume `{src}` is used by service `{name}` but not declared under the top-level `volumes`"
                ),
            ));
        }
        mounts.push(m);
    }
    if let Some(t) = s.tmpfs {
        for target in str_list(t) {
            let (target, size) = match target.split_once(':') {
                Some((t, opts)) => (
                    t.to_string(),
                    opts.strip_prefix("size=").and_then(|s| bytes(s).ok()),
                ),
                None => (target, None),
            };
            mounts.push(Mount {
                kind: "tmpfs".into(),
                source: None,
                target,
                read_only: false,
                nocopy: false,
                tmpfs_size: size,
            });
        }
    }

    let mut nets = BTreeMap::new();
    match s.networks {
        None => {
            nets.insert("default".to_string(), Vec::new());
        }
        Some(ServiceNetworks::List(l)) => {
            for n in l {
                nets.insert(n, Vec::new());
            }
        }
        Some(ServiceNetworks::Map(m)) => {
            for (n, d) in m {
                nets.insert(n, d.unwrap_or_default().aliases.unwrap_or_default());
            }
        }
    }
    for n in nets.keys() {
        if n != "default" && !networks.contains_key(n) {
            return Err(FileError::at(
                pos("networks"),
                format!(
                    "network `{n}` is used by service `{name}` but not declared under the top-level `networks`"
                ),
            ));
        }
    }

    let mut depends_on = BTreeMap::new();
    match s.depends_on {
        None => {}
        Some(DependsOn::List(l)) => {
            for d in l {
                depends_on.insert(d, "service_started".to_string());
            }
        }
        Some(DependsOn::Map(m)) => {
            for (d, c) in m {
                let c = c.condition.unwrap_or_else(|| "service_started".into());
                if !matches!(
                    c.as_str(),
                    "service_started" | "service_healthy" | "service_completed_successfully"
                ) {
                    return Err(FileError::at(
                        marks.find(&format!("{at}.depends_on.{d}.condition")),
                        format!(
                            "`{c}` is not a depends_on condition (service_started, service_healthy, service_completed_successfully)"
                        ),
                    ));
                }
                depends_on.insert(d, c);
            }
        }
    }
    for d in depends_on.keys() {
        if !names.contains(d) {
            return Err(FileError::at(
                pos("depends_on"),
                format!("service `{name}` depends on `{d}`, which the file does not define"),
            ));
        }
        if d == name {
            return Err(FileError::at(
                pos("depends_on"),
                format!("service `{name}` depends on itself"),
            ));
        }
    }

    if let Some(r) = &s.restart {
        let ok = matches!(
            r.as_str(),
            "no" | "always" | "unless-stopped" | "on-failure"
        ) || r
            .strip_prefix("on-failure:")
            .is_some_and(|n| n.parse::<u32>().is_ok());
        if !ok {
            return Err(FileError::at(
                pos("restart"),
                format!(
                    "`{r}` is not a restart policy (no, always, unless-stopped, on-failure[:N])"
                ),
            ));
        }
    }

    let healthcheck = match s.healthcheck {
        None => None,
        Some(h) => {
            let hp = |k: &str| marks.find(&format!("{at}.healthcheck.{k}"));
            let dur = |v: Option<String>, k: &str| -> Result<Option<i64>, FileError> {
                v.map(|v| duration(&v).map_err(|m| FileError::at(hp(k), m)))
                    .transpose()
            };
            let test = if h.disable == Some(true) {
                vec!["NONE".to_string()]
            } else {
                match h.test {
                    None => Vec::new(),
                    Some(StrOrList::Str(s)) => vec!["CMD-SHELL".to_string(), s],
                    Some(StrOrList::List(l)) => {
                        let l: Vec<String> = l.iter().map(Scalar::text).collect();
                        if !matches!(
                            l.first().map(String::as_str),
                            Some("CMD" | "CMD-SHELL" | "NONE")
                        ) {
                            return Err(FileError::at(
                                hp("test"),
                                "a healthcheck test list starts with CMD, CMD-SHELL or NONE",
                            ));
                        }
                        l
                    }
                }
            };
            Some(Health {
                test,
                interval: dur(h.interval, "interval")?,
                timeout: dur(h.timeout, "timeout")?,
                retries: h.retries,
                start_period: dur(h.start_period, "start_period")?,
            })
        }
    };
    for (d, c) in &depends_on {
        let _ = (d, c);
    }

    let (mut memory, mut nano_cpus, mut replicas) = (None, None, None);
    if let Some(d) = s.deploy {
        replicas = d.replicas;
        if let Some(l) = d.resources.and_then(|r| r.limits) {
            if let Some(m) = l.memory {
                memory = Some(bytes(&m.text()).map_err(|e| {
                    FileError::at(
                        marks.find(&format!("{at}.deploy.resources.limits.memory")),
                        e,
                    )
                })?);
            }
            if let Some(c) = l.cpus {
                let f: f64 = c
                    .text()
                    .parse()
                    .ok()
                    .filter(|f: &f64| *f > 0.0)
                    .ok_or_else(|| {
                        FileError::at(
                            marks.find(&format!("{at}.deploy.resources.limits.cpus")),
                            format!("`{}` is not a number of CPUs", c.text()),
                        )
                    })?;
                nano_cpus = Some((f * 1e9) as i64);
            }
        }
    }
    if let (Some(a), Some(b)) = (s.scale, replicas)
        && a != b
    {
        return Err(FileError::at(
            pos("scale"),
            "`scale` and `deploy.replicas` disagree: keep one",
        ));
    }
    let replicas = s.scale.or(replicas).unwrap_or(1);
    if replicas > 100 {
        return Err(FileError::at(
            pos("scale"),
            "at most 100 replicas per service",
        ));
    }

    Ok(Service {
        name: name.to_string(),
        image,
        command: s
            .command
            .map(command)
            .transpose()
            .map_err(|m| FileError::at(pos("command"), m))?,
        entrypoint: s
            .entrypoint
            .map(command)
            .transpose()
            .map_err(|m| FileError::at(pos("entrypoint"), m))?,
        env: env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
        ports,
        mounts,
        networks: nets,
        depends_on,
        restart: s.restart,
        labels: labels(s.labels, marks, &format!("{at}.labels"))?,
        healthcheck,
        memory,
        nano_cpus,
        user: s.user.map(|u| u.text()),
        working_dir: s.working_dir,
        hostname: s.hostname,
        replicas,
        image_pos: pos("image"),
    })
}

fn str_list(v: StrOrList) -> Vec<String> {
    match v {
        StrOrList::Str(s) => vec![s],
        StrOrList::List(l) => l.iter().map(Scalar::text).collect(),
    }
}

fn labels(
    l: Option<ListOrMap>,
    marks: &Marks,
    at: &str,
) -> Result<BTreeMap<String, String>, FileError> {
    let mut out = BTreeMap::new();
    match l {
        None => {}
        Some(ListOrMap::Map(m)) => {
            for (k, v) in m {
                out.insert(k, v.map(|v| v.text()).unwrap_or_default());
            }
        }
        Some(ListOrMap::List(l)) => {
            for item in l {
                let (k, v) = item.split_once('=').unwrap_or((&item, ""));
                out.insert(k.to_string(), v.to_string());
            }
        }
    }
    if let Some(k) = out.keys().find(|k| k.starts_with("com.docker.compose.")) {
        return Err(FileError::at(
            marks.find(at),
            format!("the label `{k}` is compose's own: a file may not set it"),
        ));
    }
    Ok(out)
}

/// `command`/`entrypoint`: a list as given, a string split like a shell would.
fn command(v: StrOrList) -> Result<Vec<String>, String> {
    match v {
        StrOrList::List(l) => Ok(l.iter().map(Scalar::text).collect()),
        StrOrList::Str(s) => shell_split(&s),
    }
}

/// Splits a command line: whitespace separates, single quotes keep everything, double quotes
/// keep all but `\"` and `\\`, a backslash outside quotes escapes the next character.
pub fn shell_split(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\'' => {
                has = true;
                loop {
                    match it.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(format!("unclosed quote in `{s}`")),
                    }
                }
            }
            '"' => {
                has = true;
                loop {
                    match it.next() {
                        Some('"') => break,
                        Some('\\') if matches!(it.peek(), Some('"' | '\\' | '$')) => {
                            cur.extend(it.next());
                        }
                        Some(c) => cur.push(c),
                        None => return Err(format!("unclosed quote in `{s}`")),
                    }
                }
            }
            '\\' => {
                has = true;
                cur.extend(it.next());
            }
            c if c.is_whitespace() => {
                if has {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            c => {
                has = true;
                cur.push(c);
            }
        }
    }
    if has {
        out.push(cur);
    }
    Ok(out)
}

fn port_num(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(format!("`{s}` is not a port (1-65535)")),
    }
}

fn port_range(s: &str) -> Result<(u16, u16), String> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port_num(a)?, port_num(b)?);
            if b < a {
                return Err(format!("`{s}` is not a port range"));
            }
            Ok((a, b))
        }
        None => {
            let n = port_num(s)?;
            Ok((n, n))
        }
    }
}

/// One `ports` entry, short or long syntax, as the bindings it makes (ranges expand).
fn port(p: PortDef) -> Result<Vec<Port>, String> {
    match p {
        PortDef::Long(l) => {
            if l.target == 0 {
                return Err("`target` is not a port (1-65535)".into());
            }
            if let Some(m) = &l.mode
                && m != "host"
                && m != "ingress"
            {
                return Err(format!("`{m}` is not a port mode"));
            }
            let protocol = l.protocol.unwrap_or_else(|| "tcp".into());
            check_protocol(&protocol)?;
            let host_port = match l.published {
                None => None,
                Some(p) => Some(port_num(&p.text())?),
            };
            Ok(vec![Port {
                host_ip: l.host_ip,
                host_port,
                container_port: l.target,
                protocol,
            }])
        }
        PortDef::Short(s) => {
            let text = s.text();
            let (spec, protocol) = match text.rsplit_once('/') {
                Some((a, p)) => (a.to_string(), p.to_string()),
                None => (text.clone(), "tcp".to_string()),
            };
            check_protocol(&protocol)?;
            // host_ip may be an IPv6 address in brackets.
            let (host_ip, rest) = if let Some(r) = spec.strip_prefix('[') {
                let (ip, rest) = r
                    .split_once("]:")
                    .ok_or_else(|| format!("`{text}` is not a port mapping"))?;
                (Some(ip.to_string()), rest.to_string())
            } else {
                let parts: Vec<&str> = spec.split(':').collect();
                match parts.len() {
                    1 | 2 => (None, spec.clone()),
                    3 => (
                        Some(parts[0].to_string()),
                        format!("{}:{}", parts[1], parts[2]),
                    ),
                    _ => return Err(format!("`{text}` is not a port mapping")),
                }
            };
            let (host, container) = match rest.split_once(':') {
                Some((h, c)) => (Some(h), c),
                None => (None, rest.as_str()),
            };
            let (c0, c1) = port_range(container).map_err(|e| format!("`{text}`: {e}"))?;
            let host = match host {
                None | Some("") => None,
                Some(h) => Some(port_range(h).map_err(|e| format!("`{text}`: {e}"))?),
            };
            if let Some((h0, h1)) = host
                && h1 - h0 != c1 - c0
                && h0 != h1
            {
                return Err(format!(
                    "`{text}`: the host and container ranges differ in length"
                ));
            }
            Ok((c0..=c1)
                .enumerate()
                .map(|(i, c)| Port {
                    host_ip: host_ip.clone().filter(|s| !s.is_empty()),
                    host_port: host.map(|(h0, h1)| if h0 == h1 { h0 } else { h0 + i as u16 }),
                    container_port: c,
                    protocol: protocol.clone(),
                })
                .collect())
        }
    }
}

fn check_protocol(p: &str) -> Result<(), String> {
    if matches!(p, "tcp" | "udp" | "sctp") {
        Ok(())
    } else {
        Err(format!("`{p}` is not a port protocol (tcp, udp, sctp)"))
    }
}

fn mount(v: VolumeMountDef) -> Result<Mount, String> {
    match v {
        VolumeMountDef::Long(l) => {
            if !l.target.starts_with('/') && !looks_windows_abs(&l.target) {
                return Err(format!("the target `{}` is not an absolute path", l.target));
            }
            let m = Mount {
                kind: l.kind.clone(),
                source: l.source.clone().filter(|s| !s.is_empty()),
                target: l.target,
                read_only: l.read_only.unwrap_or(false),
                nocopy: l.volume.and_then(|v| v.nocopy).unwrap_or(false),
                tmpfs_size: match l.tmpfs.and_then(|t| t.size) {
                    None => None,
                    Some(s) => Some(bytes(&s.text())?),
                },
            };
            let _ = l.bind.and_then(|b| b.create_host_path);
            match l.kind.as_str() {
                "volume" => {}
                "bind" => {
                    let src = m.source.as_deref().ok_or("a bind mount needs a `source`")?;
                    check_bind_source(src)?;
                }
                "tmpfs" => {
                    if m.source.is_some() {
                        return Err("a tmpfs mount takes no `source`".into());
                    }
                }
                other => {
                    return Err(format!(
                        "`{other}` mounts are not supported (volume, bind, tmpfs)"
                    ));
                }
            }
            Ok(m)
        }
        VolumeMountDef::Short(s) => {
            let parts = split_volume_short(&s);
            let (source, target, mode) = match parts.as_slice() {
                [t] => (None, t.clone(), None),
                [src, t] => (Some(src.clone()), t.clone(), None),
                [src, t, m] => (Some(src.clone()), t.clone(), Some(m.clone())),
                _ => return Err(format!("`{s}` is not a volume entry")),
            };
            if !target.starts_with('/') && !looks_windows_abs(&target) {
                return Err(format!(
                    "`{s}`: the target `{target}` is not an absolute path"
                ));
            }
            let mut read_only = false;
            for opt in mode.iter().flat_map(|m| m.split(',')) {
                match opt {
                    "ro" => read_only = true,
                    "rw" | "z" | "Z" | "nocopy" | "cached" | "delegated" | "consistent" => {}
                    o => return Err(format!("`{s}`: `{o}` is not a volume option")),
                }
            }
            let nocopy = mode
                .as_deref()
                .is_some_and(|m| m.split(',').any(|o| o == "nocopy"));
            let kind = match &source {
                None => "volume",
                Some(src) if src.starts_with(['/', '.', '~']) || looks_windows_abs(src) => {
                    check_bind_source(src)?;
                    "bind"
                }
                Some(_) => "volume",
            };
            Ok(Mount {
                kind: kind.into(),
                source,
                target,
                read_only,
                nocopy,
                tmpfs_size: None,
            })
        }
    }
}

fn looks_windows_abs(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/')
}

/// `C:\data:/data` splits after the drive letter, not inside it.
fn split_volume_short(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = s;
    loop {
        let skip = if looks_windows_abs(rest) { 2 } else { 0 };
        match rest[skip..].find(':') {
            Some(i) => {
                parts.push(rest[..skip + i].to_string());
                rest = &rest[skip + i + 1..];
            }
            None => {
                parts.push(rest.to_string());
                return parts;
            }
        }
    }
}

fn check_bind_source(src: &str) -> Result<(), String> {
    if src.starts_with('.') || src.starts_with('~') {
        return Err(format!(
            "the bind source `{src}` is relative: a stack in Berth has no project folder, so write the host path in full"
        ));
    }
    Ok(())
}

/// `1h30m`, `10s`, `500ms`, `1m30.5s` in nanoseconds.
pub fn duration(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a duration (e.g. 30s, 1m30s, 500ms)");
    let mut total: f64 = 0.0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "h" => 3.6e12,
            "m" => 6e10,
            "s" => 1e9,
            "ms" => 1e6,
            "us" | "µs" => 1e3,
            "ns" => 1.0,
            _ => return Err(bad()),
        };
        total += num * mult;
        rest = &rest[u..];
    }
    Ok(total as i64)
}

/// `512m`, `1g`, `1.5GB`, `1024` (bytes).
pub fn bytes(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let bad = || format!("`{s}` is not a size (e.g. 512m, 1g)");
    let n = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let num: f64 = t[..n].parse().map_err(|_| bad())?;
    let mult = match t[n..].trim_end_matches(['b', 'i']).trim() {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0f64.powi(4),
        _ => return Err(bad()),
    };
    if t[n..].trim() == "b" || t[n..].is_empty() || t[n..].trim_end_matches(['b', 'i']).len() == 1 {
        Ok((num * mult) as i64)
    } else {
        Err(bad())
    }
}

fn check_cycles(services: &BTreeMap<String, Service>, marks: &Marks) -> Result<(), FileError> {
    order(services).map(|_| ()).map_err(|name| {
        FileError::at(
            marks.find(&format!("services.{name}.depends_on")),
            format!("service `{name}` is part of a depends_on cycle"),
        )
    })
}

/// Services in start order (dependencies first); `Err(name)` on a cycle.
pub fn order(services: &BTreeMap<String, Service>) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    let mut visiting: Vec<String> = Vec::new();
    fn visit(
        n: &str,
        services: &BTreeMap<String, Service>,
        out: &mut Vec<String>,
        visiting: &mut Vec<String>,
    ) -> Result<(), String> {
        if out.iter().any(|o| o == n) {
            return Ok(());
        }
        if visiting.iter().any(|v| v == n) {
            return Err(n.to_string());
        }
        visiting.push(n.to_string());
        if let Some(s) = services.get(n) {
            for d in s.depends_on.keys() {
                visit(d, services, out, visiting)?;
            }
        }
        visiting.pop();
        out.push(n.to_string());
        Ok(())
    }
    for n in services.keys() {
        visit(n, services, &mut out, &mut visiting)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Project, FileError> {
        parse("demo", text, "", &HashMap::new())
    }

    #[test]
    fn a_full_service_normalises() {
        let text = r#"
services:
  web:
    image: nginx:1
    command: sh -c 'echo "hi there"'
    environment:
      - A=1
      - B
    ports: ["8080:80", "127.0.0.1:9000-9001:9000-9001/udp", {target: 443, published: "8443"}]
    volumes: [data:/data:ro, /srv:/srv, /anon, {type: tmpfs, target: /t, tmpfs: {size: 1m}}]
    networks: {back: {aliases: [w]}}
    depends_on: {db: {condition: service_healthy}}
    restart: on-failure:3
    labels: [a=b]
    healthcheck: {test: "true", interval: 1m30s, retries: 3}
    deploy: {replicas: 2, resources: {limits: {cpus: "0.5", memory: 64M}}}
    user: 1000
  db:
    image: db
volumes:
  data:
networks:
  back:
"#;
        let pr = p(text).unwrap();
        let web = &pr.services["web"];
        assert_eq!(
            web.command.as_ref().unwrap(),
            &["sh", "-c", "echo \"hi there\""]
        );
        assert_eq!(web.env, ["A=1", "B="]);
        assert_eq!(web.ports.len(), 4);
        assert_eq!(web.ports[2].host_port, Some(9001));
        assert_eq!(web.ports[2].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(web.mounts[0].kind, "volume");
        assert!(web.mounts[0].read_only);
        assert_eq!(web.mounts[1].kind, "bind");
        assert_eq!(web.mounts[2].source, None);
        assert_eq!(web.mounts[3].tmpfs_size, Some(1 << 20));
        assert_eq!(web.networks["back"], ["w"]);
        assert_eq!(web.replicas, 2);
        assert_eq!(web.memory, Some(64 << 20));
        assert_eq!(web.nano_cpus, Some(500_000_000));
        assert_eq!(
            web.healthcheck.as_ref().unwrap().interval,
            Some(90_000_000_000)
        );
        assert_eq!(web.user.as_deref(), Some("1000"));
        assert_eq!(pr.volumes["data"].name, "demo_data");
        assert_eq!(pr.networks["back"].name, "demo_back");
        assert_eq!(pr.networks["default"].name, "demo_default");
        assert_eq!(order(&pr.services).unwrap(), ["db", "web"]);
    }

    #[test]
    fn unsupported_keys_are_refused_by_name_and_place() {
        let e = p("services:\n  web:\n    image: x\n    privileged: true\n").unwrap_err();
        assert!(e.message.contains("`privileged`"), "{e}");
        assert_eq!(e.pos.unwrap().line, 4);
        let e =
            p("services:\n  web:\n    image: x\n    deploy:\n      mode: global\n").unwrap_err();
        assert!(e.message.contains("`mode`"), "{e}");
        assert_eq!(e.pos.unwrap().line, 5);
        let e = p("services:\n  web:\n    image: x\nsecrets: {}\n").unwrap_err();
        assert!(e.message.contains("`secrets`"), "{e}");
        assert_eq!(e.pos.unwrap().line, 4);
        let e = p("services:\n  web:\n    build: .\n").unwrap_err();
        assert!(e.message.contains("`build`"), "{e}");
    }

    #[test]
    fn semantic_errors_name_their_line() {
        let text = "services:\n  web:\n    image: x\n    ports:\n      - \"80:80\"\n      - \"8080:80\"\n      - \"99999:80\"\n";
        let e = p(text).unwrap_err();
        assert_eq!(e.pos.unwrap().line, 7, "{e}");
        assert!(e.message.contains("99999"), "{e}");
        let e = p("services:\n  web:\n    image: x\n    volumes: [nope:/d]\n").unwrap_err();
        assert!(e.message.contains("`nope`"), "{e}");
        let e = p("services:\n  web:\n    image: x\n    depends_on: [ghost]\n").unwrap_err();
        assert!(e.message.contains("ghost"), "{e}");
        let e = p("services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n").unwrap_err();
        assert!(e.message.contains("cycle"), "{e}");
        let e = p("services:\n  web:\n    image: x\n    volumes: [./d:/d]\n").unwrap_err();
        assert!(e.message.contains("relative"), "{e}");
    }

    #[test]
    fn variables_come_from_the_env_text_only() {
        let text =
            "services:\n  web:\n    image: \"x:${TAG:-1}\"\n    environment:\n      K: ${HOME}\n";
        let e = parse("demo", text, "", &HashMap::new()).unwrap_err();
        assert_eq!(e.pos.unwrap().line, 5);
        let pr = parse("demo", text, "HOME=/h\nTAG=2\n", &HashMap::new()).unwrap();
        assert_eq!(pr.services["web"].image, "x:2");
        assert_eq!(pr.services["web"].env, ["K=/h"]);
    }

    #[test]
    fn env_files_come_from_the_uploaded_set() {
        let text =
            "services:\n  web:\n    image: x\n    env_file: ./app.env\n    environment: [B=2]\n";
        let e = p(text).unwrap_err();
        assert_eq!(e.pos.unwrap().line, 4);
        assert!(e.message.contains("app.env"), "{e}");
        let files = HashMap::from([("app.env".to_string(), "A=1\nB=1\n".to_string())]);
        let pr = parse("demo", text, "", &files).unwrap();
        assert_eq!(pr.services["web"].env, ["A=1", "B=2"]);
    }

    #[test]
    fn helpers() {
        assert_eq!(duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(duration("500ms").unwrap(), 500_000_000);
        assert!(duration("5 minutes").is_err());
        assert_eq!(bytes("1g").unwrap(), 1 << 30);
        assert_eq!(bytes("512MB").unwrap(), 512 << 20);
        assert!(bytes("lots").is_err());
        assert_eq!(
            shell_split("a 'b c' \"d\\\"e\" f\\ g").unwrap(),
            ["a", "b c", "d\"e", "f g"]
        );
        assert!(check_project_name("Bad Name").is_err());
        assert!(check_project_name("ok-1_x").is_ok());
    }
}
