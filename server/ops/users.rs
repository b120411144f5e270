//! Users (administrators only): create with a role, change the role, disable, reset the
//! password, delete. Each function writes exactly one audit row. The last enabled admin
//! cannot be demoted, disabled or deleted (checked in the store, in the statement that
//! changes the row).

use super::{Actor, AuditAction, record_in};
use crate::auth::{self, Role};
use crate::error::{Error, Result};
use crate::store::{Store, UserChange};

/// A role word from a form or a JSON body, or a 422 on `role`.
pub fn parse_role(word: &str) -> Result<Role> {
    word.trim()
        .parse::<Role>()
        .map_err(|_| Error::invalid("role", "The role is admin, operator or viewer."))
}

async fn audit(store: &Store, actor: &Actor, action: AuditAction, target: &str, r: &Result<()>) {
    let outcome = match r {
        Ok(()) => "ok".to_string(),
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. } | Error::NotFound(_))) => {
            format!("refused: {e}")
        }
        Err(e) => format!("failed: {e}"),
    };
    record_in(store, None, actor, action, Some(target), &outcome).await;
}

/// Adds a user. The password is the one they log in with (at least 12 characters).
pub async fn create(
    store: &Store,
    actor: &Actor,
    username: &str,
    password: &str,
    role: &str,
) -> Result<i64> {
    let mut id = 0;
    let r = async {
        auth::validate_username(username)?;
        let role = parse_role(role)?;
        auth::validate_new_password(password, password)?;
        let hash = auth::hash_password(password.to_string()).await?;
        id = store
            .create_user(username, &hash, role.as_str(), false)
            .await?;
        Ok(())
    }
    .await;
    // A refused name may be anything: the audit keeps 64 characters of it.
    let target: String = username.chars().take(64).collect();
    audit(store, actor, AuditAction::UserCreate, &target, &r).await;
    r.map(|()| id)
}

/// What an administrator asks to change of a user.
#[derive(Debug, Default, Clone)]
pub struct Update {
    pub role: Option<String>,
    pub disabled: Option<bool>,
    /// A new password the user must change at the next login.
    pub password: Option<String>,
}

/// Changes a user's role, enables or disables them (a disable ends their sessions at once),
/// or resets their password (their sessions end; they must change it at the next login).
pub async fn update(store: &Store, actor: &Actor, id: i64, u: &Update) -> Result<()> {
    let name = store.user(id).await?.map(|u| u.username);
    let r = async {
        if name.is_none() {
            return Err(Error::NotFound(format!("No user {id}.")));
        }
        let role = u.role.as_deref().map(parse_role).transpose()?;
        if role.is_none() && u.disabled.is_none() && u.password.is_none() {
            return Err(Error::invalid(
                "role",
                "Give a role, disabled, or a password to change.",
            ));
        }
        let password_hash = match &u.password {
            Some(p) => {
                auth::validate_new_password(p, p)?;
                Some(auth::hash_password(p.clone()).await?)
            }
            None => None,
        };
        store
            .update_user(
                id,
                &UserChange {
                    role: role.map(|r| r.as_str().to_string()),
                    disabled: u.disabled,
                    password_hash,
                },
            )
            .await
    }
    .await;
    let mut what = Vec::new();
    if let Some(r) = &u.role {
        what.push(format!("role {}", r.chars().take(16).collect::<String>()));
    }
    match u.disabled {
        Some(true) => what.push("disabled".into()),
        Some(false) => what.push("enabled".into()),
        None => {}
    }
    if u.password.is_some() {
        what.push("password reset".into());
    }
    let target = format!(
        "{} ({})",
        name.unwrap_or_else(|| format!("#{id}")),
        what.join(", ")
    );
    audit(store, actor, AuditAction::UserUpdate, &target, &r).await;
    r
}

/// Deletes a user; their sessions and tokens go with them. The id is never given again.
pub async fn delete(store: &Store, actor: &Actor, id: i64) -> Result<()> {
    let name = store.user(id).await?.map(|u| u.username);
    let r = match &name {
        None => Err(Error::NotFound(format!("No user {id}."))),
        Some(_) => store.delete_user(id).await,
    };
    let target = name.unwrap_or_else(|| format!("#{id}"));
    audit(store, actor, AuditAction::UserDelete, &target, &r).await;
    r
}

/// The command line's password change (`berth user passwd`): sets it and ends the user's
/// sessions; no change is forced at the next login (the host's administrator chose it).
pub async fn set_password(
    store: &Store,
    actor: &Actor,
    username: &str,
    password: &str,
) -> Result<()> {
    let r = async {
        let user = store
            .user_by_name(username)
            .await?
            .ok_or_else(|| Error::NotFound(format!("No user {username}.")))?;
        auth::validate_new_password(password, password)?;
        let hash = auth::hash_password(password.to_string()).await?;
        store.set_own_password(user.id, &hash, None).await
    }
    .await;
    let target: String = username.chars().take(64).collect();
    audit(store, actor, AuditAction::PasswordChange, &target, &r).await;
    r
}
