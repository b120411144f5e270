//! A user's own account: their password and their sessions (admins: everyone's sessions).

use super::{Actor, AuditAction, record};
use crate::AppState;
use crate::auth::{self, CurrentUser};
use crate::error::{Error, Result};
use crate::store::SessionInfo;

/// Changes the user's own password; the current one is required (checked like a login:
/// counted for the user's (name, address) pair, in an Argon2 slot). The user's other sessions
/// end; the one asking stays logged in.
pub async fn change_password(
    state: &AppState,
    actor: &Actor,
    user: &CurrentUser,
    current: &str,
    new: &str,
    confirm: &str,
) -> Result<()> {
    let r = async {
        if current.is_empty() {
            return Err(Error::invalid("current", "Give your current password."));
        }
        auth::validate_new_password(new, confirm)?;
        if let Err(locked) = state.throttle.begin(&user.username, &actor.client) {
            return Err(Error::Throttled {
                retry_after: locked.retry_after,
            });
        }
        let hash = state.store.password_hash(user.id).await?;
        let ok = match auth::verify_password(current.to_string(), hash).await {
            Ok(ok) => ok,
            Err(e) => {
                state.throttle.cancel(&user.username, &actor.client);
                return Err(e);
            }
        };
        if !ok {
            return Err(Error::invalid("current", "The current password is wrong."));
        }
        state.throttle.success(&user.username, &actor.client);
        let hash = auth::hash_password(new.to_string()).await?;
        let keep = (!user.token_hash.is_empty()).then_some(user.token_hash.as_str());
        state.store.set_own_password(user.id, &hash, keep).await
    }
    .await;
    let outcome = match &r {
        Ok(()) => "ok".to_string(),
        Err(e @ (Error::Invalid { .. } | Error::Throttled { .. })) => format!("refused: {e}"),
        Err(e) => format!("failed: {e}"),
    };
    record(
        state,
        None,
        actor,
        AuditAction::PasswordChange,
        Some(&user.username),
        &outcome,
    )
    .await;
    r
}

/// The user's live sessions; an admin's list holds everyone's. The asking one is marked.
pub async fn sessions(state: &AppState, user: &CurrentUser) -> Result<Vec<SessionInfo>> {
    let whose = (!user.is_admin()).then_some(user.id);
    let mut list = state.store.sessions_of(whose).await?;
    if !user.token_hash.is_empty()
        && let Some(me) = state.store.session(&user.token_hash).await?
    {
        for s in &mut list {
            s.current = s.id == me.id;
        }
    }
    Ok(list)
}

/// Ends a session: one's own, or anyone's for an admin (someone else's reads as missing).
pub async fn revoke_session(
    state: &AppState,
    actor: &Actor,
    user: &CurrentUser,
    id: i64,
) -> Result<()> {
    let found = state
        .store
        .session_by_id(id)
        .await?
        .filter(|(owner, _, _)| *owner == user.id || user.is_admin());
    let r = match &found {
        Some((_, _, hash)) => state.store.delete_session(hash).await,
        None => Err(Error::NotFound(format!("No session {id}."))),
    };
    let target = match &found {
        Some((_, name, _)) => format!("#{id} of {name}"),
        None => format!("#{id}"),
    };
    record(
        state,
        None,
        actor,
        AuditAction::SessionRevoke,
        Some(&target),
        &super::outcome(&r),
    )
    .await;
    r
}
