//! Shared by the image, network and volume actions: who asked, and the audit row of the outcome.

use std::net::SocketAddr;

use crate::AppState;
use crate::auth::{Client, CurrentUser};
use crate::engine::Mirror;
use crate::error::Result;

pub fn client(ci: SocketAddr) -> Client {
    Client(ci.ip().to_string())
}

/// Writes the audit row of an action's outcome and hands the outcome on.
pub async fn audited<T>(
    state: &AppState,
    m: &Mirror,
    user: &CurrentUser,
    client: &Client,
    action: &str,
    target: &str,
    r: Result<T>,
) -> Result<T> {
    let outcome = match &r {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("failed: {e}"),
    };
    state
        .audit_on(
            Some(&m.name),
            Some(&user.username),
            client,
            action,
            Some(target),
            &outcome,
        )
        .await;
    r
}
