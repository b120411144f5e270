//! What a container is made of, asked of the engine when a tab is opened: its processes (`top`,
//! PIDs as the host sees them) and its writable layer's changes.

use bollard::models::ChangeType;
use serde::Serialize;

use super::Mirror;
use super::containers;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Default)]
pub struct Top {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// The engine's `top`: on Linux `ps -ef` run by the engine on the host, so the PIDs are host PIDs.
pub async fn top(m: &Mirror, key: &str) -> Result<Top> {
    let c = containers::inspect(m, key).await?;
    let id = c.id.unwrap_or_default();
    let running = c.state.and_then(|s| s.running).unwrap_or(false);
    if !running {
        return Err(Error::Conflict {
            field: "state",
            message: "The container is not running: it has no processes.".into(),
        });
    }
    let t = m
        .docker()?
        .top_processes(&id, None::<bollard::query_parameters::TopOptions>)
        .await
        .map_err(|e| m.err(e))?;
    Ok(Top {
        titles: t.titles.unwrap_or_default(),
        processes: t.processes.unwrap_or_default(),
    })
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    pub path: String,
    /// added, changed, deleted
    pub kind: &'static str,
}

pub fn kind_name(k: &ChangeType) -> &'static str {
    match k {
        ChangeType::_0 => "changed",
        ChangeType::_1 => "added",
        ChangeType::_2 => "deleted",
    }
}

/// The writable layer's added / changed / deleted paths, sorted by path.
pub async fn changes(m: &Mirror, key: &str) -> Result<Vec<Change>> {
    let c = containers::inspect(m, key).await?;
    let id = c.id.unwrap_or_default();
    let list = m
        .docker()?
        .container_changes(&id)
        .await
        .map_err(|e| m.err(e))?
        .unwrap_or_default();
    let mut out: Vec<Change> = list
        .into_iter()
        .map(|ch| Change {
            kind: kind_name(&ch.kind),
            path: ch.path,
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
