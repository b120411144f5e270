//! What prune would remove, shown before it does: the same selection the engine makes, computed
//! from the mirror, with the same label filter the prune call then carries.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `key` or `key=value`: only objects carrying that label (as the engine's `label` filter).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LabelFilter {
    pub key: String,
    pub value: Option<String>,
}

impl LabelFilter {
    /// An empty text means no filter.
    pub fn parse(text: &str) -> Result<Option<Self>> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(None);
        }
        let (key, value) = match t.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().to_string())),
            None => (t, None),
        };
        if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::invalid(
                "label",
                format!("`{t}` is not a label filter: write key or key=value."),
            ));
        }
        Ok(Some(LabelFilter {
            key: key.to_string(),
            value,
        }))
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match (labels.get(&self.key), &self.value) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(v), Some(want)) => v == want,
        }
    }

    pub fn as_text(&self) -> String {
        match &self.value {
            Some(v) => format!("{}={v}", self.key),
            None => self.key.clone(),
        }
    }
}

/// The engine's prune filters for an optional label filter.
pub fn filters(label: Option<&LabelFilter>) -> Option<HashMap<String, Vec<String>>> {
    label.map(|l| HashMap::from([("label".to_string(), vec![l.as_text()])]))
}

/// The form/JSON of a prune request or preview.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PruneForm {
    #[serde(default)]
    pub label: String,
    /// Images only: every unused image, not just dangling ones.
    #[serde(default, deserialize_with = "crate::engine::network_spec::flag")]
    pub all: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct PruneItem {
    pub id: String,
    pub name: String,
    /// Bytes it frees, where known.
    pub size: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct PrunePreview {
    pub items: Vec<PruneItem>,
    /// Bytes freed, where known.
    pub bytes: Option<i64>,
    pub label: Option<String>,
}

#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct PruneOutcome {
    /// Ids (networks, images) or names (volumes) the engine removed.
    pub removed: Vec<String>,
    pub bytes: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_filters() {
        assert_eq!(LabelFilter::parse("  ").unwrap(), None);
        let f = LabelFilter::parse("berth.test=abc").unwrap().unwrap();
        assert_eq!(f.key, "berth.test");
        assert_eq!(f.value.as_deref(), Some("abc"));
        let mut labels = BTreeMap::new();
        assert!(!f.matches(&labels));
        labels.insert("berth.test".to_string(), "abc".to_string());
        assert!(f.matches(&labels));
        labels.insert("berth.test".to_string(), "other".to_string());
        assert!(!f.matches(&labels));
        let k = LabelFilter::parse("berth.test").unwrap().unwrap();
        assert!(k.matches(&labels));
        assert!(LabelFilter::parse("=x").is_err());
        assert!(LabelFilter::parse("a b=c").is_err());
        assert_eq!(f.as_text(), "berth.test=abc");
    }
}
