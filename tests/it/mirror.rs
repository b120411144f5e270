//! The live mirror follows the engine by itself.

use std::time::Duration;

use crate::support::{Run, docker, find, spawn_logged_in};

#[tokio::test]
async fn containers_made_or_removed_directly_on_the_engine_show_within_two_seconds() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container("direct", true, &[], &[]);
    let seen = app
        .eventually(Duration::from_secs(2), || async {
            find(&app.json("/api/containers").await, "id", &id).is_some()
        })
        .await;
    assert!(
        seen.is_some(),
        "created container not in /api/containers within 2 s"
    );

    docker(&["rm", "-f", &id]);
    let gone = app
        .eventually(Duration::from_secs(2), || async {
            find(&app.json("/api/containers").await, "id", &id).is_none()
        })
        .await;
    assert!(
        gone.is_some(),
        "removed container still in /api/containers after 2 s"
    );

    let net = run.network("net", &[]);
    let vol = run.volume("vol", &[]);
    let both = app
        .eventually(Duration::from_secs(2), || async {
            find(&app.json("/api/networks").await, "id", &net).is_some()
                && find(&app.json("/api/volumes").await, "name", &vol).is_some()
        })
        .await;
    assert!(both.is_some(), "network and volume appear");
}

#[tokio::test]
async fn a_page_view_costs_no_engine_call() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container("quiet", false, &[], &[]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let state = &app.server.as_ref().unwrap().state;
    let before = state.engines.request_engine_calls();
    for p in [
        "/containers",
        "/images",
        "/networks",
        "/volumes",
        "/",
        "/api/containers",
        "/api/images",
        "/api/info",
    ] {
        assert_eq!(app.get(p).await.status(), 200, "{p}");
    }
    assert_eq!(
        state.engines.request_engine_calls(),
        before,
        "pages read from the mirror"
    );
    // The counter does count: an action asks the engine.
    let r = app
        .client
        .post(app.at(&format!("/api/containers/{id}/start")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(state.engines.request_engine_calls() > before);
}
