//! The engine as a whole: identity and resources (from the mirror), and disk usage (from
//! `/system/df`, cached so that viewing the dashboard does not ask the engine each time).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::query_parameters::{DataUsageOptions, ListContainersOptions};
use serde::Serialize;
use tokio::sync::Mutex;

use super::Mirror;
use super::containers;
use crate::error::Result;

#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct InfoView {
    pub endpoint: String,
    pub name: String,
    pub server_version: String,
    pub api_version: String,
    pub min_api_version: String,
    pub os: String,
    pub os_type: String,
    pub os_version: String,
    pub kernel_version: String,
    pub architecture: String,
    pub cpus: i64,
    pub memory: i64,
    pub storage_driver: String,
    /// Default isolation of a Windows engine (process on Server, hyperv on client).
    pub isolation: Option<String>,
    pub cgroup_version: Option<String>,
    pub containers_running: usize,
    pub containers_paused: usize,
    pub containers_stopped: usize,
    pub images: usize,
    pub networks: usize,
    pub volumes: usize,
}

pub fn info(m: &Mirror) -> InfoView {
    let (running, paused, stopped) = containers::counts(m);
    m.read(|s| {
        let mut v = InfoView {
            endpoint: m.url.clone(),
            containers_running: running,
            containers_paused: paused,
            containers_stopped: stopped,
            images: s.images.len(),
            networks: s.networks.len(),
            volumes: s.volumes.len(),
            ..Default::default()
        };
        if let Some(i) = &s.info {
            v.name = i.name.clone().unwrap_or_default();
            v.os = i.operating_system.clone().unwrap_or_default();
            v.os_type = i.os_type.clone().unwrap_or_default();
            v.os_version = i.os_version.clone().unwrap_or_default();
            v.kernel_version = i.kernel_version.clone().unwrap_or_default();
            v.architecture = i.architecture.clone().unwrap_or_default();
            v.cpus = i.ncpu.unwrap_or_default();
            v.memory = i.mem_total.unwrap_or_default();
            v.storage_driver = i.driver.clone().unwrap_or_default();
            v.isolation = i.isolation.map(|x| x.to_string()).filter(|x| !x.is_empty());
            v.cgroup_version = i
                .cgroup_version
                .map(|x| x.to_string())
                .filter(|x| !x.is_empty());
        }
        if let Some(ver) = &s.version {
            v.server_version = ver.version.clone().unwrap_or_default();
            v.api_version = ver.api_version.clone().unwrap_or_default();
            v.min_api_version = ver.min_api_version.clone().unwrap_or_default();
        }
        v
    })
}

/// One class of disk usage.
#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct Usage {
    pub count: i64,
    pub active: i64,
    pub total: i64,
    pub reclaimable: i64,
    /// False when this engine's API does not report this class.
    pub known: bool,
}

#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct DiskUsage {
    pub images: Usage,
    pub containers: Usage,
    pub volumes: Usage,
    pub build_cache: Usage,
    /// Unix time the engine was asked.
    pub measured_at: i64,
    /// How the figures were obtained ("system/df", or "computed from lists" on older engines).
    pub source: String,
}

impl DiskUsage {
    /// The four classes with their labels, in the order the dashboard shows them.
    pub fn rows(&self) -> Vec<(&'static str, Usage)> {
        vec![
            ("Images", self.images.clone()),
            ("Containers", self.containers.clone()),
            ("Volumes", self.volumes.clone()),
            ("Build cache", self.build_cache.clone()),
        ]
    }

    /// The largest total, to scale the chart's bars.
    pub fn max_total(&self) -> i64 {
        [
            &self.images,
            &self.containers,
            &self.volumes,
            &self.build_cache,
        ]
        .iter()
        .map(|u| u.total)
        .max()
        .unwrap_or(0)
        .max(1)
    }
}

/// Disk usage, asked of the engine at most once per `max_age`; concurrent viewers share one call.
pub struct DiskUsageCache {
    max_age: Duration,
    slot: Mutex<Option<(Instant, Arc<DiskUsage>)>>,
}

impl DiskUsageCache {
    pub fn new(max_age: Duration) -> Self {
        DiskUsageCache {
            max_age,
            slot: Mutex::new(None),
        }
    }

    pub async fn get(&self, m: &Mirror) -> Result<Arc<DiskUsage>> {
        let mut slot = self.slot.lock().await;
        if let Some((at, du)) = slot.as_ref()
            && at.elapsed() < self.max_age
        {
            return Ok(du.clone());
        }
        // Sizing races with containers removed meanwhile ("No such container"): ask again.
        let mut attempt = 0;
        let du = loop {
            attempt += 1;
            match measure(m).await {
                Ok(du) => break Arc::new(du),
                Err(crate::error::Error::EngineRefused { message, .. }) if attempt < 3 => {
                    tracing::debug!(%message, "disk usage raced with a change; asking again");
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
                Err(e) => return Err(e),
            }
        };
        *slot = Some((Instant::now(), du.clone()));
        Ok(du)
    }
}

/// API 1.52 reshaped `/system/df` into per-class usage objects, which bollard models. Older
/// engines answer the former shape, which the current models do not carry: there the figures
/// are computed from the lists the engine gives (volume and build-cache usage are then unknown).
async fn measure(m: &Mirror) -> Result<DiskUsage> {
    // Sizing every writable layer can take the engine a while on a busy host.
    let d = &m.docker()?.clone().with_timeout(Duration::from_secs(120));
    // The engine runs one disk usage at a time and refuses a second one meanwhile (another
    // client asking): wait a little and ask again rather than show that as an error.
    let mut tries = 0;
    let df = loop {
        match d.df(None::<DataUsageOptions>).await.map_err(|e| m.err(e)) {
            Err(crate::error::Error::EngineRefused { message, .. })
                if message.contains("already running") && tries < 20 =>
            {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            other => break other?,
        }
    };
    let now = crate::store::now();
    if df.image_usage.is_some() || df.container_usage.is_some() {
        let conv = |count: Option<i64>,
                    active: Option<i64>,
                    total: Option<i64>,
                    recl: Option<i64>| Usage {
            count: count.unwrap_or(0),
            active: active.unwrap_or(0),
            total: total.unwrap_or(0),
            reclaimable: recl.unwrap_or(0),
            known: total.is_some(),
        };
        let i = df.image_usage.unwrap_or_default();
        let c = df.container_usage.unwrap_or_default();
        let v = df.volume_usage.unwrap_or_default();
        let b = df.build_cache_usage.unwrap_or_default();
        return Ok(DiskUsage {
            images: conv(i.total_count, i.active_count, i.total_size, i.reclaimable),
            containers: conv(c.total_count, c.active_count, c.total_size, c.reclaimable),
            volumes: conv(v.total_count, v.active_count, v.total_size, v.reclaimable),
            build_cache: conv(b.total_count, b.active_count, b.total_size, b.reclaimable),
            measured_at: now,
            source: "system/df".into(),
        });
    }
    // Older engine: images from the mirror, containers' writable layers from a sized list.
    let sized = d
        .list_containers(Some(ListContainersOptions {
            all: true,
            size: true,
            ..Default::default()
        }))
        .await
        .map_err(|e| m.err(e))?;
    let used_images: std::collections::HashSet<String> =
        sized.iter().filter_map(|c| c.image_id.clone()).collect();
    let (images, volumes) = m.read(|s| {
        let mut u = Usage {
            known: true,
            ..Default::default()
        };
        let mut max_shared = 0;
        for img in s.images.values() {
            u.count += 1;
            let shared = img.shared_size.max(0);
            let unique = img.size - shared;
            max_shared = max_shared.max(shared);
            u.total += unique;
            if used_images.contains(&img.id) {
                u.active += 1;
            } else {
                u.reclaimable += unique;
            }
        }
        // Shared layers counted once (a lower bound when several distinct bases are shared).
        u.total += max_shared;
        let vols = Usage {
            count: s.volumes.len() as i64,
            known: false,
            ..Default::default()
        };
        (u, vols)
    });
    // The layer map knows which layers images share: exact totals, each layer counted once.
    let images = match super::layers::map(m).await {
        Ok(map) => {
            let unused: std::collections::HashSet<&str> = map
                .images
                .iter()
                .map(|i| i.id.as_str())
                .filter(|id| !used_images.contains(*id))
                .collect();
            Usage {
                count: map.images.len() as i64,
                active: (map.images.len() - unused.len()) as i64,
                total: map.total_size,
                reclaimable: map.freed_by(&unused),
                known: true,
            }
        }
        Err(_) => images,
    };
    let mut containers = Usage {
        known: true,
        ..Default::default()
    };
    for c in &sized {
        containers.count += 1;
        let rw = c.size_rw.unwrap_or(0).max(0);
        containers.total += rw;
        let running = c.state.map(|s| s.to_string() == "running").unwrap_or(false);
        if running {
            containers.active += 1;
        } else {
            containers.reclaimable += rw;
        }
    }
    Ok(DiskUsage {
        images,
        containers,
        volumes,
        build_cache: Usage::default(),
        measured_at: now,
        source: format!(
            "computed from lists (engine API {} predates per-class /system/df)",
            m.health().api_version.unwrap_or_default()
        ),
    })
}
