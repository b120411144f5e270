//! Berth's own UI over TLS (rustls): the certificate given with `--ssl-cert`/`--ssl-key`, else
//! one generated once (a small local CA and a server certificate signed by it, kept in
//! `<data>/tls/`), and a listener that shakes hands off the accept loop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Put in every request that came in over TLS.
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

/// Whether the request came over TLS (cookies then get `Secure`).
#[derive(Debug, Clone, Copy)]
pub struct Secure(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Secure {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Secure(parts.extensions.get::<OverTls>().is_some()))
    }
}

/// Where the generated certificate lives.
pub fn generated_paths(data: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let dir = data.join("tls");
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

/// SHA-256 of a certificate, as browsers show it (AB:CD:…).
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Generates the local CA and a server certificate for localhost, 127.0.0.1, ::1 and this
/// host's name. Returns (ca pem, chain pem, key pem).
pub fn generate() -> anyhow::Result<(String, String, String)> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "Berth local CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if let Ok(h) = std::env::var("HOSTNAME")
        && !h.is_empty()
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        names.push(h);
    }
    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(names)?;
    leaf.distinguished_name.push(DnType::CommonName, "Berth");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = leaf.signed_by(&key, &issuer)?;
    Ok((
        ca_cert.pem(),
        format!("{}{}", cert.pem(), ca_cert.pem()),
        key.serialize_pem(),
    ))
}

/// The server configuration: given files, or the generated certificate (made on first start).
pub fn server_config(config: &Config) -> anyhow::Result<Arc<ServerConfig>> {
    let (cert_path, key_path) = match (&config.ssl_cert, &config.ssl_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        (Some(_), None) | (None, Some(_)) => {
            anyhow::bail!("--ssl-cert and --ssl-key go together: give both, or neither")
        }
        (None, None) => {
            let (ca, cert, key) = generated_paths(&config.data);
            if !cert.exists() || !key.exists() {
                let (ca_pem, chain_pem, key_pem) = generate()?;
                let dir = cert.parent().context("tls folder")?;
                std::fs::create_dir_all(dir)?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
                }
                crate::endpoints::write_secret(&ca, ca_pem.as_bytes())?;
                crate::endpoints::write_secret(&cert, chain_pem.as_bytes())?;
                crate::endpoints::write_secret(&key, key_pem.as_bytes())?;
                tracing::info!(ca = %ca.display(), "generated a self-signed certificate for HTTPS (trust its CA, or give --ssl-cert/--ssl-key)");
            }
            (cert, key)
        }
    };
    let chain = CertificateDer::pem_file_iter(&cert_path)
        .with_context(|| format!("reading {}", cert_path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate", cert_path.display()))?;
    let first = chain
        .first()
        .with_context(|| format!("no certificate in {}", cert_path.display()))?;
    tracing::info!(fingerprint = %fingerprint(first), cert = %cert_path.display(), "HTTPS certificate (SHA-256)");
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("no private key in {}", key_path.display()))?;
    let mut sc =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("the HTTPS certificate and key do not go together")?;
    sc.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(sc))
}

/// Accepts TCP connections and completes their TLS handshakes in the background, so that a
/// slow or broken client never holds up the others.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

impl TlsListener {
    pub fn new(
        tcp: TcpListener,
        config: Arc<ServerConfig>,
        stop: CancellationToken,
    ) -> std::io::Result<Self> {
        let addr = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    _ = stop.cancelled() => return,
                    r = tcp.accept() => match r {
                        Ok(x) => x,
                        Err(e) => {
                            tracing::debug!(error = %e, "https accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake with a client failed")
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake with a client timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { rx, addr })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}
