//! Log streaming figures (not a test: run `cargo bench --bench logs`).
//!
//! 1. Latency: a container prints 100 lines, 50 ms apart; Berth follows its log over SSE with
//!    timestamps. For each line, arrival time at the SSE client minus the engine's timestamp
//!    (taken when the line left the container's stdout; same host, same clock).
//! 2. Throughput: a container floods its stdout (`yes`); for 10 s, the bytes of log text (and of
//!    SSE on the wire) one follow stream delivers; then, as a baseline, what `docker logs -f`
//!    gets from the engine for the same flood.
//!
//! Needs the local engine and the test image (scripts/test-image.sh).

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use futures_util::StreamExt;

const IMAGE: &str = "berth-test/busybox:latest";
const PASSWORD: &str = "bench-password-long-enough";

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes the bench's containers, also when it panics.
struct Cleanup(String);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter", &format!("label={}", self.0)])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        for id in ids.lines().filter(|l| !l.is_empty()) {
            let _ = Command::new("docker").args(["rm", "-f", id]).output();
        }
    }
}

/// Unix nanoseconds of the engine's RFC 3339 timestamp.
fn ts_nanos(s: &str) -> Option<i128> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    let frac = format!("{:0<9}", &frac[..frac.len().min(9)])
        .parse::<i128>()
        .ok()?;
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60 + ss) as i128 * 1_000_000_000 + frac)
}

fn now_nanos() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128
}

struct Sse {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
    wire: usize,
}

impl Sse {
    async fn open(c: &reqwest::Client, url: &str) -> Sse {
        let r = c.get(url).send().await.expect("stream opens");
        assert_eq!(r.status(), 200, "{url}");
        Sse {
            body: r.bytes_stream().boxed(),
            buf: String::new(),
            wire: 0,
        }
    }

    /// The lines of the next `lines` event.
    async fn lines(&mut self) -> Vec<serde_json::Value> {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                if block.starts_with("event: lines") || block.starts_with("event:lines") {
                    let data: String = block
                        .lines()
                        .filter_map(|l| l.strip_prefix("data:"))
                        .map(|d| d.strip_prefix(' ').unwrap_or(d))
                        .collect::<Vec<_>>()
                        .join("\n");
                    return serde_json::from_str(&data).expect("lines are JSON");
                }
                assert!(!block.contains("event: failure"), "{block}");
            }
            let chunk = self.body.next().await.expect("stream open").expect("chunk");
            self.wire += chunk.len();
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn wait_listed(c: &reqwest::Client, base: &str, id: &str) {
    for _ in 0..200 {
        let list: serde_json::Value = c
            .get(format!("{base}/api/containers"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if list
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"].as_str() == Some(id))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the mirror never listed {id}");
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs bench targets too, without
    // it: the measurement is not a test, so it only runs when asked for.
    if !std::env::args().any(|a| a == "--bench") {
        println!("logs bench: run it with `cargo bench --bench logs`");
        return;
    }
    berth::install_crypto_provider();
    if !Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
    {
        eprintln!("{IMAGE} is missing: run scripts/test-image.sh first");
        std::process::exit(2);
    }
    let tmp = tempfile::tempdir().unwrap();
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    let config = berth::Config::parse_from([
        "berth",
        "--bind",
        "127.0.0.1:0",
        "--data",
        tmp.path().to_str().unwrap(),
        "--admin-password-file",
        pw.to_str().unwrap(),
        "-H",
        "unix:///var/run/docker.sock",
    ]);
    let listener = tokio::net::TcpListener::bind(config.bind).await.unwrap();
    let server = berth::launch(config, listener, std::future::pending())
        .await
        .unwrap();
    let base = server.url();
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = c
        .post(format!("{base}/login"))
        .form(&[("username", "admin"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "login");
    let label = format!("berth.test=bench-{}", std::process::id());
    let _cleanup = Cleanup(label.clone());

    // ---- 1. latency
    let id = docker(&[
        "run",
        "-d",
        "--label",
        &label,
        IMAGE,
        "sh",
        "-c",
        "sleep 2; i=0; while [ $i -lt 100 ]; do echo tick-$i; i=$((i+1)); sleep 0.05; done; sleep 3600",
    ]);
    wait_listed(&c, &base, &id).await;
    let mut sse = Sse::open(
        &c,
        &format!("{base}/containers/{id}/logs/stream?tail=0&timestamps=true"),
    )
    .await;
    let mut lat_ms = Vec::new();
    while lat_ms.len() < 100 {
        let batch = tokio::time::timeout(Duration::from_secs(30), sse.lines())
            .await
            .expect("lines keep coming");
        let arrived = now_nanos();
        for l in batch {
            let t = l["t"].as_str().unwrap();
            let (ts, text) = t.split_once(' ').unwrap();
            assert!(text.starts_with("tick-"), "{t}");
            let printed = ts_nanos(ts).expect("engine timestamp");
            lat_ms.push((arrived - printed) as f64 / 1e6);
        }
    }
    drop(sse);
    lat_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| lat_ms[((lat_ms.len() - 1) as f64 * p).round() as usize];

    // ---- 2. throughput
    let line = "berth throughput line 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789";
    let cmd = format!("sleep 1; yes '{line}'");
    let id = docker(&[
        "run",
        "-d",
        "--label",
        &label,
        "--log-opt",
        "max-size=20m",
        "--log-opt",
        "max-file=2",
        IMAGE,
        "sh",
        "-c",
        &cmd,
    ]);
    wait_listed(&c, &base, &id).await;
    let mut sse = Sse::open(&c, &format!("{base}/containers/{id}/logs/stream?tail=0")).await;
    // Let the flood start, then measure 10 s.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(2) {
        sse.lines().await;
    }
    let (wire0, start) = (sse.wire, Instant::now());
    let (mut lines, mut text_bytes, mut events) = (0usize, 0usize, 0usize);
    while start.elapsed() < Duration::from_secs(10) {
        let batch = sse.lines().await;
        events += 1;
        lines += batch.len();
        text_bytes += batch
            .iter()
            .map(|l| l["t"].as_str().unwrap().len() + 1)
            .sum::<usize>();
    }
    let secs = start.elapsed().as_secs_f64();
    let wire = sse.wire - wire0;
    drop(sse);

    // The engine's own pace for the same flood, as a baseline: `docker logs -f` for 10 s.
    let cli_rate = {
        use std::io::Read;
        let mut child = Command::new("docker")
            .args(["logs", "-f", "--tail", "0", &id])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker logs runs");
        let mut out = child.stdout.take().unwrap();
        let start = Instant::now();
        let mut n = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        while start.elapsed() < Duration::from_secs(10) {
            match out.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        n as f64 / start.elapsed().as_secs_f64()
    };

    println!("log line latency, container stdout → SSE client (100 lines, 50 ms apart):");
    println!(
        "  median {:.1} ms, p90 {:.1} ms, min {:.1} ms, max {:.1} ms",
        pct(0.5),
        pct(0.9),
        lat_ms[0],
        lat_ms[lat_ms.len() - 1]
    );
    println!("follow stream throughput (`yes` flood, {secs:.1} s):");
    println!(
        "  {:.1} MB/s of log text ({:.0} lines/s), {:.1} MB/s of SSE on the wire, {:.0} lines per event",
        text_bytes as f64 / secs / 1e6,
        lines as f64 / secs,
        wire as f64 / secs / 1e6,
        lines as f64 / events.max(1) as f64
    );
    println!(
        "  baseline: `docker logs -f` on the same flood: {:.1} MB/s",
        cli_rate / 1e6
    );
}
