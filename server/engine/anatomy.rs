//! What a container is made of, asked of the engine when a tab is opened: its processes (`top`,
//! PIDs as the host sees them) and its writable layer's changes.

use bollard::models::ChangeType;
use serde::Serialize;

use super::Mirror;
use super::containers;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct Top {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
    /// False when the PIDs are not the host's: a Hyper-V isolated container's processes run
    /// in its utility VM.
    pub host_pids: bool,
}

/// The engine's `top`: on Linux `ps -ef` run by the engine on the host, so the PIDs are host PIDs.
pub async fn top(m: &Mirror, key: &str) -> Result<Top> {
    let c = containers::inspect(m, key).await?;
    let id = c.id.unwrap_or_default();
    let running = c.state.and_then(|s| s.running).unwrap_or(false);
    let hyperv = super::windows::on_windows(m) && {
        let own = c
            .host_config
            .as_ref()
            .and_then(|h| h.isolation.as_ref())
            .map(|i| i.to_string())
            .unwrap_or_default();
        let (daemon, _) = super::windows::host_facts(m);
        super::windows::Isolation::effective(&own, &daemon) == super::windows::Isolation::HyperV
    };
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
        host_pids: !hyperv,
    })
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
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
    let running = c.state.and_then(|s| s.running).unwrap_or(false);
    if running && super::windows::on_windows(m) {
        // The engine's own refusal, said before asking it.
        return Err(super::windows::refusal(Error::EngineRefused {
            status: 500,
            message: "Windows does not support diff of a running container".into(),
        }));
    }
    let list = m
        .docker()?
        .container_changes(&id)
        .await
        .map_err(|e| super::windows::refusal(m.err(e)))?
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
