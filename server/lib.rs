//! Berth: a lean web dashboard for Docker engines.
//!
//! [`launch`] is the one way in: `main` binds the configured address and calls it; the tests bind
//! `127.0.0.1:0` and call the same function.

pub mod alloc;
pub mod api;
pub mod assets;
pub mod auth;
pub mod config;
pub mod engine;
pub mod error;
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
use engine::{Engines, Mirror};
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
    pub addr: SocketAddr,
    pub state: AppState,
    task: JoinHandle<()>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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

/// Opens the store, starts the engine mirror and serves the app on `listener` until `shutdown`
/// completes; then in-flight requests finish, streams end, and the database is closed.
pub async fn launch(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Server> {
    install_crypto_provider();
    let config = Arc::new(config);
    let store = Store::open(&config.data)
        .await
        .map_err(|e| anyhow::anyhow!("{e}: {e:?}"))?;
    let cancel = CancellationToken::new();

    let target = config.engine_target();
    let calls = Arc::new(engine::CallCounters::default());
    let docker = engine::connect(&target, calls.clone());
    let mirror = Mirror::new(
        1,
        "local".into(),
        target.url.clone(),
        docker,
        calls,
        config.resync_interval,
    );
    tokio::spawn(mirror.clone().run(cancel.clone()));

    let state = AppState {
        config: config.clone(),
        store: store.clone(),
        engines: Arc::new(Engines::new(mirror)),
        throttle: Arc::new(auth::Throttle::new(
            config.login_attempts,
            Duration::from_secs(60),
        )),
        started: Instant::now(),
        shutdown: cancel.clone(),
    };
    auth::seed_admin(&state)
        .await
        .map_err(|e| anyhow::anyhow!("{e}: {e:?}"))?;
    auth::warm_up().await;
    tokio::spawn(expire_sessions(state.clone()));
    let engines = state.engines.clone();
    tokio::spawn(alloc::trimmer(
        Duration::from_secs(5),
        cancel.clone(),
        move || {
            for m in engines.all() {
                m.expire_derived(Duration::from_secs(5));
            }
        },
    ));

    let app = router(state.clone());
    let addr = listener.local_addr()?;
    let stop = cancel.clone();
    let task = tokio::spawn(async move {
        // The endpoint prefix (/e/{id}/…) is moved out of the path before routing.
        let app = tower::Layer::layer(&axum::middleware::from_fn(web::scope::rewrite), app);
        let app = axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            SocketAddr,
        >(app);
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            tokio::select! {
                _ = shutdown => {}
                _ = stop.cancelled() => {}
            }
            // End the long-lived streams so that graceful shutdown does not wait on them.
            stop.cancel();
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "server stopped with an error");
        }
        store.close().await;
        tracing::info!("Berth stopped");
    });
    tracing::info!(%addr, engine = %target.url, "Berth listening");
    Ok(Server { addr, state, task })
}

/// The whole application: pages, API, static files, and the layers every request crosses.
pub fn router(state: AppState) -> Router {
    use tower_http::compression::CompressionLayer;
    use tower_http::csrf::CsrfLayer;
    use tower_http::limit::RequestBodyLimitLayer;
    use tower_http::trace::TraceLayer;

    Router::new()
        .merge(web::router(state.clone()))
        .merge(api::router(state.clone()))
        .merge(assets::router())
        .with_state(state)
        // Cross-site forgery: browsers' Sec-Fetch-Site / Origin must be same-origin for any
        // state-changing method; clients sending neither (curl, scripts) pass.
        .layer(CsrfLayer::new())
        .layer(RequestBodyLimitLayer::new(2 * 1024 * 1024))
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
