//! Setup, login, throttling, sessions, logout, forgery protection.

use std::time::Duration;

use crate::support::{self, ADMIN_PASSWORD, Opts, spawn};

#[tokio::test]
async fn first_run_leads_to_setup_which_creates_the_admin_once() {
    let app = spawn(Opts {
        no_admin: true,
        ..Default::default()
    })
    .await;
    let r = app.get("/").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/setup");
    assert_eq!(app.get("/login").await.headers()["location"], "/setup");
    assert_eq!(app.get("/setup").await.status(), 200);

    let short = app
        .post_form(
            "/setup",
            &[
                ("username", "root"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(short.status(), 422);
    assert!(
        short
            .text()
            .await
            .unwrap()
            .contains("at least 12 characters")
    );

    let differ = app
        .post_form(
            "/setup",
            &[
                ("username", "root"),
                ("password", "long-enough-pass"),
                ("password_confirm", "long-enough-pasS"),
            ],
        )
        .await;
    assert_eq!(differ.status(), 422);
    assert!(differ.text().await.unwrap().contains("differ"));

    let ok = app
        .post_form(
            "/setup",
            &[
                ("username", "root"),
                ("password", "long-enough-pass"),
                ("password_confirm", "long-enough-pass"),
            ],
        )
        .await;
    assert_eq!(ok.status(), 303);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_eq!(app.get("/").await.status(), 200, "setup logs the admin in");

    // A second setup is refused, from another client too.
    let other = support::client();
    let again = other
        .post(app.at("/setup"))
        .form(&[
            ("username", "evil"),
            ("password", "long-enough-pass"),
            ("password_confirm", "long-enough-pass"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 403);
}

#[tokio::test]
async fn setup_is_refused_after_its_window_with_a_way_forward() {
    let app = spawn(Opts {
        no_admin: true,
        args: vec!["--setup-timeout".into(), "1s".into()],
        ..Default::default()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let page = app.get("/setup").await;
    assert_eq!(page.status(), 403);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("has closed") && text.contains("--admin-password-file"),
        "{text}"
    );
    let post = app
        .post_form(
            "/setup",
            &[
                ("username", "admin"),
                ("password", "long-enough-pass"),
                ("password_confirm", "long-enough-pass"),
            ],
        )
        .await;
    assert_eq!(post.status(), 403);
}

#[tokio::test]
async fn wrong_password_is_refused_and_repeated_failures_are_throttled() {
    let app = spawn(Opts::default()).await;
    for _ in 0..5 {
        let r = app
            .post_form(
                "/login",
                &[("username", "admin"), ("password", "wrong-password")],
            )
            .await;
        assert_eq!(r.status(), 401);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Wrong user name or password")
        );
    }
    let r = app
        .post_form(
            "/login",
            &[("username", "admin"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(
        r.status(),
        429,
        "the sixth attempt within a minute is throttled, even with the right password"
    );
    assert!(r.text().await.unwrap().contains("Try again in"));
    // An unknown user is refused the same way (and costs the same: a dummy hash is verified).
    let app2 = spawn(Opts::default()).await;
    let r = app2
        .post_form(
            "/login",
            &[("username", "nobody"), ("password", "whatever-it-is")],
        )
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn unauthenticated_pages_redirect_and_api_answers_401_json() {
    let app = spawn(Opts::default()).await;
    for p in [
        "/",
        "/containers",
        "/images",
        "/networks",
        "/volumes",
        "/containers/x",
    ] {
        let r = app.get(p).await;
        assert_eq!(r.status(), 303, "{p}");
        assert_eq!(r.headers()["location"], "/login", "{p}");
    }
    for p in [
        "/api/containers",
        "/api/images",
        "/api/networks",
        "/api/volumes",
        "/api/info",
    ] {
        let r = app.get(p).await;
        assert_eq!(r.status(), 401, "{p}");
        let j: serde_json::Value = r.json().await.unwrap();
        assert!(j["error"].is_string());
    }
    let r = app
        .client
        .post(app.at("/api/containers/x/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let h: serde_json::Value = app.get("/healthz").await.json().await.unwrap();
    assert_eq!(h["status"], "ok");
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn(Opts::default()).await;
    app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(app.get("/api/info").await.status(), 200);
    let r = app.client.post(app.at("/logout")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(app.get("/api/info").await.status(), 401);
}

#[tokio::test]
async fn session_survives_a_restart_on_the_same_data_folder() {
    let app = spawn(Opts::default()).await;
    app.login("admin", ADMIN_PASSWORD).await;
    let client = app.client.clone();
    let (data, tmp) = app.stop().await;
    let app2 = spawn(Opts {
        data: Some(&data),
        ..Default::default()
    })
    .await;
    let r = client.get(app2.at("/api/info")).send().await.unwrap();
    // The cookie jar keys cookies by host, not port: both servers are 127.0.0.1.
    assert_eq!(
        r.status(),
        200,
        "the session made before the restart still works"
    );
    drop(tmp);
}

#[tokio::test]
async fn cross_site_posts_are_refused_and_plain_clients_pass() {
    let app = spawn(Opts::default()).await;
    app.login("admin", ADMIN_PASSWORD).await;
    let r = app
        .client
        .post(app.at("/logout"))
        .header("origin", "http://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        app.get("/api/info").await.status(),
        200,
        "the forged logout did nothing"
    );
    // Same-origin browser request passes.
    let r = app
        .client
        .post(app.at("/logout"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}
