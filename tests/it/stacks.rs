//! Stacks, judged by docker-compose 1.29 (the oracle installed on this machine): what Berth
//! deploys, `docker-compose ps`/`down` see and remove; what `docker-compose up` made, Berth
//! lists, stops and removes; redeploys recreate only what changed; errors name their line.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{Run, TEST_IMAGE, TestApp, docker, docker_quiet, spawn_logged_in};

/// A compose project of this test run: its name carries the run id, its file sits in a temp
/// folder for docker-compose, and dropping it runs `docker-compose down -v` (the run's own
/// drop then removes anything else carrying its label).
struct Project {
    name: String,
    dir: tempfile::TempDir,
}

impl Project {
    fn new(run: &Run, suffix: &str) -> Self {
        Project {
            name: format!("bt{}{suffix}", run.id),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("docker-compose.yml")
    }

    fn write(&self, text: &str) {
        std::fs::write(self.file(), text).unwrap();
    }

    /// Runs docker-compose on this project; returns (success, stdout, stderr).
    fn compose(&self, args: &[&str]) -> (bool, String, String) {
        let file = self.file();
        let out = Command::new("docker-compose")
            .current_dir(self.dir.path())
            .args(["-p", &self.name, "-f"])
            .arg(&file)
            .args(args)
            .output()
            .expect("docker-compose runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Ids of every container carrying the project's label (the engine's word).
    fn engine_ids(&self) -> BTreeSet<String> {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        docker_quiet(&["ps", "-aq", "--no-trunc", "--filter", &filter])
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if self.file().exists() {
            let _ = self.compose(&["down", "-v", "--remove-orphans"]);
        }
        let filter = format!("label=com.docker.compose.project={}", self.name);
        for id in docker_quiet(&["ps", "-aq", "--filter", &filter]).lines() {
            docker_quiet(&["rm", "-f", "-v", id]);
        }
        for id in docker_quiet(&["network", "ls", "-q", "--filter", &filter]).lines() {
            docker_quiet(&["network", "rm", id]);
        }
        for id in docker_quiet(&["volume", "ls", "-q", "--filter", &filter]).lines() {
            docker_quiet(&["volume", "rm", "-f", id]);
        }
    }
}

/// The two-service file of the issue: web depends on worker, a named volume, a custom network,
/// everything labelled with the run.
fn two_services(run: &Run, web_env: &str) -> String {
    format!(
        r#"version: "3.8"
services:
  web:
    image: {TEST_IMAGE}
    command: ["sleep", "3600"]
    environment:
      GREETING: "{web_env}"
    volumes:
      - data:/data
    networks:
      back:
        aliases: [front]
    depends_on: [worker]
    labels:
      berth.test: "{id}"
  worker:
    image: {TEST_IMAGE}
    command: sleep 3600
    networks: [back]
    labels:
      berth.test: "{id}"
volumes:
  data:
    labels:
      berth.test: "{id}"
networks:
  back:
    labels:
      berth.test: "{id}"
"#,
        id = run.id
    )
}

async fn deploy(app: &TestApp, name: &str, compose: &str) -> reqwest::Response {
    app.client
        .post(app.at("/api/stacks"))
        .json(&json!({"name": name, "compose": compose}))
        .send()
        .await
        .unwrap()
}

async fn redeploy(app: &TestApp, name: &str, compose: &str) -> reqwest::Response {
    app.client
        .put(app.at(&format!("/api/stacks/{name}")))
        .json(&json!({"compose": compose}))
        .send()
        .await
        .unwrap()
}

/// Container ids by service, as Berth lists the stack.
async fn berth_ids(app: &TestApp, name: &str) -> Vec<(String, String)> {
    let s = app.json(&format!("/api/stacks/{name}")).await;
    let mut out = Vec::new();
    for svc in s["services"].as_array().unwrap() {
        for c in svc["containers"].as_array().unwrap() {
            out.push((
                svc["name"].as_str().unwrap().to_string(),
                c["id"].as_str().unwrap().to_string(),
            ));
        }
    }
    out.sort();
    out
}

fn id_of(ids: &[(String, String)], service: &str) -> String {
    ids.iter()
        .find(|(s, _)| s == service)
        .map(|(_, id)| id.clone())
        .unwrap_or_else(|| panic!("no container of {service} in {ids:?}"))
}

#[tokio::test]
async fn a_stack_berth_deploys_is_listed_and_removed_by_docker_compose() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let p = Project::new(&run, "a");
    let text = two_services(&run, "hello");
    p.write(&text);

    let r = deploy(&app, &p.name, &text).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["name"], p.name.as_str());
    let services: BTreeSet<&str> = body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(services, BTreeSet::from(["web", "worker"]));

    // docker-compose finds the same containers, running, under the same services.
    let (ok, out, err) = p.compose(&["ps", "-q"]);
    assert!(ok, "docker-compose ps: {err}");
    let compose_ids: BTreeSet<String> = out.lines().map(str::to_string).collect();
    let berth: BTreeSet<String> = berth_ids(&app, &p.name)
        .await
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(compose_ids, berth);
    assert_eq!(compose_ids.len(), 2);
    let (_, running, _) = p.compose(&["ps", "--services", "--filter", "status=running"]);
    let running: BTreeSet<&str> = running.lines().collect();
    assert_eq!(running, BTreeSet::from(["web", "worker"]));
    // Compose's names for the network and the volume; the alias on the network.
    let net = format!("{}_back", p.name);
    let vol = format!("{}_data", p.name);
    assert_eq!(
        docker(&[
            "network",
            "inspect",
            &net,
            "--format",
            "{{index .Labels \"com.docker.compose.network\"}}"
        ]),
        "back"
    );
    assert_eq!(
        docker(&[
            "volume",
            "inspect",
            &vol,
            "--format",
            "{{index .Labels \"com.docker.compose.volume\"}}"
        ]),
        "data"
    );
    let web = id_of(&berth_ids(&app, &p.name).await, "web");
    let aliases = docker(&[
        "inspect",
        &web,
        "--format",
        &format!("{{{{json (index .NetworkSettings.Networks \"{net}\").Aliases}}}}"),
    ]);
    assert!(
        aliases.contains("\"front\"") && aliases.contains("\"web\""),
        "{aliases}"
    );
    assert_eq!(
        docker(&["inspect", &web, "--format", "{{.Name}}"]),
        format!("/{}-web-1", p.name)
    );

    // Usage of the stack: one sample per running container.
    let usage = app.json(&format!("/api/stacks/{}/stats", p.name)).await;
    let usage = usage.as_array().unwrap();
    assert_eq!(usage.len(), 2, "{usage:?}");
    assert!(
        usage
            .iter()
            .all(|u| u["stats"]["memory_usage"].as_u64().unwrap_or(0) > 0),
        "{usage:?}"
    );

    // docker-compose up on top accepts Berth's network and volume as its own (no "external",
    // no "config changed" refusal) and keeps to the same two services.
    let (ok, _, err) = p.compose(&["up", "-d"]);
    assert!(ok, "docker-compose up over Berth's stack: {err}");
    assert!(!err.contains("WARNING"), "{err}");
    let (_, out, _) = p.compose(&["ps", "-q"]);
    assert_eq!(out.lines().count(), 2, "{out}");

    // docker-compose down removes all of it, network and volume included.
    let (ok, _, err) = p.compose(&["down", "-v"]);
    assert!(ok, "docker-compose down: {err}");
    assert!(p.engine_ids().is_empty());
    assert!(
        docker_quiet(&["network", "ls", "-q", "--filter", &format!("name=^{net}$")]).is_empty()
    );
    assert!(docker_quiet(&["volume", "ls", "-q", "--filter", &format!("name=^{vol}$")]).is_empty());
    assert!(err.contains("Removing network"), "{err}");
}

#[tokio::test]
async fn a_stack_docker_compose_brought_up_is_listed_stopped_and_removed_by_berth() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let p = Project::new(&run, "b");
    p.write(&two_services(&run, "hi"));
    let (ok, _, err) = p.compose(&["up", "-d"]);
    assert!(ok, "docker-compose up: {err}");
    let want = p.engine_ids();
    assert_eq!(want.len(), 2);

    let name = p.name.clone();
    let seen = app
        .eventually(std::time::Duration::from_secs(30), || {
            let app = &app;
            let name = name.clone();
            async move {
                let list = app.json("/api/stacks").await;
                list.as_array().unwrap().iter().any(|s| {
                    s["name"] == name.as_str()
                        && s["services"].as_array().map(Vec::len) == Some(2)
                        && s["services"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .all(|svc| svc["containers"][0]["state"] == "running")
                })
            }
        })
        .await;
    assert!(seen.is_some(), "Berth never listed the compose project");
    let list = app.json("/api/stacks").await;
    let s = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == p.name.as_str())
        .unwrap();
    assert_eq!(s["managed"], false);
    let berth: BTreeSet<String> = berth_ids(&app, &p.name)
        .await
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(berth, want);

    // Stop from Berth: docker-compose sees them stopped.
    let r = app
        .client
        .post(app.at(&format!("/api/stacks/{}/stop", p.name)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let (_, running, _) = p.compose(&["ps", "--services", "--filter", "status=running"]);
    assert!(running.trim().is_empty(), "still running: {running}");
    let (_, stopped, _) = p.compose(&["ps", "--services", "--filter", "status=stopped"]);
    assert_eq!(stopped.lines().count(), 2, "{stopped}");

    // Start again, then down with volumes from Berth: nothing of it is left.
    let r = app
        .client
        .post(app.at(&format!("/api/stacks/{}/start", p.name)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, running, _) = p.compose(&["ps", "--services", "--filter", "status=running"]);
    assert_eq!(running.lines().count(), 2, "{running}");
    let r = app
        .client
        .delete(app.at(&format!("/api/stacks/{}?volumes=true", p.name)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    assert!(p.engine_ids().is_empty());
    let filter = format!("label=com.docker.compose.project={}", p.name);
    assert!(docker_quiet(&["network", "ls", "-q", "--filter", &filter]).is_empty());
    assert!(docker_quiet(&["volume", "ls", "-q", "--filter", &filter]).is_empty());
    let (ok, out, _) = p.compose(&["ps", "-q"]);
    assert!(ok && out.trim().is_empty(), "{out}");
}

#[tokio::test]
async fn a_changed_variable_recreates_that_service_only_and_rollback_restores_it() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let p = Project::new(&run, "c");
    let v1 = two_services(&run, "one");
    p.write(&v1);
    let r = deploy(&app, &p.name, &v1).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let before = berth_ids(&app, &p.name).await;
    let web1 = id_of(&before, "web");
    let worker1 = id_of(&before, "worker");
    docker(&["exec", &web1, "sh", "-c", "echo kept > /data/file"]);

    // The same file again changes nothing.
    let r = redeploy(&app, &p.name, &v1).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"] == "unchanged"),
        "{body}"
    );
    assert_eq!(berth_ids(&app, &p.name).await, before);

    // A changed variable on web: web is recreated, worker keeps its container.
    let v2 = two_services(&run, "two");
    let preview: Value = app
        .client
        .post(app.at(&format!("/api/stacks/{}/preview", p.name)))
        .json(&json!({"compose": v2}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let changed: Vec<&str> = preview["diff"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["op"] != " ")
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        changed,
        ["      GREETING: \"one\"", "      GREETING: \"two\""]
    );
    let r = redeploy(&app, &p.name, &v2).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let after = berth_ids(&app, &p.name).await;
    let web2 = id_of(&after, "web");
    assert_ne!(web2, web1, "web was not recreated");
    assert_eq!(id_of(&after, "worker"), worker1, "worker was recreated");
    assert!(
        docker(&["inspect", &web2, "--format", "{{json .Config.Env}}"]).contains("GREETING=two")
    );
    // The named volume stayed.
    assert_eq!(docker(&["exec", &web2, "cat", "/data/file"]), "kept");
    // docker-compose agrees on the containers.
    p.write(&v2);
    let (_, out, _) = p.compose(&["ps", "-q"]);
    let compose_ids: BTreeSet<String> = out.lines().map(str::to_string).collect();
    assert_eq!(
        compose_ids,
        after.iter().map(|(_, id)| id.clone()).collect()
    );

    // Rollback: the first file again, web recreated with it, worker untouched.
    let r = app
        .client
        .post(app.at(&format!("/api/stacks/{}/rollback", p.name)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let rolled = berth_ids(&app, &p.name).await;
    let web3 = id_of(&rolled, "web");
    assert_ne!(web3, web2);
    assert_eq!(id_of(&rolled, "worker"), worker1);
    assert!(
        docker(&["inspect", &web3, "--format", "{{json .Config.Env}}"]).contains("GREETING=one")
    );
    let held = app.json(&format!("/api/stacks/{}", p.name)).await;
    assert_eq!(held["compose"], v1.as_str());
    assert_eq!(held["managed"], true);
    let versions = app.json(&format!("/api/stacks/{}/versions", p.name)).await;
    assert_eq!(versions.as_array().unwrap().len(), 4);

    // Down from Berth; docker-compose then finds nothing.
    let r = app
        .client
        .delete(app.at(&format!("/api/stacks/{}?volumes=true", p.name)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(p.engine_ids().is_empty());
}

/// Posts a file that must be refused; returns the 422 body. Nothing of the project may exist.
async fn refused(app: &TestApp, p: &Project, compose: &str, env: Option<&str>) -> Value {
    let mut body = json!({"name": p.name, "compose": compose});
    if let Some(e) = env {
        body["env"] = json!(e);
    }
    let r = app
        .client
        .post(app.at("/api/stacks"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 422, "{v}");
    assert!(
        p.engine_ids().is_empty(),
        "objects were created for a refused file"
    );
    v
}

#[tokio::test]
async fn a_bad_file_is_refused_with_its_line_and_nothing_is_created() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let p = Project::new(&run, "d");
    // A misspelt key on line 7: docker-compose refuses it too, naming it.
    let typo = format!(
        "services:\n  web:\n    image: {TEST_IMAGE}\n    command: sleep 1\n    ports:\n      - \"8080:80\"\n    enviroment:\n      A: 1\n"
    );
    p.write(&typo);
    let (ok, _, err) = p.compose(&["config", "-q"]);
    assert!(
        !ok && err.contains("enviroment"),
        "docker-compose accepted the typo: {err}"
    );
    let v = refused(&app, &p, &typo, None).await;
    assert_eq!(v["line"], 7, "{v}");
    assert_eq!(v["column"], 5, "{v}");
    assert!(v["error"].as_str().unwrap().contains("`enviroment`"), "{v}");

    // A port out of range on line 7 (the engine would refuse it at create; Berth before).
    let bad_port = format!(
        "services:\n  web:\n    image: {TEST_IMAGE}\n    command: sleep 1\n    ports:\n      - \"8080:80\"\n      - \"99999:80\"\n"
    );
    let v = refused(&app, &p, &bad_port, None).await;
    assert_eq!(v["line"], 7, "{v}");
    assert!(v["error"].as_str().unwrap().contains("99999"), "{v}");

    // An unsupported key, by name and line.
    let v = refused(
        &app,
        &p,
        &format!("services:\n  web:\n    image: {TEST_IMAGE}\n    privileged: true\n"),
        None,
    )
    .await;
    assert_eq!(v["line"], 4, "{v}");
    assert!(v["error"].as_str().unwrap().contains("`privileged`"), "{v}");

    // A required variable the .env does not set; then one it does.
    let text = format!(
        "services:\n  web:\n    image: {TEST_IMAGE}\n    environment:\n      - TOKEN=${{TOKEN:?set TOKEN in the .env}}\n"
    );
    let v = refused(&app, &p, &text, Some("OTHER=1\n")).await;
    assert_eq!(v["line"], 5, "{v}");
    assert!(v["error"].as_str().unwrap().contains("set TOKEN"), "{v}");

    // YAML that does not parse.
    let v = refused(&app, &p, "services:\n  web: [\n", None).await;
    assert!(v["line"].as_u64().is_some(), "{v}");

    // An image that is not on the engine (and cannot be pulled: no registry here).
    let v = refused(
        &app,
        &p,
        &format!(
            "services:\n  web:\n    image: berth-test/absent-{}:1\n",
            run.id
        ),
        None,
    )
    .await;
    assert_eq!(v["line"], 3, "{v}");
    assert!(v["error"].as_str().unwrap().contains("absent"), "{v}");

    // A name that is not a compose project name.
    let r = app
        .client
        .post(app.at("/api/stacks"))
        .json(&json!({"name": "<b>Bad</b>", "compose": bad_port}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(
        app.json("/api/stacks")
            .await
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["name"] != p.name.as_str())
    );
}

#[tokio::test]
async fn stack_routes_need_a_session_and_viewers_cannot_act() {
    let app = crate::support::spawn(crate::support::Opts::default()).await;
    let r = app.get("/stacks").await;
    assert_eq!(r.status(), 303);
    for (method, p) in [
        ("GET", "/api/stacks"),
        ("POST", "/api/stacks"),
        ("GET", "/api/stacks/x"),
        ("PUT", "/api/stacks/x"),
        ("DELETE", "/api/stacks/x"),
        ("POST", "/api/stacks/x/stop"),
        ("POST", "/api/stacks/x/rollback"),
        ("POST", "/api/stacks/x/preview"),
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
    app.login("admin", crate::support::ADMIN_PASSWORD).await;
    let db = app.data.join("berth.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE users SET role = 'viewer' WHERE username = 'admin'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    // The session cache trusts a read for 2 s.
    tokio::time::sleep(berth::store::SESSION_CACHE_TTL + std::time::Duration::from_millis(200))
        .await;
    let r = app
        .client
        .post(app.at("/api/stacks"))
        .json(&json!({"name": "viewer-try", "compose": "services: {}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.get("/api/stacks").await.status(), 200);
}

#[tokio::test]
async fn the_pages_deploy_show_the_diff_and_put_errors_beside_the_editor() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let p = Project::new(&run, "e");
    let v1 = two_services(&run, "one");
    let form = |name: &str, compose: &str| {
        reqwest::multipart::Form::new()
            .text("name", name.to_string())
            .text("compose", compose.to_string())
            .text("env", "")
    };

    // An error: the page comes back with it beside the editor, escaped, the text kept.
    let hostile =
        format!("services:\n  web:\n    image: {TEST_IMAGE}\n    \"<script>x</script>\": 1\n");
    let r = app
        .client
        .post(app.at("/stacks"))
        .multipart(form(&p.name, &hostile))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("line 4"), "{page}");
    assert!(!page.contains("<script>x</script>"), "unescaped");
    assert!(
        page.contains("&#60;script&#62;x&#60;/script&#62;"),
        "{page}"
    );
    assert!(p.engine_ids().is_empty());

    // Deploy from the form; the list and the stack's page show it.
    let r = app
        .client
        .post(app.at("/stacks"))
        .multipart(form(&p.name, &v1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    let list = app.get("/stacks").await.text().await.unwrap();
    assert!(list.contains(&format!("/stacks/{}\"", p.name)) && list.contains("held by Berth"));
    let page = app
        .get(&format!("/stacks/{}", p.name))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("{}-web-1", p.name))
            && page.contains(&format!("{}-worker-1", p.name))
    );
    assert!(page.contains("/logs?c="), "merged logs link");

    // The preview shows the changed line; deploying it recreates web.
    let v2 = two_services(&run, "two");
    let diff = app
        .client
        .post(app.at(&format!("/stacks/{}/preview", p.name)))
        .multipart(form(&p.name, &v2))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        diff.contains("-       GREETING: &quot;one&quot;")
            || diff.contains("-       GREETING: &#34;one&#34;"),
        "{diff}"
    );
    let web1 = id_of(&berth_ids(&app, &p.name).await, "web");
    let r = app
        .client
        .post(app.at(&format!("/stacks/{}/deploy", p.name)))
        .multipart(form(&p.name, &v2))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_ne!(id_of(&berth_ids(&app, &p.name).await, "web"), web1);
    let page = app
        .get(&format!("/stacks/{}", p.name))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Roll back to this"), "{page}");

    // A project label set by hand to markup is listed escaped, its link encoded.
    let hostile = format!("<b>{}</b>", run.id);
    let project_label = format!("com.docker.compose.project={hostile}");
    run.container(
        "hostile",
        false,
        &[
            "--label",
            &project_label,
            "--label",
            "com.docker.compose.service=x y",
        ],
        &[],
    );
    let list = app
        .eventually(std::time::Duration::from_secs(30), || async {
            app.get("/stacks")
                .await
                .text()
                .await
                .unwrap()
                .contains("%3Cb%3E")
        })
        .await;
    assert!(list.is_some(), "the hand-labelled project was never listed");
    let list = app.get("/stacks").await.text().await.unwrap();
    assert!(!list.contains(&hostile), "unescaped");
    assert!(
        list.contains(&format!("/stacks/%3Cb%3E{}%3C%2Fb%3E", run.id)),
        "{list}"
    );
    let page = app
        .get(&format!("/stacks/%3Cb%3E{}%3C%2Fb%3E", run.id))
        .await;
    assert_eq!(page.status(), 200);

    // Down with volumes from the page.
    let r = app
        .client
        .post(app.at(&format!("/stacks/{}/down-volumes", p.name)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(p.engine_ids().is_empty());
}

#[tokio::test]
async fn service_healthy_waits_and_a_stack_deploys_on_another_endpoint() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let p = Project::new(&run, "f");
    let text = format!(
        r#"services:
  db:
    image: {TEST_IMAGE}
    command: ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 3600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 30
    labels: {{berth.test: "{id}"}}
  app:
    image: {TEST_IMAGE}
    command: sleep 3600
    depends_on:
      db:
        condition: service_healthy
    labels: {{berth.test: "{id}"}}
"#,
        id = run.id
    );
    // docker-compose reads the same file.
    p.write(&text);
    let (ok, _, err) = p.compose(&["config", "-q"]);
    assert!(ok, "docker-compose config: {err}");
    let r = deploy(&app, &p.name, &text).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let ids = berth_ids(&app, &p.name).await;
    let db = id_of(&ids, "db");
    let app_c = id_of(&ids, "app");
    // app was started only once db was healthy: after db's first passing probe.
    let passed = docker(&[
        "inspect",
        &db,
        "--format",
        "{{range .State.Health.Log}}{{if eq .ExitCode 0}}{{json .End}} {{end}}{{end}}",
    ]);
    let first_pass = passed.split_whitespace().next().expect("a passing probe");
    let app_started = docker(&["inspect", &app_c, "--format", "{{json .State.StartedAt}}"]);
    assert!(
        seconds(&app_started) > seconds(first_pass),
        "app started {app_started}, db first healthy {first_pass}"
    );
    let dep = docker(&[
        "inspect",
        &app_c,
        "--format",
        "{{index .Config.Labels \"com.docker.compose.depends_on\"}}",
    ]);
    assert_eq!(dep, "db:service_healthy:false");

    // A second endpoint (the same engine, through its own record) gets the same file.
    let r = app
        .client
        .post(app.at("/api/endpoints"))
        .json(&json!({"name": run.name("twin"), "url": "unix:///var/run/docker.sock"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let ep: Value = r.json().await.unwrap();
    let ep_id = ep["id"].as_i64().unwrap();
    let copy = Project::new(&run, "g");
    let r = app
        .client
        .post(app.at(&format!("/api/stacks/{}/copy", p.name)))
        .json(&json!({"endpoint": ep_id, "name": copy.name}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(copy.engine_ids().len(), 2);
    let there = app
        .json(&format!("/api/e/{ep_id}/stacks/{}", copy.name))
        .await;
    assert_eq!(there["managed"], true);
    assert_eq!(there["compose"], text.as_str());
    // The first endpoint does not hold the copy's file.
    let here = app.json(&format!("/api/stacks/{}", copy.name)).await;
    assert_eq!(here["managed"], false);
}

/// Seconds since midnight of an RFC 3339 timestamp (JSON-quoted or not): enough to order two
/// instants of one test.
fn seconds(t: &str) -> f64 {
    let t = t.trim().trim_matches('"');
    let time = t.split('T').nth(1).expect("a timestamp");
    let time = time.trim_end_matches('Z');
    let time = time.split(['+', '-']).next().unwrap();
    let mut parts = time.split(':');
    let h: f64 = parts.next().unwrap().parse().unwrap();
    let m: f64 = parts.next().unwrap().parse().unwrap();
    let s: f64 = parts.next().unwrap().parse().unwrap();
    h * 3600.0 + m * 60.0 + s
}
