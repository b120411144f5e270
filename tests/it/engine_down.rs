//! An engine that cannot be reached: Berth stays up, says so, and acts sanely.

use crate::support::{ADMIN_PASSWORD, Opts, spawn};

#[tokio::test]
async fn pages_show_a_banner_health_says_down_and_actions_explain() {
    let dead = "unix:///tmp/berth-no-such-engine.sock";
    let app = spawn(Opts {
        args: vec!["-H".into(), dead.into()],
        ..Default::default()
    })
    .await;
    app.login("admin", ADMIN_PASSWORD).await;
    let h: serde_json::Value = app.get("/healthz").await.json().await.unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["engine"], "down");
    for p in ["/", "/containers", "/images", "/networks", "/volumes"] {
        let r = app.get(p).await;
        assert_eq!(r.status(), 200, "{p}");
        let text = r.text().await.unwrap();
        assert!(
            text.contains("is not reachable") && text.contains("berth-no-such-engine.sock"),
            "{p}: banner missing"
        );
    }
    let r = app
        .client
        .post(app.at("/api/containers/abc/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let j: serde_json::Value = r.json().await.unwrap();
    assert!(
        j["error"].as_str().unwrap().contains("not reachable"),
        "{j}"
    );
}

#[tokio::test]
async fn a_closed_tcp_port_is_down_too() {
    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn(Opts {
        args: vec!["-H".into(), format!("tcp://127.0.0.1:{port}")],
        ..Default::default()
    })
    .await;
    app.login("admin", ADMIN_PASSWORD).await;
    let ok = app
        .eventually(std::time::Duration::from_secs(5), || async {
            let h: serde_json::Value = app.get("/healthz").await.json().await.unwrap();
            h["engine"] == "down"
                && app
                    .server
                    .as_ref()
                    .unwrap()
                    .state
                    .engines
                    .primary()
                    .health()
                    .error
                    .is_some()
        })
        .await;
    assert!(ok.is_some());
    let text = app.get("/containers").await.text().await.unwrap();
    assert!(text.contains("is not reachable"));
}
