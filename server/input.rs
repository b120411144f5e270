//! Small user inputs read the same way everywhere: a checkbox or flag is on when it says `on`,
//! `true`, `1` or `yes` (a form's checkbox, a query flag, a JSON boolean).

use serde::{Deserialize, Deserializer};

/// Whether a form or query value turns a flag on.
pub fn is_on(v: &str) -> bool {
    matches!(v.trim(), "on" | "true" | "1" | "yes")
}

/// [`is_on`] for an optional value (absent: off).
pub fn is_on_opt(v: Option<&str>) -> bool {
    v.is_some_and(is_on)
}

/// Serde: a checkbox, a query flag or a JSON boolean; absent is false.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum F {
        B(bool),
        S(String),
    }
    Ok(match Option::<F>::deserialize(d)? {
        None => false,
        Some(F::B(b)) => b,
        Some(F::S(s)) => is_on(&s),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkboxes_and_flags() {
        for v in ["on", "true", "1", "yes", " on "] {
            assert!(is_on(v), "{v}");
        }
        for v in ["", "off", "false", "0", "no", "banana"] {
            assert!(!is_on(v), "{v}");
        }
        #[derive(Deserialize)]
        struct Q {
            #[serde(default, deserialize_with = "flag")]
            f: bool,
        }
        let q: Q = serde_urlencoded::from_str("f=on").unwrap();
        assert!(q.f);
        let q: Q = serde_urlencoded::from_str("").unwrap();
        assert!(!q.f);
        let q: Q = serde_json::from_str(r#"{"f": true}"#).unwrap();
        assert!(q.f);
    }
}
