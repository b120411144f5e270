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

/// Reads a request body up to `limit` bytes; more is a 413 that names the limit.
pub async fn read_limited(
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
    limit: u64,
) -> Result<bytes::Bytes> {
    use futures_util::StreamExt;
    let too_large = || {
        crate::error::Error::TooLarge(format!(
            "The upload is larger than the limit of {}.",
            crate::web::fmt::size(limit as i64)
        ))
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut out = bytes::BytesMut::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            crate::error::Error::invalid("body", format!("The upload broke off: {e}"))
        })?;
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}
