//! The registry HTTP API v2, as far as Berth uses it: the ping with its auth challenge (none,
//! basic, or a bearer token from the registry's token service), the catalog, tags, and
//! manifests (single-platform images, manifest lists and OCI indexes).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Every manifest type Berth reads; without them a registry answers a schema1 digest that never
/// equals the engine's `RepoDigests`.
pub const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.oci.image.manifest.v1+json";

#[derive(Clone)]
pub struct Login {
    pub username: String,
    pub password: String,
}

pub struct Client {
    http: reqwest::Client,
    /// `https://host` or `http://host` of the v2 API.
    base: String,
    /// The host as the user named it, for messages.
    name: String,
    login: Option<Login>,
    /// Bearer tokens by scope, for the life of this client.
    tokens: Mutex<HashMap<String, String>>,
}

/// How a registry asks to be authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Challenge {
    None,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// What the ping found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ping {
    /// `none`, `basic` or `bearer`.
    pub auth: &'static str,
    /// Whether the stored credentials (if any) were accepted.
    pub authenticated: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub os_version: Option<String>,
    pub digest: Option<String>,
}

impl Platform {
    /// `linux/amd64`, `linux/arm/v7`, `windows/amd64 10.0.20348.2113`.
    pub fn text(&self) -> String {
        let mut s = format!("{}/{}", self.os, self.architecture);
        if let Some(v) = &self.variant {
            s.push('/');
            s.push_str(v);
        }
        if let Some(v) = &self.os_version {
            s.push(' ');
            s.push_str(v);
        }
        s
    }
}

/// A tag as its manifest and config tell it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TagInfo {
    pub tag: String,
    pub digest: Option<String>,
    pub media_type: String,
    /// Config and layers, compressed, for a single-platform image.
    pub size: Option<i64>,
    /// From the image config (RFC 3339), for a single-platform image.
    pub created: Option<String>,
    pub platforms: Vec<Platform>,
    /// Set when this one tag could not be read (the list goes on).
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    digest: String,
    platform: Option<DescPlatform>,
}

#[derive(Deserialize)]
struct DescPlatform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    variant: Option<String>,
    #[serde(rename = "os.version")]
    os_version: Option<String>,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct ImageConfig {
    created: Option<String>,
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    variant: Option<String>,
    #[serde(rename = "os.version")]
    os_version: Option<String>,
}

impl Client {
    pub fn new(host: &str, scheme: &str, login: Option<Login>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::internal(format!("registry client: {e}")))?;
        Ok(Client {
            http,
            base: format!("{scheme}://{}", super::reference::api_host(host)),
            name: host.to_string(),
            login: login.filter(|l| !l.username.is_empty()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    fn fail(&self, reason: impl Into<String>) -> Error {
        Error::Registry {
            registry: self.name.clone(),
            reason: reason.into(),
        }
    }

    fn net(&self, e: reqwest::Error) -> Error {
        let why = crate::error::chain(&e);
        self.fail(format!("cannot be reached: {why}"))
    }

    /// `GET /v2/`: which auth it wants, and whether the stored credentials pass.
    pub async fn ping(&self) -> Result<Ping> {
        let r = self
            .http
            .get(format!("{}/v2/", self.base))
            .send()
            .await
            .map_err(|e| self.net(e))?;
        let challenge = match r.status() {
            s if s.is_success() => {
                return Ok(Ping {
                    auth: "none",
                    authenticated: self.login.is_none(),
                });
            }
            StatusCode::UNAUTHORIZED => parse_challenge(r.headers()),
            s => {
                return Err(self.fail(format!(
                    "answered {s} to /v2/: is this a registry (v2 API)?"
                )));
            }
        };
        let auth = match challenge {
            Challenge::None | Challenge::Basic => "basic",
            Challenge::Bearer { .. } => "bearer",
        };
        if self.login.is_none() {
            return Ok(Ping {
                auth,
                authenticated: false,
            });
        }
        let r = self.send(Method::GET, "/v2/", "", None).await?;
        match r.status() {
            s if s.is_success() => Ok(Ping {
                auth,
                authenticated: true,
            }),
            StatusCode::UNAUTHORIZED => Err(self.fail("refused the stored user name and password")),
            s => Err(self.fail(format!("answered {s} to /v2/ with credentials"))),
        }
    }

    /// One page of the catalog: repositories after `last`, and the one to continue from.
    pub async fn catalog(
        &self,
        n: u32,
        last: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>)> {
        let mut path = format!("/v2/_catalog?n={n}");
        if let Some(l) = last.filter(|l| !l.is_empty()) {
            path.push_str("&last=");
            path.push_str(&form_urlencoded::byte_serialize(l.as_bytes()).collect::<String>());
        }
        let r = self
            .checked(Method::GET, &path, "registry:catalog:*", None)
            .await?;
        let more = r
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|l| l.contains("rel=\"next\""));
        #[derive(Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Vec<String>,
        }
        let c: Catalog = r
            .json()
            .await
            .map_err(|e| self.fail(format!("sent a catalog that does not read: {e}")))?;
        let next = if more {
            c.repositories.last().cloned()
        } else {
            None
        };
        Ok((c.repositories, next))
    }

    pub async fn tags(&self, repo: &str) -> Result<Vec<String>> {
        let r = self
            .checked(
                Method::GET,
                &format!("/v2/{repo}/tags/list"),
                &pull_scope(repo),
                None,
            )
            .await?;
        #[derive(Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let t: Tags = r
            .json()
            .await
            .map_err(|e| self.fail(format!("sent a tag list that does not read: {e}")))?;
        let mut tags = t.tags.unwrap_or_default();
        tags.sort();
        Ok(tags)
    }

    /// The digest a tag points at now (`HEAD` of its manifest, `Docker-Content-Digest`).
    pub async fn digest(&self, repo: &str, tag: &str) -> Result<String> {
        let r = self
            .checked(
                Method::HEAD,
                &format!("/v2/{repo}/manifests/{tag}"),
                &pull_scope(repo),
                Some(MANIFEST_TYPES),
            )
            .await?;
        r.headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| self.fail("gave no Docker-Content-Digest for the manifest"))
    }

    /// A tag's digest, size, creation time and platforms.
    pub async fn tag_info(&self, repo: &str, tag: &str) -> Result<TagInfo> {
        let r = self
            .checked(
                Method::GET,
                &format!("/v2/{repo}/manifests/{tag}"),
                &pull_scope(repo),
                Some(MANIFEST_TYPES),
            )
            .await?;
        let digest = r
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let header_type = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let m: Manifest = r
            .json()
            .await
            .map_err(|e| self.fail(format!("sent a manifest that does not read: {e}")))?;
        let media_type = if m.media_type.is_empty() {
            header_type
        } else {
            m.media_type.clone()
        };
        let mut info = TagInfo {
            tag: tag.to_string(),
            digest,
            media_type,
            size: None,
            created: None,
            platforms: Vec::new(),
            error: None,
        };
        if !m.manifests.is_empty() {
            info.platforms = m
                .manifests
                .iter()
                .filter_map(|d| {
                    let p = d.platform.as_ref()?;
                    // Attestation manifests ("unknown/unknown") are not platforms.
                    (p.os != "unknown").then(|| Platform {
                        os: p.os.clone(),
                        architecture: p.architecture.clone(),
                        variant: p.variant.clone(),
                        os_version: p.os_version.clone(),
                        digest: Some(d.digest.clone()),
                    })
                })
                .collect();
            return Ok(info);
        }
        let Some(config) = m.config else {
            return Err(self.fail(format!(
                "sent a manifest of type {} that Berth does not read",
                info.media_type
            )));
        };
        info.size = Some(config.size + m.layers.iter().map(|l| l.size).sum::<i64>());
        let _ = &config.media_type;
        let r = self
            .checked(
                Method::GET,
                &format!("/v2/{repo}/blobs/{}", config.digest),
                &pull_scope(repo),
                None,
            )
            .await?;
        let c: ImageConfig = r
            .json()
            .await
            .map_err(|e| self.fail(format!("sent an image config that does not read: {e}")))?;
        info.created = c.created;
        info.platforms = vec![Platform {
            os: c.os,
            architecture: c.architecture,
            variant: c.variant,
            os_version: c.os_version,
            digest: info.digest.clone(),
        }];
        Ok(info)
    }

    /// A request that must succeed: 401 and 404 become sentences.
    async fn checked(
        &self,
        method: Method,
        path: &str,
        scope: &str,
        accept: Option<&str>,
    ) -> Result<reqwest::Response> {
        let r = self.send(method, path, scope, accept).await?;
        match r.status() {
            s if s.is_success() => Ok(r),
            StatusCode::UNAUTHORIZED => Err(self.fail(if self.login.is_some() {
                "refused the stored credentials for this"
            } else {
                "needs credentials for this: add a user name and password to the registry"
            })),
            StatusCode::FORBIDDEN => Err(self.fail("does not allow the stored user this")),
            StatusCode::NOT_FOUND => Err(Error::NotFound(format!(
                "The registry {} has no {}.",
                self.name,
                path.trim_start_matches("/v2/")
            ))),
            s => {
                let body = r.text().await.unwrap_or_default();
                Err(self.fail(format!(
                    "answered {s}: {}",
                    body.chars().take(300).collect::<String>()
                )))
            }
        }
    }

    /// Sends with the credentials the registry asks for: a cached bearer token, or on a 401 the
    /// challenge followed once (basic, or a token for `scope` from its token service).
    async fn send(
        &self,
        method: Method,
        path: &str,
        scope: &str,
        accept: Option<&str>,
    ) -> Result<reqwest::Response> {
        let url = format!("{}{path}", self.base);
        let build = |auth: Option<String>| {
            let mut rb = self.http.request(method.clone(), &url);
            if let Some(a) = accept {
                rb = rb.header(ACCEPT, a);
            }
            if let Some(a) = auth {
                rb = rb.header(AUTHORIZATION, a);
            }
            rb
        };
        let cached = self.tokens.lock().ok().and_then(|t| t.get(scope).cloned());
        let r = build(cached.map(|t| format!("Bearer {t}")))
            .send()
            .await
            .map_err(|e| self.net(e))?;
        if r.status() != StatusCode::UNAUTHORIZED {
            return Ok(r);
        }
        let auth = match parse_challenge(r.headers()) {
            Challenge::None | Challenge::Basic => match &self.login {
                Some(l) => format!("Basic {}", basic(l)),
                None => return Ok(r),
            },
            Challenge::Bearer { realm, service } => {
                let token = self.token(&realm, service.as_deref(), scope).await?;
                if let Ok(mut t) = self.tokens.lock() {
                    t.insert(scope.to_string(), token.clone());
                }
                format!("Bearer {token}")
            }
        };
        build(Some(auth)).send().await.map_err(|e| self.net(e))
    }

    async fn token(&self, realm: &str, service: Option<&str>, scope: &str) -> Result<String> {
        let mut url = realm.to_string();
        let q = {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            if !scope.is_empty() {
                q.append_pair("scope", scope);
            }
            q.finish()
        };
        if !q.is_empty() {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&q);
        }
        let mut rb = self.http.get(&url);
        if let Some(l) = &self.login {
            rb = rb.header(AUTHORIZATION, format!("Basic {}", basic(l)));
        }
        let r = rb.send().await.map_err(|e| {
            self.fail(format!(
                "token service {realm} cannot be reached: {}",
                crate::error::chain(&e)
            ))
        })?;
        if r.status() == StatusCode::UNAUTHORIZED || r.status() == StatusCode::FORBIDDEN {
            return Err(self.fail("token service refused the stored user name and password"));
        }
        if !r.status().is_success() {
            return Err(self.fail(format!("token service answered {}", r.status())));
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: Token = r
            .json()
            .await
            .map_err(|e| self.fail(format!("token service sent no token: {e}")))?;
        t.token
            .or(t.access_token)
            .ok_or_else(|| self.fail("token service sent no token"))
    }
}

fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

fn basic(l: &Login) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", l.username, l.password))
}

/// The auth scheme of a 401's `WWW-Authenticate`.
pub fn parse_challenge(h: &HeaderMap) -> Challenge {
    let Some(v) = h.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()) else {
        return Challenge::None;
    };
    parse_challenge_str(v)
}

pub fn parse_challenge_str(v: &str) -> Challenge {
    let v = v.trim();
    let (scheme, params) = v.split_once(' ').unwrap_or((v, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Challenge::Basic;
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Challenge::None;
    }
    let mut realm = None;
    let mut service = None;
    for (k, val) in params_of(params) {
        match k.to_ascii_lowercase().as_str() {
            "realm" => realm = Some(val),
            "service" => service = Some(val),
            _ => {}
        }
    }
    match realm {
        Some(realm) => Challenge::Bearer { realm, service },
        None => Challenge::None,
    }
}

/// `k="v", k2="v,2", k3=v3` → pairs (quoted values may hold commas).
fn params_of(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_string();
        rest = rest[eq + 1..].trim_start();
        let val;
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            val = r[..end].to_string();
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            val = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        out.push((key, val));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_as_registries_send_them() {
        // Docker Hub's answer to an anonymous /v2/ (recorded).
        assert_eq!(
            parse_challenge_str(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io""#
            ),
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into())
            }
        );
        // A manifest request adds a scope with commas inside quotes (recorded from ghcr.io).
        assert_eq!(
            parse_challenge_str(
                r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull,push""#
            ),
            Challenge::Bearer {
                realm: "https://ghcr.io/token".into(),
                service: Some("ghcr.io".into())
            }
        );
        // distribution's htpasswd auth.
        assert_eq!(
            parse_challenge_str(r#"Basic realm="Registry Realm""#),
            Challenge::Basic
        );
        assert_eq!(parse_challenge_str("Negotiate"), Challenge::None);
        assert_eq!(parse_challenge_str("Bearer service=x"), Challenge::None);
    }

    #[test]
    fn platforms_read_like_the_cli_prints_them() {
        let p = Platform {
            os: "windows".into(),
            architecture: "amd64".into(),
            variant: None,
            os_version: Some("10.0.20348.2113".into()),
            digest: None,
        };
        assert_eq!(p.text(), "windows/amd64 10.0.20348.2113");
        let a = Platform {
            os: "linux".into(),
            architecture: "arm".into(),
            variant: Some("v7".into()),
            os_version: None,
            digest: None,
        };
        assert_eq!(a.text(), "linux/arm/v7");
    }
}
