//! `GET /api/openapi.json` (issue 14, item 8), judged by schemathesis (PyPI), not by Berth: it
//! reads the description, sends what the description allows (and what it does not) to every
//! `/api` route of a live Berth with an admin token, and checks that no answer is a server
//! error (5xx) and that every answer matches the schema its status declares.
//!
//! Berth manages a second engine started by this test, so whatever the fuzzer asks of the
//! engine lands on an engine that holds only this test's objects. Left out, each for a reason:
//! - removals (`DELETE`, prunes): they would remove what the fuzzer did not create;
//! - the Docker API gateway (`/api/docker/{path}`): any engine path is any engine action; the
//!   docker CLI and compose test it (gateway.rs);
//! - network creation and stack deploys (which create networks): networks on a second engine
//!   need an explicit subnet and bridge name, or they may take the host's (SECOND-ENGINE.md);
//! - changing the endpoint or the admin (`PUT /api/endpoints/{id}`, `PUT /api/users/{id}`): they
//!   would cut the run off from its own engine or token.
//!
//! What needs a registry (pull, push, a container's update to its image's newest version) is
//! run apart with the schema check only: no registry is reachable from here, so the engine's
//! honest failure comes back as a 502, which the description declares; asking those for "no
//! 5xx" would ask the network, not Berth.
//!
//! Request bodies of type `application/x-tar` (build contexts, `docker save` archives) come
//! from `tests/schemathesis/hooks.py`: real tars and some that are not.

use std::process::Command;

use serde_json::{Value, json};

use crate::second_engine::SecondEngine;
use crate::support::{ADMIN_PASSWORD, Opts, Run, TEST_IMAGE, spawn};

/// Operations that reach a registry through the engine: checked for the schema only.
macro_rules! registry_bound {
    () => {
        "post_(e_endpoint_)?images_(pull|push)|post_(e_endpoint_)?containers_id_update"
    };
}

/// Operation ids (see server/openapi.rs: method and path) left out of the run, and why above.
const LEFT_OUT: &str = concat!(
    "^(delete_.*",
    "|post_(e_endpoint_)?(images|networks|volumes)_prune",
    "|post_(e_endpoint_)?networks",
    "|(post|put)_(e_endpoint_)?stacks(_name)?",
    "|post_(e_endpoint_)?stacks_name_copy",
    "|put_endpoints_id|put_users_id",
    "|(get|post|put|head)_(e_endpoint_)?docker_path",
    "|",
    registry_bound!(),
    ")$"
);

fn schemathesis() -> Option<String> {
    let out = Command::new("schemathesis")
        .arg("--version")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_schema() {
    if !SecondEngine::possible() {
        println!("skipped: a second engine needs root and dockerd");
        return;
    }
    let version = schemathesis()
        .expect("schemathesis is not installed: `pip install schemathesis` (scripts/test.sh does)");
    println!("{version}");
    let run = Run::new();
    let label = run.label();
    let engine = SecondEngine::start(&run.id);
    engine.load(TEST_IMAGE);
    // Something of each kind for the lists and details to show.
    engine.docker(&[
        "run",
        "-d",
        "--init",
        "--network",
        "none",
        "--label",
        &label,
        "--name",
        &run.name("up"),
        TEST_IMAGE,
        "sleep",
        "3600",
    ]);
    engine.docker(&[
        "create",
        "--label",
        &label,
        "--name",
        &run.name("made"),
        TEST_IMAGE,
        "true",
    ]);
    engine.docker(&["volume", "create", "--label", &label, &run.name("vol")]);

    let app = spawn(Opts {
        args: vec!["-H".into(), engine.host.clone()],
        ..Default::default()
    })
    .await;
    app.login("admin", ADMIN_PASSWORD).await;
    app.wait_synced().await;
    let r = app
        .client
        .post(app.at("/api/tokens"))
        .json(&json!({ "name": "schemathesis" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();

    // The description is served to a token, and it is what the fuzzer reads.
    let r = reqwest::Client::new()
        .get(app.at("/api/openapi.json"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").to_string());
    let dir = std::path::Path::new(&target).join("schemathesis");
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("openapi.json");
    std::fs::write(&spec, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();

    let examples = std::env::var("BERTH_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "5".into());
    let auth = format!("Authorization: Bearer {token}");
    let url = app.url.clone();
    let hooks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis");
    let schemathesis_run = |checks: &'static str, filter: [&'static str; 2], name: &'static str| {
        let (spec, url, auth, dir, examples) = (
            spec.clone(),
            url.clone(),
            auth.clone(),
            dir.clone(),
            examples.clone(),
        );
        move || {
            let report = dir.join(format!("{name}.xml"));
            Command::new("schemathesis")
                .args(["run", &spec.display().to_string(), "--url", &url])
                .args(["-H", &auth])
                .args(["--checks", checks])
                .args(filter)
                .args(["--max-examples", &examples])
                .args(["--phases", "examples,coverage,fuzzing"])
                .args(["--request-timeout", "60", "--workers", "2"])
                .args(["--report", "junit", "--report-junit-path"])
                .arg(&report)
                .args(["--seed", "1", "--generation-database", "none"])
                .current_dir(&dir)
                .env("NO_COLOR", "1")
                .env("SCHEMATHESIS_HOOKS", "hooks")
                .env("PYTHONPATH", hooks)
                .output()
                .expect("schemathesis runs")
        }
    };
    let main = tokio::task::spawn_blocking(schemathesis_run(
        "not_a_server_error,response_schema_conformance",
        ["--exclude-operation-id-regex", LEFT_OUT],
        "junit",
    ))
    .await
    .unwrap();
    let registry = tokio::task::spawn_blocking(schemathesis_run(
        "response_schema_conformance",
        [
            "--include-operation-id-regex",
            concat!("^(", registry_bound!(), ")$"),
        ],
        "junit-registry",
    ))
    .await
    .unwrap();
    let text = [&main, &registry]
        .iter()
        .map(|out| {
            format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .collect::<Vec<_>>()
        .join("\n---- registry-bound operations, schema only ----\n");
    std::fs::write(dir.join("output.txt"), &text).unwrap();
    let tail: String = {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(200)..].join("\n")
    };
    println!("{tail}");
    drop(app);
    drop(engine);
    assert!(
        main.status.success() && registry.status.success(),
        "schemathesis found failures (all of it in {}):\n{tail}",
        dir.join("output.txt").display()
    );
}
