//! Image references as the docker CLI reads them: `busybox` is `docker.io/library/busybox:latest`,
//! `host:5000/team/app:1.2` names the registry `host:5000`, `index.docker.io` is `docker.io`.

use std::fmt;

use crate::error::{Error, Result};

/// The registry Docker Hub's references name, and where its API answers.
pub const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The registry host as references name it: `docker.io`, `localhost:5000`.
    pub domain: String,
    /// The repository in that registry: `library/busybox`, `team/app`.
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses a reference the way the docker CLI normalises it.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let bad = |why: &str| {
            Error::invalid(
                "reference",
                format!("`{s}` is not an image reference: {why}."),
            )
        };
        if s.is_empty() {
            return Err(Error::invalid(
                "reference",
                "Name an image, e.g. registry.example.com/app:1.0.",
            ));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it holds spaces or control characters"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !d.contains(':') {
                    return Err(bad("the digest needs an algorithm, as in sha256:…"));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag is after the last colon that follows the last slash.
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_string())),
            None => (rest, None),
        };
        if tag.as_deref() == Some("") {
            return Err(bad("the tag after `:` is empty"));
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let domain = if domain == "index.docker.io" {
            DOCKER_HUB.to_string()
        } else {
            domain
        };
        let path = if domain == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if path.is_empty()
            || path.split('/').any(|c| {
                c.is_empty()
                    || !c.chars().all(|ch| {
                        ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch)
                    })
            })
        {
            return Err(bad(
                "repository names are lower-case letters, digits and . _ - between slashes",
            ));
        }
        Ok(ImageRef {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The tag, `latest` when none is named (and no digest).
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
    }

    /// The host whose `/v2/` API serves this repository.
    pub fn api_host(&self) -> &str {
        api_host(&self.domain)
    }

    /// The repository with its registry, as `docker push`/`pull` take it (`localhost:5000/app`);
    /// Docker Hub's familiar form without `docker.io/library/`.
    pub fn repository(&self) -> String {
        if self.domain == DOCKER_HUB {
            self.path
                .strip_prefix("library/")
                .unwrap_or(&self.path)
                .to_string()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// The host whose `/v2/` API serves a registry domain.
pub fn api_host(domain: &str) -> &str {
    if domain == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        domain
    }
}

/// A registry host as a user types it (`https://reg.example.com/`, `index.docker.io`,
/// `localhost:5000`): the domain references name, and whether it was given as plain http.
pub fn normalise_host(s: &str) -> Result<(String, Option<&'static str>)> {
    let t = s.trim();
    let (scheme, rest) = if let Some(r) = t.strip_prefix("https://") {
        (Some("https"), r)
    } else if let Some(r) = t.strip_prefix("http://") {
        (Some("http"), r)
    } else {
        (None, t)
    };
    let host = rest
        .trim_end_matches('/')
        .trim_end_matches("/v2")
        .trim_end_matches("/v1");
    let host = host.trim_end_matches('/');
    if host.is_empty()
        || host.contains('/')
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
    {
        return Err(Error::invalid(
            "url",
            format!(
                "`{t}` is not a registry address: give its host, e.g. registry.example.com or localhost:5000."
            ),
        ));
    }
    let host = host.to_ascii_lowercase();
    let host = match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.to_string()
        }
        _ => host,
    };
    Ok((host, scheme))
}

/// Whether a host is on this machine (the engine talks plain http to those without being told).
pub fn is_loopback(host: &str) -> bool {
    let h = host
        .rsplit_once(':')
        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    let h = h.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap()
    }

    #[test]
    fn references_normalise_like_the_docker_cli() {
        let b = p("busybox");
        assert_eq!(
            (b.domain.as_str(), b.path.as_str(), b.tag_or_latest()),
            ("docker.io", "library/busybox", "latest")
        );
        assert_eq!(b.api_host(), "registry-1.docker.io");
        assert_eq!(b.to_string(), "busybox");
        let u = p("grafana/grafana:10.1");
        assert_eq!(
            (u.domain.as_str(), u.path.as_str(), u.tag.as_deref()),
            ("docker.io", "grafana/grafana", Some("10.1"))
        );
        let i = p("index.docker.io/library/nginx:1.27");
        assert_eq!(
            (i.domain.as_str(), i.path.as_str()),
            ("docker.io", "library/nginx")
        );
        assert_eq!(i.to_string(), "nginx:1.27");
        let l = p("localhost:5000/team/app:1.2");
        assert_eq!(
            (l.domain.as_str(), l.path.as_str(), l.tag.as_deref()),
            ("localhost:5000", "team/app", Some("1.2"))
        );
        assert_eq!(l.api_host(), "localhost:5000");
        let h = p("registry.example.com/app");
        assert_eq!(
            (h.domain.as_str(), h.path.as_str(), h.tag),
            ("registry.example.com", "app", None)
        );
        let d = p("127.0.0.1:5000/app@sha256:abc");
        assert_eq!((d.tag, d.digest.as_deref()), (None, Some("sha256:abc")));
        let w = p("mcr.microsoft.com/windows/servercore:ltsc2022");
        assert_eq!(
            (w.domain.as_str(), w.path.as_str()),
            ("mcr.microsoft.com", "windows/servercore")
        );
        // A first component without a dot, colon or localhost is a Hub user, not a host.
        assert_eq!(p("team/app").domain, "docker.io");
        for bad in ["", "a b", "Upper/Case", "app:", "x//y", "app@nodigest"] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registry_hosts_normalise() {
        assert_eq!(
            normalise_host("https://index.docker.io/v1/").unwrap(),
            ("docker.io".into(), Some("https"))
        );
        assert_eq!(
            normalise_host("http://127.0.0.1:5000").unwrap(),
            ("127.0.0.1:5000".into(), Some("http"))
        );
        assert_eq!(
            normalise_host("Registry.Example.com/").unwrap(),
            ("registry.example.com".into(), None)
        );
        assert!(normalise_host("reg.example.com/path").is_err());
        assert!(normalise_host("").is_err());
        assert!(
            is_loopback("127.0.0.1:5000")
                && is_loopback("localhost:5000")
                && is_loopback("[::1]:5000")
        );
        assert!(!is_loopback("reg.example.com:5000"));
    }
}
