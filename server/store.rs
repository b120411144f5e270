//! Berth's own state in SQLite (WAL): users, sessions, settings, endpoints, audit log.
//!
//! Runtime queries with `FromRow`, so building needs no database.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, SqlitePool};

use crate::error::{Error, Result};

mod users;
pub use users::{ApiTokenRow, SessionInfo, TokenUser, UserChange, UserInfo};

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Sessions read lately, by token hash, with when they were read: every request checks its
    /// session, and a read of SQLite per request (a hop to the connection's thread and back)
    /// showed in the benchmark's tail and memory. Berth's own writes to `sessions` go through the
    /// methods below, which keep this in step; a change made to the database from outside (a
    /// user's role edited with sqlite3) takes effect once the entry is [`SESSION_CACHE_TTL`] old.
    sessions: Arc<Mutex<HashMap<String, (SessionRow, std::time::Instant)>>>,
}

/// Sessions kept in memory at most (a session is ~150 bytes; past this the cache starts over).
const SESSION_CACHE_MAX: usize = 10_000;

/// How long a session read from SQLite is trusted before it is read again.
pub const SESSION_CACHE_TTL: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub must_change_password: bool,
}

#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub role: String,
    pub last_seen: i64,
    pub created_at: i64,
    pub endpoint_id: Option<i64>,
    pub must_change_password: bool,
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub username: Option<String>,
    pub client: Option<String>,
    pub endpoint: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    /// The API token the action was asked with (its name and number), if any.
    #[sqlx(default)]
    pub token: Option<String>,
}

/// What one audited action was.
#[derive(Debug, Clone, Default)]
pub struct Audit<'a> {
    pub username: Option<&'a str>,
    pub client: Option<&'a str>,
    pub endpoint: Option<&'a str>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub outcome: &'a str,
    pub token: Option<&'a str>,
}

/// Longest user name an audit row keeps (longer ones are cut when written).
pub const AUDIT_USERNAME_MAX: usize = 64;
/// Longest target, outcome, client or endpoint text an audit row keeps.
pub const AUDIT_TEXT_MAX: usize = 2048;

/// The first `max` characters of `s`.
pub fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Creates the data folder readable by Berth's user only (0700); an existing folder is left as
/// it is (it may be a mounted host folder), with a warning when others may read it.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if let Ok(meta) = std::fs::metadata(dir) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    folder = %dir.display(),
                    mode = format!("{:o}", meta.permissions().mode() & 0o777),
                    "the data folder is open to other users; Berth keeps its database files 0600"
                );
            }
            return Ok(());
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// The database and its WAL and shared-memory files are Berth's alone (0600). SQLite creates
/// the -wal and -shm files with the database file's mode, so the database is made first, 0600;
/// files an older Berth left 0644 are tightened.
fn private_db_files(db: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(db)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            let p = std::path::PathBuf::from(p);
            if let Ok(meta) = std::fs::metadata(&p)
                && meta.permissions().mode() & 0o077 != 0
            {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = db;
    Ok(())
}

impl Store {
    pub async fn open(data_dir: &Path) -> Result<Self> {
        create_private_dir(data_dir).map_err(|e| {
            Error::internal(format!(
                "cannot create data folder {}: {e}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join("berth.db");
        private_db_files(&path).map_err(|e| {
            Error::internal(format!(
                "cannot restrict the database files {}: {e}",
                path.display()
            ))
        })?;
        let url = format!("sqlite://{}", path.display());
        let opts = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| Error::internal(format!("database migration failed: {e}")))?;
        Ok(Store {
            pool,
            sessions: Default::default(),
        })
    }

    /// The pool, for the store functions of other modules (e.g. endpoints).
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Flushes the WAL and closes every connection (on shutdown).
    pub async fn close(&self) {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await;
        self.pool.close().await;
    }

    // ---- users ----

    pub async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        Ok(sqlx::query_as(
            "SELECT id, username, password_hash, role, disabled, must_change_password
                 FROM users WHERE username = ?",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Creates the first admin, only while no user exists (setup and the seeded password).
    /// Returns false when somebody was first.
    pub async fn create_first_admin(&self, username: &str, password_hash: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO users (username, password_hash, role, created_at)
             SELECT ?, ?, 'admin', ? WHERE NOT EXISTS (SELECT 1 FROM users)",
        )
        .bind(username)
        .bind(password_hash)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    // ---- sessions ----

    /// Opens a session; `client` and `user_agent` are what the account page shows of it.
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        client: &str,
        user_agent: &str,
    ) -> Result<()> {
        let t = now();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen, client, user_agent)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(t)
        .bind(t)
        .bind(client)
        .bind(user_agent)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    fn cached_sessions(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (SessionRow, std::time::Instant)>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        if let Some((row, read)) = self.cached_sessions().get(token_hash)
            && read.elapsed() < SESSION_CACHE_TTL
        {
            return Ok(Some(row.clone()));
        }
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT s.id, s.user_id, u.username, u.role, s.last_seen, s.created_at, s.endpoint_id,
                    u.must_change_password
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ? AND u.disabled = 0",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let mut cache = self.cached_sessions();
        match &row {
            Some(row) => {
                if cache.len() >= SESSION_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(
                    token_hash.to_string(),
                    (row.clone(), std::time::Instant::now()),
                );
            }
            None => {
                cache.remove(token_hash);
            }
        }
        Ok(row)
    }

    pub async fn touch_session(&self, token_hash: &str) -> Result<()> {
        let t = now();
        sqlx::query("UPDATE sessions SET last_seen = ? WHERE token_hash = ?")
            .bind(t)
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        if let Some((row, _)) = self.cached_sessions().get_mut(token_hash) {
            row.last_seen = t;
        }
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        self.cached_sessions().remove(token_hash);
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends sessions idle for `idle` or older than `lifetime`.
    pub async fn delete_idle_sessions(&self, idle: Duration, lifetime: Duration) -> Result<u64> {
        let cutoff = now() - idle.as_secs() as i64;
        let born = now() - lifetime.as_secs() as i64;
        self.cached_sessions()
            .retain(|_, (s, _)| s.last_seen >= cutoff && s.created_at >= born);
        let r = sqlx::query("DELETE FROM sessions WHERE last_seen < ? OR created_at < ?")
            .bind(cutoff)
            .bind(born)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    /// The endpoint a session looks at (None: the default one).
    pub async fn set_session_endpoint(
        &self,
        token_hash: &str,
        endpoint: Option<i64>,
    ) -> Result<()> {
        sqlx::query("UPDATE sessions SET endpoint_id = ? WHERE token_hash = ?")
            .bind(endpoint)
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        if let Some((row, _)) = self.cached_sessions().get_mut(token_hash) {
            row.endpoint_id = endpoint;
        }
        Ok(())
    }

    /// Sessions that looked at a removed endpoint go back to the default one.
    pub async fn forget_session_endpoint(&self, endpoint: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET endpoint_id = NULL WHERE endpoint_id = ?")
            .bind(endpoint)
            .execute(&self.pool)
            .await?;
        for (row, _) in self.cached_sessions().values_mut() {
            if row.endpoint_id == Some(endpoint) {
                row.endpoint_id = None;
            }
        }
        Ok(())
    }

    // ---- settings ----

    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every setting, by key.
    pub async fn settings(&self) -> Result<Vec<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT key, value FROM settings ORDER BY key")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    // ---- audit ----

    /// Writes one audit row. Its texts are bounded (a user name to
    /// [`AUDIT_USERNAME_MAX`] characters, the others to [`AUDIT_TEXT_MAX`]), so a request cannot
    /// make a row as large as itself.
    pub async fn audit(&self, a: Audit<'_>) -> Result<()> {
        fn bound(s: Option<&str>, max: usize) -> Option<&str> {
            s.map(|s| truncate_chars(s, max))
        }
        sqlx::query(
            "INSERT INTO audit (at, username, client, endpoint, action, target, outcome, token)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(now())
        .bind(bound(a.username, AUDIT_USERNAME_MAX))
        .bind(bound(a.client, AUDIT_TEXT_MAX))
        .bind(bound(a.endpoint, AUDIT_TEXT_MAX))
        .bind(a.action)
        .bind(bound(a.target, AUDIT_TEXT_MAX))
        .bind(truncate_chars(a.outcome, AUDIT_TEXT_MAX))
        .bind(bound(a.token, AUDIT_TEXT_MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        Ok(sqlx::query_as(
            "SELECT id, at, username, client, endpoint, action, target, outcome, token
             FROM audit ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
