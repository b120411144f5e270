//! API tokens: a user makes named tokens for scripts, with an optional expiry. The token is
//! shown once, at creation; only its SHA-256 is kept. It authenticates `/api` calls with its
//! owner's role (see [`crate::auth::require_user`]).

use super::{Actor, AuditAction, record};
use crate::AppState;
use crate::auth::{CurrentUser, new_token, token_hash};
use crate::error::{Error, Result};
use crate::store::{ApiTokenRow, now};

/// Longest expiry a token may be given, in days (ten years).
pub const MAX_DAYS: i64 = 3650;

/// A token name: 1 to 64 letters, digits, spaces or `_ . -`, starting with a letter or digit.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = name.chars().count() <= 64
        && name.starts_with(|c: char| c.is_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || " _.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            "A token's name has 1 to 64 letters, digits, spaces or _ . -, starting with a letter or digit.",
        ))
    }
}

/// Makes a token for `owner`; returns its id and the token (shown this once).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    owner: &CurrentUser,
    name: &str,
    expires_in_days: Option<i64>,
) -> Result<(i64, String)> {
    let r = async {
        validate_name(name)?;
        if let Some(d) = expires_in_days
            && !(1..=MAX_DAYS).contains(&d)
        {
            return Err(Error::invalid(
                "expires_in_days",
                format!("A token expires in 1 to {MAX_DAYS} days, or never (leave it out)."),
            ));
        }
        let token = format!("berth_{}", new_token());
        let expires_at = expires_in_days.map(|d| now() + d * 86_400);
        let id = state
            .store
            .create_token(owner.id, name, &token_hash(&token), expires_at)
            .await?;
        Ok((id, token))
    }
    .await;
    let target: String = name.chars().take(64).collect();
    let outcome = match &r {
        Ok((id, _)) => format!("ok: token #{id}"),
        Err(e) => format!("refused: {e}"),
    };
    record(
        state,
        None,
        actor,
        AuditAction::TokenCreate,
        Some(&target),
        &outcome,
    )
    .await;
    r
}

/// The user's tokens, or everyone's for an admin who asks.
pub async fn list(state: &AppState, user: &CurrentUser, all: bool) -> Result<Vec<ApiTokenRow>> {
    let whose = if all && user.is_admin() {
        None
    } else {
        Some(user.id)
    };
    state.store.tokens_of(whose).await
}

/// Revokes a token at once: the owner's own, or anyone's for an admin. Someone else's token
/// reads as missing, so ids tell nothing.
pub async fn revoke(state: &AppState, actor: &Actor, user: &CurrentUser, id: i64) -> Result<()> {
    let token = state
        .store
        .token(id)
        .await?
        .filter(|t| t.user_id == user.id || user.is_admin());
    let r = match &token {
        None => Err(Error::NotFound(format!("No token {id}."))),
        Some(_) => {
            if state.store.delete_token(id).await? {
                Ok(())
            } else {
                Err(Error::NotFound(format!("No token {id}.")))
            }
        }
    };
    let target = match &token {
        Some(t) => format!("#{} {} of {}", t.id, t.name, t.username),
        None => format!("#{id}"),
    };
    record(
        state,
        None,
        actor,
        AuditAction::TokenRevoke,
        Some(&target),
        &super::outcome(&r),
    )
    .await;
    r
}
