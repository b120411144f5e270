//! The Docker API gateway: `/api/e/{id}/docker/…` (and `/api/docker/…` for the session's
//! endpoint) passes Engine API requests to that endpoint — socket, pipe, TCP or mutual TLS with
//! Berth's stored certificates — and the answers back as the engine wrote them, streaming both
//! ways; hijacked connections (attach, exec, the websocket attach) are spliced byte for byte
//! after the engine's `101`.
//!
//! Who may do what is one table ([`rules::need`]) over method and path; a request that changes
//! something is one audit row (`docker.api`, method and path without the query, the engine's
//! status); reads are counted in `/metrics`. Errors Berth itself answers have the Engine API's
//! shape, `{"message": …}`, so the docker CLI prints them.
//!
//! The gateway sits outside the page layers (compression, forgery check, body limit): a stream
//! must not be buffered or re-encoded, and the docker CLI sends no Origin.

pub mod rules;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;

use crate::AppState;
use crate::auth::{Client, CurrentUser};
use crate::error::{EngineApiError, Error};
use crate::http::access::Permission;
use crate::http::scope::EndpointId;
use crate::ops::{Actor, AuditAction};

/// How long connecting to the engine may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest body a gateway request may carry where the engine reads JSON (create, update…).
const JSON_LIMIT: usize = 2 * 1024 * 1024;
/// Largest inspect answer re-read to mask environment values for a viewer.
const MASK_LIMIT: usize = 16 * 1024 * 1024;

/// Requests through the gateway: reads and changes (audited), and refusals.
#[derive(Default)]
pub struct Counters {
    pub reads: AtomicU64,
    pub changes: AtomicU64,
    pub refused: AtomicU64,
    /// Hijacked connections (attach, exec) open now.
    pub hijacked_open: AtomicU64,
}

pub static COUNTERS: Counters = Counters {
    reads: AtomicU64::new(0),
    changes: AtomicU64::new(0),
    refused: AtomicU64::new(0),
    hijacked_open: AtomicU64::new(0),
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/docker", any(proxy))
        .route("/api/docker/{*rest}", any(proxy))
}

/// The Docker Engine API itself, through Berth: any engine path, e.g. `/api/docker/v1.47/containers/json`.
#[utoipa::path(
    method(get, post, put, delete, head), path = "/api/docker/{path}", tag = "docker",
    params(("path" = String, Path, description = "An Engine API path (it may hold slashes), e.g. `v1.47/containers/json`: see https://docs.docker.com/reference/api/engine/")),
    responses(
        (status = 200, description = "The engine's answer, unchanged (streams and upgraded connections pass through)", body = Object),
        (status = "4XX", description = "Refused by Berth's gateway rules or by the engine, in the engine's shape", body = crate::error::EngineErrorBody),
        (status = "5XX", description = "The engine failed or is unreachable, in the engine's shape", body = crate::error::EngineErrorBody),
    )
)]
async fn proxy(State(state): State<AppState>, req: Request) -> Response {
    match forward(&state, req).await {
        Ok(r) => r,
        Err(e) => {
            if matches!(e.0, Error::Forbidden(_) | Error::Unauthorized) {
                COUNTERS.refused.fetch_add(1, Ordering::Relaxed);
            }
            e.into_response()
        }
    }
}

/// The user behind a gateway request: an API token (`X-API-Key`, `Authorization: Bearer`) or
/// the session cookie. Without one: 401 in the Engine API's shape, saying how to send one.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<CurrentUser, Response> {
    let (found, missing) = match crate::auth::presented_token(headers) {
        Some(t) => (
            crate::auth::token_user(state, t).await,
            "Berth: the API token is unknown, expired or revoked",
        ),
        None => (
            crate::auth::current_user(state, headers).await,
            "Berth: log in first: send an API token as X-API-Key (for docker: \"HttpHeaders\" in ~/.docker/config.json) or as Authorization: Bearer",
        ),
    };
    let user = match found {
        Ok(Some(u)) => u,
        Ok(None) => {
            COUNTERS.refused.fetch_add(1, Ordering::Relaxed);
            return Err((
                StatusCode::UNAUTHORIZED,
                axum::Json(serde_json::json!({ "message": missing })),
            )
                .into_response());
        }
        Err(e) => return Err(EngineApiError(e).into_response()),
    };
    if user.must_change_password {
        return Err(EngineApiError(Error::Forbidden(
            "Berth: an administrator reset your password: change it first (POST /api/account/password)".into(),
        ))
        .into_response());
    }
    Ok(user)
}

async fn forward(state: &AppState, mut req: Request) -> Result<Response, EngineApiError> {
    let user = match caller(state, req.headers()).await {
        Ok(u) => u,
        Err(refused) => return Ok(refused),
    };
    let client = Client::of(req.extensions().get::<ConnectInfo<SocketAddr>>());
    let actor = Actor::user(&user, &client);

    // The endpoint: from the URL, else the one the session switched to, else the first.
    let id = req
        .extensions()
        .get::<EndpointId>()
        .map(|e| e.0)
        .or(user.endpoint_id)
        .unwrap_or_else(|| state.engines.primary_id());
    let slot = state
        .engines
        .slot(id)
        .ok_or_else(|| Error::NotFound(format!("Berth: no endpoint {id}")))?;

    let rest = req
        .uri()
        .path()
        .strip_prefix("/api/docker")
        .unwrap_or("")
        .to_string();
    let engine_path = rules::engine_path(&rest).to_string();
    let method = req.method().as_str().to_string();
    let need = rules::need(&method, &engine_path);
    let role = user.role;
    if !role.allows(need.perm) {
        return Err(Error::Forbidden(format!(
            "Berth: {} {engine_path} is refused: {}",
            method,
            need.perm.refusal(role)
        ))
        .into());
    }
    let mirror = state.engines.get(id);
    // Berth's own container: nobody but an admin reaches inside it.
    if role != crate::auth::Role::Admin
        && let Some(key) = rules::reaches_into(&engine_path)
    {
        let full = mirror
            .as_deref()
            .and_then(|m| crate::engine::containers::find(m, key))
            .map(|c| c.id.clone())
            .unwrap_or_else(|| key.to_string());
        state.own.check_container(&full)?;
    }

    // The body: bounded where the engine reads JSON; a create is read to see what it asks.
    let limit = if need.upload {
        usize::try_from(state.config.image_upload_limit).unwrap_or(usize::MAX)
    } else {
        JSON_LIMIT
    };
    let upgrade = wants_upgrade(req.headers());
    let inspect_body = method == "POST"
        && (engine_path == "/containers/create"
            || rules::reaches_into(&engine_path).is_some() && engine_path.ends_with("/exec"));
    let body = if inspect_body {
        let bytes = read_limited(std::mem::take(req.body_mut()), JSON_LIMIT).await?;
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            let why = rules::holds_the_host(&v);
            if !why.is_empty() && role != crate::auth::Role::Admin {
                return Err(Error::Forbidden(format!(
                    "Berth: this container would hold the host ({}): your account ({role}) may not; an administrator may",
                    why.join(", ")
                ))
                .into());
            }
            if let Some(m) = &mirror {
                for v in rules::volume_sources(&v) {
                    state.own.check_volume(m, &v).await?;
                }
            }
        }
        Body::from(bytes)
    } else {
        Body::new(http_body_util::Limited::new(
            std::mem::take(req.body_mut()),
            limit,
        ))
    };

    // Berth's own credentials never reach the engine, nor do this hop's connection headers
    // (but for an upgrade, which the engine must see asked for).
    let mut headers = req.headers().clone();
    strip_hop_headers(&mut headers, upgrade);
    for h in [header::COOKIE, header::AUTHORIZATION] {
        headers.remove(h);
    }
    headers.remove("x-api-key");
    if inspect_body {
        headers.remove(header::TRANSFER_ENCODING);
    }
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{}?{q}", if rest.is_empty() { "/" } else { &rest }),
        None => {
            if rest.is_empty() {
                "/".into()
            } else {
                rest.clone()
            }
        }
    };
    let mut out = hyper::Request::builder()
        .method(req.method().clone())
        .uri(path_and_query)
        .body(body)
        .map_err(|e| Error::BadRequest(format!("Berth: that request cannot be passed on: {e}")))?;
    *out.headers_mut() = headers;
    out.headers_mut()
        .insert(header::HOST, HeaderValue::from_static("docker"));

    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let def = &slot.def;
    let endpoint = def.name.clone();
    let io = crate::endpoints::probe::connect(&def.url, def.tls.as_ref(), CONNECT_TIMEOUT)
        .await
        .map_err(|reason| Error::EngineDown {
            endpoint: endpoint.clone(),
            reason,
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| Error::EngineDown {
            endpoint: endpoint.clone(),
            reason: e.to_string(),
        })?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "gateway: engine connection ended");
        }
    });
    let sent = sender.send_request(out).await;
    drop(sender);
    let mut answer = match sent {
        Ok(a) => a,
        Err(e) => {
            let too_large = over_limit(&e);
            let err = if too_large {
                Error::TooLarge(format!(
                    "Berth: the request body is over the limit of {} for {engine_path}",
                    crate::fmt::size(i64::try_from(limit).unwrap_or(i64::MAX))
                ))
            } else {
                Error::EngineDown {
                    endpoint: endpoint.clone(),
                    reason: e.to_string(),
                }
            };
            if need.audited {
                audit(
                    state,
                    &endpoint,
                    &actor,
                    &method,
                    &engine_path,
                    &format!("failed: {err}"),
                )
                .await;
            }
            return Err(err.into());
        }
    };
    let status = answer.status();
    if need.audited {
        COUNTERS.changes.fetch_add(1, Ordering::Relaxed);
        let outcome = if status.is_success() || status == StatusCode::SWITCHING_PROTOCOLS {
            format!("ok: {}", status.as_u16())
        } else {
            format!("failed: {}", status.as_u16())
        };
        audit(state, &endpoint, &actor, &method, &engine_path, &outcome).await;
    } else {
        COUNTERS.reads.fetch_add(1, Ordering::Relaxed);
    }

    if status == StatusCode::SWITCHING_PROTOCOLS {
        let engine_upgrade = hyper::upgrade::on(&mut answer);
        if let Some(client_upgrade) = client_upgrade {
            tokio::spawn(splice(client_upgrade, engine_upgrade));
        }
        let (parts, _) = answer.into_parts();
        return Ok(Response::from_parts(parts, Body::empty()));
    }

    // A viewer's inspect answer: environment values masked.
    if role == crate::auth::Role::Viewer
        && req.method() == Method::GET
        && status.is_success()
        && rules::masks_env(&engine_path)
    {
        let (mut parts, body) = answer.into_parts();
        let bytes = read_limited(Body::new(body), MASK_LIMIT).await?;
        let masked = match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(mut v) => {
                rules::mask_env(&mut v);
                serde_json::to_vec(&v).unwrap_or_default()
            }
            Err(_) => bytes.to_vec(),
        };
        strip_hop_headers(&mut parts.headers, false);
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(masked.len()));
        return Ok(Response::from_parts(parts, Body::from(masked)));
    }

    let (mut parts, body) = answer.into_parts();
    strip_hop_headers(&mut parts.headers, false);
    Ok(Response::from_parts(parts, Body::new(Coalesce::new(body))))
}

/// The engine's answer, its small frames joined into writes of up to 256 KiB: the engine writes
/// a log in chunks of a few KiB, and passing each on alone costs a chunk header, a write and (with
/// no Nagle delay on Berth's sockets) a packet per chunk. Data waits at most [`JOIN_WINDOW`]
/// for more, so a live stream (`logs -f`, events) is held back by a millisecond at most.
struct Coalesce<B: http_body::Body> {
    inner: B,
    joined: bytes::BytesMut,
    /// When the data joined so far goes on even if no more comes.
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    /// What came after joined data (trailers, an error, the end), handed on next.
    held: Option<Option<Result<http_body::Frame<bytes::Bytes>, B::Error>>>,
}

const COALESCE_MAX: usize = 256 * 1024;
const JOIN_WINDOW: Duration = Duration::from_millis(1);

impl<B: http_body::Body> Coalesce<B> {
    fn new(inner: B) -> Self {
        Coalesce {
            inner,
            joined: bytes::BytesMut::new(),
            deadline: None,
            held: None,
        }
    }

    fn emit(&mut self) -> http_body::Frame<bytes::Bytes> {
        self.deadline = None;
        http_body::Frame::data(self.joined.split().freeze())
    }
}

impl<B> http_body::Body for Coalesce<B>
where
    B: http_body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: Unpin,
{
    type Data = bytes::Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::future::Future;
        use std::task::Poll;
        let this = &mut *self;
        if let Some(next) = this.held.take() {
            return Poll::Ready(next);
        }
        loop {
            match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) if frame.is_data() => {
                    if let Ok(data) = frame.into_data() {
                        if this.joined.is_empty() && data.len() >= COALESCE_MAX {
                            return Poll::Ready(Some(Ok(http_body::Frame::data(data))));
                        }
                        this.joined.extend_from_slice(&data);
                    }
                    if this.joined.len() >= COALESCE_MAX {
                        return Poll::Ready(Some(Ok(this.emit())));
                    }
                }
                Poll::Ready(other) => {
                    if this.joined.is_empty() {
                        return Poll::Ready(other);
                    }
                    this.held = Some(other);
                    return Poll::Ready(Some(Ok(this.emit())));
                }
                Poll::Pending => {
                    if this.joined.is_empty() {
                        return Poll::Pending;
                    }
                    let d = this
                        .deadline
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(JOIN_WINDOW)));
                    return match d.as_mut().poll(cx) {
                        Poll::Ready(()) => Poll::Ready(Some(Ok(this.emit()))),
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.joined.is_empty()
            && (matches!(self.held, Some(None))
                || (self.held.is_none() && self.inner.is_end_stream()))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        if self.held.is_some() || !self.joined.is_empty() {
            http_body::SizeHint::default()
        } else {
            self.inner.size_hint()
        }
    }
}

/// Removes the headers that belong to one connection, not to the message (RFC 9110 §7.6.1);
/// `Connection` and `Upgrade` stay on a request that asks for an upgrade.
fn strip_hop_headers(h: &mut HeaderMap, keep_upgrade: bool) {
    for name in [
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
    ] {
        h.remove(name);
    }
    if !keep_upgrade {
        h.remove(header::CONNECTION);
        h.remove(header::UPGRADE);
    }
}

/// Whether a failed send was the request body going over its limit.
fn over_limit(e: &hyper::Error) -> bool {
    std::error::Error::source(e).is_some_and(limit_error)
}

/// Whether the client asks to take the connection over (`Upgrade: tcp`, a websocket).
fn wants_upgrade(h: &HeaderMap) -> bool {
    h.get(header::UPGRADE).is_some()
        && h.get(header::CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"))
}

/// Copies both ways between the client and the engine until both are done; each side's end of
/// writing is passed on as a half-close (the CLI closes stdin that way and still reads).
async fn splice(client: hyper::upgrade::OnUpgrade, engine: hyper::upgrade::OnUpgrade) {
    let (client, engine) = match tokio::try_join!(client, engine) {
        Ok(both) => both,
        Err(e) => {
            tracing::debug!(error = %e, "gateway: upgrade failed");
            return;
        }
    };
    COUNTERS.hijacked_open.fetch_add(1, Ordering::Relaxed);
    let mut client = TokioIo::new(client);
    let mut engine = TokioIo::new(engine);
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut engine).await {
        tracing::debug!(error = %e, "gateway: hijacked stream ended");
    }
    COUNTERS.hijacked_open.fetch_sub(1, Ordering::Relaxed);
}

async fn read_limited(body: Body, limit: usize) -> Result<bytes::Bytes, EngineApiError> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if limit_error(e.as_ref()) => Err(Error::TooLarge(format!(
            "Berth: the body is over the limit of {}",
            crate::fmt::size(i64::try_from(limit).unwrap_or(i64::MAX))
        ))
        .into()),
        Err(e) => Err(Error::BadRequest(format!("Berth: the body could not be read: {e}")).into()),
    }
}

fn limit_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = c.source();
    }
    false
}

async fn audit(
    state: &AppState,
    endpoint: &str,
    actor: &Actor,
    method: &str,
    path: &str,
    outcome: &str,
) {
    let target = format!("{method} {path}");
    crate::ops::record(
        state,
        Some(endpoint),
        actor,
        AuditAction::DockerApi,
        Some(&target),
        outcome,
    )
    .await;
}

/// The permission a gateway request needs (for the docs and tests).
pub fn permission(method: &str, path: &str) -> Permission {
    rules::need(method, rules::engine_path(path)).perm
}
