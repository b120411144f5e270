//! A volume's files, read (and written) through the engine alone: a helper container that is
//! never started mounts the volume, the archive API lists and copies, and the helper is removed
//! afterwards, also when something fails. No agent, no access to the host's folders.
//!
//! Paths are the volume's own (`/` is its root). `..`, drive letters, backslashes and NUL are
//! refused; every folder on the way is asked of the engine, and one that is a link pointing
//! out of the volume is refused too (the engine would follow it into the helper's root).

use std::collections::{BTreeMap, HashMap};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    ContainerArchiveInfoOptions, CreateContainerOptions, DownloadFromContainerOptions,
    RemoveContainerOptions, UploadToContainerOptions,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Serialize;

use super::Mirror;
use super::tar;
use crate::error::{Error, Result};

/// The label every helper carries, so that strays are recognisable (and removable).
pub const HELPER_LABEL: (&str, &str) = ("berth.helper", "volume-browser");

/// Where the volume is mounted in the helper.
const ROOT: &str = "/berth-volume";

/// A path inside a volume, as components (empty = the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolPath(pub Vec<String>);

impl VolPath {
    /// Normalises a user's path; a path that would leave the volume is a 400.
    pub fn parse(text: &str) -> Result<VolPath> {
        let escape =
            |why: &str| Error::BadRequest(format!("`{text}` {why}: paths stay inside the volume."));
        if text.contains('\0') {
            return Err(escape("holds a NUL byte"));
        }
        if text.contains('\\') {
            return Err(escape("holds a backslash"));
        }
        if text.len() >= 2 && text.as_bytes()[1] == b':' {
            return Err(escape("names a drive"));
        }
        let mut parts = Vec::new();
        for c in text.split('/') {
            match c {
                "" | "." => {}
                ".." => return Err(escape("climbs out with `..`")),
                other => parts.push(other.to_string()),
            }
        }
        Ok(VolPath(parts))
    }

    pub fn display(&self) -> String {
        format!("/{}", self.0.join("/"))
    }

    /// The path in the helper container.
    fn in_helper(&self) -> String {
        if self.0.is_empty() {
            ROOT.to_string()
        } else {
            format!("{ROOT}/{}", self.0.join("/"))
        }
    }

    pub fn parent(&self) -> Option<VolPath> {
        (!self.0.is_empty()).then(|| VolPath(self.0[..self.0.len() - 1].to_vec()))
    }

    pub fn join(&self, name: &str) -> VolPath {
        let mut p = self.0.clone();
        p.push(name.to_string());
        VolPath(p)
    }

    pub fn name(&self) -> &str {
        self.0.last().map(String::as_str).unwrap_or("")
    }
}

/// Whether a resolved helper path is inside the volume.
fn inside(resolved: &str) -> bool {
    resolved == ROOT || resolved.starts_with(&format!("{ROOT}/"))
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FileEntry {
    pub name: String,
    /// file, dir or link
    pub kind: &'static str,
    /// Bytes; for a folder, the bytes of the files below it.
    pub size: u64,
    /// Permission bits in octal, e.g. "0644".
    pub mode: String,
    /// As `ls -l` shows them, e.g. "drwxr-xr-x".
    pub perms: String,
    pub mtime: i64,
    /// Where a link points (as stored in the link).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub link_target: String,
}

fn perms(kind: &str, mode: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push(match kind {
        "dir" => 'd',
        "link" => 'l',
        _ => '-',
    });
    for shift in [6, 3, 0] {
        let b = (mode >> shift) & 7;
        s.push(if b & 4 != 0 { 'r' } else { '-' });
        s.push(if b & 2 != 0 { 'w' } else { '-' });
        s.push(if b & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// The image to build helpers from: Berth's own when it runs in a container on this engine,
/// else the smallest image present.
async fn helper_image(m: &Mirror) -> Result<String> {
    if let Some(own) = own_image(m).await {
        return Ok(own);
    }
    m.read(|s| {
        let mut imgs: Vec<_> = s.images.values().collect();
        imgs.sort_by_key(|i| (i.tags.is_empty(), i.size));
        imgs.first().map(|i| i.id.clone())
    })
    .ok_or_else(|| Error::Conflict {
        field: "image",
        message: "This engine has no image to make the volume helper from: load or pull any image \
                  (a small one such as busybox does) and try again."
            .into(),
    })
}

/// Berth's own container's image, when Berth runs in a container of this engine: its id from
/// /proc/self/cgroup (cgroup v1) or the hostname (the container id's first 12 digits).
async fn own_image(m: &Mirror) -> Option<String> {
    let mut candidates = Vec::new();
    if let Ok(cg) = std::fs::read_to_string("/proc/self/cgroup") {
        for seg in cg.split(['/', '\n', ':', '-', '.']) {
            if seg.len() == 64 && seg.chars().all(|c| c.is_ascii_hexdigit()) {
                candidates.push(seg.to_string());
            }
        }
    }
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        let h = h.trim();
        if h.len() == 12 && h.chars().all(|c| c.is_ascii_hexdigit()) {
            candidates.push(h.to_string());
        }
    }
    let d = m.docker().ok()?;
    for c in candidates {
        // The mirror knows the containers: ask the engine only about one that exists there.
        let known = m.read(|s| {
            s.containers
                .values()
                .find(|x| x.id.starts_with(&c))
                .map(|x| x.id.clone())
        });
        if let Some(id) = known
            && let Ok(i) = d.inspect_container(&id, None).await
            && let Some(img) = i.image
        {
            return Some(img);
        }
    }
    None
}

/// A created (never started) helper container, removed by [`Helper::remove`], or in the
/// background when dropped without it.
pub struct Helper {
    docker: Docker,
    pub id: String,
    removed: bool,
}

impl Helper {
    pub async fn create(m: &Mirror, volume: &str, writable: bool) -> Result<Helper> {
        if super::windows::on_windows(m) {
            return Err(Error::Conflict {
                field: "volume",
                message: super::windows::NO_VOLUME_ARCHIVE.into(),
            });
        }
        if !m.read(|s| s.volumes.contains_key(volume)) {
            // The mirror may lag a fresh volume: ask the engine before saying no.
            m.docker()?
                .inspect_volume(volume)
                .await
                .map_err(|e| match m.err(e) {
                    Error::EngineRefused { status: 404, .. } => {
                        Error::NotFound(format!("No volume `{volume}` on this engine."))
                    }
                    other => other,
                })?;
        }
        let image = helper_image(m).await?;
        let docker = m.docker()?.clone();
        let labels = HashMap::from([
            (HELPER_LABEL.0.to_string(), HELPER_LABEL.1.to_string()),
            ("berth.volume".to_string(), volume.to_string()),
        ]);
        let body = ContainerCreateBody {
            image: Some(image),
            // Never started: the command only has to exist for the engine to accept it.
            entrypoint: Some(vec!["/berth-volume-helper".into()]),
            labels: Some(labels),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                mounts: Some(vec![Mount {
                    target: Some(ROOT.into()),
                    source: Some(volume.into()),
                    typ: Some(MountType::VOLUME),
                    read_only: Some(!writable),
                    ..Default::default()
                }]),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .map_err(|e| m.err(e))?;
        Ok(Helper {
            docker,
            id: r.id,
            removed: false,
        })
    }

    pub async fn remove(mut self) {
        self.removed = true;
        remove_helper(&self.docker, &self.id).await;
    }

    /// The engine's stat of a path; 404 becomes a clear "not found".
    async fn stat(&self, m: &Mirror, p: &VolPath) -> Result<bollard::container::PathStatResponse> {
        self.docker
            .get_container_archive_info(
                &self.id,
                Some(ContainerArchiveInfoOptions {
                    path: p.in_helper(),
                }),
            )
            .await
            .map_err(|e| match m.err(e) {
                Error::EngineRefused { status: 404, .. } => {
                    Error::NotFound(format!("No `{}` in this volume.", p.display()))
                }
                other => other,
            })
    }

    /// Checks every component of `p`; returns the helper path to use (a link inside the volume
    /// is followed) and whether it is a folder.
    pub async fn resolve(&self, m: &Mirror, p: &VolPath) -> Result<(String, bool)> {
        let mut at = VolPath(Vec::new());
        let mut last = None;
        for c in &p.0 {
            at = at.join(c);
            let st = self.stat(m, &at).await?;
            if !st.link_target.is_empty() && !inside(&st.link_target) {
                return Err(Error::BadRequest(format!(
                    "`{}` is a link pointing out of the volume: paths stay inside the volume.",
                    at.display()
                )));
            }
            last = Some(st);
        }
        match last {
            None => Ok((ROOT.to_string(), true)),
            Some(st) => {
                let path = if st.link_target.is_empty() {
                    p.in_helper()
                } else {
                    st.link_target.clone()
                };
                let mut is_dir = st.file_mode & (1 << 31) != 0;
                if !st.link_target.is_empty() {
                    // Stat of a link describes the link: look at what it points to.
                    let target = self
                        .docker
                        .get_container_archive_info(
                            &self.id,
                            Some(ContainerArchiveInfoOptions { path: path.clone() }),
                        )
                        .await
                        .map_err(|e| m.err(e))?;
                    if !target.link_target.is_empty() && !inside(&target.link_target) {
                        return Err(Error::BadRequest(format!(
                            "`{}` is a link pointing out of the volume: paths stay inside the volume.",
                            p.display()
                        )));
                    }
                    is_dir = target.file_mode & (1 << 31) != 0;
                }
                Ok((path, is_dir))
            }
        }
    }

    fn download(
        &self,
        path: &str,
    ) -> impl Stream<Item = std::result::Result<Bytes, bollard::errors::Error>> + use<> {
        self.docker.download_from_container(
            &self.id,
            Some(DownloadFromContainerOptions {
                path: path.to_string(),
            }),
        )
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let docker = self.docker.clone();
        let id = self.id.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { remove_helper(&docker, &id).await });
        }
    }
}

async fn remove_helper(docker: &Docker, id: &str) {
    let r = docker
        .remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                v: false,
                link: false,
            }),
        )
        .await;
    if let Err(e) = r {
        tracing::warn!(helper = %id, error = %e, "removing a volume helper failed");
    }
}

/// The folder `path` of a volume: one entry per name, folders first.
pub async fn list(m: &Mirror, volume: &str, path: &str) -> Result<Vec<FileEntry>> {
    let p = VolPath::parse(path)?;
    let helper = Helper::create(m, volume, false).await?;
    let r = list_with(m, &helper, &p).await;
    helper.remove().await;
    r
}

async fn list_with(m: &Mirror, helper: &Helper, p: &VolPath) -> Result<Vec<FileEntry>> {
    let (at, is_dir) = helper.resolve(m, p).await?;
    if !is_dir {
        return Err(Error::invalid(
            "path",
            format!(
                "`{}` is a file, not a folder: download it instead.",
                p.display()
            ),
        ));
    }
    // Entries come as `<folder name>/…`.
    let mut stream = helper.download(&at);
    let mut reader = tar::Reader::new();
    let mut entries: BTreeMap<String, FileEntry> = BTreeMap::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| m.err(e))?;
        let got = reader
            .push(&chunk)
            .map_err(|e| Error::internal(format!("volume archive: {e}")))?;
        for e in got {
            // Names are under the folder's own name: drop that first part.
            let rel: Vec<&str> = e
                .path
                .split('/')
                .filter(|s| !s.is_empty())
                .skip(1)
                .collect();
            let Some(first) = rel.first() else { continue };
            if rel.len() == 1 {
                let kind = match e.kind {
                    tar::Kind::Dir => "dir",
                    tar::Kind::Link => "link",
                    _ => "file",
                };
                let mode = e.mode & 0o7777;
                let size = entries.get(*first).map(|x| x.size).unwrap_or(0)
                    + if kind == "file" { e.size } else { 0 };
                entries.insert(
                    first.to_string(),
                    FileEntry {
                        name: first.to_string(),
                        kind,
                        size,
                        mode: format!("{mode:04o}"),
                        perms: perms(kind, mode),
                        mtime: e.mtime,
                        link_target: e.link_target,
                    },
                );
            } else if e.kind == tar::Kind::File {
                // Below a folder: count its bytes toward the folder.
                let d = entries
                    .entry(first.to_string())
                    .or_insert_with(|| FileEntry {
                        name: first.to_string(),
                        kind: "dir",
                        size: 0,
                        mode: "0755".into(),
                        perms: perms("dir", 0o755),
                        mtime: 0,
                        link_target: String::new(),
                    });
                d.size += e.size;
            }
        }
    }
    let mut out: Vec<FileEntry> = entries.into_values().collect();
    out.sort_by(|a, b| (a.kind != "dir", &a.name).cmp(&(b.kind != "dir", &b.name)));
    Ok(out)
}

/// A file or folder of a volume as a tar stream; the helper goes when the stream ends.
pub async fn download(
    m: &Mirror,
    volume: &str,
    path: &str,
) -> Result<(String, impl Stream<Item = std::io::Result<Bytes>> + use<>)> {
    let p = VolPath::parse(path)?;
    let helper = Helper::create(m, volume, false).await?;
    let (at, _) = match helper.resolve(m, &p).await {
        Ok(x) => x,
        Err(e) => {
            helper.remove().await;
            return Err(e);
        }
    };
    let name = if p.0.is_empty() {
        volume.to_string()
    } else {
        format!("{volume}-{}", p.name())
    };
    let inner = helper.download(&at);
    let stream = async_stream::stream! {
        let helper = helper;
        let mut inner = std::pin::pin!(inner);
        while let Some(chunk) = inner.next().await {
            match chunk {
                Ok(b) => yield Ok(b),
                Err(e) => {
                    yield Err(std::io::Error::other(e.to_string()));
                    break;
                }
            }
        }
        helper.remove().await;
    };
    Ok((safe_file_name(&name), stream))
}

/// A name fit for a Content-Disposition header.
pub fn safe_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes one file into a folder of a volume.
pub async fn upload(m: &Mirror, volume: &str, dir: &str, name: &str, data: Bytes) -> Result<()> {
    let p = VolPath::parse(dir)?;
    let name = name.trim();
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(Error::invalid(
            "name",
            format!("`{name}` is not a file name (no slashes, not . or ..)."),
        ));
    }
    let helper = Helper::create(m, volume, true).await?;
    let r = async {
        let (at, is_dir) = helper.resolve(m, &p).await?;
        if !is_dir {
            return Err(Error::invalid(
                "path",
                format!("`{}` is not a folder.", p.display()),
            ));
        }
        let tar = tar::archive(&[(name, &data)]);
        helper
            .docker
            .upload_to_container(
                &helper.id,
                Some(UploadToContainerOptions {
                    path: at,
                    ..Default::default()
                }),
                bollard::body_full(tar),
            )
            .await
            .map_err(|e| m.err(e))
    }
    .await;
    helper.remove().await;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside() {
        assert_eq!(VolPath::parse("/").unwrap().0, Vec::<String>::new());
        assert_eq!(VolPath::parse("").unwrap().0, Vec::<String>::new());
        assert_eq!(VolPath::parse("/a/./b/").unwrap().0, vec!["a", "b"]);
        assert_eq!(VolPath::parse("a//b").unwrap().display(), "/a/b");
        for bad in [
            "..",
            "/../etc",
            "/a/../../b",
            "a/..",
            "C:/Windows",
            "a\\..\\b",
            "a\0b",
        ] {
            let e = VolPath::parse(bad).unwrap_err();
            assert_eq!(e.status(), 400, "{bad}");
        }
        assert!(inside("/berth-volume"));
        assert!(inside("/berth-volume/x"));
        assert!(!inside("/berth-volumex"));
        assert!(!inside("/etc"));
    }

    #[test]
    fn perms_like_ls() {
        assert_eq!(perms("dir", 0o755), "drwxr-xr-x");
        assert_eq!(perms("file", 0o640), "-rw-r-----");
    }
}
