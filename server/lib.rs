//! Berth: a lean web dashboard for Docker engines.
//!
//! [`launch`] is the one way in: `main` binds the configured address and calls it; the tests bind
//! `127.0.0.1:0` and call the same function.

pub mod alloc;
pub mod api;
pub mod assets;
pub mod auth;
pub mod cli;
pub mod config;
pub mod endpoints;
pub mod engine;
pub mod error;
pub mod fmt;
pub mod gateway;
pub mod http;
pub mod https;
pub mod input;
pub mod openapi;
pub mod ops;
pub mod registries;
pub mod stacks;
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
use store::Store;

/// What every handler can reach: small, cloned per request.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub engines: Arc<Engines>,
    pub throttle: Arc<auth::Throttle>,
    pub started: Instant,
    /// Berth's own container and data folder: never browsable through Berth.
    pub own: Arc<engine::own::Own>,
    /// Cancelled when Berth shuts down: long streams (SSE, logs) end with it.
    pub shutdown: CancellationToken,
    /// The last "update available" checks of the images containers run.
    pub updates: Arc<registries::updates::Updates>,
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
        own: Arc::new(engine::own::Own::detect(&config.data)),
        shutdown: cancel.clone(),
        updates: Default::default(),
    };
    endpoints::load(&state)
        .await
        .map_err(|e| startup_error(e).context("loading endpoints"))?;
    auth::seed_admin(&state).await.map_err(startup_error)?;
    auth::warm_up().await;
    tokio::spawn(expire_sessions(state.clone()));
    // Audit retention: at start, then daily.
    tokio::spawn(ops::audit::prune_daily(state.clone()));
    if config.public_url.is_none() {
        tracing::warn!(
            "no --public-url (BERTH_PUBLIC_URL): Berth answers requests naming any Host; give the \
             address users open, so that a page of another site cannot reach Berth through its name"
        );
    }
    tokio::spawn(registries::updates::scheduled(state.clone()));
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
        &axum::middleware::from_fn(http::scope::rewrite),
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
        use axum::serve::ListenerExt;
        // No Nagle delay: a streamed answer's head and its first chunk are separate writes, and
        // the client's delayed ACK would hold the second for 40 ms.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
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
        let listener = https::TlsListener::new(listener, tls, stop.clone())?.tap_io(|tls| {
            let _ = tls.get_ref().0.set_nodelay(true);
        });
        let app = tower::Layer::layer(&axum::Extension(https::OverTls), app);
        let app = tower::Layer::layer(
            &SetResponseHeaderLayer::if_not_present(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(http::headers::HSTS),
            ),
            app,
        );
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

    // The Docker API gateway: outside compression and the body limit (streams pass as the
    // engine writes them), inside the forgery check, the Host check and the trace.
    let gateway = gateway::router()
        .with_state(state.clone())
        .layer(CsrfLayer::new())
        .layer(axum::middleware::from_fn(api_token_skips_csrf));
    let app = Router::new()
        .merge(web::router(state.clone()))
        .merge(api::router(state.clone()))
        .merge(api::backup::public_router())
        .merge(assets::router())
        // File uploads into containers carry their own, larger limit.
        .merge(web::files::upload_router(state.clone()))
        .fallback(no_route)
        .with_state(state.clone())
        // Cross-site forgery: browsers' Sec-Fetch-Site / Origin must be same-origin for any
        // state-changing method; clients sending neither (curl, scripts) pass.
        .layer(CsrfLayer::new())
        // …and an /api call with an API token skips that check (see `api_token_skips_csrf`).
        .layer(axum::middleware::from_fn(api_token_skips_csrf))
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
        ));
    Router::new()
        .merge(gateway)
        .merge(app)
        // --public-url's Host check, and the Content-Security-Policy of every answer.
        .layer(axum::middleware::from_fn_with_state(
            state,
            http::headers::guard,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| {
                engine::count_in_request(next.run(req))
            },
        ))
}

/// What no route serves: a JSON error under `/api` (a script reads why), else the error page.
/// `/api/e/{endpoint}/…` whose endpoint is not a number lands here too.
async fn no_route(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    let err = error::Error::NotFound(format!("Nothing is served at {}.", uri.path()));
    if uri.path().starts_with("/api/") {
        error::ApiError(err).into_response()
    } else {
        err.into_response()
    }
}

/// An `/api` request carrying an API token is authenticated by that header alone (the login
/// guard then ignores the cookie), and a page cannot make a browser send such a header to
/// another site without a CORS preflight Berth never grants: forgery has nothing to ride on.
/// The forgery check (tower-http's, which sees no headers in its bypass) is skipped for it by
/// taking away the two headers it reads.
async fn api_token_skips_csrf(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if req.uri().path().starts_with("/api/") && auth::presented_token(req.headers()).is_some() {
        let h = req.headers_mut();
        h.remove(header::ORIGIN);
        h.remove("sec-fetch-site");
    }
    next.run(req).await
}

async fn expire_sessions(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tick.tick() => {
                if let Err(e) = state
                    .store
                    .delete_idle_sessions(state.config.session_idle, state.config.session_lifetime)
                    .await {
                    tracing::warn!(error = %e, "expiring sessions failed");
                }
            }
        }
    }
}
