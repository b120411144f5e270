//! `/audit` (admins): the audit log, newest first, filtered and paged, with its CSV and JSON
//! export and the retention in force.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};

use super::{Chrome, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::Result;
use crate::http::scope::Ep;
use crate::ops::{AuditAction, audit};
use crate::store::AuditEntry;

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(page))
}

#[derive(Template)]
#[template(path = "audit.html")]
struct Page {
    chrome: Chrome,
    q: audit::Query,
    rows: Vec<AuditEntry>,
    /// The query string of the next (older) page, when there is one.
    older: Option<String>,
    /// The filters as a query string, for the export links.
    filters: String,
    actions: Vec<&'static str>,
    retention_days: String,
    retention_rows: String,
    error: Option<String>,
}

fn query_string(q: &audit::Query, before: Option<i64>, format: &str) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("user", &q.user),
        ("action", &q.action),
        ("outcome", &q.outcome),
        ("endpoint", &q.endpoint),
        ("since", &q.since),
        ("until", &q.until),
    ] {
        if !v.trim().is_empty() {
            s.append_pair(k, v.trim());
        }
    }
    if let Some(b) = before {
        s.append_pair("before", &b.to_string());
    }
    if !format.is_empty() {
        s.append_pair("format", format);
        s.append_pair("limit", &audit::MAX_LIMIT.to_string());
    }
    s.finish()
}

async fn page(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<audit::Query>,
) -> Result<Response> {
    let (mut rows, error) = match q.filter(audit::PAGE + 1) {
        Ok(f) => (audit::list(&state, &f).await?, None),
        Err(e) => (Vec::new(), Some(e.public_message())),
    };
    let older = if rows.len() as i64 > audit::PAGE {
        rows.truncate(audit::PAGE as usize);
        rows.last().map(|r| query_string(&q, Some(r.id), ""))
    } else {
        None
    };
    let (days, keep) = audit::retention(&state).await?;
    let mut actions: Vec<&'static str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
    actions.sort_unstable();
    render(&Page {
        chrome: Chrome::new(&user, &ep, "audit"),
        filters: query_string(&q, None, ""),
        q,
        rows,
        older,
        actions,
        retention_days: days.map(|d| d.to_string()).unwrap_or_default(),
        retention_rows: keep.map(|d| d.to_string()).unwrap_or_default(),
        error,
    })
}
