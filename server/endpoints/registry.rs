//! Every endpoint Berth knows: its definition, its live mirror (started on first use, stopped
//! when unused for a while; the flags' endpoint always runs) and its health as a light periodic
//! ping sees it (always on, for every endpoint, so `/endpoints` is live without full mirrors).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Def;
use super::probe;
use crate::engine::{CallCounters, Mirror, connect_with};
use crate::store::now;

/// The health of an endpoint as the periodic ping sees it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Status {
    pub up: bool,
    /// Unix time of the last ping, None before the first.
    pub checked: Option<i64>,
    /// Unix time of the last change of `up`.
    pub since: i64,
    pub latency_ms: Option<u64>,
    pub version: Option<String>,
    pub api_version: Option<String>,
    pub os_type: Option<String>,
    /// Why the last ping failed.
    pub error: Option<String>,
}

/// Timings of the registry (the flags set them; tests shorten them).
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    pub resync_every: Duration,
    /// A stored endpoint's mirror stops after this long without a request or a live page.
    pub idle_after: Duration,
    pub ping_every: Duration,
}

/// One endpoint and what runs for it.
pub struct Slot {
    pub def: Def,
    pub mirror: Arc<Mirror>,
    status: watch::Sender<Status>,
    /// Ends the ping and the mirror when the endpoint is removed, replaced, or Berth stops.
    stop: CancellationToken,
    /// The running mirror's own token, None while stopped.
    running: Mutex<Option<CancellationToken>>,
    /// Milliseconds since the registry's start at the last use.
    last_used: AtomicU64,
}

impl Slot {
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    pub fn status_watch(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }

    pub fn mirror_running(&self) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    fn start_mirror(&self) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.is_none() && !self.stop.is_cancelled() {
            // What it holds is from before the stop: not current until it has listed again.
            self.mirror.mark_connecting();
            let token = self.stop.child_token();
            tokio::spawn(self.mirror.clone().run(token.clone()));
            tracing::info!(endpoint = %self.def.name, url = %self.def.url, "mirror started");
            *running = Some(token);
        }
    }

    fn stop_mirror(&self) {
        if let Some(t) = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            t.cancel();
            tracing::info!(endpoint = %self.def.name, "mirror stopped (unused)");
        }
    }
}

pub struct Engines {
    slots: RwLock<BTreeMap<i64, Arc<Slot>>>,
    /// The flags' endpoint: always there, never removed.
    flags: Arc<Slot>,
    shutdown: CancellationToken,
    timings: Timings,
    epoch: Instant,
}

impl Engines {
    /// The registry with the flags' endpoint (started at once) and the reaper of idle mirrors.
    pub fn new(flags: Def, timings: Timings, shutdown: CancellationToken) -> Arc<Self> {
        let epoch = Instant::now();
        let flags = Self::make_slot(flags, &timings, &shutdown);
        flags.start_mirror();
        let engines = Arc::new(Engines {
            slots: RwLock::new(BTreeMap::from([(flags.def.id, flags.clone())])),
            flags,
            shutdown,
            timings,
            epoch,
        });
        tokio::spawn(reap(Arc::downgrade(&engines), engines.shutdown.clone()));
        engines
    }

    fn make_slot(def: Def, timings: &Timings, shutdown: &CancellationToken) -> Arc<Slot> {
        let calls = Arc::new(CallCounters::default());
        let docker = match &def.problem {
            Some(p) => Err(p.clone()),
            None => connect_with(&def.url, def.tls.as_ref(), calls.clone()),
        };
        let mirror = Mirror::new(
            def.id,
            def.name.clone(),
            def.url.clone(),
            docker,
            calls,
            timings.resync_every,
            timings.ping_every,
        );
        let slot = Arc::new(Slot {
            def,
            mirror,
            status: watch::channel(Status {
                since: now(),
                ..Default::default()
            })
            .0,
            stop: shutdown.child_token(),
            running: Mutex::new(None),
            last_used: AtomicU64::new(0),
        });
        tokio::spawn(ping(slot.clone(), timings.ping_every));
        slot
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<i64, Arc<Slot>>> {
        self.slots.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<i64, Arc<Slot>>> {
        self.slots.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an endpoint, or replaces it (after an edit or a certificate rotation): the old
    /// one's ping and mirror stop; the new mirror starts on first use.
    pub fn put(&self, def: Def) {
        let id = def.id;
        let slot = Self::make_slot(def, &self.timings, &self.shutdown);
        if let Some(old) = self.write().insert(id, slot) {
            old.stop.cancel();
        }
    }

    /// Forgets an endpoint and stops what ran for it. The flags' endpoint stays.
    pub fn remove(&self, id: i64) {
        if id == self.flags.def.id {
            return;
        }
        if let Some(old) = self.write().remove(&id) {
            old.stop.cancel();
        }
    }

    /// The endpoint's mirror for a request: marks it used and starts it when stopped.
    pub fn get(&self, id: i64) -> Option<Arc<Mirror>> {
        let slot = self.read().get(&id).cloned()?;
        self.touch(&slot);
        Some(slot.mirror.clone())
    }

    fn touch(&self, slot: &Slot) {
        slot.last_used
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        slot.start_mirror();
    }

    /// The endpoint without starting anything (health listings).
    pub fn slot(&self, id: i64) -> Option<Arc<Slot>> {
        self.read().get(&id).cloned()
    }

    /// Every endpoint, the flags' one first, then by id.
    pub fn slots(&self) -> Vec<Arc<Slot>> {
        self.read().values().cloned().collect()
    }

    /// The endpoint unscoped pages mean when the session chose none: the flags' one.
    pub fn primary(&self) -> Arc<Mirror> {
        self.flags.mirror.clone()
    }

    pub fn primary_id(&self) -> i64 {
        self.flags.def.id
    }

    /// Mirrors, for counters.
    pub fn all(&self) -> Vec<Arc<Mirror>> {
        self.read().values().map(|s| s.mirror.clone()).collect()
    }

    /// Engine requests made by Berth so far, over every endpoint.
    pub fn engine_calls(&self) -> u64 {
        self.all().iter().map(|m| m.engine_calls()).sum()
    }

    /// Engine requests made while serving users' requests, over every endpoint.
    pub fn request_engine_calls(&self) -> u64 {
        self.all().iter().map(|m| m.request_engine_calls()).sum()
    }

    /// Stops the mirrors of stored endpoints nobody used for `idle_after` (no request, no live
    /// page subscribed). Returns how many stopped.
    pub fn stop_idle(&self) -> usize {
        let now_ms = self.epoch.elapsed().as_millis() as u64;
        let idle = self.timings.idle_after.as_millis() as u64;
        let mut stopped = 0;
        for slot in self.slots() {
            if slot.def.from_flags || !slot.mirror_running() {
                continue;
            }
            let unused = now_ms.saturating_sub(slot.last_used.load(Ordering::Relaxed)) >= idle;
            if unused && slot.mirror.subscribers() == 0 {
                slot.stop_mirror();
                stopped += 1;
            }
        }
        stopped
    }
}

async fn reap(engines: std::sync::Weak<Engines>, shutdown: CancellationToken) {
    let every = engines
        .upgrade()
        .map(|e| {
            (e.timings.idle_after / 4).clamp(Duration::from_millis(200), Duration::from_secs(60))
        })
        .unwrap_or(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match engines.upgrade() {
            Some(e) => {
                e.stop_idle();
            }
            None => return,
        }
    }
}

/// The periodic health ping of one endpoint, until it is removed or Berth stops.
async fn ping(slot: Arc<Slot>, every: Duration) {
    let limit = every.clamp(Duration::from_secs(2), probe::PROBE_TIMEOUT);
    loop {
        let outcome = match &slot.def.problem {
            Some(p) => Err(p.clone()),
            None => {
                tokio::select! {
                    _ = slot.stop.cancelled() => return,
                    r = probe::probe_within(&slot.def.url, slot.def.tls.as_ref(), limit) => r,
                }
            }
        };
        let was_up = slot.status.borrow().up;
        match outcome {
            Ok((facts, latency)) => {
                if !was_up {
                    tracing::info!(endpoint = %slot.def.name, "endpoint up");
                }
                // The engine answers: a mirror waiting out its backoff reconnects now.
                if !slot.mirror.health().up {
                    slot.mirror.wake();
                }
                slot.status.send_modify(|s| {
                    if !s.up {
                        s.since = now();
                    }
                    s.up = true;
                    s.checked = Some(now());
                    s.latency_ms = Some(latency.as_millis() as u64);
                    s.version = Some(facts.version);
                    s.api_version = Some(facts.api_version);
                    s.os_type = Some(facts.os_type);
                    s.error = None;
                });
            }
            Err(e) => {
                let changed = slot.status.borrow().error.as_deref() != Some(&e);
                if was_up || changed {
                    tracing::warn!(endpoint = %slot.def.name, error = %e, "endpoint down");
                }
                slot.status.send_modify(|s| {
                    if s.up || s.checked.is_none() {
                        s.since = now();
                    }
                    s.up = false;
                    s.checked = Some(now());
                    s.latency_ms = None;
                    s.error = Some(e);
                });
            }
        }
        tokio::select! {
            _ = slot.stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
