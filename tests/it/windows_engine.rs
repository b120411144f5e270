//! A Windows Server 2019 engine simulator: an HTTP server on loopback answering the Engine API
//! paths Berth uses with the shapes a Windows engine gives (moby's `api/types` as its Windows
//! daemon fills them: OSType `windows`, driver `windowsfilter`, `Isolation` process/hyperv,
//! the `nat` network, `C:\` paths, an `npipe` mount, `top` with Windows titles, stats stamped
//! in local time with an offset, private working set, no pids). No Windows host is reachable
//! here; the shapes come from the engine's documentation and sources, not from Berth.
//!
//! Each request's path and query is recorded, so a test can tell which calls Berth made (and
//! that it made none where the engine would refuse anyway).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub const WEB_ID: &str = "3f1c8e9a2b7d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6";
pub const HV_ID: &str = "9a8b7c6d5e4f30211a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081";
const IMAGE_ID: &str = "sha256:c3a1e0b7d2f94e5a8b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2";
const NAT_ID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";
const KERNEL: &str = "10.0 17763 (17763.1.amd64fre.rs5_release.180914-1434)";

/// A running simulator: its `tcp://` address and the requests it saw.
pub struct WindowsEngine {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    stop: CancellationToken,
}

impl Drop for WindowsEngine {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl WindowsEngine {
    pub async fn start() -> WindowsEngine {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(answer).with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await;
        });
        WindowsEngine { addr, seen, stop }
    }

    pub fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    /// Requests seen so far (`METHOD /path?query`, API version prefix removed).
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

async fn answer(State(seen): State<Arc<Mutex<Vec<String>>>>, req: Request) -> Response {
    let method = req.method().clone();
    let raw = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    // bollard prefixes /v1.xx.
    let path = match raw.strip_prefix("/v1.") {
        Some(rest) => rest
            .find('/')
            .map(|i| rest[i..].to_string())
            .unwrap_or_default(),
        None => raw.clone(),
    };
    seen.lock()
        .unwrap()
        .push(format!("{method} {path}?{query}"));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        (_, ["_ping"]) => "OK".into_response(),
        ("GET", ["version"]) => ok(version()),
        ("GET", ["info"]) => ok(info()),
        ("GET", ["containers", "json"]) => ok(json!([summary(true), summary(false)])),
        ("GET", ["images", "json"]) => ok(json!([image()])),
        ("GET", ["networks"]) => ok(json!([nat(), none()])),
        ("GET", ["volumes"]) => ok(json!({ "Volumes": [volume()], "Warnings": null })),
        ("GET", ["events"]) => {
            // Open and silent, as an idle engine's event stream.
            let body = Body::from_stream(futures_util::stream::pending::<
                std::result::Result<bytes::Bytes, std::io::Error>,
            >());
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        ("GET", ["containers", id, "json"]) => match which(id) {
            Some(web) => ok(inspect(web)),
            None => refuse(StatusCode::NOT_FOUND, &format!("No such container: {id}")),
        },
        ("GET", ["containers", id, "top"]) if which(id).is_some() => ok(top()),
        ("GET", ["containers", id, "stats"]) if which(id).is_some() => stats(),
        ("GET", ["containers", id, "changes"]) if which(id).is_some() => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Windows does not support diff of a running container",
        ),
        (_, ["containers", id, "archive"]) => match which(id) {
            // Hyper-V isolated and running: the engine's own refusal.
            Some(false) => refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "filesystem operations against a running Hyper-V container are not supported",
            ),
            _ => refuse(
                StatusCode::NOT_FOUND,
                "Could not find the file in container",
            ),
        },
        _ => refuse(StatusCode::NOT_FOUND, "page not found"),
    }
}

/// Some(true) for the process-isolated web container, Some(false) for the Hyper-V one.
fn which(id: &str) -> Option<bool> {
    let hit = |full: &str, name: &str| id == name || (id.len() >= 4 && full.starts_with(id));
    if hit(WEB_ID, "iis-web") {
        Some(true)
    } else if hit(HV_ID, "hv-worker") {
        Some(false)
    } else {
        None
    }
}

fn version() -> Value {
    json!({
        "Platform": {"Name": "Docker Engine - Community"},
        "Version": "20.10.9", "ApiVersion": "1.41", "MinAPIVersion": "1.24",
        "GitCommit": "79ea9d3", "GoVersion": "go1.16.8", "Os": "windows", "Arch": "amd64",
        "KernelVersion": KERNEL, "BuildTime": "2021-10-04T16:50:00.000000000+00:00"
    })
}

fn info() -> Value {
    json!({
        "ID": "4BGA:KDFI:2RZ6:XN7S:UEIG:U6P4:XJ6G:3PQ3:N4VG:SK3V:3B7V:7HPQ",
        "Containers": 2, "ContainersRunning": 2, "ContainersPaused": 0, "ContainersStopped": 0,
        "Images": 1, "Driver": "windowsfilter",
        "DriverStatus": [["Windows", ""]],
        "Plugins": {"Volume": ["local"], "Network": ["ics", "internal", "l2bridge", "l2tunnel", "nat", "null", "overlay", "private", "transparent"], "Log": ["awslogs", "etwlogs", "fluentd", "gcplogs", "gelf", "json-file", "local", "logentries", "splunk", "syslog"]},
        "MemoryLimit": false, "SwapLimit": false, "NCPU": 4, "MemTotal": 17179332608_u64,
        "OSType": "windows", "Architecture": "x86_64",
        "OperatingSystem": "Windows Server 2019 Datacenter Version 1809 (OS Build 17763.2928)",
        "OSVersion": "10.0 17763 (17763.1.amd64fre.rs5_release.180914-1434)",
        "KernelVersion": KERNEL, "Name": "WIN-CONTAINERS1", "ServerVersion": "20.10.9",
        "DockerRootDir": "C:\\ProgramData\\docker", "Isolation": "process",
        "LoggingDriver": "json-file", "CgroupDriver": "", "DefaultRuntime": "", "Labels": [],
        "Runtimes": {}, "SecurityOptions": null, "Warnings": null
    })
}

fn summary(web: bool) -> Value {
    let (id, name, cmd) = if web {
        (WEB_ID, "iis-web", "C:\\ServiceMonitor.exe w3svc")
    } else {
        (HV_ID, "hv-worker", "cmd /S /C ping -t localhost")
    };
    json!({
        "Id": id, "Names": [format!("/{name}")],
        "Image": "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2019",
        "ImageID": IMAGE_ID, "Command": cmd, "Created": 1733400000_i64,
        "Ports": if web { json!([{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]) } else { json!([]) },
        "Labels": {}, "State": "running", "Status": "Up 2 hours",
        "HostConfig": {"NetworkMode": "nat"},
        "NetworkSettings": {"Networks": {"nat": {
            "NetworkID": NAT_ID, "EndpointID": "e1", "Gateway": "172.17.64.1",
            "IPAddress": if web { "172.17.70.12" } else { "172.17.70.13" }, "IPPrefixLen": 16,
            "MacAddress": "00:15:5d:3a:1b:2c"
        }}},
        "Mounts": if web { json!([
            {"Type": "bind", "Source": "C:\\ProgramData\\Containers\\web", "Destination": "c:\\inetpub\\wwwroot", "Mode": "", "RW": true, "Propagation": ""},
            {"Type": "npipe", "Source": "\\\\.\\pipe\\docker_engine", "Destination": "\\\\.\\pipe\\docker_engine", "Mode": "", "RW": true, "Propagation": ""}
        ]) } else { json!([
            {"Type": "volume", "Name": "berth-data", "Source": "C:\\ProgramData\\docker\\volumes\\berth-data\\_data", "Destination": "c:\\data", "Driver": "local", "Mode": "", "RW": true, "Propagation": ""}
        ]) }
    })
}

fn inspect(web: bool) -> Value {
    let s = summary(web);
    json!({
        "Id": s["Id"], "Name": s["Names"][0], "Created": "2024-12-05T12:00:00.0000000Z",
        "Path": if web { "C:\\ServiceMonitor.exe" } else { "cmd" },
        "Args": if web { json!(["w3svc"]) } else { json!(["/S", "/C", "ping -t localhost"]) },
        "State": {"Status": "running", "Running": true, "Paused": false, "Restarting": false,
                  "OOMKilled": false, "Dead": false, "Pid": 5288, "ExitCode": 0, "Error": "",
                  "StartedAt": "2024-12-05T12:00:01.0000000Z", "FinishedAt": "0001-01-01T00:00:00Z"},
        "Image": IMAGE_ID, "Driver": "windowsfilter", "Platform": "windows",
        "RestartCount": 0, "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
        "HostConfig": {
            "Binds": if web { json!(["C:\\ProgramData\\Containers\\web:c:\\inetpub\\wwwroot"]) } else { json!(null) },
            "NetworkMode": "nat", "RestartPolicy": {"Name": "always", "MaximumRetryCount": 0},
            "Isolation": if web { "process" } else { "hyperv" },
            "PortBindings": if web { json!({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}) } else { json!({}) },
            "Mounts": if web { json!([{"Type": "npipe", "Source": "\\\\.\\pipe\\docker_engine", "Target": "\\\\.\\pipe\\docker_engine"}]) } else { json!([{"Type": "volume", "Source": "berth-data", "Target": "c:\\data"}]) },
            "ConsoleSize": [0, 0], "Memory": 0, "NanoCpus": 0, "CpuCount": 0
        },
        "Mounts": s["Mounts"],
        "Config": {"Hostname": &s["Id"].as_str().unwrap()[..12], "Env": ["ContainerAdministrator=1"],
                   "Cmd": if web { json!(null) } else { json!(["cmd", "/S", "/C", "ping -t localhost"]) },
                   "Image": s["Image"], "WorkingDir": "", "Entrypoint": if web { json!(["C:\\ServiceMonitor.exe", "w3svc"]) } else { json!(null) },
                   "Labels": {}, "Shell": ["cmd", "/S", "/C"]},
        "NetworkSettings": {"Networks": s["NetworkSettings"]["Networks"],
            "Ports": if web { json!({"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}) } else { json!({}) }}
    })
}

fn image() -> Value {
    json!({
        "Id": IMAGE_ID, "ParentId": "", "RepoDigests": [],
        "RepoTags": ["mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2019"],
        "Created": 1731000000_i64, "Size": 5_464_021_123_u64, "SharedSize": -1,
        "VirtualSize": 5_464_021_123_u64, "Labels": null, "Containers": 2
    })
}

fn nat() -> Value {
    json!({
        "Name": "nat", "Id": NAT_ID, "Created": "2024-12-01T08:00:00.0000000+01:00",
        "Scope": "local", "Driver": "nat", "EnableIPv6": false, "Internal": false,
        "Attachable": false, "Ingress": false,
        "IPAM": {"Driver": "windows", "Options": null, "Config": [{"Subnet": "172.17.64.0/20", "Gateway": "172.17.64.1"}]},
        "Options": {"com.docker.network.windowsshim.hnsid": "2D3E5A7B-0C1D-4E2F-9A8B-7C6D5E4F3A2B"},
        "Labels": {}, "Containers": {}
    })
}

fn none() -> Value {
    json!({"Name": "none", "Id": "0f9e8d7c6b5a493827161504f3e2d1c0b9a8f7e6d5c4b3a2918070605f4e3d2c",
           "Scope": "local", "Driver": "null", "IPAM": {"Driver": "default", "Config": []},
           "Options": {}, "Labels": {}, "Containers": {}})
}

fn volume() -> Value {
    json!({"Name": "berth-data", "Driver": "local",
           "Mountpoint": "C:\\ProgramData\\docker\\volumes\\berth-data\\_data",
           "CreatedAt": "2024-12-01T08:00:00+01:00", "Labels": null, "Scope": "local", "Options": null})
}

/// moby's Windows `top`: these four titles (daemon/top_windows.go).
fn top() -> Value {
    json!({
        "Titles": ["Name", "PID", "CPU", "Private Working Set"],
        "Processes": [
            ["smss.exe", "5288", "00:00:00.046", "258kB"],
            ["csrss.exe", "6012", "00:00:00.531", "1.56MB"],
            ["cmd.exe", "6344", "00:00:00.015", "1.28MB"],
            ["PING.EXE", "6480", "00:00:00.000", "778.2kB"]
        ]
    })
}

/// One stats sample per 200 ms, stamped in local time (+03:00) as Windows engines stamp them:
/// 4 processors, 200 ms between reads, 4 × 10^6 intervals used of 8 × 10^6: 50 % as
/// `docker stats` computes it.
fn stats() -> Response {
    let s = async_stream::stream! {
        let mut n: u64 = 1;
        loop {
            let ms = |k: u64| {
                let t = 1_000 + k * 200;
                format!("2024-12-05T15:{:02}:{:02}.{:03}0000+03:00", (t / 60_000) % 60, (t / 1000) % 60, t % 1000)
            };
            let pre = if n == 1 { "0001-01-01T00:00:00Z".to_string() } else { ms(n - 1) };
            let pre_total = if n == 1 { 0 } else { 900_000_000 + (n - 1) * 4_000_000 };
            let v = json!({
                "read": ms(n), "preread": pre, "num_procs": 4,
                "pids_stats": {},
                "cpu_stats": {"cpu_usage": {"total_usage": 900_000_000 + n * 4_000_000, "usage_in_kernelmode": 1, "usage_in_usermode": 1}, "throttling_data": {}},
                "precpu_stats": {"cpu_usage": {"total_usage": pre_total}, "throttling_data": {}},
                "memory_stats": {"commitbytes": 90_000_000, "commitpeakbytes": 120_000_000, "privateworkingset": 48_234_496},
                "storage_stats": {"read_count_normalized": 10, "read_size_bytes": 1_048_576 * n, "write_count_normalized": 5, "write_size_bytes": 524_288 * n},
                "networks": {"e1": {"rx_bytes": 2_000 * n, "rx_packets": n, "tx_bytes": 1_000 * n, "tx_packets": n}},
                "name": "/hv-worker", "id": HV_ID
            });
            yield Ok::<_, std::io::Error>(bytes::Bytes::from(format!("{v}\n")));
            n += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(s),
    )
        .into_response()
}
