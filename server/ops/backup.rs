//! Backup and restore of Berth's state.
//!
//! A backup is a tar (`manifest.json`, `berth.db`, `certs/<endpoint>/{ca,cert,key}.pem`)
//! encrypted with age to a passphrase (age's scrypt recipient). The
//! database is a consistent copy made while Berth runs (`VACUUM INTO`, one read transaction);
//! the certificates are the endpoints' files under `<data>/certs/`. Berth's own HTTPS
//! certificate (`<data>/tls/`) is not in it: it names the old host, and a new one makes its own.
//!
//! A restore goes into a Berth with no user yet (a fresh one, in the setup window, or the
//! command line on a fresh data folder). The backup's database is brought to this Berth's
//! schema on a staged copy, then its rows replace this database's in one transaction (so a
//! wrong passphrase, a damaged file or a race with the setup form leaves everything as it
//! was). Sessions are not restored: everyone logs in again. This Berth's own `-H` endpoint
//! (id 1) stays; the backup's stored endpoints come back with their certificates. Audit rows
//! written by the fresh Berth before the restore are kept, after the restored ones.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};

use super::{Actor, AuditAction, record};
use crate::AppState;
use crate::engine::tar;
use crate::error::{Error, Result};
use crate::store::{Store, now};

/// scrypt work factor of a backup (N = 2^16: 64 MiB and a fraction of a second to open; age's
/// own calibration would pick up to 2^20 here, a gigabyte). A restore accepts no more, so a
/// crafted file cannot make a fresh Berth spend more memory than a real backup does.
pub const WORK_FACTOR: u8 = 16;
pub const MIN_PASSPHRASE: usize = 12;
pub const MAX_PASSPHRASE: usize = 1024;
/// The format of the archive's contents.
const FORMAT: u32 = 1;
const MANIFEST_MAX: u64 = 64 * 1024;
const CERT_MAX: u64 = 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub berth_version: String,
    pub created_at: i64,
    /// The newest migration the database had.
    pub schema: i64,
}

/// What a restore brought back.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Restored {
    pub created_at: i64,
    pub users: i64,
    pub endpoints: i64,
    pub settings: i64,
    pub audit: i64,
}

/// A file removed when dropped (a backup on its way out, a staged upload).
#[derive(Debug)]
pub struct TempFile(pub PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A name in the data folder for a temporary file (hidden, random).
pub fn temp_path(data: &Path, what: &str) -> PathBuf {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    data.join(format!(".{what}-{}", hex::encode(b)))
}

fn secret_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

pub fn check_passphrase(p: &str) -> Result<()> {
    let n = p.chars().count();
    if n < MIN_PASSPHRASE {
        return Err(Error::invalid(
            "passphrase",
            format!(
                "The passphrase needs at least {MIN_PASSPHRASE} characters: whoever holds the file and guesses it reads every password hash and certificate key in it."
            ),
        ));
    }
    if n > MAX_PASSPHRASE {
        return Err(Error::invalid(
            "passphrase",
            format!("The passphrase has at most {MAX_PASSPHRASE} characters."),
        ));
    }
    Ok(())
}

/// `berth-backup-2026-12-06T0930Z.age`
pub fn file_name(at: i64) -> String {
    let iso = super::audit::iso(at).replace(':', "");
    format!("berth-backup-{}Z.age", &iso[..iso.len().min(15)])
}

async fn schema_version(store: &Store) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(store.pool())
            .await?,
    )
}

/// The endpoints' certificate files: (archive name, path).
fn cert_files(data: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let dir = data.join("certs");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        let id = e.file_name().to_string_lossy().into_owned();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) || !e.path().is_dir() {
            continue;
        }
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            let p = e.path().join(f);
            if p.is_file() {
                out.push((format!("certs/{id}/{f}"), p));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn put_entry(
    w: &mut impl Write,
    name: &str,
    size: u64,
    mut body: impl Read,
) -> std::io::Result<()> {
    w.write_all(&tar::header(name, size, 0o600, now(), b'0'))?;
    let copied = std::io::copy(&mut body, w)?;
    if copied != size {
        return Err(std::io::Error::other(format!(
            "{name} changed size while being archived"
        )));
    }
    let pad = (512 - (size % 512) as usize) % 512;
    w.write_all(&vec![0u8; pad])
}

/// Makes the encrypted archive in a temporary file of the data folder and returns it (removed
/// when dropped) with its download name.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    passphrase: &str,
) -> Result<(TempFile, String)> {
    let r = make(&state.store, &state.config.data, passphrase).await;
    let target = r.as_ref().ok().map(|(_, name)| name.clone());
    record(
        state,
        None,
        actor,
        AuditAction::BackupCreate,
        target.as_deref(),
        &super::outcome(&r),
    )
    .await;
    r
}

async fn make(store: &Store, data: &Path, passphrase: &str) -> Result<(TempFile, String)> {
    check_passphrase(passphrase)?;
    let at = now();
    let manifest = Manifest {
        format: FORMAT,
        berth_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: at,
        schema: schema_version(store).await?,
    };
    let db = TempFile(temp_path(data, "backup-db"));
    sqlx::query("VACUUM INTO ?")
        .bind(db.0.display().to_string())
        .execute(store.pool())
        .await?;
    let out = TempFile(temp_path(data, "backup-age"));
    let (data, pass) = (data.to_path_buf(), passphrase.to_string());
    let out_path = out.0.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut recipient = age::scrypt::Recipient::new(SecretString::from(pass));
        recipient.set_work_factor(WORK_FACTOR);
        let enc = age::Encryptor::with_recipients(std::iter::once(&recipient as _))
            .map_err(std::io::Error::other)?;
        let file = secret_file(&out_path)?;
        let mut w = enc.wrap_output(BufWriter::new(file))?;
        let m = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
        put_entry(&mut w, "manifest.json", m.len() as u64, &m[..])?;
        let f = std::fs::File::open(&db.0)?;
        let len = f.metadata()?.len();
        put_entry(&mut w, "berth.db", len, f)?;
        for (name, path) in cert_files(&data)? {
            let bytes = std::fs::read(&path)?;
            put_entry(&mut w, &name, bytes.len() as u64, &bytes[..])?;
        }
        // Without its key the registries' sealed passwords would not open after a restore.
        let key = data.join(crate::registries::secret::KEY_FILE);
        if key.is_file() {
            let bytes = std::fs::read(&key)?;
            put_entry(
                &mut w,
                crate::registries::secret::KEY_FILE,
                bytes.len() as u64,
                &bytes[..],
            )?;
        }
        w.write_all(&[0u8; 1024])?;
        let mut inner = w.finish()?;
        inner.flush()?;
        inner.get_ref().sync_all()?;
        drop(db);
        Ok(())
    })
    .await
    .map_err(|e| Error::internal(format!("backup task: {e}")))?
    .map_err(|e| Error::internal(format!("writing the backup failed: {e}")))?;
    Ok((out, file_name(at)))
}

// ---------------------------------------------------------------- restore

fn damaged(why: impl std::fmt::Display) -> Error {
    Error::invalid(
        "file",
        format!("This file is not a Berth backup, or it is damaged: {why}."),
    )
}

fn wrong_passphrase() -> Error {
    Error::invalid(
        "passphrase",
        "The passphrase does not open this backup (nothing was changed).",
    )
}

/// What the archive held, staged in a folder of the data folder.
struct Staged {
    dir: PathBuf,
    manifest: Manifest,
    db: PathBuf,
    /// (endpoint id, file name, bytes)
    certs: Vec<(i64, String, Vec<u8>)>,
    /// The key the registry passwords in the database are sealed with.
    registry_key: Option<Vec<u8>>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Decrypts and unpacks `file` into a staging folder; checks every entry's name and size.
fn unpack(file: &Path, passphrase: &str, data: &Path, limit: u64) -> Result<Staged> {
    let input = std::fs::File::open(file)
        .map_err(|e| Error::invalid("file", format!("The backup cannot be read: {e}.")))?;
    let dec = match age::Decryptor::new(std::io::BufReader::new(input)) {
        Ok(d) => d,
        Err(age::DecryptError::Io(e)) => return Err(damaged(e)),
        Err(_) => return Err(damaged("it is not an age file")),
    };
    if !dec.is_scrypt() {
        return Err(damaged("it is not encrypted to a passphrase"));
    }
    let mut identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_string()));
    identity.set_max_work_factor(WORK_FACTOR);
    let mut reader = match dec.decrypt(std::iter::once(&identity as _)) {
        Ok(r) => r,
        Err(age::DecryptError::ExcessiveWork { .. }) => {
            return Err(damaged(
                "its passphrase costs more work than Berth's backups do",
            ));
        }
        Err(
            age::DecryptError::DecryptionFailed
            | age::DecryptError::KeyDecryptionFailed
            | age::DecryptError::NoMatchingKeys,
        ) => return Err(wrong_passphrase()),
        Err(e) => return Err(damaged(e)),
    };
    let dir = temp_path(data, "restore");
    std::fs::create_dir(&dir)
        .map_err(|e| Error::internal(format!("staging folder {}: {e}", dir.display())))?;
    let mut staged = Staged {
        dir: dir.clone(),
        manifest: Manifest {
            format: 0,
            berth_version: String::new(),
            created_at: 0,
            schema: 0,
        },
        db: dir.join("berth.db"),
        certs: Vec::new(),
        registry_key: None,
    };
    let (mut have_manifest, mut have_db) = (false, false);
    let mut total: u64 = 0;
    loop {
        let mut h = [0u8; 512];
        reader.read_exact(&mut h).map_err(damaged)?;
        if h.iter().all(|b| *b == 0) {
            break;
        }
        let name = tar::text(&h[..100]);
        let size = tar::octal(&h[124..136]).ok_or_else(|| damaged("a size does not read"))?;
        if !matches!(h[156], b'0' | 0) {
            return Err(damaged(format!("`{name}` is not a file")));
        }
        total = total.saturating_add(size);
        if total > limit {
            return Err(Error::TooLarge(format!(
                "The backup unpacks to more than the limit of {} (--restore-limit).",
                crate::fmt::size(limit as i64)
            )));
        }
        let pad = (512 - (size % 512)) % 512;
        let mut body = (&mut reader).take(size);
        match name.as_str() {
            "manifest.json" if size <= MANIFEST_MAX => {
                let mut b = Vec::new();
                body.read_to_end(&mut b).map_err(damaged)?;
                staged.manifest = serde_json::from_slice(&b)
                    .map_err(|e| damaged(format!("its manifest does not read: {e}")))?;
                have_manifest = true;
            }
            "berth.db" => {
                let mut f = secret_file(&staged.db)
                    .map_err(|e| Error::internal(format!("staging the database: {e}")))?;
                let n = std::io::copy(&mut body, &mut f).map_err(damaged)?;
                if n != size {
                    return Err(damaged("the database is cut short"));
                }
                have_db = true;
            }
            crate::registries::secret::KEY_FILE if size == 32 => {
                let mut b = Vec::new();
                body.read_to_end(&mut b).map_err(damaged)?;
                staged.registry_key = Some(b);
            }
            other => {
                let cert = other
                    .strip_prefix("certs/")
                    .and_then(|r| r.split_once('/'))
                    .and_then(|(id, f)| Some((id.parse::<i64>().ok()?, f)))
                    .filter(|(id, f)| {
                        *id > 0 && ["ca.pem", "cert.pem", "key.pem"].contains(f) && size <= CERT_MAX
                    });
                let Some((id, f)) = cert else {
                    let shown: String = other.chars().take(80).collect();
                    return Err(damaged(format!("it holds `{shown}`")));
                };
                let mut b = Vec::new();
                body.read_to_end(&mut b).map_err(damaged)?;
                staged.certs.push((id, f.to_string(), b));
            }
        }
        std::io::copy(&mut (&mut reader).take(pad), &mut std::io::sink()).map_err(damaged)?;
    }
    if !have_manifest || !have_db {
        return Err(damaged("its manifest or database is missing"));
    }
    if staged.manifest.format != FORMAT {
        return Err(damaged(format!(
            "its format {} is not the one this Berth reads ({FORMAT})",
            staged.manifest.format
        )));
    }
    Ok(staged)
}

/// `Ok` while the store has no user (a restore may go in), else the 409 that says why not.
pub async fn check_fresh(store: &Store) -> Result<()> {
    if store.user_count().await? > 0 {
        return Err(fresh_only());
    }
    Ok(())
}

fn fresh_only() -> Error {
    Error::Conflict {
        field: "file",
        message: "This Berth has users already: a backup is restored only into a fresh Berth \
                  (start one on an empty data folder, then restore from its setup page or with \
                  `berth restore FILE`)."
            .into(),
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Restores the backup in `file` into the database of `store` (in `data`), which must have no
/// user. On any error nothing has changed.
pub async fn restore(
    store: &Store,
    data: &Path,
    file: &Path,
    passphrase: &str,
    limit: u64,
) -> Result<Restored> {
    check_fresh(store).await?;
    let (f, p, d) = (
        file.to_path_buf(),
        passphrase.to_string(),
        data.to_path_buf(),
    );
    let staged = tokio::task::spawn_blocking(move || unpack(&f, &p, &d, limit))
        .await
        .map_err(|e| Error::internal(format!("restore task: {e}")))??;
    let ours = schema_version(store).await?;
    if staged.manifest.schema > ours {
        return Err(Error::invalid(
            "file",
            format!(
                "This backup was made by a newer Berth ({}, database version {}); this one ({}) \
                 knows versions up to {ours}. Restore it with that version or a later one.",
                staged.manifest.berth_version,
                staged.manifest.schema,
                env!("CARGO_PKG_VERSION")
            ),
        ));
    }
    // The staged copy is brought to this Berth's schema, and checked.
    {
        let opts = SqliteConnectOptions::new()
            .filename(&staged.db)
            .create_if_missing(false);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .map_err(|e| damaged(format!("its database does not open: {e}")))?;
        let check: std::result::Result<String, _> = sqlx::query_scalar("PRAGMA quick_check")
            .fetch_one(&pool)
            .await;
        let migrated = match check {
            Ok(c) if c == "ok" => sqlx::migrate!("./migrations")
                .run(&pool)
                .await
                .map_err(|e| {
                    damaged(format!(
                        "its database cannot be brought to this version: {e}"
                    ))
                }),
            Ok(c) => Err(damaged(format!("its database is damaged ({c})"))),
            Err(e) => Err(damaged(format!("its database does not read: {e}"))),
        };
        pool.close().await;
        migrated?;
    }
    let written = write_certs(data, &staged.certs)
        .and_then(|()| match &staged.registry_key {
            Some(k) => {
                crate::endpoints::write_secret(&data.join(crate::registries::secret::KEY_FILE), k)
            }
            None => Ok(()),
        })
        .map_err(|e| Error::internal(format!("writing the certificates failed: {e}")));
    let result = match written {
        Ok(()) => copy_rows(data, &staged).await,
        Err(e) => Err(e),
    };
    if result.is_err() {
        for id in staged.certs.iter().map(|c| c.0) {
            let _ = std::fs::remove_dir_all(data.join("certs").join(id.to_string()));
        }
    }
    result
}

fn write_certs(data: &Path, certs: &[(i64, String, Vec<u8>)]) -> std::io::Result<()> {
    for (id, file, bytes) in certs {
        let dir = data.join("certs").join(id.to_string());
        std::fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
            std::fs::set_permissions(data.join("certs"), std::fs::Permissions::from_mode(0o700))?;
        }
        crate::endpoints::write_secret(&dir.join(file), bytes)?;
    }
    Ok(())
}

/// Tables a restore leaves alone: sqlx's bookkeeping, and sessions (everyone logs in again).
const NOT_RESTORED: &[&str] = &["_sqlx_migrations", "sessions"];

async fn copy_rows(data: &Path, staged: &Staged) -> Result<Restored> {
    let opts = SqliteConnectOptions::new()
        .filename(data.join("berth.db"))
        .busy_timeout(std::time::Duration::from_secs(10))
        .foreign_keys(true);
    let mut conn = SqliteConnection::connect_with(&opts).await?;
    sqlx::query("ATTACH DATABASE ? AS b")
        .bind(staged.db.display().to_string())
        .execute(&mut conn)
        .await?;
    let r = copy_in_transaction(&mut conn, staged).await;
    if r.is_err() {
        let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
    }
    let _ = sqlx::query("DETACH DATABASE b").execute(&mut conn).await;
    let _ = conn.close().await;
    r
}

async fn copy_in_transaction(conn: &mut SqliteConnection, staged: &Staged) -> Result<Restored> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    // Checked again inside the write lock: the setup form may have won meanwhile.
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM main.users")
        .fetch_one(&mut *conn)
        .await?;
    if users > 0 {
        return Err(fresh_only());
    }
    sqlx::query("PRAGMA defer_foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM main.sqlite_master WHERE type = 'table'
           AND name IN (SELECT name FROM b.sqlite_master WHERE type = 'table')
         ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;
    // The fresh Berth's own audit rows (its start, attempts before this restore) go after the
    // restored ones.
    sqlx::query("CREATE TEMP TABLE keep_audit AS SELECT * FROM main.audit")
        .execute(&mut *conn)
        .await?;
    for t in tables
        .iter()
        .filter(|t| !NOT_RESTORED.contains(&t.as_str()))
    {
        let cols: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info(?, 'main') ORDER BY cid")
                .bind(t)
                .fetch_all(&mut *conn)
                .await?;
        let cols = cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
        let (del, sel) = if t == "endpoints" {
            // This Berth's own -H endpoint stays; the backup's came from the old host's flags.
            (" WHERE from_flags = 0", " WHERE from_flags = 0")
        } else {
            ("", "")
        };
        let name = quote(t);
        sqlx::query(&format!("DELETE FROM main.{name}{del}"))
            .execute(&mut *conn)
            .await?;
        sqlx::query(&format!(
            "INSERT INTO main.{name} ({cols}) SELECT {cols} FROM b.{name}{sel}"
        ))
        .execute(&mut *conn)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => Error::Conflict {
                field: "file",
                message: format!(
                    "The backup's {t} clash with this Berth's own ({}): nothing was restored.",
                    d.message()
                ),
            },
            _ => Error::Store(e),
        })?;
    }
    sqlx::query(
        "INSERT INTO main.audit (at, username, client, endpoint, action, target, outcome)
         SELECT at, username, client, endpoint, action, target, outcome FROM keep_audit ORDER BY id",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("DROP TABLE keep_audit")
        .execute(&mut *conn)
        .await?;
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
    let restored = Restored {
        created_at: staged.manifest.created_at,
        users: count("SELECT COUNT(*) FROM main.users")
            .fetch_one(&mut *conn)
            .await?,
        endpoints: count("SELECT COUNT(*) FROM main.endpoints WHERE from_flags = 0")
            .fetch_one(&mut *conn)
            .await?,
        settings: count("SELECT COUNT(*) FROM main.settings")
            .fetch_one(&mut *conn)
            .await?,
        audit: count("SELECT COUNT(*) FROM b.audit")
            .fetch_one(&mut *conn)
            .await?,
    };
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    Ok(restored)
}

/// A restore into the running (fresh) Berth: in the setup window only; the restored endpoints
/// are connected at once, and the restore is audited.
pub async fn restore_running(
    state: &AppState,
    client: &crate::auth::Client,
    file: &Path,
    passphrase: &str,
) -> Result<Restored> {
    check_fresh(&state.store).await?;
    if let Some(reason) = crate::auth::setup_closed_reason(state).await? {
        return Err(Error::Forbidden(reason.replace(
            "open this page within the window",
            "restore within the window (or use `berth restore FILE`)",
        )));
    }
    // One restore at a time: each may take a fraction of a second of scrypt and 64 MiB.
    static ONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = ONE.lock().await;
    let actor = Actor {
        username: None,
        role: None,
        client: client.0.clone(),
        token: None,
    };
    let r = restore(
        &state.store,
        &state.config.data,
        file,
        passphrase,
        state.config.restore_limit,
    )
    .await;
    if r.is_ok() {
        crate::endpoints::load(state).await?;
    }
    let target = r
        .as_ref()
        .ok()
        .map(|x| format!("backup of {}", crate::fmt::datetime(x.created_at)));
    record(
        state,
        None,
        &actor,
        AuditAction::BackupRestore,
        target.as_deref(),
        &super::outcome(&r),
    )
    .await;
    r
}

/// `berth restore FILE`: into the data folder of `config` (created when missing), which must
/// hold no user. The error is the sentence to print.
pub async fn restore_folder(
    config: &crate::Config,
    file: &Path,
    passphrase: &str,
) -> std::result::Result<Restored, String> {
    let say = |e: Error| crate::error::chain(&e);
    if !file.is_file() {
        return Err(format!("{} is not a file", file.display()));
    }
    let len = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
    if len > config.restore_limit {
        return Err(format!(
            "{} is larger than the limit of {} (--restore-limit)",
            file.display(),
            crate::fmt::size(config.restore_limit as i64)
        ));
    }
    let store = Store::open(&config.data).await.map_err(say)?;
    let r = restore(&store, &config.data, file, passphrase, config.restore_limit).await;
    if let Ok(x) = &r {
        let actor = Actor {
            username: None,
            role: None,
            client: "command line".into(),
            token: None,
        };
        let a = crate::store::Audit {
            username: actor.username.as_deref(),
            client: Some(&actor.client),
            endpoint: None,
            action: AuditAction::BackupRestore.as_str(),
            target: Some(&format!("backup of {}", crate::fmt::datetime(x.created_at))),
            outcome: "ok",
            token: None,
        };
        let _ = store.audit(a).await;
    }
    store.close().await;
    r.map_err(|e| match e {
        Error::Store(_) | Error::Internal(_) => say(e),
        other => other.to_string(),
    })
}

/// The passphrase of `berth restore`: the first line of the file, else
/// `BERTH_BACKUP_PASSPHRASE`, else asked on the terminal.
pub fn read_passphrase(file: Option<&Path>) -> std::result::Result<String, String> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| format!("cannot read --passphrase-file {}: {e}", f.display()))?;
        return Ok(text.lines().next().unwrap_or("").to_string());
    }
    if let Ok(p) = std::env::var("BERTH_BACKUP_PASSPHRASE")
        && !p.is_empty()
    {
        return Ok(p);
    }
    eprint!("Passphrase of the backup: ");
    let _ = std::io::stderr().flush();
    let echo = terminal_echo(false);
    let mut line = String::new();
    let read = std::io::stdin().read_line(&mut line);
    if echo {
        terminal_echo(true);
        eprintln!();
    }
    read.map_err(|e| format!("cannot read the passphrase: {e}"))?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    if p.is_empty() {
        return Err(
            "no passphrase given (--passphrase-file, BERTH_BACKUP_PASSPHRASE or the prompt)".into(),
        );
    }
    Ok(p)
}

/// Turns the terminal's echo of standard input off or on; true when stdin is a terminal.
#[cfg(unix)]
fn terminal_echo(on: bool) -> bool {
    // SAFETY: tcgetattr/tcsetattr on fd 0 with a zeroed termios that tcgetattr fills.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(0, &mut t) != 0 {
            return false;
        }
        if on {
            t.c_lflag |= libc::ECHO;
        } else {
            t.c_lflag &= !libc::ECHO;
        }
        libc::tcsetattr(0, libc::TCSANOW, &t) == 0
    }
}

#[cfg(not(unix))]
fn terminal_echo(_on: bool) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrases_and_names() {
        assert!(check_passphrase("short").is_err());
        assert!(check_passphrase("twelve chars").is_ok());
        assert!(check_passphrase(&"x".repeat(MAX_PASSPHRASE + 1)).is_err());
        assert_eq!(
            file_name(1_796_549_415),
            "berth-backup-2026-12-06T0930Z.age"
        );
    }
}
