//! Console: a shell in the container over the websocket, as the browser's xterm uses it.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::support::{ADMIN_PASSWORD, Run, TestApp, find, spawn_logged_in};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A session cookie of its own (the test client keeps its cookies to itself).
pub async fn session_cookie(app: &TestApp) -> String {
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = c
        .post(app.at("/login"))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

async fn connect(app: &TestApp, cookie: &str, path: &str, origin: Option<&str>) -> Result<Ws, u16> {
    let url = app.at(path).replacen("http://", "ws://", 1);
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("cookie", HeaderValue::from_str(cookie).unwrap());
    let own = app.url.clone();
    if let Some(o) = origin.or(Some(&own)) {
        req.headers_mut()
            .insert("origin", HeaderValue::from_str(o).unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("websocket: {e}"),
    }
}

/// Reads terminal output until it contains `needle` (10 s at most); returns all of it.
async fn read_until(ws: &mut Ws, needle: &str) -> String {
    let mut seen = String::new();
    let r = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(m) = ws.next().await {
            match m.unwrap() {
                Message::Binary(b) => seen.push_str(&String::from_utf8_lossy(&b)),
                Message::Text(t) => seen.push_str(&t),
                Message::Close(_) => break,
                _ => {}
            }
            if seen.contains(needle) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(matches!(r, Ok(true)), "{needle:?} never came; got {seen:?}");
    seen
}

async fn new_exec(app: &TestApp, id: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.at(&format!("/containers/{id}/console/exec")))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn listed(app: &TestApp, id: &str) {
    app.eventually(Duration::from_secs(5), || async {
        find(&app.json("/api/containers").await, "id", id).is_some()
    })
    .await
    .expect("listed");
}

#[tokio::test]
async fn shell_echoes_resizes_and_closes_cleanly() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container("shell", true, &[], &[]);
    listed(&app, &id).await;
    let cookie = session_cookie(&app).await;

    let r = new_exec(&app, &id, &[("shell", "sh")]).await;
    assert_eq!(r.status(), 200);
    let exec = r.json::<serde_json::Value>().await.unwrap()["exec"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ws = connect(
        &app,
        &cookie,
        &format!("/containers/{id}/console/ws?exec={exec}&cols=100&rows=30"),
        None,
    )
    .await
    .expect("upgrade");

    // The typed line is echoed by the TTY; only the shell's output has the computed number.
    let nonce = std::process::id() ^ 0x5eed;
    ws.send(Message::text(format!("echo berth-$((6*7))-{nonce}\r")))
        .await
        .unwrap();
    read_until(&mut ws, &format!("berth-42-{nonce}")).await;

    // The size the console was opened with, then a resize, as the terminal sees them (read
    // from the host with coreutils' stty: the test image's busybox stty cannot read it).
    let size = || async {
        let m = app.server.as_ref().unwrap().state.engines.primary().clone();
        let pid = m
            .docker()
            .unwrap()
            .inspect_exec(&exec)
            .await
            .unwrap()
            .pid
            .unwrap();
        let out = std::process::Command::new("stty")
            .args(["-F", &format!("/proc/{pid}/fd/0"), "size"])
            .output()
            .expect("stty runs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    };
    assert_eq!(size().await, "30 100");
    let r = app
        .client
        .post(app.at(&format!("/containers/{id}/console/resize")))
        .form(&[("exec", exec.as_str()), ("cols", "120"), ("rows", "40")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(size().await, "40 120");

    // The shell exits: the server closes the socket with a reason.
    ws.send(Message::text("exit\r")).await.unwrap();
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Close(f) = m {
                return f;
            }
        }
        None
    })
    .await
    .expect("closed in time");
    let f = close.expect("a close frame");
    assert_eq!(u16::from(f.code), 1000);
    assert_eq!(f.reason.as_str(), "the process ended");

    // Starting the same exec twice is refused; the audit has the console.
    let again = connect(
        &app,
        &cookie,
        &format!("/containers/{id}/console/ws?exec={exec}"),
        None,
    )
    .await;
    assert_eq!(again.err(), Some(409));
    let audit = app
        .server
        .as_ref()
        .unwrap()
        .state
        .store
        .recent_audit(20)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "container.console" && e.outcome == "ok")
    );
}

#[tokio::test]
async fn browser_closing_ends_the_shell() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container("close", true, &[], &[]);
    listed(&app, &id).await;
    let cookie = session_cookie(&app).await;
    let r = new_exec(
        &app,
        &id,
        &[("shell", "custom"), ("custom", "sh -c 'read x'")],
    )
    .await;
    let exec = r.json::<serde_json::Value>().await.unwrap()["exec"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ws = connect(
        &app,
        &cookie,
        &format!("/containers/{id}/console/ws?exec={exec}"),
        None,
    )
    .await
    .unwrap();
    ws.send(Message::text("hello")).await.unwrap();
    ws.close(None).await.unwrap();
    drop(ws);
    // Its stdin closed, the process ends: the engine says the exec is no longer running.
    let ended = app
        .eventually(Duration::from_secs(10), || async {
            let out = std::process::Command::new("docker")
                .args(["exec", &id, "ps"])
                .output()
                .unwrap();
            !String::from_utf8_lossy(&out.stdout).contains("read x")
        })
        .await;
    assert!(
        ended.is_some(),
        "the exec kept running after the browser left"
    );
}

#[tokio::test]
async fn attach_reaches_the_main_process() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container("attach", true, &["-i", "-t"], &["sh"]);
    listed(&app, &id).await;
    let cookie = session_cookie(&app).await;
    let mut ws = connect(
        &app,
        &cookie,
        &format!("/containers/{id}/console/ws?attach=1"),
        None,
    )
    .await
    .expect("attach");
    ws.send(Message::text("echo attached-$((2+3))\r"))
        .await
        .unwrap();
    read_until(&mut ws, "attached-5").await;
    let r = app
        .client
        .post(app.at(&format!("/containers/{id}/console/resize")))
        .form(&[("cols", "90"), ("rows", "20")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let audit = app
        .server
        .as_ref()
        .unwrap()
        .state
        .store
        .recent_audit(20)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "container.attach" && e.outcome == "ok")
    );
}

#[tokio::test]
async fn console_is_refused_cross_origin_bad_input_and_to_viewers() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container("guard", true, &[], &[]);
    let stopped = run.container("guard-stopped", false, &[], &[]);
    listed(&app, &id).await;
    listed(&app, &stopped).await;
    let cookie = session_cookie(&app).await;
    let exec = new_exec(&app, &id, &[("shell", "sh")])
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["exec"]
        .as_str()
        .unwrap()
        .to_string();

    let path = format!("/containers/{id}/console/ws?exec={exec}");
    assert_eq!(
        connect(&app, &cookie, &path, Some("http://evil.example"))
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        connect(&app, &cookie, &format!("/containers/{id}/console/ws"), None)
            .await
            .err(),
        Some(422)
    );
    assert_eq!(
        connect(
            &app,
            &cookie,
            &format!("/containers/{id}/console/ws?exec=nope"),
            None
        )
        .await
        .err(),
        Some(404)
    );
    assert_eq!(
        connect(
            &app,
            &cookie,
            &format!("/containers/{stopped}/console/ws?attach=1"),
            None
        )
        .await
        .err(),
        Some(409)
    );
    // No session: the login redirect, never an upgrade.
    assert_eq!(
        connect(&app, "berth_session=forged", &path, None)
            .await
            .err(),
        Some(303)
    );

    for (form, field) in [
        (vec![("shell", "cmd")], "shell"),
        (vec![("shell", "custom"), ("custom", " ")], "custom"),
        (vec![("shell", "sh"), ("user", "root;rm")], "user"),
    ] {
        let r = new_exec(&app, &id, &form).await;
        assert_eq!(r.status(), 422, "{form:?}");
        let j: serde_json::Value = r.json().await.unwrap();
        assert_eq!(j["field"], field);
    }
    // An unknown user: the engine's refusal, verbatim.
    let r = new_exec(&app, &id, &[("shell", "sh"), ("user", "nobody-here")]).await;
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    if status == 200 {
        // Some engines refuse only at start: then the websocket upgrade answers with the error.
        let exec: serde_json::Value = serde_json::from_str(&body).unwrap();
        let p = format!(
            "/containers/{id}/console/ws?exec={}",
            exec["exec"].as_str().unwrap()
        );
        match connect(&app, &cookie, &p, None).await {
            Err(s) => assert!(s >= 400),
            Ok(mut ws) => {
                read_until(&mut ws, "nobody-here").await;
            }
        }
    } else {
        assert!(body.contains("nobody-here"), "{body}");
    }

    // A read-only user: no console page, no exec, no websocket.
    let db = app.data.join("berth.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE users SET role = 'viewer' WHERE username = 'admin'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    // Berth trusts a session read from the database for a moment: a change made from outside
    // takes effect for every session once that moment has passed.
    tokio::time::sleep(berth::store::SESSION_CACHE_TTL + std::time::Duration::from_millis(100))
        .await;
    assert_eq!(
        app.get(&format!("/containers/{id}/console")).await.status(),
        403
    );
    assert_eq!(new_exec(&app, &id, &[("shell", "sh")]).await.status(), 403);
    assert_eq!(connect(&app, &cookie, &path, None).await.err(), Some(403));
    let tabs = app
        .get(&format!("/containers/{id}/logs"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!tabs.contains("/console\""), "viewers see no console tab");
}
