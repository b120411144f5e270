//! Container registries: the ones an administrator adds (with credentials sealed at rest),
//! browsing their catalog and tags, the credentials a pull or push of a reference uses, and
//! "update available" for the images containers run.

pub mod client;
pub mod reference;
pub mod secret;
pub mod updates;

use bollard::auth::DockerCredentials;
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use crate::AppState;
use crate::error::{Error, Result};
use crate::ops::{Actor, AuditAction, outcome, record};
use client::{Client, Login, Ping, TagInfo};
use reference::{DOCKER_HUB, ImageRef, is_loopback, normalise_host};
use secret::Sealer;

/// A registry as lists and the API show it: never its password.
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct Registry {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub scheme: String,
    pub username: String,
    #[sqlx(rename = "has_password")]
    pub has_password: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Add or edit. On edit, an empty or absent password keeps the stored one.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RegistryForm {
    #[serde(default)]
    pub name: String,
    /// The registry's address: `registry.example.com`, `https://…`, `localhost:5000`.
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
    /// Edit only: forget the stored user name and password.
    #[serde(default, deserialize_with = "crate::input::flag")]
    pub clear_credentials: bool,
}

const COLUMNS: &str =
    "id, name, host, scheme, username, secret IS NOT NULL AS has_password, created_at, updated_at";

pub async fn list(state: &AppState) -> Result<Vec<Registry>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM registries ORDER BY name"))
            .fetch_all(state.store.pool())
            .await?,
    )
}

pub async fn get(state: &AppState, id: i64) -> Result<Registry> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM registries WHERE id = ?"))
        .bind(id)
        .fetch_optional(state.store.pool())
        .await?
        .ok_or_else(|| Error::NotFound(format!("No registry {id}.")))
}

struct Checked {
    name: String,
    host: String,
    scheme: &'static str,
    username: String,
}

fn check(f: &RegistryForm) -> Result<Checked> {
    let (host, scheme) = normalise_host(&f.url)?;
    let scheme = scheme.unwrap_or(if is_loopback(&host) { "http" } else { "https" });
    if scheme == "http" && !is_loopback(&host) {
        return Err(Error::invalid(
            "url",
            "Plain http is for registries on this machine (localhost, 127.0.0.1) only, as the engine allows; give https://.",
        ));
    }
    let name = if f.name.trim().is_empty() {
        host.clone()
    } else {
        f.name.trim().to_string()
    };
    if name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "A registry's name has at most 64 characters, on one line.",
        ));
    }
    let username = f.username.trim().to_string();
    if username.chars().count() > 256 || username.chars().any(char::is_control) {
        return Err(Error::invalid(
            "username",
            "The user name has at most 256 characters, on one line.",
        ));
    }
    if f.password.as_deref().is_some_and(|p| p.len() > 4096) {
        return Err(Error::invalid(
            "password",
            "The password or token has at most 4096 bytes.",
        ));
    }
    Ok(Checked {
        name,
        host,
        scheme,
        username,
    })
}

fn sealer(state: &AppState) -> Result<Sealer> {
    Sealer::open(&state.config.data)
}

fn conflict(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.message().contains("UNIQUE") => Error::Conflict {
            field: if d.message().contains("registries.name") {
                "name"
            } else {
                "url"
            },
            message: "A registry with this name or address is already there.".into(),
        },
        _ => Error::Store(e),
    }
}

/// Adds a registry (admin); one audit row.
pub async fn add(state: &AppState, actor: &Actor, f: &RegistryForm) -> Result<Registry> {
    let r = add_inner(state, f).await;
    let target = r
        .as_ref()
        .map(|r| r.host.clone())
        .unwrap_or_else(|_| f.url.trim().chars().take(200).collect());
    record(
        state,
        None,
        actor,
        AuditAction::RegistryCreate,
        Some(&target),
        &outcome(&r),
    )
    .await;
    r
}

async fn add_inner(state: &AppState, f: &RegistryForm) -> Result<Registry> {
    let c = check(f)?;
    let secret = match f.password.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => Some(sealer(state)?.seal(p)?),
        None => None,
    };
    let now = crate::store::now();
    let id: (i64,) = sqlx::query_as(
        "INSERT INTO registries (name, host, scheme, username, secret, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&c.name)
    .bind(&c.host)
    .bind(c.scheme)
    .bind(&c.username)
    .bind(secret)
    .bind(now)
    .bind(now)
    .fetch_one(state.store.pool())
    .await
    .map_err(conflict)?;
    get(state, id.0).await
}

/// Edits a registry (admin); an absent password keeps the stored one. One audit row.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: i64,
    f: &RegistryForm,
) -> Result<Registry> {
    let r = update_inner(state, id, f).await;
    let target = match &r {
        Ok(r) => r.host.clone(),
        Err(_) => id.to_string(),
    };
    record(
        state,
        None,
        actor,
        AuditAction::RegistryUpdate,
        Some(&target),
        &outcome(&r),
    )
    .await;
    r
}

async fn update_inner(state: &AppState, id: i64, f: &RegistryForm) -> Result<Registry> {
    get(state, id).await?;
    let c = check(f)?;
    let clear = f.clear_credentials;
    let pool = state.store.pool();
    let now = crate::store::now();
    sqlx::query(
        "UPDATE registries SET name = ?, host = ?, scheme = ?, updated_at = ? WHERE id = ?",
    )
    .bind(&c.name)
    .bind(&c.host)
    .bind(c.scheme)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await
    .map_err(conflict)?;
    if clear {
        sqlx::query("UPDATE registries SET username = '', secret = NULL WHERE id = ?")
            .bind(id)
            .execute(pool)
            .await?;
    } else {
        sqlx::query("UPDATE registries SET username = ? WHERE id = ?")
            .bind(&c.username)
            .bind(id)
            .execute(pool)
            .await?;
        if let Some(p) = f.password.as_deref().filter(|p| !p.is_empty()) {
            sqlx::query("UPDATE registries SET secret = ? WHERE id = ?")
                .bind(sealer(state)?.seal(p)?)
                .bind(id)
                .execute(pool)
                .await?;
        }
    }
    get(state, id).await
}

/// Removes a registry (admin). One audit row.
pub async fn remove(state: &AppState, actor: &Actor, id: i64) -> Result<()> {
    let r = async {
        let reg = get(state, id).await?;
        sqlx::query("DELETE FROM registries WHERE id = ?")
            .bind(id)
            .execute(state.store.pool())
            .await?;
        Ok::<_, Error>(reg.host)
    }
    .await;
    let target = r.as_ref().cloned().unwrap_or_else(|_| id.to_string());
    record(
        state,
        None,
        actor,
        AuditAction::RegistryRemove,
        Some(&target),
        &outcome(&r),
    )
    .await;
    r.map(|_| ())
}

async fn login_of(state: &AppState, id: i64) -> Result<Option<Login>> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT username, secret FROM registries WHERE id = ?")
            .bind(id)
            .fetch_optional(state.store.pool())
            .await?;
    let Some((username, secret)) = row else {
        return Err(Error::NotFound(format!("No registry {id}.")));
    };
    if username.is_empty() {
        return Ok(None);
    }
    let password = match secret {
        Some(s) => sealer(state)?.unseal(&s)?,
        None => String::new(),
    };
    Ok(Some(Login { username, password }))
}

/// A client of a stored registry, with its credentials.
pub async fn client(state: &AppState, id: i64) -> Result<(Registry, Client)> {
    let reg = get(state, id).await?;
    let login = login_of(state, id).await?;
    let c = Client::new(&reg.host, &reg.scheme, login)?;
    Ok((reg, c))
}

/// A client for the registry of `r`: the stored one (with its credentials) when its host is
/// stored, else anonymous (http for loopback hosts, as the engine does).
pub async fn client_for(state: &AppState, r: &ImageRef) -> Result<Client> {
    match stored_for(state, &r.domain).await? {
        Some(reg) => Ok(client(state, reg.id).await?.1),
        None => {
            let scheme = if is_loopback(&r.domain) {
                "http"
            } else {
                "https"
            };
            Client::new(&r.domain, scheme, None)
        }
    }
}

async fn stored_for(state: &AppState, domain: &str) -> Result<Option<Registry>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM registries WHERE host = ?"))
            .bind(domain)
            .fetch_optional(state.store.pool())
            .await?,
    )
}

/// The credentials the engine gets for a pull or push of `reference`: the stored registry whose
/// host the reference names (Docker Hub for names without a host), if it has any.
pub async fn credentials_for(
    state: &AppState,
    reference: &str,
) -> Result<Option<DockerCredentials>> {
    let Ok(r) = ImageRef::parse(reference) else {
        return Ok(None);
    };
    let Some(reg) = stored_for(state, &r.domain).await? else {
        return Ok(None);
    };
    let Some(login) = login_of(state, reg.id).await? else {
        return Ok(None);
    };
    let serveraddress = if reg.host == DOCKER_HUB {
        "https://index.docker.io/v1/".to_string()
    } else {
        reg.host.clone()
    };
    Ok(Some(DockerCredentials {
        username: Some(login.username),
        password: Some(login.password),
        serveraddress: Some(serveraddress),
        ..Default::default()
    }))
}

/// The `/v2/` ping with the stored credentials.
pub async fn test(state: &AppState, id: i64) -> Result<Ping> {
    client(state, id).await?.1.ping().await
}

/// One page of repositories.
pub async fn repositories(
    state: &AppState,
    id: i64,
    last: Option<&str>,
) -> Result<(Vec<String>, Option<String>)> {
    client(state, id).await?.1.catalog(100, last).await
}

/// The tags of a repository with digest, size, created time and platforms (first 100 tags;
/// each read on its own, a tag that fails says why and the rest go on).
pub async fn tags(state: &AppState, id: i64, repo: &str) -> Result<Vec<TagInfo>> {
    use futures_util::StreamExt;
    let repo = repo.trim().trim_matches('/');
    if repo.is_empty()
        || !repo
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
    {
        return Err(Error::invalid("repo", "Name a repository, e.g. team/app."));
    }
    let (_, c) = client(state, id).await?;
    let names = c.tags(repo).await?;
    let c = &c;
    let infos = futures_util::stream::iter(names.into_iter().take(100))
        .map(|t| async move {
            match c.tag_info(repo, &t).await {
                Ok(i) => i,
                Err(e) => TagInfo {
                    tag: t,
                    digest: None,
                    media_type: String::new(),
                    size: None,
                    created: None,
                    platforms: Vec::new(),
                    error: Some(e.public_message()),
                },
            }
        })
        .buffered(4)
        .collect()
        .await;
    Ok(infos)
}
