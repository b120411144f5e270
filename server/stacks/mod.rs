//! Stacks: compose projects on an endpoint. Found from the labels compose puts on containers,
//! networks and volumes (so projects that `docker-compose up` made show too), deployed from a
//! compose file Berth keeps in SQLite with every version: parse ([`compose`]) → plan and apply
//! ([`apply`]) → record ([`store`]).
//!
//! The actions here are plain domain functions over a [`Mirror`] and the [`Store`]; the page and
//! API handlers call them and write the audit row.

pub mod apply;
pub mod compose;
pub mod diff;
pub mod store;
pub mod yaml;

use std::collections::{BTreeMap, HashMap};

use bollard::query_parameters::{
    RemoveVolumeOptions, RestartContainerOptions, StartContainerOptions, StopContainerOptions,
};
use serde::Serialize;

use crate::engine::Mirror;
use crate::engine::image_ops::{self, PullSpec};
use crate::error::{Error, Result};
use crate::store::Store;
pub use apply::ServiceOutcome;
pub use yaml::FileError;

/// The labels compose (1.29 and 2) puts on what it makes.
pub mod labels {
    pub const PROJECT: &str = "com.docker.compose.project";
    pub const SERVICE: &str = "com.docker.compose.service";
    pub const NUMBER: &str = "com.docker.compose.container-number";
    pub const ONEOFF: &str = "com.docker.compose.oneoff";
    pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
    pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
    pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
    pub const VERSION: &str = "com.docker.compose.version";
    pub const NETWORK: &str = "com.docker.compose.network";
    pub const VOLUME: &str = "com.docker.compose.volume";
    pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
    pub const IMAGE: &str = "com.docker.compose.image";
    /// The compose version Berth's objects follow (numeric: docker-compose 1.29 compares it).
    pub const COMPOSE_VERSION: &str = "2.0.0";
}
use labels as L;

// ---- listing (from the mirror: no engine call) ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StackRow {
    pub name: String,
    /// Berth holds its compose file.
    pub managed: bool,
    pub services: Vec<ServiceRow>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    /// `running`, `partly running`, `stopped` or `empty`.
    pub state: String,
    /// Where compose ran it from (its `project.working_dir` label).
    pub working_dir: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceRow {
    pub name: String,
    pub image: String,
    pub containers: Vec<ContainerRef>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContainerRef {
    pub id: String,
    pub name: String,
    pub state: String,
    pub status: String,
}

impl StackRow {
    pub fn container_ids(&self) -> Vec<String> {
        self.services
            .iter()
            .flat_map(|s| s.containers.iter().map(|c| c.id.clone()))
            .collect()
    }

    pub fn running(&self) -> usize {
        self.services
            .iter()
            .flat_map(|s| &s.containers)
            .filter(|c| c.state == "running")
            .count()
    }

    /// The name as one URL path segment (a project label set by hand may hold anything).
    pub fn href(&self) -> String {
        let mut out = String::with_capacity(self.name.len());
        for b in self.name.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    /// The state as a CSS class word.
    pub fn state_class(&self) -> String {
        self.state.replace(' ', "-")
    }

    pub fn total(&self) -> usize {
        self.services.iter().map(|s| s.containers.len()).sum()
    }
}

/// Every compose project on the endpoint, and those Berth holds a file of (even with nothing
/// on the engine).
pub fn list(m: &Mirror, held: &[String]) -> Vec<StackRow> {
    let mut stacks: BTreeMap<String, StackRow> = BTreeMap::new();
    let row = |name: &str| StackRow {
        name: name.to_string(),
        managed: held.iter().any(|h| h == name),
        services: Vec::new(),
        networks: Vec::new(),
        volumes: Vec::new(),
        state: String::new(),
        working_dir: None,
    };
    m.read(|s| {
        for c in s.containers.values() {
            let Some(p) = c.labels.get(L::PROJECT) else {
                continue;
            };
            if c.labels.get(L::ONEOFF).map(String::as_str) == Some("True") {
                continue;
            }
            let st = stacks.entry(p.clone()).or_insert_with(|| row(p));
            if st.working_dir.is_none() {
                st.working_dir = c.labels.get(L::WORKING_DIR).cloned();
            }
            let svc = c.labels.get(L::SERVICE).cloned().unwrap_or_default();
            let i = match st.services.iter().position(|s| s.name == svc) {
                Some(i) => i,
                None => {
                    st.services.push(ServiceRow {
                        name: svc,
                        image: c.image.clone(),
                        containers: Vec::new(),
                    });
                    st.services.len() - 1
                }
            };
            st.services[i].containers.push(ContainerRef {
                id: c.id.clone(),
                name: c.name.clone(),
                state: c.state.clone(),
                status: c.status.clone(),
            });
        }
        for n in s.networks.values() {
            if let Some(p) = n.labels.get(L::PROJECT) {
                stacks
                    .entry(p.clone())
                    .or_insert_with(|| row(p))
                    .networks
                    .push(n.name.clone());
            }
        }
        for v in s.volumes.values() {
            if let Some(p) = v.labels.get(L::PROJECT) {
                stacks
                    .entry(p.clone())
                    .or_insert_with(|| row(p))
                    .volumes
                    .push(v.name.clone());
            }
        }
    });
    for h in held {
        stacks.entry(h.clone()).or_insert_with(|| row(h));
    }
    let mut out: Vec<StackRow> = stacks.into_values().collect();
    for st in &mut out {
        st.services.sort_by(|a, b| a.name.cmp(&b.name));
        for s in &mut st.services {
            s.containers.sort_by(|a, b| a.name.cmp(&b.name));
        }
        st.networks.sort();
        st.volumes.sort();
        let (run, total) = (st.running(), st.total());
        st.state = match (run, total) {
            (_, 0) => "empty",
            (r, t) if r == t => "running",
            (0, _) => "stopped",
            _ => "partly running",
        }
        .into();
    }
    out
}

pub fn get(m: &Mirror, held: &[String], name: &str) -> Result<StackRow> {
    list(m, held)
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| Error::NotFound(format!("No stack `{name}` on this engine.")))
}

/// The names of the stacks Berth holds on an endpoint.
pub async fn held(store: &Store, m: &Mirror) -> Result<Vec<String>> {
    store::names(store.pool(), m.endpoint_id).await
}

// ---- one action per stack at a time ----

static BUSY: std::sync::Mutex<std::collections::BTreeSet<(i64, String)>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Held while an action changes a stack; a second action on it meanwhile is a conflict.
struct Busy(i64, String);

impl Busy {
    fn take(m: &Mirror, name: &str) -> Result<Busy> {
        let key = (m.endpoint_id, name.to_string());
        let mut set = BUSY.lock().unwrap_or_else(|p| p.into_inner());
        if !set.insert(key) {
            return Err(Error::Conflict {
                field: "name",
                message: format!(
                    "Another action on stack `{name}` is running: try again when it ends."
                ),
            });
        }
        Ok(Busy(m.endpoint_id, name.to_string()))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut set = BUSY.lock().unwrap_or_else(|p| p.into_inner());
        set.remove(&(self.0, std::mem::take(&mut self.1)));
    }
}

// ---- deploy ----

/// What deploy asks: a name, the compose text, an optional `.env`, and any env files it names.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct DeploySpec {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub compose: String,
    #[serde(default)]
    pub env: Option<String>,
    /// File name → content, for `env_file:` entries.
    #[serde(default)]
    pub env_files: HashMap<String, String>,
}

/// The largest compose file (and .env) Berth takes.
pub const MAX_FILE: usize = 512 * 1024;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Deployed {
    pub name: String,
    pub version: i64,
    pub services: Vec<ServiceOutcome>,
}

/// Reads and checks a file without touching the engine.
pub fn check(spec: &DeploySpec) -> Result<compose::Project> {
    if spec.compose.len() > MAX_FILE || spec.env.as_ref().is_some_and(|e| e.len() > MAX_FILE) {
        return Err(Error::TooLarge(format!(
            "A compose file or .env is limited to {} KiB.",
            MAX_FILE / 1024
        )));
    }
    compose::parse(
        spec.name.trim(),
        &spec.compose,
        spec.env.as_deref().unwrap_or(""),
        &spec.env_files,
    )
    .map_err(file_error)
}

pub fn file_error(e: FileError) -> Error {
    Error::File {
        message: e.message,
        line: e.pos.map(|p| p.line),
        column: e.pos.map(|p| p.column),
    }
}

/// Whether anything of project `name` exists on the engine (per the mirror).
fn exists(m: &Mirror, name: &str) -> bool {
    list(m, &[]).iter().any(|s| s.name == name)
}

/// Image ids of the project's images; missing ones are pulled (as a job with progress on the
/// endpoint's job list). An image that cannot be had is an error at its `image:` line.
async fn images(
    m: &Mirror,
    p: &compose::Project,
    pull_all: bool,
) -> Result<HashMap<String, String>> {
    let d = m.docker()?;
    let mut ids = HashMap::new();
    for s in p.services.values() {
        if ids.contains_key(&s.image) {
            continue;
        }
        let have = d.inspect_image(&s.image).await.ok();
        if have.is_none() || pull_all {
            let job = m
                .jobs
                .start(format!("Pull {} for stack {}", s.image, p.name));
            let r = image_ops::pull(
                m,
                &PullSpec {
                    reference: s.image.clone(),
                    ..Default::default()
                },
                &job.progress,
            )
            .await;
            job.progress.send_modify(|pr| {
                pr.done = true;
                if let Err(e) = &r {
                    pr.error.get_or_insert_with(|| e.public_message());
                }
            });
            if let Err(e) = r
                && have.is_none()
            {
                return Err(Error::File {
                    message: format!(
                        "the image `{}` of service `{}` is not on this engine and could not be pulled: {}",
                        s.image,
                        s.name,
                        e.public_message()
                    ),
                    line: s.image_pos.map(|p| p.line),
                    column: s.image_pos.map(|p| p.column),
                });
            }
        }
        let img = d.inspect_image(&s.image).await.map_err(|e| m.err(e))?;
        ids.insert(s.image.clone(), img.id.unwrap_or_default());
    }
    Ok(ids)
}

fn working_dir(m: &Mirror, name: &str) -> String {
    format!("/berth/endpoints/{}/stacks/{name}", m.endpoint_id)
}

/// Deploys a new stack (`create`) or redeploys one: checks the file, pulls missing images,
/// applies, records the version. A new stack whose name is taken on the engine is a conflict.
pub async fn deploy(
    store: &Store,
    m: &Mirror,
    spec: &DeploySpec,
    username: &str,
    create: bool,
) -> Result<Deployed> {
    let p = check(spec)?;
    let _busy = Busy::take(m, &p.name)?;
    if create
        && (exists(m, &p.name)
            || store::latest(store.pool(), m.endpoint_id, &p.name)
                .await?
                .is_some())
    {
        return Err(Error::Conflict {
            field: "name",
            message: format!(
                "A stack `{}` already exists on this engine: edit it, or pick another name.",
                p.name
            ),
        });
    }
    let ids = images(m, &p, false).await?;
    let services = apply::apply(m, &p, &ids, &working_dir(m, &p.name)).await?;
    let version = store::record(
        store.pool(),
        m.endpoint_id,
        &p.name,
        &spec.compose,
        spec.env.as_deref().unwrap_or(""),
        username,
    )
    .await?;
    Ok(Deployed {
        name: p.name,
        version,
        services,
    })
}

/// Redeploys the version before the current one, as a new version.
pub async fn rollback(store: &Store, m: &Mirror, name: &str, username: &str) -> Result<Deployed> {
    let versions = store::versions(store.pool(), m.endpoint_id, name).await?;
    if versions.is_empty() {
        return Err(Error::NotFound(format!(
            "Berth holds no file of stack `{name}`."
        )));
    }
    let Some(prev) = versions.get(1) else {
        return Err(Error::invalid(
            "version",
            format!("Stack `{name}` has only one version: there is nothing to roll back to."),
        ));
    };
    redeploy_version(store, m, name, prev.version, username).await
}

/// Redeploys a recorded version (as a new version).
pub async fn redeploy_version(
    store: &Store,
    m: &Mirror,
    name: &str,
    version: i64,
    username: &str,
) -> Result<Deployed> {
    let v = store::version(store.pool(), m.endpoint_id, name, version)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Stack `{name}` has no version {version}.")))?;
    let spec = DeploySpec {
        name: name.to_string(),
        compose: v.compose,
        env: Some(v.env),
        env_files: HashMap::new(),
    };
    deploy(store, m, &spec, username, false).await
}

/// Pulls every image of the stack again, then redeploys its current file (services whose image
/// changed are recreated).
pub async fn pull_and_redeploy(store: &Store, m: &Mirror, name: &str) -> Result<Deployed> {
    let v = store::latest(store.pool(), m.endpoint_id, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Berth holds no file of stack `{name}`.")))?;
    let spec = DeploySpec {
        name: name.to_string(),
        compose: v.compose,
        env: Some(v.env),
        env_files: HashMap::new(),
    };
    let p = check(&spec)?;
    let _busy = Busy::take(m, name)?;
    let ids = images(m, &p, true).await?;
    let services = apply::apply(m, &p, &ids, &working_dir(m, name)).await?;
    Ok(Deployed {
        name: name.to_string(),
        version: v.version,
        services,
    })
}

/// Deploys the current file of stack `name` on another endpoint (`to`), as `new_name`.
pub async fn copy(
    store: &Store,
    from: &Mirror,
    to: &Mirror,
    name: &str,
    new_name: &str,
    username: &str,
) -> Result<Deployed> {
    let v = store::latest(store.pool(), from.endpoint_id, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Berth holds no file of stack `{name}`.")))?;
    let new_name = match new_name.trim() {
        "" => name,
        n => n,
    };
    let spec = DeploySpec {
        name: new_name.to_string(),
        compose: v.compose,
        env: Some(v.env),
        env_files: HashMap::new(),
    };
    deploy(store, to, &spec, username, true).await
}

/// One running container's usage, for a stack's stats.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContainerUsage {
    pub service: String,
    pub id: String,
    pub name: String,
    pub stats: Option<crate::engine::stats::Sample>,
    pub error: Option<String>,
}

/// A sample of every running container of the stack, read together (the endpoint's shared
/// stats streams: viewers of the same container share one engine stream).
pub async fn stats(m: &Mirror, row: &StackRow) -> Vec<ContainerUsage> {
    let running: Vec<(String, ContainerRef)> = row
        .services
        .iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .filter(|c| c.state == "running")
                .map(|c| (s.name.clone(), c.clone()))
        })
        .collect();
    let reads = running.iter().map(|(_, c)| async {
        let w = m.stats.watch(m, &c.id)?;
        w.current(std::time::Duration::from_secs(10)).await
    });
    let samples = futures_util::future::join_all(reads).await;
    running
        .into_iter()
        .zip(samples)
        .map(|((service, c), r)| {
            let (stats, error) = match r {
                Ok(s) => (Some((*s).clone()), None),
                Err(e) => (None, Some(e.public_message())),
            };
            ContainerUsage {
                service,
                id: c.id,
                name: c.name,
                stats,
                error,
            }
        })
        .collect()
}

// ---- lifecycle ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Start,
    Stop,
    Restart,
}

impl Lifecycle {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "start" => Some(Self::Start),
            "stop" => Some(Self::Stop),
            "restart" => Some(Self::Restart),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
        }
    }
}

/// Starts, stops or restarts every container of the project (found by label on the engine).
pub async fn lifecycle(m: &Mirror, name: &str, what: Lifecycle) -> Result<usize> {
    let d = m.docker()?;
    let _busy = Busy::take(m, name)?;
    let by_service = apply::project_containers(m, name).await?;
    if by_service.is_empty() {
        return Err(Error::NotFound(format!(
            "Stack `{name}` has no containers on this engine."
        )));
    }
    let mut n = 0;
    for c in by_service.values().flatten() {
        let Some(id) = &c.id else { continue };
        let r = match what {
            Lifecycle::Start => d.start_container(id, None::<StartContainerOptions>).await,
            Lifecycle::Stop => d.stop_container(id, None::<StopContainerOptions>).await,
            Lifecycle::Restart => {
                d.restart_container(id, None::<RestartContainerOptions>)
                    .await
            }
        };
        match r {
            Ok(()) => {}
            // Already started / stopped.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => {}
            Err(e) => return Err(m.err(e)),
        }
        let _ = m.refresh_container(id).await;
        n += 1;
    }
    Ok(n)
}

/// What `down` removed.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Removed {
    pub containers: usize,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

/// Removes the project's containers and networks (and its volumes when asked), like
/// `docker-compose down [-v]`; Berth forgets the file too. External networks and volumes (they
/// carry no project label) are left alone.
pub async fn down(store: &Store, m: &Mirror, name: &str, volumes: bool) -> Result<Removed> {
    let d = m.docker()?;
    let _busy = Busy::take(m, name)?;
    let held = store::latest(store.pool(), m.endpoint_id, name)
        .await?
        .is_some();
    let by_service = apply::project_containers(m, name).await?;
    let (nets, vols) = m.read(|s| {
        let nets: Vec<String> = s
            .networks
            .values()
            .filter(|n| n.labels.get(L::PROJECT).map(String::as_str) == Some(name))
            .map(|n| n.name.clone())
            .collect();
        let vols: Vec<String> = s
            .volumes
            .values()
            .filter(|v| v.labels.get(L::PROJECT).map(String::as_str) == Some(name))
            .map(|v| v.name.clone())
            .collect();
        (nets, vols)
    });
    if !held && by_service.is_empty() && nets.is_empty() && vols.is_empty() {
        return Err(Error::NotFound(format!(
            "No stack `{name}` on this engine."
        )));
    }
    let mut out = Removed::default();
    for c in by_service.values().flatten() {
        if let Some(id) = &c.id {
            apply::remove_container(d, m, id, volumes).await?;
            out.containers += 1;
        }
    }
    for n in nets {
        match d.remove_network(&n).await {
            Ok(()) => out.networks.push(n),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(m.err(e)),
        }
    }
    if volumes {
        for v in vols {
            match d.remove_volume(&v, None::<RemoveVolumeOptions>).await {
                Ok(()) => out.volumes.push(v),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(e) => return Err(m.err(e)),
            }
        }
    }
    let _ = m.refresh_networks().await;
    let _ = m.refresh_volumes().await;
    store::forget(store.pool(), m.endpoint_id, name).await?;
    Ok(out)
}

/// A redeploy's preview: the line diff of the held file against the new one, and whether the
/// new one reads.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub diff: Vec<diff::Line>,
    pub error: Option<String>,
}

pub async fn preview(store: &Store, m: &Mirror, spec: &DeploySpec) -> Result<Preview> {
    let old = store::latest(store.pool(), m.endpoint_id, spec.name.trim())
        .await?
        .map(|v| v.compose)
        .unwrap_or_default();
    Ok(Preview {
        diff: diff::lines(&old, &spec.compose),
        error: check(spec).err().map(|e| e.to_string()),
    })
}
