//! Engine events in Berth (issue 19, item 3): `GET /api/events` and the `/events` page are
//! judged against the engine's own `docker events` for the same objects and time window, not
//! against Berth's reading of the stream.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Run, docker, spawn_logged_in};

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// `(type, action, id, timeNano)` of what `docker events` reports for the filter, in order.
fn cli_events(since: f64, until: f64, filter: &str) -> Vec<(String, String, String, i64)> {
    let out = docker(&[
        "events",
        "--since",
        &format!("{since:.3}"),
        "--until",
        &format!("{until:.3}"),
        "--filter",
        filter,
        "--format",
        "{{json .}}",
    ]);
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["Type"].as_str().unwrap().to_string(),
                v["Action"].as_str().unwrap().to_string(),
                v["Actor"]["ID"].as_str().unwrap().to_string(),
                v["timeNano"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn berth_events(j: &Value) -> Vec<(String, String, String, i64)> {
    j.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["id"].as_str().unwrap().to_string(),
                e["time_nano"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn events_match_the_engines_own_log_and_the_page_escapes_them() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    app.wait_synced().await;
    let since = now_secs() - 0.5;
    let hostile = "<script>alert(1)</script>";
    let label = format!("berth.hostile={hostile}");
    let id = run.container("ev", true, &["--label", &label], &[]);
    docker(&["stop", "-t", "1", &id]);
    docker(&["rm", &id]);
    let vol = run.volume("ev-vol", &[]);
    docker(&["volume", "rm", &vol]);
    // Berth heard it all (the destroy is the last of the container's).
    let q = format!("/api/events?since={since:.3}&type=container&object={id}");
    let heard = app
        .eventually(Duration::from_secs(10), || async {
            berth_events(&app.json(&q).await)
                .iter()
                .any(|e| e.1 == "destroy")
        })
        .await;
    assert!(heard.is_some(), "Berth never heard the destroy");
    let until = now_secs() + 0.5;

    // The same events, in the same order, with the engine's own times.
    let cli = cli_events(since, until, &format!("container={id}"));
    let got = berth_events(&app.json(&format!("{q}&until={until:.3}")).await);
    assert!(
        cli.len() >= 5,
        "create, start, kill, die, stop, destroy: {cli:?}"
    );
    assert_eq!(got, cli, "Berth's events of the container are the engine's");
    let cli = cli_events(since, until, &format!("volume={vol}"));
    let got = berth_events(
        &app.json(&format!(
            "/api/events?since={since:.3}&until={until:.3}&type=volume&object={vol}"
        ))
        .await,
    );
    assert_eq!(got, cli, "and of the volume");
    assert!(got.iter().any(|e| e.1 == "create"));

    // Actions filter, attributes kept as the engine sent them.
    let j = app
        .json(&format!(
            "/api/events?since={since:.3}&object={id}&action=die"
        ))
        .await;
    let dies = j.as_array().unwrap();
    assert_eq!(dies.len(), 1, "{j}");
    assert_eq!(dies[0]["attributes"]["berth.hostile"], hostile);
    assert!(dies[0]["attributes"]["exitCode"].is_string());

    // The page and its live rows: the object named and linked, the hostile label escaped.
    for path in ["/events".to_string(), format!("/events/rows?object={id}")] {
        let r = app.get(&path).await;
        assert_eq!(r.status(), 200, "{path}");
        let html = r.text().await.unwrap();
        assert!(html.contains(&run.name("ev")), "{path}");
        assert!(html.contains("destroy"), "{path}");
        assert!(!html.contains(hostile), "{path}: a label went in unescaped");
        assert!(
            html.contains("&#60;script&#62;alert(1)") || html.contains("&lt;script&gt;alert(1)"),
            "{path}: the label is shown, escaped"
        );
        assert!(
            html.contains("<time datetime=\""),
            "{path}: times are <time>"
        );
    }

    // A container's own tab.
    let live = run.container("ev-live", true, &[], &[]);
    let r = app.get(&format!("/containers/{live}/events")).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("start"), "{html}");
    assert!(!html.contains(&run.name("ev\"")));

    // Bad filters: 422 naming the field, on the API and (as a message) on the page.
    for (query, field) in [
        ("since=soon", "since"),
        ("type=bogus", "type"),
        ("limit=0", "limit"),
        ("since=20&until=10", "until"),
    ] {
        let r = app.get(&format!("/api/events?{query}")).await;
        assert_eq!(r.status(), 422, "{query}");
        let j: Value = r.json().await.unwrap();
        assert_eq!(j["field"], field, "{query}: {j}");
    }
    let r = app.get("/events/rows?type=bogus").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("is not an event type"));
}

#[tokio::test]
async fn a_berth_started_later_shows_what_the_engine_logged_before() {
    let run = Run::new();
    let since = now_secs() - 0.5;
    let id = run.container("ev-before", false, &[], &[]);
    // Berth starts after the create: its ring is filled from the engine's own log.
    let app = spawn_logged_in().await;
    app.wait_synced().await;
    let got = app
        .eventually(Duration::from_secs(5), || async {
            berth_events(
                &app.json(&format!("/api/events?since={since:.3}&object={id}"))
                    .await,
            )
            .iter()
            .any(|e| e.1 == "create")
        })
        .await;
    let cli = cli_events(since, now_secs(), &format!("container={id}"));
    assert!(
        got.is_some(),
        "the create the engine logged before Berth started is not in its ring (engine: {cli:?})"
    );
}
