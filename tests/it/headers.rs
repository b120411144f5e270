//! Security headers and hosts: the Content-Security-Policy on every answer, HSTS on the HTTPS
//! listener only, `--public-url` refusing other Hosts (a DNS-rebinding page cannot reach setup
//! or login), and the warning at start when it is not set.

use reqwest::header::HOST;

use crate::endpoints::captured_logs;
use crate::support::{ADMIN_PASSWORD, Opts, client, spawn};

#[tokio::test]
async fn every_answer_carries_the_policy_and_https_adds_hsts() {
    let logs = captured_logs();
    let app = spawn(Opts {
        https: true,
        ..Default::default()
    })
    .await;
    app.login("admin", ADMIN_PASSWORD).await;
    for path in [
        "/login",
        "/",
        "/containers",
        "/api/info",
        "/nowhere",
        "/static/app.js",
    ] {
        let r = app.get(path).await;
        let csp = r
            .headers()
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP"))
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-eval"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            r.headers().get("strict-transport-security").is_none(),
            "{path}: HSTS over plain HTTP"
        );
    }
    let ca = std::fs::read(app.data.join("tls/ca.pem")).unwrap();
    let tls = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = tls
        .get(format!("{}/login", app.https_url.clone().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    assert!(r.headers().get("content-security-policy").is_some());
    // No --public-url here: said once at start.
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(logged.contains("no --public-url"), "warning at start");
}

#[tokio::test]
async fn with_a_public_url_other_hosts_are_refused() {
    let logs = captured_logs();
    let app = spawn(Opts {
        no_admin: true,
        args: vec![
            "--public-url".into(),
            "https://berth.example.test:9443/".into(),
        ],
        ..Default::default()
    })
    .await;
    let c = client();
    // What a DNS-rebinding page sends: its own name, pointing at Berth's address.
    for (path, host) in [
        ("/setup", "evil.example"),
        ("/login", "evil.example:9443"),
        ("/setup", "127.0.0.1"),
        ("/api/info", "berth.example.test:9000"),
        ("/login", "<script>x</script>"),
    ] {
        let r = c.get(app.at(path)).header(HOST, host).send().await.unwrap();
        assert_eq!(r.status(), 421, "{path} for Host {host}");
        let text = r.text().await.unwrap();
        assert!(text.contains("https://berth.example.test:9443"), "{text}");
        assert!(!text.contains("<script>x"), "the Host is escaped: {text}");
    }
    // The setup form cannot be posted from elsewhere either: nobody became admin.
    let r = c
        .post(app.at("/setup"))
        .header(HOST, "evil.example")
        .form(&[
            ("username", "mallory"),
            ("password", "mallory-password-long"),
            ("password_confirm", "mallory-password-long"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 421);
    assert_eq!(
        app.server
            .as_ref()
            .unwrap()
            .state
            .store
            .user_count()
            .await
            .unwrap(),
        0
    );
    // Its own name passes (the default port may be named or not); the health probe always does.
    for host in ["berth.example.test:9443", "BERTH.example.test:9443"] {
        let r = c
            .get(app.at("/setup"))
            .header(HOST, host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{host}");
    }
    let r = c.get(app.at("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    drop(logs);
}
