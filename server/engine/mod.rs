//! The engine side of Berth: connections (bollard), endpoints, and the live state mirror that
//! pages read from.

pub mod containers;
pub mod exec;
pub mod images;
pub mod logs;
pub mod mirror;
pub mod networks;
pub mod stats;
pub mod system;
pub mod views;
pub mod volumes;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, Docker};

use crate::config::EngineTarget;

pub use mirror::{Health, Mirror, Topic};

/// Engine requests made by Berth: all of them, and those made while serving a request of a
/// user (a page view should make none; an action makes a few).
#[derive(Debug, Default)]
pub struct CallCounters {
    pub total: AtomicU64,
    pub in_requests: AtomicU64,
}

tokio::task_local! {
    /// Set around the handling of every HTTP request (see [`count_in_request`]).
    static IN_REQUEST: ();
}

/// Runs `fut` (the handling of one HTTP request) so that engine calls it makes are counted as
/// made for a request.
pub async fn count_in_request<F: std::future::Future>(fut: F) -> F::Output {
    IN_REQUEST.scope((), fut).await
}

/// Longest wait for an engine's answer headers (streams may then run for as long as they like).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens a bollard client for an endpoint. No I/O happens here: a dead engine shows up on the
/// first request. Every request the client makes is counted in `calls`.
pub fn connect(target: &EngineTarget, calls: Arc<CallCounters>) -> Result<Docker, String> {
    let url = target.url.trim();
    let t = REQUEST_TIMEOUT.as_secs();
    let docker = if let Some(tls) = &target.tls {
        if !(url.starts_with("tcp://") || url.starts_with("https://")) {
            return Err(format!("TLS needs a tcp:// or https:// engine address, not `{url}`"));
        }
        for (what, path) in [("CA", &tls.ca), ("certificate", &tls.cert), ("key", &tls.key)] {
            if !path.exists() {
                return Err(format!("TLS {what} file {} does not exist", path.display()));
            }
        }
        Docker::connect_with_ssl(url, &tls.key, &tls.cert, &tls.ca, t, API_DEFAULT_VERSION)
    } else if url.starts_with("unix://") {
        Docker::connect_with_unix(url, t, API_DEFAULT_VERSION)
    } else if url.starts_with("tcp://") || url.starts_with("http://") {
        Docker::connect_with_http(url, t, API_DEFAULT_VERSION)
    } else if url.starts_with("npipe://") {
        connect_pipe(url, t)
    } else {
        return Err(format!(
            "`{url}` is not an engine address: use unix:///path, tcp://host:port or npipe:////./pipe/name"
        ));
    }
    .map_err(|e| crate::error::chain(&e))?;
    Ok(docker.with_request_modifier(move |req| {
        calls.total.fetch_add(1, Ordering::Relaxed);
        if IN_REQUEST.try_with(|_| ()).is_ok() {
            calls.in_requests.fetch_add(1, Ordering::Relaxed);
        }
        req
    }))
}

#[cfg(windows)]
fn connect_pipe(url: &str, t: u64) -> Result<Docker, bollard::errors::Error> {
    Docker::connect_with_named_pipe(url, t, API_DEFAULT_VERSION)
}

#[cfg(not(windows))]
fn connect_pipe(url: &str, _t: u64) -> Result<Docker, bollard::errors::Error> {
    Err(bollard::errors::Error::UnsupportedURISchemeError {
        uri: format!("{url} (named pipes exist only on Windows hosts)"),
    })
}

/// Every endpoint Berth knows, each with its mirror. Today: the one named by the flags.
pub struct Engines {
    mirrors: Vec<Arc<Mirror>>,
}

impl Engines {
    pub fn new(primary: Arc<Mirror>) -> Self {
        Engines {
            mirrors: vec![primary],
        }
    }

    /// The endpoint unscoped pages and APIs mean.
    pub fn primary(&self) -> &Arc<Mirror> {
        &self.mirrors[0]
    }

    pub fn get(&self, id: i64) -> Option<Arc<Mirror>> {
        self.mirrors.iter().find(|m| m.endpoint_id == id).cloned()
    }

    pub fn all(&self) -> &[Arc<Mirror>] {
        &self.mirrors
    }

    /// Engine requests made by Berth so far, over every endpoint.
    pub fn engine_calls(&self) -> u64 {
        self.mirrors.iter().map(|m| m.engine_calls()).sum()
    }

    /// Engine requests made while serving users' requests, over every endpoint.
    pub fn request_engine_calls(&self) -> u64 {
        self.mirrors.iter().map(|m| m.request_engine_calls()).sum()
    }
}
