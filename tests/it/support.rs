//! Test support: spawn Berth in-process on port 0 (the same `launch` main uses), a cookie-keeping
//! client, and engine fixtures that carry the run's label and are removed on drop, also when
//! the test fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use berth::{Config, Server};
use clap::Parser;
use tokio::sync::oneshot;

/// The image every test builds on: busybox, imported from a root filesystem (no registry here).
pub const TEST_IMAGE: &str = "berth-test/busybox:latest";
pub const ADMIN_PASSWORD: &str = "correct-horse-battery-staple";

/// Runs the docker CLI; panics with its stderr when it fails.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI runs");
    if !out.status.success() {
        panic!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs the docker CLI, ignoring failure (for cleanup).
pub fn docker_quiet(args: &[&str]) -> String {
    Command::new("docker")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Builds the busybox test image once per machine (kept between runs, like .ci/run's).
pub fn ensure_test_image() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if Command::new("docker")
            .args(["image", "inspect", TEST_IMAGE])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
        {
            return;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-image.sh");
        let st = Command::new("bash")
            .arg(script)
            .status()
            .expect("bash runs");
        assert!(
            st.success(),
            "scripts/test-image.sh failed: is busybox-static installed?"
        );
    });
}

/// One test's engine objects: everything made through it carries `berth.test=<id>` and is
/// removed when it drops.
pub struct Run {
    pub id: String,
}

impl Run {
    pub fn new() -> Self {
        ensure_test_image();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let id = format!("{:x}{:04x}", nanos, std::process::id() & 0xffff);
        Run { id }
    }

    pub fn label(&self) -> String {
        format!("berth.test={}", self.id)
    }

    /// A unique object name for this run.
    pub fn name(&self, suffix: &str) -> String {
        format!("bt-{}-{suffix}", self.id)
    }

    /// `docker run -d` (running) or `docker create` (stopped) of the test image; returns the id.
    pub fn container(&self, suffix: &str, running: bool, extra: &[&str], cmd: &[&str]) -> String {
        let name = self.name(suffix);
        let label = self.label();
        let mut args = vec![if running { "run" } else { "create" }];
        if running {
            args.push("-d");
        }
        args.extend(["--label", &label, "--name", &name]);
        args.extend(extra);
        args.push(TEST_IMAGE);
        if cmd.is_empty() {
            args.extend(["sleep", "3600"]);
        } else {
            args.extend(cmd);
        }
        docker(&args)
    }

    pub fn network(&self, suffix: &str, extra: &[&str]) -> String {
        let name = self.name(suffix);
        let label = self.label();
        let mut args = vec!["network", "create", "--label", &label];
        args.extend(extra);
        args.push(&name);
        docker(&args)
    }

    pub fn volume(&self, suffix: &str, extra: &[&str]) -> String {
        let name = self.name(suffix);
        let label = self.label();
        let mut args = vec!["volume", "create", "--label", &label];
        args.extend(extra);
        args.push(&name);
        docker(&args)
    }

    /// An image with two layers: the test image plus one committed layer.
    pub fn two_layer_image(&self, suffix: &str) -> String {
        let c = self.container(
            &format!("{suffix}-src"),
            false,
            &[],
            &["sh", "-c", "echo layer > /layer.txt"],
        );
        docker(&["start", "-a", &c]);
        let tag = format!("berth-test/{}:{suffix}", self.name("img"));
        let label = format!("LABEL {}", self.label());
        docker(&["commit", "--change", &label, &c, &tag]);
        docker_quiet(&["rm", "-f", &c]);
        tag
    }

    /// The engine's own answer to `docker inspect -f FORMAT OBJ`.
    pub fn inspect(&self, obj: &str, format: &str) -> String {
        docker(&["inspect", "-f", format, obj])
    }
}

impl Default for Run {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let filter = format!("label={}", self.label());
        let ids = docker_quiet(&["ps", "-aq", "--filter", &filter]);
        for id in ids.lines().filter(|l| !l.is_empty()) {
            docker_quiet(&["rm", "-f", "-v", id]);
        }
        let ids = docker_quiet(&["network", "ls", "-q", "--filter", &filter]);
        for id in ids.lines().filter(|l| !l.is_empty()) {
            docker_quiet(&["network", "rm", id]);
        }
        let ids = docker_quiet(&["volume", "ls", "-q", "--filter", &filter]);
        for id in ids.lines().filter(|l| !l.is_empty()) {
            docker_quiet(&["volume", "rm", "-f", id]);
        }
        let ids = docker_quiet(&["images", "-q", "--filter", &filter]);
        for id in ids.lines().filter(|l| !l.is_empty()) {
            docker_quiet(&["rmi", "-f", id]);
        }
    }
}

/// Berth running in this test, and a client that keeps cookies and does not follow redirects.
pub struct TestApp {
    pub url: String,
    pub https_url: Option<String>,
    pub client: reqwest::Client,
    pub data: PathBuf,
    pub server: Option<Server>,
    stop: Option<oneshot::Sender<()>>,
    _tmp: Option<tempfile::TempDir>,
}

pub fn client() -> reqwest::Client {
    berth::install_crypto_provider();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client builds")
}

/// Options for [`spawn`]: extra flags, the data folder, whether to seed the admin.
#[derive(Default)]
pub struct Opts<'a> {
    pub args: Vec<String>,
    pub data: Option<&'a Path>,
    pub no_admin: bool,
    /// Also serve HTTPS (on 127.0.0.1:0, with the generated certificate unless --ssl-cert).
    pub https: bool,
}

pub async fn spawn(opts: Opts<'_>) -> TestApp {
    let tmp = if opts.data.is_none() {
        Some(tempfile::tempdir().expect("tempdir"))
    } else {
        None
    };
    let data = opts
        .data
        .map(Path::to_path_buf)
        .unwrap_or_else(|| tmp.as_ref().unwrap().path().to_path_buf());
    let mut args: Vec<String> = vec![
        "berth".into(),
        "--bind".into(),
        "127.0.0.1:0".into(),
        "--data".into(),
        data.display().to_string(),
    ];
    if !opts.no_admin {
        let pw = data.join("admin-password");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(&pw, format!("{ADMIN_PASSWORD}\n")).unwrap();
        args.extend(["--admin-password-file".into(), pw.display().to_string()]);
    }
    if !opts.args.iter().any(|a| a == "-H") {
        args.extend(["-H".into(), "unix:///var/run/docker.sock".into()]);
    }
    args.extend(opts.args);
    let config = Config::parse_from(args);
    let http = tokio::net::TcpListener::bind(config.bind)
        .await
        .expect("bind");
    let https = if opts.https {
        Some(
            tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind https"),
        )
    } else {
        None
    };
    let listeners = berth::Listeners {
        http: Some(http),
        https,
    };
    let (tx, rx) = oneshot::channel::<()>();
    let server = berth::launch(config, listeners, async {
        let _ = rx.await;
    })
    .await
    .expect("Berth starts");
    TestApp {
        url: server.url(),
        https_url: server.https_url(),
        client: client(),
        data,
        server: Some(server),
        stop: Some(tx),
        _tmp: tmp,
    }
}

/// Berth with a seeded admin, logged in, with its mirror synced.
pub async fn spawn_logged_in() -> TestApp {
    let app = spawn(Opts::default()).await;
    app.login("admin", ADMIN_PASSWORD).await;
    app.wait_synced().await;
    app
}

impl TestApp {
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.at(path)).send().await.expect("GET")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.at(path))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    pub async fn login(&self, user: &str, password: &str) -> reqwest::Response {
        let r = self
            .post_form("/login", &[("username", user), ("password", password)])
            .await;
        assert_eq!(r.status(), 303, "login as {user} should succeed");
        r
    }

    pub async fn json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.expect("json")
    }

    /// Waits until the mirror has done its first listing.
    pub async fn wait_synced(&self) {
        let state = &self.server.as_ref().unwrap().state;
        let m = state.engines.primary();
        let until = Instant::now() + Duration::from_secs(10);
        while m.health().last_sync.is_none() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            m.health().last_sync.is_some(),
            "mirror never synced: {:?}",
            m.health()
        );
    }

    /// Polls `f` until it returns true or `within` passes; returns how long it took.
    pub async fn eventually<F, Fut>(&self, within: Duration, mut f: F) -> Option<Duration>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        while start.elapsed() < within {
            if f().await {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        None
    }

    /// Stops the server and waits until it has closed its database.
    pub async fn stop(mut self) -> (PathBuf, Option<tempfile::TempDir>) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            s.wait().await;
        }
        (self.data.clone(), self._tmp.take())
    }
}

/// The API items whose name (or given key) equals `value`.
pub fn find<'a>(
    items: &'a serde_json::Value,
    key: &str,
    value: &str,
) -> Option<&'a serde_json::Value> {
    items
        .as_array()?
        .iter()
        .find(|i| i[key].as_str() == Some(value))
}
