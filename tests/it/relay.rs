//! Relays in front of the engine's socket, standing in for remote engines: plain TCP (like
//! 2375) and TLS demanding a client certificate (like 2376), with certificates made by rcgen.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, UnixStream};
use tokio_util::sync::CancellationToken;

pub const ENGINE_SOCKET: &str = "/var/run/docker.sock";

/// A certificate authority for a test.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key, PEM.
pub struct Leaf {
    pub cert: String,
    pub key: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = p.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(p, key),
        }
    }

    /// A server certificate for `names` (IP addresses become IP names).
    pub fn server(&self, names: &[&str], expired: bool) -> Leaf {
        self.leaf(names, ExtendedKeyUsagePurpose::ServerAuth, expired)
    }

    /// A client certificate (extended key usage clientAuth).
    pub fn client(&self, name: &str) -> Leaf {
        self.leaf(&[name], ExtendedKeyUsagePurpose::ClientAuth, false)
    }

    fn leaf(&self, names: &[&str], usage: ExtendedKeyUsagePurpose, expired: bool) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.distinguished_name.push(DnType::CommonName, names[0]);
        p.extended_key_usages = vec![usage];
        if expired {
            p.not_before = rcgen::date_time_ymd(2019, 1, 1);
            p.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// TLS settings of a relay: its certificate, and the CA client certificates must chain to.
pub struct TlsSide {
    pub server: Leaf,
    pub client_ca: Option<String>,
}

fn server_config(side: &TlsSide) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = CertificateDer::pem_slice_iter(side.server.cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(side.server.key.as_bytes()).unwrap();
    let b = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let b = match &side.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots.add(c.unwrap()).unwrap();
            }
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            b.with_client_cert_verifier(v)
        }
        None => b.with_no_client_auth(),
    };
    Arc::new(b.with_single_cert(chain, key).unwrap())
}

/// A relay from 127.0.0.1 to the engine's socket; stop it and start it again on the same port.
pub struct Relay {
    pub addr: SocketAddr,
    tls: Option<Arc<ServerConfig>>,
    stop: CancellationToken,
    /// Connections forwarded so far.
    pub connections: Arc<AtomicU64>,
}

impl Relay {
    /// Plain TCP, like an engine on 2375.
    pub async fn tcp() -> Relay {
        Self::start(None).await
    }

    /// TLS, like an engine on 2376 (demanding a client certificate when `client_ca` is set).
    pub async fn tls(side: &TlsSide) -> Relay {
        Self::start(Some(server_config(side))).await
    }

    async fn start(tls: Option<Arc<ServerConfig>>) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut r = Relay {
            addr: listener.local_addr().unwrap(),
            tls,
            stop: CancellationToken::new(),
            connections: Arc::new(AtomicU64::new(0)),
        };
        r.serve(listener);
        r
    }

    pub fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    pub fn forwarded(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Closes the port and every connection through it.
    pub fn stop(&mut self) {
        self.stop.cancel();
    }

    /// Listens again on the same port.
    pub async fn resume(&mut self) {
        self.stop = CancellationToken::new();
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("relay cannot listen on {} again: {e}", self.addr),
            }
        };
        self.serve(listener);
    }

    fn serve(&mut self, listener: TcpListener) {
        let stop = self.stop.clone();
        let tls = self.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let count = self.connections.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = tokio::select! {
                    _ = stop.cancelled() => return,
                    r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                };
                count.fetch_add(1, Ordering::Relaxed);
                let stop = stop.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let Ok(mut engine) = UnixStream::connect(ENGINE_SOCKET).await else {
                        return;
                    };
                    match tls {
                        None => {
                            let mut tcp = tcp;
                            tokio::select! {
                                _ = stop.cancelled() => {}
                                _ = tokio::io::copy_bidirectional(&mut tcp, &mut engine) => {}
                            }
                        }
                        Some(acceptor) => {
                            let Ok(mut s) = acceptor.accept(tcp).await else {
                                return;
                            };
                            tokio::select! {
                                _ = stop.cancelled() => {}
                                _ = tokio::io::copy_bidirectional(&mut s, &mut engine) => {}
                            }
                        }
                    }
                });
            }
        });
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A port that accepts connections and answers `reply` (or nothing at all when None).
pub async fn fake_engine(reply: Option<&'static str>) -> (SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (mut tcp, _) = tokio::select! {
                _ = s.cancelled() => return,
                r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
            };
            match reply {
                Some(text) => {
                    tokio::spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut buf = [0u8; 1024];
                        let _ = tcp.read(&mut buf).await;
                        let _ = tcp.write_all(text.as_bytes()).await;
                        let _ = tcp.shutdown().await;
                    });
                }
                None => held.push(tcp),
            }
        }
    });
    (addr, stop)
}

/// A port nobody listens on.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
