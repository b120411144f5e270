//! Berth against a Windows Server 2019 engine (the simulator in `windows_engine.rs`): every
//! Windows behaviour of issue 12 end to end, through Berth's own API and pages.

use std::time::Duration;

use crate::support::{Opts, TestApp, spawn};
use crate::windows_engine::{HV_ID, WindowsEngine};

async fn berth_on_windows() -> (WindowsEngine, TestApp) {
    let engine = WindowsEngine::start().await;
    let app = spawn(Opts {
        args: vec!["-H".into(), engine.url()],
        ..Default::default()
    })
    .await;
    app.login("admin", crate::support::ADMIN_PASSWORD).await;
    app.wait_synced().await;
    (engine, app)
}

#[tokio::test]
async fn windows_stats_give_the_clis_cpu_percent_from_local_time_reads() {
    let (_engine, app) = berth_on_windows().await;
    let s = app.json(&format!("/api/containers/{HV_ID}/stats")).await;
    // 4 × 10^6 intervals used in 200 ms on 4 processors: 50 %, as docker stats computes it
    // (reads stamped +03:00: the old parser took none of them, and the cell timed out).
    assert_eq!(s["cpu_valid"], true, "{s}");
    let cpu = s["cpu_percent"].as_f64().unwrap();
    assert!((cpu - 50.0).abs() < 1e-6, "{s}");
    assert_eq!(s["memory_usage"], 48_234_496, "private working set");
    assert_eq!(s["memory_limit"], 0);
    assert_eq!(
        s["pids"],
        serde_json::Value::Null,
        "Windows engines count no pids"
    );
    assert_eq!(s["online_cpus"], 4);
    assert!(
        s["block_read"].as_u64().unwrap() >= 1_048_576,
        "storage_stats: {s}"
    );
    assert_eq!(s["windows"], true);
    let page = app
        .get(&format!("/containers/{HV_ID}/stats"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("private working set"), "{page}");
    assert!(
        !page.contains("data-stat=\"pids\""),
        "no process count on Windows"
    );
}

#[tokio::test]
async fn windows_refusals_are_said_without_a_raw_500() {
    let (engine, app) = berth_on_windows().await;
    // Hyper-V isolated and running: archive operations are refused by the engine.
    let r = app
        .get(&format!("/api/containers/{HV_ID}/files?path=C:\\Windows"))
        .await;
    assert_eq!(r.status(), 409);
    let body: serde_json::Value = r.json().await.unwrap();
    let msg = body["error"].as_str().unwrap();
    assert!(
        msg.contains("running Hyper-V container are not supported")
            && msg.contains("Stop the container first"),
        "{msg}"
    );
    // ... before any archive call: the engine's refusal of a HEAD stat has no body to say it.
    assert!(
        !engine.seen().iter().any(|s| s.contains("/archive")),
        "{:?}",
        engine.seen()
    );
    // The process-isolated container is asked, its drive letter gone: /Windows.
    let r = app
        .get("/api/containers/iis-web/files?path=C:\\Windows")
        .await;
    assert_eq!(r.status(), 404, "the simulator has no files");
    assert!(
        engine
            .seen()
            .iter()
            .any(|s| s.contains("/archive?path=%2FWindows")),
        "{:?}",
        engine.seen()
    );
    // Other drives are refused with the engine's words, before any engine call.
    let before = engine.seen().len();
    let r = app
        .get(&format!("/api/containers/{HV_ID}/files?path=D:\\data"))
        .await;
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["error"],
        "The specified path is not on the system drive (C:)"
    );
    assert!(
        !engine.seen()[before..]
            .iter()
            .any(|s| s.contains("/archive")),
        "no archive call for another drive"
    );
    // A running Windows container's changes: refused before the engine is asked.
    let before = engine.seen().len();
    let r = app.get(&format!("/api/containers/{HV_ID}/changes")).await;
    assert_eq!(r.status(), 409);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("Windows does not support diff of a running container"),
        "{body}"
    );
    assert!(
        !engine.seen()[before..]
            .iter()
            .any(|s| s.contains("/changes"))
    );
    // Volumes: no helper container on Windows, and the reason.
    let before = engine.seen().len();
    let r = app.get("/api/volumes/berth-data/files?path=/").await;
    assert_eq!(r.status(), 409);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("Windows engines do not mount volumes for the archive API"),
        "{body}"
    );
    assert!(
        !engine.seen()[before..]
            .iter()
            .any(|s| s.starts_with("POST /containers/create")),
        "no helper container created: {:?}",
        &engine.seen()[before..]
    );
}

#[tokio::test]
async fn windows_top_keeps_the_engines_titles_and_says_whose_pids() {
    let (_engine, app) = berth_on_windows().await;
    let top = app.json(&format!("/api/containers/{HV_ID}/top")).await;
    assert_eq!(
        top["titles"],
        serde_json::json!(["Name", "PID", "CPU", "Private Working Set"])
    );
    assert_eq!(top["host_pids"], false, "Hyper-V: the utility VM's PIDs");
    let web = app.json("/api/containers/iis-web/top").await;
    assert_eq!(web["host_pids"], true, "process isolation: the host's PIDs");
    let page = app
        .get(&format!("/containers/{HV_ID}/processes"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("utility VM"), "{page}");
    assert!(page.contains("Private Working Set"));
}

/// The pages of a Windows host in Chromium, with screenshots in target/screenshots/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_host_pages_render_in_a_real_browser() {
    let (_engine, app) = berth_on_windows().await;
    let (_d, c) = crate::browser::open(&app).await;
    crate::browser::visit(&c, &app.at("/containers")).await;
    let text = c
        .find(fantoccini::Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("iis-web") && text.contains("hv-worker"),
        "{text}"
    );
    crate::browser::screenshot(&c, "windows-containers").await;
    crate::browser::visit(&c, &app.at(&format!("/containers/{HV_ID}/stats"))).await;
    crate::browser::until(
        &c,
        "the CPU figure of a Windows sample",
        "return (document.querySelector('[data-stat=cpu]')||{}).textContent === '50.00 %'",
        "return document.querySelector('#stats').innerText",
    )
    .await;
    crate::browser::screenshot(&c, "windows-stats").await;
    crate::browser::visit(&c, &app.at(&format!("/containers/{HV_ID}/processes"))).await;
    crate::browser::screenshot(&c, "windows-processes").await;
    crate::browser::visit(&c, &app.at("/containers/iis-web")).await;
    crate::browser::screenshot(&c, "windows-container").await;
    c.close().await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
}
