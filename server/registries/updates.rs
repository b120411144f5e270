//! "Update available": for each image a container runs, the digest its registry gives the tag
//! now (`HEAD /v2/<name>/manifests/<tag>`) against the digests the engine holds for the image
//! the container runs (`RepoDigests`). A registry that cannot be asked leaves "unknown", never
//! "up to date".

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;

use super::reference::ImageRef;
use crate::AppState;
use crate::engine::Mirror;
use crate::error::Result;

/// What is known of one (image reference, image id) on one endpoint.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Check {
    /// The reference the containers were created from, e.g. `localhost:5000/app:1`.
    pub reference: String,
    pub image_id: String,
    /// `available`, `up-to-date`, `pinned` (a digest reference) or `unknown`.
    pub state: &'static str,
    pub local_digests: Vec<String>,
    pub remote_digest: Option<String>,
    /// Why the state is unknown.
    pub reason: Option<String>,
    pub checked_at: i64,
}

/// The last checks, per endpoint, and the pace kept per registry.
#[derive(Default)]
pub struct Updates {
    checks: Mutex<HashMap<(String, String, String), Check>>,
    last_call: tokio::sync::Mutex<HashMap<String, Instant>>,
}

impl Updates {
    /// The check of a container's image on an endpoint, if any was made.
    pub fn of(&self, endpoint: &str, reference: &str, image_id: &str) -> Option<Check> {
        self.checks
            .lock()
            .ok()?
            .get(&(endpoint.into(), reference.into(), image_id.into()))
            .cloned()
    }

    /// Every check of an endpoint.
    pub fn all(&self, endpoint: &str) -> Vec<Check> {
        let mut v: Vec<Check> = self
            .checks
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.0 == endpoint)
                    .map(|(_, c)| c.clone())
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by(|a, b| a.reference.cmp(&b.reference));
        v
    }

    /// Waits so that calls to one registry keep to `per_minute`.
    async fn pace(&self, host: &str, per_minute: u32) {
        let gap = Duration::from_secs(60) / per_minute.max(1);
        let wait = {
            let mut m = self.last_call.lock().await;
            let now = Instant::now();
            let next = m.get(host).map_or(now, |t| (*t + gap).max(now));
            m.insert(host.to_string(), next);
            next - now
        };
        tokio::time::sleep(wait).await;
    }
}

/// Requests per minute per registry (setting `registries.requests_per_minute`, default 60).
async fn per_minute(state: &AppState) -> u32 {
    state
        .store
        .setting("registries.requests_per_minute")
        .await
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(60)
}

/// Hours between scheduled checks (setting `registries.update_check_hours`, default 6; 0 = off).
pub async fn every(state: &AppState) -> Option<Duration> {
    let h: u64 = state
        .store
        .setting("registries.update_check_hours")
        .await
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(6);
    (h > 0).then(|| Duration::from_secs(h * 3600))
}

/// Checks the images every container of `m` runs; returns the checks (also kept).
pub async fn check(state: &AppState, m: &Mirror) -> Result<Vec<Check>> {
    let d = m.docker()?;
    let ids: Vec<String> = m.read(|s| s.containers.keys().cloned().collect());
    // The reference each container was created from (the list shows an id once the tag moved).
    let pairs: HashSet<(String, String)> = futures_util::stream::iter(ids)
        .map(|id| async move { crate::engine::containers::inspect(m, &id).await.ok() })
        .buffer_unordered(8)
        .filter_map(|c| async move {
            let c = c?;
            Some((c.config?.image?, c.image?))
        })
        .collect()
        .await;
    let rpm = per_minute(state).await;
    // A registry that cannot be reached is asked once per check, not once per image.
    let mut unreachable: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for (reference, image_id) in pairs {
        let mut c = Check {
            reference: reference.clone(),
            image_id: image_id.clone(),
            state: "unknown",
            local_digests: Vec::new(),
            remote_digest: None,
            reason: None,
            checked_at: crate::store::now(),
        };
        match ImageRef::parse(&reference) {
            Err(_) => {
                c.reason =
                    Some("the container names its image by id, not by a registry reference".into())
            }
            Ok(r) if r.digest.is_some() => c.state = "pinned",
            Ok(r) => {
                let local: Vec<String> = d
                    .inspect_image(&image_id)
                    .await
                    .ok()
                    .and_then(|i| i.repo_digests)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|rd| {
                        let (repo, digest) = rd.split_once('@')?;
                        let same = ImageRef::parse(repo).ok()?;
                        (same.domain == r.domain && same.path == r.path).then(|| digest.to_string())
                    })
                    .collect();
                c.local_digests = local;
                let remote = match unreachable.get(&r.domain) {
                    Some(why) => Err(crate::error::Error::BadRequest(why.clone())),
                    None => {
                        state.updates.pace(&r.domain, rpm).await;
                        match super::client_for(state, &r).await {
                            Ok(cl) => cl.digest(&r.path, r.tag_or_latest()).await,
                            Err(e) => Err(e),
                        }
                    }
                };
                match remote {
                    Err(e) => {
                        let why = e.public_message();
                        if matches!(e, crate::error::Error::Registry { .. })
                            && why.contains("cannot be reached")
                        {
                            unreachable.insert(r.domain.clone(), why.clone());
                        }
                        c.reason = Some(why);
                    }
                    Ok(remote) => {
                        if c.local_digests.is_empty() {
                            c.reason = Some(
                                "the image was built or loaded here: the engine holds no digest from the registry to compare"
                                    .into(),
                            );
                        } else if c.local_digests.contains(&remote) {
                            c.state = "up-to-date";
                        } else {
                            c.state = "available";
                        }
                        c.remote_digest = Some(remote);
                    }
                }
            }
        }
        out.push(c);
    }
    out.sort_by(|a, b| a.reference.cmp(&b.reference));
    if let Ok(mut map) = state.updates.checks.lock() {
        map.retain(|k, _| k.0 != m.name);
        for c in &out {
            map.insert(
                (m.name.clone(), c.reference.clone(), c.image_id.clone()),
                c.clone(),
            );
        }
    }
    Ok(out)
}

/// Checks every endpoint now and then (setting `registries.update_check_hours`), while any
/// registry is stored or containers run images from a registry host.
pub async fn scheduled(state: AppState) {
    // A first check a minute after start, then at the set pace.
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        match every(&state).await {
            None => wait = Duration::from_secs(600),
            Some(d) => {
                for m in state.engines.all() {
                    if let Err(e) = check(&state, &m).await {
                        tracing::info!(endpoint = %m.name, error = %e, "update check skipped");
                    }
                }
                wait = d;
            }
        }
    }
}
