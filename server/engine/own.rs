//! Berth's own container and its data volume: their files hold `berth.db` and the TLS client
//! keys of every remote endpoint (root on those hosts), so nobody browses, downloads or uploads
//! them through Berth — whatever their role.
//!
//! The container is found from this process's mount table (the engine bind-mounts
//! `/var/lib/docker/containers/<id>/hostname` and friends into every container); the volume is
//! whichever of that container's volume mounts holds the data folder, read from the engine.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use crate::engine::Mirror;
use crate::error::{Error, Result};

/// Who Berth itself is on the engine.
#[derive(Debug)]
pub struct Own {
    container: RwLock<Option<String>>,
    data: PathBuf,
}

pub const OWN_CONTAINER: &str = "This is Berth's own container: its files hold Berth's database and \
     the TLS keys of every endpoint, so Berth does not show, serve or change them for anyone.";

pub const OWN_VOLUME: &str = "This volume holds Berth's own data folder (its database and the TLS \
     keys of every endpoint), so Berth does not show, serve or change its files for anyone.";

impl Own {
    /// Reads this process's container id (None outside a container).
    pub fn detect(data: &Path) -> Self {
        let id = std::fs::read_to_string("/proc/self/mountinfo")
            .ok()
            .and_then(|t| container_id_from_mountinfo(&t));
        if let Some(id) = &id {
            tracing::info!(container = %&id[..12], "Berth runs in a container: its files and data volume are not browsable");
        }
        Own {
            container: RwLock::new(id),
            data: data.to_path_buf(),
        }
    }

    /// Sets the container id (tests: a container of their own stands in for Berth's).
    pub fn set_container(&self, id: Option<String>) {
        *self.container.write().unwrap_or_else(|p| p.into_inner()) = id;
    }

    pub fn container(&self) -> Option<String> {
        self.container
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Refuses Berth's own container (by full or short id).
    pub fn check_container(&self, id: &str) -> Result<()> {
        match self.container() {
            Some(own) if same_id(&own, id) => Err(Error::Forbidden(OWN_CONTAINER.into())),
            _ => Ok(()),
        }
    }

    /// Refuses the volume that holds Berth's data folder on this engine.
    pub async fn check_volume(&self, ep: &Mirror, name: &str) -> Result<()> {
        let Some(own) = self.container() else {
            return Ok(());
        };
        let Ok(docker) = ep.docker() else {
            return Ok(());
        };
        // Not on this engine: no data volume of Berth's here.
        let Ok(c) = docker.inspect_container(&own, None).await else {
            return Ok(());
        };
        let data = absolute(&self.data);
        let holds_data = c.mounts.unwrap_or_default().into_iter().any(|m| {
            m.name.as_deref() == Some(name)
                && m.destination
                    .as_deref()
                    .is_some_and(|d| data.starts_with(Path::new(d)))
        });
        if holds_data {
            Err(Error::Forbidden(OWN_VOLUME.into()))
        } else {
            Ok(())
        }
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

/// Whether two container ids (full or at least 12 hex digits) name the same container.
fn same_id(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.len() >= 12 && long.starts_with(short)
}

/// The 64-hex container id in a mount table line like
/// `… /var/lib/docker/containers/<id>/hostname /etc/hostname …`.
pub fn container_id_from_mountinfo(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (_, rest) = line.split_once("/containers/")?;
        let id: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        (id.len() == 64 && rest[64..].starts_with('/')).then_some(id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_container_id_in_the_mount_table() {
        let id = "0123456789abcdef".repeat(4);
        let text = format!(
            "100 90 0:50 / / rw master:1 - overlay overlay rw\n\
             200 100 8:1 /var/lib/docker/containers/{id}/hostname /etc/hostname rw - ext4 /dev/sda1 rw\n"
        );
        assert_eq!(container_id_from_mountinfo(&text), Some(id));
        assert_eq!(
            container_id_from_mountinfo("1 2 0:1 / / rw - ext4 /dev/sda1 rw\n"),
            None
        );
        assert_eq!(
            container_id_from_mountinfo("1 2 8:1 /containers/abc/hostname /etc/hostname"),
            None
        );
    }

    #[test]
    fn ids_match_short_or_long() {
        let id = "0123456789abcdef".repeat(4);
        assert!(same_id(&id, &id[..12]));
        assert!(!same_id(&id, &id[..5]));
        let own = Own {
            container: RwLock::new(Some(id.clone())),
            data: PathBuf::from("/data"),
        };
        assert!(own.check_container(&id).is_err());
        assert!(own.check_container(&"f".repeat(64)).is_ok());
    }
}
