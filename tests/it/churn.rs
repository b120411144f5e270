//! The oracle churn: a seeded random sequence of docker CLI operations (not through Berth) at
//! random intervals, while two endpoints of Berth (the local socket and the same engine through
//! a TCP relay) are read over and over. During the churn every state Berth shows must be
//! explained by an operation (no resurrection, no state going back with nothing done); within
//! 1 s of the last command both endpoints' lists equal `docker ps -a` / `network ls` /
//! `volume ls` / `images` field by field. `BERTH_CHURN_SEED` repeats a run, `BERTH_CHURN_OPS`
//! sets its length (default 300).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::oracle::{cli_tags, divergences};
use crate::relay::Relay;
use crate::support::{Run, TEST_IMAGE, TestApp, docker_quiet, spawn_logged_in};

#[derive(Clone, Copy, PartialEq, Debug)]
enum St {
    Created,
    Running,
    Paused,
    Exited,
}

struct Ctr {
    id: String,
    name: String,
    short: bool,
    on_net: bool,
    on_net2: bool,
    st: St,
    gone: bool,
}

/// One CLI operation: what, on which container, when it ran.
struct Op {
    what: String,
    target: Option<String>,
    start: Instant,
    end: Instant,
}

/// One read of Berth's container list: which endpoint, when, the run's containers and states.
struct Seen {
    endpoint: usize,
    start: Instant,
    end: Instant,
    states: BTreeMap<String, String>,
}

/// Removes the churn's image tags (they are on the shared test image, so no label finds them).
struct Tags(String);

impl Drop for Tags {
    fn drop(&mut self) {
        for (_, t) in cli_tags(&self.0) {
            docker_quiet(&["rmi", &t]);
        }
    }
}

struct Churn<'a> {
    rng: StdRng,
    run: &'a Run,
    label: String,
    net: String,
    net2: String,
    tag_prefix: String,
    tmp: tempfile::TempDir,
    ctrs: Vec<Ctr>,
    volumes: Vec<String>,
    tags: Vec<String>,
    n: usize,
    ops: Vec<Op>,
}

impl Churn<'_> {
    fn cli(&mut self, what: &str, target: Option<String>, args: &[&str]) -> Option<String> {
        let start = Instant::now();
        let out = Command::new("docker").args(args).output().expect("docker");
        self.ops.push(Op {
            what: what.into(),
            target,
            start,
            end: Instant::now(),
        });
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn pick(&mut self, f: impl Fn(&Ctr) -> bool) -> Option<usize> {
        let idx: Vec<usize> = (0..self.ctrs.len())
            .filter(|&i| !self.ctrs[i].gone && f(&self.ctrs[i]))
            .collect();
        if idx.is_empty() {
            None
        } else {
            Some(idx[self.rng.random_range(0..idx.len())])
        }
    }

    fn live(&self) -> usize {
        self.ctrs.iter().filter(|c| !c.gone).count()
    }

    fn new_container(&mut self, how: &str) {
        self.n += 1;
        let name = self.run.name(&format!("c{}", self.n));
        let on_net = how != "short" && self.rng.random_bool(0.4);
        let network = if on_net {
            self.net.clone()
        } else {
            "none".into()
        };
        let cid = self.tmp.path().join(format!("cid{}", self.n));
        let cidfile = cid.display().to_string();
        let code = self.rng.random_range(0..6).to_string();
        let script = format!("exit {code}");
        let label = self.label.clone();
        let mut args = vec![
            if how == "create" { "create" } else { "run" },
            "--cidfile",
            &cidfile,
            "--label",
            &label,
            "--name",
            &name,
            "--network",
            &network,
        ];
        if how == "detached" {
            args.push("-d");
        }
        args.push(TEST_IMAGE);
        if how == "short" {
            args.extend(["sh", "-c", &script]);
        } else {
            args.extend(["sleep", "600"]);
        }
        self.cli(how, None, &args);
        let Ok(id) = std::fs::read_to_string(&cid) else {
            return;
        };
        let id = id.trim().to_string();
        if let Some(op) = self.ops.last_mut() {
            op.target = Some(id.clone());
        }
        self.ctrs.push(Ctr {
            id,
            name,
            short: how == "short",
            on_net,
            on_net2: false,
            st: match how {
                "create" => St::Created,
                "short" => St::Exited,
                _ => St::Running,
            },
            gone: false,
        });
    }

    fn on(&mut self, i: usize, what: &str, args: &[&str]) -> bool {
        let id = self.ctrs[i].id.clone();
        let mut all: Vec<&str> = args.to_vec();
        all.push(&id);
        self.cli(what, Some(id.clone()), &all).is_some()
    }

    fn step(&mut self) {
        let roll = self.rng.random_range(0..100);
        match roll {
            0..=7 if self.live() < 24 => self.new_container("detached"),
            8..=15 if self.live() < 24 => self.new_container("short"),
            16..=20 if self.live() < 24 => self.new_container("create"),
            21..=29 => {
                if let Some(i) = self.pick(|c| matches!(c.st, St::Created | St::Exited))
                    && self.on(i, "start", &["start"])
                {
                    self.ctrs[i].st = if self.ctrs[i].short {
                        St::Exited
                    } else {
                        St::Running
                    };
                }
            }
            30..=36 => {
                if let Some(i) = self.pick(|c| matches!(c.st, St::Running | St::Paused))
                    && self.on(i, "stop", &["stop", "-t", "0"])
                {
                    self.ctrs[i].st = St::Exited;
                }
            }
            37..=41 => {
                if let Some(i) = self.pick(|c| c.st == St::Running && !c.short)
                    && self.on(i, "kill", &["kill"])
                {
                    self.ctrs[i].st = St::Exited;
                }
            }
            42..=47 => {
                if let Some(i) = self.pick(|c| c.st == St::Running && !c.short)
                    && self.on(i, "pause", &["pause"])
                {
                    self.ctrs[i].st = St::Paused;
                }
            }
            48..=53 => {
                if let Some(i) = self.pick(|c| c.st == St::Paused)
                    && self.on(i, "unpause", &["unpause"])
                {
                    self.ctrs[i].st = St::Running;
                }
            }
            54..=59 => {
                if let Some(i) = self.pick(|c| c.st != St::Paused)
                    && self.on(i, "restart", &["restart", "-t", "0"])
                {
                    self.ctrs[i].st = if self.ctrs[i].short {
                        St::Exited
                    } else {
                        St::Running
                    };
                }
            }
            60..=64 => {
                if let Some(i) = self.pick(|_| true) {
                    self.n += 1;
                    let new = self.run.name(&format!("r{}", self.n));
                    let id = self.ctrs[i].id.clone();
                    if self
                        .cli("rename", Some(id.clone()), &["rename", &id, &new])
                        .is_some()
                    {
                        self.ctrs[i].name = new;
                    }
                }
            }
            65..=71 => {
                if let Some(i) = self.pick(|_| true)
                    && self.on(i, "rm", &["rm", "-f"])
                {
                    self.ctrs[i].gone = true;
                }
            }
            72..=77 => {
                // Only running containers: the engine emits no event when a container that
                // is not running is connected (README "How it works").
                if let Some(i) = self.pick(|c| c.on_net && !c.on_net2 && c.st == St::Running) {
                    let net2 = self.net2.clone();
                    if self.on(i, "connect", &["network", "connect", &net2]) {
                        self.ctrs[i].on_net2 = true;
                    }
                }
            }
            78..=81 => {
                if let Some(i) = self.pick(|c| c.on_net2 && c.st == St::Running) {
                    let net2 = self.net2.clone();
                    if self.on(i, "disconnect", &["network", "disconnect", &net2]) {
                        self.ctrs[i].on_net2 = false;
                    }
                }
            }
            82..=86 => {
                self.n += 1;
                let name = self.run.name(&format!("v{}", self.n));
                let label = self.label.clone();
                if self
                    .cli(
                        "volume create",
                        None,
                        &["volume", "create", "--label", &label, &name],
                    )
                    .is_some()
                {
                    self.volumes.push(name);
                }
            }
            87..=89 => {
                if !self.volumes.is_empty() {
                    let i = self.rng.random_range(0..self.volumes.len());
                    let v = self.volumes.swap_remove(i);
                    self.cli("volume rm", None, &["volume", "rm", &v]);
                }
            }
            90..=95 => {
                self.n += 1;
                let tag = format!("{}:t{}", self.tag_prefix, self.n);
                if self.cli("tag", None, &["tag", TEST_IMAGE, &tag]).is_some() {
                    self.tags.push(tag);
                }
            }
            _ => {
                if !self.tags.is_empty() {
                    let i = self.rng.random_range(0..self.tags.len());
                    let t = self.tags.swap_remove(i);
                    self.cli("rmi", None, &["rmi", &t]);
                }
            }
        }
    }
}

/// Reads the run's containers from both endpoints until `stop`.
async fn watch(
    app: Arc<TestApp>,
    paths: Vec<String>,
    label: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
) {
    let (k, v) = label.split_once('=').unwrap();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        for (endpoint, path) in paths.iter().enumerate() {
            let start = Instant::now();
            let Ok(r) = app.client.get(app.at(path)).send().await else {
                continue;
            };
            let Ok(list) = r.json::<Value>().await else {
                continue;
            };
            let states = list
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|c| c["labels"][k].as_str() == Some(v))
                        .map(|c| {
                            (
                                c["id"].as_str().unwrap_or_default().to_string(),
                                c["state"].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            seen.lock().unwrap().push(Seen {
                endpoint,
                start,
                end: Instant::now(),
                states,
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What Berth showed during the churn that no operation explains.
fn unexplained(seen: &[Seen], ops: &[Op], short: &BTreeSet<String>) -> Vec<String> {
    const LAG: Duration = Duration::from_secs(2);
    let mut bad = Vec::new();
    let removed: BTreeMap<&str, Instant> = ops
        .iter()
        .filter(|o| o.what == "rm")
        .filter_map(|o| Some((o.target.as_deref()?, o.end)))
        .collect();
    for endpoint in 0..2 {
        let reads: Vec<&Seen> = seen.iter().filter(|s| s.endpoint == endpoint).collect();
        let mut last: BTreeMap<&str, (&str, &Seen)> = BTreeMap::new();
        let mut shown_gone: BTreeSet<&str> = BTreeSet::new();
        for s in &reads {
            for (id, rm_end) in &removed {
                let shown = s.states.contains_key(*id);
                if s.start > *rm_end && !shown {
                    shown_gone.insert(id);
                }
                if shown && shown_gone.contains(id) {
                    bad.push(format!(
                        "endpoint {endpoint}: {id:.12} came back after it was shown removed"
                    ));
                }
                if shown && s.start > *rm_end + LAG {
                    bad.push(format!(
                        "endpoint {endpoint}: {id:.12} still shown 2 s after `rm -f` returned"
                    ));
                }
            }
            for (id, state) in &s.states {
                if let Some((was, prev)) = last.get(id.as_str())
                    && *was != state.as_str()
                {
                    let natural = short.contains(id) && *was == "running" && state == "exited";
                    let caused = ops.iter().any(|o| {
                        o.target.as_deref() == Some(id.as_str())
                            && o.start < s.end
                            && o.end + LAG > prev.start
                    });
                    if !natural && !caused {
                        bad.push(format!(
                            "endpoint {endpoint}: {id:.12} went {was} -> {state} with no operation on it"
                        ));
                    }
                }
                last.insert(id, (state, s));
            }
        }
    }
    bad.sort();
    bad.dedup();
    bad
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_mirror_equals_the_cli_after_a_seeded_churn_on_two_endpoints() {
    let seed: u64 = std::env::var("BERTH_CHURN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let count: usize = std::env::var("BERTH_CHURN_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    println!("churn seed = {seed} (repeat with BERTH_CHURN_SEED={seed})");
    let run = Run::new();
    let label = run.label();
    let relay = Relay::tcp().await;
    let app = Arc::new(spawn_logged_in().await);
    let r = app
        .client
        .post(app.at("/api/endpoints"))
        .json(&json!({"name": run.name("relay"), "url": relay.url()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let ep = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let bases = ["/api".to_string(), format!("/api/e/{ep}")];
    assert_eq!(
        app.get(&format!("{}/containers", bases[1])).await.status(),
        200
    );

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let watcher = tokio::spawn(watch(
        app.clone(),
        bases.iter().map(|b| format!("{b}/containers")).collect(),
        label.clone(),
        stop.clone(),
        seen.clone(),
    ));

    let tag_prefix = format!("berth-test/churn-{}", run.id);
    let _tags = Tags(tag_prefix.clone());
    let run2 = Run { id: run.id.clone() };
    let net = run.network("net", &[]);
    let net2 = run.network("net2", &[]);
    let started = Instant::now();
    let tp = tag_prefix.clone();
    let lbl = label.clone();
    let (ops, short) = tokio::task::spawn_blocking(move || {
        let mut c = Churn {
            rng: StdRng::seed_from_u64(seed),
            run: &run2,
            label: lbl,
            net,
            net2,
            tag_prefix: tp,
            tmp: tempfile::tempdir().unwrap(),
            ctrs: Vec::new(),
            volumes: Vec::new(),
            tags: Vec::new(),
            n: 0,
            ops: Vec::new(),
        };
        while c.ops.len() < count {
            c.step();
            let pause = c.rng.random_range(0..=50);
            std::thread::sleep(Duration::from_millis(pause));
        }
        let short: BTreeSet<String> = c
            .ctrs
            .iter()
            .filter(|x| x.short)
            .map(|x| x.id.clone())
            .collect();
        let ops = std::mem::take(&mut c.ops);
        drop(c);
        // The test's own `run` cleans up (this copy only names the objects).
        std::mem::forget(run2);
        (ops, short)
    })
    .await
    .unwrap();
    let last = ops.iter().map(|o| o.end).max().unwrap();
    println!(
        "{} operations in {:.1} s",
        ops.len(),
        started.elapsed().as_secs_f64()
    );

    // 1 s after the last command, both endpoints equal the CLI.
    tokio::time::sleep((last + Duration::from_secs(1)).saturating_duration_since(Instant::now()))
        .await;
    let mut agreed = [None, None];
    let mut last_diff = [Vec::new(), Vec::new()];
    for (i, base) in bases.iter().enumerate() {
        let d = divergences(&app, base, &label, &tag_prefix).await;
        if d.is_empty() {
            agreed[i] = Some(last.elapsed());
        }
        last_diff[i] = d;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = watcher.await;
    for i in 0..2 {
        if agreed[i].is_none() {
            for line in &last_diff[i] {
                let short = line.split(' ').next().unwrap_or_default();
                let berth = app.json(&format!("{}/containers", bases[i])).await;
                let mine = berth
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["id"].as_str().is_some_and(|x| x.starts_with(short)))
                    .map(|c| {
                        format!(
                            "{} {} started {} finished {}",
                            c["state"], c["status"], c["started_at"], c["finished_at"]
                        )
                    });
                println!(
                    "{line}\n  berth: {mine:?}\n  engine: {}\n  operations on it: {:?}",
                    docker_quiet(&["inspect", "-f", "{{json .State}}", short]),
                    ops.iter()
                        .filter(|o| o.target.as_deref().is_some_and(|t| t.starts_with(short)))
                        .map(|o| format!("{}@{:?}", o.what, o.end.duration_since(started)))
                        .collect::<Vec<_>>()
                );
            }
        }
        assert!(
            agreed[i].is_some(),
            "seed {seed}: endpoint {} not equal to the CLI 1 s after the last command: {:#?}",
            bases[i],
            last_diff[i]
        );
    }
    println!("equal to the CLI after {agreed:?}");
    let seen = seen.lock().unwrap();
    let bad = unexplained(&seen, &ops, &short);
    assert!(
        bad.is_empty(),
        "seed {seed}: {} reads; states no operation explains: {bad:#?}",
        seen.len()
    );
}
