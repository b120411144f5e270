//! `/healthz` (no login): Berth is up; says whether the engine is. And the client side of it,
//! for `berth healthcheck` in the container's HEALTHCHECK.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz(State(state): State<AppState>) -> Json<Value> {
    let up = state.engines.primary().health().up;
    Json(json!({"status": "ok", "engine": if up { "up" } else { "down" }}))
}

/// GET /healthz on `addr`; exit 0 on a 200 within 3 s.
pub async fn probe(addr: SocketAddr) -> ExitCode {
    let ask = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(format!("GET /healthz HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf).into_owned())
    };
    match tokio::time::timeout(Duration::from_secs(3), ask).await {
        Ok(Ok(resp)) if resp.starts_with("HTTP/1.0 200") || resp.starts_with("HTTP/1.1 200") => {
            println!("{}", resp.split("\r\n\r\n").nth(1).unwrap_or(""));
            ExitCode::SUCCESS
        }
        Ok(Ok(resp)) => {
            eprintln!("unhealthy: {}", resp.lines().next().unwrap_or(""));
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("unhealthy: no answer in 3 s");
            ExitCode::FAILURE
        }
    }
}
