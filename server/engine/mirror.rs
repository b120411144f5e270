//! The live state mirror of one endpoint.
//!
//! A full listing at start, then the engine's `/events` stream keeps it current: each event
//! changes the object it names from the event itself (its state and time), then re-reads that
//! object. A periodic full resync, and one after the event stream drops, repair anything missed.
//! A stream that broke, ended or stalled (quiet while the engine's own event log holds an event
//! it did not bring) is followed again at once while the engine answers a ping. Pages and the
//! JSON API read from here, so a page view costs no engine call. When the engine is unreachable
//! the mirror keeps the state last seen, says so in its [`Health`], and reconnects with backoff.
//!
//! Nothing read can go back in time ([`Order`]): every read and every event takes a sequence
//! number, and a read is applied to an object only when no event or later-started read touched
//! that object since the read began. A container's state is taken from inspect (the container's
//! own state, updated before the engine emits the event), not from the list (the daemon's view of
//! its containers, which can lag the event by milliseconds); a listing that disagrees with what
//! the mirror holds is checked with inspect before it replaces anything.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{EventMessage, EventMessageTypeEnum, SystemInfo, SystemVersion};
use bollard::query_parameters::{
    EventsOptions, InspectContainerOptions, ListContainersOptions, ListImagesOptions,
    ListNetworksOptions, ListVolumesOptions,
};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::views::{ContainerView, ImageView, Listed, NetworkView, Restarts, VolumeView};
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
    /// The ring of engine events took a new one.
    Events,
}

impl Topic {
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Containers => "containers",
            Topic::Images => "images",
            Topic::Networks => "networks",
            Topic::Volumes => "volumes",
            Topic::Engine => "engine",
            Topic::Events => "events",
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
    /// The mirror is connecting (started, restarted after an idle stop): no listing of this
    /// connection yet and no failure either. What it holds is not to be shown as current.
    pub connecting: bool,
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
    /// How long the event stream may stay quiet before the engine is asked whether it really
    /// had nothing to say (a stalled stream looks exactly like a quiet engine).
    live_every: Duration,
    /// `/system/df`, asked at most every 30 s.
    pub disk: super::system::DiskUsageCache,
    /// The layer sharing map, kept for the current image set.
    pub layers: super::layers::LayerCache,
    /// Pulls, builds and loads started from pages, followed over server-sent events.
    pub jobs: super::progress::Jobs,
    /// The engine's events as heard, for the events page.
    pub events: super::events::EventRing,
    /// Engine log streams open now (each ends when its reader goes).
    pub log_streams: super::logs::LogGauge,
    /// Live stats: one engine stream per watched container.
    pub stats: super::stats::StatsHub,
    /// Pages and JSON lists rendered from the snapshot, shared by every viewer.
    pub renderings: super::renderings::Renderings,
    /// The order of reads and events, so that a read never replaces a newer state.
    order: Mutex<Order>,
    /// Re-reads asked for by events and not started yet.
    queued: Mutex<HashSet<String>>,
    /// Re-reads running at once.
    reread_slots: Arc<tokio::sync::Semaphore>,
    /// Cuts a reconnect backoff short (the health ping saw the engine answer).
    wake: tokio::sync::Notify,
}

/// Sequence numbers of reads and events. Each read and each event takes the next number; per
/// object the mirror keeps the number of the last event or applied read, and a read that began
/// before it is stale for that object.
#[derive(Default)]
struct Order {
    seq: u64,
    containers: HashMap<String, u64>,
    /// Containers the engine destroyed: a late read never brings one back (ids are not reused).
    destroyed: HashMap<String, Instant>,
    /// Images, networks, volumes: the last event or applied list of each kind.
    kinds: [u64; 3],
}

/// How a connected spell ended.
enum Lost {
    /// The event stream broke, ended or stalled: the engine itself may well answer.
    Events(String),
    /// An engine call failed.
    Engine(Error),
}

impl From<Error> for Lost {
    fn from(e: Error) -> Self {
        Lost::Engine(e)
    }
}

/// The kinds of event the mirror follows.
fn event_filters() -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "type".to_string(),
        ["container", "image", "network", "volume", "daemon"]
            .map(String::from)
            .to_vec(),
    )])
}

/// An event's time, Unix nanoseconds.
fn event_nanos(ev: &EventMessage) -> i64 {
    ev.time_nano
        .or(ev.time.map(|t| t * 1_000_000_000))
        .unwrap_or_else(super::views::now_nanos)
}

/// A re-read an event asks for.
enum Work {
    Container(String),
    Images,
    Networks,
    Volumes,
    Info,
}

impl Work {
    fn key(&self) -> String {
        match self {
            Work::Container(id) => id.clone(),
            Work::Images => "<images>".into(),
            Work::Networks => "<networks>".into(),
            Work::Volumes => "<volumes>".into(),
            Work::Info => "<info>".into(),
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Images = 0,
    Networks = 1,
    Volumes = 2,
}

impl Order {
    fn begin(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn event(&mut self, id: &str) {
        let s = self.begin();
        self.containers.insert(id.to_string(), s);
    }

    fn destroy(&mut self, id: &str) {
        self.event(id);
        self.destroyed.insert(id.to_string(), Instant::now());
        if self.destroyed.len() > 4096 {
            let old = Duration::from_secs(600);
            self.destroyed.retain(|_, t| t.elapsed() < old);
        }
    }

    /// Whether a read begun at `read` may set container `id`; if so, marks it applied.
    fn claim(&mut self, id: &str, read: u64) -> bool {
        if self.destroyed.contains_key(id) {
            return false;
        }
        match self.containers.get(id) {
            Some(&last) if last > read => false,
            _ => {
                self.containers.insert(id.to_string(), read);
                true
            }
        }
    }

    /// Whether container `id` was touched after a read begun at `read`.
    fn touched_since(&self, id: &str, read: u64) -> bool {
        self.destroyed.contains_key(id) || self.containers.get(id).is_some_and(|&l| l > read)
    }

    /// An event of a kind applied from the event itself: listings of it begun before are stale.
    fn kind_event(&mut self, k: Kind) {
        let s = self.begin();
        self.kinds[k as usize] = s;
    }

    /// A listing of a kind is whole and the engine's stores change before they emit the event:
    /// only a listing that began later makes it stale (an action's own refresh, begun after the
    /// action, is always applied, so its result is in the mirror when the action answers).
    fn claim_kind(&mut self, k: Kind, read: u64) -> bool {
        if self.kinds[k as usize] > read {
            return false;
        }
        self.kinds[k as usize] = read;
        true
    }
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
        live_every: Duration,
    ) -> Arc<Self> {
        let (docker, connect_error) = match docker {
            Ok(d) => (Some(d), None),
            Err(e) => (None, Some(e)),
        };
        let health = Health {
            up: false,
            error: connect_error.clone(),
            since: now(),
            connecting: connect_error.is_none(),
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
            live_every: live_every.max(Duration::from_millis(200)),
            disk: super::system::DiskUsageCache::new(Duration::from_secs(30)),
            layers: super::layers::LayerCache::new(),
            jobs: super::progress::Jobs::new(),
            events: Default::default(),
            log_streams: Default::default(),
            stats: Default::default(),
            renderings: Default::default(),
            order: Default::default(),
            queued: Default::default(),
            reread_slots: Arc::new(tokio::sync::Semaphore::new(4)),
            wake: tokio::sync::Notify::new(),
        })
    }

    fn order(&self) -> std::sync::MutexGuard<'_, Order> {
        self.order.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits up to `bound` for the mirror to finish connecting (its first listing, or a failure
    /// to reach the engine). True when what it holds may be shown: in sync, or the engine known
    /// down (its last state then shows, marked as such).
    pub async fn settled(&self, bound: Duration) -> bool {
        let mut rx = self.health.subscribe();
        let wait = rx.wait_for(|h| !h.connecting);
        matches!(tokio::time::timeout(bound, wait).await, Ok(Ok(_)))
    }

    /// Whether a view may be answered from this mirror: waits up to `bound` while it connects,
    /// then says "still connecting" rather than show an empty engine. An engine that could not
    /// be reached shows its last state (pages say so in their banner); the JSON API, which has
    /// no banner, refuses a list of an engine never listed.
    pub async fn ready_for_view(&self, bound: Duration, api: bool) -> Result<()> {
        if !self.settled(bound).await {
            return Err(Error::Connecting {
                name: self.name.clone(),
                endpoint: self.url.clone(),
            });
        }
        let h = self.health();
        if api && !h.up && h.last_sync.is_none() {
            return Err(Error::EngineDown {
                endpoint: self.url.clone(),
                reason: h.error.unwrap_or_else(|| "not listed yet".into()),
            });
        }
        Ok(())
    }

    /// Reconnects now if the mirror is waiting out a backoff.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The mirror was stopped or is starting again: what it holds is not current until it lists.
    pub fn mark_connecting(&self) {
        self.health.send_modify(|h| {
            if self.docker.is_some() {
                h.connecting = true;
                h.up = false;
                h.error = None;
            }
        });
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
            h.connecting = false;
        });
        self.notify(Topic::Engine);
    }

    /// Runs until `shutdown`: connect, list, follow events; reconnect with backoff on failure.
    /// An event stream that broke or stalled while the engine still answers is followed again at
    /// once (with a full listing), without calling the engine down.
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
            let mut pause = backoff;
            let failed = match outcome {
                Ok(()) => None,
                Err(Lost::Events(why)) => {
                    let answers = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        a = self.engine_answers(&docker) => a,
                    };
                    if answers && self.health.borrow().up {
                        tracing::info!(endpoint = %self.url, why = %why, "event stream lost; following again");
                        pause = Duration::from_millis(100);
                        None
                    } else {
                        Some(Error::EngineDown {
                            endpoint: self.url.clone(),
                            reason: why,
                        })
                    }
                }
                Err(Lost::Engine(e)) => Some(e),
            };
            if let Some(e) = failed {
                let reason = e.to_string();
                if self.health.borrow().up || self.health.borrow().error.as_deref() != Some(&reason)
                {
                    tracing::warn!(endpoint = %self.url, error = %reason, "engine unreachable; retrying");
                }
                self.set_up(false, Some(reason));
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
                _ = self.wake.notified() => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(15));
            if self.health.borrow().up {
                backoff = Duration::from_secs(1);
            }
        }
    }

    /// Whether the engine answers a ping now (within the liveness bound).
    async fn engine_answers(&self, docker: &Docker) -> bool {
        let bound = self.live_every.max(Duration::from_secs(2));
        matches!(tokio::time::timeout(bound, docker.ping()).await, Ok(Ok(_)))
    }

    /// One connected spell: returns when the event stream or a resync fails, or when the stream
    /// stalls: quiet for `live_every` while the engine's own log holds an event it has not
    /// brought (the engine sends nothing on a quiet stream, so only the engine can tell).
    async fn follow(self: &Arc<Self>, docker: &Docker) -> std::result::Result<(), Lost> {
        let negotiated = docker
            .clone()
            .negotiate_version()
            .await
            .map_err(|e| self.err(e))?;
        let api = negotiated.client_version().to_string();
        self.health.send_modify(|h| h.api_version = Some(api));
        self.backfill_events(docker).await;
        // Events since just before the listing: whatever happens while we list is replayed.
        let since = now() - 2;
        let mut events = docker.events(Some(EventsOptions {
            since: Some(since.to_string()),
            until: None,
            filters: Some(event_filters()),
        }));
        self.resync(docker).await?;
        self.set_up(true, None);
        tracing::info!(endpoint = %self.url, "engine mirror in sync");
        // Views may answer from the listing now (its status words are the engine's own, aged
        // since read); the engine's clocks follow, one inspect per container, a few at a time:
        // on a slow engine with many containers that takes seconds no first view should wait.
        self.fill_clocks(docker).await?;
        let mut tick = tokio::time::interval(self.resync_every);
        tick.tick().await;
        let mut live = tokio::time::interval(self.live_every);
        live.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        live.tick().await;
        // The time of the newest event the stream brought, when it brought one, and an event
        // the engine logged after it that the stream still owes (with the time to give up).
        let mut newest = since * 1_000_000_000;
        let mut heard = Instant::now();
        let mut owed: Option<(i64, tokio::time::Instant)> = None;
        // Re-reads run beside the event stream (a few at a time), so that a burst of events is
        // applied as it comes; they end with this spell (the set aborts them when dropped).
        let mut rereads = tokio::task::JoinSet::new();
        // Work of an earlier spell was aborted with it: none is waiting.
        self.queued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        loop {
            let give_up = async {
                match owed {
                    Some((_, at)) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ev = events.next() => match ev {
                    Some(Ok(ev)) => {
                        if self.events.push(super::events::EngineEvent::from_message(&ev)) {
                            self.notify(Topic::Events);
                        }
                        newest = newest.max(event_nanos(&ev));
                        heard = Instant::now();
                        if owed.is_some_and(|(t, _)| newest >= t) {
                            owed = None;
                        }
                        self.apply(docker, ev, &mut rereads);
                    }
                    Some(Err(e)) => return Err(Lost::Events(format!("the event stream broke: {}", self.err(e)))),
                    None => return Err(Lost::Events("the event stream ended".into())),
                },
                Some(_) = rereads.join_next(), if !rereads.is_empty() => {}
                _ = tick.tick() => {
                    self.resync(docker).await?;
                    self.fill_clocks(docker).await?;
                }
                _ = live.tick() => {
                    if owed.is_some() || heard.elapsed() < self.live_every {
                        continue;
                    }
                    if let Some(t) = self.logged_after(docker, newest).await? {
                        // Given a moment: it may be on its way.
                        owed = Some((t, tokio::time::Instant::now() + Duration::from_secs(1)));
                    }
                }
                _ = give_up => return Err(Lost::Events("the event stream stalled".into())),
            }
        }
    }

    /// Brings the events ring up to date from the engine's own event log (its last events, in
    /// memory): what happened before Berth started, or while the stream was down. Best effort:
    /// the live stream that follows is what the mirror relies on.
    async fn backfill_events(&self, docker: &Docker) {
        let nanos = |n: i64| format!("{}.{:09}", n / 1_000_000_000, n % 1_000_000_000);
        let since = self
            .events
            .newest()
            .map(nanos)
            .unwrap_or_else(|| "1".into());
        let ask = docker
            .events(Some(EventsOptions {
                since: Some(since),
                until: Some(nanos(super::views::now_nanos())),
                filters: Some(event_filters()),
            }))
            .collect::<Vec<_>>();
        let Ok(got) = tokio::time::timeout(Duration::from_secs(5), ask).await else {
            return;
        };
        let mut added = false;
        for ev in got.into_iter().flatten() {
            added |= self
                .events
                .push(super::events::EngineEvent::from_message(&ev));
        }
        if added {
            self.notify(Topic::Events);
        }
    }

    /// The time of the newest event the engine logged after `after` (Unix nanoseconds), if any:
    /// a short request for the events up to now, which the engine answers from its log at once.
    async fn logged_after(
        &self,
        docker: &Docker,
        after: i64,
    ) -> std::result::Result<Option<i64>, Lost> {
        let nanos = |n: i64| format!("{}.{:09}", n / 1_000_000_000, n % 1_000_000_000);
        let ask = docker
            .events(Some(EventsOptions {
                since: Some(nanos(after)),
                until: Some(nanos(super::views::now_nanos())),
                filters: Some(event_filters()),
            }))
            .collect::<Vec<_>>();
        let bound = self.live_every.max(Duration::from_secs(5));
        let Ok(got) = tokio::time::timeout(bound, ask).await else {
            return Err(Lost::Events(
                "the engine did not answer a liveness check in time".into(),
            ));
        };
        let mut newest = None;
        for ev in got {
            let ev = ev.map_err(|e| self.err(e))?;
            let t = event_nanos(&ev);
            if t > after {
                newest = newest.max(Some(t));
            }
        }
        Ok(newest)
    }

    /// Runs `work` beside the event stream, unless the same work is already waiting to start
    /// (one read then covers every event that asked for it).
    fn schedule(self: &Arc<Self>, docker: &Docker, set: &mut tokio::task::JoinSet<()>, work: Work) {
        let key = work.key();
        if !self
            .queued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone())
        {
            return;
        }
        let me = self.clone();
        let docker = docker.clone();
        set.spawn(async move {
            let _slot = me.reread_slots.clone().acquire_owned().await;
            me.queued
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
            let r = match &work {
                Work::Container(id) => me.reread_container(&docker, id).await,
                Work::Images => me.refresh_images_with(&docker).await,
                Work::Networks => me.refresh_networks_with(&docker).await,
                Work::Volumes => me.refresh_volumes_with(&docker).await,
                Work::Info => me.refresh_info_with(&docker).await,
            };
            if let Err(e) = r {
                tracing::debug!(endpoint = %me.url, work = %key, error = %e, "re-read after event failed");
            }
        });
    }

    /// Full listing of everything; brings the snapshot in step with it. Objects an event or a
    /// later read touched while the listing was in flight keep their newer state; containers the
    /// listing shows otherwise than the mirror holds are checked with inspect first.
    pub async fn resync(&self, docker: &Docker) -> Result<()> {
        let started = Instant::now();
        let read = self.order().begin();
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
        let containers: Vec<ContainerView> = containers
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
        let mut doubtful = Vec::new();
        self.write_if(|s| {
            let mut order = self.order();
            let (c, d) = merge_containers(&mut s.containers, containers, &mut order, read);
            doubtful = d;
            changed[0] = c;
            if order.claim_kind(Kind::Images, read) {
                changed[1] = merge(&mut s.images, images);
            }
            if order.claim_kind(Kind::Networks, read) {
                changed[2] = merge(&mut s.networks, networks);
            }
            if order.claim_kind(Kind::Volumes, read) {
                changed[3] = merge(&mut s.volumes, volumes);
            }
            s.info = Some(Arc::new(info));
            s.version = Some(Arc::new(version));
            changed.contains(&true)
        });
        // The list lags the containers' own state by a moment: where it disagrees with what is
        // held, inspect decides.
        for id in &doubtful {
            self.reread_container(docker, id).await?;
        }
        self.health.send_modify(|h| h.last_sync = Some(now()));
        // A full listing parses megabytes at 1000 containers: give that garbage back at once
        // (off the async workers: a trim walks every arena).
        tokio::task::spawn_blocking(crate::alloc::trim);
        tracing::debug!(endpoint = %self.url, ms = started.elapsed().as_millis() as u64, doubtful = doubtful.len(), "resync");
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

    /// Inspects the containers held without the engine's clock (a few at a time) and sets their
    /// state and clock from it. Listed containers carry no clock, and their status is worded
    /// from the engine's timestamps, which only inspect gives; `resync` leaves this to its caller.
    async fn fill_clocks(&self, docker: &Docker) -> Result<()> {
        let ids: Vec<String> = self.read(|s| {
            s.containers
                .values()
                .filter(|c| c.clock.is_none())
                .map(|c| c.id.clone())
                .collect()
        });
        if ids.is_empty() {
            return Ok(());
        }
        let mut reads = futures_util::stream::iter(ids)
            .map(|id| async move {
                let read = self.order().begin();
                let r = docker
                    .inspect_container(&id, None::<InspectContainerOptions>)
                    .await;
                (id, read, r)
            })
            .buffer_unordered(8);
        let mut changed = false;
        while let Some((id, read, r)) = reads.next().await {
            match r {
                Ok(ins) => {
                    if ins.state.is_none() {
                        continue;
                    }
                    changed |= self.write_if(|s| {
                        let Some(held) = s.containers.get(&id) else {
                            return false;
                        };
                        if !self.order().claim(&id, read) {
                            return false;
                        }
                        let mut v = (**held).clone();
                        v.set_state(&ins);
                        s.containers.insert(id.clone(), Arc::new(v));
                        true
                    });
                }
                Err(e) if is_not_found(&e) => {
                    changed |= self.write_if(|s| {
                        self.order().claim(&id, read) && s.containers.remove(&id).is_some()
                    });
                }
                Err(e) => return Err(self.err(e)),
            }
        }
        if changed {
            self.notify(Topic::Containers);
        }
        Ok(())
    }

    fn apply(
        self: &Arc<Self>,
        docker: &Docker,
        ev: EventMessage,
        set: &mut tokio::task::JoinSet<()>,
    ) {
        let time = event_nanos(&ev);
        let action = ev.action.unwrap_or_default();
        let actor = ev.actor.unwrap_or_default();
        let id = actor.id.unwrap_or_default();
        let attrs = actor.attributes.unwrap_or_default();
        match ev.typ {
            Some(EventMessageTypeEnum::CONTAINER) => {
                if action.starts_with("exec_")
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
                } else if action == "destroy" {
                    self.forget_container(&id);
                } else {
                    self.apply_fact(&id, &action, &attrs, time);
                    self.schedule(docker, set, Work::Container(id));
                }
            }
            // Images, networks and volumes: what the event says for certain is applied from it
            // (a deletion, a new tag), then the kind is listed again for the rest.
            Some(EventMessageTypeEnum::IMAGE) => {
                match action.as_str() {
                    "delete" => self.drop_object(Kind::Images, &id),
                    "tag" => {
                        if let Some(name) = attrs.get("name") {
                            self.tag_image(&id, name);
                        }
                    }
                    _ => {}
                }
                self.schedule(docker, set, Work::Images);
            }
            Some(EventMessageTypeEnum::NETWORK) => {
                if action == "destroy" {
                    self.drop_object(Kind::Networks, &id);
                }
                self.schedule(docker, set, Work::Networks);
                match attrs.get("container") {
                    Some(cid) if action == "connect" || action == "disconnect" => {
                        self.order().event(cid);
                        self.schedule(docker, set, Work::Container(cid.clone()));
                    }
                    _ => {}
                }
            }
            Some(EventMessageTypeEnum::VOLUME) if action != "mount" && action != "unmount" => {
                if action == "destroy" {
                    self.drop_object(Kind::Volumes, &id);
                }
                self.schedule(docker, set, Work::Volumes);
            }
            Some(EventMessageTypeEnum::DAEMON) => self.schedule(docker, set, Work::Info),
            _ => {}
        }
    }

    /// An image, network or volume the engine deleted (its event): gone at once. The event is
    /// newer than any listing of its kind begun before it, so none of those brings it back
    /// (when it changed what is held); the listing the event schedules begins after it.
    fn drop_object(&self, kind: Kind, key: &str) {
        let changed = self.write_if(|s| {
            let gone = match kind {
                Kind::Images => s.images.remove(key).is_some(),
                Kind::Networks => s.networks.remove(key).is_some(),
                Kind::Volumes => s.volumes.remove(key).is_some(),
            };
            if gone {
                self.order().kind_event(kind);
            }
            gone
        });
        if changed {
            self.notify(match kind {
                Kind::Images => Topic::Images,
                Kind::Networks => Topic::Networks,
                Kind::Volumes => Topic::Volumes,
            });
        }
    }

    /// A tag the engine put on image `id` (its event): on it at once, and off any other image
    /// that held it (a tag names one image).
    fn tag_image(&self, id: &str, tag: &str) {
        let changed = self.write_if(|s| {
            if !s.images.contains_key(id) {
                return false;
            }
            let mut changed = false;
            for img in s.images.values_mut() {
                let has = img.tags.iter().any(|t| t == tag);
                if img.id == id && !has {
                    Arc::make_mut(img).tags.push(tag.to_string());
                    changed = true;
                } else if img.id != id && has {
                    Arc::make_mut(img).tags.retain(|t| t != tag);
                    changed = true;
                }
            }
            if changed {
                self.order().kind_event(Kind::Images);
            }
            changed
        });
        if changed {
            self.notify(Topic::Images);
        }
    }

    /// Changes a held container from what an event says of it, at the event's time: the event is
    /// a fact, newer than any read begun before it. An event older than the clock held (a replay
    /// after a reconnect) changes nothing.
    fn apply_fact(&self, id: &str, action: &str, attrs: &HashMap<String, String>, time: i64) {
        let changed = self.write_if(|s| {
            let mut order = self.order();
            order.event(id);
            let Some(held) = s.containers.get(id) else {
                return false;
            };
            let clock = held.clock.unwrap_or_default();
            let latest = clock.started_at.max(clock.finished_at).unwrap_or(0);
            if time < latest {
                return false;
            }
            let mut v = (**held).clone();
            let mut c = clock;
            match action {
                "start" => {
                    v.state = "running".into();
                    c.started_at = Some(time);
                    c.stop_asked = false;
                    v.health = None;
                }
                // docker stop and docker kill tell of a kill before the die: the engine will
                // not restart what was asked to stop.
                "kill" => c.stop_asked = true,
                "die" => {
                    c.finished_at = Some(time);
                    c.exit_code = attrs.get("exitCode").and_then(|x| x.parse().ok());
                    if c.restart.restarts_after(c.exit_code, c.stop_asked) {
                        v.state = "restarting".into();
                        if let Restarts::OnFailure { made, .. } = &mut c.restart {
                            *made += 1;
                        }
                    } else {
                        v.state = "exited".into();
                    }
                    v.ports.clear();
                    v.ports_text.clear();
                }
                "pause" => v.state = "paused".into(),
                "unpause" => v.state = "running".into(),
                "rename" => match attrs.get("name") {
                    Some(n) => v.name = n.trim_start_matches('/').to_string(),
                    None => return false,
                },
                a if a.starts_with("health_status") => {
                    let h = a.rsplit(": ").next().unwrap_or_default().trim();
                    v.health = Some(h.to_string()).filter(|h| !h.is_empty());
                }
                _ => return false,
            }
            // Without a clock from inspect the listed words are all there is: keep them until
            // the re-read brings the clock (a clock from the event alone would miss the other
            // timestamp).
            if held.clock.is_some() {
                v.clock = Some(c);
            }
            if *held.as_ref() == v {
                return false;
            }
            s.containers.insert(id.to_string(), Arc::new(v));
            true
        });
        if changed {
            self.notify(Topic::Containers);
        }
    }

    // ---- targeted refreshes (also used right after an action, so its result shows at once) ----

    pub async fn refresh_container(&self, id: &str) -> Result<()> {
        let docker = self.docker()?;
        self.reread_container(docker, id).await
    }

    /// Reads one container again: inspect for its state and clock (the container's own), its
    /// list row for the rest (ports, networks, mounts as the list shows them), read again while
    /// the list still shows another state than inspect. Applied only if nothing newer touched
    /// the container meanwhile.
    async fn reread_container(&self, docker: &Docker, id: &str) -> Result<()> {
        let read = self.order().begin();
        let ins = match docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
        {
            Ok(i) => i,
            Err(e) if is_not_found(&e) => {
                self.forget_exact(id, read);
                return Ok(());
            }
            Err(e) => return Err(self.err(e)),
        };
        let (Some(full), Some(st)) = (ins.id.clone(), ins.state.as_ref()) else {
            return Ok(());
        };
        let want = st.status.map(|s| s.to_string()).unwrap_or_default();
        // The networks the container is on now (connect/disconnect lag in the list too).
        let (nets, ips) = inspect_networks(ins.network_settings.as_ref());
        let mut row = None;
        for pause_ms in [0u64, 5, 10, 20, 40, 80, 160] {
            if pause_ms > 0 {
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
            }
            let found = list_containers(docker, Some(&full))
                .await
                .map_err(|e| self.err(e))?
                .into_iter()
                .filter_map(ContainerView::from_summary)
                .find(|c| c.id == full);
            let agrees = found
                .as_ref()
                .is_some_and(|c| c.state == want && c.networks == nets);
            row = found.or(row);
            if agrees {
                break;
            }
        }
        // Not listed yet (the list lags a create): the next event or listing brings it.
        let Some(mut v) = row else { return Ok(()) };
        v.set_state(&ins);
        if v.networks != nets {
            v.networks = nets;
            v.ip_addresses = ips;
        }
        let changed = self.write_if(|s| {
            // A container not held yet has no newer state to lose (a late create event's own
            // re-read follows); one destroyed never comes back.
            let mut order = self.order();
            let new = !s.containers.contains_key(&full) && !order.destroyed.contains_key(&full);
            if !order.claim(&full, read) && !new {
                return false;
            }
            drop(order);
            match s.containers.get(&full) {
                Some(held) if **held == v => false,
                _ => {
                    s.containers.insert(full.clone(), Arc::new(v));
                    true
                }
            }
        });
        if changed {
            self.notify(Topic::Containers);
        }
        Ok(())
    }

    /// A container the engine says is gone (inspect 404).
    fn forget_exact(&self, id: &str, read: u64) {
        let changed = self.write_if(|s| {
            let key = s
                .containers
                .values()
                .find(|c| c.id == id || c.name == id || (id.len() >= 4 && c.id.starts_with(id)))
                .map(|c| c.id.clone());
            match key {
                Some(k) if self.order().claim(&k, read) => s.containers.remove(&k).is_some(),
                _ => false,
            }
        });
        if changed {
            self.notify(Topic::Containers);
        }
    }

    /// A container destroyed (its event, or Berth removed it): gone, and never brought back by a
    /// read that began before.
    pub fn forget_container(&self, id: &str) {
        self.write(|s| {
            let key = s
                .containers
                .values()
                .find(|c| c.id == id || c.name == id || (id.len() >= 4 && c.id.starts_with(id)))
                .map(|c| c.id.clone())
                .unwrap_or_else(|| id.to_string());
            s.containers.remove(&key);
            self.order().destroy(&key);
        });
        self.notify(Topic::Containers);
    }

    pub async fn refresh_images(&self) -> Result<()> {
        self.refresh_images_with(self.docker()?).await
    }

    async fn refresh_images_with(&self, docker: &Docker) -> Result<()> {
        let read = self.order().begin();
        let list = docker
            .list_images(Some(ListImagesOptions {
                all: false,
                shared_size: true,
                ..Default::default()
            }))
            .await
            .map_err(|e| self.err(e))?;
        let images = list.into_iter().map(ImageView::from_summary).collect();
        if self.write_if(|s| {
            self.order().claim_kind(Kind::Images, read) && merge(&mut s.images, images)
        }) {
            self.notify(Topic::Images);
        }
        Ok(())
    }

    pub async fn refresh_networks(&self) -> Result<()> {
        self.refresh_networks_with(self.docker()?).await
    }

    async fn refresh_networks_with(&self, docker: &Docker) -> Result<()> {
        let read = self.order().begin();
        let list = docker
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(|e| self.err(e))?;
        let nets = list
            .into_iter()
            .filter_map(NetworkView::from_network)
            .collect();
        if self.write_if(|s| {
            self.order().claim_kind(Kind::Networks, read) && merge(&mut s.networks, nets)
        }) {
            self.notify(Topic::Networks);
        }
        Ok(())
    }

    pub async fn refresh_volumes(&self) -> Result<()> {
        self.refresh_volumes_with(self.docker()?).await
    }

    async fn refresh_volumes_with(&self, docker: &Docker) -> Result<()> {
        let read = self.order().begin();
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
        if self.write_if(|s| {
            self.order().claim_kind(Kind::Volumes, read) && merge(&mut s.volumes, vols)
        }) {
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

/// Brings the held containers in step with a listing begun at `read`. Containers touched since
/// (an event, a later read) are left alone; containers the listing shows otherwise than held,
/// or no longer shows, are returned to be checked with inspect (the list lags); containers the
/// mirror does not hold yet are taken as listed. True when anything changed.
fn merge_containers(
    map: &mut BTreeMap<String, Arc<ContainerView>>,
    fresh: Vec<ContainerView>,
    order: &mut Order,
    read: u64,
) -> (bool, Vec<String>) {
    let mut changed = false;
    let mut doubtful = Vec::new();
    let listed: HashSet<String> = fresh.iter().map(|c| c.id.clone()).collect();
    for id in map.keys() {
        if !listed.contains(id) && !order.touched_since(id, read) {
            doubtful.push(id.clone());
        }
    }
    for c in fresh {
        if order.touched_since(&c.id, read) {
            continue;
        }
        match map.get(&c.id) {
            Some(old) if old.same_as(&c) => {}
            Some(_) => doubtful.push(c.id.clone()),
            None => {
                order.claim(&c.id, read);
                map.insert(c.id.clone(), Arc::new(c));
                changed = true;
            }
        }
    }
    (changed, doubtful)
}

/// The network names (sorted, as the list view orders them) and addresses of an inspect.
fn inspect_networks(ns: Option<&bollard::models::NetworkSettings>) -> (Vec<String>, Vec<String>) {
    let mut nets: Vec<_> = ns
        .and_then(|n| n.networks.as_ref())
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    nets.sort_by(|a, b| a.0.cmp(b.0));
    let ips = nets
        .iter()
        .filter_map(|(_, ep)| ep.ip_address.clone().filter(|s| !s.is_empty()))
        .collect();
    (nets.into_iter().map(|(k, _)| k.clone()).collect(), ips)
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
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
