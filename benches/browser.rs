//! The container list in a real browser (issue 19, item 7; not a test: `cargo bench --bench
//! browser [-- --containers N]`).
//!
//! Prepares N containers on the local engine (labelled `berth.bench=<run>`; 100 of them running,
//! the rest created), starts Berth in this process, opens `/containers` in headless Chromium
//! (Debian's `chromium` + `chromium-driver`) and prints one `PASS|FAIL <name> <figure>` line per
//! target, each beside the same figure for the page with no rows (`?q=` matching nothing), taken
//! in the same run:
//! - DOMContentLoaded of `/containers` (median of 5 loads) < 300 ms;
//! - a key typed in the filter shows its result (rows hidden, next frame painted) < 50 ms
//!   (median of 10 keys);
//! - one container paused: its row changes in place and no other row is replaced (morph);
//! - 100 containers paused and unpaused within a second: the page keeps painting (the longest
//!   gap between frames) < 250 ms, and every row ends in the engine's state.
//!
//! Everything it created is removed at the end, also when it panics.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::CreateContainerOptions;
use clap::Parser;
use fantoccini::{Client, ClientBuilder};
use futures_util::StreamExt;
use serde_json::{Value, json};

const IMAGE: &str = "berth-test/busybox:latest";
const PASSWORD: &str = "bench-password-long-enough";

#[derive(Parser)]
struct Args {
    /// Containers on the list.
    #[arg(long, default_value_t = 1000)]
    containers: usize,
    #[arg(long, hide = true)]
    bench: bool,
}

/// Removes the run's containers, also when the bench panics.
struct Cleanup(String);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter", &format!("label={}", self.0)])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        let ids: Vec<&str> = ids.lines().filter(|l| !l.is_empty()).collect();
        for chunk in ids.chunks(100) {
            let mut args = vec!["rm", "-f"];
            args.extend(chunk);
            let _ = Command::new("docker").args(&args).output();
        }
    }
}

struct Driver(Child);
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn line(pass: bool, name: &str, figure: String) -> bool {
    println!("{} {name} {figure}", if pass { "PASS" } else { "FAIL" });
    pass
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.expect("script runs")
}

async fn js_async(c: &Client, script: &str) -> Value {
    c.execute_async(script, vec![]).await.expect("script runs")
}

/// DOMContentLoaded of `url`, ms after the navigation began.
async fn dcl(c: &Client, url: &str) -> f64 {
    c.goto(url).await.unwrap();
    js(
        c,
        "var n = performance.getEntriesByType('navigation')[0]; return n.domContentLoadedEventEnd - n.startTime",
    )
    .await
    .as_f64()
    .unwrap()
}

/// A key typed into the filter: ms from the input event to the next painted frame.
async fn key_ms(c: &Client, ch: &str) -> f64 {
    js_async(
        c,
        &format!(
            "var done = arguments[arguments.length - 1];
             var q = document.getElementById('q');
             var t0 = performance.now();
             q.value = q.value + '{ch}';
             q.dispatchEvent(new Event('input', {{ bubbles: true }}));
             requestAnimationFrame(function () {{ setTimeout(function () {{ done(performance.now() - t0); }}, 0); }});"
        ),
    )
    .await
    .as_f64()
    .unwrap()
}

async fn until(c: &Client, script: &str, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if js(c, script).await == json!(true) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("browser bench: run it with `cargo bench --bench browser`");
        return;
    }
    let args = Args::parse();
    berth::install_crypto_provider();
    let docker =
        Docker::connect_with_unix("/var/run/docker.sock", 120, bollard::API_DEFAULT_VERSION)
            .expect("the local engine");
    if docker.inspect_image(IMAGE).await.is_err() {
        eprintln!("{IMAGE} is missing: run scripts/test-image.sh first");
        std::process::exit(2);
    }
    let run = format!("{:x}", std::process::id());
    let label = format!("berth.bench={run}");
    let _cleanup = Cleanup(label.clone());

    // ---- the engine: N containers, 100 of them running
    let t = Instant::now();
    let running = 100.min(args.containers);
    let made: Vec<String> = futures_util::stream::iter(0..args.containers)
        .map(|i| {
            let d = docker.clone();
            let label = label.clone();
            let name = format!("bb-{run}-{i:04}");
            async move {
                let body = ContainerCreateBody {
                    image: Some(IMAGE.into()),
                    cmd: Some(vec!["sleep".into(), "3600".into()]),
                    labels: Some(
                        [(
                            label.split_once('=').unwrap().0.to_string(),
                            label.split_once('=').unwrap().1.to_string(),
                        )]
                        .into(),
                    ),
                    ..Default::default()
                };
                let opts = CreateContainerOptions {
                    name: Some(name),
                    ..Default::default()
                };
                let id = d
                    .create_container(Some(opts), body)
                    .await
                    .expect("create")
                    .id;
                if i < running {
                    d.start_container(&id, None).await.expect("start");
                }
                id
            }
        })
        .buffered(8)
        .collect()
        .await;
    eprintln!(
        "browser bench: {} containers ({running} running) in {:.1} s",
        made.len(),
        t.elapsed().as_secs_f64()
    );

    // ---- Berth, logged in in Chromium
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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _driver = Driver(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver)"),
    );
    let caps = json!({"goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--window-size=1280,900"]}});
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let mut c = None;
    for _ in 0..50 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(x) => {
                c = Some(x);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let c = c.expect("a Chromium session");
    c.goto(&format!("{base}/login")).await.unwrap();
    js(
        &c,
        &format!(
            "document.querySelector('input[name=username]').value = 'admin';
             document.querySelector('input[name=password]').value = '{PASSWORD}';
             document.querySelector('form').submit(); return 1"
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The mirror lists them all.
    let want = args.containers;
    let all_listed = format!(
        "return fetch('/api/containers?q=bb-{run}').then(r => r.json()).then(l => l.length >= {want})"
    );
    if !until(&c, &all_listed, Duration::from_secs(60)).await {
        eprintln!("browser bench: the mirror did not list all {want} in 60 s");
    }

    let ok = measure(&c, &docker, &base, &run, &made, running).await;
    let _ = c.close().await;
    drop(server);
    // Not process::exit: the containers go when `_cleanup` drops, at the end of main.
    if !ok {
        eprintln!("browser bench: some targets were missed (FAIL lines above)");
    }
}

async fn measure(
    c: &Client,
    docker: &Docker,
    base: &str,
    run: &str,
    made: &[String],
    running: usize,
) -> bool {
    let c = c.clone();
    let mut ok = true;
    let full = format!("{base}/containers?q=bb-{run}");
    let empty = format!("{base}/containers?q=nothing-is-called-this");
    let (mut with_rows, mut without) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        with_rows.push(dcl(&c, &full).await);
        without.push(dcl(&c, &empty).await);
    }
    dcl(&c, &full).await;
    let rows = js(
        &c,
        "return document.querySelectorAll('#rows tr[data-text]').length",
    )
    .await;
    let (a, b) = (median(with_rows), median(without));
    ok &= line(
        a < 300.0,
        "dom_content_loaded_ms",
        format!(
            "{a:.0} with {rows} rows (no rows: {b:.0}; ratio {:.2}) target < 300",
            a / b.max(1.0)
        ),
    );

    // ---- typing in the filter
    dcl(&c, &full).await;
    let mut keys = Vec::new();
    for ch in ["b", "b", "-", "x", "y", "z", "0", "1", "2", "3"] {
        keys.push(key_ms(&c, ch).await);
    }
    let typed = median(keys);
    dcl(&c, &empty).await;
    let mut keys = Vec::new();
    for ch in ["b", "b", "-", "x", "y", "z", "0", "1", "2", "3"] {
        keys.push(key_ms(&c, ch).await);
    }
    let typed_empty = median(keys);
    ok &= line(
        typed < 50.0,
        "filter_key_to_frame_ms",
        format!("{typed:.1} over {rows} rows (no rows: {typed_empty:.1}) target < 50"),
    );

    // ---- one container changes: its row only
    dcl(&c, &full).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    js(&c, "document.querySelectorAll('#rows tr[data-text]').forEach(function (tr) { tr.__kept = true; }); return 1").await;
    let one = &made[0];
    docker.pause_container(one).await.expect("pause");
    let short = &one[..12];
    let changed = until(
        &c,
        &format!("var r = document.getElementById('c-{short}'); return !!r && r.dataset.state === 'paused'"),
        Duration::from_secs(10),
    )
    .await;
    let replaced = js(&c, "var n = 0; document.querySelectorAll('#rows tr[data-text]').forEach(function (tr) { if (!tr.__kept) n++; }); return n").await;
    ok &= line(
        changed && replaced == json!(0),
        "one_change_replaces_rows",
        format!("{replaced} of {rows} (the changed row morphed in place: {changed}) target 0"),
    );
    docker.unpause_container(one).await.expect("unpause");

    // ---- 100 change within a second: the page keeps painting
    js(
        &c,
        "window.__gaps = []; var last = performance.now();
         (function tick(t) { window.__gaps.push(t - last); last = t; if (window.__gaps.length < 100000) requestAnimationFrame(tick); })(last);
         return 1",
    )
    .await;
    let burst = Instant::now();
    let ids: Vec<String> = made.iter().take(running).cloned().collect();
    futures_util::future::join_all(ids.iter().map(|id| docker.pause_container(id))).await;
    futures_util::future::join_all(ids.iter().map(|id| docker.unpause_container(id))).await;
    let burst_s = burst.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = until(
        &c,
        "return Array.from(document.querySelectorAll('#rows tr[data-state]')).filter(function (tr) { return tr.dataset.state === 'paused'; }).length === 0",
        Duration::from_secs(15),
    )
    .await;
    let gap = js(&c, "return Math.max.apply(null, window.__gaps.slice(1))").await;
    let gap = gap.as_f64().unwrap_or(f64::MAX);
    ok &= line(
        gap < 250.0 && settled,
        "burst_longest_frame_gap_ms",
        format!(
            "{gap:.0} while {running} containers paused and unpaused in {burst_s:.2} s (rows back to running: {settled}) target < 250"
        ),
    );
    ok
}
