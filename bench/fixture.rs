//! The benchmark's engine objects: N containers (half running `sleep`), 50 distinct images, 50
//! networks, 200 volumes, every one labelled `berth.bench=<run>`. Made and removed through the
//! engine API on its socket, several requests at a time; if the benchmark is interrupted before
//! [`Fixture::cleanup`] ran, dropping the fixture removes them with the docker CLI.

use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use crate::http::Conn;

pub const IMAGE: &str = "berth-test/busybox:latest";
const PARALLEL: usize = 6;

pub struct Fixture {
    pub socket: String,
    pub run: String,
    cleaned: bool,
}

/// One engine request of the preparation.
#[derive(Clone)]
pub enum Op {
    Container { name: String, start: bool },
    Image { n: usize },
    Network { n: usize },
    Volume { n: usize },
    Remove { path: String },
}

impl Fixture {
    pub fn new(socket: &str) -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Fixture {
            socket: socket.to_string(),
            run: format!("{:x}{:x}", t & 0xffffff, std::process::id() & 0xffff),
            cleaned: false,
        }
    }

    pub fn label(&self) -> String {
        format!("berth.bench={}", self.run)
    }

    pub fn name(&self, what: &str) -> String {
        format!("bb-{}-{what}", self.run)
    }

    fn filter_query(&self) -> String {
        let f = json!({ "label": [self.label()] }).to_string();
        form_urlencoded::byte_serialize(f.as_bytes()).collect()
    }

    /// Makes the test image when this machine does not have it yet.
    pub async fn ensure_image(&self) -> Result<()> {
        let mut c = Conn::unix(&self.socket);
        let a = c.get(&format!("/images/{IMAGE}/json")).await?;
        if a.status == 200 {
            return Ok(());
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test-image.sh");
        let st = Command::new("bash").arg(script).status()?;
        if !st.success() {
            bail!("scripts/test-image.sh failed: is busybox-static installed?");
        }
        Ok(())
    }

    pub async fn prepare(&self, containers: usize) -> Result<()> {
        let mut ops: Vec<Op> = (0..containers)
            .map(|i| Op::Container {
                name: self.name(&format!("c{i:04}")),
                start: i % 2 == 0,
            })
            .collect();
        ops.extend((0..200).map(|n| Op::Volume { n }));
        self.run_ops(ops).await?;
        self.run_ops((0..50).map(|n| Op::Network { n }).collect())
            .await?;
        self.run_ops((0..50).map(|n| Op::Image { n }).collect())
            .await?;
        Ok(())
    }

    /// Runs `ops` over a few connections at once; the first failure ends it.
    pub async fn run_ops(&self, ops: Vec<Op>) -> Result<Vec<String>> {
        let mut chunks: Vec<Vec<Op>> = vec![Vec::new(); PARALLEL];
        for (i, op) in ops.into_iter().enumerate() {
            chunks[i % PARALLEL].push(op);
        }
        let mut tasks = Vec::new();
        for chunk in chunks {
            let socket = self.socket.clone();
            let run = self.run.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = Conn::unix(&socket);
                let mut out = Vec::new();
                for op in chunk {
                    out.push(exec(&mut c, &run, &op).await?);
                }
                Ok::<_, anyhow::Error>(out)
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.map_err(|e| anyhow!("task: {e}"))??);
        }
        Ok(all)
    }

    /// Removes every object carrying the run's label, through the API.
    pub async fn cleanup(&mut self) -> Result<()> {
        let mut c = Conn::unix(&self.socket);
        let q = self.filter_query();
        let list =
            |a: crate::http::Answer| -> Result<Value> { Ok(serde_json::from_slice(&a.body)?) };
        let containers = list(
            c.get(&format!("/containers/json?all=1&filters={q}"))
                .await?,
        )?;
        let ops = ids(&containers, "Id")
            .into_iter()
            .map(|id| Op::Remove {
                path: format!("/containers/{id}?force=1&v=1"),
            })
            .collect();
        self.run_ops(ops).await?;
        let nets = list(c.get(&format!("/networks?filters={q}")).await?)?;
        let ops = ids(&nets, "Id")
            .into_iter()
            .map(|id| Op::Remove {
                path: format!("/networks/{id}"),
            })
            .collect();
        self.run_ops(ops).await?;
        let vols = list(c.get(&format!("/volumes?filters={q}")).await?)?;
        let ops = ids(&vols["Volumes"], "Name")
            .into_iter()
            .map(|id| Op::Remove {
                path: format!("/volumes/{id}?force=1"),
            })
            .collect();
        self.run_ops(ops).await?;
        let images = list(c.get(&format!("/images/json?filters={q}")).await?)?;
        let ops = ids(&images, "Id")
            .into_iter()
            .map(|id| Op::Remove {
                path: format!("/images/{id}?force=1"),
            })
            .collect();
        self.run_ops(ops).await?;
        self.cleaned = true;
        Ok(())
    }
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o[key].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn created_id(a: &crate::http::Answer, what: &str) -> Result<String> {
    if a.status != 201 && a.status != 200 {
        bail!(
            "{what}: engine answered {}: {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        );
    }
    let v: Value = serde_json::from_slice(&a.body).context(what.to_string())?;
    Ok(v["Id"]
        .as_str()
        .or(v["Name"].as_str())
        .unwrap_or_default()
        .to_string())
}

/// Creates a container of the test image; `NetworkMode: none` spares the shared machine 500
/// bridge ports (the engine lists them all the same).
pub async fn create_container(c: &mut Conn, run: &str, name: &str, cmd: &[&str]) -> Result<String> {
    let body = json!({
        "Image": IMAGE,
        "Cmd": cmd,
        "Labels": { "berth.bench": run },
        "HostConfig": { "NetworkMode": "none" },
    });
    let a = c
        .post_json(&format!("/containers/create?name={name}"), &body)
        .await?;
    created_id(&a, &format!("create container {name}"))
}

pub async fn start_container(c: &mut Conn, id: &str) -> Result<()> {
    let a = c
        .request("POST", &format!("/containers/{id}/start"), None, Vec::new())
        .await?;
    if a.status != 204 && a.status != 304 {
        bail!(
            "start {id}: engine answered {}: {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        );
    }
    Ok(())
}

async fn exec(c: &mut Conn, run: &str, op: &Op) -> Result<String> {
    match op {
        Op::Container { name, start } => {
            let id = create_container(c, run, name, &["sleep", "86400"]).await?;
            if *start {
                start_container(c, &id).await?;
            }
            Ok(id)
        }
        Op::Volume { n } => {
            let name = format!("bb-{run}-v{n:03}");
            let a = c
                .post_json(
                    "/volumes/create",
                    &json!({ "Name": name, "Labels": { "berth.bench": run } }),
                )
                .await?;
            created_id(&a, &format!("create volume {name}"))?;
            Ok(name)
        }
        Op::Network { n } => {
            // Explicit /24s: the engine's default pools hold only ~30 bridge networks.
            let name = format!("bb-{run}-n{n:02}");
            let mut last = String::new();
            for attempt in 0..8u32 {
                let second = 100
                    + (u32::from_str_radix(&run[..2.min(run.len())], 16).unwrap_or(0)
                        + attempt * 17)
                        % 150;
                let subnet = format!("10.{second}.{n}.0/24");
                let a = c
                    .post_json(
                        "/networks/create",
                        &json!({
                            "Name": name,
                            "Labels": { "berth.bench": run },
                            "IPAM": { "Config": [ { "Subnet": subnet } ] },
                        }),
                    )
                    .await?;
                match created_id(&a, &format!("create network {name}")) {
                    Ok(id) => return Ok(id),
                    Err(e) => last = e.to_string(),
                }
            }
            bail!("{last}")
        }
        Op::Image { n } => {
            // A committed copy of a tiny container: a distinct image (not just another tag).
            let src = create_container(c, run, &format!("bb-{run}-src{n:02}"), &["true"]).await?;
            let repo = format!("berth-bench/{run}");
            let body = json!({ "Labels": { "berth.bench": run, "berth.bench.n": n.to_string() } });
            let a = c
                .post_json(
                    &format!("/commit?container={src}&repo={repo}&tag=i{n:02}"),
                    &body,
                )
                .await?;
            let id = created_id(&a, &format!("commit image {n}"))?;
            c.request(
                "DELETE",
                &format!("/containers/{src}?force=1"),
                None,
                Vec::new(),
            )
            .await?;
            Ok(id)
        }
        Op::Remove { path } => {
            let a = c.request("DELETE", path, None, Vec::new()).await?;
            if a.status >= 300 && a.status != 404 {
                bail!(
                    "DELETE {path}: {}: {}",
                    a.status,
                    String::from_utf8_lossy(&a.body)
                );
            }
            Ok(String::new())
        }
    }
}

impl Drop for Fixture {
    /// Interrupted before cleanup (a panic): remove everything with the CLI.
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        eprintln!("bench: removing what run {} created…", self.run);
        let filter = format!("label={}", self.label());
        let list = |args: &[&str]| -> Vec<String> {
            Command::new("docker")
                .args(args)
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let remove = |cmd: &[&str], ids: Vec<String>| {
            for chunk in ids.chunks(200) {
                let _ = Command::new("docker").args(cmd).args(chunk).output();
            }
        };
        remove(
            &["rm", "-f", "-v"],
            list(&["ps", "-aq", "--filter", &filter]),
        );
        remove(
            &["network", "rm"],
            list(&["network", "ls", "-q", "--filter", &filter]),
        );
        remove(
            &["volume", "rm", "-f"],
            list(&["volume", "ls", "-q", "--filter", &filter]),
        );
        remove(&["rmi", "-f"], list(&["images", "-q", "--filter", &filter]));
    }
}
