//! `GET /api/audit`: the audit log, filtered, newest first; `format=csv` or `format=json`
//! downloads it.

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::error::{ApiResult, Error};
use crate::ops::audit;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/audit", get(list))
}

#[utoipa::path(
    get, path = "/api/audit", tag = "audit",
    params(audit::Query),
    responses((status = 200, description = "Audit rows, newest first; `format=csv` or `format=json` makes it a download",
        content((Vec<crate::store::AuditEntry> = "application/json"), (String = "text/csv")))),
)]
async fn list(State(state): State<AppState>, Query(q): Query<audit::Query>) -> ApiResult<Response> {
    let f = q.filter(audit::PAGE)?;
    let rows = audit::list(&state, &f).await?;
    let stamp = audit::iso(crate::store::now()).replace([':', '-'], "");
    let (body, kind, ext) = match q.format.as_str() {
        "" => return Ok(Json(rows).into_response()),
        "json" => (
            serde_json::to_string_pretty(&rows).map_err(Error::internal)?,
            "application/json",
            "json",
        ),
        "csv" => (audit::csv(&rows), "text/csv; charset=utf-8", "csv"),
        other => {
            let shown: String = other.chars().take(20).collect();
            return Err(
                Error::invalid("format", format!("format is csv or json, not `{shown}`.")).into(),
            );
        }
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"berth-audit-{}.{ext}\"",
        &stamp[..stamp.len().min(13)]
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
