//! Several endpoints: a TCP relay and an mTLS relay in front of this machine's engine stand in
//! for remote engines (2375 / 2376). Health, precise TLS failures, switching, outages,
//! certificates on disk, and Berth's own UI over HTTPS.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::relay::{Ca, Relay, TlsSide, closed_port, fake_engine};
use crate::support::{ADMIN_PASSWORD, Opts, Run, TestApp, find, spawn, spawn_logged_in};

async fn add(app: &TestApp, body: Value) -> i64 {
    let r = app
        .client
        .post(app.at("/api/endpoints"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let j: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "POST /api/endpoints: {j}");
    j["id"].as_i64().expect("id")
}

async fn endpoint(app: &TestApp, id: i64) -> Value {
    let list = app.json("/api/endpoints").await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("endpoint {id} not listed: {list}"))
}

/// Waits until the endpoint's live health is `status` (and has an error when down).
async fn wait_status(app: &TestApp, id: i64, status: &str, within: Duration) -> Option<Duration> {
    app.eventually(within, || async {
        let e = endpoint(app, id).await;
        e["status"] == status && (status == "up" || e["error"].is_string())
    })
    .await
}

async fn container_ids(app: &TestApp, path: &str) -> Vec<String> {
    app.json(path)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_tcp_relay_endpoint_serves_every_dashboard_and_twin() {
    let run = Run::new();
    let relay = Relay::tcp().await;
    let app = spawn_logged_in().await;
    let id = add(&app, json!({"name": run.name("tcp"), "url": relay.url()})).await;
    assert!(id >= 2, "the flags' endpoint is 1");
    assert!(
        wait_status(&app, id, "up", Duration::from_secs(10))
            .await
            .is_some(),
        "{}",
        endpoint(&app, id).await
    );
    let e = endpoint(&app, id).await;
    assert_eq!(e["kind"], "tcp");
    assert_eq!(e["url"], relay.url());
    assert!(e["version"].as_str().is_some_and(|v| !v.is_empty()));
    assert_eq!(e["os_type"], "linux");
    assert!(e["latency_ms"].as_u64().is_some());

    let c = run.container("up", true, &[], &[]);
    let vol = run.volume("vol", &[]);
    let net = run.network("net", &[]);
    let base = format!("/api/e/{id}");
    let seen = app
        .eventually(Duration::from_secs(15), || async {
            container_ids(&app, &format!("{base}/containers"))
                .await
                .contains(&c)
        })
        .await;
    assert!(
        seen.is_some(),
        "the relay endpoint's mirror sees the container"
    );
    assert!(relay.forwarded() > 0, "requests went through the relay");
    let info = app.json(&format!("{base}/info")).await;
    assert_eq!(info["os_type"], "linux");
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            find(&app.json(&format!("{base}/volumes")).await, "name", &vol).is_some()
                && find(&app.json(&format!("{base}/networks")).await, "id", &net).is_some()
        })
        .await
        .is_some()
    );
    let images = app.json(&format!("{base}/images")).await;
    assert!(images.as_array().unwrap().iter().any(|i| {
        i["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == crate::support::TEST_IMAGE)
    }));
    let inspect = app.json(&format!("{base}/containers/{c}")).await;
    assert_eq!(inspect["Id"], c.as_str());

    // The five dashboards, scoped: they show the objects and keep their links on the endpoint.
    for (page, needle) in [
        ("/", "linux".to_string()),
        ("/containers", run.name("up")),
        ("/images", crate::support::TEST_IMAGE.to_string()),
        ("/networks", run.name("net")),
        ("/volumes", run.name("vol")),
    ] {
        let path = format!("/e/{id}{page}");
        let r = app.get(&path).await;
        assert_eq!(r.status(), 200, "{path}");
        let text = r.text().await.unwrap();
        assert!(text.contains(&needle), "{path} shows {needle}");
        assert!(
            text.contains(&format!("href=\"/e/{id}/containers\"")),
            "{path}: nav stays on the endpoint"
        );
        assert!(text.contains(&relay.url()), "{path}: names the endpoint");
    }
}

#[tokio::test]
async fn an_mtls_endpoint_works_end_to_end_and_keeps_its_secrets() {
    let logs = captured_logs();

    let run = Run::new();
    let ca = Ca::new("engine CA");
    let client = ca.client("berth");
    let relay = Relay::tls(&TlsSide {
        server: ca.server(&["127.0.0.1", "localhost"], false),
        client_ca: Some(ca.pem.clone()),
    })
    .await;
    let app = spawn_logged_in().await;
    let id = add(
        &app,
        json!({"name": run.name("mtls"), "url": relay.url(),
               "tls": {"ca": ca.pem, "cert": client.cert, "key": client.key}, "tls_verify": true}),
    )
    .await;
    assert!(
        wait_status(&app, id, "up", Duration::from_secs(10))
            .await
            .is_some(),
        "{}",
        endpoint(&app, id).await
    );
    let e = endpoint(&app, id).await;
    assert_eq!(e["kind"], "tls");
    assert_eq!(e["has_client_cert"], true);

    // A live stream of the endpoint (SSE), then an action through the mTLS relay.
    let c = run.container("act", false, &[], &[]);
    assert!(
        app.eventually(Duration::from_secs(15), || async {
            container_ids(&app, &format!("/api/e/{id}/containers"))
                .await
                .contains(&c)
        })
        .await
        .is_some()
    );
    let mut live = app
        .client
        .get(app.at(&format!("/e/{id}/live")))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let r = app
        .client
        .post(app.at(&format!("/api/e/{id}/containers/{c}/start")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let mut got = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !got.contains("event: containers") && Instant::now() < deadline {
        if let Ok(Ok(Some(chunk))) =
            tokio::time::timeout(Duration::from_secs(1), live.chunk()).await
        {
            got.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    assert!(got.contains("event: containers"), "live stream: {got:?}");
    let list = app.json(&format!("/api/e/{id}/containers")).await;
    assert_eq!(find(&list, "id", &c).unwrap()["state"], "running");
    let inspect = app.json(&format!("/api/e/{id}/containers/{c}")).await;
    assert_eq!(inspect["State"]["Running"], true);
    assert!(relay.forwarded() > 0);

    // The key never comes back: not in the API, not on pages, not in the log.
    let key_line = client
        .key
        .lines()
        .find(|l| !l.starts_with("-----"))
        .unwrap()
        .to_string();
    let mut seen = Vec::new();
    for p in [
        "/api/endpoints".to_string(),
        format!("/api/endpoints/{id}"),
        "/endpoints".to_string(),
        format!("/endpoints/{id}/edit"),
        format!("/e/{id}/containers"),
    ] {
        let text = app.get(&p).await.text().await.unwrap();
        seen.push(text);
    }
    drop(live);
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(logged.contains("endpoint added"), "logs were captured");
    for (i, text) in seen.iter().chain(std::iter::once(&logged)).enumerate() {
        assert!(!text.contains(&key_line), "key material in output #{i}");
        assert!(!text.contains("PRIVATE KEY"), "key material in output #{i}");
    }
}

/// Everything logged in this test binary from the first call on (debug level, every crate),
/// for tests that look for what must (not) be logged.
pub fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        logs
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tls_failures_are_named_precisely_on_the_endpoint_page() {
    let run = Run::new();
    let ca = Ca::new("engine CA");
    let other = Ca::new("another CA");
    let good_server = || ca.server(&["127.0.0.1", "localhost"], false);
    let client = ca.client("berth");
    let foreign_client = other.client("berth");
    let app = spawn_logged_in().await;

    let wrong_ca = Relay::tls(&TlsSide {
        server: good_server(),
        client_ca: Some(ca.pem.clone()),
    })
    .await;
    let expired = Relay::tls(&TlsSide {
        server: ca.server(&["127.0.0.1"], true),
        client_ca: Some(ca.pem.clone()),
    })
    .await;
    let demanding = Relay::tls(&TlsSide {
        server: good_server(),
        client_ca: Some(ca.pem.clone()),
    })
    .await;
    let misnamed = Relay::tls(&TlsSide {
        server: ca.server(&["engine.example", "10.9.8.7"], false),
        client_ca: None,
    })
    .await;
    let (silent, _s) = fake_engine(None).await;
    let (not_docker, _n) = fake_engine(Some(
        "HTTP/1.0 404 Not Found\r\nContent-Length: 9\r\n\r\nnot here\n",
    ))
    .await;

    let cases: Vec<(&str, Value, &'static [&'static str])> = vec![
        (
            "wrongca",
            json!({"url": wrong_ca.url(), "tls": {"ca": other.pem, "cert": client.cert, "key": client.key}}),
            &["TLS handshake failed", "unknown CA"],
        ),
        (
            "expired",
            json!({"url": expired.url(), "tls": {"ca": ca.pem, "cert": client.cert, "key": client.key}}),
            &["TLS handshake failed", "expired on 2020-01-01"],
        ),
        (
            "nocert",
            json!({"url": demanding.url(), "tls": {"ca": ca.pem}}),
            &["client certificate refused", "none is configured"],
        ),
        (
            "foreign",
            json!({"url": demanding.url(), "tls": {"ca": ca.pem, "cert": foreign_client.cert, "key": foreign_client.key}}),
            &["client certificate refused"],
        ),
        (
            "misnamed",
            json!({"url": misnamed.url(), "tls": {"ca": ca.pem}}),
            &[
                "name mismatch",
                "engine.example",
                "10.9.8.7",
                "not for 127.0.0.1",
            ],
        ),
        (
            "refused",
            json!({"url": format!("tcp://127.0.0.1:{}", closed_port())}),
            &["connection refused"],
        ),
        (
            "http",
            json!({"url": format!("tcp://{not_docker}")}),
            &["HTTP error", "404"],
        ),
        (
            "plain-to-tls",
            json!({"url": demanding.url()}),
            &["HTTP error", "TLS"],
        ),
    ];
    let mut ids = Vec::new();
    for (name, body, _) in &cases {
        let mut body = body.clone();
        body["name"] = json!(run.name(name));
        ids.push(add(&app, body).await);
    }
    for ((name, _, want), id) in cases.iter().zip(&ids) {
        let ok = app
            .eventually(Duration::from_secs(12), || async {
                let e = endpoint(&app, *id).await;
                let err = e["error"].as_str().unwrap_or_default().to_string();
                e["status"] == "down" && want.iter().all(|w| err.contains(w))
            })
            .await;
        assert!(ok.is_some(), "{name}: {}", endpoint(&app, *id).await);
    }
    let page = app.get("/endpoints").await.text().await.unwrap();
    for (name, _, want) in &cases {
        for w in want.iter() {
            assert!(page.contains(w), "/endpoints page names `{w}` ({name})");
        }
    }

    // The endpoint's own pages carry the same reason in their banner.
    let banner = app
        .get(&format!("/e/{}/containers", ids[0]))
        .await
        .text()
        .await
        .unwrap();
    assert!(banner.contains("is not reachable") && banner.contains("unknown CA"));

    // "Test connection" says the same before anything is saved; a timeout is named too.
    let t: Value = app
        .client
        .post(app.at("/api/endpoints/test"))
        .json(&json!({"name": "t", "url": wrong_ca.url(), "tls": {"ca": other.pem, "cert": client.cert, "key": client.key}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["ok"], false);
    assert!(t["error"].as_str().unwrap().contains("unknown CA"), "{t}");
    let t: Value = app
        .client
        .post(app.at("/api/endpoints/test"))
        .json(&json!({"name": "t", "url": format!("tcp://{silent}")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(t["error"].as_str().unwrap().contains("timeout"), "{t}");
    let t: Value = app
        .client
        .post(app.at("/api/endpoints/test"))
        .json(&json!({"name": "t", "url": demanding.url(), "tls": {"ca": ca.pem, "cert": client.cert, "key": client.key}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["ok"], true, "{t}");
    assert_eq!(t["os_type"], "linux");
}

#[tokio::test]
async fn two_endpoints_switch_and_an_outage_stays_on_its_endpoint() {
    let run = Run::new();
    let mut relay = Relay::tcp().await;
    let app = spawn_logged_in().await;
    let id = add(&app, json!({"name": run.name("relay"), "url": relay.url()})).await;
    assert!(
        wait_status(&app, id, "up", Duration::from_secs(10))
            .await
            .is_some()
    );
    let before = run.container("before", false, &[], &[]);
    for path in [
        "/api/e/1/containers".to_string(),
        format!("/api/e/{id}/containers"),
    ] {
        let ok = app
            .eventually(Duration::from_secs(15), || async {
                container_ids(&app, &path).await.contains(&before)
            })
            .await;
        assert!(ok.is_some(), "{path}");
    }

    // Switching: unscoped pages follow the session's endpoint.
    assert!(
        app.get("/containers")
            .await
            .text()
            .await
            .unwrap()
            .contains("unix:///var/run/docker.sock")
    );
    let r = app
        .client
        .post(app.at(&format!("/api/endpoints/{id}/switch")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let page = app.get("/containers").await.text().await.unwrap();
    assert!(
        page.contains(&relay.url()),
        "the switched-to endpoint is shown"
    );

    // The relay goes away: its health turns red quickly, the socket endpoint keeps working.
    relay.stop();
    let red = wait_status(&app, id, "down", Duration::from_secs(10)).await;
    assert!(
        red.is_some(),
        "health red within 10 s: {}",
        endpoint(&app, id).await
    );
    println!("relay endpoint red after {:?}", red.unwrap());
    assert!(
        endpoint(&app, id).await["error"]
            .as_str()
            .unwrap()
            .contains("refused")
    );
    assert_eq!(endpoint(&app, 1).await["status"], "up");
    let during = run.container("during", false, &[], &[]);
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            container_ids(&app, "/api/e/1/containers")
                .await
                .contains(&during)
        })
        .await
        .is_some(),
        "the other endpoint keeps working"
    );
    // Each mirror holds its own objects: the relay's has not seen the new container.
    assert!(
        !container_ids(&app, &format!("/api/e/{id}/containers"))
            .await
            .contains(&during)
    );
    let page = app.get("/containers").await.text().await.unwrap();
    assert!(page.contains("is not reachable") && page.contains(&relay.url()));
    let other = app.get("/e/1/containers").await.text().await.unwrap();
    assert!(!other.contains("is not reachable"));

    // It returns: health and mirror recover.
    relay.resume().await;
    assert!(
        wait_status(&app, id, "up", Duration::from_secs(10))
            .await
            .is_some()
    );
    assert!(
        app.eventually(Duration::from_secs(30), || async {
            container_ids(&app, &format!("/api/e/{id}/containers"))
                .await
                .contains(&during)
        })
        .await
        .is_some(),
        "the relay endpoint's mirror catches up"
    );
}

#[tokio::test]
async fn certificates_live_on_disk_owner_only_rotate_and_go_with_the_endpoint() {
    let run = Run::new();
    let ca = Ca::new("engine CA");
    let client = ca.client("berth");
    let relay = Relay::tls(&TlsSide {
        server: ca.server(&["127.0.0.1"], false),
        client_ca: Some(ca.pem.clone()),
    })
    .await;
    let app = spawn_logged_in().await;
    let id = add(
        &app,
        json!({"name": run.name("rot"), "url": relay.url(),
               "tls": {"ca": ca.pem, "cert": client.cert, "key": client.key}}),
    )
    .await;
    let dir = app.data.join("certs").join(id.to_string());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("key.pem")).unwrap(),
        client.key.trim()
    );
    assert!(
        wait_status(&app, id, "up", Duration::from_secs(10))
            .await
            .is_some()
    );

    // Rotation: a new client certificate and key, same endpoint.
    let rotated = ca.client("berth-2");
    let r = app
        .client
        .put(app.at(&format!("/api/endpoints/{id}")))
        .json(&json!({"name": run.name("rot"), "url": relay.url(),
                      "tls": {"cert": rotated.cert, "key": rotated.key}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(
        std::fs::read_to_string(dir.join("key.pem")).unwrap(),
        rotated.key.trim()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("ca.pem")).unwrap(),
        ca.pem.trim(),
        "CA kept"
    );
    let e = endpoint(&app, id).await;
    assert_eq!(e["has_client_cert"], true);
    assert!(
        wait_status(&app, id, "up", Duration::from_secs(10))
            .await
            .is_some()
    );

    // Skip verification needs no CA (client certificate still presented).
    let skip = add(
        &app,
        json!({"name": run.name("skip"), "url": relay.url(), "tls_verify": false,
               "tls": {"cert": client.cert, "key": client.key}}),
    )
    .await;
    assert!(
        wait_status(&app, skip, "up", Duration::from_secs(10))
            .await
            .is_some()
    );
    assert!(
        !app.data
            .join("certs")
            .join(skip.to_string())
            .join("ca.pem")
            .exists()
    );

    // Bad input: a clear error on the right field, nothing stored.
    let bad = |body: Value| {
        let app = &app;
        async move {
            let r = app
                .client
                .post(app.at("/api/endpoints"))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    for (body, status, field) in [
        (
            json!({"name": run.name("x1"), "url": "tcp://10.0.0.1"}),
            422,
            "url",
        ),
        (
            json!({"name": run.name("x2"), "url": "ftp://10.0.0.1:21"}),
            422,
            "url",
        ),
        (
            json!({"name": "", "url": "tcp://10.0.0.1:2375"}),
            422,
            "name",
        ),
        (
            json!({"name": run.name("x3"), "url": "tcp://10.0.0.1:2376", "tls": {"ca": "not a pem"}}),
            422,
            "ca",
        ),
        (
            json!({"name": run.name("x4"), "url": "tcp://10.0.0.1:2376", "tls": {}}),
            422,
            "ca",
        ),
        (
            json!({"name": run.name("x5"), "url": "tcp://10.0.0.1:2376", "tls": {"ca": ca.pem, "cert": client.cert}}),
            422,
            "key",
        ),
        (
            json!({"name": run.name("x6"), "url": "tcp://10.0.0.1:2376", "tls": {"ca": ca.pem, "cert": client.cert, "key": rotated.key}}),
            422,
            "key",
        ),
        (
            json!({"name": run.name("x7"), "url": "unix:///var/run/docker.sock", "tls": {"ca": ca.pem}}),
            422,
            "url",
        ),
        (
            json!({"name": run.name("rot"), "url": "tcp://10.0.0.1:2375"}),
            409,
            "name",
        ),
    ] {
        let (s, j) = bad(body.clone()).await;
        assert_eq!(s, status, "{body}: {j}");
        assert_eq!(j["field"], field, "{body}: {j}");
    }
    let names: Vec<String> = app
        .json("/api/endpoints")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(&run.name("x"))),
        "{names:?}"
    );

    // The flags' endpoint is listed first and cannot be removed.
    let list = app.json("/api/endpoints").await;
    assert_eq!(list[0]["id"], 1);
    assert_eq!(list[0]["from_flags"], true);
    let r = app
        .client
        .delete(app.at("/api/endpoints/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Removal takes the certificates with it.
    let r = app
        .client
        .delete(app.at(&format!("/api/endpoints/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(!dir.exists());
    assert_eq!(
        app.get(&format!("/api/e/{id}/containers")).await.status(),
        404
    );
    let r = app
        .client
        .delete(app.at(&format!("/api/endpoints/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn endpoints_survive_a_restart_and_idle_mirrors_stop() {
    let run = Run::new();
    let relay = Relay::tcp().await;
    let data = tempfile::tempdir().unwrap();
    let app = spawn(Opts {
        data: Some(data.path()),
        args: vec!["--endpoint-idle".into(), "1s".into()],
        ..Default::default()
    })
    .await;
    app.login("admin", ADMIN_PASSWORD).await;
    let id = add(&app, json!({"name": run.name("lazy"), "url": relay.url()})).await;
    assert!(
        wait_status(&app, id, "up", Duration::from_secs(10))
            .await
            .is_some()
    );
    assert_eq!(
        endpoint(&app, id).await["mirror_running"],
        false,
        "started lazily"
    );
    app.get(&format!("/api/e/{id}/containers")).await;
    assert_eq!(endpoint(&app, id).await["mirror_running"], true);
    let stopped = app
        .eventually(Duration::from_secs(10), || async {
            endpoint(&app, id).await["mirror_running"] == false
        })
        .await;
    assert!(stopped.is_some(), "an unused mirror stops");
    assert_eq!(
        endpoint(&app, 1).await["mirror_running"],
        true,
        "the flags' one always runs"
    );
    app.stop().await;

    let app = spawn(Opts {
        data: Some(data.path()),
        ..Default::default()
    })
    .await;
    app.login("admin", ADMIN_PASSWORD).await;
    let e = endpoint(&app, id).await;
    assert_eq!(e["name"], run.name("lazy"));
    assert!(
        wait_status(&app, id, "up", Duration::from_secs(10))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn the_ui_over_https_logs_in_with_a_secure_cookie() {
    let logs = captured_logs();
    let app = spawn(Opts {
        https: true,
        ..Default::default()
    })
    .await;
    let ca = std::fs::read(app.data.join("tls/ca.pem")).expect("generated CA");
    let key = std::fs::metadata(app.data.join("tls/key.pem")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let https = app.https_url.clone().unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let base = https.replace("127.0.0.1", host);
        let r = client
            .post(format!("{base}/login"))
            .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("{base}: {e:?}"));
        assert_eq!(r.status(), 303);
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(cookie.contains("; Secure"), "{cookie}");
        let r = client.get(format!("{base}/api/info")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    // Plain HTTP stays, without Secure.
    let r = app
        .post_form(
            "/login",
            &[("username", "admin"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(!cookie.contains("Secure"), "{cookie}");
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    let cert = std::fs::read(app.data.join("tls/cert.pem")).unwrap();
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(&cert)
        .map(|c: rustls::pki_types::CertificateDer| c.to_vec())
        .unwrap();
    assert!(
        logged.contains(&berth::https::fingerprint(&der)),
        "fingerprint logged: {logged}"
    );
    // The same certificate is kept for the next start.
    let (data, tmp) = app.stop().await;
    let before = std::fs::read(data.join("tls/cert.pem")).unwrap();
    let again = spawn(Opts {
        https: true,
        data: Some(&data),
        ..Default::default()
    })
    .await;
    assert_eq!(std::fs::read(data.join("tls/cert.pem")).unwrap(), before);
    again.stop().await;
    drop(tmp);
}

#[tokio::test]
async fn the_endpoints_page_adds_tests_switches_edits_and_removes() {
    let run = Run::new();
    let relay = Relay::tcp().await;
    let app = spawn_logged_in().await;
    let page = app.get("/endpoints").await.text().await.unwrap();
    assert!(page.contains("configured by flags") && page.contains("unix:///var/run/docker.sock"));
    assert!(page.contains("unauthenticated"), "TCP warning on the form");

    // Skipping verification needs the explicit opt-in; the pasted key is not shown back.
    let secret = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRETSECRET";
    let name = run.name("form");
    let r = app
        .post_form(
            "/endpoints",
            &[
                ("name", &name),
                ("kind", "tls"),
                ("url", "tcp://127.0.0.1:2376"),
                ("verify", "skip"),
                ("key", secret),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(text.contains("tick the box"), "opt-in asked for");
    assert!(!text.contains(secret), "PEM text is not echoed");
    let r = app
        .post_form(
            "/endpoints",
            &[
                ("name", &name),
                ("kind", "socket"),
                ("url", "tcp://127.0.0.1:2375"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);

    // Test connection answers a fragment with the reason.
    let closed = format!("tcp://127.0.0.1:{}", closed_port());
    let r = app
        .post_form(
            "/endpoints/test",
            &[("name", &name), ("kind", "tcp"), ("url", &closed)],
        )
        .await;
    assert!(r.text().await.unwrap().contains("connection refused"));
    let r = app
        .post_form(
            "/endpoints/test",
            &[("name", &name), ("kind", "tcp"), ("url", &relay.url())],
        )
        .await;
    assert!(r.text().await.unwrap().contains("Connected: Docker"));

    // Save, switch from the nav, edit, remove.
    let r = app
        .post_form(
            "/endpoints",
            &[("name", &name), ("kind", "tcp"), ("url", &relay.url())],
        )
        .await;
    assert_eq!(r.status(), 303);
    let list = app.json("/api/endpoints").await;
    let id = find(&list, "name", &name).expect("saved")["id"]
        .as_i64()
        .unwrap();
    let home = app.get("/").await.text().await.unwrap();
    assert!(
        home.contains(&format!("action=\"/endpoints/{id}/switch\"")),
        "switch control in the nav"
    );
    let r = app.post_form(&format!("/endpoints/{id}/switch"), &[]).await;
    assert_eq!(r.status(), 303);
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains(&relay.url()));
    let edit = app.get(&format!("/endpoints/{id}/edit")).await;
    assert_eq!(edit.status(), 200);
    assert!(edit.text().await.unwrap().contains(&name));
    assert_eq!(app.get("/endpoints/1/edit").await.status(), 403);
    let renamed = run.name("renamed");
    let r = app
        .post_form(
            &format!("/endpoints/{id}"),
            &[("name", &renamed), ("kind", "tcp"), ("url", &relay.url())],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(find(&app.json("/api/endpoints").await, "name", &renamed).is_some());
    let r = app.post_form(&format!("/endpoints/{id}/delete"), &[]).await;
    assert_eq!(r.status(), 303);
    assert!(find(&app.json("/api/endpoints").await, "name", &renamed).is_none());
    // The session's endpoint is gone: unscoped pages mean the first one again.
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains("unix:///var/run/docker.sock"));
}

#[tokio::test]
async fn the_ui_over_https_uses_a_given_certificate() {
    let ca = Ca::new("site CA");
    let leaf = ca.server(&["localhost", "127.0.0.1"], false);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("site.crt"), dir.path().join("site.key"));
    std::fs::write(&cert, &leaf.cert).unwrap();
    std::fs::write(&key, &leaf.key).unwrap();
    let app = spawn(Opts {
        https: true,
        args: vec![
            "--ssl-cert".into(),
            cert.display().to_string(),
            "--ssl-key".into(),
            key.display().to_string(),
        ],
        ..Default::default()
    })
    .await;
    assert!(!app.data.join("tls/cert.pem").exists(), "nothing generated");
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/login", app.https_url.clone().unwrap()))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
}

#[tokio::test]
async fn the_flags_endpoint_speaks_mutual_tls_from_cert_path() {
    let ca = Ca::new("engine CA");
    let client = ca.client("berth");
    let relay = Relay::tls(&TlsSide {
        server: ca.server(&["127.0.0.1"], false),
        client_ca: Some(ca.pem.clone()),
    })
    .await;
    let certs = tempfile::tempdir().unwrap();
    std::fs::write(certs.path().join("ca.pem"), &ca.pem).unwrap();
    std::fs::write(certs.path().join("cert.pem"), &client.cert).unwrap();
    std::fs::write(certs.path().join("key.pem"), &client.key).unwrap();
    let app = spawn(Opts {
        args: vec![
            "-H".into(),
            relay.url(),
            "--tlsverify".into(),
            "--cert-path".into(),
            certs.path().display().to_string(),
        ],
        ..Default::default()
    })
    .await;
    app.login("admin", ADMIN_PASSWORD).await;
    app.wait_synced().await;
    let e = endpoint(&app, 1).await;
    assert_eq!(e["kind"], "tls");
    assert_eq!(e["from_flags"], true);
    assert!(app.json("/api/containers").await.is_array());
    assert!(relay.forwarded() > 0);

    // Missing files: the endpoint is listed, down, with the reason.
    let app = spawn(Opts {
        args: vec![
            "-H".into(),
            relay.url(),
            "--tlsverify".into(),
            "--cert-path".into(),
            "/nonexistent-berth-certs".into(),
        ],
        ..Default::default()
    })
    .await;
    app.login("admin", ADMIN_PASSWORD).await;
    assert!(
        wait_status(&app, 1, "down", Duration::from_secs(5))
            .await
            .is_some()
    );
    let e = endpoint(&app, 1).await;
    assert!(
        e["error"].as_str().unwrap().contains("cannot be read"),
        "{e}"
    );
}
