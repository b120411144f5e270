//! Accounts, sessions, login throttling and the guard every protected route goes through.
//!
//! Passwords: Argon2id (m = 19 MiB, t = 2, p = 1), hashed and verified on the blocking pool; an
//! unknown user is verified against a fixed dummy hash so timing tells nothing. Sessions: a random
//! token in an HttpOnly, SameSite=Strict cookie; only its SHA-256 is stored.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::Json;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::AppState;
use crate::error::{Error, Result};
pub use crate::http::access::Role;
use crate::http::access::{self, Permission};
use crate::store::now;

pub const SESSION_COOKIE: &str = "berth_session";
pub const MIN_PASSWORD_LEN: usize = 12;

/// The logged-in user of a request, put in its extensions by [`require_user`].
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
    /// The session's token hash (empty when an API token authenticated the request).
    pub token_hash: String,
    /// The endpoint this session switched to (unscoped pages mean it).
    pub endpoint_id: Option<i64>,
    /// The API token that authenticated this request (`/api` only), instead of a session.
    pub token: Option<TokenRef>,
    /// An administrator reset the password: the session may only change it (or log out).
    pub must_change_password: bool,
}

/// An API token, as the audit names it.
#[derive(Debug, Clone)]
pub struct TokenRef {
    pub id: i64,
    pub name: String,
}

impl CurrentUser {
    /// Operators and admins change things; viewers look.
    pub fn can_act(&self) -> bool {
        self.role.allows(Permission::Operate)
    }

    /// Whether this user may read secrets (env values, files, exports, raw inspect).
    pub fn can_read_secrets(&self) -> bool {
        self.role.allows(Permission::Secrets)
    }

    pub fn is_admin(&self) -> bool {
        self.role.allows(Permission::Admin)
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

/// Argon2 runs at most this many at once (the number of cores): each holds 19 MiB while it
/// runs, so the cap bounds memory as well as CPU. Process-wide, as memory is.
fn argon2_slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        Arc::new(Semaphore::new(n))
    })
}

/// How many Argon2 computations may run at once.
pub fn argon2_limit() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How long a password check waits for a free slot before the request gets a 429.
pub const ARGON2_WAIT: Duration = Duration::from_secs(5);

static ARGON2_RUNNING: AtomicUsize = AtomicUsize::new(0);
static ARGON2_PEAK: AtomicUsize = AtomicUsize::new(0);
static ARGON2_TOTAL: AtomicU64 = AtomicU64::new(0);

/// Argon2 computations done, and the most that ran at once, since start.
pub fn argon2_counts() -> (u64, usize) {
    (
        ARGON2_TOTAL.load(Ordering::Relaxed),
        ARGON2_PEAK.load(Ordering::Relaxed),
    )
}

/// Runs `f` (an Argon2 hash or verification) on the blocking pool once a slot is free. The
/// slot is held by the blocking task itself, so a client that goes away mid-check does not
/// free it early.
async fn with_argon2<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let permit = tokio::time::timeout(ARGON2_WAIT, argon2_slots().clone().acquire_owned())
        .await
        .map_err(|_| Error::Busy { retry_after: 1 })?
        .map_err(|e| Error::internal(format!("argon2 slots: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let now = ARGON2_RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        ARGON2_PEAK.fetch_max(now, Ordering::SeqCst);
        ARGON2_TOTAL.fetch_add(1, Ordering::Relaxed);
        let out = f();
        ARGON2_RUNNING.fetch_sub(1, Ordering::SeqCst);
        drop(permit);
        out
    })
    .await
    .map_err(|e| Error::internal(format!("argon2 task: {e}")))
}

pub async fn hash_password(password: String) -> Result<String> {
    with_argon2(move || hash_blocking(&password)).await?
}

/// Whether `password` matches `hash` (an unknown user: the dummy hash, so timing tells
/// nothing). Err only when no slot came free in time.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    with_argon2(move || {
        let hash = hash.as_deref().unwrap_or_else(|| dummy_hash());
        verify_blocking(&password, hash)
    })
    .await
}

/// Computes the dummy hash ahead of the first login, so that login does not pay for it.
pub async fn warm_up() {
    let _ = tokio::task::spawn_blocking(dummy_hash).await;
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) fn new_token() -> String {
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

/// What a login form's user name may be before anything else happens: at most 64 characters,
/// no control characters. Anything else is refused before throttling and audit, so that
/// nobody can write a 256 KiB name into the database per request.
pub fn plausible_login_name(username: &str) -> Result<()> {
    if username.is_empty()
        || username.chars().count() > 64
        || username.chars().any(|c| c.is_control())
    {
        return Err(Error::invalid(
            "username",
            "A user name has 1 to 64 characters and no control characters.",
        ));
    }
    Ok(())
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

/// Longest lockout of one (user name, client address) pair.
const MAX_LOCK: Duration = Duration::from_secs(3600);
/// Pairs kept at most (an entry is ~200 bytes).
const THROTTLE_MAX: usize = 10_000;

/// Login attempts per (user name, client address): each is counted before its password is
/// checked, so concurrent attempts cannot all pass. Past `limit` within `window`, the pair is
/// locked for `window`, then twice that at the next lockout, and so on up to an hour; a
/// successful login forgets the pair. Nobody can lock a user out from another address.
pub struct Throttle {
    limit: usize,
    window: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    /// Attempts refused while locked, since start (counted, not audited one row each).
    refused_total: AtomicU64,
}

#[derive(Default)]
struct Entry {
    attempts: VecDeque<Instant>,
    strikes: u32,
    locked_until: Option<Instant>,
    /// Attempts refused during the current or last lockout.
    refused: u64,
    last: Option<Instant>,
}

/// The answer to an attempt that may not go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    pub retry_after: u64,
    /// This attempt began the lockout (its row is audited; later refusals are only counted).
    pub began: Option<LockStart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockStart {
    pub lock_secs: u64,
    /// Attempts refused during the previous lockout of this pair.
    pub refused_before: u64,
}

impl Throttle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Throttle {
            limit: limit.max(1) as usize,
            window,
            entries: Mutex::new(HashMap::new()),
            refused_total: AtomicU64::new(0),
        }
    }

    fn key(username: &str, client: &str) -> String {
        format!("{}\u{0}{client}", username.to_lowercase())
    }

    /// Counts an attempt of `username` from `client` before its password is checked; Err
    /// when the pair is locked.
    pub fn begin(&self, username: &str, client: &str) -> std::result::Result<(), Locked> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() >= THROTTLE_MAX {
            Self::prune(&mut map, now);
        }
        let e = map.entry(Self::key(username, client)).or_default();
        e.last = Some(now);
        if let Some(until) = e.locked_until
            && until > now
        {
            e.refused += 1;
            self.refused_total.fetch_add(1, Ordering::Relaxed);
            return Err(Locked {
                retry_after: until.duration_since(now).as_secs().max(1),
                began: None,
            });
        }
        while e
            .attempts
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            e.attempts.pop_front();
        }
        if e.attempts.len() >= self.limit {
            let lock = self
                .window
                .saturating_mul(1u32 << e.strikes.min(16))
                .min(MAX_LOCK);
            e.strikes += 1;
            e.locked_until = Some(now + lock);
            e.attempts.clear();
            let refused_before = std::mem::take(&mut e.refused);
            self.refused_total.fetch_add(1, Ordering::Relaxed);
            return Err(Locked {
                retry_after: lock.as_secs().max(1),
                began: Some(LockStart {
                    lock_secs: lock.as_secs(),
                    refused_before,
                }),
            });
        }
        e.attempts.push_back(now);
        Ok(())
    }

    /// The attempt was not checked after all (no Argon2 slot came free): it does not count.
    pub fn cancel(&self, username: &str, client: &str) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = map.get_mut(&Self::key(username, client)) {
            e.attempts.pop_back();
        }
    }

    /// A successful login forgets the pair.
    pub fn success(&self, username: &str, client: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&Self::key(username, client));
    }

    /// Attempts refused while locked, since start.
    pub fn refused_total(&self) -> u64 {
        self.refused_total.load(Ordering::Relaxed)
    }

    fn prune(map: &mut HashMap<String, Entry>, now: Instant) {
        map.retain(|_, e| {
            e.locked_until.is_some_and(|u| u > now)
                || e.last.is_some_and(|t| now.duration_since(t) < MAX_LOCK)
        });
        if map.len() >= THROTTLE_MAX {
            map.retain(|_, e| e.locked_until.is_some_and(|u| u > now));
        }
        if map.len() >= THROTTLE_MAX {
            map.clear();
        }
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
    user_agent: &str,
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
    crate::ops::record(
        state,
        None,
        &crate::ops::Actor::named(username, client),
        crate::ops::AuditAction::Setup,
        Some(username),
        "ok",
    )
    .await;
    state.store.record_login(user.id).await?;
    start_session(state, user.id, client, user_agent).await
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
        crate::ops::record(
            state,
            None,
            &crate::ops::Actor::named(&state.config.admin_username, &client),
            crate::ops::AuditAction::SeedAdmin,
            None,
            "ok",
        )
        .await;
    }
    Ok(())
}

/// Checks the password (throttled) and opens a session. Returns the session token.
///
/// In this order: a user name that cannot be one is refused (no audit, no count); the attempt
/// is counted for its (user name, client address) pair, or refused when the pair is locked
/// (only the attempt that begins a lockout is audited); the password is checked in one of the
/// Argon2 slots; the outcome is audited.
pub async fn login(
    state: &AppState,
    client: &Client,
    user_agent: &str,
    username: &str,
    password: &str,
) -> Result<String> {
    plausible_login_name(username)?;
    // Every audited attempt is one row named `login`, its outcome the only difference.
    let actor = crate::ops::Actor::named(username, client);
    let audit = |outcome: String| async move {
        crate::ops::record(
            state,
            None,
            &actor,
            crate::ops::AuditAction::Login,
            None,
            &outcome,
        )
        .await
    };
    if let Err(locked) = state.throttle.begin(username, &client.0) {
        if let Some(start) = &locked.began {
            let mut outcome = format!("throttled: locked for {} s", start.lock_secs);
            if start.refused_before > 0 {
                outcome.push_str(&format!(
                    "; {} attempts refused during the lockout before",
                    start.refused_before
                ));
            }
            audit(outcome).await;
        }
        return Err(Error::Throttled {
            retry_after: locked.retry_after,
        });
    }
    let user = state.store.user_by_name(username).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = match verify_password(password.to_string(), hash).await {
        Ok(ok) => ok,
        Err(e) => {
            state.throttle.cancel(username, &client.0);
            return Err(e);
        }
    };
    match user {
        Some(user) if ok => {
            state.throttle.success(username, &client.0);
            if user.disabled {
                audit("refused: disabled".into()).await;
                return Err(Error::Forbidden(
                    "Your account is disabled; ask an administrator.".into(),
                ));
            }
            if let Err(e) = user.role.parse::<Role>() {
                tracing::warn!(user = %username, "login refused: {e}; an administrator must set admin, operator or viewer");
                audit("refused: unknown role".into()).await;
                return Err(Error::Forbidden(
                    "Your account has no role Berth knows; ask an administrator to set admin, operator or viewer.".into(),
                ));
            }
            audit("ok".into()).await;
            state.store.record_login(user.id).await?;
            start_session(state, user.id, client, user_agent).await
        }
        _ => {
            audit("wrong password".into()).await;
            Err(Error::invalid("password", "Wrong user name or password."))
        }
    }
}

/// A user agent as kept with a session: one line, at most 200 characters.
fn short_agent(ua: &str) -> String {
    ua.chars().filter(|c| !c.is_control()).take(200).collect()
}

async fn start_session(
    state: &AppState,
    user_id: i64,
    client: &Client,
    user_agent: &str,
) -> Result<String> {
    let token = new_token();
    state
        .store
        .create_session(
            &token_hash(&token),
            user_id,
            &client.0,
            &short_agent(user_agent),
        )
        .await?;
    Ok(token)
}

pub async fn logout(state: &AppState, client: &Client, user: &CurrentUser) -> Result<()> {
    state.store.delete_session(&user.token_hash).await?;
    crate::ops::record(
        state,
        None,
        &crate::ops::Actor::user(user, client),
        crate::ops::AuditAction::Logout,
        None,
        "ok",
    )
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
    let lifetime = state.config.session_lifetime.as_secs() as i64;
    let t = now();
    if t - row.last_seen > idle || t - row.created_at > lifetime {
        state.store.delete_session(&hash).await?;
        return Ok(None);
    }
    // Writing on every request would serialise readers on SQLite; a minute's precision is enough.
    if t - row.last_seen >= 60 {
        state.store.touch_session(&hash).await?;
    }
    let role = match row.role.parse::<Role>() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(user = %row.username, "session refused: {e}");
            return Ok(None);
        }
    };
    Ok(Some(CurrentUser {
        id: row.user_id,
        username: row.username,
        role,
        token_hash: hash,
        endpoint_id: row.endpoint_id,
        token: None,
        must_change_password: row.must_change_password,
    }))
}

/// The token of an `/api` request: `Authorization: Bearer …` or `X-API-Key: …`.
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    bearer
        .or_else(|| {
            headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
        .filter(|t| !t.is_empty())
}

/// The owner of an API token, with the owner's role; None when the token is unknown, revoked,
/// expired or its owner disabled. Its last use is written at most once a minute.
pub async fn token_user(state: &AppState, token: &str) -> Result<Option<CurrentUser>> {
    let Some(row) = state.store.token_user(&token_hash(token)).await? else {
        return Ok(None);
    };
    let t = now();
    if row.expires_at.is_some_and(|e| e <= t) {
        return Ok(None);
    }
    let Ok(role) = row.role.parse::<Role>() else {
        return Ok(None);
    };
    if row.last_used.is_none_or(|u| t - u >= 60) {
        state.store.touch_token(row.token_id).await?;
    }
    Ok(Some(CurrentUser {
        id: row.user_id,
        username: row.username,
        role,
        token_hash: String::new(),
        endpoint_id: None,
        token: Some(TokenRef {
            id: row.token_id,
            name: row.token_name,
        }),
        must_change_password: false,
    }))
}

/// Where a session whose password was reset may still go: the account page (to change it)
/// and the way out.
const WHILE_MUST_CHANGE: &[&str] = &[
    "/account",
    "/account/password",
    "/api/account/password",
    "/logout",
];

/// What the matched route needs, from the one table ([`access::ROUTES`]). A route missing from
/// the table needs more than anyone has: it is refused to everyone, and the log says which.
fn route_permission(req: &Request) -> std::result::Result<Permission, Error> {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let method: &Method = req.method();
    access::permission(method.as_str(), &path).ok_or_else(|| {
        tracing::error!(%method, %path, "route missing from the permission table: refused");
        Error::Forbidden(format!(
            "{method} {path} has no entry in Berth's permission table, so nobody may use it."
        ))
    })
}

/// The one guard of every protected route: a live session, and a role that holds what the
/// route needs in the permission table. (Forgery protection is the CSRF layer around the app.)
pub async fn require_user(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    // An API token works for /api only, and instead of the cookie; pages never read it.
    let presented = if api {
        presented_token(req.headers()).map(str::to_string)
    } else {
        None
    };
    let found = match &presented {
        Some(t) => token_user(&state, t).await,
        None => current_user(&state, req.headers()).await,
    };
    if presented.is_some() && matches!(found, Ok(None)) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "the API token is unknown, expired or revoked"})),
        )
            .into_response();
    }
    let user = match found {
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
            if user.must_change_password && !WHILE_MUST_CHANGE.contains(&req.uri().path()) {
                return if api {
                    crate::error::ApiError(Error::Forbidden(
                        "An administrator reset your password: change it first (POST /api/account/password).".into(),
                    ))
                    .into_response()
                } else {
                    Redirect::to("/account").into_response()
                };
            }
            if let Err(e) = route_permission(&req).and_then(|p| user.role.require(p)) {
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
    fn throttle_counts_before_checking_and_locks_one_pair_with_growing_delay() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(t.begin("Admin", "10.0.0.1").is_ok());
        }
        let first = t.begin("admin", "10.0.0.1").unwrap_err();
        assert_eq!(first.retry_after, 60);
        assert_eq!(
            first.began,
            Some(LockStart {
                lock_secs: 60,
                refused_before: 0
            })
        );
        let again = t.begin("admin", "10.0.0.1").unwrap_err();
        assert!(again.began.is_none() && (1..=60).contains(&again.retry_after));
        assert_eq!(t.refused_total(), 2);
        // The same user from another address, and another user from the same one, go on.
        assert!(t.begin("admin", "10.0.0.2").is_ok());
        assert!(t.begin("bob", "10.0.0.1").is_ok());
        // The next lockout of the pair is twice as long.
        {
            let mut map = t.entries.lock().unwrap();
            let e = map.get_mut(&Throttle::key("admin", "10.0.0.1")).unwrap();
            e.locked_until = Some(Instant::now());
        }
        for _ in 0..3 {
            assert!(t.begin("admin", "10.0.0.1").is_ok());
        }
        let second = t.begin("admin", "10.0.0.1").unwrap_err();
        assert_eq!(
            second.began,
            Some(LockStart {
                lock_secs: 120,
                refused_before: 1
            })
        );
        // A success forgets the pair; a cancelled attempt does not count.
        t.success("admin", "10.0.0.1");
        for _ in 0..5 {
            assert!(t.begin("carol", "10.0.0.3").is_ok());
            t.cancel("carol", "10.0.0.3");
        }
        assert!(t.begin("admin", "10.0.0.1").is_ok());
    }

    #[test]
    fn login_names_are_bounded_before_anything_else() {
        assert!(plausible_login_name("admin").is_ok());
        assert!(plausible_login_name(&"a".repeat(64)).is_ok());
        assert!(plausible_login_name(&"é".repeat(64)).is_ok());
        assert!(plausible_login_name(&"a".repeat(65)).is_err());
        assert!(plausible_login_name("ad\nmin").is_err());
        assert!(plausible_login_name("").is_err());
    }

    #[test]
    fn tokens_are_read_from_bearer_or_api_key() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(presented_token(&h), Some("abc"));
        let mut h = HeaderMap::new();
        h.insert("x-api-key", "xyz".parse().unwrap());
        assert_eq!(presented_token(&h), Some("xyz"));
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Basic Zm9v".parse().unwrap());
        assert_eq!(presented_token(&h), None);
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
        assert!(argon2_limit() >= 1);
    }
}
