//! Accounts, sessions, login throttling and the guard every protected route goes through.
//!
//! Passwords: Argon2id (m = 19 MiB, t = 2, p = 1), hashed and verified on the blocking pool; an
//! unknown user is verified against a fixed dummy hash so timing tells nothing. Sessions: a random
//! token in an HttpOnly, SameSite=Strict cookie; only its SHA-256 is stored.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::{Error, Result};
use crate::store::now;

pub const SESSION_COOKIE: &str = "berth_session";
pub const MIN_PASSWORD_LEN: usize = 12;

/// The logged-in user of a request, put in its extensions by [`require_user`].
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub token_hash: String,
    /// The endpoint this session switched to (unscoped pages mean it).
    pub endpoint_id: Option<i64>,
}

impl CurrentUser {
    /// Read-only users see everything and change nothing.
    pub fn can_act(&self) -> bool {
        self.role != "viewer"
    }
}

/// Where a request came from, for throttling and the audit log.
#[derive(Debug, Clone)]
pub struct Client(pub String);

impl Client {
    pub fn of(req_ext: Option<&ConnectInfo<SocketAddr>>) -> Self {
        Client(
            req_ext
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        )
    }
}

fn argon2() -> Argon2<'static> {
    // OWASP's first recommendation for Argon2id: 19 MiB, two passes, one lane.
    let params = Params::new(19 * 1024, 2, 1, None).expect("static Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::internal(format!("salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("password hashing failed: {e}")))
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a password nobody knows, verified when the user does not exist.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_blocking("berth-dummy-password-nobody-has").unwrap_or_else(|_| {
            // Never reached with valid parameters; keep a well-formed hash regardless.
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Uf2dxbR8m4nC6sS0dXkVg".into()
        })
    })
}

pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| Error::internal(format!("hashing task: {e}")))?
}

pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let hash = hash.as_deref().unwrap_or_else(|| dummy_hash());
        verify_blocking(&password, hash)
    })
    .await
    .unwrap_or(false)
}

/// Computes the dummy hash ahead of the first login, so that login does not pay for it.
pub async fn warm_up() {
    let _ = tokio::task::spawn_blocking(dummy_hash).await;
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn validate_username(username: &str) -> Result<()> {
    let ok = !username.is_empty()
        && username.len() <= 64
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "username",
            "A user name has 1 to 64 letters, digits or _ . @ -",
        ))
    }
}

pub fn validate_new_password(password: &str, confirm: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::invalid(
            "password",
            format!("The password needs at least {MIN_PASSWORD_LEN} characters."),
        ));
    }
    if password != confirm {
        return Err(Error::invalid(
            "password_confirm",
            "The two passwords differ.",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- throttling

/// Failed logins per key (client address, user name) in a sliding window.
pub struct Throttle {
    limit: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Throttle {
            limit: limit.max(1) as usize,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait when any key is over its limit.
    pub fn retry_after(&self, keys: &[String]) -> Option<u64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let mut wait = None;
        for key in keys {
            if let Some(q) = map.get_mut(key) {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    q.pop_front();
                }
                if q.len() >= self.limit
                    && let Some(first) = q.front()
                {
                    let left = self.window.saturating_sub(now.duration_since(*first));
                    let secs = left.as_secs().max(1);
                    wait = Some(wait.map_or(secs, |w: u64| w.max(secs)));
                }
            }
        }
        wait
    }

    pub fn record_failure(&self, keys: &[String]) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() > 10_000 {
            let window = self.window;
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        for key in keys {
            map.entry(key.clone()).or_default().push_back(now);
        }
    }

    pub fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

// ---------------------------------------------------------------- setup and login

/// Why the setup page is not open, or None when it is.
pub async fn setup_closed_reason(state: &AppState) -> Result<Option<String>> {
    if state.store.user_count().await? > 0 {
        return Ok(Some(
            "Berth is already set up: log in with the admin account.".into(),
        ));
    }
    if state.started.elapsed() > state.config.setup_timeout {
        return Ok(Some(format!(
            "The setup window ({} s after start) has closed, so that nobody who finds this \
             instance on the network can claim it. Restart Berth and open this page within the \
             window, or start Berth with --admin-password-file FILE to set the admin password.",
            state.config.setup_timeout.as_secs()
        )));
    }
    Ok(None)
}

/// First run: creates the admin and logs them in. Returns the session token.
pub async fn setup(
    state: &AppState,
    client: &Client,
    username: &str,
    password: &str,
    confirm: &str,
) -> Result<String> {
    if let Some(reason) = setup_closed_reason(state).await? {
        return Err(Error::Forbidden(reason));
    }
    validate_username(username)?;
    validate_new_password(password, confirm)?;
    let hash = hash_password(password.to_string()).await?;
    if !state.store.create_first_admin(username, &hash).await? {
        return Err(Error::Forbidden(
            "Berth is already set up: log in with the admin account.".into(),
        ));
    }
    let user = state
        .store
        .user_by_name(username)
        .await?
        .ok_or_else(|| Error::internal("admin vanished right after creation"))?;
    state
        .audit(Some(username), client, "setup", Some(username), "ok")
        .await;
    start_session(state, user.id).await
}

/// Seeds the admin from --admin-password-file when no user exists yet.
pub async fn seed_admin(state: &AppState) -> Result<()> {
    let Some(path) = &state.config.admin_password_file else {
        return Ok(());
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::internal(format!(
            "cannot read --admin-password-file {}: {e}",
            path.display()
        ))
    })?;
    let password = text.trim_end_matches(['\r', '\n']).to_string();
    validate_username(&state.config.admin_username)?;
    validate_new_password(&password, &password)
        .map_err(|e| Error::internal(format!("--admin-password-file {}: {e}", path.display())))?;
    if state.store.user_count().await? > 0 {
        tracing::info!("an admin exists already; --admin-password-file left it unchanged");
        return Ok(());
    }
    let hash = hash_password(password).await?;
    if state
        .store
        .create_first_admin(&state.config.admin_username, &hash)
        .await?
    {
        tracing::info!(user = %state.config.admin_username, "admin seeded from --admin-password-file");
        let client = Client("local".into());
        state
            .audit(
                Some(&state.config.admin_username),
                &client,
                "seed-admin",
                None,
                "ok",
            )
            .await;
    }
    Ok(())
}

/// Checks the password (throttled) and opens a session. Returns the session token.
pub async fn login(
    state: &AppState,
    client: &Client,
    username: &str,
    password: &str,
) -> Result<String> {
    let keys = [
        format!("ip:{}", client.0),
        format!("user:{}", username.to_lowercase()),
    ];
    if let Some(retry_after) = state.throttle.retry_after(&keys) {
        state
            .audit(Some(username), client, "login", None, "throttled")
            .await;
        return Err(Error::Throttled { retry_after });
    }
    let user = state.store.user_by_name(username).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = verify_password(password.to_string(), hash).await;
    match user {
        Some(user) if ok => {
            state.throttle.clear(&keys[1]);
            state
                .audit(Some(username), client, "login", None, "ok")
                .await;
            start_session(state, user.id).await
        }
        _ => {
            state.throttle.record_failure(&keys);
            state
                .audit(Some(username), client, "login", None, "wrong password")
                .await;
            Err(Error::invalid("password", "Wrong user name or password."))
        }
    }
}

async fn start_session(state: &AppState, user_id: i64) -> Result<String> {
    let token = new_token();
    state
        .store
        .create_session(&token_hash(&token), user_id)
        .await?;
    Ok(token)
}

pub async fn logout(state: &AppState, client: &Client, user: &CurrentUser) -> Result<()> {
    state.store.delete_session(&user.token_hash).await?;
    state
        .audit(Some(&user.username), client, "logout", None, "ok")
        .await;
    Ok(())
}

/// The `Set-Cookie` value that opens (or, with an empty token, ends) a session.
pub fn session_cookie(token: &str, max_age: Duration, secure: bool) -> String {
    let age = if token.is_empty() {
        0
    } else {
        max_age.as_secs()
    };
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}{secure}")
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The session's user, or None when there is no live session.
pub async fn current_user(state: &AppState, headers: &HeaderMap) -> Result<Option<CurrentUser>> {
    let Some(token) = cookie_token(headers) else {
        return Ok(None);
    };
    let hash = token_hash(token);
    let Some(row) = state.store.session(&hash).await? else {
        return Ok(None);
    };
    let idle = state.config.session_idle.as_secs() as i64;
    let t = now();
    if t - row.last_seen > idle {
        state.store.delete_session(&hash).await?;
        return Ok(None);
    }
    // Writing on every request would serialise readers on SQLite; a minute's precision is enough.
    if t - row.last_seen >= 60 {
        state.store.touch_session(&hash).await?;
    }
    Ok(Some(CurrentUser {
        id: row.user_id,
        username: row.username,
        role: row.role,
        token_hash: hash,
        endpoint_id: row.endpoint_id,
    }))
}

fn is_mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The one guard of every protected route: a live session, and a role allowed to change things
/// for every method that changes things. (Forgery protection is the CSRF layer around the app.)
pub async fn require_user(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let user = match current_user(&state, req.headers()).await {
        Ok(u) => u,
        Err(e) => {
            return if api {
                crate::error::ApiError(e).into_response()
            } else {
                e.into_response()
            };
        }
    };
    match user {
        Some(user) => {
            if is_mutating(req.method()) && !user.can_act() {
                let e = Error::Forbidden("Your account may look but not change anything.".into());
                return if api { crate::error::ApiError(e).into_response() } else { e.into_response() };
            }
            req.extensions_mut().insert(user);
            next.run(req).await
        }
        None if api => (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "log in first: POST /login with username and password"})),
        )
            .into_response(),
        None => {
            let to_setup = matches!(state.store.user_count().await, Ok(0));
            if to_setup {
                Redirect::to("/setup").into_response()
            } else {
                Redirect::to("/login").into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_blocks_after_limit_and_names_the_wait() {
        let t = Throttle::new(3, Duration::from_secs(60));
        let keys = ["ip:1".to_string(), "user:a".to_string()];
        for _ in 0..3 {
            assert!(t.retry_after(&keys).is_none());
            t.record_failure(&keys);
        }
        let wait = t.retry_after(&keys).expect("blocked");
        assert!((1..=60).contains(&wait));
        // another user from another address is not blocked
        assert!(t.retry_after(&["ip:2".into(), "user:b".into()]).is_none());
    }

    #[test]
    fn cookie_parsing_finds_the_session() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; berth_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_token(&h), Some("abc"));
    }

    #[test]
    fn hashes_verify() {
        let h = hash_blocking("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_blocking("correct horse battery", &h));
        assert!(!verify_blocking("wrong", &h));
        assert!(!verify_blocking("x", dummy_hash()));
    }
}
