//! Live resource figures of containers, computed as the docker CLI computes them, and the hub
//! that shares one engine stats stream per container among all its viewers.
//!
//! CPU % = (container CPU delta / system CPU delta) × online CPUs × 100, between a sample and
//! the engine's previous one (`precpu_stats`). Memory in use = usage − `total_inactive_file`
//! (cgroup v1) or − `inactive_file` (cgroup v2), as docker/cli's `calculateMemUsageUnixNoCache`
//! does today (before 19.03 it subtracted `cache`). Windows: CPU from 100 ns intervals over the
//! time between reads × processors; memory = private working set.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptions;
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::broadcast;

use super::Mirror;
use crate::error::{Error, Result};

/// One sample, as pages and the API show it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Sample {
    /// Unix milliseconds when Berth received it.
    pub at: i64,
    /// False for the first sample of a stream: the engine has no previous one to compare with,
    /// so there is no CPU figure yet.
    pub cpu_valid: bool,
    pub cpu_percent: f64,
    pub online_cpus: u32,
    pub memory_usage: u64,
    pub memory_limit: u64,
    pub memory_percent: f64,
    /// Totals since the container started.
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
    /// Bytes per second since the previous sample.
    pub net_rx_rate: f64,
    pub net_tx_rate: f64,
    pub block_read_rate: f64,
    pub block_write_rate: f64,
    /// Processes in the container; None on Windows engines, whose `pids_stats` is empty
    /// (`docker stats` shows `--` there).
    pub pids: Option<u64>,
    /// A Windows engine's sample: memory is the private working set, with no limit to
    /// compare it with.
    pub windows: bool,
}

/// The figures of one engine sample (rates are filled in by [`with_rates`]).
pub fn compute(s: &ContainerStatsResponse, windows: bool) -> Sample {
    let cpu = s.cpu_stats.clone().unwrap_or_default();
    let pre = s.precpu_stats.clone().unwrap_or_default();
    let total = |c: &bollard::models::ContainerCpuStats| {
        c.cpu_usage
            .as_ref()
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let mem = s.memory_stats.clone().unwrap_or_default();
    let mut out = Sample::default();
    if windows {
        // The engine's reads are local time with an offset on Windows hosts.
        let (read, preread) = (s.read.as_deref(), s.preread.as_deref());
        if let (Some(r), Some(p)) = (read, preread)
            && total(&pre) > 0
            && let Some(pct) = super::windows::cpu_percent(
                r,
                p,
                s.num_procs.unwrap_or(0),
                total(&cpu),
                total(&pre),
            )
        {
            out.cpu_valid = true;
            out.cpu_percent = pct;
        }
        out.online_cpus = s.num_procs.unwrap_or(0);
        out.memory_usage = mem.privateworkingset.unwrap_or(0);
        out.memory_limit = 0;
    } else {
        let cpu_delta = total(&cpu) as f64 - total(&pre) as f64;
        let sys_delta =
            cpu.system_cpu_usage.unwrap_or(0) as f64 - pre.system_cpu_usage.unwrap_or(0) as f64;
        let mut online = cpu.online_cpus.unwrap_or(0);
        if online == 0 {
            online = cpu
                .cpu_usage
                .as_ref()
                .and_then(|u| u.percpu_usage.as_ref())
                .map(|p| p.len() as u32)
                .unwrap_or(0);
        }
        out.online_cpus = online;
        out.cpu_valid = pre.system_cpu_usage.unwrap_or(0) > 0;
        if sys_delta > 0.0 && cpu_delta > 0.0 {
            out.cpu_percent = cpu_delta / sys_delta * online as f64 * 100.0;
        }
        let usage = mem.usage.unwrap_or(0);
        let stats = mem.stats.clone().unwrap_or_default();
        out.memory_usage = match (stats.get("total_inactive_file"), stats.get("inactive_file")) {
            (Some(v), _) if *v < usage => usage - v,
            (None, Some(v)) if *v < usage => usage - v,
            _ => usage,
        };
        out.memory_limit = mem.limit.unwrap_or(0);
        if out.memory_limit > 0 {
            out.memory_percent = out.memory_usage as f64 / out.memory_limit as f64 * 100.0;
        }
    }
    for n in s
        .networks
        .as_ref()
        .map(|n| n.values())
        .into_iter()
        .flatten()
    {
        out.net_rx += n.rx_bytes.unwrap_or(0);
        out.net_tx += n.tx_bytes.unwrap_or(0);
    }
    if windows {
        if let Some(st) = &s.storage_stats {
            out.block_read = st.read_size_bytes.unwrap_or(0);
            out.block_write = st.write_size_bytes.unwrap_or(0);
        }
    } else {
        let entries = s
            .blkio_stats
            .as_ref()
            .and_then(|b| b.io_service_bytes_recursive.as_ref());
        for e in entries.into_iter().flatten() {
            match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("read") => out.block_read += e.value.unwrap_or(0),
                Some("write") => out.block_write += e.value.unwrap_or(0),
                _ => {}
            }
        }
    }
    out.pids = if windows {
        None
    } else {
        s.pids_stats.as_ref().and_then(|p| p.current)
    };
    out.windows = windows;
    out
}

/// Fills the per-second rates of `s` from the previous sample, `secs` earlier.
pub fn with_rates(mut s: Sample, prev: Option<&Sample>, secs: f64) -> Sample {
    if let Some(p) = prev.filter(|_| secs > 0.0) {
        let rate = |now: u64, before: u64| now.saturating_sub(before) as f64 / secs;
        s.net_rx_rate = rate(s.net_rx, p.net_rx);
        s.net_tx_rate = rate(s.net_tx, p.net_tx);
        s.block_read_rate = rate(s.block_read, p.block_read);
        s.block_write_rate = rate(s.block_write, p.block_write);
    }
    s
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Samples a feed keeps for viewers who arrive late: five minutes at one per second.
pub const HISTORY: usize = 300;
/// How long a feed stays open after its last viewer left (list cells poll every few seconds).
pub const LINGER: Duration = Duration::from_secs(10);

/// One engine stats stream per container, shared by every viewer, closed when nobody watches.
#[derive(Default)]
pub struct StatsHub {
    inner: Arc<HubInner>,
}

#[derive(Default)]
struct HubInner {
    feeds: Mutex<HashMap<String, Feed>>,
    /// Engine stats streams opened so far (for tests: viewers share one).
    opened: AtomicU64,
    next_gen: AtomicU64,
}

struct Feed {
    generation: u64,
    tx: broadcast::Sender<Arc<Sample>>,
    history: Arc<Mutex<VecDeque<Arc<Sample>>>>,
    wanted: Arc<Mutex<Instant>>,
}

/// A viewer's share of a feed: what was seen so far, then every new sample.
pub struct Watch {
    pub history: Vec<Arc<Sample>>,
    pub rx: broadcast::Receiver<Arc<Sample>>,
}

impl Watch {
    /// The latest sample with a CPU figure: from history, or the next to come within `within`.
    pub async fn current(mut self, within: Duration) -> Result<Arc<Sample>> {
        let now = now_millis();
        if let Some(s) = self.history.last()
            && s.cpu_valid
            && now - s.at < 2500
        {
            return Ok(s.clone());
        }
        let wait = async {
            loop {
                match self.rx.recv().await {
                    Ok(s) if s.cpu_valid => return Ok(s),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => {
                        return Err(Error::EngineRefused {
                            status: 409,
                            message: "the container's stats stream ended (is it running?)".into(),
                        });
                    }
                }
            }
        };
        tokio::time::timeout(within, wait)
            .await
            .map_err(|_| Error::EngineRefused {
                status: 504,
                message: format!(
                    "the engine sent no stats sample within {} s",
                    within.as_secs()
                ),
            })?
    }
}

impl StatsHub {
    /// Engine stats streams open now.
    pub fn open_streams(&self) -> usize {
        self.inner.feeds.lock().map(|f| f.len()).unwrap_or(0)
    }

    /// Engine stats streams opened since start.
    pub fn opened(&self) -> u64 {
        self.inner.opened.load(Ordering::SeqCst)
    }

    /// Joins the feed of container `id` (full id), starting it when nobody watched.
    pub fn watch(&self, m: &Mirror, id: &str) -> Result<Watch> {
        let mut feeds = self.inner.feeds.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = feeds.get(id) {
            *f.wanted.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
            return Ok(Watch {
                history: f
                    .history
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .cloned()
                    .collect(),
                rx: f.tx.subscribe(),
            });
        }
        let docker = m.docker()?.clone();
        let windows = super::windows::on_windows(m);
        let (tx, rx) = broadcast::channel(16);
        let feed = Feed {
            generation: self.inner.next_gen.fetch_add(1, Ordering::SeqCst),
            tx: tx.clone(),
            history: Arc::new(Mutex::new(VecDeque::with_capacity(HISTORY))),
            wanted: Arc::new(Mutex::new(Instant::now())),
        };
        let task = FeedTask {
            hub: self.inner.clone(),
            id: id.to_string(),
            generation: feed.generation,
            tx,
            history: feed.history.clone(),
            wanted: feed.wanted.clone(),
            windows,
        };
        feeds.insert(id.to_string(), feed);
        self.inner.opened.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(task.run(docker));
        Ok(Watch {
            history: Vec::new(),
            rx,
        })
    }
}

struct FeedTask {
    hub: Arc<HubInner>,
    id: String,
    generation: u64,
    tx: broadcast::Sender<Arc<Sample>>,
    history: Arc<Mutex<VecDeque<Arc<Sample>>>>,
    wanted: Arc<Mutex<Instant>>,
    windows: bool,
}

impl FeedTask {
    async fn run(self, docker: bollard::Docker) {
        let mut engine = docker.stats(
            &self.id,
            Some(StatsOptions {
                stream: true,
                one_shot: false,
            }),
        );
        let mut prev: Option<(Arc<Sample>, Instant)> = None;
        // Wake at least every second, so that a feed nobody watches closes even if the engine
        // goes quiet.
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                item = engine.next() => match item {
                    Some(Ok(raw)) => {
                        let now = Instant::now();
                        let s = compute(&raw, self.windows);
                        let secs = prev.as_ref().map(|(_, t)| now.duration_since(*t).as_secs_f64()).unwrap_or(0.0);
                        let mut s = with_rates(s, prev.as_ref().map(|(p, _)| p.as_ref()), secs);
                        s.at = now_millis();
                        let s = Arc::new(s);
                        {
                            let mut h = self.history.lock().unwrap_or_else(|p| p.into_inner());
                            if h.len() == HISTORY {
                                h.pop_front();
                            }
                            h.push_back(s.clone());
                        }
                        let _ = self.tx.send(s.clone());
                        prev = Some((s, now));
                    }
                    Some(Err(e)) => {
                        tracing::debug!(container = %self.id, error = %e, "stats stream failed");
                        break;
                    }
                    None => break,
                },
                _ = tick.tick() => {}
            }
            if self.close_if_unwatched() {
                return;
            }
        }
        self.remove();
    }

    /// Under the hub's lock, so that nobody joins a feed that is closing.
    fn close_if_unwatched(&self) -> bool {
        let mut feeds = self.hub.feeds.lock().unwrap_or_else(|p| p.into_inner());
        let wanted = *self.wanted.lock().unwrap_or_else(|p| p.into_inner());
        if self.tx.receiver_count() > 0 {
            *self.wanted.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
            return false;
        }
        if wanted.elapsed() < LINGER {
            return false;
        }
        if feeds
            .get(&self.id)
            .is_some_and(|f| f.generation == self.generation)
        {
            feeds.remove(&self.id);
        }
        true
    }

    fn remove(&self) {
        let mut feeds = self.hub.feeds.lock().unwrap_or_else(|p| p.into_inner());
        if feeds
            .get(&self.id)
            .is_some_and(|f| f.generation == self.generation)
        {
            feeds.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::*;

    fn linux(total: u64, pre_total: u64, sys: u64, pre_sys: u64) -> ContainerStatsResponse {
        ContainerStatsResponse {
            cpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(total),
                    ..Default::default()
                }),
                system_cpu_usage: Some(sys),
                online_cpus: Some(2),
                ..Default::default()
            }),
            precpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(pre_total),
                    ..Default::default()
                }),
                system_cpu_usage: Some(pre_sys),
                online_cpus: Some(2),
                ..Default::default()
            }),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(10_000_000),
                limit: Some(100_000_000),
                stats: Some(HashMap::from([
                    ("total_inactive_file".to_string(), 2_000_000),
                    ("cache".to_string(), 3_000_000),
                ])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn cpu_is_delta_over_system_delta_times_cpus() {
        // The container used 1 s of CPU while the system's 2 CPUs ran 2 s: one CPU, 100 %.
        let s = compute(
            &linux(2_000_000_000, 1_000_000_000, 12_000_000_000, 10_000_000_000),
            false,
        );
        assert!(s.cpu_valid);
        assert!((s.cpu_percent - 100.0).abs() < 1e-9, "{}", s.cpu_percent);
        // The first sample of a stream has no previous one: no CPU figure.
        let s = compute(&linux(2_000_000_000, 0, 12_000_000_000, 0), false);
        assert!(!s.cpu_valid);
    }

    #[test]
    fn memory_subtracts_inactive_file_per_cgroup_version() {
        let v1 = compute(&linux(1, 0, 1, 0), false);
        assert_eq!(v1.memory_usage, 8_000_000);
        assert!((v1.memory_percent - 8.0).abs() < 1e-9);
        let mut v2 = linux(1, 0, 1, 0);
        v2.memory_stats.as_mut().unwrap().stats =
            Some(HashMap::from([("inactive_file".to_string(), 1_000_000)]));
        assert_eq!(compute(&v2, false).memory_usage, 9_000_000);
    }

    #[test]
    fn windows_cpu_uses_100ns_intervals_between_reads() {
        let r = ContainerStatsResponse {
            read: Some("2024-01-01T00:00:01.000000000Z".into()),
            preread: Some("2024-01-01T00:00:00Z".into()),
            num_procs: Some(2),
            cpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(15_000_000),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            precpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(5_000_000),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            memory_stats: Some(ContainerMemoryStats {
                privateworkingset: Some(42),
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = compute(&r, true);
        // 10^7 intervals used of 10^7 × 2 possible: 50 %.
        assert!((s.cpu_percent - 50.0).abs() < 1e-9, "{}", s.cpu_percent);
        assert_eq!(s.memory_usage, 42);
        assert_eq!(
            s.pids, None,
            "Windows has no pids_stats: no count, not the CPU count"
        );
        // The same samples stamped in local time with an offset (as Windows engines stamp
        // them) give the same figure.
        let mut local = r.clone();
        local.read = Some("2024-01-01T03:00:01+03:00".into());
        local.preread = Some("2024-01-01T03:00:00.0000000+03:00".into());
        assert!((compute(&local, true).cpu_percent - 50.0).abs() < 1e-9);
    }

    #[test]
    fn rates_are_per_second_since_the_previous_sample() {
        let prev = Sample {
            net_rx: 1000,
            block_write: 0,
            ..Default::default()
        };
        let now = Sample {
            net_rx: 3000,
            block_write: 4096,
            ..Default::default()
        };
        let s = with_rates(now, Some(&prev), 2.0);
        assert_eq!(s.net_rx_rate, 1000.0);
        assert_eq!(s.block_write_rate, 2048.0);
    }
}
