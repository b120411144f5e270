//! Berth as a restart-always container: the image from scripts/image.sh, run as the README says,
//! with its data on a named volume. One slow test (it needs a static release build): the image
//! is always rebuilt through the script, so a broken build fails the test.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Run, client, docker, docker_quiet};

const PASSWORD: &str = "container-admin-password";

fn build_image() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/image.sh");
    let out = Command::new("bash")
        .arg(script)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "scripts/image.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `docker run -d --restart always` of berth:latest as the README documents it.
fn run_berth(run: &Run, name: &str, volume: &str) -> String {
    let label = run.label();
    let data = format!("{volume}:/data");
    docker(&[
        "run",
        "-d",
        "--restart",
        "always",
        "--name",
        name,
        "--label",
        &label,
        "-v",
        &data,
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        "-p",
        "127.0.0.1::9000",
        "berth:latest",
    ])
}

/// The published host address of port 9000 (a restart may pick a new host port).
async fn url_of(name: &str) -> String {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let p = docker_quiet(&["port", name, "9000/tcp"]);
        if let Some(line) = p.lines().find(|l| l.starts_with("127.0.0.1:")) {
            return format!("http://{line}");
        }
        assert!(Instant::now() < until, "{name}: port 9000 never published");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_healthz(name: &str) -> String {
    let http = client();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let url = url_of(name).await;
        if let Ok(r) = http.get(format!("{url}/healthz")).send().await
            && r.status() == 200
        {
            return url;
        }
        assert!(Instant::now() < until, "{name}: /healthz never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn state_of(name: &str, format: &str) -> String {
    docker(&["inspect", "-f", format, name])
}

async fn wait_health_status(name: &str, want: &str, within: Duration) {
    let until = Instant::now() + within;
    loop {
        let s = state_of(name, "{{.State.Health.Status}}");
        if s == want {
            return;
        }
        assert!(
            Instant::now() < until,
            "{name}: health is {s}, not {want}; log:\n{}",
            docker_quiet(&["logs", "--tail", "30", name])
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn berth_image_restarts_keeps_its_data_and_stops_cleanly() {
    build_image();
    let run = Run::new();
    let volume = run.volume("data", &[]);
    let name = run.name("berth");
    run_berth(&run, &name, &volume);
    let url = wait_healthz(&name).await;
    let http = client();

    // 1. setup over HTTP, a setting changed, the engine says healthy (the HEALTHCHECK uses the
    //    binary itself).
    let r = http
        .post(format!("{url}/setup"))
        .form(&[
            ("username", "admin"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "setup: {}", r.text().await.unwrap());
    let r = http
        .put(format!("{url}/api/settings/ui.theme"))
        .json(&serde_json::json!({"value": "dark"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // Berth inside the container reaches the engine over the mounted socket.
    let h: serde_json::Value = http
        .get(format!("{url}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["engine"], "up", "{h}");
    wait_health_status(&name, "healthy", Duration::from_secs(60)).await;

    // 2. SIGKILL to Berth's process from the host: the engine restarts it. (`docker kill` would
    //    not do: the engine counts it as a manual stop and does not restart.)
    let restarts: u32 = state_of(&name, "{{.RestartCount}}").parse().unwrap();
    let pid = state_of(&name, "{{.State.Pid}}");
    assert!(pid.parse::<u32>().unwrap() > 1, "pid {pid}");
    let st = Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    assert!(
        st.success(),
        "kill -KILL {pid} failed: the test needs the right to signal the engine's processes"
    );
    let until = Instant::now() + Duration::from_secs(30);
    while state_of(&name, "{{.RestartCount}}").parse::<u32>().unwrap() <= restarts {
        assert!(Instant::now() < until, "the engine did not restart Berth");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = wait_healthz(&name).await;
    let r = http
        .get(format!("{url}/api/settings"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the session survives the restart");
    let s: serde_json::Value = r.json().await.unwrap();
    assert_eq!(s["ui.theme"], "dark");
    assert_eq!(
        http.get(format!("{url}/")).send().await.unwrap().status(),
        200
    );

    // 3. a new container on the same volume: same password, settings and audit log intact,
    //    setup refused.
    docker(&["rm", "-f", &name]);
    let name2 = run.name("berth2");
    run_berth(&run, &name2, &volume);
    let url = wait_healthz(&name2).await;
    let http = client();
    let r = http
        .post(format!("{url}/setup"))
        .form(&[
            ("username", "intruder"),
            ("password", "intruder-password"),
            ("password_confirm", "intruder-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "setup must be refused once an admin exists"
    );
    let r = http
        .post(format!("{url}/login"))
        .form(&[("username", "admin"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the same password logs in");
    let s: serde_json::Value = http
        .get(format!("{url}/api/settings"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["ui.theme"], "dark");
    let audit: serde_json::Value = http
        .get(format!("{url}/api/audit?limit=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = audit.as_array().expect("audit rows");
    for (action, outcome) in [("setup", "ok"), ("setting.change", "ok"), ("login", "ok")] {
        assert!(
            rows.iter()
                .any(|a| a["action"] == action && a["outcome"] == outcome),
            "audit lacks {action}: {audit}"
        );
    }

    // 4. `docker stop` ends it with exit code 0 well within the 10 s timeout, even with a live
    //    stream (/live, server-sent events) open.
    let live = http.get(format!("{url}/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let started = Instant::now();
    docker(&["stop", "-t", "10", &name2]);
    let took = started.elapsed();
    drop(live);
    assert_eq!(state_of(&name2, "{{.State.ExitCode}}"), "0");
    assert!(
        took < Duration::from_secs(8),
        "docker stop took {took:?}: SIGTERM did not end Berth in time"
    );
    let logs = docker_quiet(&["logs", "--tail", "5", &name2]);
    assert!(
        logs.contains("Berth stopped"),
        "no clean stop in the log:\n{logs}"
    );
}
