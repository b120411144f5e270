//! Endpoints: the engines Berth manages. The one named by the flags (id 1, always first, not
//! removable) and those added in the UI or API, stored in the `endpoints` table with their TLS
//! material under `<data>/certs/<id>/` (folder 0700, files 0600; never shown again).

pub mod probe;
pub mod registry;
pub mod tls;
pub mod transport;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use crate::AppState;
use crate::config::{Config, TlsFiles};
use crate::error::{Error, Result};
use crate::store::now;
use tls::TlsMaterial;

/// The id of the flags' endpoint.
pub const FLAGS_ID: i64 = 1;

/// What Berth needs to reach one endpoint.
#[derive(Debug, Clone)]
pub struct Def {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub tls: Option<TlsMaterial>,
    pub from_flags: bool,
    /// Why it cannot even be tried (unreadable certificate files…).
    pub problem: Option<String>,
}

impl Def {
    /// "socket", "pipe", "tcp" or "tls".
    pub fn kind(&self) -> &'static str {
        if self.tls.is_some() {
            "tls"
        } else if self.url.starts_with("unix://") {
            "socket"
        } else if self.url.starts_with("npipe://") {
            "pipe"
        } else {
            "tcp"
        }
    }

    fn tls_mode(&self) -> &'static str {
        match &self.tls {
            None => "none",
            Some(m) if m.verify => "verify",
            Some(_) => "skip",
        }
    }
}

/// Reads the flags' TLS files (`--tlscacert` … or `DOCKER_CERT_PATH`).
pub fn read_tls_files(files: &TlsFiles) -> std::result::Result<TlsMaterial, String> {
    let read = |what: &str, p: &Path| {
        std::fs::read(p).map_err(|e| format!("TLS {what} file {} cannot be read: {e}", p.display()))
    };
    Ok(TlsMaterial {
        verify: true,
        ca: Some(read("CA", &files.ca)?),
        cert: Some(read("certificate", &files.cert)?),
        key: Some(read("key", &files.key)?),
    })
}

/// The endpoint the flags (or DOCKER_HOST / DOCKER_CERT_PATH) name.
pub fn flags_def(config: &Config) -> Def {
    let target = config.engine_target();
    let (tls, problem) = match &target.tls {
        None => (None, None),
        Some(files) => match read_tls_files(files) {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(e)),
        },
    };
    Def {
        id: FLAGS_ID,
        name: "local".into(),
        url: target.url,
        tls,
        from_flags: true,
        problem,
    }
}

// ---------------------------------------------------------------- input

/// An endpoint as the API (and, converted, the form) gives it.
#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
pub struct Input {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub url: String,
    /// PEM strings; present (even empty) means TLS.
    #[serde(default)]
    pub tls: Option<TlsInput>,
    /// Verify the engine's certificate (default true); false is the explicit opt-in to skip it.
    #[serde(default)]
    pub tls_verify: Option<bool>,
}

#[derive(Clone, Deserialize, Default, utoipa::ToSchema)]
pub struct TlsInput {
    #[serde(default)]
    pub ca: Option<String>,
    #[serde(default)]
    pub cert: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
}

impl std::fmt::Debug for TlsInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsInput")
            .field("ca", &self.ca.is_some())
            .field("cert", &self.cert.is_some())
            .field("key", &self.key.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

fn pem(s: &Option<String>) -> Option<Vec<u8>> {
    s.as_ref()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes().to_vec())
}

/// Checks an input (against the endpoint it edits, whose certificates it may keep) and
/// returns what to store.
pub fn plan(input: &Input, existing: Option<&Def>) -> Result<Def> {
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(Error::invalid("name", "A name has 1 to 64 characters."));
    }
    let url = input.url.trim().to_string();
    let addr = probe::parse_addr(&url).map_err(|m| Error::invalid("url", m))?;
    let keep_tls = input.tls.is_none()
        && input.tls_verify.is_none()
        && existing.is_some_and(|d| d.tls.is_some());
    let use_tls = input.tls.is_some()
        || url.starts_with("https://")
        || input.tls_verify == Some(false)
        || keep_tls;
    let tls = if use_tls {
        if !matches!(addr, probe::Addr::Tcp { .. }) {
            return Err(Error::invalid(
                "url",
                "TLS needs a tcp://host:port address (the engine's TLS port is usually 2376).",
            ));
        }
        let old = existing.and_then(|d| d.tls.as_ref());
        let given = input.tls.clone().unwrap_or_default();
        let m = TlsMaterial {
            verify: input
                .tls_verify
                .unwrap_or_else(|| old.map(|o| o.verify).unwrap_or(true)),
            ca: pem(&given.ca).or_else(|| old.and_then(|o| o.ca.clone())),
            cert: pem(&given.cert).or_else(|| old.and_then(|o| o.cert.clone())),
            key: pem(&given.key).or_else(|| old.and_then(|o| o.key.clone())),
        };
        tls::validate(&m)?;
        Some(m)
    } else {
        None
    };
    Ok(Def {
        id: existing.map(|d| d.id).unwrap_or(0),
        name,
        url,
        tls,
        from_flags: false,
        problem: None,
    })
}

// ---------------------------------------------------------------- storage

#[derive(Debug, FromRow)]
struct Row {
    id: i64,
    name: String,
    url: String,
    tls_mode: String,
}

fn certs_dir(data: &Path, id: i64) -> PathBuf {
    data.join("certs").join(id.to_string())
}

const FILES: [&str; 3] = ["ca.pem", "cert.pem", "key.pem"];

fn owner_only_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        if let Some(parent) = dir.parent() {
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Writes a file readable by its owner only, replacing the old one at once (rotation).
pub fn write_secret(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

fn write_material(data: &Path, id: i64, tls: Option<&TlsMaterial>) -> std::io::Result<()> {
    let dir = certs_dir(data, id);
    let Some(m) = tls else {
        return match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    };
    owner_only_dir(&dir)?;
    for (file, bytes) in FILES.iter().zip([&m.ca, &m.cert, &m.key]) {
        let path = dir.join(file);
        match bytes {
            Some(b) => write_secret(&path, b)?,
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    Ok(())
}

fn read_material(data: &Path, row: &Row) -> (Option<TlsMaterial>, Option<String>) {
    if row.tls_mode == "none" {
        return (None, None);
    }
    let dir = certs_dir(data, row.id);
    let mut got: [Option<Vec<u8>>; 3] = [None, None, None];
    for (i, file) in FILES.iter().enumerate() {
        match std::fs::read(dir.join(file)) {
            Ok(b) => got[i] = Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return (
                    None,
                    Some(format!(
                        "the certificate files in {} cannot be read: {e}",
                        dir.display()
                    )),
                );
            }
        }
    }
    let [ca, cert, key] = got;
    let m = TlsMaterial {
        verify: row.tls_mode == "verify",
        ca,
        cert,
        key,
    };
    match tls::validate(&m) {
        Ok(()) => (Some(m), None),
        Err(e) => (None, Some(format!("stored TLS material is unusable: {e}"))),
    }
}

fn unique(e: sqlx::Error, name: &str) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::Conflict {
            field: "name",
            message: format!("An endpoint named `{name}` exists already."),
        },
        _ => Error::Store(e),
    }
}

/// At start: records the flags' endpoint as id 1 and registers every stored one.
pub async fn load(state: &AppState) -> Result<()> {
    let flags = state.engines.slot(FLAGS_ID).map(|s| s.def.clone());
    if let Some(f) = flags {
        sqlx::query(
            "INSERT INTO endpoints (id, name, url, tls_mode, from_flags, created_at)
             VALUES (?, ?, ?, ?, 1, ?)
             ON CONFLICT(id) DO UPDATE SET url = excluded.url, tls_mode = excluded.tls_mode,
                                           from_flags = 1",
        )
        .bind(FLAGS_ID)
        .bind(&f.name)
        .bind(&f.url)
        .bind(f.tls_mode())
        .bind(now())
        .execute(state.store.pool())
        .await?;
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name, url, tls_mode FROM endpoints WHERE from_flags = 0 ORDER BY id",
    )
    .fetch_all(state.store.pool())
    .await?;
    for row in rows {
        let (tls, problem) = read_material(&state.config.data, &row);
        state.engines.put(Def {
            id: row.id,
            name: row.name,
            url: row.url,
            tls,
            from_flags: false,
            problem,
        });
    }
    Ok(())
}

fn stored(state: &AppState, id: i64) -> Result<Def> {
    match state.engines.slot(id) {
        Some(s) if s.def.from_flags => Err(Error::Forbidden(
            "This endpoint is configured by flags (-H, --tls…, DOCKER_HOST): change them and restart Berth."
                .into(),
        )),
        Some(s) => Ok(s.def.clone()),
        None => Err(Error::NotFound(format!("No endpoint {id}."))),
    }
}

/// Adds an endpoint; returns its id.
pub async fn create(state: &AppState, input: &Input) -> Result<i64> {
    let mut def = plan(input, None)?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO endpoints (name, url, tls_mode, from_flags, created_at)
         VALUES (?, ?, ?, 0, ?) RETURNING id",
    )
    .bind(&def.name)
    .bind(&def.url)
    .bind(def.tls_mode())
    .bind(now())
    .fetch_one(state.store.pool())
    .await
    .map_err(|e| unique(e, &def.name))?;
    def.id = id;
    if let Err(e) = write_material(&state.config.data, id, def.tls.as_ref()) {
        let _ = sqlx::query("DELETE FROM endpoints WHERE id = ?")
            .bind(id)
            .execute(state.store.pool())
            .await;
        let _ = std::fs::remove_dir_all(certs_dir(&state.config.data, id));
        return Err(Error::internal(format!(
            "writing the certificates failed: {e}"
        )));
    }
    tracing::info!(id, name = %def.name, url = %def.url, kind = def.kind(), "endpoint added");
    state.engines.put(def);
    Ok(id)
}

/// Changes an endpoint; PEMs given replace the stored ones (rotation), the others stay.
pub async fn update(state: &AppState, id: i64, input: &Input) -> Result<()> {
    let old = stored(state, id)?;
    let def = plan(input, Some(&old))?;
    sqlx::query("UPDATE endpoints SET name = ?, url = ?, tls_mode = ? WHERE id = ?")
        .bind(&def.name)
        .bind(&def.url)
        .bind(def.tls_mode())
        .bind(id)
        .execute(state.store.pool())
        .await
        .map_err(|e| unique(e, &def.name))?;
    write_material(&state.config.data, id, def.tls.as_ref())
        .map_err(|e| Error::internal(format!("writing the certificates failed: {e}")))?;
    tracing::info!(id, name = %def.name, url = %def.url, kind = def.kind(), "endpoint changed");
    state.engines.put(def);
    Ok(())
}

/// Removes an endpoint, its certificates, and sessions' choice of it.
pub async fn remove(state: &AppState, id: i64) -> Result<String> {
    let def = stored(state, id)?;
    state.store.forget_session_endpoint(id).await?;
    sqlx::query("DELETE FROM endpoints WHERE id = ? AND from_flags = 0")
        .bind(id)
        .execute(state.store.pool())
        .await?;
    state.engines.remove(id);
    write_material(&state.config.data, id, None)
        .map_err(|e| Error::internal(format!("removing the certificates failed: {e}")))?;
    tracing::info!(id, name = %def.name, "endpoint removed");
    Ok(def.name)
}

/// Makes `id` the current endpoint of a session.
pub async fn switch(state: &AppState, token_hash: &str, id: i64) -> Result<String> {
    let slot = state
        .engines
        .slot(id)
        .ok_or_else(|| Error::NotFound(format!("No endpoint {id}.")))?;
    state
        .store
        .set_session_endpoint(token_hash, Some(id))
        .await?;
    Ok(slot.def.name.clone())
}

/// The outcome of "Test connection".
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    pub ok: bool,
    pub error: Option<String>,
    pub version: Option<String>,
    pub api_version: Option<String>,
    pub os_type: Option<String>,
    pub latency_ms: Option<u64>,
}

/// Tries an endpoint as given (with the stored certificates of `id` where none are given),
/// without saving anything. Bad input is an error; a failing engine is a result.
pub async fn test(state: &AppState, id: Option<i64>, input: &Input) -> Result<TestResult> {
    let old = match id {
        Some(id) => Some(stored(state, id)?),
        None => None,
    };
    let def = plan(input, old.as_ref())?;
    Ok(test_def(&def).await)
}

pub async fn test_def(def: &Def) -> TestResult {
    match probe::probe(&def.url, def.tls.as_ref()).await {
        Ok((f, latency)) => TestResult {
            ok: true,
            error: None,
            version: Some(f.version),
            api_version: Some(f.api_version),
            os_type: Some(f.os_type),
            latency_ms: Some(latency.as_millis() as u64),
        },
        Err(e) => TestResult {
            ok: false,
            error: Some(e),
            version: None,
            api_version: None,
            os_type: None,
            latency_ms: None,
        },
    }
}

/// One endpoint as lists show it (never its certificates).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// "socket", "pipe", "tcp" or "tls".
    pub kind: &'static str,
    pub tls: Option<&'static str>,
    pub tls_verify: Option<bool>,
    pub has_ca: bool,
    pub has_client_cert: bool,
    pub from_flags: bool,
    /// "up" or "down".
    pub status: &'static str,
    pub error: Option<String>,
    pub version: Option<String>,
    pub api_version: Option<String>,
    pub os_type: Option<String>,
    pub latency_ms: Option<u64>,
    pub checked: Option<i64>,
    pub mirror_running: bool,
}

pub fn view(slot: &registry::Slot) -> EndpointView {
    let s = slot.status();
    let d = &slot.def;
    EndpointView {
        id: d.id,
        name: d.name.clone(),
        url: d.url.clone(),
        kind: d.kind(),
        tls: d.tls.as_ref().map(|m| m.describe()),
        tls_verify: d.tls.as_ref().map(|m| m.verify),
        has_ca: d.tls.as_ref().is_some_and(|m| m.ca.is_some()),
        has_client_cert: d.tls.as_ref().is_some_and(|m| m.has_client_cert()),
        from_flags: d.from_flags,
        status: if s.up { "up" } else { "down" },
        error: if s.up {
            None
        } else {
            s.error.or_else(|| d.problem.clone())
        },
        version: s.version,
        api_version: s.api_version,
        os_type: s.os_type,
        latency_ms: s.latency_ms,
        checked: s.checked,
        mirror_running: slot.mirror_running(),
    }
}

pub fn list(state: &AppState) -> Vec<EndpointView> {
    state.engines.slots().iter().map(|s| view(s)).collect()
}
