//! Container actions change the engine's state, as the engine itself reports it afterwards.

use crate::support::{Run, find, spawn_logged_in};

async fn act(app: &crate::support::TestApp, id: &str, action: &str) -> reqwest::Response {
    app.client
        .post(app.at(&format!("/api/containers/{id}/{action}")))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn each_action_changes_the_engine_state() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container("life", false, &[], &[]);
    let status = |run: &Run| run.inspect(&id, "{{.State.Status}}");

    assert_eq!(act(&app, &id, "start").await.status(), 204);
    assert_eq!(status(&run), "running");
    // The result is in the API at once, without waiting for the event.
    let list = app.json("/api/containers").await;
    assert_eq!(find(&list, "id", &id).unwrap()["state"], "running");

    assert_eq!(act(&app, &id, "pause").await.status(), 204);
    assert_eq!(status(&run), "paused");
    assert_eq!(act(&app, &id, "unpause").await.status(), 204);
    assert_eq!(status(&run), "running");
    let started = run.inspect(&id, "{{.State.StartedAt}}");
    assert_eq!(act(&app, &id, "restart").await.status(), 204);
    assert_eq!(status(&run), "running");
    assert_ne!(
        run.inspect(&id, "{{.State.StartedAt}}"),
        started,
        "restart starts it anew"
    );
    assert_eq!(act(&app, &id, "stop").await.status(), 204);
    assert_eq!(status(&run), "exited");
    assert_eq!(act(&app, &id, "start").await.status(), 204);
    assert_eq!(act(&app, &id, "kill").await.status(), 204);
    assert_eq!(status(&run), "exited");
    assert_eq!(run.inspect(&id, "{{.State.ExitCode}}"), "137");

    let r = app
        .client
        .delete(app.at(&format!("/api/containers/{id}?force=true&volumes=true")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let gone = std::process::Command::new("docker")
        .args(["inspect", &id])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the engine no longer has it");
    assert!(find(&app.json("/api/containers").await, "id", &id).is_none());
}

#[tokio::test]
async fn refusals_and_unknown_ids_get_clear_errors() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container("busy", true, &[], &[]);

    // Removing a running container without force: the engine's reason, as a 409.
    let r = app
        .client
        .delete(app.at(&format!("/api/containers/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let j: serde_json::Value = r.json().await.unwrap();
    assert!(j["error"].as_str().unwrap().contains("running"), "{j}");

    // An action its state does not allow: the engine says 500; Berth says 409 with its words,
    // and the engine's state is unchanged.
    let r = act(&app, &id, "unpause").await;
    assert_eq!(r.status(), 409);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["field"], "state", "{j}");
    assert!(j["error"].as_str().unwrap().contains("not paused"), "{j}");
    assert_eq!(run.inspect(&id, "{{.State.Status}}"), "running");

    let r = act(&app, "no-such-container-xyz", "start").await;
    assert_eq!(r.status(), 404);
    let j: serde_json::Value = r.json().await.unwrap();
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("no-such-container-xyz"),
        "{j}"
    );

    let r = act(&app, &id, "explode").await;
    assert_eq!(r.status(), 422);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["field"], "action");

    // Unknown detail page: an error page, not a crash.
    assert_eq!(
        app.get("/containers/no-such-container-xyz").await.status(),
        404
    );
}

#[tokio::test]
async fn bulk_and_page_actions_work_and_are_audited() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let a = run.container("bulk-a", true, &[], &[]);
    let b = run.container("bulk-b", true, &[], &[]);
    let body = format!("ids={a}&ids={b}&action=stop");
    let r = app
        .client
        .post(app.at("/containers/bulk"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("hx-request", "true")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("done"));
    assert_eq!(run.inspect(&a, "{{.State.Status}}"), "exited");
    assert_eq!(run.inspect(&b, "{{.State.Status}}"), "exited");

    // A plain form post (no htmx) redirects back.
    let r = app.post_form(&format!("/containers/{a}/start"), &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(run.inspect(&a, "{{.State.Status}}"), "running");

    // Bulk skips what the action does not fit, and says so: a is running, b exited.
    let bulk = |action: &str| {
        let body = format!("ids={a}&ids={b}&action={action}");
        let app = &app;
        async move {
            let r = app
                .client
                .post(app.at("/containers/bulk"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("hx-request", "true")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    let said = bulk("unpause").await;
    assert!(said.contains("Nothing done"), "{said}");
    assert!(
        said.contains("1 exited") && said.contains("1 running"),
        "{said}"
    );
    let said = bulk("start").await;
    assert!(said.contains("start on 1 container: done."), "{said}");
    assert!(said.contains("Skipped 1"), "{said}");
    assert_eq!(run.inspect(&a, "{{.State.Status}}"), "running");
    assert_eq!(run.inspect(&b, "{{.State.Status}}"), "running");

    let state = &app.server.as_ref().unwrap().state;
    let audit = state.store.recent_audit(50).await.unwrap();
    let stops = audit
        .iter()
        .filter(|e| e.action == "container.stop" && e.outcome == "ok")
        .count();
    assert_eq!(stops, 2, "{audit:?}");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "container.start" && e.username.as_deref() == Some("admin"))
    );
    assert!(audit.iter().any(|e| e.action == "login"));
}
