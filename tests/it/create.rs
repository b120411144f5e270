//! Creating containers through `POST /api/containers` and the form, checked against the engine's
//! own inspect; validation before the engine; engine refusals verbatim; duplicate/edit, rename,
//! commit.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Run, TEST_IMAGE, TestApp, docker, docker_quiet, spawn_logged_in};

pub async fn post_json(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let r = app
        .client
        .post(app.at(path))
        .json(body)
        .send()
        .await
        .expect("POST");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn inspect(obj: &str) -> Value {
    let v: Value = serde_json::from_str(&docker(&["inspect", obj])).expect("inspect json");
    v[0].clone()
}

/// Removes named volumes the engine made for a test (they carry no run label) on drop, after
/// the containers using them.
struct Volumes(Vec<String>, Vec<String>);
impl Drop for Volumes {
    fn drop(&mut self) {
        for c in &self.1 {
            docker_quiet(&["rm", "-f", c]);
        }
        for v in &self.0 {
            // The engine may still be letting go of the container: try a few times.
            for _ in 0..20 {
                docker_quiet(&["volume", "rm", "-f", v]);
                if docker_quiet(&["volume", "ls", "-q", "--filter", &format!("name=^{v}$")])
                    .is_empty()
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn create_with_every_field_class_matches_the_engine() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let net = run.network("net", &[]);
    let existing = run.volume("vol", &[]);
    let new_vol = run.name("newvol");
    let _cleanup = Volumes(vec![new_vol.clone()], vec![run.name("full")]);
    let host_dir = tempfile::tempdir().unwrap();
    let host_path = host_dir.path().display().to_string();
    let port = free_port();
    let name = run.name("full");
    let net_name = run.name("net");
    app.eventually(Duration::from_secs(5), || async {
        app.json("/api/networks")
            .await
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == net.as_str())
    })
    .await
    .expect("network in the mirror");

    let body = json!({
        "name": name,
        "image": TEST_IMAGE,
        "entrypoint": ["sh", "-c"],
        "cmd": ["sleep 300"],
        "workdir": "/tmp",
        "user": "65534",
        "env": ["A=1", "B=two words"],
        "labels": {"berth.test": run.id, "role": "web"},
        "ports": [
            {"host_ip": "127.0.0.1", "host_port": port, "container_port": 80, "protocol": "tcp"},
            {"host_ip": "", "host_port": null, "container_port": "53", "protocol": "udp"}
        ],
        "mounts": [
            {"type": "bind", "source": host_path, "target": "/host", "read_only": true},
            {"type": "volume", "source": existing, "target": "/existing", "read_only": false},
            {"type": "volume", "source": new_vol, "target": "/new", "read_only": false},
            {"type": "tmpfs", "target": "/scratch"}
        ],
        "restart_policy": "on-failure:3",
        "network": net_name,
        "aliases": ["svc-alias"],
        "hostname": "berth-host",
        "memory": "64m",
        "cpus": "0.5",
        "tty": true,
        "start": true
    });
    let (status, j) = post_json(&app, "/api/containers", &body).await;
    assert_eq!(status, 201, "{j}");
    let id = j["id"].as_str().expect("id").to_string();

    let c = inspect(&id);
    assert_eq!(c["Name"], format!("/{name}"));
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(c["Config"]["Image"], TEST_IMAGE);
    assert_eq!(c["Config"]["Entrypoint"], json!(["sh", "-c"]));
    assert_eq!(c["Config"]["Cmd"], json!(["sleep 300"]));
    assert_eq!(c["Config"]["WorkingDir"], "/tmp");
    assert_eq!(c["Config"]["User"], "65534");
    assert_eq!(c["Config"]["Hostname"], "berth-host");
    assert_eq!(c["Config"]["Tty"], true);
    let env = c["Config"]["Env"].as_array().unwrap();
    assert!(env.contains(&json!("A=1")) && env.contains(&json!("B=two words")));
    assert_eq!(c["Config"]["Labels"]["role"], "web");
    let hc = &c["HostConfig"];
    assert_eq!(hc["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(hc["RestartPolicy"]["MaximumRetryCount"], 3);
    assert_eq!(hc["Memory"], 64 << 20);
    assert_eq!(hc["NanoCpus"], 500_000_000);
    assert_eq!(hc["NetworkMode"], net_name);
    assert_eq!(
        hc["PortBindings"]["80/tcp"][0],
        json!({"HostIp": "127.0.0.1", "HostPort": port.to_string()})
    );
    assert_eq!(hc["PortBindings"]["53/udp"][0]["HostPort"], "");
    // The random port got a real one.
    let udp = &c["NetworkSettings"]["Ports"]["53/udp"][0]["HostPort"];
    assert!(udp.as_str().unwrap().parse::<u16>().unwrap() > 0, "{udp}");
    let mounts = c["Mounts"].as_array().unwrap();
    let by_dst = |d: &str| {
        mounts
            .iter()
            .find(|m| m["Destination"] == d)
            .unwrap_or_else(|| panic!("mount {d} in {mounts:?}"))
    };
    assert_eq!(by_dst("/host")["Type"], "bind");
    assert_eq!(by_dst("/host")["Source"], host_path);
    assert_eq!(by_dst("/host")["RW"], false);
    assert_eq!(by_dst("/existing")["Name"], existing);
    assert_eq!(by_dst("/new")["Type"], "volume");
    assert_eq!(by_dst("/new")["Name"], new_vol);
    assert_eq!(by_dst("/scratch")["Type"], "tmpfs");
    let ep = &c["NetworkSettings"]["Networks"][&net_name];
    assert!(
        ep["Aliases"]
            .as_array()
            .unwrap()
            .contains(&json!("svc-alias")),
        "{ep}"
    );
    assert_eq!(hc["Isolation"], "");

    // Auto-remove, not started.
    let (status, j) = post_json(
        &app,
        "/api/containers",
        &json!({"name": run.name("rm"), "image": TEST_IMAGE, "labels": {"berth.test": run.id},
                "auto_remove": true, "open_stdin": true, "start": false}),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    let c = inspect(j["id"].as_str().unwrap());
    assert_eq!(c["HostConfig"]["AutoRemove"], true);
    assert_eq!(c["Config"]["OpenStdin"], true);
    assert_eq!(c["State"]["Status"], "created");

    // The new container is in the mirror at once, and the action is audited.
    let list = app.json("/api/containers").await;
    assert!(crate::support::find(&list, "id", &id).is_some());
    let audit = app
        .server
        .as_ref()
        .unwrap()
        .state
        .store
        .recent_audit(20)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "container.create" && a.outcome == "ok")
    );
}

#[tokio::test]
async fn each_validation_error_is_a_422_naming_the_field() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let name = run.name("never");
    let base = || json!({"name": name, "image": TEST_IMAGE, "labels": {"berth.test": run.id}});
    let with = |k: &str, v: Value| {
        let mut b = base();
        b[k] = v;
        b
    };
    let port = |h: Value, c: Value| json!({"host_ip": "", "host_port": h, "container_port": c, "protocol": "tcp"});
    let cases = [
        ("name", with("name", json!("bad name!"))),
        (
            "image",
            with("image", json!("berth-test/no-such-image:nope")),
        ),
        (
            "ports",
            with("ports", json!([port(json!(8080), json!("http"))])),
        ),
        (
            "ports",
            with("ports", json!([port(json!(70000), json!(80))])),
        ),
        (
            "ports",
            with(
                "ports",
                json!([port(json!(18080), json!(80)), port(json!(18080), json!(81))]),
            ),
        ),
        (
            "mounts",
            with(
                "mounts",
                json!([{"type": "bind", "source": "relative/dir", "target": "/x"}]),
            ),
        ),
        (
            "mounts",
            with(
                "mounts",
                json!([{"type": "volume", "source": "v", "target": "no-slash"}]),
            ),
        ),
        (
            "restart_policy",
            with("restart_policy", json!("on-failure:x")),
        ),
        ("network", with("network", json!("berth-no-such-network"))),
        ("memory", with("memory", json!("lots"))),
        ("isolation", with("isolation", json!("hyperv"))),
        ("env", with("env", json!(["NOEQUALS"]))),
        ("hostname", with("hostname", json!("bad_host!"))),
        ("body", json!(["not", "an", "object"])),
    ];
    for (field, body) in cases {
        let (status, j) = post_json(&app, "/api/containers", &body).await;
        assert_eq!(status, 422, "{field}: {j}");
        assert_eq!(j["field"], field, "{j}");
        assert!(!j["error"].as_str().unwrap().is_empty());
    }
    // Nothing reached the engine.
    assert!(docker_quiet(&["ps", "-aq", "--filter", &format!("name={name}")]).is_empty());
}

#[tokio::test]
async fn engine_refusals_are_shown_verbatim() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    run.container("taken", false, &[], &[]);
    // A name in use: the engine's words, as a conflict on the name.
    let (status, j) = post_json(
        &app,
        "/api/containers",
        &json!({"name": run.name("taken"), "image": TEST_IMAGE, "labels": {"berth.test": run.id}}),
    )
    .await;
    assert_eq!(status, 409, "{j}");
    assert_eq!(j["field"], "name");
    assert!(
        j["error"].as_str().unwrap().contains("is already in use"),
        "{j}"
    );

    // A host port already taken: the engine refuses at start; the half-made container is removed.
    let port = free_port();
    let ports = json!([{"host_ip": "127.0.0.1", "host_port": port, "container_port": 80, "protocol": "tcp"}]);
    let (status, j) = post_json(
        &app,
        "/api/containers",
        &json!({"name": run.name("p1"), "image": TEST_IMAGE, "cmd": ["sleep", "300"],
                "labels": {"berth.test": run.id}, "ports": ports, "start": true}),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    let (status, j) = post_json(
        &app,
        "/api/containers",
        &json!({"name": run.name("p2"), "image": TEST_IMAGE, "cmd": ["sleep", "300"],
                "labels": {"berth.test": run.id}, "ports": ports, "start": true}),
    )
    .await;
    assert_eq!(status, 409, "{j}");
    assert_eq!(j["field"], "ports");
    let msg = j["error"].as_str().unwrap();
    assert!(
        msg.contains("already allocated") || msg.contains("already in use"),
        "{msg}"
    );
    assert!(
        docker_quiet(&["ps", "-aq", "--filter", &format!("name={}", run.name("p2"))]).is_empty()
    );
}

#[tokio::test]
async fn the_form_keeps_what_was_typed_and_shows_errors_by_the_field() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let page = app.get("/containers/new").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(TEST_IMAGE), "local images offered");
    assert!(
        !html.contains("name=\"isolation\""),
        "no isolation on a Linux engine"
    );

    let name = run.name("form");
    let label = format!("berth.test={}", run.id);
    let form = [
        ("name", name.as_str()),
        ("image", TEST_IMAGE),
        ("cmd", "sh -c 'sleep 300'"),
        ("env", "KEEP=me"),
        ("label", label.as_str()),
        ("port_host_ip", ""),
        ("port_host_port", "99999"),
        ("port_container_port", "80"),
        ("port_protocol", "tcp"),
        ("restart_policy", "no"),
        ("start", "on"),
    ];
    let r = app.post_form("/containers/new", &form).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("99999"), "typed value kept");
    assert!(html.contains("KEEP=me"));
    assert!(html.contains("sleep 300"));
    assert!(
        html.contains("id=\"ports-error\""),
        "error next to the ports"
    );

    let mut ok = form.to_vec();
    ok[6] = ("port_host_port", "");
    let r = app.post_form("/containers/new", &ok).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let c = inspect(&name);
    assert_eq!(c["Config"]["Cmd"], json!(["sh", "-c", "sleep 300"]));
    assert_eq!(c["State"]["Running"], true);
    let env = c["Config"]["Env"].as_array().unwrap();
    assert!(env.contains(&json!("KEEP=me")));
}

/// An image with its own ENV, CMD and label, tagged `tag`; carries the run's label.
fn image_with_config(run: &Run, tag: &str, v: &str) -> String {
    let src = run.container(&format!("src-{v}"), false, &[], &["true"]);
    let label = format!("LABEL {}", run.label());
    docker(&[
        "commit",
        "--change",
        &label,
        "--change",
        &format!("ENV FROM_IMAGE={v}"),
        "--change",
        &format!("CMD [\"sleep\", \"36{v}\"]"),
        "--change",
        &format!("LABEL img.label={v}"),
        &src,
        tag,
    ]);
    docker_quiet(&["rm", "-f", &src]);
    tag.to_string()
}

#[tokio::test]
async fn duplicate_edit_keeps_edits_and_follows_the_image_for_the_rest() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let tag = format!("berth-test/{}:dup", run.name("img"));
    image_with_config(&run, &tag, "1");
    app.eventually(Duration::from_secs(5), || async {
        app.json("/api/images")
            .await
            .as_array()
            .unwrap()
            .iter()
            .any(|i| {
                i["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t == tag.as_str())
            })
    })
    .await
    .expect("image in the mirror");
    let name = run.name("dup");
    let (status, j) = post_json(
        &app,
        "/api/containers",
        &json!({"name": name, "image": tag, "env": ["MINE=1"],
                "labels": {"berth.test": run.id, "mine": "1"}, "start": true}),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    let old_id = j["id"].as_str().unwrap().to_string();

    // The form from inspect has only what the user set, not the image's ENV/CMD/labels.
    let spec = app.json(&format!("/api/containers/{old_id}/spec")).await;
    assert_eq!(spec["name"], name);
    assert_eq!(spec["image"], tag.as_str());
    assert_eq!(spec["env"], json!(["MINE=1"]), "{spec}");
    assert_eq!(spec["cmd"], json!([]), "{spec}");
    assert_eq!(spec["entrypoint"], json!([]));
    assert!(spec["labels"].get("img.label").is_none(), "{spec}");
    assert_eq!(spec["labels"]["mine"], "1");
    assert_eq!(
        spec["hostname"], "",
        "the engine's generated hostname is not copied"
    );
    assert_eq!(spec["start"], true);

    // The image moves on under the same tag: the re-created container follows it for what the
    // user never set, and keeps the edits.
    image_with_config(&run, &tag, "2");
    let mut edited = spec.clone();
    edited["env"] = json!(["MINE=2"]);
    edited["labels"]["mine"] = json!("2");
    let (status, j) = post_json(&app, &format!("/api/containers/{old_id}/recreate"), &edited).await;
    assert_eq!(status, 200, "{j}");
    let new_id = j["id"].as_str().unwrap().to_string();
    assert_ne!(new_id, old_id);
    let c = inspect(&name);
    assert_eq!(c["Id"], new_id.as_str());
    assert_eq!(c["State"]["Running"], true);
    let env = c["Config"]["Env"].as_array().unwrap();
    assert!(env.contains(&json!("MINE=2")), "{env:?}");
    assert!(
        env.contains(&json!("FROM_IMAGE=2")),
        "image ENV followed: {env:?}"
    );
    assert!(!env.contains(&json!("FROM_IMAGE=1")), "{env:?}");
    assert_eq!(
        c["Config"]["Cmd"],
        json!(["sleep", "362"]),
        "image CMD followed"
    );
    assert_eq!(c["Config"]["Labels"]["img.label"], "2");
    assert_eq!(c["Config"]["Labels"]["mine"], "2");
    assert!(
        docker_quiet(&[
            "ps",
            "-aq",
            "--no-trunc",
            "--filter",
            &format!("id={old_id}")
        ])
        .is_empty(),
        "old container removed"
    );

    // A failing re-create restores the old container under its name.
    let mut broken = edited.clone();
    broken["mounts"] =
        json!([{"type": "bind", "source": "/definitely/not/here/berth", "target": "/x"}]);
    let (status, j) = post_json(&app, &format!("/api/containers/{new_id}/recreate"), &broken).await;
    assert!(status >= 400, "{j}");
    assert!(!j["error"].as_str().unwrap().is_empty());
    let c = inspect(&name);
    assert_eq!(
        c["Id"],
        new_id.as_str(),
        "the old one is back under its name"
    );
    assert_eq!(c["State"]["Running"], true, "and running again");
}

#[tokio::test]
async fn rename_and_commit() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container(
        "ren",
        true,
        &[],
        &["sh", "-c", "echo committed > /made.txt; sleep 300"],
    );
    app.eventually(Duration::from_secs(5), || async {
        crate::support::find(&app.json("/api/containers").await, "id", &id).is_some()
    })
    .await
    .unwrap();
    let new_name = run.name("renamed");
    let (status, j) = post_json(
        &app,
        &format!("/api/containers/{id}/rename"),
        &json!({"name": new_name}),
    )
    .await;
    assert_eq!(status, 204, "{j}");
    assert_eq!(run.inspect(&id, "{{.Name}}"), format!("/{new_name}"));
    let list = app.json("/api/containers").await;
    assert_eq!(
        crate::support::find(&list, "id", &id).unwrap()["name"],
        new_name
    );
    // The page's form (htmx): a flash that says what happened.
    let back = run.name("renamed-back");
    let r = app
        .client
        .post(app.at(&format!("/containers/{id}/rename")))
        .header("hx-request", "true")
        .form(&[("name", back.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains(&format!("Renamed to {back}"))
    );
    assert_eq!(run.inspect(&id, "{{.Name}}"), format!("/{back}"));
    let (status, j) = post_json(
        &app,
        &format!("/api/containers/{id}/rename"),
        &json!({"name": "no spaces allowed"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(j["field"], "name");

    // Commit: a new image with the file; it inherits the container's labels (so the run removes it).
    let repo = format!("berth-test/{}:c1", run.name("commit"));
    let (status, j) = post_json(
        &app,
        &format!("/api/containers/{id}/commit"),
        &json!({"repo": repo, "message": "made by the test"}),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    assert!(j["id"].as_str().unwrap().starts_with("sha256:"));
    let img: Value = serde_json::from_str(&docker(&["image", "inspect", &repo])).unwrap();
    assert_eq!(img[0]["Comment"], "made by the test");
    assert_eq!(img[0]["Config"]["Labels"]["berth.test"], run.id.as_str());
    let out = docker(&[
        "run",
        "--rm",
        "--label",
        &run.label(),
        &repo,
        "cat",
        "/made.txt",
    ]);
    assert_eq!(out, "committed");
    let (status, j) = post_json(
        &app,
        &format!("/api/containers/{id}/commit"),
        &json!({"repo": "Not Valid"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(j["field"], "repo");
}

#[tokio::test]
async fn the_form_shows_an_engine_refusal_by_the_field_and_keeps_the_input() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    run.container("inuse", false, &[], &[]);
    let label = format!("berth.test={}", run.id);
    let taken = run.name("inuse");
    let form = [
        ("name", taken.as_str()),
        ("image", TEST_IMAGE),
        ("env", "TYPED=value-kept"),
        ("label", label.as_str()),
        ("memory", "96m"),
    ];
    let r = app.post_form("/containers/new", &form).await;
    assert_eq!(r.status(), 409);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("id=\"name-error\""),
        "error by the name field"
    );
    assert!(html.contains("is already in use"), "engine's words");
    assert!(html.contains("TYPED=value-kept") && html.contains("96m"));
}

#[tokio::test]
async fn edit_through_the_form_needs_confirmation_and_keeps_volume_data() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    // An image with a VOLUME: its anonymous volume's data must survive an edit.
    let src = run.container("vsrc", false, &[], &["true"]);
    let tag = format!("berth-test/{}:vol", run.name("img"));
    docker(&[
        "commit",
        "--change",
        &format!("LABEL {}", run.label()),
        "--change",
        "VOLUME /data",
        "--change",
        "CMD [\"sleep\", \"300\"]",
        &src,
        &tag,
    ]);
    let name = run.name("edit");
    let label = run.label();
    let id = docker(&[
        "run",
        "-d",
        "--label",
        &label,
        "--name",
        &name,
        "-e",
        "STAGE=one",
        &tag,
    ]);
    docker(&["exec", &id, "sh", "-c", "echo kept > /data/file.txt"]);
    app.eventually(Duration::from_secs(5), || async {
        crate::support::find(&app.json("/api/containers").await, "id", &id).is_some()
    })
    .await
    .unwrap();

    let html = app
        .get(&format!("/containers/{id}/edit"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("STAGE=one") && html.contains(&name));
    assert!(html.contains("name=\"confirm\""));
    let dup = app
        .get(&format!("/containers/new?from={id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        dup.contains(&format!("{name}-copy")),
        "duplicate proposes a new name"
    );

    let form = [
        ("name", name.as_str()),
        ("image", tag.as_str()),
        ("env", "STAGE=two"),
        ("label", label.as_str()),
        ("start", "on"),
    ];
    let path = format!("/containers/{id}/edit");
    let r = app.post_form(&path, &form).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("id=\"confirm-error\""));
    assert_eq!(
        inspect(&name)["Id"],
        id.as_str(),
        "nothing replaced without confirmation"
    );

    let mut confirmed = form.to_vec();
    confirmed.push(("confirm", "on"));
    let r = app.post_form(&path, &confirmed).await;
    assert_eq!(r.status(), 303);
    let c = inspect(&name);
    assert_ne!(c["Id"], id.as_str());
    assert!(
        c["Config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&json!("STAGE=two"))
    );
    let new_id = c["Id"].as_str().unwrap();
    let vol = c["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/data")
        .map(|m| m["Name"].as_str().unwrap().to_string())
        .expect("the /data volume");
    // Mounted by name now, so `rm -v` would keep it: removed here, after the container.
    let _cleanup = Volumes(vec![vol], vec![new_id.to_string()]);
    assert_eq!(docker(&["exec", new_id, "cat", "/data/file.txt"]), "kept");
}
