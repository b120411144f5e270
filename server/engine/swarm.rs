//! Swarm mode of an endpoint: what the engine is (not in a swarm, a worker, a manager), and on a
//! manager its nodes, services and their tasks; services created, scaled and removed through
//! the Engine API (no agent of Berth's own).
//!
//! The mode comes from the mirror (`/info`, `Swarm.LocalNodeState`, `ControlAvailable`); the
//! lists are read from the engine when asked (the mirror does not follow service, node and task
//! events yet).

use std::collections::HashMap;

use bollard::models::{
    LocalNodeState, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec,
    TaskSpecContainerSpec,
};
use bollard::query_parameters::{
    ListNodesOptions, ListServicesOptions, ListTasksOptions, UpdateServiceOptions,
};
use serde::{Deserialize, Serialize};

use super::Mirror;
use crate::error::{Error, Result};

/// What the endpoint's engine is in swarm terms.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SwarmStatus {
    /// `inactive`, `pending`, `active`, `error`, `locked` (the engine's words), or `unknown`
    /// before the engine answered.
    pub state: String,
    /// A manager (it can show and change the cluster).
    pub manager: bool,
    pub node_id: Option<String>,
    pub cluster_id: Option<String>,
    pub nodes: Option<i64>,
    pub managers: Option<i64>,
    /// The sentence a page shows.
    pub summary: String,
}

/// The mode, from the mirror's `/info` (no engine call).
pub fn status(m: &Mirror) -> SwarmStatus {
    let info = m.read(|s| s.info.clone());
    let Some(info) = info else {
        return SwarmStatus {
            state: "unknown".into(),
            manager: false,
            node_id: None,
            cluster_id: None,
            nodes: None,
            managers: None,
            summary: "Berth has not heard from this engine yet.".into(),
        };
    };
    let sw = info.swarm.clone().unwrap_or_default();
    let state = sw
        .local_node_state
        .unwrap_or(LocalNodeState::INACTIVE)
        .to_string();
    let manager = sw.control_available == Some(true);
    let summary = match (state.as_str(), manager) {
        ("active", true) => format!(
            "A manager of a swarm of {} node(s), {} manager(s).",
            sw.nodes.unwrap_or(0),
            sw.managers.unwrap_or(0)
        ),
        ("active", false) => "A worker of a swarm: it runs tasks, and only a manager can show or \
                              change the swarm. Add a manager as an endpoint to manage it."
            .into(),
        ("inactive", _) | ("", _) => "Not part of a swarm: a standalone engine. `docker swarm \
                                      init` on it (or joining it to a swarm) makes it one."
            .into(),
        ("locked", _) => {
            "The swarm is locked: unlock it with `docker swarm unlock` and its key.".into()
        }
        (other, _) => format!("Swarm state `{other}`."),
    };
    SwarmStatus {
        state,
        manager,
        node_id: sw.node_id.filter(|s| !s.is_empty()),
        cluster_id: sw.cluster.and_then(|c| c.id),
        nodes: sw.nodes,
        managers: sw.managers,
        summary,
    }
}

/// Refuses, with what the engine is, unless it is a swarm manager.
fn manager(m: &Mirror) -> Result<()> {
    let s = status(m);
    if s.manager {
        return Ok(());
    }
    Err(Error::Conflict {
        field: "swarm",
        message: format!("This engine is not a swarm manager. {}", s.summary),
    })
}

/// A node as the list shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NodeRow {
    pub id: String,
    pub hostname: String,
    /// `manager` or `worker`
    pub role: String,
    /// `active`, `pause`, `drain`
    pub availability: String,
    /// `ready`, `down`, `disconnected`, `unknown`
    pub status: String,
    /// The manager's reachability (leader, reachable, unreachable), for managers.
    pub manager_status: Option<String>,
    pub engine_version: String,
    pub os: String,
    pub architecture: String,
    pub nano_cpus: i64,
    pub memory_bytes: i64,
    pub address: String,
    pub labels: HashMap<String, String>,
}

/// The swarm's nodes (a manager only).
pub async fn nodes(m: &Mirror) -> Result<Vec<NodeRow>> {
    manager(m)?;
    let list = m
        .docker()?
        .list_nodes(None::<ListNodesOptions>)
        .await
        .map_err(|e| m.err(e))?;
    let mut rows: Vec<NodeRow> = list
        .into_iter()
        .map(|n| {
            let spec = n.spec.unwrap_or_default();
            let desc = n.description.unwrap_or_default();
            let platform = desc.platform.unwrap_or_default();
            let res = desc.resources.unwrap_or_default();
            let status = n.status.unwrap_or_default();
            NodeRow {
                id: n.id.unwrap_or_default(),
                hostname: desc.hostname.unwrap_or_default(),
                role: spec.role.map(|r| r.to_string()).unwrap_or_default(),
                availability: spec.availability.map(|a| a.to_string()).unwrap_or_default(),
                status: status.state.map(|s| s.to_string()).unwrap_or_default(),
                manager_status: n.manager_status.map(|ms| {
                    if ms.leader == Some(true) {
                        "leader".to_string()
                    } else {
                        ms.reachability.map(|r| r.to_string()).unwrap_or_default()
                    }
                }),
                engine_version: desc
                    .engine
                    .and_then(|e| e.engine_version)
                    .unwrap_or_default(),
                os: platform.os.unwrap_or_default(),
                architecture: platform.architecture.unwrap_or_default(),
                nano_cpus: res.nano_cpus.unwrap_or(0),
                memory_bytes: res.memory_bytes.unwrap_or(0),
                address: status.addr.unwrap_or_default(),
                labels: spec.labels.unwrap_or_default(),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.hostname.cmp(&b.hostname).then(a.id.cmp(&b.id)));
    Ok(rows)
}

/// A service as the list shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceRow {
    pub id: String,
    pub name: String,
    pub image: String,
    /// `replicated`, `global`, `replicated-job`, `global-job`
    pub mode: String,
    /// Tasks running now, as the engine counts them.
    pub running: u64,
    /// Tasks it wants running.
    pub desired: u64,
    /// `host:published → target/protocol`
    pub ports: Vec<String>,
    /// The last update's state (`updating`, `completed`, `rollback_completed`, …), if any.
    pub update_status: Option<String>,
    /// The stack (`com.docker.stack.namespace`) it belongs to, if any.
    pub stack: Option<String>,
    pub labels: HashMap<String, String>,
}

fn row_of(s: bollard::models::Service) -> ServiceRow {
    let spec = s.spec.clone().unwrap_or_default();
    let labels = spec.labels.clone().unwrap_or_default();
    let mode = spec.mode.clone().unwrap_or_default();
    let mode = if mode.global.is_some() {
        "global"
    } else if mode.replicated_job.is_some() {
        "replicated-job"
    } else if mode.global_job.is_some() {
        "global-job"
    } else {
        "replicated"
    };
    let status = s.service_status.clone().unwrap_or_default();
    let ports = s
        .endpoint
        .as_ref()
        .and_then(|e| e.ports.clone())
        .or_else(|| spec.endpoint_spec.as_ref().and_then(|e| e.ports.clone()))
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            format!(
                "{}{} → {}/{}",
                match p.publish_mode.map(|m| m.to_string()).as_deref() {
                    Some("host") => "host:",
                    _ => "",
                },
                p.published_port.map(|x| x.to_string()).unwrap_or_default(),
                p.target_port.map(|x| x.to_string()).unwrap_or_default(),
                p.protocol
                    .map(|x| x.to_string())
                    .unwrap_or_else(|| "tcp".into())
            )
        })
        .collect();
    ServiceRow {
        id: s.id.unwrap_or_default(),
        name: spec.name.unwrap_or_default(),
        image: spec
            .task_template
            .and_then(|t| t.container_spec)
            .and_then(|c| c.image)
            .map(|i| i.split('@').next().unwrap_or_default().to_string())
            .unwrap_or_default(),
        mode: mode.into(),
        running: status.running_tasks.unwrap_or(0),
        desired: status.desired_tasks.unwrap_or(0),
        ports,
        update_status: s
            .update_status
            .and_then(|u| u.state)
            .map(|st| st.to_string()),
        stack: labels.get("com.docker.stack.namespace").cloned(),
        labels,
    }
}

/// The swarm's services with their running/desired task counts (a manager only).
pub async fn services(m: &Mirror) -> Result<Vec<ServiceRow>> {
    manager(m)?;
    let list = m
        .docker()?
        .list_services(Some(ListServicesOptions {
            status: Some(true),
            ..Default::default()
        }))
        .await
        .map_err(|e| m.err(e))?;
    let mut rows: Vec<ServiceRow> = list.into_iter().map(row_of).collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// One service, by id, unique id prefix or name (a manager only).
pub async fn service(m: &Mirror, key: &str) -> Result<ServiceRow> {
    let all = services(m).await?;
    let key = key.trim();
    let found: Vec<&ServiceRow> = all
        .iter()
        .filter(|s| s.id == key || s.name == key || (key.len() >= 4 && s.id.starts_with(key)))
        .collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::NotFound(format!(
            "No service `{key}` in this swarm."
        ))),
        _ => Err(Error::invalid(
            "id",
            format!("`{key}` names more than one service: give more of the id."),
        )),
    }
}

/// A task as the lists show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskRow {
    pub id: String,
    pub service_id: String,
    /// `service.slot` (replicated) or `service.node` (global).
    pub name: String,
    pub node_id: String,
    /// The task's state now (`new`, `pending`, `assigned`, `preparing`, `starting`, `running`,
    /// `complete`, `failed`, `shutdown`, `rejected`, `orphaned`, `remove`).
    pub state: String,
    /// The state the orchestrator wants for it.
    pub desired_state: String,
    /// The engine's message (`started`, …) and error, if any.
    pub message: String,
    pub error: Option<String>,
    pub container_id: Option<String>,
    /// When it reached its state (the engine's RFC 3339 time).
    pub since: String,
}

/// Tasks of a service or of a node (or all), newest first (a manager only).
pub async fn tasks(m: &Mirror, service: Option<&str>, node: Option<&str>) -> Result<Vec<TaskRow>> {
    manager(m)?;
    let mut filters: HashMap<String, Vec<String>> = HashMap::new();
    if let Some(s) = service {
        filters.insert("service".into(), vec![s.to_string()]);
    }
    if let Some(n) = node {
        filters.insert("node".into(), vec![n.to_string()]);
    }
    let names: HashMap<String, String> = services(m)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let list = m
        .docker()?
        .list_tasks(Some(ListTasksOptions {
            filters: (!filters.is_empty()).then_some(filters),
        }))
        .await
        .map_err(|e| m.err(e))?;
    let mut rows: Vec<(String, TaskRow)> = list
        .into_iter()
        .map(|t| {
            let status = t.status.unwrap_or_default();
            let service_id = t.service_id.unwrap_or_default();
            let node_id = t.node_id.unwrap_or_default();
            let svc = names
                .get(&service_id)
                .cloned()
                .unwrap_or_else(|| super::views::short_id(&service_id).to_string());
            let name = match t.slot {
                Some(slot) => format!("{svc}.{slot}"),
                None => format!("{svc}.{}", super::views::short_id(&node_id)),
            };
            let since = status.timestamp.map(|d| d.to_string()).unwrap_or_default();
            (
                since.clone(),
                TaskRow {
                    id: t.id.unwrap_or_default(),
                    service_id,
                    name,
                    node_id,
                    state: status.state.map(|s| s.to_string()).unwrap_or_default(),
                    desired_state: t.desired_state.map(|s| s.to_string()).unwrap_or_default(),
                    message: status.message.unwrap_or_default(),
                    error: status.err.filter(|e| !e.is_empty()),
                    container_id: status
                        .container_status
                        .and_then(|c| c.container_id)
                        .filter(|c| !c.is_empty()),
                    since,
                },
            )
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.name.cmp(&b.1.name)));
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

/// A new replicated service.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ServiceForm {
    pub name: String,
    pub image: String,
    /// Replicas (0 to 1000; 1 when not given).
    #[serde(default)]
    pub replicas: Option<i64>,
    /// The command: words (one argument each), or a JSON list of strings
    /// (`["sh", "-c", "echo hi; sleep 60"]`) like a Dockerfile's exec form.
    #[serde(default)]
    pub command: String,
    /// `KEY=value`, one per line.
    #[serde(default)]
    pub env: String,
}

fn check_name(name: &str) -> Result<String> {
    let n = name.trim();
    let ok = !n.is_empty()
        && n.len() <= 63
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok {
        return Err(Error::invalid(
            "name",
            "A service name is 1–63 letters, digits, `-` or `_`, starting with a letter or digit.",
        ));
    }
    Ok(n.to_string())
}

fn check_replicas(r: Option<i64>) -> Result<i64> {
    match r.unwrap_or(1) {
        n @ 0..=1000 => Ok(n),
        _ => Err(Error::invalid("replicas", "Replicas are 0 to 1000.")),
    }
}

/// Creates a replicated service; answers its id.
pub async fn create(m: &Mirror, f: &ServiceForm) -> Result<String> {
    manager(m)?;
    let name = check_name(&f.name)?;
    let image = f.image.trim();
    if image.is_empty() || image.chars().any(char::is_whitespace) {
        return Err(Error::invalid("image", "Give the image the tasks run."));
    }
    let replicas = check_replicas(f.replicas)?;
    let command: Vec<String> = if f.command.trim_start().starts_with('[') {
        serde_json::from_str(f.command.trim()).map_err(|e| {
            Error::invalid(
                "command",
                format!("The command reads as a JSON list of strings, and does not: {e}."),
            )
        })?
    } else {
        f.command.split_whitespace().map(String::from).collect()
    };
    let env: Vec<String> = f
        .env
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if let Some(bad) = env.iter().find(|e| !e.contains('=')) {
        let shown: String = bad.chars().take(40).collect();
        return Err(Error::invalid(
            "env",
            format!("`{shown}` is not KEY=value."),
        ));
    }
    let spec = ServiceSpec {
        name: Some(name),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(image.to_string()),
                command: (!command.is_empty()).then_some(command),
                env: (!env.is_empty()).then_some(env),
                ..Default::default()
            }),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(replicas),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let r = m
        .docker()?
        .create_service(spec, None)
        .await
        .map_err(|e| m.err(e))?;
    r.id.ok_or_else(|| Error::internal("the engine created a service without an id"))
}

/// Sets a replicated service's replicas.
pub async fn scale(m: &Mirror, key: &str, replicas: Option<i64>) -> Result<ServiceRow> {
    manager(m)?;
    let replicas = check_replicas(replicas)?;
    let row = service(m, key).await?;
    respec(m, &row, None, |spec| {
        let mode = spec.mode.get_or_insert_with(Default::default);
        if mode.replicated.is_none() {
            return Err(Error::Conflict {
                field: "replicas",
                message: format!(
                    "{} runs in {} mode: only replicated services scale.",
                    row.name, row.mode
                ),
            });
        }
        mode.replicated = Some(ServiceSpecModeReplicated {
            replicas: Some(replicas),
        });
        Ok(())
    })
    .await
}

/// Reads the service's spec and version, lets `change` edit the spec, and sends it back at that
/// version (`rollback`: the engine's `previous`); answers the service as it is then.
async fn respec(
    m: &Mirror,
    row: &ServiceRow,
    rollback: Option<&str>,
    change: impl FnOnce(&mut ServiceSpec) -> Result<()>,
) -> Result<ServiceRow> {
    let d = m.docker()?;
    let current = d
        .inspect_service(&row.id, None)
        .await
        .map_err(|e| m.err(e))?;
    let mut spec = current
        .spec
        .ok_or_else(|| Error::internal("the engine gave the service no spec"))?;
    change(&mut spec)?;
    let version = current
        .version
        .and_then(|v| v.index)
        .ok_or_else(|| Error::internal("the engine gave the service no version"))?;
    d.update_service(
        &row.id,
        spec,
        UpdateServiceOptions {
            version: version as i32,
            rollback: rollback.map(String::from),
            ..Default::default()
        },
        None,
    )
    .await
    .map_err(|e| match m.err(e) {
        Error::EngineRefused { message, .. }
            if rollback.is_some() && message.contains("previous spec") =>
        {
            Error::Conflict {
                field: "rollback",
                message: format!("{} has no earlier version to go back to.", row.name),
            }
        }
        other => other,
    })?;
    service(m, &row.id).await
}

/// Removes a service (its tasks go with it).
pub async fn remove(m: &Mirror, key: &str) -> Result<ServiceRow> {
    manager(m)?;
    let row = service(m, key).await?;
    m.docker()?
        .delete_service(&row.id)
        .await
        .map_err(|e| m.err(e))?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_replicas_are_checked() {
        assert!(super::check_name("web_1-a").is_ok());
        assert!(super::check_name("-web").is_err());
        assert!(super::check_name("we b").is_err());
        assert!(super::check_name("").is_err());
        assert_eq!(super::check_replicas(None).unwrap(), 1);
        assert!(super::check_replicas(Some(1001)).is_err());
        assert!(super::check_replicas(Some(-1)).is_err());
    }
}

/// What an administrator does to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeAction {
    /// Availability `active`: it takes tasks.
    Activate,
    /// Availability `pause`: it keeps its tasks, takes no new ones.
    Pause,
    /// Availability `drain`: its tasks move elsewhere.
    Drain,
    /// Role `manager`.
    Promote,
    /// Role `worker`.
    Demote,
}

impl NodeAction {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "activate" => NodeAction::Activate,
            "pause" => NodeAction::Pause,
            "drain" => NodeAction::Drain,
            "promote" => NodeAction::Promote,
            "demote" => NodeAction::Demote,
            other => {
                let shown: String = other.chars().take(20).collect();
                return Err(Error::invalid(
                    "action",
                    format!(
                        "`{shown}` is not a node action (activate, pause, drain, promote, demote)."
                    ),
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NodeAction::Activate => "activate",
            NodeAction::Pause => "pause",
            NodeAction::Drain => "drain",
            NodeAction::Promote => "promote",
            NodeAction::Demote => "demote",
        }
    }
}

/// Changes a node's availability or role (the engine refuses demoting the last manager).
pub async fn node_act(m: &Mirror, id: &str, action: NodeAction) -> Result<()> {
    use bollard::models::{NodeSpecAvailabilityEnum as A, NodeSpecRoleEnum as R};
    manager(m)?;
    let d = m.docker()?;
    let node = d
        .inspect_node(id)
        .await
        .map_err(|e| not_found(m, e, "node", id))?;
    let mut spec = node.spec.unwrap_or_default();
    match action {
        NodeAction::Activate => spec.availability = Some(A::ACTIVE),
        NodeAction::Pause => spec.availability = Some(A::PAUSE),
        NodeAction::Drain => spec.availability = Some(A::DRAIN),
        NodeAction::Promote => spec.role = Some(R::MANAGER),
        NodeAction::Demote => spec.role = Some(R::WORKER),
    }
    let version = node
        .version
        .and_then(|v| v.index)
        .ok_or_else(|| Error::internal("the engine gave the node no version"))?;
    d.update_node(
        node.id.as_deref().unwrap_or(id),
        spec,
        bollard::query_parameters::UpdateNodeOptions {
            version: version as i64,
        },
    )
    .await
    .map_err(|e| m.err(e))
}

fn not_found(m: &Mirror, e: bollard::errors::Error, what: &str, key: &str) -> Error {
    match m.err(e) {
        Error::EngineRefused { status: 404, .. } => {
            Error::NotFound(format!("No {what} `{key}` in this swarm."))
        }
        other => other,
    }
}

/// A secret or a config as listed (a secret's data is never read back).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ObjectRow {
    pub id: String,
    pub name: String,
    /// The engine's RFC 3339 time.
    pub created: String,
    pub labels: HashMap<String, String>,
}

/// Secrets or configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    Secret,
    Config,
}

impl Kept {
    pub fn word(self) -> &'static str {
        match self {
            Kept::Secret => "secret",
            Kept::Config => "config",
        }
    }
}

/// The swarm's secrets or configs, by name.
pub async fn kept(m: &Mirror, kind: Kept) -> Result<Vec<ObjectRow>> {
    manager(m)?;
    let d = m.docker()?;
    let mut rows: Vec<ObjectRow> = match kind {
        Kept::Secret => d
            .list_secrets(None)
            .await
            .map_err(|e| m.err(e))?
            .into_iter()
            .map(|s| {
                let spec = s.spec.unwrap_or_default();
                ObjectRow {
                    id: s.id.unwrap_or_default(),
                    name: spec.name.unwrap_or_default(),
                    created: s.created_at.map(|d| d.to_string()).unwrap_or_default(),
                    labels: spec.labels.unwrap_or_default(),
                }
            })
            .collect(),
        Kept::Config => d
            .list_configs(None)
            .await
            .map_err(|e| m.err(e))?
            .into_iter()
            .map(|s| {
                let spec = s.spec.unwrap_or_default();
                ObjectRow {
                    id: s.id.unwrap_or_default(),
                    name: spec.name.unwrap_or_default(),
                    created: s.created_at.map(|d| d.to_string()).unwrap_or_default(),
                    labels: spec.labels.unwrap_or_default(),
                }
            })
            .collect(),
    };
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// A new secret or config: its name and contents (at most 500 KB, the engine's limit).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct KeptForm {
    pub name: String,
    pub data: String,
}

/// Creates a secret or a config; answers its id.
pub async fn create_kept(m: &Mirror, kind: Kept, f: &KeptForm) -> Result<String> {
    use base64::Engine as _;
    manager(m)?;
    let name = f.name.trim();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(Error::invalid(
            "name",
            format!(
                "A {} name is 1–64 letters, digits, `-`, `_` or `.`.",
                kind.word()
            ),
        ));
    }
    if f.data.is_empty() || f.data.len() > 500 * 1000 {
        return Err(Error::invalid(
            "data",
            format!("A {}'s contents are 1 byte to 500 KB.", kind.word()),
        ));
    }
    let data = Some(base64::engine::general_purpose::STANDARD.encode(f.data.as_bytes()));
    let d = m.docker()?;
    let r = match kind {
        Kept::Secret => {
            d.create_secret(bollard::models::SecretSpec {
                name: Some(name.into()),
                data,
                ..Default::default()
            })
            .await
        }
        Kept::Config => {
            d.create_config(bollard::models::ConfigSpec {
                name: Some(name.into()),
                data,
                ..Default::default()
            })
            .await
        }
    };
    Ok(r.map_err(|e| m.err(e))?.id)
}

/// Removes a secret or config by id or name (the engine refuses one a service uses).
pub async fn remove_kept(m: &Mirror, kind: Kept, key: &str) -> Result<()> {
    manager(m)?;
    let all = kept(m, kind).await?;
    let found = all
        .iter()
        .find(|o| o.id == key || o.name == key)
        .ok_or_else(|| Error::NotFound(format!("No {} `{key}` in this swarm.", kind.word())))?;
    let d = m.docker()?;
    let r = match kind {
        Kept::Secret => d.delete_secret(&found.id).await,
        Kept::Config => d.delete_config(&found.id).await,
    };
    r.map_err(|e| m.err(e))
}

/// Points a service at another image (a rolling update, as `docker service update --image`).
pub async fn update_image(m: &Mirror, key: &str, image: &str) -> Result<ServiceRow> {
    manager(m)?;
    let image = image.trim();
    if image.is_empty() || image.chars().any(char::is_whitespace) {
        return Err(Error::invalid(
            "image",
            "Give the image the tasks should run.",
        ));
    }
    let row = service(m, key).await?;
    respec(m, &row, None, |spec| {
        spec.task_template
            .get_or_insert_with(Default::default)
            .container_spec
            .get_or_insert_with(Default::default)
            .image = Some(image.to_string());
        Ok(())
    })
    .await
}

/// Goes back to the service's previous spec (as `docker service rollback`).
pub async fn rollback(m: &Mirror, key: &str) -> Result<ServiceRow> {
    manager(m)?;
    let row = service(m, key).await?;
    respec(m, &row, Some("previous"), |_| Ok(())).await
}

/// The last `tail` lines of a service's log, merged across its tasks (waits at most 5 s).
pub async fn recent_log(m: &Mirror, service_id: &str, tail: u32) -> Result<Vec<String>> {
    use futures_util::StreamExt;
    let q = super::logs::LogQuery {
        tail: Some(tail.to_string()),
        ..Default::default()
    };
    let lines = super::logs::service_lines(m, service_id, q.options(false, "200")?)?;
    let got = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        lines.take(tail as usize).collect::<Vec<_>>(),
    )
    .await
    .map_err(|_| Error::internal("the engine did not send the service's log in 5 s"))?;
    got.into_iter().map(|l| l.map(|l| l.text)).collect()
}
