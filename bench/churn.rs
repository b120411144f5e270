//! Time to truth under churn: docker CLI operations on the bench's engine (not through Berth),
//! each timed from the command returning to `/api/containers` showing its result; then, 1 s
//! after the last one, the containers Berth shows against `docker ps -a` (the oracle).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::fixture::Fixture;
use crate::http::Conn;

pub struct Figures {
    pub seed: u64,
    pub times: Vec<Duration>,
    pub divergences: Vec<String>,
}

fn cli(args: &[&str]) -> Option<String> {
    let out = Command::new("docker").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn cli_ps(label: &str) -> BTreeMap<String, serde_json::Value> {
    let filter = format!("label={label}");
    cli(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        &filter,
        "--format",
        "{{json .}}",
    ])
    .unwrap_or_default()
    .lines()
    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    .map(|c| (c["Names"].as_str().unwrap_or_default().to_string(), c))
    .collect()
}

/// The seconds of a status worded in seconds ("Up 5 seconds" → ("Up ", 5, "")).
fn seconds(s: &str) -> Option<(&str, i64, &str)> {
    if let Some(at) = s.find("Less than a second") {
        return Some((&s[..at], 0, &s[at + 18..]));
    }
    let at = s.find(" second")?;
    let start = s[..at].rfind(' ').map_or(0, |i| i + 1);
    let n = s[start..at].parse().ok()?;
    let end = at
        + if s[at..].starts_with(" seconds") {
            8
        } else {
            7
        };
    Some((&s[..start], n, &s[end..]))
}

/// Berth's status read between two CLI readings (a second of slack each way).
fn between(b: &str, lo: &str, hi: &str) -> bool {
    if b == lo || b == hi {
        return true;
    }
    match (seconds(b), seconds(lo), seconds(hi)) {
        (Some((p, n, s)), Some((p0, a, s0)), Some((p1, z, s1))) => {
            p == p0 && p == p1 && s == s0 && s == s1 && a - 1 <= n && n <= z + 1
        }
        _ => false,
    }
}

/// Waits until Berth shows container `name` in `state` (None: gone); the time it took.
async fn until_shown(c: &mut Conn, name: &str, state: Option<&str>) -> Result<Duration> {
    let t0 = Instant::now();
    let path = format!("/api/containers?q={name}");
    loop {
        let a = c.get(&path).await?;
        let v: serde_json::Value = serde_json::from_slice(&a.body)?;
        let shown = v
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == name))
            .map(|x| x["state"].as_str().unwrap_or_default().to_string());
        if shown.as_deref() == state {
            return Ok(t0.elapsed());
        }
        if t0.elapsed() > Duration::from_secs(10) {
            bail!("{name}: Berth shows {shown:?} 10 s after the CLI made it {state:?}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

pub async fn run(fx: &Fixture, c: &mut Conn, ops: usize) -> Result<Figures> {
    let seed: u64 = rand::rng().random();
    let mut rng = StdRng::seed_from_u64(seed);
    let label = fx.label();
    let image = "berth-test/busybox:latest";
    // A pool of long-running containers to act on; short-lived ones come and go.
    let mut pool: Vec<(String, &'static str)> = Vec::new();
    for i in 0..10 {
        let name = fx.name(&format!("churn{i:02}"));
        cli(&[
            "run",
            "-d",
            "--label",
            &label,
            "--name",
            &name,
            "--network",
            "none",
            image,
            "sleep",
            "86400",
        ]);
        pool.push((name, "running"));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut times = Vec::new();
    let mut n = 0;
    while times.len() < ops {
        n += 1;
        let i = rng.random_range(0..pool.len());
        let (name, st) = pool[i].clone();
        let (args, next): (Vec<String>, Option<&'static str>) = match (rng.random_range(0..7), st) {
            (0, "exited") => (vec!["start".into(), name.clone()], Some("running")),
            (1, "running") | (1, "paused") => (
                vec!["stop".into(), "-t".into(), "0".into(), name.clone()],
                Some("exited"),
            ),
            (2, "running") => (vec!["kill".into(), name.clone()], Some("exited")),
            (3, "running") => (vec!["pause".into(), name.clone()], Some("paused")),
            (4, "paused") => (vec!["unpause".into(), name.clone()], Some("running")),
            (5, "running") | (5, "exited") => (
                vec!["restart".into(), "-t".into(), "0".into(), name.clone()],
                Some("running"),
            ),
            (6, _) => {
                // Short-lived: exits at once with a random code, then is removed.
                let short = fx.name(&format!("short{n}"));
                let code = format!("exit {}", rng.random_range(0..6));
                let _ = Command::new("docker")
                    .args([
                        "run",
                        "--label",
                        &label,
                        "--name",
                        &short,
                        "--network",
                        "none",
                        image,
                        "sh",
                        "-c",
                        &code,
                    ])
                    .output();
                times.push(until_shown(c, &short, Some("exited")).await?);
                cli(&["rm", "-f", &short]);
                times.push(until_shown(c, &short, None).await?);
                continue;
            }
            _ => continue,
        };
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        if cli(&argv).is_none() {
            continue;
        }
        let next = next.unwrap_or(st);
        pool[i].1 = next;
        times.push(until_shown(c, &name, Some(next)).await?);
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..=50))).await;
    }
    // Quiescence: 1 s after the last command, Berth against the CLI.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = cli_ps(&label);
    let a = c.get("/api/containers").await?;
    let after = cli_ps(&label);
    let v: serde_json::Value = serde_json::from_slice(&a.body)?;
    let (k, val) = label.split_once('=').unwrap_or_default();
    let berth: BTreeMap<String, &serde_json::Value> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| x["labels"][k] == val)
                .map(|x| (x["name"].as_str().unwrap_or_default().to_string(), x))
                .collect()
        })
        .unwrap_or_default();
    let mut divergences = Vec::new();
    for (name, cli_row) in &after {
        let Some(b) = berth.get(name) else {
            divergences.push(format!("{name}: in docker ps -a, not in Berth"));
            continue;
        };
        let lo = before.get(name).unwrap_or(cli_row);
        let s = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
        if s(b, "state") != s(cli_row, "State") || s(b, "image") != s(cli_row, "Image") {
            divergences.push(format!(
                "{name}: Berth {} {}, docker {} {}",
                s(b, "state"),
                s(b, "image"),
                s(cli_row, "State"),
                s(cli_row, "Image")
            ));
        } else if !between(&s(b, "status"), &s(lo, "Status"), &s(cli_row, "Status")) {
            divergences.push(format!(
                "{name}: Berth {:?}, docker {:?}",
                s(b, "status"),
                s(cli_row, "Status")
            ));
        }
    }
    for name in berth.keys() {
        if !after.contains_key(name) && !before.contains_key(name) {
            divergences.push(format!("{name}: in Berth, not in docker ps -a"));
        }
    }
    Ok(Figures {
        seed,
        times,
        divergences,
    })
}
