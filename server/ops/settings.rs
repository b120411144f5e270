//! Settings: validated, stored, audited.

use super::{Actor, AuditAction, record};
use crate::AppState;
use crate::error::{Error, Result};

pub const MAX_KEY_LEN: usize = 64;
pub const MAX_VALUE_LEN: usize = 1024;

/// A key is 1 to 64 of `a-z 0-9 . _ -`, starting with a letter (`ui.theme`).
pub fn validate(key: &str, value: &str) -> Result<()> {
    let key_ok = key.len() <= MAX_KEY_LEN
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !key_ok {
        return Err(Error::invalid(
            "key",
            format!(
                "A setting's key has 1 to {MAX_KEY_LEN} characters a-z, 0-9, '.', '_' or '-' and starts with a letter."
            ),
        ));
    }
    if value.chars().count() > MAX_VALUE_LEN {
        return Err(Error::invalid(
            "value",
            format!("A setting's value has at most {MAX_VALUE_LEN} characters."),
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(
            "value",
            "A setting's value is one line of text without control characters.",
        ));
    }
    super::audit::validate_retention(key, value)
}

/// Validates, stores and audits one setting.
pub async fn set(state: &AppState, actor: &Actor, key: &str, value: &str) -> Result<()> {
    if let Err(e) = validate(key, value) {
        record(
            state,
            None,
            actor,
            AuditAction::SettingChange,
            Some(key),
            &format!("refused: {e}"),
        )
        .await;
        return Err(e);
    }
    state.store.set_setting(key, value).await?;
    record(
        state,
        None,
        actor,
        AuditAction::SettingChange,
        Some(key),
        "ok",
    )
    .await;
    Ok(())
}
