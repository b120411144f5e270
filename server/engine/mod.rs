//! The engine side of Berth: connections (bollard), endpoints, and the live state mirror that
//! pages read from.

pub mod anatomy;
pub mod containers;
pub mod create;
pub mod events;
pub mod exec;
pub mod files;
pub mod image_ops;
pub mod images;
pub mod layers;
pub mod logs;
pub mod mirror;
pub mod network_spec;
pub mod networks;
pub mod own;
pub mod progress;
pub mod prune;
pub mod renderings;
pub mod search;
pub mod stats;
pub mod swarm;
pub mod system;
pub mod tar;
pub mod views;
pub mod volume_files;
pub mod volumes;
pub mod windows;

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

/// Opens a bollard client for the endpoint the flags name (reading its TLS files). No I/O
/// on the engine happens here: a dead engine shows up on the first request.
pub fn connect(target: &EngineTarget, calls: Arc<CallCounters>) -> Result<Docker, String> {
    let tls = match &target.tls {
        Some(files) => Some(crate::endpoints::read_tls_files(files)?),
        None => None,
    };
    connect_with(&target.url, tls.as_ref(), calls)
}

/// Opens a bollard client for an endpoint's address and TLS material. Every request the client
/// makes is counted in `calls`.
pub fn connect_with(
    url: &str,
    tls: Option<&crate::endpoints::tls::TlsMaterial>,
    calls: Arc<CallCounters>,
) -> Result<Docker, String> {
    let url = url.trim();
    let t = REQUEST_TIMEOUT.as_secs();
    let docker = if let Some(tls) = tls {
        if !(url.starts_with("tcp://") || url.starts_with("https://")) {
            return Err(format!(
                "TLS needs a tcp:// or https:// engine address, not `{url}`"
            ));
        }
        crate::endpoints::transport::docker_over_tls(url, tls, t)?
    } else if url.starts_with("unix://") {
        connect_unix(url, t).map_err(|e| crate::error::chain(&e))?
    } else if url.starts_with("tcp://") || url.starts_with("http://") {
        Docker::connect_with_http(url, t, API_DEFAULT_VERSION)
            .map_err(|e| crate::error::chain(&e))?
    } else if url.starts_with("npipe://") {
        connect_pipe(url, t).map_err(|e| crate::error::chain(&e))?
    } else {
        return Err(format!(
            "`{url}` is not an engine address: use unix:///path, tcp://host:port or npipe:////./pipe/name"
        ));
    };
    Ok(docker.with_request_modifier(move |req| {
        calls.total.fetch_add(1, Ordering::Relaxed);
        if IN_REQUEST.try_with(|_| ()).is_ok() {
            calls.in_requests.fetch_add(1, Ordering::Relaxed);
        }
        req
    }))
}

#[cfg(unix)]
fn connect_unix(url: &str, t: u64) -> Result<Docker, bollard::errors::Error> {
    Docker::connect_with_unix(url, t, API_DEFAULT_VERSION)
}

#[cfg(not(unix))]
fn connect_unix(url: &str, _t: u64) -> Result<Docker, bollard::errors::Error> {
    Err(bollard::errors::Error::UnsupportedURISchemeError {
        uri: format!(
            "{url} (unix sockets exist only on Linux and other Unix hosts: use npipe:// or tcp://)"
        ),
    })
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

pub use crate::endpoints::registry::Engines;
