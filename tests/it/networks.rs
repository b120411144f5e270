//! Networks: create with validation, connect/disconnect, remove, built-in protection, prune
//! preview against what prune removes; all as the engine itself reports afterwards.

use serde_json::{Value, json};

use crate::support::{Run, TestApp, docker, docker_quiet, spawn_logged_in};

async fn post_json(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.at(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn exists(name: &str) -> bool {
    !docker_quiet(&["network", "ls", "-q", "--filter", &format!("name=^{name}$")]).is_empty()
}

#[tokio::test]
async fn create_connect_disconnect_remove() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let name = run.name("net");
    let r = post_json(
        &app,
        "/api/networks",
        json!({"name": name, "driver": "bridge", "subnet": "172.31.240.0/24",
               "gateway": "172.31.240.1", "internal": true,
               "labels": {"berth.test": run.id, "purpose": "test"}}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        run.inspect(&id, "{{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).Gateway}} {{.Internal}} {{index .Labels \"purpose\"}}"),
        "172.31.240.0/24 172.31.240.1 true test"
    );
    // Same name again: the engine's conflict, on the name field.
    let r = post_json(
        &app,
        "/api/networks",
        json!({"name": name, "labels": {"berth.test": run.id}}),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "name");

    let c = run.container("member", true, &[], &[]);
    let r = post_json(
        &app,
        &format!("/api/networks/{id}/connect"),
        json!({"container": c, "aliases": ["db", "cache"], "ipv4_address": "172.31.240.50"}),
    )
    .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let fmt = format!("{{{{json (index .NetworkSettings.Networks \"{name}\")}}}}");
    let ep: Value = serde_json::from_str(&run.inspect(&c, &fmt)).unwrap();
    assert_eq!(ep["IPAddress"], "172.31.240.50");
    let aliases: Vec<&str> = ep["Aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        aliases.contains(&"db") && aliases.contains(&"cache"),
        "{aliases:?}"
    );
    // The page shows the attached container.
    let page = app
        .get(&format!("/networks/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&run.name("member")));

    // A static IP outside the subnet is refused before the engine is asked.
    let r = post_json(
        &app,
        &format!("/api/networks/{id}/connect"),
        json!({"container": c, "ipv4_address": "10.9.9.9"}),
    )
    .await;
    assert_eq!(r.status(), 422);

    let r = post_json(
        &app,
        &format!("/api/networks/{id}/disconnect"),
        json!({"container": c}),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        run.inspect(
            &c,
            &format!(
                "{{{{if index .NetworkSettings.Networks \"{name}\"}}}}yes{{{{else}}}}no{{{{end}}}}"
            )
        ),
        "no"
    );

    let r = app
        .client
        .delete(app.at(&format!("/api/networks/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(!exists(&name), "the engine no longer has it");
    let r = app
        .client
        .delete(app.at(&format!("/api/networks/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn bad_input_is_refused_before_the_engine() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let name = run.name("badnet");
    for (body, field) in [
        (json!({"name": name, "subnet": "172.31.241.0/33"}), "subnet"),
        (json!({"name": name, "subnet": "not-a-cidr"}), "subnet"),
        (json!({"name": name, "subnet": "172.31.241.7/24"}), "subnet"),
        (
            json!({"name": name, "subnet": "172.31.241.0/24", "gateway": "172.31.242.1"}),
            "gateway",
        ),
        (json!({"name": name, "gateway": "172.31.242.1"}), "gateway"),
        (json!({"name": name, "driver": "no-such-driver"}), "driver"),
        (json!({"name": "", "subnet": "172.31.241.0/24"}), "name"),
        (
            json!({"name": name, "labels": ["no-equals-sign"]}),
            "labels",
        ),
    ] {
        let r = post_json(&app, "/api/networks", body.clone()).await;
        assert_eq!(r.status(), 422, "{body}");
        let j: Value = r.json().await.unwrap();
        assert_eq!(j["field"], field, "{body}: {j}");
        assert!(!j["error"].as_str().unwrap().is_empty());
    }
    let r = app
        .client
        .post(app.at("/api/networks"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(!exists(&name), "nothing was created");

    // The form shows the same error as a flash.
    let r = app
        .client
        .post(app.at("/networks"))
        .header("hx-request", "true")
        .form(&[("name", name.as_str()), ("subnet", "300.0.0.0/8")])
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(
        html.contains("300.0.0.0/8") && html.contains("flash"),
        "{html}"
    );
}

#[tokio::test]
async fn built_in_networks_are_protected() {
    let app = spawn_logged_in().await;
    for n in ["bridge", "host", "none"] {
        let r = app
            .client
            .delete(app.at(&format!("/api/networks/{n}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{n}");
        let j: Value = r.json().await.unwrap();
        assert!(j["error"].as_str().unwrap().contains("built-in"), "{j}");
        assert!(exists(n));
    }
    let list = app.json("/api/networks").await;
    let bridge = crate::support::find(&list, "name", "bridge").unwrap();
    assert_eq!(bridge["builtin"], true);
    let drivers = app.json("/api/networks/drivers").await;
    assert!(drivers.as_array().unwrap().iter().any(|d| d == "bridge"));
    assert!(!drivers.as_array().unwrap().iter().any(|d| d == "host"));
}

#[tokio::test]
async fn prune_removes_what_the_preview_shows() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let unused = run.network("unused-a", &[]);
    let unused2 = run.network("unused-b", &[]);
    let used = run.network("used", &[]);
    let used_name = run.name("used");
    run.container("user", true, &["--network", &used_name], &[]);
    let _ = (unused, unused2, used);
    let label = run.label();
    let m = app.server.as_ref().unwrap().state.engines.primary().clone();
    // Wait for the mirror to know the networks and the running container.
    app.eventually(std::time::Duration::from_secs(10), || async {
        m.read(|s| {
            s.networks
                .values()
                .filter(|n| n.labels.get("berth.test") == Some(&run.id))
                .count()
                == 3
                && s.containers
                    .values()
                    .any(|c| c.name == run.name("user") && c.state == "running")
        })
    })
    .await
    .expect("mirror in step");
    let preview = app
        .json(&format!("/api/networks/prune?label={label}"))
        .await;
    let mut want: Vec<String> = preview["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(want, vec![run.name("unused-a"), run.name("unused-b")]);
    let r = post_json(&app, "/api/networks/prune", json!({"label": label})).await;
    assert_eq!(r.status(), 200);
    let mut removed: Vec<String> = r.json::<Value>().await.unwrap()["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_string())
        .collect();
    removed.sort();
    assert_eq!(removed, want, "prune removed exactly the preview");
    assert!(exists(&used_name));
    assert!(!exists(&run.name("unused-a")));
    docker(&["network", "inspect", &used_name]);
    // The preview page renders.
    let page = app
        .get(&format!("/networks/prune?label={label}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Nothing to prune"), "{page}");
}

#[tokio::test]
async fn new_routes_need_a_session() {
    let app = crate::support::spawn(crate::support::Opts::default()).await;
    for p in [
        "/layers",
        "/networks/prune",
        "/volumes/prune",
        "/images/prune",
        "/jobs/1",
    ] {
        let r = app.get(p).await;
        assert_eq!(r.status(), 303, "{p}");
    }
    for (method, p) in [
        ("GET", "/api/layers"),
        ("POST", "/api/networks"),
        ("DELETE", "/api/networks/bridge"),
        ("POST", "/api/networks/x/connect"),
        ("POST", "/api/volumes"),
        ("DELETE", "/api/volumes/x"),
        ("GET", "/api/volumes/x/files?path=/"),
        ("POST", "/api/volumes/x/files?path=/&name=a"),
        ("GET", "/api/images/x/export"),
        ("POST", "/api/images/load"),
        ("POST", "/api/images/build"),
        ("POST", "/api/images/pull"),
        ("POST", "/api/images/prune"),
    ] {
        let r = app
            .client
            .request(method.parse().unwrap(), app.at(p))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {p}");
    }
}
