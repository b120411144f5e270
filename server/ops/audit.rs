//! Reading the audit log: filters, pages, CSV and JSON export, and retention.
//!
//! Rows come newest first. A page is the rows older than a cursor (`before`, an id), so paging
//! stays put while new rows arrive. Retention is two settings, `audit.retention_days` and
//! `audit.retention_rows` (either, both or none); rows past them are removed at start and daily.

use serde::Deserialize;
use sqlx::{QueryBuilder, Sqlite};

use super::{Actor, AuditAction, record};
use crate::AppState;
use crate::error::{Error, Result};
use crate::store::{AuditEntry, now};

/// Most rows one answer holds.
pub const MAX_LIMIT: i64 = 100_000;
/// Rows one page shows.
pub const PAGE: i64 = 100;

pub const RETENTION_DAYS: &str = "audit.retention_days";
pub const RETENTION_ROWS: &str = "audit.retention_rows";

/// The query string of `/audit` and `/api/audit`, as given (empty fields mean no filter).
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct Query {
    pub user: String,
    pub action: String,
    pub outcome: String,
    pub endpoint: String,
    pub since: String,
    pub until: String,
    pub limit: Option<i64>,
    pub before: Option<i64>,
    pub format: String,
}

/// A checked filter.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Filter {
    pub user: Option<String>,
    /// Exact (`container.start`), or every action of an area when it ends with a dot
    /// (`container.`).
    pub action: Option<String>,
    /// Exact (`ok`), or the outcomes starting `word:` (`failed` finds `failed: no such …`).
    pub outcome: Option<String>,
    pub endpoint: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before: Option<i64>,
    pub limit: i64,
}

fn given(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl Query {
    /// Checks the query; `default_limit` applies when `limit` is not given.
    pub fn filter(&self, default_limit: i64) -> Result<Filter> {
        let limit = self.limit.unwrap_or(default_limit);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid(
                "limit",
                format!("limit is a number of rows from 1 to {MAX_LIMIT}."),
            ));
        }
        let since = given(&self.since)
            .map(|s| parse_time(&s, false).ok_or_else(|| time_error("since", &s)))
            .transpose()?;
        let until = given(&self.until)
            .map(|s| parse_time(&s, true).ok_or_else(|| time_error("until", &s)))
            .transpose()?;
        Ok(Filter {
            user: given(&self.user),
            action: given(&self.action),
            outcome: given(&self.outcome),
            endpoint: given(&self.endpoint),
            since,
            until,
            before: self.before,
            limit,
        })
    }
}

fn time_error(field: &'static str, s: &str) -> Error {
    let shown: String = s.chars().take(40).collect();
    Error::invalid(
        field,
        format!(
            "`{shown}` is not a time: give Unix seconds, a date (2026-12-06) or a date and time in UTC (2026-12-06T09:30)."
        ),
    )
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds, `YYYY-MM-DD` (its first second, or with `end_of_day` its last), or
/// `YYYY-MM-DDTHH:MM[:SS]` (UTC; a space may stand for the T, a trailing Z is allowed).
pub fn parse_time(s: &str, end_of_day: bool) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        return s.parse().ok();
    }
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let (y, m, d) = (
        parts.next()?.parse::<i64>().ok()?,
        parts.next()?.parse::<i64>().ok()?,
        parts.next()?.parse::<i64>().ok()?,
    );
    if parts.next().is_some() || !(1970..=9999).contains(&y) || !(1..=12).contains(&m) {
        return None;
    }
    if !(1..=31).contains(&d) {
        return None;
    }
    let day = days_from_civil(y, m, d) * 86_400;
    let Some(time) = time else {
        return Some(if end_of_day { day + 86_399 } else { day });
    };
    let nums: Vec<i64> = time
        .split(':')
        .map(|p| p.parse::<i64>().ok())
        .collect::<Option<_>>()?;
    let (h, mi, sec) = match nums.as_slice() {
        [h, mi] => (*h, *mi, 0),
        [h, mi, sec] => (*h, *mi, *sec),
        _ => return None,
    };
    if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0..61).contains(&sec) {
        return None;
    }
    Some(day + h * 3600 + mi * 60 + sec)
}

/// `%`, `_` and `\` taken literally in a LIKE pattern (with `ESCAPE '\'`).
fn like_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The rows the filter selects, newest first.
pub async fn list(state: &AppState, f: &Filter) -> Result<Vec<AuditEntry>> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT id, at, username, client, endpoint, action, target, outcome FROM audit WHERE 1 = 1",
    );
    if let Some(u) = &f.user {
        q.push(" AND username = ").push_bind(u.clone());
    }
    if let Some(a) = &f.action {
        if a.ends_with('.') {
            q.push(" AND action LIKE ")
                .push_bind(format!("{}%", like_literal(a)))
                .push(" ESCAPE '\\'");
        } else {
            q.push(" AND action = ").push_bind(a.clone());
        }
    }
    if let Some(o) = &f.outcome {
        q.push(" AND (outcome = ")
            .push_bind(o.clone())
            .push(" OR outcome LIKE ")
            .push_bind(format!("{}:%", like_literal(o)))
            .push(" ESCAPE '\\')");
    }
    if let Some(e) = &f.endpoint {
        q.push(" AND endpoint = ").push_bind(e.clone());
    }
    if let Some(t) = f.since {
        q.push(" AND at >= ").push_bind(t);
    }
    if let Some(t) = f.until {
        q.push(" AND at <= ").push_bind(t);
    }
    if let Some(b) = f.before {
        q.push(" AND id < ").push_bind(b);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(f.limit);
    Ok(q.build_query_as().fetch_all(state.store.pool()).await?)
}

/// One CSV cell: quoted when it holds a separator, a quote or a line break; a cell a
/// spreadsheet would read as a formula (starting `=`, `+`, `-`, `@`, tab or carriage return)
/// gets a leading `'` so it stays text.
pub fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Unix seconds as `2026-12-06T09:30:00Z`.
pub fn iso(t: i64) -> String {
    crate::fmt::datetime(t)
        .trim_end_matches(" UTC")
        .replacen(' ', "T", 1)
        + "Z"
}

/// The rows as CSV (RFC 4180, CRLF line ends), with a header line.
pub fn csv(rows: &[AuditEntry]) -> String {
    let mut out = String::from("id,at,user,client,endpoint,action,target,outcome\r\n");
    for r in rows {
        let cells = [
            r.id.to_string(),
            iso(r.at),
            r.username.clone().unwrap_or_default(),
            r.client.clone().unwrap_or_default(),
            r.endpoint.clone().unwrap_or_default(),
            r.action.clone(),
            r.target.clone().unwrap_or_default(),
            r.outcome.clone(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The retention in force: (days, rows), from the settings; a value that is not a positive
/// number is ignored (and was refused when set through Berth).
pub async fn retention(state: &AppState) -> Result<(Option<i64>, Option<i64>)> {
    let read = |v: Option<String>| v.and_then(|v| v.trim().parse::<i64>().ok().filter(|n| *n > 0));
    Ok((
        read(state.store.setting(RETENTION_DAYS).await?),
        read(state.store.setting(RETENTION_ROWS).await?),
    ))
}

/// Removes the rows past the retention; returns how many went. The removal itself is audited.
pub async fn prune(state: &AppState) -> Result<u64> {
    let (days, rows) = retention(state).await?;
    let mut removed = 0;
    if let Some(d) = days {
        removed += sqlx::query("DELETE FROM audit WHERE at < ?")
            .bind(now() - d.saturating_mul(86_400))
            .execute(state.store.pool())
            .await?
            .rows_affected();
    }
    if let Some(n) = rows {
        removed += sqlx::query(
            "DELETE FROM audit WHERE id <= (SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?)",
        )
        .bind(n)
        .execute(state.store.pool())
        .await?
        .rows_affected();
    }
    if removed > 0 {
        let actor = Actor {
            username: None,
            role: None,
            client: "local".into(),
            token: None,
        };
        let why = match (days, rows) {
            (Some(d), Some(n)) => format!("older than {d} days or past the newest {n}"),
            (Some(d), None) => format!("older than {d} days"),
            (None, Some(n)) => format!("past the newest {n}"),
            (None, None) => String::new(),
        };
        record(
            state,
            None,
            &actor,
            AuditAction::AuditPrune,
            Some(&format!("{removed} rows {why}")),
            "ok",
        )
        .await;
    }
    Ok(removed)
}

/// Prunes at start and then once a day, until Berth stops.
pub async fn prune_daily(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(86_400));
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tick.tick() => {
                match prune(&state).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rows = n, "audit rows past the retention removed"),
                    Err(e) => tracing::warn!(error = %e, "pruning the audit log failed"),
                }
            }
        }
    }
}

/// The retention settings' values: a positive whole number, or empty for none.
pub fn validate_retention(key: &str, value: &str) -> Result<()> {
    if (key == RETENTION_DAYS || key == RETENTION_ROWS)
        && !value.trim().is_empty()
        && !value.trim().parse::<i64>().is_ok_and(|n| n > 0)
    {
        return Err(Error::invalid(
            "value",
            format!("{key} is a whole number above 0 (or empty: keep everything)."),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("0", false), Some(0));
        assert_eq!(parse_time("1970-01-02", false), Some(86_400));
        assert_eq!(parse_time("1970-01-02", true), Some(2 * 86_400 - 1));
        assert_eq!(parse_time("2026-12-06T09:30", false), Some(1_796_549_400));
        assert_eq!(
            parse_time("2026-12-06 09:30:15Z", false),
            Some(1_796_549_415)
        );
        assert_eq!(parse_time("2000-03-01", false), Some(951_868_800));
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-12-06T25:00",
            "2026-12",
            "-5",
        ] {
            assert_eq!(parse_time(bad, false), None, "{bad}");
        }
        assert_eq!(iso(1_796_549_415), "2026-12-06T09:30:15Z");
    }

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
    }

    #[test]
    fn filters_are_checked() {
        let q = Query {
            limit: Some(0),
            ..Default::default()
        };
        assert_eq!(q.filter(100).unwrap_err().field(), Some("limit"));
        let q = Query {
            since: "soon".into(),
            ..Default::default()
        };
        assert_eq!(q.filter(100).unwrap_err().field(), Some("since"));
        let q = Query {
            user: "  ".into(),
            action: "container.".into(),
            ..Default::default()
        };
        let f = q.filter(100).unwrap();
        assert_eq!(f.user, None);
        assert_eq!(f.action.as_deref(), Some("container."));
        assert_eq!(like_literal("a_b%"), "a\\_b\\%");
        assert!(validate_retention(RETENTION_DAYS, "30").is_ok());
        assert!(validate_retention(RETENTION_DAYS, "").is_ok());
        assert!(validate_retention(RETENTION_ROWS, "0").is_err());
        assert!(validate_retention(RETENTION_ROWS, "many").is_err());
        assert!(validate_retention("ui.theme", "many").is_ok());
    }
}
