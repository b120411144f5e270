//! Registries against a real one: Debian's `docker-registry` (distribution 2.8) on loopback, with
//! and without htpasswd auth. Oracles: the engine (`docker inspect` RepoDigests, `docker pull`)
//! and the registry's own v2 API read directly.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Run, TestApp, docker, docker_quiet, find, spawn_logged_in};

/// A registry for one test, torn down on drop.
struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Registry {
    fn start(auth: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((user, pass)) = auth {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("htpasswd (apache2-utils) runs");
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                file.display()
            ));
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let child = Command::new("docker-registry")
            .args(["serve", cfg.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (Debian package) runs");
        let r = Registry { child, dir, port };
        let until = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's own answer, read without Berth.
    async fn v2(&self, path: &str, auth: Option<(&str, &str)>, accept: bool) -> reqwest::Response {
        let mut rb = reqwest::Client::new().get(format!("http://{}/v2/{path}", self.host()));
        if let Some((u, p)) = auth {
            rb = rb.basic_auth(u, Some(p));
        }
        if accept {
            rb = rb.header(
                "accept",
                "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
            );
        }
        rb.send().await.unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = &self.dir;
    }
}

async fn post_json(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.at(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn put_json(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .put(app.at(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The digest the engine recorded for `image` in repository `repo` (`docker inspect`).
fn engine_digest(image: &str, repo: &str) -> Option<String> {
    let out = docker(&["image", "inspect", "-f", "{{json .RepoDigests}}", image]);
    let v: Vec<String> = serde_json::from_str(&out).unwrap_or_default();
    v.into_iter()
        .find_map(|d| d.strip_prefix(&format!("{repo}@")).map(str::to_string))
}

#[tokio::test]
async fn push_browse_and_pull_back_through_a_real_registry() {
    let run = Run::new();
    let reg = Registry::start(None);
    let app = spawn_logged_in().await;
    let r = post_json(
        &app,
        "/api/registries",
        json!({"url": format!("http://{}", reg.host()), "name": run.name("reg")}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    // A second one with the same host is a conflict naming the field.
    let r = post_json(&app, "/api/registries", json!({"url": reg.host()})).await;
    assert_eq!(r.status(), 409);
    let r = app
        .client
        .post(app.at(&format!("/api/registries/{id}/test")))
        .send()
        .await
        .unwrap();
    let ping: Value = r.json().await.unwrap();
    assert_eq!(ping["auth"], "none", "{ping}");

    let local = run.two_layer_image("push");
    let repo = format!("{}/berth-test/{}", reg.host(), run.name("app"));
    let target = format!("{repo}:v1");
    let r = post_json(
        &app,
        "/api/images/push",
        json!({"image": local, "target": target}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // The registry itself lists the repository and the tag; the engine recorded the digest.
    let catalog: Value = reg.v2("_catalog", None, false).await.json().await.unwrap();
    let path = format!("berth-test/{}", run.name("app"));
    assert!(
        catalog["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == &json!(path)),
        "{catalog}"
    );
    let pushed = engine_digest(&target, &repo).expect("the engine records the pushed digest");
    let head = reg.v2(&format!("{path}/manifests/v1"), None, true).await;
    assert_eq!(
        head.headers()["docker-content-digest"].to_str().unwrap(),
        pushed
    );

    // Berth's browse view says the same.
    let repos = app
        .json(&format!("/api/registries/{id}/repositories"))
        .await;
    assert!(
        repos["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == &json!(path)),
        "{repos}"
    );
    let tags = app
        .json(&format!("/api/registries/{id}/tags?repo={path}"))
        .await;
    let t = find(&tags, "tag", "v1").expect("tag v1 listed");
    assert_eq!(t["digest"], json!(pushed), "{t}");
    assert!(t["size"].as_i64().unwrap() > 0);
    assert!(
        t["created"].as_str().is_some_and(|c| c.starts_with("20")),
        "{t}"
    );
    assert_eq!(t["platforms"][0]["os"], "linux");
    let page = app.get(&format!("/registries/{id}/tags?repo={path}")).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(&pushed[..19]));

    // Removed locally, pulled back through Berth: the engine has it with the same digest.
    docker_quiet(&["rmi", &target]);
    let r = post_json(&app, "/api/images/pull", json!({"reference": target})).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(
        engine_digest(&target, &repo).as_deref(),
        Some(pushed.as_str())
    );
    docker_quiet(&["rmi", &target]);

    // A tag that is not there: the registry's 404, said as such.
    let r = app
        .get(&format!(
            "/api/registries/{id}/tags?repo=berth-test/nothing-{}",
            run.id
        ))
        .await;
    assert_eq!(r.status(), 404);
    // Hostile repository names are refused before any request.
    let r = app
        .get(&format!(
            "/api/registries/{id}/tags?repo=..%2F..%2Fx%3Cscript%3E"
        ))
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .client
        .delete(app.at(&format!("/api/registries/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn stored_credentials_are_used_and_never_shown() {
    let run = Run::new();
    let (user, pass) = ("berth", "s3cret-pass");
    let reg = Registry::start(Some((user, pass)));
    let app = spawn_logged_in().await;
    let r = post_json(&app, "/api/registries", json!({"url": reg.host()})).await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let ping = app
        .client
        .post(app.at(&format!("/api/registries/{id}/test")))
        .send()
        .await
        .unwrap();
    let ping: Value = ping.json().await.unwrap();
    assert_eq!(
        (ping["auth"].as_str(), ping["authenticated"].as_bool()),
        (Some("basic"), Some(false)),
        "{ping}"
    );

    let local = run.two_layer_image("auth");
    let repo = format!("{}/berth-test/{}", reg.host(), run.name("priv"));
    let target = format!("{repo}:v1");
    // Without credentials the engine's refusal comes back as it said it.
    let r = post_json(
        &app,
        "/api/images/push",
        json!({"image": local, "target": target}),
    )
    .await;
    assert!(r.status().is_client_error() || r.status().is_server_error());
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no basic auth credentials"),
        "{body}"
    );
    docker_quiet(&["rmi", &target]);

    // Wrong, then right credentials.
    let r = put_json(
        &app,
        &format!("/api/registries/{id}"),
        json!({"url": reg.host(), "username": user, "password": "wrong"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .post(app.at(&format!("/api/registries/{id}/test")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert!(r.text().await.unwrap().contains("refused the stored"));
    let r = put_json(
        &app,
        &format!("/api/registries/{id}"),
        json!({"url": reg.host(), "username": user, "password": pass}),
    )
    .await;
    let shown = r.text().await.unwrap();
    assert!(
        !shown.contains(pass),
        "the password is never shown: {shown}"
    );
    let r = app
        .client
        .post(app.at(&format!("/api/registries/{id}/test")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["authenticated"], true);
    // An edit without a password keeps the stored one.
    let r = put_json(
        &app,
        &format!("/api/registries/{id}"),
        json!({"url": reg.host(), "username": user, "name": run.name("renamed")}),
    )
    .await;
    assert_eq!(r.status(), 200);

    let r = post_json(
        &app,
        "/api/images/push",
        json!({"image": local, "target": target}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // The registry (asked with the credentials directly) has it; Berth browses it with them.
    let tags: Value = reg
        .v2(
            &format!("berth-test/{}/tags/list", run.name("priv")),
            Some((user, pass)),
            false,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tags["tags"], json!(["v1"]));
    let repos = app
        .json(&format!("/api/registries/{id}/repositories"))
        .await;
    assert_eq!(
        repos["repositories"].as_array().unwrap().len(),
        1,
        "{repos}"
    );
    // Pull back with the stored credentials (none given in the request).
    docker_quiet(&["rmi", &target]);
    let r = post_json(&app, "/api/images/pull", json!({"reference": target})).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    docker_quiet(&["rmi", &target]);

    // The password is in the database only sealed; the lists never carry it.
    let (dir, _tmp) = app.stop().await;
    let db = std::fs::read(dir.join("berth.db")).unwrap();
    let wal = std::fs::read(dir.join("berth.db-wal")).unwrap_or_default();
    let needle = pass.as_bytes();
    assert!(!db.windows(needle.len()).any(|w| w == needle));
    assert!(!wal.windows(needle.len()).any(|w| w == needle));
}

#[tokio::test]
async fn update_available_then_pull_and_recreate_keeps_the_configuration() {
    let run = Run::new();
    let reg = Registry::start(None);
    let app = spawn_logged_in().await;
    let r = post_json(&app, "/api/registries", json!({"url": reg.host()})).await;
    assert_eq!(r.status(), 201);
    let repo = format!("{}/berth-test/{}", reg.host(), run.name("upd"));
    let tag = format!("{repo}:1");
    let old = run.two_layer_image("old");
    docker(&["tag", &old, &tag]);
    docker_quiet(&["push", &tag]);
    let vol = run.volume("data", &[]);
    let mount = format!("{vol}:/data");
    let label = run.label();
    let name = run.name("svc");
    let c = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        &label,
        "-e",
        "FOO=bar",
        "-v",
        &mount,
        "-p",
        "127.0.0.1::8080",
        "--network",
        "bridge",
        &tag,
        "sleep",
        "3600",
    ]);
    let old_id = run.inspect(&c, "{{.Image}}");
    let port_before = run.inspect(&c, "{{json .HostConfig.PortBindings}}");
    app.wait_synced().await;
    let seen = app
        .eventually(Duration::from_secs(10), || async {
            find(&app.json("/api/containers").await, "id", &c).is_some()
        })
        .await;
    assert!(seen.is_some(), "the container is listed");
    let checks = post_json(&app, "/api/updates/check", json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let mine = find(&checks["checks"], "reference", &tag)
        .unwrap_or_else(|| panic!("not checked: {checks}"))
        .clone();
    assert_eq!(mine["state"], "up-to-date", "{mine}");

    // A new image under the same tag, pushed from the CLI: the registry's digest moves.
    let newer = run.two_layer_image("new");
    docker(&["tag", &newer, &tag]);
    docker_quiet(&["push", &tag]);
    let remote = engine_digest(&tag, &repo).unwrap();
    // Put the tag back on the old image locally, as a host that has not pulled yet.
    docker(&["tag", &old, &tag]);
    let checks = post_json(&app, "/api/updates/check", json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let mine = find(&checks["checks"], "reference", &tag)
        .unwrap_or_else(|| panic!("not checked: {checks}"))
        .clone();
    assert_eq!(mine["state"], "available", "{mine}");
    assert_eq!(mine["remote_digest"], json!(remote));
    let page = app
        .get(&format!("/containers/{c}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("update available"));

    let r = post_json(&app, &format!("/api/containers/{c}/update"), json!({})).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // The engine's word: same name, the new image, the same env, mount and port request.
    let now = docker(&["inspect", "-f", "{{.Id}}", &name]);
    assert_ne!(now, c);
    let new_id = run.inspect(&name, "{{.Image}}");
    assert_ne!(new_id, old_id);
    assert_eq!(
        new_id,
        docker(&["image", "inspect", "-f", "{{.Id}}", &newer])
    );
    assert!(
        run.inspect(&name, "{{json .Config.Env}}")
            .contains("FOO=bar")
    );
    assert!(run.inspect(&name, "{{json .Mounts}}").contains(&vol));
    assert_eq!(
        run.inspect(&name, "{{json .HostConfig.PortBindings}}"),
        port_before
    );
    assert_eq!(run.inspect(&name, "{{.State.Status}}"), "running");
    docker_quiet(&["rmi", &tag]);

    // A registry that is gone leaves "unknown", never "up to date".
    drop(reg);
    let checks = post_json(&app, "/api/updates/check", json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let mine = find(&checks["checks"], "reference", &tag)
        .unwrap_or_else(|| panic!("not checked: {checks}"))
        .clone();
    assert_eq!(mine["state"], "unknown", "{mine}");
    assert!(
        mine["reason"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{mine}"
    );
}
