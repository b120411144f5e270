//! Small request helpers shared by pages and their JSON twins: the client address, a size-limited body.

use std::net::SocketAddr;

use crate::auth::Client;
use crate::error::Result;

pub fn client(ci: SocketAddr) -> Client {
    Client(ci.ip().to_string())
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
            crate::fmt::size(limit as i64)
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
