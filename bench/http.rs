//! A minimal keep-alive HTTP/1.1 client over TCP (Berth) or the engine's unix socket, so that
//! both sides are measured the same way: one request at a time on one connection, the whole
//! body read, nothing parsed.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

pub enum Target {
    Tcp(String),
    Unix(String),
}

pub struct Conn {
    target: Target,
    host: String,
    send: Option<SendRequest<Full<Bytes>>>,
    pub cookie: Option<String>,
}

pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    pub set_cookie: Option<String>,
    pub took: Duration,
}

impl Conn {
    pub fn tcp(addr: &str) -> Self {
        Conn {
            target: Target::Tcp(addr.to_string()),
            host: addr.to_string(),
            send: None,
            cookie: None,
        }
    }

    pub fn unix(path: &str) -> Self {
        Conn {
            target: Target::Unix(path.to_string()),
            host: "docker".into(),
            send: None,
            cookie: None,
        }
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Full<Bytes>>> {
        if self.send.as_ref().is_none_or(|s| s.is_closed()) {
            let send = match &self.target {
                Target::Tcp(a) => {
                    let s = tokio::net::TcpStream::connect(a)
                        .await
                        .with_context(|| format!("connect {a}"))?;
                    s.set_nodelay(true)?;
                    let (send, conn) =
                        hyper::client::conn::http1::handshake(TokioIo::new(s)).await?;
                    tokio::spawn(conn);
                    send
                }
                Target::Unix(p) => {
                    let s = tokio::net::UnixStream::connect(p)
                        .await
                        .with_context(|| format!("connect {p}"))?;
                    let (send, conn) =
                        hyper::client::conn::http1::handshake(TokioIo::new(s)).await?;
                    tokio::spawn(conn);
                    send
                }
            };
            self.send = Some(send);
        }
        self.send.as_mut().ok_or_else(|| anyhow!("no connection"))
    }

    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Answer> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        if let Some(c) = &self.cookie {
            b = b.header("cookie", c);
        }
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        let req = b.body(Full::new(Bytes::from(body)))?;
        let started = Instant::now();
        let send = self.connect().await?;
        send.ready().await?;
        let resp = send.send_request(req).await?;
        let status = resp.status().as_u16();
        let set_cookie = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_string);
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            body,
            set_cookie,
            took: started.elapsed(),
        })
    }

    pub async fn get(&mut self, path: &str) -> Result<Answer> {
        self.request("GET", path, None, Vec::new()).await
    }

    pub async fn post_json(&mut self, path: &str, json: &serde_json::Value) -> Result<Answer> {
        self.request(
            "POST",
            path,
            Some("application/json"),
            serde_json::to_vec(json)?,
        )
        .await
    }

    /// POST /login and keep the session cookie.
    pub async fn login(&mut self, user: &str, password: &str) -> Result<()> {
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("username", user)
            .append_pair("password", password)
            .finish();
        let a = self
            .request(
                "POST",
                "/login",
                Some("application/x-www-form-urlencoded"),
                form.into_bytes(),
            )
            .await?;
        if a.status != 303 {
            return Err(anyhow!("login answered {}", a.status));
        }
        self.cookie = Some(a.set_cookie.ok_or_else(|| anyhow!("login set no cookie"))?);
        Ok(())
    }
}
