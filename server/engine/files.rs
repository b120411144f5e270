//! A container's files through the engine's archive API (works for stopped containers too).
//!
//! Listing a folder: the engine only hands out a tar of the whole subtree, so Berth reads its
//! headers as they stream in, keeps the first level, skips file contents without keeping them,
//! and stops early — at [`MAX_ENTRIES`] children or after [`MAX_SCAN_BYTES`] of archive — saying
//! that the listing is incomplete. Downloads pass the tar stream through untouched. Uploads are
//! wrapped into a one-file tar.

use bollard::query_parameters::{
    ContainerArchiveInfoOptions, DownloadFromContainerOptions, UploadToContainerOptions,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Serialize;

use super::Mirror;
use super::containers;
use crate::error::{Error, Result};

/// Children listed at most.
pub const MAX_ENTRIES: usize = 5000;
/// Archive bytes read at most for one listing (file contents are skipped, but they stream by).
pub const MAX_SCAN_BYTES: u64 = 256 << 20;
/// Default upload limit.
pub const DEFAULT_UPLOAD_LIMIT: usize = 64 << 20;

/// `a/../b//c/.` → `/b/c`; never above the root. Backslashes count as separators (Windows).
pub fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split(['/', '\\']) {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The parent folder of a normalised path (`/` for `/`).
pub fn parent(path: &str) -> String {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/".into(),
        Some((p, _)) => p.to_string(),
    }
}

/// `dir` + `name`, normalised.
pub fn join(dir: &str, name: &str) -> String {
    normalise(&format!("{dir}/{name}"))
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Entry {
    pub name: String,
    /// file, dir, symlink, hardlink, char, block, fifo, other
    pub kind: &'static str,
    pub size: i64,
    /// Permission bits, e.g. `rwxr-xr-x`.
    pub mode: String,
    pub mtime: i64,
    /// Where a link points.
    pub link: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Listing {
    /// The folder listed (after following a link to it).
    pub path: String,
    /// The entry itself when the path is not a folder.
    pub file: Option<Entry>,
    pub entries: Vec<Entry>,
    /// Set when the listing stopped early: why.
    pub capped: Option<String>,
}

fn mode_text(mode: u32) -> String {
    let mut s = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let b = (mode >> shift) & 7;
        s.push(if b & 4 != 0 { 'r' } else { '-' });
        s.push(if b & 2 != 0 { 'w' } else { '-' });
        s.push(if b & 1 != 0 { 'x' } else { '-' });
    }
    s
}

// ---------- tar headers, read as the stream arrives ----------

/// One tar header as read, before the first-level filter.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEntry {
    pub name: String,
    pub typeflag: u8,
    pub size: u64,
    pub mode: u32,
    pub mtime: i64,
    pub link: String,
}

fn octal(field: &[u8]) -> u64 {
    // GNU base-256 for big numbers: high bit of the first byte set.
    if let Some(&first) = field.first()
        && first & 0x80 != 0
    {
        let mut v: u64 = (first & 0x7f) as u64;
        for &b in &field[1..] {
            v = (v << 8) | b as u64;
        }
        return v;
    }
    let s: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    u64::from_str_radix(s.trim(), 8).unwrap_or(0)
}

fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

enum State {
    Header,
    /// Skipping `n` bytes of content (and padding).
    Skip(u64),
    /// Reading `n` bytes of a GNU long name / PAX header into the buffer, then `pad` to skip.
    Meta {
        kind: u8,
        left: u64,
        pad: u64,
    },
}

/// Reads tar headers from chunks as they come; file contents are counted, never kept.
pub struct TarScanner {
    buf: Vec<u8>,
    state: State,
    meta: Vec<u8>,
    long_name: Option<String>,
    long_link: Option<String>,
    pax_path: Option<String>,
    pax_link: Option<String>,
    pax_size: Option<u64>,
    pub done: bool,
}

impl Default for TarScanner {
    fn default() -> Self {
        TarScanner {
            buf: Vec::with_capacity(512),
            state: State::Header,
            meta: Vec::new(),
            long_name: None,
            long_link: None,
            pax_path: None,
            pax_link: None,
            pax_size: None,
            done: false,
        }
    }
}

fn padded(n: u64) -> u64 {
    n.div_ceil(512) * 512
}

impl TarScanner {
    /// Feeds a chunk; calls `out` for each complete entry header.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut impl FnMut(RawEntry)) {
        while !chunk.is_empty() && !self.done {
            match &mut self.state {
                State::Skip(n) => {
                    let take = (*n).min(chunk.len() as u64) as usize;
                    *n -= take as u64;
                    chunk = &chunk[take..];
                    if *n == 0 {
                        self.state = State::Header;
                    }
                }
                State::Meta { kind, left, pad } => {
                    let take = (*left).min(chunk.len() as u64) as usize;
                    // Metadata is small; refuse to hold absurd amounts.
                    if self.meta.len() < 1 << 20 {
                        self.meta.extend_from_slice(&chunk[..take]);
                    }
                    *left -= take as u64;
                    chunk = &chunk[take..];
                    if *left == 0 {
                        let (kind, pad) = (*kind, *pad);
                        self.finish_meta(kind);
                        self.state = if pad > 0 {
                            State::Skip(pad)
                        } else {
                            State::Header
                        };
                    }
                }
                State::Header => {
                    let need = 512 - self.buf.len();
                    let take = need.min(chunk.len());
                    self.buf.extend_from_slice(&chunk[..take]);
                    chunk = &chunk[take..];
                    if self.buf.len() == 512 {
                        let h = std::mem::take(&mut self.buf);
                        self.header(&h, out);
                    }
                }
            }
        }
    }

    fn finish_meta(&mut self, kind: u8) {
        let data = std::mem::take(&mut self.meta);
        match kind {
            b'L' => self.long_name = Some(cstr(&data)),
            b'K' => self.long_link = Some(cstr(&data)),
            b'x' => {
                // Records: "<len> key=value\n".
                let mut rest = &data[..];
                while !rest.is_empty() {
                    let Some(sp) = rest.iter().position(|&b| b == b' ') else {
                        break;
                    };
                    let len: usize = std::str::from_utf8(&rest[..sp])
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    if len <= sp || len > rest.len() {
                        break;
                    }
                    let rec = &rest[sp + 1..len];
                    let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
                    if let Some(eq) = rec.iter().position(|&b| b == b'=') {
                        let key = &rec[..eq];
                        let val = String::from_utf8_lossy(&rec[eq + 1..]).into_owned();
                        match key {
                            b"path" => self.pax_path = Some(val),
                            b"linkpath" => self.pax_link = Some(val),
                            b"size" => self.pax_size = val.parse().ok(),
                            _ => {}
                        }
                    }
                    rest = &rest[len..];
                }
            }
            _ => {}
        }
    }

    fn header(&mut self, h: &[u8], out: &mut impl FnMut(RawEntry)) {
        if h.iter().all(|&b| b == 0) {
            // End of archive (two zero blocks; one is enough to stop).
            self.done = true;
            return;
        }
        let typeflag = h[156];
        let size = octal(&h[124..136]);
        match typeflag {
            b'L' | b'K' | b'x' => {
                self.state = State::Meta {
                    kind: typeflag,
                    left: size,
                    pad: padded(size) - size,
                };
                if size == 0 {
                    self.state = State::Header;
                }
                return;
            }
            b'g' => {
                self.state = if size > 0 {
                    State::Skip(padded(size))
                } else {
                    State::Header
                };
                return;
            }
            _ => {}
        }
        let mut name = cstr(&h[0..100]);
        if &h[257..262] == b"ustar" {
            let prefix = cstr(&h[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        if let Some(n) = self.long_name.take() {
            name = n;
        }
        if let Some(n) = self.pax_path.take() {
            name = n;
        }
        let mut link = cstr(&h[157..257]);
        if let Some(l) = self.long_link.take() {
            link = l;
        }
        if let Some(l) = self.pax_link.take() {
            link = l;
        }
        let size = self.pax_size.take().unwrap_or(size);
        let entry = RawEntry {
            name,
            typeflag,
            size,
            mode: octal(&h[100..108]) as u32,
            mtime: octal(&h[136..148]) as i64,
            link,
        };
        // Only regular files (and old-style/contiguous ones) carry content.
        let content = match typeflag {
            b'0' | 0 | b'7' => size,
            _ => 0,
        };
        out(entry);
        self.state = if content > 0 {
            State::Skip(padded(content))
        } else {
            State::Header
        };
    }
}

fn kind_of(typeflag: u8) -> &'static str {
    match typeflag {
        b'0' | 0 | b'7' => "file",
        b'5' => "dir",
        b'2' => "symlink",
        b'1' => "hardlink",
        b'3' => "char",
        b'4' => "block",
        b'6' => "fifo",
        _ => "other",
    }
}

/// The first-level children of the archive's root entry, read from a stream of chunks.
pub async fn first_level<S, E>(
    mut stream: S,
    max_entries: usize,
    max_bytes: u64,
) -> std::result::Result<(Vec<Entry>, Option<String>), E>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
{
    let mut scanner = TarScanner::default();
    let mut root: Option<String> = None;
    let mut entries: Vec<Entry> = Vec::new();
    let mut read: u64 = 0;
    let mut capped = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        read += chunk.len() as u64;
        scanner.feed(&chunk, &mut |e: RawEntry| {
            let Some(prefix) = &root else {
                let mut p = e.name.clone();
                if !p.ends_with('/') {
                    p.push('/');
                }
                root = Some(p);
                return;
            };
            let Some(rest) = e.name.strip_prefix(prefix.as_str()) else {
                return;
            };
            let rest = rest.trim_end_matches('/');
            if rest.is_empty() || rest.contains('/') {
                return;
            }
            if entries.len() < max_entries {
                entries.push(Entry {
                    name: rest.to_string(),
                    kind: kind_of(e.typeflag),
                    size: e.size as i64,
                    mode: mode_text(e.mode),
                    mtime: e.mtime,
                    link: (!e.link.is_empty()).then_some(e.link),
                });
            }
        });
        if entries.len() >= max_entries {
            capped = Some(format!(
                "Only the first {max_entries} entries are listed; download the folder for all of it."
            ));
            break;
        }
        if scanner.done {
            break;
        }
        if read >= max_bytes {
            capped = Some(format!(
                "The listing stopped after reading {} MiB of this folder's archive; some entries may be missing. Download the folder for all of it.",
                max_bytes >> 20
            ));
            break;
        }
    }
    entries.sort_by(|a, b| {
        (a.kind != "dir", a.name.to_lowercase()).cmp(&(b.kind != "dir", b.name.to_lowercase()))
    });
    Ok((entries, capped))
}

/// Go's os.FileMode bits in the engine's path stat.
const MODE_DIR: u32 = 1 << 31;
const MODE_SYMLINK: u32 = 1 << 27;

#[derive(Debug, Clone)]
pub struct Stat {
    pub name: String,
    pub size: i64,
    pub mode: u32,
    pub link_target: String,
}

impl Stat {
    pub fn is_dir(&self) -> bool {
        self.mode & MODE_DIR != 0
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & MODE_SYMLINK != 0
    }
}

fn path_error(m: &Mirror, e: bollard::errors::Error, path: &str) -> Error {
    match m.err(e) {
        Error::EngineRefused {
            status: 404,
            message,
        } => Error::NotFound(
            if message.is_empty() || message.contains("page not found") {
                format!("No such file or folder `{path}` in this container.")
            } else {
                message
            },
        ),
        Error::EngineRefused { message, .. } if message.contains("not a directory") => {
            Error::invalid(
                "path",
                format!("`{path}` is not a folder in this container."),
            )
        }
        Error::EngineRefused { status, message } if message.trim().is_empty() => {
            Error::EngineRefused {
                status,
                message: format!("The engine refused to read `{path}` (HTTP {status})."),
            }
        }
        other => super::windows::refusal(other),
    }
}

/// The path the archive API gets: normalised, and on Windows engines with the system drive
/// taken off (`C:\Windows` → `/Windows`) and other drives refused, as the engine rules. On a
/// Windows engine a running Hyper-V isolated container is refused here with the engine's words
/// (its refusal of a HEAD stat would arrive without them).
pub async fn engine_path(m: &Mirror, id: &str, path: &str) -> Result<String> {
    use super::windows;
    if !windows::on_windows(m) {
        return Ok(normalise(path));
    }
    let p = windows::container_path(path).map_err(|msg| Error::invalid("path", msg))?;
    let c = containers::inspect(m, id).await?;
    let running = c.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    let own = c
        .host_config
        .as_ref()
        .and_then(|h| h.isolation.as_ref())
        .map(|i| i.to_string())
        .unwrap_or_default();
    let (daemon, _) = windows::host_facts(m);
    if running && windows::Isolation::effective(&own, &daemon) == windows::Isolation::HyperV {
        return Err(windows::refusal(Error::EngineRefused {
            status: 500,
            message: windows::HYPERV_ONLINE_FS.into(),
        }));
    }
    Ok(normalise(&p))
}

/// The engine's stat of one path.
pub async fn stat(m: &Mirror, id: &str, path: &str) -> Result<Stat> {
    let s = m
        .docker()?
        .get_container_archive_info(
            id,
            Some(ContainerArchiveInfoOptions {
                path: path.to_string(),
            }),
        )
        .await
        .map_err(|e| path_error(m, e, path))?;
    Ok(Stat {
        name: s.name,
        size: s.size,
        mode: s.file_mode,
        link_target: s.link_target,
    })
}

/// The full id of a container (mirror first, else the engine).
pub async fn container_id(m: &Mirror, key: &str) -> Result<String> {
    if let Some(c) = containers::find(m, key) {
        return Ok(c.id.clone());
    }
    Ok(containers::inspect(m, key).await?.id.unwrap_or_default())
}

/// Lists a folder (following links to folders), or describes the file at `path`.
pub async fn list(m: &Mirror, id: &str, path: &str) -> Result<Listing> {
    let mut path = engine_path(m, id, path).await?;
    let mut st = stat(m, id, &path).await?;
    // Follow links (a few hops) so that /lib -> usr/lib lists the folder.
    for _ in 0..8 {
        if !st.is_symlink() || st.link_target.is_empty() {
            break;
        }
        let target = if st.link_target.starts_with('/') {
            normalise(&st.link_target)
        } else {
            join(&parent(&path), &st.link_target)
        };
        match stat(m, id, &target).await {
            Ok(s) => {
                path = target;
                st = s;
            }
            Err(_) => break,
        }
    }
    if !st.is_dir() {
        let name = path.rsplit('/').next().unwrap_or("").to_string();
        return Ok(Listing {
            file: Some(Entry {
                name,
                kind: if st.is_symlink() { "symlink" } else { "file" },
                size: st.size.max(0),
                mode: mode_text(st.mode),
                mtime: 0,
                link: (!st.link_target.is_empty()).then_some(st.link_target),
            }),
            path,
            entries: Vec::new(),
            capped: None,
        });
    }
    let stream = m.docker()?.download_from_container(
        id,
        Some(DownloadFromContainerOptions { path: path.clone() }),
    );
    let (entries, capped) = first_level(Box::pin(stream), MAX_ENTRIES, MAX_SCAN_BYTES)
        .await
        .map_err(|e| path_error(m, e, &path))?;
    Ok(Listing {
        path,
        file: None,
        entries,
        capped,
    })
}

/// The tar stream of a file or folder, as the engine sends it. The first chunk is awaited so
/// that "no such path" is an error, not a broken download.
pub async fn download(
    m: &Mirror,
    id: &str,
    path: &str,
) -> Result<impl Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + use<>> {
    let path = engine_path(m, id, path).await?;
    let mut stream = Box::pin(m.docker()?.download_from_container(
        id,
        Some(DownloadFromContainerOptions { path: path.clone() }),
    ));
    let first = match stream.next().await {
        Some(Ok(b)) => Some(b),
        Some(Err(e)) => return Err(path_error(m, e, &path)),
        None => None,
    };
    let rest = stream.map(|r| r.map_err(|e| std::io::Error::other(e.to_string())));
    Ok(futures_util::stream::iter(first.map(Ok)).chain(rest))
}

/// The content of one regular file, taken out of the engine's tar as it streams: (size, bytes).
pub async fn download_file(
    m: &Mirror,
    id: &str,
    path: &str,
) -> Result<(
    u64,
    impl Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + use<>,
)> {
    let path = engine_path(m, id, path).await?;
    let st = stat(m, id, &path).await?;
    if st.is_dir() || st.is_symlink() {
        return Err(Error::invalid(
            "path",
            format!("`{path}` is not a regular file: download it as tar."),
        ));
    }
    let tar = download(m, id, &path).await?;
    Ok((st.size.max(0) as u64, file_content(tar)))
}

/// The content of the first regular file of a tar stream (metadata entries before it skipped).
pub fn file_content<S>(
    tar: S,
) -> impl Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send
where
    S: Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + 'static,
{
    async_stream::try_stream! {
        let mut tar = Box::pin(tar);
        let mut header: Vec<u8> = Vec::with_capacity(512);
        let mut skip: u64 = 0;
        let mut left: Option<u64> = None;
        'outer: while let Some(chunk) = tar.next().await {
            let chunk = chunk?;
            let mut c = &chunk[..];
            while !c.is_empty() {
                if let Some(n) = left {
                    let take = n.min(c.len() as u64) as usize;
                    yield Bytes::copy_from_slice(&c[..take]);
                    left = Some(n - take as u64);
                    if n - take as u64 == 0 {
                        break 'outer;
                    }
                    c = &c[take..];
                } else if skip > 0 {
                    let take = skip.min(c.len() as u64) as usize;
                    skip -= take as u64;
                    c = &c[take..];
                } else {
                    let take = (512 - header.len()).min(c.len());
                    header.extend_from_slice(&c[..take]);
                    c = &c[take..];
                    if header.len() == 512 {
                        let size = octal(&header[124..136]);
                        match header[156] {
                            b'x' | b'L' | b'K' | b'g' => skip = padded(size),
                            b'0' | 0 | b'7' if size == 0 => break 'outer,
                            b'0' | 0 | b'7' => left = Some(size),
                            _ => Err(std::io::Error::other("the archive does not hold a regular file"))?,
                        }
                        header.clear();
                    }
                }
            }
        }
    }
}

/// A file name for an upload: one path component, no separators, not `.`/`..`.
pub fn check_file_name(name: &str) -> Result<String> {
    let n = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if n.is_empty() || n == "." || n == ".." || n.contains('\0') {
        return Err(Error::invalid(
            "file",
            format!("`{name}` is not a usable file name."),
        ));
    }
    Ok(n.to_string())
}

/// A tar holding one regular file.
pub fn one_file_tar(name: &str, data: &[u8], mtime: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 2048);
    let name_bytes = name.as_bytes();
    if name_bytes.len() > 100 {
        // GNU long name entry.
        let mut h = header_block(
            b"././@LongLink",
            0o644,
            name_bytes.len() as u64 + 1,
            mtime,
            b'L',
        );
        checksum(&mut h);
        out.extend_from_slice(&h);
        out.extend_from_slice(name_bytes);
        out.push(0);
        out.resize(padded(out.len() as u64) as usize, 0);
    }
    let short: &[u8] = if name_bytes.len() > 100 {
        &name_bytes[..100]
    } else {
        name_bytes
    };
    let mut h = header_block(short, 0o644, data.len() as u64, mtime, b'0');
    checksum(&mut h);
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out.resize(padded(out.len() as u64) as usize, 0);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn header_block(name: &[u8], mode: u32, size: u64, mtime: u64, typeflag: u8) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    let put = |h: &mut [u8; 512], at: usize, len: usize, v: u64| {
        let s = format!("{:0width$o}\0", v, width = len - 1);
        h[at..at + len].copy_from_slice(s.as_bytes());
    };
    put(&mut h, 100, 8, mode as u64);
    put(&mut h, 108, 8, 0);
    put(&mut h, 116, 8, 0);
    put(&mut h, 124, 12, size);
    put(&mut h, 136, 12, mtime);
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h
}

fn checksum(h: &mut [u8; 512]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
}

/// Puts one file into folder `dir` of the container.
pub async fn upload(m: &Mirror, id: &str, dir: &str, name: &str, data: &[u8]) -> Result<String> {
    let dir = engine_path(m, id, dir).await?;
    let name = check_file_name(name)?;
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let tar = one_file_tar(&name, data, mtime);
    m.docker()?
        .upload_to_container(
            id,
            Some(UploadToContainerOptions {
                path: dir.clone(),
                ..Default::default()
            }),
            bollard::body_full(Bytes::from(tar)),
        )
        .await
        .map_err(|e| path_error(m, e, &dir))?;
    Ok(join(&dir, &name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise() {
        assert_eq!(normalise(""), "/");
        assert_eq!(normalise("etc//ssl/./certs/"), "/etc/ssl/certs");
        assert_eq!(normalise("/../../etc/../bin"), "/bin");
        assert_eq!(normalise("C:\\Windows\\System32"), "/C:/Windows/System32");
        assert_eq!(parent("/etc/ssl"), "/etc");
        assert_eq!(parent("/etc"), "/");
        assert_eq!(join("/etc", "../bin/busybox"), "/bin/busybox");
        assert!(check_file_name("../..").is_err());
        assert_eq!(check_file_name("dir/evil.txt").unwrap(), "evil.txt");
    }

    #[tokio::test]
    async fn scanner_reads_first_level_across_chunk_borders() {
        // A tar as the engine makes it: root entry, children, a grandchild, a long name.
        let mut tar = Vec::new();
        let dir = |name: &str| {
            let mut h = header_block(name.as_bytes(), 0o755, 0, 1, b'5');
            checksum(&mut h);
            h.to_vec()
        };
        tar.extend(dir("etc/"));
        let file = one_file_tar("etc/passwd", b"root:x:0:0\n", 2);
        tar.extend_from_slice(&file[..file.len() - 1024]);
        tar.extend(dir("etc/ssl/"));
        let inner = one_file_tar("etc/ssl/cert.pem", &vec![b'x'; 3000], 3);
        tar.extend_from_slice(&inner[..inner.len() - 1024]);
        let long = format!("etc/{}", "n".repeat(150));
        let lf = one_file_tar(&long, b"long", 4);
        tar.extend_from_slice(&lf[..lf.len() - 1024]);
        tar.extend_from_slice(&[0u8; 1024]);
        for chunk_size in [1, 7, 512, 100_000] {
            let chunks: Vec<std::result::Result<Bytes, ()>> = tar
                .chunks(chunk_size)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let (entries, capped) = first_level(futures_util::stream::iter(chunks), 100, u64::MAX)
                .await
                .unwrap();
            assert!(capped.is_none());
            let names: Vec<(&str, &str)> =
                entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
            assert_eq!(
                names,
                vec![
                    ("ssl", "dir"),
                    ("n".repeat(150).as_str(), "file"),
                    ("passwd", "file")
                ],
                "chunk {chunk_size}"
            );
            let pw = entries.iter().find(|e| e.name == "passwd").unwrap();
            assert_eq!(pw.size, 11);
            assert_eq!(pw.mode, "rw-r--r--");
        }
        // Capped by entry count.
        let chunks = vec![Ok::<_, ()>(Bytes::from(tar.clone()))];
        let (entries, capped) = first_level(futures_util::stream::iter(chunks), 1, u64::MAX)
            .await
            .unwrap();
        assert_eq!(entries.len(), 1);
        assert!(capped.unwrap().contains("first 1"));
    }

    #[tokio::test]
    async fn file_content_comes_out_of_the_tar_whole() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let mut tar = Vec::new();
        let rec = "32 path=dir/with-a-pax-name.txt\n";
        let mut h = header_block(b"PaxHeaders/x", 0o644, rec.len() as u64, 0, b'x');
        checksum(&mut h);
        tar.extend_from_slice(&h);
        tar.extend_from_slice(rec.as_bytes());
        tar.resize(padded(tar.len() as u64) as usize, 0);
        tar.extend(one_file_tar("f.bin", &data, 0));
        for size in [1, 13, 512, 1 << 20] {
            let chunks: Vec<std::result::Result<Bytes, std::io::Error>> = tar
                .chunks(size)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let out: Vec<u8> = file_content(futures_util::stream::iter(chunks))
                .map(|r| r.unwrap())
                .collect::<Vec<Bytes>>()
                .await
                .concat();
            assert_eq!(out, data, "chunk {size}");
        }
    }

    #[test]
    fn pax_path_overrides_the_header_name() {
        let mut tar = Vec::new();
        let rec = "32 path=dir/with-a-pax-name.txt\n";
        let mut h = header_block(b"PaxHeaders/x", 0o644, rec.len() as u64, 0, b'x');
        checksum(&mut h);
        tar.extend_from_slice(&h);
        tar.extend_from_slice(rec.as_bytes());
        tar.resize(padded(tar.len() as u64) as usize, 0);
        let f = one_file_tar("dir/short", b"abc", 0);
        tar.extend_from_slice(&f);
        let mut s = TarScanner::default();
        let mut seen = Vec::new();
        s.feed(&tar, &mut |e| seen.push(e.name));
        assert_eq!(seen, vec!["dir/with-a-pax-name.txt"]);
    }
}
