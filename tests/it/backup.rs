//! Backup and restore: a backup taken while 20 clients write settings restores every setting
//! acknowledged before it was asked for; the old admin logs in on the new Berth, its mTLS
//! endpoint works there (the engine, through a relay that demands the client certificate, is
//! the judge), the audit goes on; bad files, wrong passphrases, oversized uploads and a Berth
//! that has users are refused and change nothing; `berth restore` does the same from the
//! command line.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::relay::{Ca, Relay, TlsSide};
use crate::support::{ADMIN_PASSWORD, Opts, Run, TestApp, client, spawn, spawn_logged_in};

const PASSPHRASE: &str = "correct horse battery staple";

async fn backup(app: &TestApp, passphrase: &str) -> reqwest::Response {
    app.client
        .post(app.at("/api/backup"))
        .json(&json!({ "passphrase": passphrase }))
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap()
}

async fn backup_bytes(app: &TestApp) -> Vec<u8> {
    let r = backup(app, PASSPHRASE).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cd.starts_with("attachment; filename=\"berth-backup-20") && cd.ends_with("Z.age\""),
        "{cd}"
    );
    let bytes = r.bytes().await.unwrap().to_vec();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"), "an age file");
    bytes
}

async fn restore(app: &TestApp, file: Vec<u8>, passphrase: &str) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(file).file_name("b.age"),
        )
        .text("passphrase", passphrase.to_string());
    client()
        .post(app.at("/api/restore"))
        .multipart(form)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap()
}

async fn error_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A fresh Berth has no user: its setup page is open.
async fn is_fresh(app: &TestApp) -> bool {
    app.server
        .as_ref()
        .unwrap()
        .state
        .store
        .user_count()
        .await
        .unwrap()
        == 0
        && client()
            .get(app.at("/setup"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
}

#[tokio::test]
async fn a_backup_under_20_writers_restores_every_committed_setting_the_admin_and_an_mtls_endpoint()
{
    let run = Run::new();
    let app = spawn_logged_in().await;
    // An endpoint behind a relay that demands a client certificate, and a container on it.
    let ca = Ca::new("engine CA");
    let cert = ca.client("berth");
    let relay = Relay::tls(&TlsSide {
        server: ca.server(&["127.0.0.1", "localhost"], false),
        client_ca: Some(ca.pem.clone()),
    })
    .await;
    let r = app
        .client
        .post(app.at("/api/endpoints"))
        .json(&json!({"name": run.name("remote"), "url": relay.url(),
                      "tls": {"ca": ca.pem, "cert": cert.cert, "key": cert.key}, "tls_verify": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let container = run.container("kept", false, &[], &[]);

    // 20 writers, each recording when each write was acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..20 {
        let (c, url, stop) = (app.client.clone(), app.url.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut acked: Vec<(String, Instant)> = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("load.w{w}.n{n}");
                let r = c
                    .put(format!("{url}/api/settings/{key}"))
                    .json(&json!({ "value": format!("value {w} {n}") }))
                    .send()
                    .await;
                if let Ok(r) = r
                    && r.status().is_success()
                {
                    acked.push((key, Instant::now()));
                }
                n += 1;
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let asked = Instant::now();
    let file = backup_bytes(&app).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut committed = Vec::new();
    let mut later = 0;
    for w in writers {
        for (key, at) in w.await.unwrap() {
            if at < asked {
                committed.push(key);
            } else {
                later += 1;
            }
        }
    }
    assert!(
        committed.len() >= 20,
        "writers barely wrote: {}",
        committed.len()
    );
    assert!(later > 0, "no write went on during the backup");

    // A fresh Berth (no admin) restores it.
    let fresh = spawn(Opts {
        no_admin: true,
        ..Default::default()
    })
    .await;
    assert!(is_fresh(&fresh).await);
    let page = client()
        .get(fresh.at("/setup"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("action=\"/setup/restore\""),
        "setup offers the restore"
    );
    let r = restore(&fresh, file, PASSPHRASE).await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    // Restored: setup is closed, the old admin logs in.
    assert_eq!(
        fresh
            .server
            .as_ref()
            .unwrap()
            .state
            .store
            .user_count()
            .await
            .unwrap(),
        1
    );
    fresh.login("admin", ADMIN_PASSWORD).await;
    let settings: Value = fresh.json("/api/settings").await;
    let missing: Vec<&String> = committed
        .iter()
        .filter(|k| settings.get(k.as_str()).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} committed settings missing after the restore, e.g. {:?}",
        missing.len(),
        committed.len(),
        &missing[..missing.len().min(5)]
    );
    // The endpoint works with its restored certificates: the engine's container is listed.
    let eps: Value = fresh.json("/api/endpoints").await;
    let ep = eps
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == run.name("remote"))
        .unwrap_or_else(|| panic!("endpoint restored: {eps}"))
        .clone();
    assert_eq!(ep["kind"], "tls");
    let id = ep["id"].as_i64().unwrap();
    let seen = fresh
        .eventually(Duration::from_secs(20), || async {
            let r = fresh.get(&format!("/api/e/{id}/containers")).await;
            r.status() == 200 && r.text().await.unwrap_or_default().contains(&container)
        })
        .await;
    assert!(
        seen.is_some(),
        "the container of the restored mTLS endpoint is listed"
    );
    assert!(relay.forwarded() > 0);
    // The audit goes on: the old rows, then the restore.
    // (The backup's own row is written once the archive is made, so it is not in it.)
    for (action, n) in [
        ("endpoint.create", 1),
        ("backup.create", 0),
        ("backup.restore", 1),
    ] {
        let rows: Value = fresh.json(&format!("/api/audit?action={action}")).await;
        assert_eq!(rows.as_array().unwrap().len(), n, "{action}: {rows}");
    }
    // A second restore is refused: this Berth has users now.
    let r = restore(&fresh, vec![1, 2, 3], PASSPHRASE).await;
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn bad_restores_are_refused_and_change_nothing() {
    let app = spawn_logged_in().await;
    let r = app
        .client
        .put(app.at("/api/settings/ui.marker"))
        .json(&json!({"value": "restored"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, body) = error_of(backup(&app, "short").await).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("passphrase")));
    let file = backup_bytes(&app).await;

    // Restoring into a Berth that has users.
    let (status, body) = error_of(restore(&app, file.clone(), PASSPHRASE).await).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("fresh Berth"),
        "{body}"
    );

    let fresh = spawn(Opts {
        no_admin: true,
        ..Default::default()
    })
    .await;
    // Wrong passphrase.
    let (status, body) = error_of(restore(&fresh, file.clone(), "not the passphrase").await).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("passphrase")),
        "{body}"
    );
    assert!(is_fresh(&fresh).await);
    // Damaged: a flipped byte in the payload, cut short, not an age file, empty.
    let mut flipped = file.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    let cut = file[..file.len() - 100].to_vec();
    for (what, bytes) in [
        ("flipped", flipped),
        ("cut", cut),
        ("text", b"hello, this is not a backup".to_vec()),
    ] {
        let (status, body) = error_of(restore(&fresh, bytes, PASSPHRASE).await).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some("file")),
            "{what}: {body}"
        );
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("not a Berth backup"),
            "{what}: {body}"
        );
        assert!(is_fresh(&fresh).await, "{what} changed the fresh Berth");
    }
    let (status, body) = error_of(restore(&fresh, Vec::new(), PASSPHRASE).await).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("file")),
        "{body}"
    );
    let (status, body) = error_of(restore(&fresh, file.clone(), "").await).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("passphrase")),
        "{body}"
    );
    // No staged file is left in the data folder.
    let left: Vec<String> = std::fs::read_dir(&fresh.data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // Over the limit.
    let small = spawn(Opts {
        no_admin: true,
        args: vec!["--restore-limit".into(), "4K".into()],
        ..Default::default()
    })
    .await;
    let (status, body) = error_of(restore(&small, file.clone(), PASSPHRASE).await).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");
    assert!(is_fresh(&small).await);

    // After all that, the good file still restores.
    let r = restore(&fresh, file, PASSPHRASE).await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    fresh.login("admin", ADMIN_PASSWORD).await;
    let v: Value = fresh.json("/api/settings/ui.marker").await;
    assert_eq!(v["value"], "restored");
    // Every failed attempt is in the audit, after the restored rows.
    let audit: Value = fresh
        .json("/api/audit?action=backup.restore&limit=100")
        .await;
    let outcomes: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes.first(), Some(&"ok"), "{outcomes:?}");
    assert!(
        outcomes.iter().filter(|o| o.starts_with("failed")).count() >= 4,
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn berth_restore_on_the_command_line_fills_a_fresh_data_folder() {
    let app = spawn_logged_in().await;
    let r = app
        .client
        .put(app.at("/api/settings/ui.cli"))
        .json(&json!({"value": "from the command line"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let file = backup_bytes(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let backup_file = dir.path().join("b.age");
    std::fs::write(&backup_file, &file).unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, format!("{PASSPHRASE}\n")).unwrap();
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not the passphrase\n").unwrap();
    let data = dir.path().join("data");
    let berth = |pass: &std::path::Path, data: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["--data"])
            .arg(data)
            .args(["restore"])
            .arg(&backup_file)
            .arg("--passphrase-file")
            .arg(pass)
            .env_remove("BERTH_BACKUP_PASSPHRASE")
            .output()
            .unwrap()
    };
    let out = berth(&wrong, &data);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("passphrase does not open"), "{err}");
    let out = berth(&pass, &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 users"));
    // Again on the same folder: it has users now.
    let out = berth(&pass, &data);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("fresh Berth"));
    // Berth on that folder: the old admin logs in, the setting is there.
    let restored = spawn(Opts {
        data: Some(&data),
        no_admin: true,
        ..Default::default()
    })
    .await;
    restored.login("admin", ADMIN_PASSWORD).await;
    let v: Value = restored.json("/api/settings/ui.cli").await;
    assert_eq!(v["value"], "from the command line");
}
