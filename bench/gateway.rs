//! The Docker API gateway against the engine's socket, side by side in one run, with the real
//! docker CLI on both sides: `docker ps -a` (at the fixture's container count), `docker logs`
//! of a 100 MB log, and Berth's memory while 50 `docker logs -f` follow through it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::fixture::{Fixture, create_container, start_container};
use crate::http::Conn;

pub struct Figures {
    pub ps_gateway: Duration,
    pub ps_direct: Duration,
    pub logs_gateway_mbps: f64,
    pub logs_direct_mbps: f64,
    /// The same log through a plain byte relay (TCP to the socket, no HTTP in between): what
    /// the TCP hop and a third busy process on the machine cost without Berth.
    pub logs_relay_mbps: f64,
    pub followers: usize,
    pub kb_per_follower: f64,
}

const LOG_BYTES: u64 = 100 << 20;

struct Cli {
    gateway: String,
    direct: String,
    relay: String,
    config: std::path::PathBuf,
}

#[derive(Clone, Copy)]
enum Via {
    Gateway,
    Relay,
    Direct,
}

impl Cli {
    fn command(&self, via: Via, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.env(
            "DOCKER_HOST",
            match via {
                Via::Gateway => &self.gateway,
                Via::Relay => &self.relay,
                Via::Direct => &self.direct,
            },
        )
        .env("DOCKER_CONFIG", &self.config)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        c
    }

    /// Runs to the end on the blocking pool; how long it took.
    async fn time(&self, via: Via, args: &[&str]) -> Result<Duration> {
        let mut c = self.command(via, args);
        let what = format!("docker {}", args.join(" "));
        tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let out = c.output().context("running the docker CLI")?;
            if !out.status.success() {
                bail!("{what}: {}", String::from_utf8_lossy(&out.stderr));
            }
            Ok(t.elapsed())
        })
        .await?
    }
}

/// A TCP listener on loopback that copies bytes to and from the engine's socket, nothing else.
async fn byte_relay(socket: &str) -> Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let socket = socket.to_string();
    let task = tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let socket = socket.clone();
            tokio::spawn(async move {
                if let Ok(mut unix) = tokio::net::UnixStream::connect(&socket).await {
                    let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
                }
            });
        }
    });
    Ok((addr, task))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub async fn run(
    fx: &Fixture,
    c: &mut Conn,
    addr: &str,
    pid: u32,
    samples: usize,
) -> Result<Figures> {
    let a = c
        .post_json("/api/tokens", &serde_json::json!({"name": "bench-gateway"}))
        .await?;
    if a.status != 201 {
        bail!("POST /api/tokens answered {}", a.status);
    }
    let token: serde_json::Value = serde_json::from_slice(&a.body)?;
    let token = token["token"]
        .as_str()
        .ok_or_else(|| anyhow!("no token in the answer"))?;
    let config = std::env::temp_dir().join(format!("berth-bench-docker-{}", fx.run));
    std::fs::create_dir_all(&config)?;
    std::fs::write(
        config.join("config.json"),
        serde_json::json!({"HttpHeaders": {"X-API-Key": token}}).to_string(),
    )?;
    let (relay_addr, relay) = byte_relay(&fx.socket).await?;
    let cli = Cli {
        gateway: format!("tcp://{addr}/api/docker"),
        direct: format!("unix://{}", fx.socket),
        relay: format!("tcp://{relay_addr}"),
        config: config.clone(),
    };
    let figures = measure(fx, &cli, pid, samples).await;
    relay.abort();
    let _ = std::fs::remove_dir_all(&config);
    figures
}

async fn measure(fx: &Fixture, cli: &Cli, pid: u32, samples: usize) -> Result<Figures> {
    // docker ps -a, alternating so that both see the same machine.
    let (mut g, mut d) = (Vec::new(), Vec::new());
    for i in 0..samples + 2 {
        let tg = cli.time(Via::Gateway, &["ps", "-a"]).await?;
        let td = cli.time(Via::Direct, &["ps", "-a"]).await?;
        if i >= 2 {
            g.push(tg);
            d.push(td);
        }
    }

    // A 100 MB log, read whole, three times each way.
    let mut engine = Conn::unix(&fx.socket);
    let line = "0123456789".repeat(10);
    let script = format!("yes {line} | head -c {LOG_BYTES}");
    let name = fx.name("gwlog");
    let id = create_container(&mut engine, &fx.run, &name, &["sh", "-c", &script]).await?;
    start_container(&mut engine, &id).await?;
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let a = engine.get(&format!("/containers/{id}/json")).await?;
        let v: serde_json::Value = serde_json::from_slice(&a.body)?;
        if v["State"]["Status"] == "exited" {
            break;
        }
        if Instant::now() > until {
            bail!("the 100 MB log container did not finish within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (mut lg, mut ld, mut lr) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        lg.push(cli.time(Via::Gateway, &["logs", &id]).await?);
        ld.push(cli.time(Via::Direct, &["logs", &id]).await?);
        lr.push(cli.time(Via::Relay, &["logs", &id]).await?);
    }
    let mbps = |d: Duration| LOG_BYTES as f64 / 1048576.0 / d.as_secs_f64();

    // 50 followers of a running container's log, through the gateway.
    let name = fx.name("gwfollow");
    let id = create_container(
        &mut engine,
        &fx.run,
        &name,
        &["sh", "-c", "while true; do echo tick; sleep 1; done"],
    )
    .await?;
    start_container(&mut engine, &id).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = crate::linux::rss_kb(pid);
    let followers = 50;
    let mut children = Vec::new();
    for _ in 0..followers {
        children.push(cli.command(Via::Gateway, &["logs", "-f", &id]).spawn()?);
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during = crate::linux::rss_kb(pid);
    for mut ch in children {
        let _ = ch.kill();
        let _ = ch.wait();
    }
    Ok(Figures {
        ps_gateway: median(g),
        ps_direct: median(d),
        logs_gateway_mbps: mbps(median(lg)),
        logs_direct_mbps: mbps(median(ld)),
        logs_relay_mbps: mbps(median(lr)),
        followers,
        kb_per_follower: during.saturating_sub(before) as f64 / followers as f64,
    })
}
