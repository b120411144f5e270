//! Berth: a lean web dashboard for Docker engines.
//!
//! [`launch`] is the one way in: `main` binds the configured address and calls it; the tests bind
//! `127.0.0.1:0` and call the same function.

pub mod alloc;
pub mod api;
pub mod assets;
pub mod auth;
pub mod config;
pub mod endpoints;
pub mod engine;
pub mod error;
pub mod https;
pub mod store;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderValue, header};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::Config;
use engine::Engines;
use store::{Audit, Store};

/// What every handler can reach: small, cloned per request.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub engines: Arc<Engines>,
    pub throttle: Arc<auth::Throttle>,
    pub started: Instant,
    /// Cancelled when Berth shuts down: long streams (SSE, logs) end with it.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// Writes one audit row; a failure to write is logged, never hides the action's outcome.
    pub async fn audit(
        &self,
        username: Option<&str>,
        client: &auth::Client,
        action: &str,
        target: Option<&str>,
        outcome: &str,
    ) {
        self.audit_on(None, username, client, action, target, outcome)
            .await
    }

    /// [`AppState::audit`] for an action on an endpoint's engine.
    pub async fn audit_on(
        &self,
        endpoint: Option<&str>,
        username: Option<&str>,
        client: &auth::Client,
        action: &str,
        target: Option<&str>,
        outcome: &str,
    ) {
        let a = Audit {
            username,
            client: Some(&client.0),
            endpoint,
            action,
            target,
            outcome,
        };
        if let Err(e) = self.store.audit(a).await {
            tracing::error!(error = ?e, action, "audit write failed");
        }
    }
}

/// A running Berth.
pub struct Server {
    /// The plain HTTP address (the HTTPS one when plain HTTP is disabled).
    pub addr: SocketAddr,
    pub https_addr: Option<SocketAddr>,
    pub state: AppState,
    task: JoinHandle<()>,
}

/// The sockets Berth serves on: plain HTTP, HTTPS, or both.
#[derive(Debug, Default)]
pub struct Listeners {
    pub http: Option<TcpListener>,
    pub https: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(l: TcpListener) -> Self {
        Listeners {
            http: Some(l),
            https: None,
        }
    }
}

impl Listeners {
    /// Binds what the configuration asks: `--bind` unless `--http-disabled`, and `--bind-https`.
    pub async fn bind(config: &Config) -> std::io::Result<Self> {
        let http = if config.http_disabled {
            None
        } else {
            Some(TcpListener::bind(config.bind).await.map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", config.bind))
            })?)
        };
        let https = TcpListener::bind(config.bind_https).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot listen on {}: {e}", config.bind_https),
            )
        })?;
        Ok(Listeners {
            http,
            https: Some(https),
        })
    }
}

impl Server {
    pub fn url(&self) -> String {
        if Some(self.addr) == self.https_addr {
            format!("https://{}", self.addr)
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// The HTTPS address as a URL (127.0.0.1 when bound to every interface).
    pub fn https_url(&self) -> Option<String> {
        self.https_addr.map(|a| format!("https://{a}"))
    }

    /// Waits until the server has stopped (after the shutdown future given to [`launch`] fired).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Installs rustls' ring provider once for the process (bollard and reqwest may each bring
/// another; one explicit choice keeps every TLS handshake the same).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Why Berth cannot start, worded for the administrator (an internal error carries its own
/// message; the others their chain).
fn startup_error(e: error::Error) -> anyhow::Error {
    match e {
        error::Error::Internal(inner) => inner,
        other => anyhow::anyhow!("{}", error::chain(&other)),
    }
}

/// Logs through the `--log-level` filter to `writer` (Berth: standard output, what `docker
/// logs` shows).
pub fn init_logging<W>(config: &Config, writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::prelude::*;
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_filter(config.log_level.clone()),
        )
        .try_init();
}

/// Opens the store, starts the engine mirrors and serves the app on the given listeners (plain
/// HTTP, HTTPS, or both) until `shutdown` completes; then in-flight requests finish, streams
/// end, and the database is closed.
pub async fn launch(
    config: Config,
    listeners: impl Into<Listeners>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Server> {
    install_crypto_provider();
    let listeners = listeners.into();
    if listeners.http.is_none() && listeners.https.is_none() {
        anyhow::bail!("nothing to listen on: give a plain or an HTTPS listener");
    }
    let config = Arc::new(config);
    let store = Store::open(&config.data).await.map_err(startup_error)?;
    let cancel = CancellationToken::new();
    let tls_config = match &listeners.https {
        Some(_) => Some(https::server_config(&config)?),
        None => None,
    };

    let engines = Engines::new(
        endpoints::flags_def(&config),
        endpoints::registry::Timings {
            resync_every: config.resync_interval,
            idle_after: config.endpoint_idle,
            ping_every: config.ping_interval,
        },
        cancel.clone(),
    );

    let state = AppState {
        config: config.clone(),
        store: store.clone(),
        engines,
        throttle: Arc::new(auth::Throttle::new(
            config.login_attempts,
            Duration::from_secs(60),
        )),
        started: Instant::now(),
        shutdown: cancel.clone(),
    };
    endpoints::load(&state)
        .await
        .map_err(|e| startup_error(e).context("loading endpoints"))?;
    auth::seed_admin(&state).await.map_err(startup_error)?;
    auth::warm_up().await;
    tokio::spawn(expire_sessions(state.clone()));
    let engines = state.engines.clone();
    tokio::spawn(alloc::trimmer(
        Duration::from_secs(5),
        cancel.clone(),
        move || {
            for m in engines.all() {
                m.renderings.expire(Duration::from_secs(5));
            }
        },
    ));

    // The endpoint prefix (/e/{id}/…) is moved out of the path before routing.
    let app = tower::Layer::layer(
        &axum::middleware::from_fn(web::scope::rewrite),
        router(state.clone()),
    );
    let http_addr = match &listeners.http {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };
    let https_addr = match &listeners.https {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };
    let stop = cancel.clone();
    let mut serves: Vec<JoinHandle<()>> = Vec::new();
    if let Some(listener) = listeners.http {
        let app = axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            SocketAddr,
        >(app.clone());
        let stop = stop.clone();
        serves.push(tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "server stopped with an error");
            }
        }));
    }
    if let (Some(listener), Some(tls)) = (listeners.https, tls_config) {
        use axum::serve::ListenerExt;
        let listener = https::TlsListener::new(listener, tls, stop.clone())?.tap_io(|_| {});
        let app = tower::Layer::layer(&axum::Extension(https::OverTls), app);
        let app = axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            SocketAddr,
        >(app);
        let stop = stop.clone();
        serves.push(tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "HTTPS server stopped with an error");
            }
        }));
    }
    let task = tokio::spawn(async move {
        tokio::select! {
            _ = shutdown => {}
            _ = stop.cancelled() => {}
        }
        // End the long-lived streams so that graceful shutdown does not wait on them.
        stop.cancel();
        for s in serves {
            let _ = s.await;
        }
        store.close().await;
        tracing::info!("Berth stopped");
    });
    let engine = config.engine_target().url;
    if let Some(a) = http_addr {
        tracing::info!(addr = %a, %engine, "Berth listening (HTTP)");
    }
    if let Some(a) = https_addr {
        tracing::info!(addr = %a, %engine, "Berth listening (HTTPS)");
    }
    let addr = http_addr
        .or(https_addr)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    Ok(Server {
        addr,
        https_addr,
        state,
        task,
    })
}

/// The whole application: pages, API, static files, and the layers every request crosses.
pub fn router(state: AppState) -> Router {
    use tower_http::compression::CompressionLayer;
    use tower_http::csrf::CsrfLayer;
    use tower_http::trace::TraceLayer;

    Router::new()
        .merge(web::router(state.clone()))
        .merge(api::router(state.clone()))
        .merge(assets::router())
        // File uploads into containers carry their own, larger limit.
        .merge(web::files::upload_router(state.clone()))
        .with_state(state)
        // Cross-site forgery: browsers' Sec-Fetch-Site / Origin must be same-origin for any
        // state-changing method; clients sending neither (curl, scripts) pass.
        .layer(CsrfLayer::new())
        // 2 MiB for every body extractor; upload routes set their own (DefaultBodyLimit on
        // the route wins over this one) and count what they stream.
        .layer(axum::extract::DefaultBodyLimit::max(2 * 1024 * 1024))
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| {
                engine::count_in_request(next.run(req))
            },
        ))
}

async fn expire_sessions(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tick.tick() => {
                if let Err(e) = state.store.delete_idle_sessions(state.config.session_idle).await {
                    tracing::warn!(error = %e, "expiring sessions failed");
                }
            }
        }
    }
}
