//! Plan and apply: what a project needs on the engine, compared with what is there (found by
//! compose's labels), and the engine calls that close the gap — networks and volumes first,
//! then services in dependency order, recreating only those whose config hash changed.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerSummary, EndpointSettings, HealthConfig, HostConfig, Mount,
    MountTmpfsOptions, MountType, MountVolumeOptions, NetworkConnectRequest, NetworkCreateRequest,
    NetworkingConfig, PortBinding, RestartPolicy, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, InspectNetworkOptions, ListContainersOptions,
    RemoveContainerOptions, StartContainerOptions, StopContainerOptions,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::compose::{self, Project, Service};
use super::labels as L;
use crate::engine::Mirror;
use crate::error::{Error, Result};

/// What a deploy did to each service, for the answer and the audit.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ServiceOutcome {
    pub name: String,
    /// `created`, `recreated`, `unchanged`, `scaled` or `removed`.
    pub action: String,
    pub containers: Vec<String>,
}

/// The config hash of a service: its normalised definition and its image's id.
pub fn config_hash(s: &Service, image_id: &str) -> String {
    #[derive(Serialize)]
    struct Hashed<'a> {
        service: &'a Service,
        image_id: &'a str,
    }
    let json = serde_json::to_vec(&Hashed {
        service: s,
        image_id,
    })
    .unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// Containers of a project (not one-off), any state, by service.
pub async fn project_containers(
    m: &Mirror,
    project: &str,
) -> Result<BTreeMap<String, Vec<ContainerSummary>>> {
    let d = m.docker()?;
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{}={project}", L::PROJECT)],
    )]);
    let list = d
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(|e| m.err(e))?;
    let mut out: BTreeMap<String, Vec<ContainerSummary>> = BTreeMap::new();
    for c in list {
        let labels = c.labels.clone().unwrap_or_default();
        if labels.get(L::ONEOFF).map(String::as_str) == Some("True") {
            continue;
        }
        let svc = labels.get(L::SERVICE).cloned().unwrap_or_default();
        out.entry(svc).or_default().push(c);
    }
    for v in out.values_mut() {
        v.sort_by_key(number);
    }
    Ok(out)
}

fn number(c: &ContainerSummary) -> u32 {
    c.labels
        .as_ref()
        .and_then(|l| l.get(L::NUMBER))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn label(c: &ContainerSummary, k: &str) -> Option<String> {
    c.labels.as_ref().and_then(|l| l.get(k)).cloned()
}

fn base_labels(project: &str) -> HashMap<String, String> {
    HashMap::from([
        (L::PROJECT.to_string(), project.to_string()),
        (L::VERSION.to_string(), L::COMPOSE_VERSION.to_string()),
    ])
}

/// Creates the project's networks and volumes that are missing; external ones must exist.
async fn ensure_networks_and_volumes(m: &Mirror, p: &Project) -> Result<()> {
    let d = m.docker()?;
    for (key, n) in &p.networks {
        let found = d
            .inspect_network(&n.name, None::<InspectNetworkOptions>)
            .await;
        match found {
            Ok(_) => continue,
            Err(e) if n.external => {
                return Err(Error::invalid(
                    "compose",
                    format!(
                        "the external network `{}` does not exist on this engine ({})",
                        n.name,
                        m.err(e)
                    ),
                ));
            }
            Err(_) => {}
        }
        let mut labels = base_labels(&p.name);
        labels.insert(L::NETWORK.into(), key.clone());
        labels.extend(n.labels.clone());
        d.create_network(NetworkCreateRequest {
            name: n.name.clone(),
            driver: n.driver.clone(),
            internal: Some(n.internal),
            attachable: Some(n.attachable),
            labels: Some(labels),
            options: Some(n.driver_opts.clone().into_iter().collect()),
            ..Default::default()
        })
        .await
        .map_err(|e| m.err(e))?;
    }
    for (key, v) in &p.volumes {
        let found = d.inspect_volume(&v.name).await;
        match found {
            Ok(_) => continue,
            Err(e) if v.external => {
                return Err(Error::invalid(
                    "compose",
                    format!(
                        "the external volume `{}` does not exist on this engine ({})",
                        v.name,
                        m.err(e)
                    ),
                ));
            }
            Err(_) => {}
        }
        let mut labels = base_labels(&p.name);
        labels.insert(L::VOLUME.into(), key.clone());
        labels.extend(v.labels.clone());
        d.create_volume(VolumeCreateRequest {
            name: Some(v.name.clone()),
            driver: v.driver.clone(),
            driver_opts: Some(v.driver_opts.clone().into_iter().collect()),
            labels: Some(labels),
            ..Default::default()
        })
        .await
        .map_err(|e| m.err(e))?;
    }
    let _ = m.refresh_networks().await;
    let _ = m.refresh_volumes().await;
    Ok(())
}

/// The engine's create body for replica `n` of a service.
fn body(p: &Project, s: &Service, n: u32, hash: &str, working_dir: &str) -> ContainerCreateBody {
    let mut exposed = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for port in &s.ports {
        let key = format!("{}/{}", port.container_port, port.protocol);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: port.host_ip.clone(),
                host_port: Some(port.host_port.map(|h| h.to_string()).unwrap_or_default()),
            });
    }
    let mounts: Vec<Mount> = s
        .mounts
        .iter()
        .map(|mt| Mount {
            target: Some(mt.target.clone()),
            source: match mt.kind.as_str() {
                "volume" => mt
                    .source
                    .as_ref()
                    .and_then(|k| p.volumes.get(k))
                    .map(|v| v.name.clone()),
                _ => mt.source.clone(),
            },
            typ: Some(match mt.kind.as_str() {
                "bind" => MountType::BIND,
                "tmpfs" => MountType::TMPFS,
                _ => MountType::VOLUME,
            }),
            read_only: Some(mt.read_only),
            volume_options: mt.nocopy.then(|| MountVolumeOptions {
                no_copy: Some(true),
                ..Default::default()
            }),
            tmpfs_options: mt.tmpfs_size.map(|size| MountTmpfsOptions {
                size_bytes: Some(size),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let restart = s.restart.as_deref().and_then(|r| {
        crate::engine::create::parse_restart(r)
            .ok()
            .flatten()
            .map(|(name, n)| RestartPolicy {
                name: Some(name),
                maximum_retry_count: (n > 0).then_some(n),
            })
    });
    let mut labels: HashMap<String, String> = s.labels.clone().into_iter().collect();
    labels.extend(base_labels(&p.name));
    labels.insert(L::SERVICE.into(), s.name.clone());
    labels.insert(L::NUMBER.into(), n.to_string());
    labels.insert(L::ONEOFF.into(), "False".into());
    labels.insert(L::CONFIG_HASH.into(), hash.to_string());
    labels.insert(L::WORKING_DIR.into(), working_dir.to_string());
    labels.insert(
        L::CONFIG_FILES.into(),
        format!("{working_dir}/docker-compose.yml"),
    );
    labels.insert(
        L::DEPENDS_ON.into(),
        s.depends_on
            .iter()
            .map(|(d, c)| format!("{d}:{c}:false"))
            .collect::<Vec<_>>()
            .join(","),
    );
    labels.insert(L::IMAGE.into(), s.image.clone());
    let first_net = s.networks.keys().next().cloned();
    let networking_config = first_net.as_ref().map(|key| {
        let aliases = aliases(s, key);
        NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                p.networks[key].name.clone(),
                EndpointSettings {
                    aliases: Some(aliases),
                    ..Default::default()
                },
            )])),
        }
    });
    ContainerCreateBody {
        image: Some(s.image.clone()),
        cmd: s.command.clone(),
        entrypoint: s.entrypoint.clone(),
        env: Some(s.env.clone()),
        labels: Some(labels),
        hostname: s.hostname.clone(),
        user: s.user.clone(),
        working_dir: s.working_dir.clone(),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck: s.healthcheck.as_ref().map(|h| HealthConfig {
            test: (!h.test.is_empty()).then(|| h.test.clone()),
            interval: h.interval,
            timeout: h.timeout,
            retries: h.retries,
            start_period: h.start_period,
            ..Default::default()
        }),
        host_config: Some(HostConfig {
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            mounts: (!mounts.is_empty()).then_some(mounts),
            restart_policy: restart,
            network_mode: first_net.map(|k| p.networks[&k].name.clone()),
            memory: s.memory,
            nano_cpus: s.nano_cpus,
            ..Default::default()
        }),
        networking_config,
        ..Default::default()
    }
}

/// The service's name and its declared aliases on a network, as compose gives them.
fn aliases(s: &Service, key: &str) -> Vec<String> {
    let mut a = vec![s.name.clone()];
    a.extend(s.networks.get(key).cloned().unwrap_or_default());
    a
}

/// Stops and removes a container (its anonymous volumes stay unless `volumes`).
pub async fn remove_container(d: &Docker, m: &Mirror, id: &str, volumes: bool) -> Result<()> {
    let _ = d
        .stop_container(
            id,
            Some(StopContainerOptions {
                t: Some(10),
                signal: None,
            }),
        )
        .await;
    match d
        .remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                v: volumes,
                link: false,
            }),
        )
        .await
    {
        Ok(()) => {}
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => return Err(m.err(e)),
    }
    m.forget_container(id);
    Ok(())
}

/// Creates replica `n` of a service, connects its other networks, starts it.
async fn create_one(
    d: &Docker,
    m: &Mirror,
    p: &Project,
    s: &Service,
    n: u32,
    hash: &str,
    working_dir: &str,
) -> Result<String> {
    let name = format!("{}-{}-{n}", p.name, s.name);
    let r = d
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            body(p, s, n, hash, working_dir),
        )
        .await
        .map_err(|e| m.err(e))?;
    for key in s.networks.keys().skip(1) {
        d.connect_network(
            &p.networks[key].name,
            NetworkConnectRequest {
                container: r.id.clone(),
                endpoint_config: Some(EndpointSettings {
                    aliases: Some(aliases(s, key)),
                    ..Default::default()
                }),
            },
        )
        .await
        .map_err(|e| m.err(e))?;
    }
    d.start_container(&r.id, None::<StartContainerOptions>)
        .await
        .map_err(|e| m.err(e))?;
    let _ = m.refresh_container(&r.id).await;
    Ok(name)
}

/// Waits until the containers of `service` are healthy (or exited 0, for
/// `service_completed_successfully`); a failure names the service.
async fn wait_for(d: &Docker, m: &Mirror, ids: &[String], service: &str, cond: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    for id in ids {
        loop {
            let c = d
                .inspect_container(id, None::<InspectContainerOptions>)
                .await
                .map_err(|e| m.err(e))?;
            let st = c.state.unwrap_or_default();
            let done = match cond {
                "service_healthy" => {
                    let h = st
                        .health
                        .and_then(|h| h.status)
                        .map(|s| s.to_string())
                        .unwrap_or_default();
                    if h == "unhealthy" {
                        return Err(Error::invalid(
                            "compose",
                            format!(
                                "service `{service}` is unhealthy, so its dependants were not started"
                            ),
                        ));
                    }
                    if h.is_empty() || h == "none" {
                        return Err(Error::invalid(
                            "compose",
                            format!(
                                "service `{service}` has no healthcheck, but a dependant waits for it to be healthy"
                            ),
                        ));
                    }
                    h == "healthy"
                }
                _ => {
                    let running = st.running.unwrap_or(false);
                    if !running {
                        let code = st.exit_code.unwrap_or(0);
                        if code != 0 {
                            return Err(Error::invalid(
                                "compose",
                                format!(
                                    "service `{service}` exited with code {code}, so its dependants were not started"
                                ),
                            ));
                        }
                    }
                    !running
                }
            };
            if done {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Error::invalid(
                    "compose",
                    format!("service `{service}` did not become {cond} within 120 s"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    Ok(())
}

/// Brings the engine in line with the project: only services whose config hash changed (or
/// whose replica count did) are touched; services gone from the file lose their containers.
pub async fn apply(
    m: &Mirror,
    p: &Project,
    image_ids: &HashMap<String, String>,
    working_dir: &str,
) -> Result<Vec<ServiceOutcome>> {
    let d = m.docker()?;
    ensure_networks_and_volumes(m, p).await?;
    let mut existing = project_containers(m, &p.name).await?;
    let order = compose::order(&p.services)
        .map_err(|s| Error::invalid("compose", format!("service `{s}` is in a cycle")))?;
    let mut out = Vec::new();
    let mut started: HashMap<String, Vec<String>> = HashMap::new();
    for name in order {
        let s = &p.services[&name];
        for (dep, cond) in &s.depends_on {
            if cond != "service_started"
                && let Some(ids) = started.get(dep)
            {
                wait_for(d, m, ids, dep, cond).await?;
            }
        }
        let image_id = image_ids.get(&s.image).cloned().unwrap_or_default();
        let hash = config_hash(s, &image_id);
        let have = existing.remove(&name).unwrap_or_default();
        let (same, stale): (Vec<_>, Vec<_>) = have
            .into_iter()
            .partition(|c| label(c, L::CONFIG_HASH).as_deref() == Some(hash.as_str()));
        let action = if stale.is_empty() && same.is_empty() {
            "created"
        } else if !stale.is_empty() {
            "recreated"
        } else if same.len() as u32 != s.replicas {
            "scaled"
        } else {
            "unchanged"
        };
        for c in &stale {
            if let Some(id) = &c.id {
                remove_container(d, m, id, false).await?;
            }
        }
        let mut keep: Vec<ContainerSummary> = same;
        // Scale down: the highest numbers go.
        while keep.len() as u32 > s.replicas {
            if let Some(c) = keep.pop()
                && let Some(id) = &c.id
            {
                remove_container(d, m, id, false).await?;
            }
        }
        let mut ids = Vec::new();
        let mut names = Vec::new();
        for c in &keep {
            if let Some(id) = &c.id {
                if c.state.as_ref().map(|s| s.to_string()).as_deref() != Some("running") {
                    d.start_container(id, None::<StartContainerOptions>)
                        .await
                        .map_err(|e| m.err(e))?;
                    let _ = m.refresh_container(id).await;
                }
                ids.push(id.clone());
                names.push(
                    c.names
                        .as_ref()
                        .and_then(|n| n.first())
                        .map(|n| n.trim_start_matches('/').to_string())
                        .unwrap_or_default(),
                );
            }
        }
        let used: Vec<u32> = keep.iter().map(number).collect();
        let mut n = 1;
        while (ids.len() as u32) < s.replicas {
            while used.contains(&n) {
                n += 1;
            }
            let cname = create_one(d, m, p, s, n, &hash, working_dir).await?;
            ids.push(cname.clone());
            names.push(cname);
            n += 1;
        }
        started.insert(name.clone(), ids);
        out.push(ServiceOutcome {
            name: name.clone(),
            action: action.into(),
            containers: names,
        });
    }
    // Services no longer in the file.
    for (name, cs) in existing {
        for c in &cs {
            if let Some(id) = &c.id {
                remove_container(d, m, id, false).await?;
            }
        }
        out.push(ServiceOutcome {
            name,
            action: "removed".into(),
            containers: Vec::new(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_follows_config_and_image_but_not_replicas() {
        let p = compose::parse(
            "demo",
            "services:\n  a:\n    image: x\n    environment: [A=1]\n",
            "",
            &HashMap::new(),
        )
        .unwrap();
        let mut s = p.services["a"].clone();
        let h = config_hash(&s, "sha256:1");
        assert_eq!(h, config_hash(&s, "sha256:1"));
        assert_ne!(h, config_hash(&s, "sha256:2"));
        s.replicas = 3;
        assert_eq!(h, config_hash(&s, "sha256:1"));
        s.env = vec!["A=2".into()];
        assert_ne!(h, config_hash(&s, "sha256:1"));
        let b = body(&p, &s, 2, &h, "/w");
        let labels = b.labels.unwrap();
        assert_eq!(labels[L::NUMBER], "2");
        assert_eq!(labels[L::ONEOFF], "False");
        assert_eq!(labels[L::PROJECT], "demo");
        assert_eq!(
            b.host_config.unwrap().network_mode.as_deref(),
            Some("demo_default")
        );
    }
}
