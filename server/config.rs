//! Command line and environment: one clap struct, every flag also an env var.
//!
//! The engine endpoint is resolved like the docker CLI does it: `-H` wins, else `DOCKER_HOST`,
//! else the platform default (unix socket, or the named pipe on Windows). TLS follows
//! `--tlsverify` / `DOCKER_TLS_VERIFY` with certificates from `--tlscacert`/`--tlscert`/`--tlskey`
//! or `DOCKER_CERT_PATH` (default `~/.docker`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tracing_subscriber::filter::Targets;

#[cfg(windows)]
pub const DEFAULT_ENGINE: &str = "npipe:////./pipe/docker_engine";
#[cfg(not(windows))]
pub const DEFAULT_ENGINE: &str = "unix:///var/run/docker.sock";

#[derive(Parser, Debug, Clone)]
#[command(
    name = "berth",
    version,
    about = "A lean web dashboard for Docker engines"
)]
pub struct Config {
    /// Address the web UI listens on.
    #[arg(long, env = "BERTH_BIND", default_value = "0.0.0.0:9000")]
    pub bind: SocketAddr,

    /// Address the web UI listens on over TLS (rustls).
    #[arg(long, env = "BERTH_BIND_HTTPS", default_value = "0.0.0.0:9443")]
    pub bind_https: SocketAddr,

    /// Certificate chain (PEM) for HTTPS; without it Berth generates one in the data folder.
    #[arg(long, env = "BERTH_SSL_CERT")]
    pub ssl_cert: Option<PathBuf>,

    /// Private key (PEM) of --ssl-cert.
    #[arg(long, env = "BERTH_SSL_KEY")]
    pub ssl_key: Option<PathBuf>,

    /// Serve HTTPS only (no plain HTTP on --bind).
    #[arg(long, env = "BERTH_HTTP_DISABLED")]
    pub http_disabled: bool,

    /// The mirror of an added endpoint stops after this long without a request or live page.
    #[arg(long, env = "BERTH_ENDPOINT_IDLE", default_value = "10m", value_parser = parse_duration)]
    pub endpoint_idle: Duration,

    /// How often every endpoint's health is pinged.
    #[arg(long, env = "BERTH_PING_INTERVAL", default_value = "3s", value_parser = parse_duration)]
    pub ping_interval: Duration,

    /// Folder for Berth's own state (SQLite database, certificates).
    #[arg(long, env = "BERTH_DATA", default_value = "./data")]
    pub data: PathBuf,

    /// Engine endpoint: unix:///path, tcp://host:2375, npipe:////./pipe/docker_engine.
    #[arg(short = 'H', long = "host", env = "DOCKER_HOST")]
    pub host: Option<String>,

    /// Use TLS and verify the engine (like `docker --tlsverify`).
    #[arg(long, env = "DOCKER_TLS_VERIFY")]
    pub tlsverify: bool,

    /// CA certificate the engine's certificate must chain to.
    #[arg(long, env = "BERTH_TLSCACERT")]
    pub tlscacert: Option<PathBuf>,

    /// Client certificate presented to the engine.
    #[arg(long, env = "BERTH_TLSCERT")]
    pub tlscert: Option<PathBuf>,

    /// Client key presented to the engine.
    #[arg(long, env = "BERTH_TLSKEY")]
    pub tlskey: Option<PathBuf>,

    /// Folder holding ca.pem, cert.pem and key.pem (like the docker CLI).
    #[arg(long, env = "DOCKER_CERT_PATH")]
    pub cert_path: Option<PathBuf>,

    /// File holding the admin password in plain text; seeds the admin account when none exists.
    #[arg(long, env = "BERTH_ADMIN_PASSWORD_FILE")]
    pub admin_password_file: Option<PathBuf>,

    /// User name of the admin seeded from --admin-password-file.
    #[arg(long, env = "BERTH_ADMIN_USERNAME", default_value = "admin")]
    pub admin_username: String,

    /// How long after start the first-run setup page accepts an admin account (e.g. 300s, 5m).
    #[arg(long, env = "BERTH_SETUP_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub setup_timeout: Duration,

    /// A session unused for this long is logged out (e.g. 8h).
    #[arg(long, env = "BERTH_SESSION_IDLE", default_value = "8h", value_parser = parse_duration)]
    pub session_idle: Duration,

    /// A session ends this long after its login, used or not (e.g. 7d).
    #[arg(long, env = "BERTH_SESSION_LIFETIME", default_value = "7d", value_parser = parse_duration)]
    pub session_lifetime: Duration,

    /// Full resynchronisation of the live mirror with the engine, besides the event stream.
    #[arg(long, env = "BERTH_RESYNC_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    pub resync_interval: Duration,

    /// Failed logins allowed per (user name, client address) in a minute; past it, that pair is
    /// locked out for a minute, then two, four… (up to an hour).
    #[arg(long, env = "BERTH_LOGIN_ATTEMPTS", default_value_t = 5)]
    pub login_attempts: u32,

    /// Largest file accepted by a container's Files upload, in MiB.
    #[arg(long, env = "BERTH_UPLOAD_LIMIT_MIB", default_value_t = 64)]
    pub upload_limit_mib: u64,
    /// Largest file a user may upload into a volume (bytes; K, M, G suffixes in powers of 1024).
    #[arg(long, env = "BERTH_VOLUME_UPLOAD_LIMIT", default_value = "64M", value_parser = parse_size)]
    pub volume_upload_limit: u64,

    /// Largest upload of an image tar (load) or build context.
    #[arg(long, env = "BERTH_IMAGE_UPLOAD_LIMIT", default_value = "8G", value_parser = parse_size)]
    pub image_upload_limit: u64,

    /// The address users reach Berth at (e.g. https://berth.example.com:9443). When set, a
    /// request naming another Host is refused (421), so a DNS-rebinding page cannot reach the
    /// setup or login pages; when unset Berth answers any Host and says so once at start.
    #[arg(long, env = "BERTH_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<PublicUrl>,

    /// Largest backup file accepted by a restore (bytes; K, M, G suffixes).
    #[arg(long, env = "BERTH_RESTORE_LIMIT", default_value = "512M", value_parser = parse_size)]
    pub restore_limit: u64,

    /// Log filter: error, warn, info, debug or trace, optionally per module
    /// (`info,berth::engine=debug`).
    #[arg(long, env = "BERTH_LOG_LEVEL", default_value = "info", value_parser = parse_log_filter)]
    pub log_level: Targets,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Ask a running Berth for /healthz and exit 0 when it answers 200 (for HEALTHCHECK).
    Healthcheck {
        /// Address of the Berth to ask.
        #[arg(long, env = "BERTH_HEALTHCHECK_ADDR", default_value = "127.0.0.1:9000")]
        addr: SocketAddr,
    },
    /// Manage Berth's users in the data folder (works while Berth runs; for a locked-out host).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Restore a backup (made with POST /api/backup) into the data folder (--data), which
    /// must hold no user yet. Berth should not be serving that folder meanwhile.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// File holding the passphrase (else BERTH_BACKUP_PASSPHRASE, else a prompt).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum UserCommand {
    /// Add a user: `berth user add NAME --role admin --password-file F`.
    Add {
        name: String,
        /// admin, operator or viewer.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// File holding the password (first line); `-` reads standard input.
        #[arg(long)]
        password_file: PathBuf,
    },
    /// Set a user's password (asked on the terminal, or read from --password-file) and end
    /// their sessions.
    Passwd {
        name: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List the users.
    List,
}

/// `--public-url`: the scheme, and the Host header (`name[:port]`, lower case) it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    pub url: String,
    pub https: bool,
    /// The host as a Host header names it: `berth.example.com` or `berth.example.com:9443`.
    pub host: String,
}

impl PublicUrl {
    /// Whether a request's Host header names this URL's host (the default port may be left out).
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        if host == self.host {
            return true;
        }
        let default_port = if self.https { ":443" } else { ":80" };
        // `name` allowed and `name:443` asked (or the reverse), for the scheme's default port.
        host.strip_suffix(default_port) == Some(self.host.as_str())
            || self.host.strip_suffix(default_port) == Some(host.as_str())
    }
}

/// Parses `https://name[:port][/]` into what the Host check needs.
pub fn parse_public_url(s: &str) -> Result<PublicUrl, String> {
    let t = s.trim();
    let refuse = |why: &str| {
        format!("`{t}` is not a public URL ({why}): write e.g. https://berth.example.com:9443")
    };
    let (https, rest) = if let Some(r) = t.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = t.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(refuse("it starts with http:// or https://"));
    };
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || authority.contains(['?', '#', ' ']) {
        return Err(refuse("it names a host, without user or query"));
    }
    let ok = authority
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    if !ok {
        return Err(refuse("the host has characters a host name cannot have"));
    }
    Ok(PublicUrl {
        url: t.trim_end_matches('/').to_string(),
        https,
        host: authority.to_ascii_lowercase(),
    })
}

/// The engine endpoint as the flags and environment name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineTarget {
    pub url: String,
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Config {
    /// A configuration with every default, for tests and tools: `berth` with no arguments.
    pub fn defaults() -> Self {
        Config::parse_from(["berth"])
    }

    pub fn engine_target(&self) -> EngineTarget {
        let url = self
            .host
            .clone()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENGINE.to_string());
        let any_file = self.tlscacert.is_some() || self.tlscert.is_some() || self.tlskey.is_some();
        let tls = (self.tlsverify || any_file).then(|| {
            let dir = self
                .cert_path
                .clone()
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
                .unwrap_or_else(|| PathBuf::from("."));
            TlsFiles {
                ca: self.tlscacert.clone().unwrap_or_else(|| dir.join("ca.pem")),
                cert: self.tlscert.clone().unwrap_or_else(|| dir.join("cert.pem")),
                key: self.tlskey.clone().unwrap_or_else(|| dir.join("key.pem")),
            }
        });
        EngineTarget { url, tls }
    }

    pub fn database_path(&self) -> PathBuf {
        self.data.join("berth.db")
    }
}

/// Parses `90`, `90s`, `5m`, `8h`, `2d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration such as 90s, 5m or 8h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        "ms" => return Ok(Duration::from_millis(n)),
        _ => {
            return Err(format!(
                "`{s}`: unknown unit `{unit}` (use ms, s, m, h or d)"
            ));
        }
    };
    Ok(Duration::from_secs(secs))
}

/// `info`, `warn,berth=debug`: a level, and levels per module. (Span and field filters, which
/// need a regular-expression engine in the binary, are not offered.)
pub fn parse_log_filter(s: &str) -> Result<Targets, String> {
    let refuse = |why: String| {
        format!(
            "`{s}` is not a log filter ({why}): use error, warn, info, debug, trace or off, optionally per module as in info,berth=debug"
        )
    };
    // A bare word is a module name to tracing ("verbose" would log everything of a module of
    // that name): every directive here must name a level.
    for d in s.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = d.rsplit_once('=').map_or(d, |(_, l)| l);
        level
            .parse::<tracing_subscriber::filter::LevelFilter>()
            .map_err(|_| refuse(format!("`{level}` is not a level")))?;
    }
    s.parse::<Targets>().map_err(|e| refuse(e.to_string()))
}

/// `65536`, `64K`, `64M`, `8G` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'B' => 1,
                _ => return Err(format!("`{t}`: use a byte count or a K, M or G suffix")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("`{t}` is not a size: write e.g. 65536, 64K, 64M or 8G"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_filters() {
        assert!(parse_log_filter("info").is_ok());
        assert!(parse_log_filter("warn,berth::engine=debug").is_ok());
        let e = parse_log_filter("berth=loud").unwrap_err();
        assert!(e.contains("`berth=loud` is not a log filter"), "{e}");
        assert!(parse_log_filter("info,verbose").is_err());
        assert!(
            Config::try_parse_from(["berth", "--log-level", "verbose"]).is_err(),
            "a bad filter is refused at start, not ignored"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5X").is_err());
        assert_eq!(Config::defaults().volume_upload_limit, 64 << 20);
    }

    #[test]
    fn public_urls() {
        let u = parse_public_url("https://Berth.Example.com/").unwrap();
        assert_eq!(u.host, "berth.example.com");
        assert!(u.allows("berth.example.com") && u.allows("BERTH.example.com:443"));
        assert!(!u.allows("evil.example") && !u.allows("berth.example.com:9443"));
        let p = parse_public_url("http://10.0.0.5:9000").unwrap();
        assert!(p.allows("10.0.0.5:9000") && !p.allows("10.0.0.5"));
        assert!(parse_public_url("berth.example.com").is_err());
        assert!(parse_public_url("https://user@host").is_err());
        assert!(parse_public_url("https://").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn tls_files_default_to_cert_path() {
        let c = Config::parse_from([
            "berth",
            "-H",
            "tcp://10.0.0.1:2376",
            "--tlsverify",
            "--cert-path",
            "/certs",
        ]);
        let t = c.engine_target();
        assert_eq!(t.url, "tcp://10.0.0.1:2376");
        let tls = t.tls.unwrap();
        assert_eq!(tls.ca, PathBuf::from("/certs/ca.pem"));
        assert_eq!(tls.key, PathBuf::from("/certs/key.pem"));
    }
}
