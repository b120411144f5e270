//! Images: export and load round-trip to the same id, pull failing with the engine's words,
//! build from a lone Dockerfile or a tar context, progress rendered from real streams, tag,
//! remove, prune preview against what prune removes.

use std::time::Duration;

use serde_json::{Value, json};

use crate::layers::build;
use crate::support::{Run, TEST_IMAGE, TestApp, docker, docker_quiet, spawn_logged_in};

/// Reads a job's server-sent events until `done`; returns the whole text.
async fn follow_job(app: &TestApp, fragment: &str) -> String {
    let start = fragment
        .find("sse-connect=\"")
        .expect("the job box follows its events")
        + 13;
    let url = &fragment[start..start + fragment[start..].find('"').unwrap()];
    let mut r = app.get(url).await;
    assert_eq!(r.status(), 200);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !text.contains("event: done") {
        let chunk = tokio::time::timeout_at(deadline, r.chunk())
            .await
            .expect("the job ends in time")
            .unwrap();
        match chunk {
            Some(c) => text.push_str(&String::from_utf8_lossy(&c)),
            None => break,
        }
    }
    text
}

fn image_id(reference: &str) -> Option<String> {
    let out = docker_quiet(&["image", "inspect", "-f", "{{.Id}}", reference]);
    (!out.is_empty()).then_some(out)
}

#[tokio::test]
async fn export_and_load_round_trip_keeps_the_id() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let tag = format!("berth-test/{}:trip", run.name("img"));
    let id = build(
        &tag,
        &format!(
            "FROM {TEST_IMAGE}\nLABEL {}\nRUN head -c 20000 /dev/urandom > /payload\n",
            run.label()
        ),
    );
    let m = app.server.as_ref().unwrap().state.engines.primary().clone();
    app.eventually(Duration::from_secs(10), || async {
        m.read(|s| s.images.contains_key(&id))
    })
    .await
    .expect("mirror knows the image");
    let r = app.get(&format!("/api/images/{id}/export")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-tar");
    let tar = r.bytes().await.unwrap();
    assert!(tar.len() > 20000);
    // Several at once: one archive naming both.
    let r = app
        .get(&format!("/api/images/export?ids={tag}&ids={TEST_IMAGE}"))
        .await;
    assert_eq!(r.status(), 200);
    let both = r.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&both);
    assert!(
        text.contains(&tag) && text.contains(TEST_IMAGE),
        "the manifest names both"
    );
    // Unknown images are refused before any byte is sent.
    assert_eq!(
        app.get("/api/images/export?ids=no-such-image:zzz")
            .await
            .status(),
        404
    );

    docker(&["rmi", &tag]);
    assert!(image_id(&tag).is_none());
    let r = app
        .client
        .post(app.at("/api/images/load"))
        .body(tar.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let j: Value = r.json().await.unwrap();
    assert!(
        j["images"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == tag.as_str()),
        "{j}"
    );
    assert_eq!(
        image_id(&tag).as_deref(),
        Some(id.as_str()),
        "same id after the round trip"
    );
    // Not an image archive: the engine's refusal, clearly.
    let r = app
        .client
        .post(app.at("/api/images/load"))
        .body("not a tar")
        .send()
        .await
        .unwrap();
    // The engine answers 500; the fault is the upload's, so it is a 422 with the engine's words.
    assert_eq!(r.status(), 422);
    let j = r.json::<Value>().await.unwrap();
    assert_eq!(j["field"], "body", "{j}");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .starts_with("The engine could not load this archive: "),
        "{j}"
    );

    // Progress rendered from a real load stream: remove it again, load through the page.
    docker(&["rmi", &tag]);
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(tar.to_vec()).file_name("img.tar"),
    );
    let r = app
        .client
        .post(app.at("/images/load"))
        .header("hx-request", "true")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let fragment = r.text().await.unwrap();
    let events = follow_job(&app, &fragment).await;
    assert!(events.contains("Loading layer"), "{events}");
    assert!(
        events.contains("<progress value=\""),
        "a bar per layer: {events}"
    );
    assert!(events.contains(&format!("Loaded image: {tag}")), "{events}");
    assert_eq!(image_id(&tag).as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn pull_failure_shows_the_engine_message() {
    let app = spawn_logged_in().await;
    let r = app
        .client
        .post(app.at("/api/images/pull"))
        .json(&json!({"reference": "berth-test/no-such-image:never"}))
        .send()
        .await
        .unwrap();
    assert!(!r.status().is_success());
    let err = r.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    // The docker CLI shows the same engine message.
    let cli = std::process::Command::new("docker")
        .args(["pull", "berth-test/no-such-image:never"])
        .output()
        .unwrap();
    let cli = String::from_utf8_lossy(&cli.stderr);
    let words: Vec<&str> = err.split_whitespace().take(3).collect();
    assert!(cli.contains(&words.join(" ")), "berth: {err}\ncli: {cli}");
    assert!(!err.contains("Something went wrong"));

    let r = app
        .client
        .post(app.at("/api/images/pull"))
        .json(&json!({"reference": " "}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    // Through the page: the job ends with the engine's words.
    let r = app
        .client
        .post(app.at("/images/pull"))
        .header("hx-request", "true")
        .form(&[("reference", "berth-test/no-such-image:never")])
        .send()
        .await
        .unwrap();
    let fragment = r.text().await.unwrap();
    let events = follow_job(&app, &fragment).await;
    assert!(events.contains("The engine said:"), "{events}");
    assert!(events.contains(words[0]), "{events}");
}

#[tokio::test]
async fn build_from_a_dockerfile_or_a_context() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let t1 = format!("berth-test/{}:one", run.name("built"));
    let t2 = format!("berth-test/{}:two", run.name("built"));
    let dockerfile = format!(
        "FROM {TEST_IMAGE}\nLABEL {}\nARG GREETING=none\nRUN echo \"$GREETING\" > /greeting\n",
        run.label()
    );
    let r = app
        .client
        .post(app.at(&format!(
            "/api/images/build?t={t1}&t={t2}&nocache=1&buildarg=GREETING=hello"
        )))
        .body(dockerfile.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let j: Value = r.json().await.unwrap();
    let id = j["id"].as_str().unwrap().to_string();
    assert!(
        j["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("Step 1/"))
    );
    assert_eq!(image_id(&t1).as_deref(), Some(id.as_str()));
    assert_eq!(image_id(&t2).as_deref(), Some(id.as_str()));
    let c = run.container("greeter", false, &[], &["cat", "/greeting"]);
    docker(&["rm", &c]);
    let c = docker(&["create", "--label", &run.label(), &t1, "cat", "/greeting"]);
    assert_eq!(
        docker(&["start", "-a", &c]),
        "hello",
        "the build arg reached the build"
    );
    // The result is in the list at once.
    let list = app.json("/api/images").await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id.as_str())
    );

    // A tar context with a file the Dockerfile copies.
    let t3 = format!("berth-test/{}:ctx", run.name("built"));
    let df = format!(
        "FROM {TEST_IMAGE}\nLABEL {}\nCOPY hello.txt /hello.txt\n",
        run.label()
    );
    let ctx = berth::engine::tar::archive(&[
        ("Dockerfile", df.as_bytes()),
        ("hello.txt", b"from the context"),
    ]);
    let r = app
        .client
        .post(app.at(&format!("/api/images/build?t={t3}")))
        .body(ctx.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let c = docker(&["create", "--label", &run.label(), &t3, "cat", "/hello.txt"]);
    assert_eq!(docker(&["start", "-a", &c]), "from the context");

    // A failing step: the engine's message.
    let r = app
        .client
        .post(app.at("/api/images/build"))
        .body(format!(
            "FROM {TEST_IMAGE}\nLABEL {}\nRUN exit 3\n",
            run.label()
        ))
        .send()
        .await
        .unwrap();
    // The step's failure is the Dockerfile's: a 422 on the context, with the engine's words.
    assert_eq!(r.status(), 422);
    let err = r.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.starts_with("The build failed: "), "{err}");
    assert!(err.contains("non-zero code: 3"), "{err}");

    // Through the page, with its live log.
    let t4 = format!("berth-test/{}:page", run.name("built"));
    let form = reqwest::multipart::Form::new()
        .text(
            "dockerfile",
            format!(
                "FROM {TEST_IMAGE}\nLABEL {}\nRUN echo page-build\n",
                run.label()
            ),
        )
        .text("tags", t4.clone())
        .text("nocache", "true");
    let r = app
        .client
        .post(app.at("/images/build"))
        .header("hx-request", "true")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let events = follow_job(&app, &r.text().await.unwrap()).await;
    assert!(events.contains("Step 1/3"), "{events}");
    assert!(events.contains("page-build"), "{events}");
    assert!(image_id(&t4).is_some());
}

#[tokio::test]
async fn tag_remove_and_prune_with_preview() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let tag = format!("berth-test/{}:p", run.name("pr"));
    let old = build(
        &tag,
        &format!(
            "FROM {TEST_IMAGE}\nLABEL {}\nRUN echo 1 > /v\n",
            run.label()
        ),
    );
    let new = build(
        &tag,
        &format!(
            "FROM {TEST_IMAGE}\nLABEL {}\nRUN echo 2 > /v\n",
            run.label()
        ),
    );
    assert_ne!(old, new);
    let m = app.server.as_ref().unwrap().state.engines.primary().clone();
    app.eventually(Duration::from_secs(10), || async {
        m.read(|s| s.images.get(&old).is_some_and(|i| i.dangling()) && s.images.contains_key(&new))
    })
    .await
    .expect("mirror sees the dangling image");

    // Tag and remove.
    let extra = format!("berth-test/{}:extra", run.name("pr"));
    let r = app
        .client
        .post(app.at(&format!("/api/images/{new}/tag")))
        .json(&json!({"reference": extra}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(image_id(&extra).as_deref(), Some(new.as_str()));
    let r = app
        .client
        .post(app.at(&format!("/api/images/{new}/tag")))
        .json(&json!({"reference": "bad ref"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let c = docker(&["create", "--label", &run.label(), &extra, "true"]);
    let r = app
        .client
        .delete(app.at(&format!("/api/images/{new}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        409,
        "in use and tagged twice: the engine refuses"
    );
    assert!(
        !r.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    docker(&["rm", &c]);

    // Filters.
    let dangling = app.json("/api/images?filter=dangling").await;
    assert!(
        dangling
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == old.as_str())
    );
    assert!(
        !dangling
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == new.as_str())
    );

    let label = run.label();
    let listed_before = app.json("/api/images").await;
    let preview = app.json(&format!("/api/images/prune?label={label}")).await;
    let ids: Vec<&str> = preview["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![old.as_str()]);
    assert!(preview["bytes"].as_i64().unwrap() > 0, "{preview}");
    let r = app
        .client
        .post(app.at("/api/images/prune"))
        .json(&json!({"label": label}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let out: Value = r.json().await.unwrap();
    let removed: Vec<&str> = out["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    // Exactly the previewed images, plus the untagged intermediate images of their build (not
    // images of the list: they hold no layer of their own beyond the previewed image's).
    assert!(removed.contains(&old.as_str()), "{removed:?}");
    let listed: Vec<String> = listed_before
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    for r in &removed {
        assert!(
            *r == old || !listed.iter().any(|l| l == r),
            "{r} was not in the preview"
        );
    }
    assert_eq!(
        out["bytes"].as_i64(),
        preview["bytes"].as_i64(),
        "and freed what it said"
    );
    assert!(image_id(&new).is_some());
    let page = app
        .get(&format!("/images/prune?label={label}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Nothing to prune"));

    let r = app
        .client
        .delete(app.at(&format!("/api/images/{new}?force=true")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let j: Value = r.json().await.unwrap();
    assert!(
        j["deleted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == new.as_str()),
        "{j}"
    );
    assert!(image_id(&new).is_none());
}
