//! A bollard client over TLS with Berth's own rustls configuration.
//!
//! bollard's `connect_with_ssl` reads three files and trusts the system's roots besides the CA;
//! Berth needs certificates from its store, a "skip verification" mode and precise errors, so
//! it hands bollard a custom transport: hyper-util's client over hyper-rustls' connector built
//! from [`super::tls::client_config`] (the same hyper stack bollard uses for its own TLS).

use std::sync::Arc;
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, BollardRequest, Docker};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::tls::{TlsMaterial, client_config};

pub fn docker_over_tls(url: &str, m: &TlsMaterial, timeout_secs: u64) -> Result<Docker, String> {
    let config = client_config(m).map_err(|e| e.to_string())?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    http.set_nodelay(true);
    let https: HttpsConnector<HttpConnector> = HttpsConnector::from((http, config));
    let mut builder = Client::builder(TokioExecutor::new());
    builder.pool_idle_timeout(Duration::from_secs(30));
    let client = Arc::new(builder.build(https));
    let rest = url
        .trim()
        .trim_start_matches("tcp://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let addr = format!("https://{rest}");
    Docker::connect_with_custom_transport(
        move |req: BollardRequest| {
            let client = client.clone();
            async move {
                client
                    .request(req)
                    .await
                    .map_err(bollard::errors::Error::from)
            }
        },
        Some(addr),
        timeout_secs,
        API_DEFAULT_VERSION,
    )
    .map_err(|e| crate::error::chain(&e))
}
