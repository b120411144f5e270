//! Settings: stored, read back, bad input refused with the field named, every change audited.

use crate::support::spawn_logged_in;

#[tokio::test]
async fn settings_are_stored_validated_and_audited() {
    let app = spawn_logged_in().await;
    let r = app
        .client
        .put(app.at("/api/settings/ui.theme"))
        .json(&serde_json::json!({"value": "dark"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let all = app.json("/api/settings").await;
    assert_eq!(all["ui.theme"], "dark");
    assert_eq!(app.json("/api/settings/ui.theme").await["value"], "dark");
    assert_eq!(app.get("/api/settings/nope").await.status(), 404);

    let bad = app
        .client
        .put(app.at("/api/settings/Bad%20Key"))
        .json(&serde_json::json!({"value": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(body["field"], "key");
    let long = app
        .client
        .put(app.at("/api/settings/ui.theme"))
        .json(&serde_json::json!({"value": "v".repeat(2000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(long.status(), 422);
    // the refused change lost nothing
    assert_eq!(app.json("/api/settings").await["ui.theme"], "dark");

    // the form on the page does the same
    let r = app
        .post_form("/settings", &[("key", "ui.refresh"), ("value", "5s")])
        .await;
    assert_eq!(r.status(), 303);
    let page = app.get("/settings").await.text().await.unwrap();
    assert!(page.contains("ui.refresh") && page.contains("5s"));

    let audit = app.json("/api/audit?limit=20").await;
    let rows = audit.as_array().unwrap();
    assert!(rows.iter().any(|a| a["action"] == "setting.change"
        && a["target"] == "ui.theme"
        && a["outcome"] == "ok"));
    assert!(rows.iter().any(|a| a["action"] == "setting.change"
        && a["outcome"].as_str().unwrap_or("").starts_with("refused")));
}
