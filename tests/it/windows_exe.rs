//! berth.exe (the x86_64-pc-windows-gnu build that `scripts/windows.sh` makes) run under Wine:
//! `--version`, then serving on loopback against this machine's real engine through a TCP
//! relay (as a Windows host's Berth reaches its engine on 2375), `/healthz`, the container list
//! showing the engine's containers, and a clean stop on Ctrl-C.
//!
//! Skips, saying why, only when berth.exe was not built; CI builds it first and sets
//! `BERTH_WINDOWS_EXE_REQUIRED=1`, so that there a missing exe or Wine fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::relay::Relay;
use crate::support::{Run, client};

const WINE: &str = "/usr/lib/wine/wine64";
const WINESERVER: &str = "/usr/lib/wine/wineserver64";
const PASSWORD: &str = "wine-admin-password";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// berth.exe and the stand-in DLL, or why the test cannot run.
fn artefacts() -> Result<(PathBuf, PathBuf), String> {
    let exe = std::env::var_os("BERTH_WINDOWS_EXE")
        .map(PathBuf::from)
        .or_else(|| {
            ["debug", "release"]
                .iter()
                .map(|p| {
                    repo().join(format!(
                        "target/windows/x86_64-pc-windows-gnu/{p}/berth.exe"
                    ))
                })
                .filter(|p| p.exists())
                .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        })
        .ok_or("berth.exe was not built (run `bash scripts/windows.sh`)")?;
    let dll = repo().join("target/windows/wine/bcryptprimitives.dll");
    if !dll.exists() {
        return Err(format!(
            "{} was not built (run `bash scripts/windows.sh`)",
            dll.display()
        ));
    }
    if !Path::new(WINE).exists() {
        return Err(format!("{WINE} is missing (apt-get install wine64)"));
    }
    Ok((exe, dll))
}

/// A temporary 64-bit Wine prefix with the stand-in bcryptprimitives.dll; its wineserver is
/// ended on drop.
struct Prefix {
    dir: tempfile::TempDir,
}

impl Prefix {
    fn new(dll: &Path) -> Prefix {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = Prefix { dir };
        let out = p
            .wine()
            .args(["wineboot", "--init"])
            .output()
            .expect("wineboot runs");
        assert!(
            out.status.success(),
            "wineboot failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sys32 = p.dir.path().join("drive_c/windows/system32");
        assert!(sys32.is_dir(), "the prefix has no system32");
        std::fs::copy(dll, sys32.join("bcryptprimitives.dll")).expect("copy the stand-in DLL");
        p
    }

    fn wine(&self) -> Command {
        let mut c = Command::new(WINE);
        c.env("WINEPREFIX", self.dir.path())
            .env("WINEARCH", "win64")
            .env("WINEDEBUG", "-all")
            // No display: Wine's programs stay on the console.
            .env_remove("DISPLAY")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=;bcryptprimitives=n");
        c
    }

    fn drive_c(&self) -> PathBuf {
        self.dir.path().join("drive_c")
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let _ = Command::new(WINESERVER)
            .arg("-k")
            .env("WINEPREFIX", self.dir.path())
            .status();
    }
}

/// A free loopback port (bound, read, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Ends the child on drop if the test failed before stopping it.
struct Child(Option<std::process::Child>);

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_exe_serves_the_real_engine_under_wine() {
    let (exe, dll) = match artefacts() {
        Ok(a) => a,
        Err(why) => {
            assert!(
                std::env::var_os("BERTH_WINDOWS_EXE_REQUIRED").is_none(),
                "BERTH_WINDOWS_EXE_REQUIRED is set but {why}"
            );
            println!("SKIPPED berth_exe_serves_the_real_engine_under_wine: {why}");
            return;
        }
    };
    let run = Run::new();
    run.container("wine-sees-me", true, &[], &["sleep", "300"]);
    let shown = run.name("wine-sees-me");
    let prefix = tokio::task::spawn_blocking(move || Prefix::new(&dll))
        .await
        .unwrap();

    // --version, answered by the Windows binary itself.
    let out = prefix
        .wine()
        .arg(&exe)
        .arg("--version")
        .output()
        .expect("wine runs berth.exe");
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && version.contains(env!("CARGO_PKG_VERSION")),
        "berth.exe --version: {version} {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Serving: the engine through a plain TCP relay, as tcp://<nat gateway>:2375 on a host.
    let relay = Relay::tcp().await;
    std::fs::write(prefix.drive_c().join("admin-password.txt"), PASSWORD).unwrap();
    let (http, https) = (free_port(), free_port());
    let log = tempfile::NamedTempFile::new().unwrap();
    let child = prefix
        .wine()
        .arg(&exe)
        .args(["--bind", &format!("127.0.0.1:{http}")])
        .args(["--bind-https", &format!("127.0.0.1:{https}")])
        .args(["--data", r"C:\berth-data"])
        .args(["--admin-password-file", r"C:\admin-password.txt"])
        .args(["-H", &relay.url()])
        .stdin(Stdio::null())
        .stdout(log.reopen().unwrap())
        .stderr(log.reopen().unwrap())
        .spawn()
        .expect("wine starts berth.exe");
    let mut child = Child(Some(child));
    let base = format!("http://127.0.0.1:{http}");
    let c = client();
    let logs = || std::fs::read_to_string(log.path()).unwrap_or_default();

    let start = Instant::now();
    let health = loop {
        if let Ok(r) = c.get(format!("{base}/healthz")).send().await {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "berth.exe never answered /healthz: {}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(health.status(), 200, "{}", logs());

    let r = c
        .post(format!("{base}/login"))
        .form(&[("username", "admin"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "login: {}", logs());
    // The list shows the engine's containers: ours, and every one `docker ps -a` names.
    let mut page = String::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        page = c
            .get(format!("{base}/containers"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains(&shown) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        page.contains(&shown),
        "{shown} missing from the list: {}",
        logs()
    );
    let api: serde_json::Value = c
        .get(format!("{base}/api/containers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = api.to_string();
    assert!(listed.contains(&shown), "{listed}");
    assert!(
        relay.forwarded() > 0,
        "berth.exe did not reach the engine through the relay"
    );
    // Its store is a SQLite file on the Windows drive it was given.
    assert!(prefix.drive_c().join("berth-data/berth.db").exists());

    // Ctrl-C (Wine turns SIGINT into the console's CTRL_C_EVENT): a clean stop.
    let pid = child.0.as_ref().unwrap().id();
    // SAFETY: kill only sends a signal to the process we started.
    unsafe {
        libc::kill(pid as i32, libc::SIGINT);
    }
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.0.as_mut().unwrap().try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "berth.exe did not stop on Ctrl-C: {}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    child.0 = None;
    let text = logs();
    assert!(status.success(), "exit {status:?}: {text}");
    assert!(text.contains("shutting down"), "{text}");
    drop(prefix);
}
