//! A second dockerd beside the machine's own, which a test may kill and restart, following
//! ../shared/SECOND-ENGINE.md: its own bridge and /24, no iptables, vfs, its own cgroup parent,
//! loopback TCP. Torn down when dropped, also when the test fails: its containers removed, the
//! daemon stopped, its cgroup folders, bridge and files removed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SecondEngine {
    pub dir: PathBuf,
    /// `unix://…/docker.sock`, for the CLI.
    pub host: String,
    /// `tcp://127.0.0.1:PORT`, for Berth (like a remote engine on 2375).
    pub tcp: String,
    bridge: String,
    cgroup: String,
    args: Vec<String>,
    child: Option<Child>,
    /// It answered once: its data holds containers to remove.
    started: bool,
    /// The bridge of its `docker_gwbridge`, once it is a swarm manager.
    gwbridge: Option<String>,
}

fn run_quiet(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

impl SecondEngine {
    /// Whether this machine can run one (root, dockerd installed).
    pub fn possible() -> bool {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        root && run_quiet("dockerd", &["--version"])
    }

    /// Starts one for the run `id` and waits until it answers.
    pub fn start(id: &str) -> SecondEngine {
        let short: String = id.chars().rev().take(6).collect();
        let dir = std::env::temp_dir().join(format!("berth-b2-{id}"));
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::fs::create_dir_all(dir.join("exec")).unwrap();
        std::fs::write(dir.join("daemon.json"), "{}").unwrap();
        let port = crate::relay::closed_port();
        let octet = 100 + u32::from_str_radix(&short[..2], 16).unwrap_or(0) % 150;
        let bridge = format!("b2r{short}");
        let cgroup = format!("b2t{short}");
        let d = |p: &str| dir.join(p).display().to_string();
        let mut e = SecondEngine {
            host: format!("unix://{}", d("docker.sock")),
            tcp: format!("tcp://127.0.0.1:{port}"),
            args: vec![
                "--config-file".into(),
                d("daemon.json"),
                "--data-root".into(),
                d("root"),
                "--exec-root".into(),
                d("exec"),
                "--pidfile".into(),
                d("pid"),
                "-H".into(),
                format!("unix://{}", d("docker.sock")),
                "-H".into(),
                format!("tcp://127.0.0.1:{port}"),
                "--bridge".into(),
                bridge.clone(),
                "--storage-driver".into(),
                "vfs".into(),
                "--iptables=false".into(),
                "--ip-masq=false".into(),
                "--ip-forward=false".into(),
                "--cgroup-parent".into(),
                format!("/{cgroup}"),
            ],
            dir,
            bridge,
            cgroup,
            child: None,
            started: false,
            gwbridge: None,
        };
        // From here on, Drop tears down whatever was made.
        let addr = format!("10.231.{octet}.1/24");
        assert!(
            run_quiet("ip", &["link", "add", &e.bridge, "type", "bridge"]),
            "ip link add {}",
            e.bridge
        );
        assert!(run_quiet("ip", &["addr", "add", &addr, "dev", &e.bridge]));
        assert!(run_quiet("ip", &["link", "set", &e.bridge, "up"]));
        e.launch();
        e.started = true;
        e
    }

    fn launch(&mut self) {
        assert!(
            self.try_launch(),
            "the second engine does not answer: see {}",
            self.dir.join("dockerd.log").display()
        );
    }

    /// Starts dockerd and waits (up to 30 s) until it answers.
    fn try_launch(&mut self) -> bool {
        let Ok(log) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("dockerd.log"))
        else {
            return false;
        };
        let Ok(out) = log.try_clone() else {
            return false;
        };
        let Ok(child) = Command::new("dockerd")
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(log)
            .spawn()
        else {
            return false;
        };
        self.child = Some(child);
        let start = Instant::now();
        while !self.answers() {
            if start.elapsed() > Duration::from_secs(30) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        true
    }

    /// Whether it answers the CLI now.
    pub fn answers(&self) -> bool {
        run_quiet("docker", &["-H", &self.host, "version"])
    }

    /// The CLI against it; panics with its stderr when it fails.
    pub fn docker(&self, args: &[&str]) -> String {
        let out = Command::new("docker")
            .args(["-H", &self.host])
            .args(args)
            .output()
            .expect("docker CLI runs");
        assert!(
            out.status.success(),
            "docker -H {} {}: {}",
            self.host,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Loads an image of the machine's engine into it (no registry here).
    pub fn load(&self, image: &str) {
        let st = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "docker save '{image}' | docker -H '{}' load -q",
                self.host
            ))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "loading {image} into the second engine");
    }

    /// Makes it a single-node swarm manager (SECOND-ENGINE.md): its `docker_gwbridge` made first
    /// with its own /24 and bridge name, the swarm on loopback. Left again on drop.
    pub fn swarm_init(&mut self) {
        let short: String = self.bridge.trim_start_matches("b2r").to_string();
        let octet = 100 + u32::from_str_radix(&short[..2], 16).unwrap_or(0) % 150;
        let gw = format!("b2g{short}");
        self.gwbridge = Some(gw.clone());
        self.docker(&[
            "network",
            "create",
            "--subnet",
            &format!("10.232.{octet}.0/24"),
            "-o",
            &format!("com.docker.network.bridge.name={gw}"),
            "-o",
            "com.docker.network.bridge.enable_icc=false",
            "-o",
            "com.docker.network.bridge.enable_ip_masquerade=false",
            "docker_gwbridge",
        ]);
        let port = crate::relay::closed_port();
        self.docker(&[
            "swarm",
            "init",
            "--advertise-addr",
            "127.0.0.1",
            "--listen-addr",
            &format!("127.0.0.1:{port}"),
        ]);
    }

    /// SIGKILL, as a crash would; waits until the process is gone.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same data (after [`SecondEngine::kill9`]).
    pub fn restart(&mut self) {
        self.launch();
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        // Killed and not started again (the test failed in between): start it once more, so
        // that its containers (still running under their shims) are removed by the engine.
        if self.child.is_none() && self.started {
            let _ = self.try_launch();
        }
        if self.child.is_some() && self.answers() && self.gwbridge.is_some() {
            run_quiet("docker", &["-H", &self.host, "swarm", "leave", "--force"]);
        }
        if self.child.is_some() && self.answers() {
            let ids = Command::new("docker")
                .args(["-H", &self.host, "ps", "-aq"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
                .unwrap_or_default();
            for id in ids.lines().filter(|l| !l.is_empty()) {
                run_quiet("docker", &["-H", &self.host, "rm", "-f", "-v", id]);
            }
        }
        if let Some(mut c) = self.child.take() {
            let _ = run_quiet("kill", &["-TERM", &c.id().to_string()]);
            let start = Instant::now();
            loop {
                match c.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if start.elapsed() > Duration::from_secs(20) => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        }
        let root = self.dir.join("root").display().to_string();
        run_quiet("umount", &[&root]);
        if let Ok(dirs) = std::fs::read_dir("/sys/fs/cgroup") {
            for d in dirs.flatten() {
                let _ = std::fs::remove_dir(d.path().join(&self.cgroup));
            }
        }
        let _ = std::fs::remove_dir(PathBuf::from("/sys/fs/cgroup").join(&self.cgroup));
        run_quiet("ip", &["link", "del", &self.bridge]);
        if let Some(gw) = &self.gwbridge {
            run_quiet("ip", &["link", "del", gw]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
