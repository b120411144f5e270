//! `/metrics`: behind the login, Prometheus text, and page views cost the engine nothing.

use std::time::Duration;

use crate::support::{Run, client, docker, spawn_logged_in};

fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in:\n{text}"))
}

#[tokio::test]
async fn metrics_need_login_and_page_views_make_no_engine_call() {
    let app = spawn_logged_in().await;
    let anon = client().get(app.at("/metrics")).send().await.unwrap();
    assert_eq!(anon.status(), 303, "metrics are behind the login");

    let r = app.get("/metrics").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let before = r.text().await.unwrap();
    assert!(before.contains("# TYPE berth_engine_requests_total counter"));
    assert!(sample(&before, "berth_engine_requests_total") > 0);
    for p in [
        "/",
        "/containers",
        "/images",
        "/volumes",
        "/networks",
        "/api/containers",
    ] {
        for _ in 0..3 {
            assert_eq!(app.get(p).await.status(), 200, "{p}");
        }
    }
    let after = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(
        sample(&after, "berth_engine_requests_in_requests_total"),
        sample(&before, "berth_engine_requests_in_requests_total"),
        "page views asked the engine"
    );
}

/// The container list is rendered once per snapshot and shared: a change on the engine must
/// still show on the next view, on the page, its rows and its JSON twin.
#[tokio::test]
async fn shared_renderings_follow_the_engine() {
    let app = spawn_logged_in().await;
    let run = Run::new();
    for p in ["/containers", "/containers/rows", "/api/containers"] {
        assert_eq!(app.get(p).await.status(), 200);
    }
    let name = run.name("cached");
    run.container("cached", true, &[], &[]);
    for p in ["/containers", "/containers/rows", "/api/containers"] {
        let seen = app
            .eventually(Duration::from_secs(5), || async {
                app.get(p).await.text().await.unwrap().contains(&name)
            })
            .await;
        assert!(seen.is_some(), "{p} never showed {name}");
    }
    docker(&["rm", "-f", &name]);
    let gone = app
        .eventually(Duration::from_secs(5), || async {
            !app.get("/containers")
                .await
                .text()
                .await
                .unwrap()
                .contains(&name)
        })
        .await;
    assert!(
        gone.is_some(),
        "/containers kept showing a removed container"
    );
}
