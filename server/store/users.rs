//! Users, their sessions and their API tokens in the store. Every write that ends sessions also
//! drops them from the session cache, so it takes effect at once.

use serde::Serialize;
use sqlx::FromRow;

use super::{Store, now};
use crate::error::{Error, Result};

/// A user as the users page and `GET /api/users` show it (never the hash).
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: i64,
    pub last_login: Option<i64>,
    #[serde(skip)]
    pub must_change_password: bool,
}

/// What an administrator changes of a user; None leaves it.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub role: Option<String>,
    pub disabled: Option<bool>,
    /// A new password hash; the user must change it at the next login.
    pub password_hash: Option<String>,
}

/// A session as the account page shows it.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub created_at: i64,
    pub last_seen: i64,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    /// The session this list is shown to.
    #[sqlx(default)]
    pub current: bool,
}

/// An API token as listed (never the token, never its hash).
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct ApiTokenRow {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used: Option<i64>,
}

/// The owner of a presented token, and the token.
#[derive(Debug, Clone, FromRow)]
pub struct TokenUser {
    pub token_id: i64,
    pub token_name: String,
    pub expires_at: Option<i64>,
    pub last_used: Option<i64>,
    pub user_id: i64,
    pub username: String,
    pub role: String,
}

/// The condition under which a change leaves at least one enabled admin: the user is not an
/// enabled admin, or another enabled admin exists. Checked in the same statement as the
/// change, so two admins demoting each other at once cannot both succeed.
const KEEPS_AN_ADMIN: &str = "NOT (role = 'admin' AND disabled = 0) OR EXISTS
    (SELECT 1 FROM users o WHERE o.id != users.id AND o.role = 'admin' AND o.disabled = 0)";

fn last_admin(field: &'static str) -> Error {
    Error::Conflict {
        field,
        message: "This is the last enabled admin: it cannot be demoted, disabled or deleted. \
                  Make another user admin first."
            .into(),
    }
}

fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Store {
    // ---- users ----

    pub async fn users(&self) -> Result<Vec<UserInfo>> {
        Ok(sqlx::query_as(
            "SELECT id, username, role, disabled, created_at, last_login, must_change_password
             FROM users ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn user(&self, id: i64) -> Result<Option<UserInfo>> {
        Ok(sqlx::query_as(
            "SELECT id, username, role, disabled, created_at, last_login, must_change_password
             FROM users WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn password_hash(&self, id: i64) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Adds a user; a taken name is a 409 on `username`.
    pub async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: &str,
        must_change_password: bool,
    ) -> Result<i64> {
        let r = sqlx::query(
            "INSERT INTO users (username, password_hash, role, created_at, must_change_password)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(username)
        .bind(password_hash)
        .bind(role)
        .bind(now())
        .bind(must_change_password)
        .execute(&self.pool)
        .await;
        match r {
            Ok(done) => Ok(done.last_insert_rowid()),
            Err(e) if unique_violation(&e) => Err(Error::Conflict {
                field: "username",
                message: format!("The user name {username} is taken."),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Applies an administrator's change in one statement that keeps an enabled admin; a
    /// disable or a password reset ends the user's sessions. Errors: 404, 409 (last admin).
    pub async fn update_user(&self, id: i64, change: &UserChange) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let removes_admin =
            change.role.as_deref().is_some_and(|r| r != "admin") || change.disabled == Some(true);
        let sql = format!(
            "UPDATE users SET role = COALESCE(?, role), disabled = COALESCE(?, disabled),
                    password_hash = COALESCE(?, password_hash),
                    must_change_password = CASE WHEN ? IS NULL THEN must_change_password ELSE 1 END
             WHERE id = ? {}",
            if removes_admin {
                format!("AND ({KEEPS_AN_ADMIN})")
            } else {
                String::new()
            }
        );
        let done = sqlx::query(&sql)
            .bind(change.role.as_deref())
            .bind(change.disabled)
            .bind(change.password_hash.as_deref())
            .bind(change.password_hash.as_deref())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match exists {
                None => Error::NotFound(format!("No user {id}.")),
                Some(_) if change.disabled == Some(true) => last_admin("disabled"),
                Some(_) => last_admin("role"),
            });
        }
        let ends_sessions = change.disabled == Some(true) || change.password_hash.is_some();
        if ends_sessions {
            sqlx::query("DELETE FROM sessions WHERE user_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.forget_user_sessions(id, None);
        Ok(())
    }

    /// Deletes a user (sessions and tokens go with it); never the last enabled admin.
    pub async fn delete_user(&self, id: i64) -> Result<()> {
        let done = sqlx::query(&format!(
            "DELETE FROM users WHERE id = ? AND ({KEEPS_AN_ADMIN})"
        ))
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(match self.user(id).await? {
                None => Error::NotFound(format!("No user {id}.")),
                Some(_) => last_admin("id"),
            });
        }
        self.forget_user_sessions(id, None);
        Ok(())
    }

    /// The user's own new password: sessions other than `keep` end.
    pub async fn set_own_password(
        &self,
        id: i64,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = ?, must_change_password = 0 WHERE id = ?")
            .bind(password_hash)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = ? AND token_hash != ?")
            .bind(id)
            .bind(keep.unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // The kept session is dropped from the cache too: it is read again (no longer bound
        // to change the password) at its next request.
        self.forget_user_sessions(id, None);
        Ok(())
    }

    pub async fn record_login(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE users SET last_login = ? WHERE id = ?")
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Drops the cached sessions of a user (all, or all but `keep`).
    fn forget_user_sessions(&self, user_id: i64, keep: Option<&str>) {
        self.cached_sessions()
            .retain(|hash, (s, _)| s.user_id != user_id || Some(hash.as_str()) == keep);
    }

    // ---- sessions ----

    /// Live sessions, newest first: one user's, or everyone's.
    pub async fn sessions_of(&self, user_id: Option<i64>) -> Result<Vec<SessionInfo>> {
        Ok(sqlx::query_as(
            "SELECT s.id, s.user_id, u.username, s.created_at, s.last_seen, s.client, s.user_agent
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE ? IS NULL OR s.user_id = ? ORDER BY s.id DESC",
        )
        .bind(user_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The session numbered `id`: its owner and token hash.
    pub async fn session_by_id(&self, id: i64) -> Result<Option<(i64, String, String)>> {
        Ok(sqlx::query_as(
            "SELECT s.user_id, u.username, s.token_hash FROM sessions s
             JOIN users u ON u.id = s.user_id WHERE s.id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    // ---- API tokens ----

    /// Stores a token's hash; a name the user already gave a token is a 409 on `name`.
    pub async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        expires_at: Option<i64>,
    ) -> Result<i64> {
        let r = sqlx::query(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(now())
        .bind(expires_at)
        .execute(&self.pool)
        .await;
        match r {
            Ok(done) => Ok(done.last_insert_rowid()),
            Err(e) if unique_violation(&e) => Err(Error::Conflict {
                field: "name",
                message: format!("You have a token named {name} already."),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Tokens, newest first: one user's, or everyone's.
    pub async fn tokens_of(&self, user_id: Option<i64>) -> Result<Vec<ApiTokenRow>> {
        Ok(sqlx::query_as(
            "SELECT t.id, t.user_id, u.username, t.name, t.created_at, t.expires_at, t.last_used
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE ? IS NULL OR t.user_id = ? ORDER BY t.id DESC",
        )
        .bind(user_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn token(&self, id: i64) -> Result<Option<ApiTokenRow>> {
        Ok(sqlx::query_as(
            "SELECT t.id, t.user_id, u.username, t.name, t.created_at, t.expires_at, t.last_used
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The enabled owner of the token with this hash (expiry is the caller's to check).
    pub async fn token_user(&self, token_hash: &str) -> Result<Option<TokenUser>> {
        Ok(sqlx::query_as(
            "SELECT t.id AS token_id, t.name AS token_name, t.expires_at, t.last_used,
                    u.id AS user_id, u.username, u.role
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = ? AND u.disabled = 0",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn touch_token(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET last_used = ? WHERE id = ?")
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_token(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
