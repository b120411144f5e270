//! "Is this engine there?": a light check that connects, shakes hands (TLS), asks `/version`
//! and names precisely what failed. Used by "Test connection" and by the periodic health ping
//! of every endpoint (which does not need the endpoint's full mirror).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::tls::{TlsMaterial, client_config, describe_failure, rustls_error};

/// How long a connection, and then the answer, may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the engine said about itself.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Facts {
    pub version: String,
    pub api_version: String,
    pub os_type: String,
}

/// Where an engine address points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    Unix(String),
    Tcp { host: String, port: u16 },
    Pipe(String),
}

/// Parses `unix:///path`, `tcp://host:port` (also `http://`, `https://`), `npipe://…`.
pub fn parse_addr(url: &str) -> Result<Addr, String> {
    let url = url.trim();
    if let Some(path) = url.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(format!(
                "`{url}`: a socket address is unix:///absolute/path"
            ));
        }
        return Ok(Addr::Unix(path.to_string()));
    }
    if url.starts_with("npipe://") {
        return Ok(Addr::Pipe(url.to_string()));
    }
    let rest = ["tcp://", "http://", "https://"]
        .iter()
        .find_map(|p| url.strip_prefix(p))
        .ok_or_else(|| {
            format!(
                "`{url}` is not an engine address: use unix:///var/run/docker.sock, \
                 tcp://host:2375 (or :2376 with TLS) or npipe:////./pipe/docker_engine"
            )
        })?;
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') || rest.contains('@') || rest.contains('?') {
        return Err(format!(
            "`{url}`: give only host and port, e.g. tcp://172.17.64.1:2375"
        ));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => (h, p),
        _ => {
            return Err(format!(
                "`{url}`: add the port, e.g. tcp://172.17.64.1:2375 (or :2376 with TLS)"
            ));
        }
    };
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("`{url}`: `{port}` is not a port number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("`{url}`: the host is missing"));
    }
    Ok(Addr::Tcp {
        host: host.to_string(),
        port,
    })
}

/// A byte stream to an engine: socket, pipe, TCP or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Connects, shakes hands and asks `/version`. Ok: what the engine said and how long it took.
pub async fn probe(url: &str, tls: Option<&TlsMaterial>) -> Result<(Facts, Duration), String> {
    probe_within(url, tls, PROBE_TIMEOUT).await
}

pub async fn probe_within(
    url: &str,
    tls: Option<&TlsMaterial>,
    limit: Duration,
) -> Result<(Facts, Duration), String> {
    let addr = parse_addr(url)?;
    let started = Instant::now();
    let stream = open(&addr, tls, limit).await?;
    let host = match &addr {
        Addr::Tcp { host, .. } => host.as_str(),
        _ => "docker",
    };
    let answer = tokio::time::timeout(limit, ask_version(stream, host)).await;
    let facts = match answer {
        Err(_) => {
            return Err(format!(
                "timeout: the engine accepted the connection but did not answer within {} s",
                limit.as_secs()
            ));
        }
        Ok(Err(Failure::Io(e))) => return Err(io_failure(&e, host, tls, "answer")),
        Ok(Err(Failure::Http(msg))) => return Err(msg),
        Ok(Ok(f)) => f,
    };
    Ok((facts, started.elapsed()))
}

/// A connection to the engine at `url`, TLS handshake done: what the probe asks `/version`
/// over, and what the Docker API gateway speaks HTTP/1.1 on. Errors name precisely what failed.
pub async fn connect(
    url: &str,
    tls: Option<&TlsMaterial>,
    limit: Duration,
) -> Result<Box<dyn Io>, String> {
    open(&parse_addr(url)?, tls, limit).await
}

async fn open(
    addr: &Addr,
    tls: Option<&TlsMaterial>,
    limit: Duration,
) -> Result<Box<dyn Io>, String> {
    let stream: Box<dyn Io> = match &addr {
        Addr::Unix(path) => connect_unix(path, limit).await?,
        Addr::Pipe(url) => connect_pipe(url)?,
        Addr::Tcp { host, port } => {
            let where_ = format!("{host}:{port}");
            let tcp = match tokio::time::timeout(
                limit,
                tokio::net::TcpStream::connect((host.as_str(), *port)),
            )
            .await
            {
                Err(_) => {
                    return Err(format!(
                        "timeout: {where_} did not accept a connection within {} s (wrong address, or a firewall?)",
                        limit.as_secs()
                    ));
                }
                Ok(Err(e)) => return Err(connect_error(&where_, &e)),
                Ok(Ok(s)) => s,
            };
            let _ = tcp.set_nodelay(true);
            match tls {
                None => Box::new(tcp),
                Some(m) => {
                    let config = client_config(m).map_err(|e| e.to_string())?;
                    let name = rustls::pki_types::ServerName::try_from(host.clone())
                        .map_err(|_| format!("`{host}` is not a valid server name"))?;
                    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
                    match tokio::time::timeout(limit, connector.connect(name, tcp)).await {
                        Err(_) => {
                            return Err(format!(
                                "timeout: {where_} accepted the connection but did not complete the TLS handshake within {} s",
                                limit.as_secs()
                            ));
                        }
                        Ok(Err(e)) => return Err(io_failure(&e, host, Some(m), "handshake")),
                        Ok(Ok(s)) => Box::new(s),
                    }
                }
            }
        }
    };
    Ok(stream)
}

#[cfg(unix)]
async fn connect_unix(path: &str, limit: Duration) -> Result<Box<dyn Io>, String> {
    match tokio::time::timeout(limit, tokio::net::UnixStream::connect(path)).await {
        Err(_) => Err(format!("timeout: the socket {path} did not answer")),
        Ok(Err(e)) => Err(match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!(
                    "no socket at {path} (is the engine's socket mounted into Berth's container?)"
                )
            }
            std::io::ErrorKind::PermissionDenied => {
                format!(
                    "permission denied on {path} (Berth's user may not use the engine's socket)"
                )
            }
            std::io::ErrorKind::ConnectionRefused => {
                format!("connection refused: nothing listens on {path}")
            }
            _ => format!("cannot connect to {path}: {e}"),
        }),
        Ok(Ok(s)) => Ok(Box::new(s)),
    }
}

#[cfg(not(unix))]
async fn connect_unix(path: &str, _limit: Duration) -> Result<Box<dyn Io>, String> {
    Err(format!("unix sockets ({path}) do not exist on this system"))
}

#[cfg(windows)]
fn connect_pipe(url: &str) -> Result<Box<dyn Io>, String> {
    // npipe:////./pipe/docker_engine → \\.\pipe\docker_engine
    let name = url.trim_start_matches("npipe://").replace('/', "\\");
    tokio::net::windows::named_pipe::ClientOptions::new()
        .open(&name)
        .map(|p| Box::new(p) as Box<dyn Io>)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("no pipe {name} (is the engine running, and the pipe mounted into Berth's container?)")
            }
            _ => format!("cannot open {name}: {e}"),
        })
}

#[cfg(not(windows))]
fn connect_pipe(_url: &str) -> Result<Box<dyn Io>, String> {
    Err("named pipes exist only on Windows hosts".into())
}

fn connect_error(where_: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => format!(
            "connection refused: nothing listens on {where_} (is the engine started and listening on TCP there?)"
        ),
        K::TimedOut => format!("timeout: {where_} did not accept a connection"),
        K::HostUnreachable | K::NetworkUnreachable => {
            format!("{where_} is unreachable from Berth's network: {e}")
        }
        _ if e.to_string().contains("failed to lookup") || e.to_string().contains("resolve") => {
            format!("cannot resolve the host of {where_}: {e}")
        }
        _ => format!("cannot connect to {where_}: {e}"),
    }
}

fn io_failure(e: &std::io::Error, host: &str, tls: Option<&TlsMaterial>, stage: &str) -> String {
    if let Some(r) = rustls_error(e) {
        return describe_failure(r, host, tls.is_some_and(|m| m.has_client_cert()));
    }
    use std::io::ErrorKind as K;
    match (tls, e.kind()) {
        (Some(_), K::UnexpectedEof | K::ConnectionReset) if stage == "handshake" => {
            "TLS handshake failed: the engine closed the connection during the handshake (is this a TLS port?)".into()
        }
        (_, K::ConnectionReset | K::UnexpectedEof | K::BrokenPipe) => {
            "the engine closed the connection without answering".into()
        }
        _ => format!("the connection failed: {e}"),
    }
}

enum Failure {
    Io(std::io::Error),
    Http(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VersionBody {
    #[serde(default)]
    version: String,
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    os: String,
}

/// `GET /version` over HTTP/1.0 (so the engine closes the connection after one plain answer).
async fn ask_version(mut s: Box<dyn Io>, host: &str) -> Result<Facts, Failure> {
    s.write_all(
        format!("GET /version HTTP/1.0\r\nHost: {host}\r\nUser-Agent: berth\r\n\r\n").as_bytes(),
    )
    .await?;
    s.flush().await?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(n) => n,
            // An engine (or relay) that closes without TLS close_notify: the answer is complete.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => 0,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            });
            if len.is_some_and(|len| buf.len() >= end + 4 + len) {
                break;
            }
        }
        if buf.len() > 256 * 1024 {
            break;
        }
    }
    if buf.is_empty() {
        return Err(Failure::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    let Some(end) = find(&buf, b"\r\n\r\n") else {
        return Err(Failure::Http(not_http(&buf)));
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let status_line = head.lines().next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (proto, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !proto.starts_with("HTTP/") {
        return Err(Failure::Http(not_http(&buf)));
    }
    if code != "200" {
        return Err(Failure::Http(format!(
            "HTTP error: GET /version answered `{}` (is this a Docker engine?)",
            status_line.trim()
        )));
    }
    let mut body = buf[end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    let v: VersionBody = serde_json::from_slice(&body).map_err(|_| {
        Failure::Http(
            "HTTP error: GET /version answered something that is not an engine's version".into(),
        )
    })?;
    if v.version.is_empty() && v.api_version.is_empty() {
        return Err(Failure::Http(
            "HTTP error: GET /version answered, but not like a Docker engine".into(),
        ));
    }
    Ok(Facts {
        version: v.version,
        api_version: v.api_version,
        os_type: v.os,
    })
}

fn not_http(buf: &[u8]) -> String {
    if buf.first() == Some(&0x15) || buf.first() == Some(&0x16) {
        "HTTP error: the engine answered in TLS: this is a TLS port (2376?), choose TLS".into()
    } else {
        "HTTP error: the answer is not HTTP (is this the engine's port?)".into()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = find(rest, b"\r\n") {
        let size = std::str::from_utf8(&rest[..i])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || rest.len() < i + 2 + size {
            break;
        }
        out.extend_from_slice(&rest[i + 2..i + 2 + size]);
        rest = &rest[(i + 4 + size).min(rest.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_addr("tcp://172.17.64.1:2375").unwrap(),
            Addr::Tcp {
                host: "172.17.64.1".into(),
                port: 2375
            }
        );
        assert_eq!(
            parse_addr("unix:///var/run/docker.sock").unwrap(),
            Addr::Unix("/var/run/docker.sock".into())
        );
        assert!(
            parse_addr("tcp://host")
                .unwrap_err()
                .contains("add the port")
        );
        assert!(
            parse_addr("ftp://x:1")
                .unwrap_err()
                .contains("not an engine address")
        );
        assert!(
            parse_addr("tcp://x:99999")
                .unwrap_err()
                .contains("not a port")
        );
        assert_eq!(
            parse_addr("tcp://[::1]:2376").unwrap(),
            Addr::Tcp {
                host: "::1".into(),
                port: 2376
            }
        );
    }

    #[test]
    fn chunked_bodies() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
    }
}
