//! Downloads: one way to answer with a file the browser saves rather than shows.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::engine::{image_ops, volume_files};
use crate::error::Result;
use crate::http::scope::Ep;

pub const TAR: &str = "application/x-tar";
pub const OCTETS: &str = "application/octet-stream";

/// `body` as a download named `file` (its name reduced to `A-Za-z0-9._-`), never rendered by
/// the browser.
pub fn attachment(
    body: Body,
    content_type: &'static str,
    file: &str,
    len: Option<u64>,
) -> Response {
    let safe: String = file
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(n) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// The tar download of `docker save` for the named images.
pub fn image_save(ep: &Ep, names: &[String]) -> Result<Response> {
    let names = image_ops::resolve_names(ep, names)?;
    let stream = image_ops::export(ep, &names)?;
    let file = if names.len() == 1 {
        crate::engine::volume_files::safe_file_name(&names[0])
    } else {
        "images".to_string()
    };
    Ok(attachment(
        Body::from_stream(stream),
        TAR,
        &format!("{file}.tar"),
        None,
    ))
}

/// A file or folder as a tar download (never of Berth's own data volume).
pub async fn volume_tar(state: &AppState, ep: &Ep, name: &str, path: &str) -> Result<Response> {
    state.own.check_volume(ep, name).await?;
    let (file, stream) = volume_files::download(ep, name, path).await?;
    Ok(attachment(
        Body::from_stream(stream),
        TAR,
        &format!("{file}.tar"),
        None,
    ))
}
