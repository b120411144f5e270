//! The detail page's anatomy: processes (host PIDs), writable-layer changes, mounts, network
//! identity and image chain, each as the engine reports it.

use std::time::Duration;

use crate::support::{Run, find, spawn_logged_in};

#[tokio::test]
async fn top_lists_the_process_with_its_host_pid() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container("top", true, &[], &["sleep", "4242"]);
    let top = app.json(&format!("/api/containers/{id}/top")).await;
    let titles: Vec<&str> = top["titles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let pid_col = titles
        .iter()
        .position(|t| *t == "PID")
        .expect("a PID column");
    let cmd_col = titles.len() - 1;
    let procs = top["processes"].as_array().unwrap();
    let sleep = procs
        .iter()
        .find(|p| p[cmd_col].as_str().unwrap().contains("sleep 4242"))
        .unwrap_or_else(|| panic!("sleep in {top}"));
    let host_pid = run.inspect(&id, "{{.State.Pid}}");
    assert_eq!(
        sleep[pid_col],
        host_pid.as_str(),
        "host PID as the engine knows it"
    );

    let page = app.get(&format!("/containers/{id}/processes")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("sleep 4242") && html.contains(&host_pid));

    // A stopped container has no processes: said plainly, not an error page.
    let stopped = run.container("top-stopped", false, &[], &[]);
    let page = app.get(&format!("/containers/{stopped}/processes")).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("not running"));
    let r = app.get(&format!("/api/containers/{stopped}/top")).await;
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn changes_list_a_file_the_test_wrote() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container(
        "chg",
        true,
        &[],
        &[
            "sh",
            "-c",
            "echo hi > /berth-added.txt; rm /bin/vi; echo x >> /etc/passwd; sleep 300",
        ],
    );
    let path = format!("/api/containers/{id}/changes");
    let found = app
        .eventually(Duration::from_secs(10), || async {
            let c = app.json(&path).await;
            c.as_array()
                .unwrap()
                .iter()
                .any(|x| x["path"] == "/berth-added.txt")
        })
        .await;
    assert!(found.is_some());
    let c = app.json(&path).await;
    let kind = |p: &str| {
        c.as_array()
            .unwrap()
            .iter()
            .find(|x| x["path"] == p)
            .map(|x| x["kind"].as_str().unwrap().to_string())
    };
    assert_eq!(kind("/berth-added.txt").as_deref(), Some("added"));
    assert_eq!(kind("/bin/vi").as_deref(), Some("deleted"));
    assert_eq!(kind("/etc/passwd").as_deref(), Some("changed"));
    let html = app
        .get(&format!("/containers/{id}/changes"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("/berth-added.txt") && html.contains("change-deleted"));
    assert_eq!(
        app.get("/api/containers/no-such-container-xyz/changes")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn detail_page_shows_mounts_network_identity_and_image_chain() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let net = run.network("anet", &["--subnet", "10.213.9.0/24"]);
    let vol = run.volume("avol", &[]);
    let dir = tempfile::tempdir().unwrap();
    let bind = format!("{}:/hostdir:ro", dir.path().display());
    let volm = format!("{vol}:/data");
    let net_name = run.name("anet");
    let id = run.container(
        "anat",
        true,
        &[
            "-v",
            &bind,
            "-v",
            &volm,
            "--network",
            &net_name,
            "--network-alias",
            "berth-alias",
            "--hostname",
            "anat-host",
            "-p",
            "127.0.0.1::80",
        ],
        &[],
    );
    app.eventually(Duration::from_secs(5), || async {
        find(&app.json("/api/containers").await, "id", &id).is_some()
    })
    .await
    .unwrap();
    let html = app
        .get(&format!("/containers/{id}"))
        .await
        .text()
        .await
        .unwrap();
    let ip = run.inspect(
        &id,
        &format!("{{{{(index .NetworkSettings.Networks \"{net_name}\").IPAddress}}}}"),
    );
    let mac = run.inspect(
        &id,
        &format!("{{{{(index .NetworkSettings.Networks \"{net_name}\").MacAddress}}}}"),
    );
    assert!(ip.starts_with("10.213.9."), "{ip}");
    for want in [
        ip.as_str(),
        mac.as_str(),
        "10.213.9.1",
        "berth-alias",
        "anat-host",
        &format!("/networks/{net}"),
        &format!("/volumes/{vol}"),
        "bind mount (host folder)",
        "named volume",
        "read-only",
        "127.0.0.1:",
        "writable layer",
        &format!("/containers/{id}/logs"),
        &format!("/containers/{id}/stats"),
        &format!("/containers/{id}/processes"),
        &format!("/containers/{id}/changes"),
        &format!("/containers/{id}/files"),
    ] {
        assert!(html.contains(want), "detail page lacks {want}");
    }
    let image_id = run.inspect(&id, "{{.Image}}");
    assert!(html.contains(&format!("/images/{image_id}")));
    assert!(
        html.contains("read-only image layer"),
        "the image's layers are listed"
    );
}
