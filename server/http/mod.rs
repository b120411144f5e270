//! What the page handlers (`web`) and their JSON twins (`api`) share about HTTP: who may reach
//! which route ([`access`]). Nothing here names `crate::web` or `crate::api`.

pub mod access;
pub mod actor;
pub mod attachment;
pub mod backup;
pub mod bodies;
pub mod headers;
pub mod query;
pub mod request;
pub mod scope;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
}

/// The error page; plain text if even that cannot be rendered.
pub fn render_error_page(status: StatusCode, message: &str) -> Response {
    let page = ErrorPage {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or(""),
        message,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(_) => message.to_string().into_response(),
    }
}
