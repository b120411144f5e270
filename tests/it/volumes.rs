//! Volumes: create/remove, browsing through a helper container (and what it must refuse),
//! upload with its limit, prune preview against what prune removes.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    ADMIN_PASSWORD, Opts, Run, TestApp, docker, docker_quiet, spawn, spawn_logged_in,
};

/// Runs a labelled, one-off container of the test image with `vol` at /data; waits for it.
fn with_volume(run: &Run, suffix: &str, vol: &str, script: &str) -> String {
    let mount = format!("{vol}:/data");
    let c = run.container(suffix, false, &["-v", &mount], &["sh", "-c", script]);
    docker(&["start", "-a", &c])
}

fn helpers_of(vol: &str) -> String {
    docker_quiet(&[
        "ps",
        "-aq",
        "--filter",
        "label=berth.helper=volume-browser",
        "--filter",
        &format!("label=berth.volume={vol}"),
    ])
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

async fn status(app: &TestApp, path: &str) -> u16 {
    app.get(path).await.status().as_u16()
}

#[tokio::test]
async fn create_remove_and_conflicts() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let name = run.name("vol");
    let r = app
        .client
        .post(app.at("/api/volumes"))
        .json(&json!({"name": name, "driver": "local", "labels": {"berth.test": run.id, "k": "v"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["name"], name.as_str());
    assert_eq!(
        run.inspect(&name, "{{.Driver}} {{index .Labels \"k\"}}"),
        "local v"
    );
    let r = app
        .client
        .post(app.at("/api/volumes"))
        .json(&json!({"name": name, "labels": {"berth.test": run.id}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = app
        .client
        .post(app.at("/api/volumes"))
        .json(&json!({"name": "bad/name", "labels": {"berth.test": run.id}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "name");
    // In use by a container: the engine refuses, and says why.
    let c = run.container("holder", false, &["-v", &format!("{name}:/data")], &[]);
    let r = app
        .client
        .delete(app.at(&format!("/api/volumes/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(
        r.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("in use")
    );
    docker(&["rm", "-f", &c]);
    let r = app
        .client
        .delete(app.at(&format!("/api/volumes/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        docker_quiet(&["volume", "ls", "-q", "--filter", &format!("name=^{name}$")]).is_empty()
    );
}

#[tokio::test]
async fn browse_lists_files_and_refuses_escapes() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let vol = run.volume("files", &[]);
    with_volume(
        &run,
        "filler",
        &vol,
        "mkdir -p /data/sub/deep && printf hello > /data/a.txt && head -c 5000 /dev/zero > /data/sub/b.bin \
         && printf 12 > /data/sub/deep/c && chmod 640 /data/sub/b.bin \
         && ln -s /etc /data/out && ln -s sub /data/in && ln -s ../.. /data/sub/up",
    );
    let root = app.json(&format!("/api/volumes/{vol}/files?path=/")).await;
    let mut got = names(&root);
    got.sort();
    assert_eq!(got, vec!["a.txt", "in", "out", "sub"]);
    let entry = |list: &Value, n: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(entry(&root, "a.txt")["kind"], "file");
    assert_eq!(entry(&root, "a.txt")["size"], 5);
    assert_eq!(entry(&root, "sub")["kind"], "dir");
    assert_eq!(
        entry(&root, "sub")["size"],
        5002,
        "a folder's size is the bytes below it"
    );
    assert_eq!(entry(&root, "out")["kind"], "link");
    let sub = app
        .json(&format!("/api/volumes/{vol}/files?path=/sub"))
        .await;
    assert_eq!(entry(&sub, "b.bin")["size"], 5000);
    assert_eq!(entry(&sub, "b.bin")["mode"], "0640");
    assert_eq!(entry(&sub, "deep")["kind"], "dir");
    // A link inside the volume is followed.
    let via_link = app
        .json(&format!("/api/volumes/{vol}/files?path=/in"))
        .await;
    assert!(names(&via_link).contains(&"b.bin".to_string()));

    for bad in [
        "/..",
        "/../etc",
        "/sub/../../etc",
        "..%2F..%2Fetc",
        "/out",
        "/out/passwd",
        "/sub/up",
        "/sub/up/etc",
        "C:%5CWindows",
    ] {
        let r = app
            .get(&format!("/api/volumes/{vol}/files?path={bad}"))
            .await;
        assert_eq!(r.status(), 400, "{bad}");
        let j: Value = r.json().await.unwrap();
        assert!(
            j["error"].as_str().unwrap().contains("inside the volume"),
            "{bad}: {j}"
        );
        assert_eq!(
            status(&app, &format!("/api/volumes/{vol}/download?path={bad}")).await,
            400,
            "{bad}"
        );
    }
    assert_eq!(
        status(&app, &format!("/api/volumes/{vol}/files?path=/missing")).await,
        404
    );
    assert_eq!(
        status(&app, &format!("/api/volumes/{vol}/files?path=/a.txt")).await,
        422
    );
    assert_eq!(
        status(
            &app,
            &format!("/api/volumes/{}/files?path=/", run.name("nope"))
        )
        .await,
        404
    );

    // A download is a tar with the file in it.
    let r = app
        .get(&format!("/api/volumes/{vol}/download?path=/a.txt"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-tar");
    let tar = r.bytes().await.unwrap();
    assert_eq!(&tar[0..5], b"a.txt");
    assert_eq!(&tar[512..517], b"hello");

    // The page and its file fragment render.
    let page = app
        .get(&format!("/volumes/{vol}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("/files?path="));
    let frag = app
        .get(&format!("/volumes/{vol}/files?path=/sub"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        frag.contains("b.bin") && frag.contains("-rw-r-----"),
        "{frag}"
    );

    // Every helper is gone afterwards.
    let gone = app
        .eventually(Duration::from_secs(10), || async {
            helpers_of(&vol).is_empty()
        })
        .await;
    assert!(gone.is_some(), "helpers left behind: {}", helpers_of(&vol));
}

#[tokio::test]
async fn upload_is_size_limited() {
    let run = Run::new();
    let app = spawn(Opts {
        args: vec!["--volume-upload-limit".into(), "64K".into()],
        ..Default::default()
    })
    .await;
    app.login("admin", ADMIN_PASSWORD).await;
    app.wait_synced().await;
    let vol = run.volume("up", &[]);
    with_volume(&run, "mkdir", &vol, "mkdir /data/in");
    let put = |path: &str, name: &str, body: Vec<u8>| {
        app.client
            .post(app.at(&format!("/api/volumes/{vol}/files?path={path}&name={name}")))
            .body(body)
            .send()
    };
    let r = put("/in", "hello.txt", b"uploaded by berth".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let out = with_volume(&run, "reader", &vol, "cat /data/in/hello.txt");
    assert_eq!(out, "uploaded by berth");
    // Over the limit: refused, nothing written.
    match put("/in", "big.bin", vec![0u8; 100 * 1024]).await {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(e) => panic!("upload over the limit: {e}"),
    }
    let listing = app
        .json(&format!("/api/volumes/{vol}/files?path=/in"))
        .await;
    assert_eq!(names(&listing), vec!["hello.txt"]);
    // Bad names and escaping folders.
    assert_eq!(put("/in", "..", b"x".to_vec()).await.unwrap().status(), 422);
    assert_eq!(
        put("/in", "a%2Fb", b"x".to_vec()).await.unwrap().status(),
        422
    );
    assert_eq!(
        put("/../etc", "x", b"x".to_vec()).await.unwrap().status(),
        400
    );
    // The browser form (multipart) takes the same path.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"from the form".to_vec()).file_name("form.txt"),
    );
    let r = app
        .client
        .post(app.at(&format!("/volumes/{vol}/upload?path=/in")))
        .header("hx-request", "true")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("uploaded"));
    let out = with_volume(&run, "reader2", &vol, "cat /data/in/form.txt");
    assert_eq!(out, "from the form");
    let gone = app
        .eventually(Duration::from_secs(10), || async {
            helpers_of(&vol).is_empty()
        })
        .await;
    assert!(gone.is_some());
}

#[tokio::test]
async fn prune_removes_what_the_preview_shows() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let a = run.volume("unused-a", &[]);
    let b = run.volume("unused-b", &[]);
    let kept = run.volume("kept", &[]);
    run.container("keeper", false, &["-v", &format!("{kept}:/data")], &[]);
    let m = app.server.as_ref().unwrap().state.engines.primary().clone();
    app.eventually(Duration::from_secs(10), || async {
        m.read(|s| {
            [&a, &b, &kept]
                .iter()
                .all(|v| s.volumes.contains_key(v.as_str()))
                && s.containers.values().any(|c| c.name == run.name("keeper"))
        })
    })
    .await
    .expect("mirror in step");
    let label = run.label();
    let preview = app.json(&format!("/api/volumes/prune?label={label}")).await;
    let mut want = names(&preview["items"]);
    want.sort();
    assert_eq!(want, vec![a.clone(), b.clone()]);
    let r = app
        .client
        .post(app.at("/api/volumes/prune"))
        .json(&json!({"label": label}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut removed: Vec<String> = r.json::<Value>().await.unwrap()["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    removed.sort();
    assert_eq!(removed, want, "prune removed exactly the preview");
    docker(&["volume", "inspect", &kept]);
    let page = app
        .get(&format!("/volumes/prune?label={label}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Nothing to prune"));
}
