//! The live state mirror of one endpoint.
//!
//! A full listing at start, then the engine's `/events` stream keeps it current: each event
//! re-reads just the object it names. A periodic full resync, and one after the event stream
//! drops, repair anything missed. Pages and the JSON API read from here, so a page view costs no
//! engine call. When the engine is unreachable the mirror keeps the state last seen, says so in
//! its [`Health`], and reconnects with backoff.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{EventMessage, EventMessageTypeEnum, SystemInfo, SystemVersion};
use bollard::query_parameters::{
    EventsOptions, ListContainersOptions, ListImagesOptions, ListNetworksOptions,
    ListVolumesOptions,
};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::views::{ContainerView, ImageView, Listed, NetworkView, VolumeView};
use crate::error::{Error, Result, from_engine};
use crate::store::now;

/// What changed, for pages that update themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Topic {
    Containers,
    Images,
    Networks,
    Volumes,
    Engine,
}

impl Topic {
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Containers => "containers",
            Topic::Images => "images",
            Topic::Networks => "networks",
            Topic::Volumes => "volumes",
            Topic::Engine => "engine",
        }
    }
}

/// Whether the engine answers, as last seen.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Health {
    pub up: bool,
    /// Why it is down (or why the last sync failed).
    pub error: Option<String>,
    /// Unix time of the last change of `up`.
    pub since: i64,
    /// Unix time of the last complete listing.
    pub last_sync: Option<i64>,
    /// The API version agreed with the engine.
    pub api_version: Option<String>,
}

/// Everything the mirror knows of the engine.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub containers: BTreeMap<String, Arc<ContainerView>>,
    pub images: BTreeMap<String, Arc<ImageView>>,
    pub networks: BTreeMap<String, Arc<NetworkView>>,
    pub volumes: BTreeMap<String, Arc<VolumeView>>,
    pub info: Option<Arc<SystemInfo>>,
    pub version: Option<Arc<SystemVersion>>,
}

pub struct Mirror {
    pub endpoint_id: i64,
    pub name: String,
    pub url: String,
    docker: Option<Docker>,
    connect_error: Option<String>,
    snap: RwLock<Snapshot>,
    health: watch::Sender<Health>,
    changes: broadcast::Sender<Topic>,
    calls: Arc<super::CallCounters>,
    resync_every: Duration,
    /// `/system/df`, asked at most every 30 s.
    pub disk: super::system::DiskUsageCache,
    /// The layer sharing map, kept for the current image set.
    pub layers: super::layers::LayerCache,
    /// Pulls, builds and loads started from pages, followed over server-sent events.
    pub jobs: super::progress::Jobs,
    /// Engine log streams open now (each ends when its reader goes).
    pub log_streams: super::logs::LogGauge,
    /// Live stats: one engine stream per watched container.
    pub stats: super::stats::StatsHub,
    /// Pages and JSON lists rendered from the snapshot, shared by every viewer.
    pub renderings: super::renderings::Renderings,
}

impl Mirror {
    /// A mirror for an endpoint; `docker` is None when the client could not even be built (a bad
    /// address or missing certificate): the mirror then stays down with that reason.
    pub fn new(
        endpoint_id: i64,
        name: String,
        url: String,
        docker: std::result::Result<Docker, String>,
        calls: Arc<super::CallCounters>,
        resync_every: Duration,
    ) -> Arc<Self> {
        let (docker, connect_error) = match docker {
            Ok(d) => (Some(d), None),
            Err(e) => (None, Some(e)),
        };
        let health = Health {
            up: false,
            error: connect_error.clone(),
            since: now(),
            ..Default::default()
        };
        let (changes, _) = broadcast::channel(256);
        Arc::new(Mirror {
            endpoint_id,
            name,
            url,
            docker,
            connect_error,
            snap: RwLock::new(Snapshot::default()),
            health: watch::channel(health).0,
            changes,
            calls,
            resync_every,
            disk: super::system::DiskUsageCache::new(Duration::from_secs(30)),
            layers: super::layers::LayerCache::new(),
            jobs: super::progress::Jobs::new(),
            log_streams: Default::default(),
            stats: Default::default(),
            renderings: Default::default(),
        })
    }

    /// The bollard client, or the reason there is none.
    pub fn docker(&self) -> Result<&Docker> {
        self.docker.as_ref().ok_or_else(|| Error::EngineDown {
            endpoint: self.url.clone(),
            reason: self.connect_error.clone().unwrap_or_default(),
        })
    }

    /// Maps an engine error of this endpoint.
    pub fn err(&self, e: bollard::errors::Error) -> Error {
        from_engine(&self.url, e)
    }

    pub fn engine_calls(&self) -> u64 {
        self.calls.total.load(Ordering::Relaxed)
    }

    pub fn request_engine_calls(&self) -> u64 {
        self.calls.in_requests.load(Ordering::Relaxed)
    }

    pub fn health(&self) -> Health {
        self.health.borrow().clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Topic> {
        self.changes.subscribe()
    }

    /// Live pages following this mirror (server-sent event subscribers).
    pub fn subscribers(&self) -> usize {
        self.changes.receiver_count()
    }

    pub fn health_watch(&self) -> watch::Receiver<Health> {
        self.health.subscribe()
    }

    /// Reads the snapshot. Keep the closure short: it holds the lock.
    pub fn read<T>(&self, f: impl FnOnce(&Snapshot) -> T) -> T {
        let guard = self.snap.read().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    /// Changes the snapshot when `f` says it changed anything (renderings of the lists are then
    /// out of date). `info` and `version` are not lists: no rendering is kept of them.
    fn write_if(&self, f: impl FnOnce(&mut Snapshot) -> bool) -> bool {
        let mut guard = self.snap.write().unwrap_or_else(|p| p.into_inner());
        let changed = f(&mut guard);
        if changed {
            self.renderings.invalidate();
        }
        changed
    }

    fn write(&self, f: impl FnOnce(&mut Snapshot)) {
        self.write_if(|s| {
            f(s);
            true
        });
    }

    fn notify(&self, topic: Topic) {
        let _ = self.changes.send(topic);
    }

    fn set_up(&self, up: bool, error: Option<String>) {
        self.health.send_modify(|h| {
            if h.up != up {
                h.since = now();
            }
            h.up = up;
            h.error = error;
        });
        self.notify(Topic::Engine);
    }

    /// Runs until `shutdown`: connect, list, follow events; reconnect with backoff on failure.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let Some(docker) = self.docker.clone() else {
            tracing::warn!(endpoint = %self.url, error = ?self.connect_error, "engine client not built");
            return;
        };
        let mut backoff = Duration::from_secs(1);
        loop {
            let outcome = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = self.follow(&docker) => r,
            };
            if let Err(e) = outcome {
                let reason = e.to_string();
                if self.health.borrow().up || self.health.borrow().error.as_deref() != Some(&reason)
                {
                    tracing::warn!(endpoint = %self.url, error = %reason, "engine unreachable; retrying");
                }
                self.set_up(false, Some(reason));
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(15));
            if self.health.borrow().up {
                backoff = Duration::from_secs(1);
            }
        }
    }

    /// One connected spell: returns when the event stream or a resync fails.
    async fn follow(&self, docker: &Docker) -> Result<()> {
        let negotiated = docker
            .clone()
            .negotiate_version()
            .await
            .map_err(|e| self.err(e))?;
        let api = negotiated.client_version().to_string();
        self.health.send_modify(|h| h.api_version = Some(api));
        // Events since just before the listing: whatever happens while we list is replayed.
        let since = (now() - 2).to_string();
        let filters = HashMap::from([(
            "type".to_string(),
            vec![
                "container".into(),
                "image".into(),
                "network".into(),
                "volume".into(),
                "daemon".into(),
            ],
        )]);
        let mut events = docker.events(Some(EventsOptions {
            since: Some(since),
            until: None,
            filters: Some(filters),
        }));
        self.resync(docker).await?;
        self.set_up(true, None);
        tracing::info!(endpoint = %self.url, "engine mirror in sync");
        let mut tick = tokio::time::interval(self.resync_every);
        tick.tick().await;
        loop {
            tokio::select! {
                ev = events.next() => match ev {
                    Some(Ok(ev)) => self.apply(docker, ev).await,
                    Some(Err(e)) => return Err(self.err(e)),
                    None => return Err(Error::EngineDown { endpoint: self.url.clone(), reason: "the event stream ended".into() }),
                },
                _ = tick.tick() => self.resync(docker).await?,
            }
        }
    }

    /// Full listing of everything; replaces the snapshot.
    pub async fn resync(&self, docker: &Docker) -> Result<()> {
        let started = Instant::now();
        let (containers, images, networks, volumes, info, version) = tokio::try_join!(
            list_containers(docker, None),
            docker.list_images(Some(ListImagesOptions {
                all: false,
                shared_size: true,
                ..Default::default()
            })),
            docker.list_networks(None::<ListNetworksOptions>),
            docker.list_volumes(None::<ListVolumesOptions>),
            docker.info(),
            docker.version(),
        )
        .map_err(|e| self.err(e))?;
        let containers = containers
            .into_iter()
            .filter_map(ContainerView::from_summary)
            .collect();
        let images = images.into_iter().map(ImageView::from_summary).collect();
        let networks = networks
            .into_iter()
            .filter_map(NetworkView::from_network)
            .collect();
        let volumes = volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(VolumeView::from_volume)
            .collect();
        // At rest a listing changes nothing: the objects kept are the ones already held, pages
        // keep their renderings and live pages are not told to reload.
        let mut changed = [false; 4];
        self.write_if(|s| {
            changed = [
                merge(&mut s.containers, containers),
                merge(&mut s.images, images),
                merge(&mut s.networks, networks),
                merge(&mut s.volumes, volumes),
            ];
            s.info = Some(Arc::new(info));
            s.version = Some(Arc::new(version));
            changed.contains(&true)
        });
        self.health.send_modify(|h| h.last_sync = Some(now()));
        // A full listing parses megabytes at 1000 containers: give that garbage back at once
        // (off the async workers: a trim walks every arena).
        tokio::task::spawn_blocking(crate::alloc::trim);
        tracing::debug!(endpoint = %self.url, ms = started.elapsed().as_millis() as u64, "resync");
        let topics = [
            Topic::Containers,
            Topic::Images,
            Topic::Networks,
            Topic::Volumes,
        ];
        for (t, changed) in topics.into_iter().zip(changed) {
            if changed {
                self.notify(t);
            }
        }
        self.notify(Topic::Engine);
        Ok(())
    }

    async fn apply(&self, docker: &Docker, ev: EventMessage) {
        let action = ev.action.unwrap_or_default();
        let actor = ev.actor.unwrap_or_default();
        let id = actor.id.unwrap_or_default();
        let attrs = actor.attributes.unwrap_or_default();
        let result = match ev.typ {
            Some(EventMessageTypeEnum::CONTAINER) => {
                if action == "destroy" {
                    self.forget_container(&id);
                    Ok(())
                } else if action.starts_with("exec_")
                    || matches!(
                        action.as_str(),
                        "top"
                            | "attach"
                            | "detach"
                            | "resize"
                            | "copy"
                            | "archive-path"
                            | "extract-to-dir"
                            | "export"
                            | "commit"
                    )
                {
                    Ok(())
                } else {
                    self.refresh_container_with(docker, &id).await
                }
            }
            Some(EventMessageTypeEnum::IMAGE) => self.refresh_images_with(docker).await,
            Some(EventMessageTypeEnum::NETWORK) => {
                let r = self.refresh_networks_with(docker).await;
                match attrs.get("container") {
                    Some(cid) if action == "connect" || action == "disconnect" => {
                        self.refresh_container_with(docker, cid).await.and(r)
                    }
                    _ => r,
                }
            }
            Some(EventMessageTypeEnum::VOLUME) if action != "mount" && action != "unmount" => {
                self.refresh_volumes_with(docker).await
            }
            Some(EventMessageTypeEnum::DAEMON) => self.refresh_info_with(docker).await,
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::debug!(endpoint = %self.url, %action, error = %e, "refresh after event failed");
        }
    }

    // ---- targeted refreshes (also used right after an action, so its result shows at once) ----

    pub async fn refresh_container(&self, id: &str) -> Result<()> {
        let docker = self.docker()?;
        self.refresh_container_with(docker, id).await
    }

    async fn refresh_container_with(&self, docker: &Docker, id: &str) -> Result<()> {
        let found = list_containers(docker, Some(id))
            .await
            .map_err(|e| self.err(e))?;
        // The id filter matches prefixes: keep the exact one, or the only one.
        let view = found
            .into_iter()
            .filter_map(ContainerView::from_summary)
            .find(|c| c.id == id || c.id.starts_with(id) || c.name == id);
        match view {
            Some(v) => self.write(|s| {
                s.containers.insert(v.id.clone(), Arc::new(v));
            }),
            None => self.write(|s| {
                s.containers.remove(id);
            }),
        }
        self.notify(Topic::Containers);
        Ok(())
    }

    pub fn forget_container(&self, id: &str) {
        self.write(|s| {
            let key = s
                .containers
                .values()
                .find(|c| c.id == id || c.name == id || (id.len() >= 4 && c.id.starts_with(id)))
                .map(|c| c.id.clone());
            if let Some(k) = key {
                s.containers.remove(&k);
            }
        });
        self.notify(Topic::Containers);
    }

    pub async fn refresh_images(&self) -> Result<()> {
        self.refresh_images_with(self.docker()?).await
    }

    async fn refresh_images_with(&self, docker: &Docker) -> Result<()> {
        let list = docker
            .list_images(Some(ListImagesOptions {
                all: false,
                shared_size: true,
                ..Default::default()
            }))
            .await
            .map_err(|e| self.err(e))?;
        let images = list.into_iter().map(ImageView::from_summary).collect();
        if self.write_if(|s| merge(&mut s.images, images)) {
            self.notify(Topic::Images);
        }
        Ok(())
    }

    pub async fn refresh_networks(&self) -> Result<()> {
        self.refresh_networks_with(self.docker()?).await
    }

    async fn refresh_networks_with(&self, docker: &Docker) -> Result<()> {
        let list = docker
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(|e| self.err(e))?;
        let nets = list
            .into_iter()
            .filter_map(NetworkView::from_network)
            .collect();
        if self.write_if(|s| merge(&mut s.networks, nets)) {
            self.notify(Topic::Networks);
        }
        Ok(())
    }

    pub async fn refresh_volumes(&self) -> Result<()> {
        self.refresh_volumes_with(self.docker()?).await
    }

    async fn refresh_volumes_with(&self, docker: &Docker) -> Result<()> {
        let list = docker
            .list_volumes(None::<ListVolumesOptions>)
            .await
            .map_err(|e| self.err(e))?;
        let vols = list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(VolumeView::from_volume)
            .collect();
        if self.write_if(|s| merge(&mut s.volumes, vols)) {
            self.notify(Topic::Volumes);
        }
        Ok(())
    }

    async fn refresh_info_with(&self, docker: &Docker) -> Result<()> {
        let info = docker.info().await.map_err(|e| self.err(e))?;
        self.write(|s| s.info = Some(Arc::new(info)));
        self.notify(Topic::Engine);
        Ok(())
    }
}

/// Brings `map` in step with a fresh full listing, keeping the objects that did not change, so
/// that a listing at rest allocates nothing that outlives it. True when anything changed.
fn merge<T: Listed>(map: &mut BTreeMap<String, Arc<T>>, fresh: Vec<T>) -> bool {
    let before = map.len();
    {
        let keys: HashSet<&str> = fresh.iter().map(Listed::key).collect();
        map.retain(|k, _| keys.contains(k.as_str()));
    }
    let mut changed = map.len() != before;
    for t in fresh {
        match map.get(t.key()) {
            Some(old) if old.same_as(&t) => {}
            _ => {
                map.insert(t.key().to_string(), Arc::new(t));
                changed = true;
            }
        }
    }
    changed
}

async fn list_containers(
    docker: &Docker,
    id: Option<&str>,
) -> std::result::Result<Vec<bollard::models::ContainerSummary>, bollard::errors::Error> {
    let filters = id.map(|id| HashMap::from([("id".to_string(), vec![id.to_string()])]));
    docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters,
            ..Default::default()
        }))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_at_rest_keeps_the_objects_held() {
        let vol = |name: &str, driver: &str| {
            VolumeView::from_volume(bollard::models::Volume {
                name: name.into(),
                driver: driver.into(),
                ..Default::default()
            })
        };
        let mut map = BTreeMap::new();
        assert!(merge(&mut map, vec![vol("a", "local"), vol("b", "local")]));
        let held = map["a"].clone();
        assert!(!merge(&mut map, vec![vol("b", "local"), vol("a", "local")]));
        assert!(
            Arc::ptr_eq(&held, &map["a"]),
            "an unchanged object is kept, not re-made"
        );
        assert!(merge(&mut map, vec![vol("a", "nfs")]));
        assert_eq!(map.len(), 1);
        assert_eq!(map["a"].driver, "nfs");
        assert!(merge(&mut map, vec![]));
        assert!(map.is_empty());
    }
}
