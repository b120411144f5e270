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
    if let Some(Command::User { command }) = &config.command {
        // Only warnings, and on standard error: the command's own output is its answer.
        berth::init_logging(&config, std::io::stderr);
        return berth::cli::user(&config, command).await;
    }
    berth::init_logging(&config, std::io::stdout);
    if let Some(Command::Restore {
        file,
        passphrase_file,
    }) = &config.command
    {
        return restore(&config, file, passphrase_file.as_deref()).await;
    }

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

/// `berth restore FILE`: the backup into the data folder, which must hold no user yet.
async fn restore(
    config: &Config,
    file: &std::path::Path,
    passphrase_file: Option<&std::path::Path>,
) -> ExitCode {
    let passphrase = match berth::ops::backup::read_passphrase(passphrase_file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("berth restore: {e}");
            return ExitCode::FAILURE;
        }
    };
    match berth::ops::backup::restore_folder(config, file, &passphrase).await {
        Ok(r) => {
            println!(
                "Restored the backup of {} into {}: {} users, {} endpoints, {} settings, {} audit rows. Start Berth on this folder and log in with an account of the backup.",
                berth::fmt::datetime(r.created_at),
                config.data.display(),
                r.users,
                r.endpoints,
                r.settings,
                r.audit
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("berth restore: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C, or `docker stop`: SIGTERM on Linux; on Windows the console's close, logoff or
/// shutdown event (a Windows container's stop sends CTRL_SHUTDOWN_EVENT).
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
    #[cfg(windows)]
    let term = async {
        use tokio::signal::windows;
        match (
            windows::ctrl_shutdown(),
            windows::ctrl_close(),
            windows::ctrl_logoff(),
        ) {
            (Ok(mut shutdown), Ok(mut close), Ok(mut logoff)) => {
                tokio::select! {
                    _ = shutdown.recv() => {}
                    _ = close.recv() => {}
                    _ = logoff.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(any(unix, windows)))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}
