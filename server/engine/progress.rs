//! Progress of a pull, build or load, from the engine's JSON message stream: one bar per layer
//! (`id` + `progressDetail`), the log lines (`stream`, statuses without an id), and the end
//! (an error message, or the image made). One renderer for all three.
//!
//! Long jobs started from a page run in the background under a [`Jobs`] registry entry: the page
//! follows them over server-sent events, and they go on when the page is closed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bollard::models::{BuildInfo, CreateImageInfo, PushImageInfo};
use serde::Serialize;
use tokio::sync::watch;

/// One message of the stream, whichever endpoint sent it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Msg {
    pub id: Option<String>,
    pub status: Option<String>,
    pub stream: Option<String>,
    pub current: Option<i64>,
    pub total: Option<i64>,
    pub error: Option<String>,
    /// The image id a build reports in its `aux` record.
    pub aux_id: Option<String>,
}

impl From<CreateImageInfo> for Msg {
    fn from(i: CreateImageInfo) -> Self {
        let (current, total) = i
            .progress_detail
            .map(|p| (p.current, p.total))
            .unwrap_or((None, None));
        Msg {
            id: i.id,
            status: i.status,
            stream: None,
            current,
            total,
            error: i.error_detail.and_then(|e| e.message),
            aux_id: None,
        }
    }
}

impl From<BuildInfo> for Msg {
    fn from(i: BuildInfo) -> Self {
        let (current, total) = i
            .progress_detail
            .map(|p| (p.current, p.total))
            .unwrap_or((None, None));
        Msg {
            id: i.id,
            status: i.status,
            stream: i.stream,
            current,
            total,
            error: i.error_detail.and_then(|e| e.message),
            aux_id: i.aux.and_then(|a| a.id),
        }
    }
}

/// A push's message. bollard's model of it keeps no layer id, so a push shows its statuses as
/// log lines (the byte counts of "Pushing" lines, without a layer to put them on, are left out).
impl From<PushImageInfo> for Msg {
    fn from(i: PushImageInfo) -> Self {
        let pushing = i.status.as_deref() == Some("Pushing");
        Msg {
            id: None,
            status: i.status.filter(|_| !pushing),
            stream: None,
            current: None,
            total: None,
            error: i.error_detail.and_then(|e| e.message),
            aux_id: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct LayerProgress {
    pub id: String,
    pub status: String,
    pub current: i64,
    pub total: i64,
}

impl LayerProgress {
    /// 0–100, for the bar; None when the total is not known.
    pub fn percent(&self) -> Option<i64> {
        (self.total > 0).then(|| (self.current * 100 / self.total).clamp(0, 100))
    }
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, utoipa::ToSchema)]
pub struct Progress {
    /// What runs: "pull nginx:latest", "build", "load".
    pub title: String,
    /// Layers in the order the engine first named them.
    pub layers: Vec<LayerProgress>,
    pub log: Vec<String>,
    pub done: bool,
    /// The engine's message when it failed, as it said it.
    pub error: Option<String>,
    /// Image ids (or names) the job made or loaded.
    pub images: Vec<String>,
}

const MAX_LOG: usize = 2000;

impl Progress {
    pub fn new(title: impl Into<String>) -> Self {
        Progress {
            title: title.into(),
            ..Default::default()
        }
    }

    pub fn apply(&mut self, m: Msg) {
        if let Some(e) = m.error {
            self.error = Some(e.trim().to_string());
            return;
        }
        if let Some(id) = m.aux_id {
            if !self.images.contains(&id) {
                self.images.push(id);
            }
            return;
        }
        if let Some(s) = m.stream {
            for line in s.lines() {
                let line = line.trim_end();
                if line.is_empty() {
                    continue;
                }
                for prefix in ["Loaded image: ", "Loaded image ID: ", "Successfully built "] {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        let rest = rest.trim().to_string();
                        if !self.images.contains(&rest) && prefix != "Successfully built " {
                            self.images.push(rest);
                        }
                    }
                }
                self.push_log(line.to_string());
            }
            return;
        }
        let status = m.status.unwrap_or_default();
        match m.id {
            // A layer's status: one bar, updated in place.
            Some(id) if !id.is_empty() && (m.total.is_some() || is_layer_status(&status)) => {
                let entry = match self.layers.iter_mut().find(|l| l.id == id) {
                    Some(l) => l,
                    None => {
                        self.layers.push(LayerProgress {
                            id: id.clone(),
                            status: String::new(),
                            current: 0,
                            total: 0,
                        });
                        self.layers.last_mut().expect("just pushed")
                    }
                };
                entry.status = status.clone();
                if let Some(t) = m.total.filter(|t| *t > 0) {
                    entry.total = t;
                }
                if let Some(c) = m.current {
                    entry.current = c;
                }
                if matches!(
                    status.as_str(),
                    "Pull complete" | "Already exists" | "Download complete" | "Loading layer done"
                ) && entry.total > 0
                {
                    entry.current = entry.total;
                }
            }
            Some(id) if !id.is_empty() => self.push_log(format!("{id}: {status}")),
            _ if !status.is_empty() => self.push_log(status),
            _ => {}
        }
    }

    fn push_log(&mut self, line: String) {
        if self.log.len() >= MAX_LOG {
            self.log.remove(0);
        }
        self.log.push(line);
    }

    pub fn ok(&self) -> bool {
        self.done && self.error.is_none()
    }
}

fn is_layer_status(s: &str) -> bool {
    matches!(
        s,
        "Pulling fs layer"
            | "Waiting"
            | "Downloading"
            | "Verifying Checksum"
            | "Download complete"
            | "Extracting"
            | "Pull complete"
            | "Already exists"
            | "Loading layer"
    )
}

/// A background job and the progress it reports.
pub struct Job {
    pub id: u64,
    pub progress: watch::Sender<Progress>,
}

/// The jobs of one endpoint; finished ones are kept a while for late viewers.
#[derive(Default)]
pub struct Jobs {
    next: AtomicU64,
    map: std::sync::Mutex<HashMap<u64, Arc<Job>>>,
}

impl Jobs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a job; the caller runs it and marks it done.
    pub fn start(&self, title: impl Into<String>) -> Arc<Job> {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Arc::new(Job {
            id,
            progress: watch::channel(Progress::new(title)).0,
        });
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // Keep the last 50.
        if map.len() >= 50
            && let Some(oldest) = map.keys().min().copied()
        {
            map.remove(&oldest);
        }
        map.insert(id, job.clone());
        job
    }

    pub fn get(&self, id: u64) -> Option<Arc<Job>> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, status: &str, cur: Option<i64>, tot: Option<i64>) -> Msg {
        Msg {
            id: (!id.is_empty()).then(|| id.to_string()),
            status: Some(status.to_string()),
            current: cur,
            total: tot,
            ..Default::default()
        }
    }

    #[test]
    fn pull_messages_become_bars() {
        let mut p = Progress::new("pull x");
        p.apply(msg("", "Pulling from library/x", None, None));
        p.apply(msg("aaa", "Pulling fs layer", None, None));
        p.apply(msg("bbb", "Pulling fs layer", None, None));
        p.apply(msg("aaa", "Downloading", Some(50), Some(200)));
        p.apply(msg("aaa", "Pull complete", None, None));
        p.apply(msg("bbb", "Downloading", Some(10), Some(100)));
        assert_eq!(p.layers.len(), 2);
        assert_eq!(p.layers[0].percent(), Some(100));
        assert_eq!(p.layers[1].percent(), Some(10));
        assert_eq!(p.log, vec!["Pulling from library/x"]);
        p.apply(Msg {
            error: Some("manifest unknown\n".into()),
            ..Default::default()
        });
        assert_eq!(p.error.as_deref(), Some("manifest unknown"));
    }

    #[test]
    fn build_and_load_streams() {
        let mut p = Progress::new("build");
        p.apply(Msg {
            stream: Some("Step 1/2 : FROM x\n ---> abc\n".into()),
            ..Default::default()
        });
        p.apply(Msg {
            aux_id: Some("sha256:123".into()),
            ..Default::default()
        });
        p.apply(Msg {
            stream: Some("Loaded image: a:b\n".into()),
            ..Default::default()
        });
        assert_eq!(
            p.log,
            vec!["Step 1/2 : FROM x", " ---> abc", "Loaded image: a:b"]
        );
        assert_eq!(p.images, vec!["sha256:123", "a:b"]);
        p.apply(msg("ccc", "Loading layer", Some(512), Some(1024)));
        assert_eq!(p.layers[0].percent(), Some(50));
    }
}
