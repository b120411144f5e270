//! The benchmark itself (Linux: it drives the engine over its unix socket and reads /proc).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;

use crate::fixture::{self, Fixture};
use crate::http::Conn;

const PASSWORD: &str = "bench-admin-password";

#[derive(Parser, Debug)]
#[command(name = "bench", about = "Berth against the raw engine, side by side")]
struct Args {
    /// Containers to create (half running `sleep`, half stopped).
    #[arg(long, default_value_t = 1000)]
    containers: usize,
    /// Concurrent logged-in clients in the load phase.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Length of the load phase, in seconds.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Requests per page in the side-by-side latency phase.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// The engine's socket.
    #[arg(long, default_value = "/var/run/docker.sock")]
    socket: String,
    /// Measure only the Docker API gateway against the engine (after the fixture and the first
    /// listing), skipping the page, load and churn phases.
    #[arg(long)]
    gateway_only: bool,
}

pub fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("serve") {
        return serve(argv[1..].to_vec());
    }
    let args = Args::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let mut fx = Fixture::new(&args.socket);
        let outcome = tokio::select! {
            r = bench(&args, &fx) => r,
            _ = interrupted() => Err(anyhow!("interrupted")),
        };
        eprintln!("bench: cleaning up run {}…", fx.run);
        if let Err(e) = fx.cleanup().await {
            eprintln!("bench: cleanup through the API failed ({e}); falling back to the CLI");
        }
        drop(fx);
        match outcome {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("bench: {e:#}");
                ExitCode::from(2)
            }
        }
    })
}

async fn interrupted() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
    }
}

/// The child process: Berth exactly as `main` runs it, with the flags given.
fn serve(argv: Vec<String>) -> ExitCode {
    berth::alloc::tune();
    let config = berth::Config::parse_from(argv);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        // Standard error: standard output carries the PASS/FAIL lines.
        berth::init_logging(&config, std::io::stderr);
        let listener = match tokio::net::TcpListener::bind(config.bind).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cannot listen on {}: {e}", config.bind);
                return ExitCode::FAILURE;
            }
        };
        let stop = async {
            if let Ok(mut s) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                s.recv().await;
            }
        };
        match berth::launch(config, listener, stop).await {
            Ok(server) => {
                server.wait().await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("Berth could not start: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}

// ---------------------------------------------------------------- measuring

struct Stats {
    p50: Duration,
    p99: Duration,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    let at = |p: usize| v[(v.len() * p / 100).min(v.len() - 1)];
    Stats {
        p50: at(50),
        p99: at(99),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn proc_kb(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Berth's resident memory now, in KB.
pub fn rss_kb(pid: u32) -> u64 {
    proc_kb(pid, "VmRSS:").unwrap_or(0)
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// `name value` of one sample in Prometheus text.
fn metric(text: &str, name: &str) -> Result<u64> {
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("{name} not in /metrics"))
}

/// Berth's own account of its memory (from /metrics), in MB.
async fn memory(c: &mut Conn) -> Result<String> {
    let m = String::from_utf8_lossy(&c.get("/metrics").await?.body).into_owned();
    let f = |name: &str| metric(&m, name).map_or(f64::NAN, |b| b as f64 / 1048576.0);
    Ok(format!(
        "anon {:.1} MB (heap in use {:.1}, free in arenas {:.1}), file-backed {:.1} MB",
        f("berth_resident_anon_bytes"),
        f("berth_heap_used_bytes"),
        f("berth_heap_free_bytes"),
        f("berth_resident_file_bytes"),
    ))
}

struct Verdicts {
    all_pass: bool,
}

impl Verdicts {
    fn line(&mut self, pass: bool, name: &str, figure: String) {
        self.all_pass &= pass;
        println!("{} {name} {figure}", if pass { "PASS" } else { "FAIL" });
    }
}

struct Berth {
    child: tokio::process::Child,
    pid: u32,
    addr: String,
    _data: DataDir,
}

/// Berth's data folder for the run, removed afterwards.
struct DataDir(std::path::PathBuf);

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start_berth(socket: &str) -> Result<(Berth, Duration)> {
    let data = DataDir(std::env::temp_dir().join(format!("berth-bench-{}", std::process::id())));
    std::fs::create_dir_all(&data.0)?;
    let pw = data.0.join("admin-password");
    std::fs::write(&pw, PASSWORD)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let child = tokio::process::Command::new(exe)
        .arg("serve")
        .args(["--bind", &addr])
        .arg("--data")
        .arg(&data.0)
        .arg("--admin-password-file")
        .arg(&pw)
        .args(["-H", &format!("unix://{socket}")])
        .args(["--log-level", "warn"])
        .kill_on_drop(true)
        .spawn()
        .context("starting Berth")?;
    let pid = child.id().ok_or_else(|| anyhow!("Berth has no pid"))?;
    let mut c = Conn::tcp(&addr);
    loop {
        if let Ok(a) = c.get("/healthz").await
            && a.status == 200
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("Berth did not answer /healthz within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let cold = started.elapsed();
    Ok((
        Berth {
            child,
            pid,
            addr,
            _data: data,
        },
        cold,
    ))
}

async fn bench(args: &Args, fx: &Fixture) -> Result<bool> {
    let mut v = Verdicts { all_pass: true };
    let n = args.containers;
    fx.ensure_image().await?;
    eprintln!(
        "bench: run {}: preparing {n} containers, 50 images, 50 networks, 200 volumes…",
        fx.run
    );
    let t = Instant::now();
    fx.prepare(n).await?;
    eprintln!("bench: prepared in {:.0} s", t.elapsed().as_secs_f64());
    let mut engine = Conn::unix(&fx.socket);
    let all: serde_json::Value =
        serde_json::from_slice(&engine.get("/containers/json?all=1").await?.body)?;
    let engine_total = all.as_array().map_or(0, Vec::len);

    // Cold start, then the first full listing.
    let (mut berth, cold) = start_berth(&fx.socket).await?;
    let mut c = Conn::tcp(&berth.addr);
    c.login("admin", PASSWORD).await?;
    let synced = Instant::now();
    loop {
        let m = String::from_utf8_lossy(&c.get("/metrics").await?.body).into_owned();
        if metric(&m, "berth_mirror_containers")? as usize >= engine_total {
            break;
        }
        if synced.elapsed() > Duration::from_secs(60) {
            bail!("the mirror never listed the {engine_total} containers");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Idle: long enough for Berth's housekeeping (every 5 s) to have run once.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let idle_start = proc_kb(berth.pid, "VmRSS:").unwrap_or(0);
    let mem_start = memory(&mut c).await?;

    if args.gateway_only {
        gateway_lines(&mut v, fx, &mut c, &berth, engine_total, args.samples).await?;
        return Ok(v.all_pass);
    }
    println!(
        "Berth vs engine at {engine_total} containers ({n} from this run), samples {}:",
        args.samples
    );
    println!(
        "  {:<16} {:>9} {:>9}   {:<26} {:>9} {:>9}   {:>6}",
        "Berth", "p50 ms", "p99 ms", "engine", "p50 ms", "p99 ms", "ratio"
    );
    let before = String::from_utf8_lossy(&c.get("/metrics").await?.body).into_owned();
    let pairs = [
        ("/containers", "/containers/json?all=1"),
        ("/api/containers", "/containers/json?all=1"),
        ("/images", "/images/json"),
        ("/api/images", "/images/json"),
        ("/volumes", "/volumes"),
        ("/api/volumes", "/volumes"),
        ("/", "/info"),
    ];
    let mut views = 0u64;
    let mut containers_html = None;
    for (page, raw) in pairs {
        let (mut b, mut e) = (Vec::new(), Vec::new());
        for i in 0..args.samples + 10 {
            let a = c.get(page).await?;
            if a.status != 200 {
                bail!("{page} answered {}", a.status);
            }
            let r = engine.get(raw).await?;
            if r.status != 200 {
                bail!("engine {raw} answered {}", r.status);
            }
            views += 1;
            if i >= 10 {
                b.push(a.took);
                e.push(r.took);
            }
        }
        let (sb, se) = (stats(b), stats(e));
        let ratio = ms(sb.p50) / ms(se.p50);
        println!(
            "  {page:<16} {:>9.2} {:>9.2}   {raw:<26} {:>9.2} {:>9.2}   {ratio:>6.3}",
            ms(sb.p50),
            ms(sb.p99),
            ms(se.p50),
            ms(se.p99)
        );
        if page == "/containers" {
            containers_html = Some((sb, ratio));
        }
    }
    let after = String::from_utf8_lossy(&c.get("/metrics").await?.body).into_owned();
    let in_req = metric(&after, "berth_engine_requests_in_requests_total")?
        - metric(&before, "berth_engine_requests_in_requests_total")?;
    let total = metric(&after, "berth_engine_requests_total")?
        - metric(&before, "berth_engine_requests_total")?;
    let renders = metric(&after, "berth_renders_total")? - metric(&before, "berth_renders_total")?;
    let render_us = metric(&after, "berth_render_microseconds_total")?
        - metric(&before, "berth_render_microseconds_total")?;
    println!(
        "  shared list renderings during those views: {renders}, {:.2} ms each on average",
        render_us as f64 / 1000.0 / renders.max(1) as f64
    );
    println!(
        "  engine calls during {views} page views: {in_req} for requests, {total} in all (the mirror's own included)"
    );

    // 50 logged-in clients at once.
    let load = load(args, &berth).await?;
    let idle_after = {
        tokio::time::sleep(Duration::from_secs(11)).await;
        proc_kb(berth.pid, "VmRSS:").unwrap_or(0)
    };
    let mem_after = memory(&mut c).await?;
    let peak_since_load = proc_kb(berth.pid, "VmHWM:").unwrap_or(0);

    // The Docker API gateway beside the engine's socket.
    gateway_lines(&mut v, fx, &mut c, &berth, engine_total, 30).await?;

    // Freshness: a container started on the engine, until /api/containers shows it running.
    let fresh = freshness(fx, &mut c, &mut engine).await?;

    // Time to truth under churn: docker CLI operations, each until Berth shows its result.
    let churned = crate::churn::run(fx, &mut c, 300).await?;

    // Graceful stop.
    let stop_started = Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &berth.pid.to_string()])
        .status();
    let st = tokio::time::timeout(Duration::from_secs(10), berth.child.wait()).await;
    let stop_took = stop_started.elapsed();

    println!(
        "  load: {} clients × {} s: {} requests, {:.0} req/s, {} errors, p50 {:.2} ms, p99 {:.2} ms, peak RSS {:.1} MB during load",
        args.clients,
        args.duration,
        load.requests,
        load.requests as f64 / load.elapsed.as_secs_f64(),
        load.errors,
        ms(load.p50),
        ms(load.p99),
        mb(load.peak_kb)
    );
    println!(
        "  RSS: idle after start {:.1} MB, idle after load {:.1} MB, peak since the load began {:.1} MB",
        mb(idle_start),
        mb(idle_after),
        mb(peak_since_load),
    );
    println!("  memory idle after start: {mem_start}");
    println!("  memory idle after load:  {mem_after}");
    println!(
        "  peak RSS before the load (start, first listing, {} logins at 19 MiB Argon2 each): {:.1} MB",
        args.clients + 1,
        mb(load.peak_before_kb)
    );
    println!(
        "  cold start to first 200 on /healthz: {:.0} ms; SIGTERM to exit: {:.0} ms ({})",
        ms(cold),
        ms(stop_took),
        match st {
            Ok(Ok(s)) => format!("{s}"),
            _ => "did not exit in 10 s".into(),
        }
    );
    println!(
        "  freshness over {} containers: median {:.1} ms, max {:.1} ms",
        fresh.len(),
        ms(stats(fresh.clone()).p50),
        ms(*fresh.iter().max().unwrap_or(&Duration::ZERO))
    );

    let truth = stats(churned.times.clone());
    println!(
        "  time to truth under churn (seed {}): {} CLI operations, p50 {:.1} ms, p99 {:.1} ms; divergences 1 s after the last: {}",
        churned.seed,
        churned.times.len(),
        ms(truth.p50),
        ms(truth.p99),
        churned.divergences.len()
    );
    for d in &churned.divergences {
        println!("    {d}");
    }

    let (sb, ratio) = containers_html.ok_or_else(|| anyhow!("no /containers figures"))?;
    v.line(
        ratio <= 0.5,
        "containers_p50_vs_engine",
        format!("{ratio:.3}"),
    );
    v.line(
        ms(sb.p99) < 10.0,
        "containers_p99_ms",
        format!("{:.2}", ms(sb.p99)),
    );
    let per_view = in_req as f64 / views as f64;
    v.line(
        in_req == 0,
        "engine_calls_per_page_view",
        format!("{per_view:.3}"),
    );
    v.line(load.errors == 0, "load_errors", load.errors.to_string());
    v.line(
        mb(load.peak_kb) < 40.0,
        "load_peak_rss_mb",
        format!("{:.1}", mb(load.peak_kb)),
    );
    v.line(
        mb(idle_start) < 15.0,
        "idle_rss_start_mb",
        format!("{:.1}", mb(idle_start)),
    );
    v.line(
        mb(idle_after) < 15.0,
        "idle_rss_after_load_mb",
        format!("{:.1}", mb(idle_after)),
    );
    let fm = ms(stats(fresh).p50);
    v.line(fm < 200.0, "freshness_median_ms", format!("{fm:.1}"));
    v.line(
        ms(truth.p99) < 250.0,
        "churn_time_to_truth_p99_ms",
        format!("{:.1} (p50 {:.1})", ms(truth.p99), ms(truth.p50)),
    );
    v.line(
        churned.divergences.is_empty(),
        "churn_divergences_after_quiescence",
        churned.divergences.len().to_string(),
    );
    Ok(v.all_pass)
}

/// The gateway phase: the docker CLI through Berth and straight on the socket.
async fn gateway_lines(
    v: &mut Verdicts,
    fx: &Fixture,
    c: &mut Conn,
    berth: &Berth,
    engine_total: usize,
    samples: usize,
) -> Result<()> {
    let samples = samples.clamp(5, 30);
    let g = crate::gateway::run(fx, c, &berth.addr, berth.pid, samples).await?;
    let ps_ratio = g.ps_gateway.as_secs_f64() / g.ps_direct.as_secs_f64();
    let logs_ratio = g.logs_gateway_mbps / g.logs_direct_mbps;
    println!(
        "  gateway: docker ps -a at {engine_total} containers, median of {samples}: {:.1} ms through Berth, {:.1} ms on the socket (ratio {ps_ratio:.2})",
        ms(g.ps_gateway),
        ms(g.ps_direct)
    );
    println!(
        "  gateway: docker logs of 100 MB: {:.0} MB/s through Berth, {:.0} MB/s on the socket (ratio {logs_ratio:.2}), {:.0} MB/s through a plain TCP byte relay (ratio {:.2})",
        g.logs_gateway_mbps,
        g.logs_direct_mbps,
        g.logs_relay_mbps,
        g.logs_relay_mbps / g.logs_direct_mbps
    );
    println!(
        "  gateway: {} docker logs -f through Berth: {:.0} KB of Berth's RSS each",
        g.followers, g.kb_per_follower
    );
    v.line(
        logs_ratio >= 0.8,
        "gateway_logs_throughput_vs_engine",
        format!("{logs_ratio:.2}"),
    );
    v.line(
        g.kb_per_follower < 1024.0,
        "gateway_logs_follow_kb_each",
        format!("{:.0}", g.kb_per_follower),
    );
    v.line(
        ps_ratio <= 1.5,
        "gateway_ps_vs_engine",
        format!("{ps_ratio:.2}"),
    );
    Ok(())
}

struct Load {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    peak_kb: u64,
    peak_before_kb: u64,
}

async fn load(args: &Args, berth: &Berth) -> Result<Load> {
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        let mut c = Conn::tcp(&berth.addr);
        c.login("admin", PASSWORD).await?;
        clients.push(c);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Peak RSS of the load alone: reset the high-water mark (Linux: clear_refs 5).
    let peak_before_kb = proc_kb(berth.pid, "VmHWM:").unwrap_or(0);
    let _ = std::fs::write(format!("/proc/{}/clear_refs", berth.pid), "5");
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let pid = berth.pid;
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(proc_kb(pid, "VmRSS:").unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            peak.max(proc_kb(pid, "VmHWM:").unwrap_or(0))
        })
    };
    // The container list most of the time, and the other pages.
    const MIX: [&str; 10] = [
        "/containers",
        "/containers",
        "/containers",
        "/containers",
        "/api/containers",
        "/api/containers",
        "/images",
        "/volumes",
        "/networks",
        "/",
    ];
    let started = Instant::now();
    let until = started + Duration::from_secs(args.duration);
    let mut tasks = Vec::new();
    for (k, mut c) in clients.into_iter().enumerate() {
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut took = Vec::new();
            let mut i = k;
            while Instant::now() < until {
                let page = MIX[i % MIX.len()];
                i += 1;
                match c.get(page).await {
                    Ok(a) if a.status == 200 => took.push(a.took),
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            took
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let peak_kb = sampler.await?;
    let requests = all.len() as u64 + errors.load(Ordering::Relaxed);
    let s = if all.is_empty() {
        Stats {
            p50: Duration::ZERO,
            p99: Duration::ZERO,
        }
    } else {
        stats(all)
    };
    Ok(Load {
        requests,
        errors: errors.load(Ordering::Relaxed),
        elapsed,
        p50: s.p50,
        p99: s.p99,
        peak_kb,
        peak_before_kb,
    })
}

async fn freshness(fx: &Fixture, c: &mut Conn, engine: &mut Conn) -> Result<Vec<Duration>> {
    let mut out = Vec::new();
    for i in 0..50 {
        let name = fx.name(&format!("fresh{i:02}"));
        let id = fixture::create_container(engine, &fx.run, &name, &["sleep", "86400"]).await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
        fixture::start_container(engine, &id).await?;
        let t0 = Instant::now();
        let path = format!("/api/containers?q={name}");
        loop {
            let a = c.get(&path).await?;
            let v: serde_json::Value = serde_json::from_slice(&a.body)?;
            let running = v.as_array().is_some_and(|a| {
                a.iter()
                    .any(|x| x["name"] == name.as_str() && x["state"] == "running")
            });
            if running {
                out.push(t0.elapsed());
                break;
            }
            if t0.elapsed() > Duration::from_secs(10) {
                bail!("{name} never showed as running in /api/containers");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    Ok(out)
}
