//! Stack files and their versions in SQLite, per endpoint.

use serde::Serialize;
use sqlx::{FromRow, SqlitePool};

use crate::error::Result;

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Version {
    pub version: i64,
    pub compose: String,
    pub env: String,
    pub deployed_by: Option<String>,
    pub deployed_at: i64,
}

pub async fn names(pool: &SqlitePool, endpoint_id: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM stacks WHERE endpoint_id = ? ORDER BY name")
            .bind(endpoint_id)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Every version, newest first.
pub async fn versions(pool: &SqlitePool, endpoint_id: i64, name: &str) -> Result<Vec<Version>> {
    Ok(sqlx::query_as(
        "SELECT v.version, v.compose, v.env, v.deployed_by, v.deployed_at
           FROM stack_versions v JOIN stacks s ON s.id = v.stack_id
          WHERE s.endpoint_id = ? AND s.name = ?
          ORDER BY v.version DESC",
    )
    .bind(endpoint_id)
    .bind(name)
    .fetch_all(pool)
    .await?)
}

pub async fn latest(pool: &SqlitePool, endpoint_id: i64, name: &str) -> Result<Option<Version>> {
    Ok(sqlx::query_as(
        "SELECT v.version, v.compose, v.env, v.deployed_by, v.deployed_at
           FROM stack_versions v JOIN stacks s ON s.id = v.stack_id
          WHERE s.endpoint_id = ? AND s.name = ?
          ORDER BY v.version DESC LIMIT 1",
    )
    .bind(endpoint_id)
    .bind(name)
    .fetch_optional(pool)
    .await?)
}

pub async fn version(
    pool: &SqlitePool,
    endpoint_id: i64,
    name: &str,
    version: i64,
) -> Result<Option<Version>> {
    Ok(sqlx::query_as(
        "SELECT v.version, v.compose, v.env, v.deployed_by, v.deployed_at
           FROM stack_versions v JOIN stacks s ON s.id = v.stack_id
          WHERE s.endpoint_id = ? AND s.name = ? AND v.version = ?",
    )
    .bind(endpoint_id)
    .bind(name)
    .bind(version)
    .fetch_optional(pool)
    .await?)
}

/// Records a deployed file as the stack's next version; returns its number.
pub async fn record(
    pool: &SqlitePool,
    endpoint_id: i64,
    name: &str,
    compose: &str,
    env: &str,
    username: &str,
) -> Result<i64> {
    let now = crate::store::now();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO stacks (endpoint_id, name, created_at, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (endpoint_id, name) DO UPDATE SET updated_at = excluded.updated_at",
    )
    .bind(endpoint_id)
    .bind(name)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM stacks WHERE endpoint_id = ? AND name = ?")
        .bind(endpoint_id)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
    let (next,): (i64,) = sqlx::query_as(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM stack_versions WHERE stack_id = ?",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO stack_versions (stack_id, version, compose, env, deployed_by, deployed_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(next)
    .bind(compose)
    .bind(env)
    .bind(username)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(next)
}

/// Forgets a stack and its versions (after `down`).
pub async fn forget(pool: &SqlitePool, endpoint_id: i64, name: &str) -> Result<()> {
    sqlx::query("DELETE FROM stacks WHERE endpoint_id = ? AND name = ?")
        .bind(endpoint_id)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(())
}
