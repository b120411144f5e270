//! Swarm (issue 18, first part), on a single-node swarm of a second engine started by the test
//! (the machine's own engine never joins one), judged by the docker CLI against that engine:
//! the mode detected, the node listed, a service created with 2 replicas, both tasks running in
//! Berth as in the engine, scaled to 3 and back to 1, removed; bad input refused; a standalone
//! engine says what it is.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::second_engine::SecondEngine;
use crate::support::{ADMIN_PASSWORD, Opts, Run, TEST_IMAGE, TestApp, spawn, spawn_logged_in};

/// Running tasks of the service as Berth lists them.
async fn running(app: &TestApp, id: &str) -> usize {
    let r = app.get(&format!("/api/swarm/services/{id}/tasks")).await;
    assert_eq!(r.status(), 200);
    let tasks: Value = r.json().await.unwrap();
    tasks
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["state"] == "running" && t["desired_state"] == "running")
        .count()
}

/// Running tasks of the service as the engine's CLI lists them.
fn cli_running(engine: &SecondEngine, id: &str) -> usize {
    engine
        .docker(&[
            "service",
            "ps",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.CurrentState}}",
            id,
        ])
        .lines()
        .filter(|l| l.starts_with("Running"))
        .count()
}

/// Waits (up to `within`) until both Berth and the CLI count `n` running tasks; returns the
/// delay between the engine's count and Berth's.
async fn both_reach(app: &TestApp, engine: &SecondEngine, id: &str, n: usize, within: Duration) {
    let start = Instant::now();
    let mut engine_at = None;
    loop {
        if engine_at.is_none() && cli_running(engine, id) == n {
            engine_at = Some(start.elapsed());
        }
        if running(app, id).await == n {
            if let Some(at) = engine_at {
                let lag = start.elapsed().saturating_sub(at);
                assert!(
                    lag < Duration::from_secs(10),
                    "Berth {lag:?} after the engine"
                );
            }
            if cli_running(engine, id) == n {
                return;
            }
        }
        assert!(
            start.elapsed() < within,
            "{n} running tasks never shown: Berth {}, engine {}",
            running(app, id).await,
            cli_running(engine, id)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_on_a_single_node_swarm_runs_scales_and_goes() {
    if !SecondEngine::possible() {
        println!("skipped: a second engine needs root and dockerd");
        return;
    }
    let run = Run::new();
    let mut engine = SecondEngine::start(&run.id);
    engine.load(TEST_IMAGE);
    engine.swarm_init();
    let app = spawn(Opts {
        args: vec!["-H".into(), engine.host.clone()],
        ..Default::default()
    })
    .await;
    app.login("admin", ADMIN_PASSWORD).await;
    app.wait_synced().await;

    // The mode, as the engine reports it.
    let s = app.json("/api/swarm").await;
    let cli = engine.docker(&[
        "info",
        "--format",
        "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeID}}",
    ]);
    assert_eq!(
        format!(
            "{} {} {}",
            s["state"].as_str().unwrap(),
            s["manager"],
            s["node_id"].as_str().unwrap()
        ),
        cli,
        "{s}"
    );
    let nodes = app.json("/api/swarm/nodes").await;
    let cli_nodes = engine.docker(&[
        "node",
        "ls",
        "--format",
        "{{.ID}} {{.ManagerStatus}} {{.Availability}}",
    ]);
    assert_eq!(nodes.as_array().unwrap().len(), 1, "{nodes}");
    let n = &nodes[0];
    assert_eq!(
        format!("{} {} {}", n["id"].as_str().unwrap(), "Leader", "Active"),
        cli_nodes,
        "{nodes}"
    );
    assert_eq!(n["role"], "manager");
    assert_eq!(n["manager_status"], "leader");

    // A service with 2 replicas: both tasks running, in Berth as in the engine.
    let name = run.name("svc");
    let r = app
        .client
        .post(app.at("/api/swarm/services"))
        .json(&json!({"name": name, "image": TEST_IMAGE, "replicas": 2, "command": "sleep 3600"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        engine.docker(&["service", "inspect", "--format", "{{.Spec.Name}}", &id]),
        name
    );
    both_reach(&app, &engine, &id, 2, Duration::from_secs(60)).await;
    let svc = app.json(&format!("/api/swarm/services/{name}")).await;
    assert_eq!(svc["id"], id.as_str());
    assert_eq!(svc["desired"], 2);
    assert_eq!(svc["image"], TEST_IMAGE);

    // Scale to 3 and back to 1.
    for n in [3usize, 1] {
        let r = app
            .client
            .post(app.at(&format!("/api/swarm/services/{id}/scale")))
            .json(&json!({"replicas": n}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        assert_eq!(
            engine.docker(&[
                "service",
                "inspect",
                "--format",
                "{{.Spec.Mode.Replicated.Replicas}}",
                &id
            ]),
            n.to_string()
        );
        both_reach(&app, &engine, &id, n, Duration::from_secs(60)).await;
    }

    // A new image and back: the tasks follow each spec.
    let v2 = format!("berth-test/busybox:v2-{}", run.id);
    engine.docker(&["tag", TEST_IMAGE, &v2]);
    let post = |path: String, body: Value| {
        let app = &app;
        async move {
            let r = app
                .client
                .post(app.at(&path))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.text().await.unwrap())
        }
    };
    let image_now = |engine: &SecondEngine| {
        engine.docker(&[
            "service",
            "inspect",
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
            &id,
        ])
    };
    let running_image = |engine: &SecondEngine| {
        engine.docker(&[
            "service",
            "ps",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Image}} {{.CurrentState}}",
            &id,
        ])
    };
    let (st, body) = post(
        format!("/api/swarm/services/{id}/update"),
        json!({"image": v2}),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(image_now(&engine), v2);
    let start = Instant::now();
    while !running_image(&engine).starts_with(&format!("{v2} Running")) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the task never ran {v2}: {}",
            running_image(&engine)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    both_reach(&app, &engine, &id, 1, Duration::from_secs(30)).await;
    assert_eq!(
        app.json(&format!("/api/swarm/services/{id}")).await["image"],
        v2.as_str()
    );
    let (st, body) = post(format!("/api/swarm/services/{id}/rollback"), json!({})).await;
    assert_eq!(st, 200, "{body}");
    let start = Instant::now();
    while image_now(&engine) != TEST_IMAGE
        || !running_image(&engine).starts_with(&format!("{TEST_IMAGE} Running"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never rolled back: {}",
            running_image(&engine)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A service's log: every task's lines, merged, as `docker service logs` has them.
    let (st, body) = post(
        "/api/swarm/services".into(),
        json!({"name": run.name("logs"), "image": TEST_IMAGE, "replicas": 2,
               "command": r#"["sh", "-c", "echo hello-from-$(hostname); sleep 3600"]"#}),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    let logs_id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    both_reach(&app, &engine, &logs_id, 2, Duration::from_secs(60)).await;
    let start = Instant::now();
    loop {
        let ours = app
            .get(&format!("/api/swarm/services/{logs_id}/logs"))
            .await
            .text()
            .await
            .unwrap();
        let mut ours: Vec<&str> = ours
            .lines()
            .filter(|l| l.starts_with("hello-from-"))
            .collect();
        ours.sort();
        let cli = engine.docker(&["service", "logs", "--raw", &logs_id]);
        let mut cli: Vec<&str> = cli
            .lines()
            .filter(|l| l.starts_with("hello-from-"))
            .collect();
        cli.sort();
        if ours.len() == 2 && ours == cli {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "Berth {ours:?}, the CLI {cli:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let html = app
        .get(&format!("/swarm/services/{logs_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        html.matches("hello-from-").count(),
        2,
        "the page shows both tasks' lines"
    );
    let r = app
        .client
        .delete(app.at(&format!("/api/swarm/services/{logs_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (st, _) = post(
        "/api/swarm/services".into(),
        json!({"name": "bad-cmd", "image": TEST_IMAGE, "command": "[not json"}),
    )
    .await;
    assert_eq!(st, 422);

    // Drain the node: its tasks leave; active again, they come back.
    let node = n["id"].as_str().unwrap().to_string();
    let (st, body) = post(format!("/api/swarm/nodes/{node}/drain"), json!({})).await;
    assert_eq!(st, 204, "{body}");
    assert_eq!(
        engine.docker(&[
            "node",
            "inspect",
            "--format",
            "{{.Spec.Availability}}",
            &node
        ]),
        "drain"
    );
    both_reach(&app, &engine, &id, 0, Duration::from_secs(60)).await;
    assert_eq!(
        app.json("/api/swarm/nodes").await[0]["availability"],
        "drain"
    );
    let (st, body) = post(format!("/api/swarm/nodes/{node}/activate"), json!({})).await;
    assert_eq!(st, 204, "{body}");
    both_reach(&app, &engine, &id, 1, Duration::from_secs(60)).await;
    let (st, _) = post(format!("/api/swarm/nodes/{node}/explode"), json!({})).await;
    assert_eq!(st, 422);

    // A secret and a config: listed by name, the secret's data never shown; removed.
    let secret = run.name("sec");
    let (st, body) = post(
        "/api/swarm/secrets".into(),
        json!({"name": secret, "data": "s3cr3t-value"}),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    let (st, body) = post(
        "/api/swarm/configs".into(),
        json!({"name": run.name("cfg"), "data": "key=value"}),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    assert!(
        engine
            .docker(&["secret", "ls", "--format", "{{.Name}}"])
            .lines()
            .any(|l| l == secret)
    );
    assert!(
        engine
            .docker(&["config", "ls", "--format", "{{.Name}}"])
            .lines()
            .any(|l| l == run.name("cfg"))
    );
    let listed = app.get("/api/swarm/secrets").await.text().await.unwrap();
    assert!(
        listed.contains(&secret) && !listed.contains("s3cr3t") && !listed.contains("czNjcjN0"),
        "{listed}"
    );
    let html = app.get("/swarm").await.text().await.unwrap();
    assert!(
        html.contains(&secret) && !html.contains("s3cr3t"),
        "the page lists it, without its data"
    );
    let (st, _) = post(
        "/api/swarm/secrets".into(),
        json!({"name": "bad name", "data": "x"}),
    )
    .await;
    assert_eq!(st, 422);
    for (kind, name) in [("secrets", secret.clone()), ("configs", run.name("cfg"))] {
        let r = app
            .client
            .delete(app.at(&format!("/api/swarm/{kind}/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{kind}");
    }
    assert!(
        !engine
            .docker(&["secret", "ls", "--format", "{{.Name}}"])
            .contains(&secret)
    );

    // The pages, and the cluster on the dashboard.
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains(">1 node</a>"), "the dashboard's swarm card");
    let html = app.get("/swarm").await.text().await.unwrap();
    assert!(html.contains(&name) && html.contains("manager"), "{html}");
    let html = app
        .get(&format!("/swarm/services/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("running") && html.contains(&format!("{name}.")),
        "{html}"
    );

    // Bad input: clear refusals, nothing changed.
    for (body, field) in [
        (json!({"name": "-bad", "image": TEST_IMAGE}), "name"),
        (json!({"name": "ok", "image": ""}), "image"),
        (
            json!({"name": "ok", "image": TEST_IMAGE, "replicas": 5000}),
            "replicas",
        ),
    ] {
        let r = app
            .client
            .post(app.at("/api/swarm/services"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{body}");
        assert_eq!(r.json::<Value>().await.unwrap()["field"], field, "{body}");
    }
    let r = app
        .client
        .post(app.at(&format!("/api/swarm/services/{id}/scale")))
        .json(&json!({"replicas": -1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = app.get("/api/swarm/services/no-such-service/tasks").await;
    assert_eq!(r.status(), 404);
    assert_eq!(engine.docker(&["service", "ls", "-q"]).lines().count(), 1);

    // Removed: the engine has no service left; the audit names each step.
    let r = app
        .client
        .delete(app.at(&format!("/api/swarm/services/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(engine.docker(&["service", "ls", "-q"]), "");
    let audit = app
        .server
        .as_ref()
        .unwrap()
        .state
        .store
        .recent_audit(50)
        .await
        .unwrap();
    for action in [
        "service.create",
        "service.scale",
        "service.update",
        "service.rollback",
        "node.update",
        "secret.create",
        "config.create",
        "secret.remove",
        "service.remove",
    ] {
        assert!(
            audit
                .iter()
                .any(|a| a.action == action && a.outcome == "ok"),
            "{action} audited"
        );
    }
    drop(app);
    drop(engine);
}

#[tokio::test]
async fn a_standalone_engine_says_what_it_is() {
    let app = spawn_logged_in().await;
    let s = app.json("/api/swarm").await;
    let cli = crate::support::docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    assert_eq!(s["state"].as_str().unwrap(), cli, "{s}");
    assert_eq!(s["manager"], false);
    let r = app.get("/api/swarm/services").await;
    assert_eq!(r.status(), 409);
    let j: Value = r.json().await.unwrap();
    assert_eq!(j["field"], "swarm");
    assert!(
        j["error"].as_str().unwrap().contains("not a swarm manager"),
        "{j}"
    );
    let html = app.get("/swarm").await.text().await.unwrap();
    assert!(html.contains("Not part of a swarm"), "{html}");
}
