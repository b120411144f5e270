//! One error type for the whole server.
//!
//! Pages render it as an error page (or a redirect to the login), `/api` renders it as
//! `{"error", "field"}` through [`ApiError`]. The client sees a clear sentence; the log sees the
//! chain. Internal details never reach the client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),

    #[error("log in first")]
    Unauthorized,

    #[error("{0}")]
    Forbidden(String),

    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },

    /// A request that cannot mean anything (e.g. a path escaping its volume).
    #[error("{0}")]
    BadRequest(String),

    /// A body over the limit of its route.
    #[error("{0}")]
    TooLarge(String),

    /// A file (e.g. a compose file) that does not read, and where.
    #[error("{}", file_message(message, *line, *column))]
    File {
        message: String,
        line: Option<usize>,
        column: Option<usize>,
    },

    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: String,
    },

    #[error("too many failed attempts: try again in {retry_after} s")]
    Throttled { retry_after: u64 },

    /// Every password check slot is taken (they are limited to the number of cores).
    #[error("Berth is busy checking other logins: try again in {retry_after} s")]
    Busy { retry_after: u64 },

    /// The engine answered, and refused. Its message is shown as it said it.
    #[error("{message}")]
    EngineRefused { status: u16, message: String },

    /// The engine could not be reached or broke off: which endpoint, and why.
    #[error("the engine at {endpoint} is not reachable: {reason}")]
    EngineDown { endpoint: String, reason: String },

    /// The endpoint's mirror has not finished its first listing within the wait: answering from
    /// it would show an empty engine.
    #[error(
        "still connecting to {name} ({endpoint}): its first listing has not finished yet; try again in a moment"
    )]
    Connecting { name: String, endpoint: String },

    /// A container registry could not be reached, or answered otherwise than the v2 API does.
    #[error("the registry {registry} {reason}")]
    Registry { registry: String, reason: String },

    #[error("storage error")]
    Store(#[from] sqlx::Error),

    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            message: message.into(),
        }
    }

    pub fn internal(context: impl std::fmt::Display) -> Self {
        Error::Internal(anyhow::anyhow!("{context}"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Invalid { .. } | Error::File { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Throttled { .. } | Error::Busy { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::EngineRefused { status, .. } => match *status {
                400 => StatusCode::BAD_REQUEST,
                404 => StatusCode::NOT_FOUND,
                409 => StatusCode::CONFLICT,
                403 => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_GATEWAY,
            },
            Error::EngineDown { .. } | Error::Connecting { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Registry { .. } => StatusCode::BAD_GATEWAY,
            Error::Store(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The sentence the user reads. Internal errors are logged, with their chain, here.
    pub fn public_message(&self) -> String {
        match self {
            Error::Store(e) => {
                tracing::error!(error = ?e, "storage error");
                "Berth could not read or write its database; see the server log.".into()
            }
            Error::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "Something went wrong inside Berth; see the server log.".into()
            }
            other => other.to_string(),
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::Invalid { field, .. } | Error::Conflict { field, .. } => Some(field),
            _ => None,
        }
    }

    fn retry_after(&self, resp: &mut Response) {
        if let Error::Connecting { .. } = self {
            // The page (and a script) comes back by itself once the listing is there.
            let h = resp.headers_mut();
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            h.insert("refresh", HeaderValue::from_static("2"));
        }
        if let Error::Throttled { retry_after } | Error::Busy { retry_after } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
}

fn file_message(message: &str, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: {message}"),
        (Some(l), None) => format!("line {l}: {message}"),
        _ => message.to_string(),
    }
}

/// Maps bollard's errors to what a user can act on.
pub fn from_engine(endpoint: &str, err: bollard::errors::Error) -> Error {
    use bollard::errors::Error as B;
    match err {
        B::DockerResponseServerError {
            status_code,
            message,
        } => Error::EngineRefused {
            status: status_code,
            message,
        },
        B::RequestTimeoutError => Error::EngineDown {
            endpoint: endpoint.to_string(),
            reason: "no answer in time".into(),
        },
        other => {
            let reason = chain(&other);
            Error::EngineDown {
                endpoint: endpoint.to_string(),
                reason,
            }
        }
    }
}

/// An error and its sources, as one line.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut src = err.source();
    while let Some(s) = src {
        let s_txt = s.to_string();
        if !out.contains(&s_txt) {
            out.push_str(": ");
            out.push_str(&s_txt);
        }
        src = s.source();
    }
    out
}

/// Pages: unauthenticated visitors go to the login, the rest get the error page.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if matches!(self, Error::Unauthorized) {
            return Redirect::to("/login").into_response();
        }
        let status = self.status();
        let message = self.public_message();
        let mut resp = (status, crate::http::render_error_page(status, &message)).into_response();
        self.retry_after(&mut resp);
        resp
    }
}

/// The same error, rendered for `/api`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

/// Every `/api` refusal and failure: the sentence to show, and the field to blame when one is.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiErrorBody {
    /// What went wrong, in a sentence meant for the user.
    pub error: String,
    /// The request field that did not read or was refused (`"body"` when no single one is).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub field: Option<&'static str>,
    /// Where in a file the error is (compose files): line, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Column, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let (line, column) = match &self.0 {
            Error::File { line, column, .. } => (*line, *column),
            _ => (None, None),
        };
        let body = ApiErrorBody {
            error: self.0.public_message(),
            field: self.0.field(),
            line,
            column,
        };
        let mut resp = (status, Json(body)).into_response();
        self.0.retry_after(&mut resp);
        resp
    }
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;

/// The Engine API's error shape (the gateway's refusals use it too), for the OpenAPI description.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EngineErrorBody {
    pub message: String,
}

/// An error in the Engine API's own shape, `{"message": …}`, so that the docker CLI, compose
/// and the SDKs print Berth's sentence the way they print the engine's (the Docker API gateway).
pub struct EngineApiError(pub Error);

impl IntoResponse for EngineApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let mut resp = (
            status,
            Json(EngineErrorBody {
                message: self.0.public_message(),
            }),
        )
            .into_response();
        self.0.retry_after(&mut resp);
        resp
    }
}

impl<E: Into<Error>> From<E> for EngineApiError {
    fn from(e: E) -> Self {
        EngineApiError(e.into())
    }
}
