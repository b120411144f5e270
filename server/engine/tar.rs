//! Just enough tar for the engine's archive API: read the headers of a stream (ustar, PAX and
//! GNU long names) without holding its contents, and write small archives (one uploaded file, a
//! Dockerfile as a build context).

use bytes::{Buf, Bytes, BytesMut};

const BLOCK: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Link,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub kind: Kind,
    pub size: u64,
    pub mode: u32,
    pub mtime: i64,
    pub link_target: String,
}

pub(crate) fn octal(field: &[u8]) -> Option<u64> {
    // GNU base-256 for large numbers.
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v: u64 = (field[0] & 0x7f) as u64;
        for b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(*b as u64)?;
        }
        return Some(v);
    }
    let s: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

pub(crate) fn text(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

fn pax(records: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = records;
    while !rest.is_empty() {
        let Some(sp) = rest.iter().position(|b| *b == b' ') else {
            break;
        };
        let Some(len) = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
        else {
            break;
        };
        if len <= sp + 1 || len > rest.len() {
            break;
        }
        let rec = &rest[sp + 1..len];
        let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
        if let Some(eq) = rec.iter().position(|b| *b == b'=') {
            out.push((
                String::from_utf8_lossy(&rec[..eq]).into_owned(),
                String::from_utf8_lossy(&rec[eq + 1..]).into_owned(),
            ));
        }
        rest = &rest[len..];
    }
    out
}

fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK as u64) * BLOCK as u64
}

/// Reads entries from chunks as they come; contents are skipped, never held (except the small
/// PAX and long-name records).
#[derive(Default)]
pub struct Reader {
    buf: BytesMut,
    /// Bytes of the current entry's contents still to skip.
    skip: u64,
    /// A PAX or GNU long-name record being collected: (type, bytes left incl. padding, wanted).
    meta: Option<(u8, u64, u64)>,
    meta_buf: Vec<u8>,
    long_name: Option<String>,
    long_link: Option<String>,
    pax: Vec<(String, String)>,
    pub done: bool,
}

impl Reader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; returns the entries whose headers it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Entry>, String> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        loop {
            if self.done {
                self.buf.clear();
                return Ok(out);
            }
            if self.skip > 0 {
                let n = (self.skip as usize).min(self.buf.len());
                self.buf.advance(n);
                self.skip -= n as u64;
                if self.skip > 0 {
                    return Ok(out);
                }
                continue;
            }
            if let Some((typ, left, want)) = self.meta {
                let n = (left as usize).min(self.buf.len());
                let take = n.min(want.saturating_sub(self.meta_buf.len() as u64) as usize);
                self.meta_buf.extend_from_slice(&self.buf[..take]);
                self.buf.advance(n);
                let left = left - n as u64;
                if left > 0 {
                    self.meta = Some((typ, left, want));
                    return Ok(out);
                }
                self.meta = None;
                let data = std::mem::take(&mut self.meta_buf);
                match typ {
                    b'x' => self.pax = pax(&data),
                    b'L' => self.long_name = Some(text(&data)),
                    b'K' => self.long_link = Some(text(&data)),
                    _ => {}
                }
                continue;
            }
            if self.buf.len() < BLOCK {
                return Ok(out);
            }
            let h = self.buf.split_to(BLOCK);
            if h.iter().all(|b| *b == 0) {
                self.done = true;
                continue;
            }
            let size = octal(&h[124..136]).ok_or("a tar header has a bad size")?;
            let typ = h[156];
            if matches!(typ, b'x' | b'g' | b'L' | b'K') {
                if size > 1 << 20 {
                    return Err("a tar metadata record is too large".into());
                }
                self.meta = Some((typ, padded(size), size));
                if typ == b'g' {
                    // Global headers are read and ignored.
                    self.meta = Some((0, padded(size), 0));
                }
                continue;
            }
            let mut path = text(&h[0..100]);
            if &h[257..262] == b"ustar" {
                let prefix = text(&h[345..500]);
                if !prefix.is_empty() {
                    path = format!("{prefix}/{path}");
                }
            }
            let mut link = text(&h[157..257]);
            let mut size = size;
            if let Some(n) = self.long_name.take() {
                path = n;
            }
            if let Some(l) = self.long_link.take() {
                link = l;
            }
            for (k, v) in std::mem::take(&mut self.pax) {
                match k.as_str() {
                    "path" => path = v,
                    "linkpath" => link = v,
                    "size" => size = v.parse().unwrap_or(size),
                    _ => {}
                }
            }
            let kind = match typ {
                b'0' | 0 | b'7' => Kind::File,
                b'5' => Kind::Dir,
                b'2' | b'1' => Kind::Link,
                _ => Kind::Other,
            };
            // Hard links and directories carry no contents.
            if !matches!(typ, b'1' | b'2' | b'5') {
                self.skip = padded(size);
            }
            out.push(Entry {
                path,
                kind,
                size: if typ == b'5' { 0 } else { size },
                mode: octal(&h[100..108]).unwrap_or(0) as u32,
                mtime: octal(&h[136..148]).unwrap_or(0) as i64,
                link_target: link,
            });
        }
    }
}

/// One header block for a regular file (names up to 100 bytes; longer ones get a PAX record).
pub(crate) fn header(name: &str, size: u64, mode: u32, mtime: i64, typ: u8) -> Vec<u8> {
    let mut h = vec![0u8; BLOCK];
    let n = name.as_bytes();
    h[..n.len().min(100)].copy_from_slice(&n[..n.len().min(100)]);
    let put = |h: &mut [u8], at: usize, len: usize, v: u64| {
        let s = format!("{:0width$o}\0", v, width = len - 1);
        h[at..at + len].copy_from_slice(s.as_bytes());
    };
    put(&mut h, 100, 8, mode as u64);
    put(&mut h, 108, 8, 0);
    put(&mut h, 116, 8, 0);
    put(&mut h, 124, 12, size);
    put(&mut h, 136, 12, mtime.max(0) as u64);
    h[156] = typ;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    h
}

/// A tar holding one file per `(name, contents)`, mode 0644, owned by root.
pub fn archive(files: &[(&str, &[u8])]) -> Bytes {
    let mtime = crate::store::now();
    let mut out = Vec::new();
    for (name, data) in files {
        if name.len() > 100 {
            let rec = {
                let body = format!("path={name}\n");
                // The length counts itself: find the fixed point.
                let mut len = body.len() + 2;
                while format!("{len} {body}").len() != len {
                    len = format!("{len} {body}").len();
                }
                format!("{len} {body}")
            };
            out.extend(header("PaxHeader", rec.len() as u64, 0o644, mtime, b'x'));
            out.extend(rec.as_bytes());
            out.resize(padded(out.len() as u64) as usize, 0);
        }
        out.extend(header(name, data.len() as u64, 0o644, mtime, b'0'));
        out.extend_from_slice(data);
        out.resize(padded(out.len() as u64) as usize, 0);
    }
    out.extend([0u8; BLOCK * 2]);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_small_chunks() {
        let long = format!("dir/{}", "n".repeat(150));
        let tar = archive(&[("a.txt", b"hello"), (&long, &[7u8; 1000])]);
        let mut r = Reader::new();
        let mut got = Vec::new();
        for chunk in tar.chunks(37) {
            got.extend(r.push(chunk).unwrap());
        }
        assert!(r.done);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].path, "a.txt");
        assert_eq!(got[0].size, 5);
        assert_eq!(got[0].kind, Kind::File);
        assert_eq!(got[0].mode, 0o644);
        assert_eq!(got[1].path, long);
        assert_eq!(got[1].size, 1000);
    }

    #[test]
    fn octal_and_base256() {
        assert_eq!(octal(b"0000644\0"), Some(0o644));
        assert_eq!(octal(&[0x80, 0, 0, 0, 0, 0, 0, 1, 0]), Some(256));
        assert_eq!(octal(b"\0\0"), Some(0));
    }
}
