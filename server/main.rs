//! `berth`: parse the flags, bind, and hand over to [`berth::launch`].

use std::process::ExitCode;

use berth::config::{Command, Config};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    berth::alloc::tune();
    let config = Config::parse();
    if let Some(Command::Healthcheck { addr }) = &config.command {
        return berth::web::health::probe(*addr).await;
    }
    berth::init_logging(&config, std::io::stdout);

    let listeners = match berth::Listeners::bind(&config).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    match berth::launch(config, listeners, shutdown_signal()).await {
        Ok(server) => {
            server.wait().await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "Berth could not start");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C, or SIGTERM from `docker stop`.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}
