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

/// Faults a plain relay injects, set while it runs. The event stream is told from the other
/// requests by its request line (`GET /v1.xx/events?…` without `until`): after it, its
/// connection carries nothing else (hyper gives a streaming answer its connection to itself).
#[derive(Default)]
pub struct Faults {
    /// Each bump resets (RST) every event-stream connection open now.
    cut_events: AtomicU64,
    /// Unix milliseconds until which the engine's bytes on event-stream connections are held
    /// (kept, then passed on), the connections left open.
    stall_events_until: AtomicU64,
    /// Milliseconds every request waits before it reaches the engine.
    delay_ms: AtomicU64,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

impl Faults {
    /// Resets the event-stream connections open now (the other connections keep working).
    pub fn cut_events(&self) {
        self.cut_events.fetch_add(1, Ordering::SeqCst);
    }

    /// Holds the engine's bytes on event-stream connections for `d` (open ones and new ones).
    pub fn stall_events(&self, d: std::time::Duration) {
        self.stall_events_until
            .store(unix_ms() + d.as_millis() as u64, Ordering::SeqCst);
    }

    /// Delays every request by `d` (zero: none).
    pub fn delay(&self, d: std::time::Duration) {
        self.delay_ms.store(d.as_millis() as u64, Ordering::SeqCst);
    }

    fn stalled(&self) -> bool {
        unix_ms() < self.stall_events_until.load(Ordering::SeqCst)
    }
}

/// Passes bytes both ways through a plain connection, with the relay's faults.
async fn pump(mut tcp: tokio::net::TcpStream, mut engine: UnixStream, faults: Arc<Faults>) {
    use std::sync::atomic::AtomicBool;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let events = AtomicBool::new(false);
    let cuts = faults.cut_events.load(Ordering::SeqCst);
    let cut = {
        let (mut cr, mut cw) = tcp.split();
        let (mut er, mut ew) = engine.split();
        let up = async {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match cr.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let head = &buf[..n.min(256)];
                let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
                // The stream itself: a request bounded by `until` is answered at once.
                if line.starts_with(b"GET ")
                    && line.windows(8).any(|w| w == b"/events?")
                    && !line.windows(6).any(|w| w == b"until=")
                {
                    events.store(true, Ordering::SeqCst);
                }
                let delay = faults.delay_ms.load(Ordering::SeqCst);
                if delay > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                }
                if ew.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        };
        let down = async {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match er.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                while events.load(Ordering::SeqCst) && faults.stalled() {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                if cw.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        };
        let watch_cut = async {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                if events.load(Ordering::SeqCst) && faults.cut_events.load(Ordering::SeqCst) != cuts
                {
                    return;
                }
            }
        };
        // Either side closing ends the connection (as the engine's own socket would).
        tokio::select! {
            _ = up => false,
            _ = down => false,
            _ = watch_cut => true,
        }
    };
    if cut {
        // A reset, not a polite close.
        let _ = tcp.set_zero_linger();
    }
}

/// A relay from 127.0.0.1 to the engine's socket; stop it and start it again on the same port.
pub struct Relay {
    pub addr: SocketAddr,
    tls: Option<Arc<ServerConfig>>,
    stop: CancellationToken,
    /// Faults injected on plain relays.
    pub faults: Arc<Faults>,
    /// Connections forwarded so far.
    pub connections: Arc<AtomicU64>,
    /// Connections open through the relay now.
    pub open: Arc<AtomicU64>,
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
            faults: Arc::default(),
            connections: Arc::new(AtomicU64::new(0)),
            open: Arc::new(AtomicU64::new(0)),
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

    /// Connections open through the relay now.
    pub fn open_now(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
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
        let open = self.open.clone();
        let faults = self.faults.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = tokio::select! {
                    _ = stop.cancelled() => return,
                    r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                };
                count.fetch_add(1, Ordering::Relaxed);
                let stop = stop.clone();
                let tls = tls.clone();
                let open = open.clone();
                let faults = faults.clone();
                tokio::spawn(async move {
                    open.fetch_add(1, Ordering::Relaxed);
                    let _open = OpenGuard(open);
                    let Ok(mut engine) = UnixStream::connect(ENGINE_SOCKET).await else {
                        return;
                    };
                    match tls {
                        None => {
                            tokio::select! {
                                _ = stop.cancelled() => {}
                                _ = pump(tcp, engine, faults) => {}
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

/// Counts a connection closed when its task ends, however it ends.
struct OpenGuard(Arc<AtomicU64>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
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
