//! Query strings and small text inputs that a page and its JSON twin read the same way.

use crate::engine::logs::LogQuery;
use crate::error::{Error, Result};

/// A list page's filter: `?q=text&filter=dangling|unused`.
#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQ {
    #[serde(default)]
    pub q: String,
    /// `dangling`, `unused` or empty.
    #[serde(default)]
    pub filter: String,
}

/// `?path=…` of a file browser.
#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PathQ {
    #[serde(default)]
    pub path: String,
}

/// `?ids=a&ids=b` (repeated) or `?ids=a,b`.
pub fn ids_of(query: Option<&str>) -> Vec<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "ids" || k == "id")
        .flat_map(|(_, v)| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The query of a log page or stream: the [`LogQuery`] fields and, for merged views, `c` once
/// per container.
pub fn parse_query(raw: Option<&str>) -> Result<(LogQuery, Vec<String>)> {
    let raw = raw.unwrap_or("");
    let mut containers = Vec::new();
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        if k == "c" {
            if !v.is_empty() && !containers.contains(&v.to_string()) {
                containers.push(v.into_owned());
            }
        } else {
            rest.append_pair(&k, &v);
        }
    }
    let q: LogQuery = serde_urlencoded::from_str(&rest.finish())
        .map_err(|e| Error::invalid("query", format!("bad log options: {e}")))?;
    Ok((q, containers))
}

/// `KEY=value` lines.
pub fn parse_args(t: &str) -> Result<std::collections::HashMap<String, String>> {
    let mut out = std::collections::HashMap::new();
    for line in t.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.insert(k.trim().to_string(), v.to_string());
            }
            _ => {
                return Err(Error::invalid(
                    "buildargs",
                    format!("`{line}` is not NAME=value."),
                ));
            }
        }
    }
    Ok(out)
}
