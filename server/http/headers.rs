//! Headers every answer carries, and the Host check of `--public-url`.
//!
//! Content-Security-Policy: scripts only from Berth's own files (no inline script, no `eval`:
//! htmx runs with `allowEval` off), styles only from Berth's own files too, except `style`
//! attributes (`style-src-attr 'unsafe-inline'`): the disk bars and the layer blocks size and
//! colour themselves through them, and an attribute can neither run script nor load anything
//! (`img-src`, `font-src` stay `'self'`). The console page also lets scripts add `<style>`
//! elements, which xterm.js's renderer writes its measurements and colours into.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// The policy of every page.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     style-src-attr 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The console page's: the same, and `<style>` elements written by xterm.js.
pub const CSP_CONSOLE: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     style-src-elem 'self' 'unsafe-inline'; style-src-attr 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// HSTS on the HTTPS listener: a year, this host only (Berth does not own its domain's
/// subdomains). Browsers ignore it over a connection whose certificate they did not trust.
pub const HSTS: &str = "max-age=31536000";

/// The policy for a (routed, unscoped) path.
pub fn csp_for(path: &str) -> &'static str {
    if path.starts_with("/containers/") && path.ends_with("/console") {
        CSP_CONSOLE
    } else {
        CSP
    }
}

/// The Host a request names: the Host header, else the URI's authority (HTTP/2 style).
fn request_host(req: &Request) -> Option<String> {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
}

/// Refuses a request naming another host than `--public-url` (the health probe excepted: it
/// asks 127.0.0.1 and says nothing), and puts the Content-Security-Policy on every answer.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if let Some(public) = &state.config.public_url
        && path != "/healthz"
    {
        let host = request_host(&req).unwrap_or_default();
        if !public.allows(&host) {
            tracing::debug!(%host, "request for another host refused");
            let shown: String = host.chars().take(100).collect();
            let message = format!(
                "This Berth answers at {} only, and this request named the host `{shown}`. \
                 Open {} instead (a page of another site pointing its name at this address \
                 is refused the same way).",
                public.url, public.url
            );
            let status = StatusCode::MISDIRECTED_REQUEST;
            let mut r = if path.starts_with("/api/") {
                (status, Json(serde_json::json!({ "error": message }))).into_response()
            } else {
                (status, super::render_error_page(status, &message)).into_response()
            };
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            return r;
        }
    }
    let mut r = next.run(req).await;
    r.headers_mut()
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(csp_for(&path)));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_inline_script_anywhere() {
        for p in [CSP, CSP_CONSOLE] {
            let script = p
                .split(';')
                .map(str::trim)
                .find(|d| d.starts_with("script-src"))
                .unwrap();
            assert_eq!(script, "script-src 'self'");
            assert!(!p.contains("unsafe-eval"));
        }
        assert_eq!(csp_for("/containers/abc/console"), CSP_CONSOLE);
        assert_eq!(csp_for("/containers/abc/logs"), CSP);
        assert_eq!(csp_for("/"), CSP);
    }
}
