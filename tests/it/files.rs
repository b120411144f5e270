//! A container's files through Berth: list (running or stopped), download as tar, upload (with
//! its size limit), normalised paths and clear errors for bad ones.

use serde_json::Value;

use crate::support::{ADMIN_PASSWORD, Opts, Run, TestApp, docker, spawn, spawn_logged_in};

async fn list(app: &TestApp, id: &str, path: &str) -> (u16, Value) {
    let r = app
        .client
        .get(app.at(&format!("/api/containers/{id}/files?path={}", enc(path))))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn enc(s: &str) -> String {
    berth::web::files::urlencode(s)
}

fn entry<'a>(l: &'a Value, name: &str) -> &'a Value {
    l["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {l}"))
}

async fn put(app: &TestApp, id: &str, dir: &str, name: &str, data: Vec<u8>) -> (u16, Value) {
    let r = app
        .client
        .put(app.at(&format!(
            "/api/containers/{id}/files?path={}&name={}",
            enc(dir),
            enc(name)
        )))
        .body(data)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn multipart(name: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "berthBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn list_a_stopped_and_a_running_container() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let stopped = run.container("fs-stopped", false, &[], &[]);
    let (s, l) = list(&app, &stopped, "/").await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["path"], "/");
    assert_eq!(entry(&l, "bin")["kind"], "dir");
    assert_eq!(entry(&l, "etc")["kind"], "dir");
    assert!(l["capped"].is_null());
    // Only the first level.
    assert!(
        l["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["name"].as_str().unwrap().contains('/'))
    );

    let running = run.container(
        "fs-up",
        true,
        &[],
        &["sh", "-c", "printf hello-berth > /tmp/known.txt; chmod 640 /tmp/known.txt; ln -s /etc /etclink; sleep 300"],
    );
    let mut ok = false;
    for _ in 0..50 {
        let (_, l) = list(&app, &running, "/tmp").await;
        if l["entries"]
            .as_array()
            .is_some_and(|a| a.iter().any(|e| e["name"] == "known.txt"))
        {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ok, "the file the container wrote is listed");
    let (_, l) = list(&app, &running, "/tmp").await;
    let k = entry(&l, "known.txt");
    assert_eq!(k["kind"], "file");
    assert_eq!(k["size"], 11);
    assert_eq!(k["mode"], "rw-r-----");
    let (_, l) = list(&app, &running, "/bin").await;
    assert_eq!(entry(&l, "sh")["kind"], "symlink");
    assert_eq!(entry(&l, "sh")["link"], "busybox");
    // A link to a folder lists the folder; paths are normalised.
    let (s, l) = list(&app, &running, "/etclink").await;
    assert_eq!(s, 200);
    assert_eq!(l["path"], "/etc");
    entry(&l, "passwd");
    let (_, l) = list(&app, &running, "../../tmp/./").await;
    assert_eq!(l["path"], "/tmp");
    // A file: described, not listed.
    let (_, l) = list(&app, &running, "/etc/passwd").await;
    assert_eq!(l["file"]["kind"], "file");
    assert_eq!(l["file"]["name"], "passwd");

    // The page.
    let html = app
        .get(&format!("/containers/{running}/files?path=/tmp"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("known.txt") && html.contains("rw-r-----"));
    assert!(
        html.contains("multipart/form-data"),
        "upload form for admins"
    );
}

#[tokio::test]
async fn download_a_file_and_a_folder_as_tar() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container("fs-dl", false, &[], &[]);
    let r = app
        .get(&format!("/containers/{id}/files/download?path=/etc/passwd"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-tar");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("passwd.tar")
    );
    let tar = r.bytes().await.unwrap();
    assert_eq!(&tar[..6], b"passwd");
    assert!(tar.windows(10).any(|w| w == b"root:x:0:0"));
    let r = app
        .get(&format!("/api/containers/{id}/files/download?path=/etc"))
        .await;
    assert_eq!(r.status(), 200);
    let tar = r.bytes().await.unwrap();
    assert!(tar.windows(10).any(|w| w == b"etc/passwd"));
    // A regular file as itself.
    let r = app
        .get(&format!(
            "/containers/{id}/files/download?raw=true&path=/etc/passwd"
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("\"passwd\"")
    );
    let body = r.bytes().await.unwrap();
    assert!(
        body.starts_with(b"root:x:0:0:root:/root:/bin/sh\n"),
        "{body:?}"
    );
    assert!(
        body.ends_with(b"nobody:x:65534:65534:nobody:/:/bin/false\n"),
        "{body:?}"
    );
    let r = app
        .get(&format!(
            "/api/containers/{id}/files/download?raw=true&path=/etc"
        ))
        .await;
    assert_eq!(r.status(), 422, "a folder is not a raw file");
    // No such path: a clear error, not an empty tar.
    let r = app
        .get(&format!(
            "/api/containers/{id}/files/download?path=/no/such/thing"
        ))
        .await;
    assert_eq!(r.status(), 404);
    let j: Value = r.json().await.unwrap();
    assert!(
        j["error"].as_str().unwrap().contains("/no/such/thing"),
        "{j}"
    );
}

#[tokio::test]
async fn upload_into_a_folder_raw_and_multipart() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container("fs-up", true, &[], &[]);
    // 3 MiB: over the app-wide 2 MiB body limit, under the upload limit.
    let big = vec![b'b'; 3 << 20];
    let (s, j) = put(&app, &id, "/tmp/../tmp", "big.bin", big).await;
    assert_eq!(s, 201, "{j}");
    assert_eq!(j["path"], "/tmp/big.bin");
    assert_eq!(
        docker(&["exec", &id, "wc", "-c", "/tmp/big.bin"]),
        format!("{} /tmp/big.bin", 3 << 20)
    );

    let (ct, body) = multipart("hello.txt", b"hello from the form");
    let r = app
        .client
        .post(app.at(&format!("/containers/{id}/files/upload?path=/tmp")))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "back to the folder");
    assert_eq!(
        docker(&["exec", &id, "cat", "/tmp/hello.txt"]),
        "hello from the form"
    );
    // A name with a path in it keeps only the file name.
    let (s, j) = put(&app, &id, "/tmp", "../../etc/evil.txt", b"x".to_vec()).await;
    assert_eq!(s, 201, "{j}");
    assert_eq!(j["path"], "/tmp/evil.txt");

    // Into a folder that does not exist, or onto a read-only filesystem: the engine's reason.
    let (s, j) = put(&app, &id, "/no/such/dir", "a.txt", b"x".to_vec()).await;
    assert_eq!(s, 404, "{j}");
    assert!(j["error"].as_str().unwrap().contains("/no/such/dir"), "{j}");
    // Onto a file (the engine: 500 "extraction point is not a directory"): the path's fault, 422.
    let (s, j) = put(&app, &id, "/tmp/big.bin", "a.txt", b"x".to_vec()).await;
    assert_eq!(s, 422, "{j}");
    assert_eq!(j["field"], "path", "{j}");
    assert!(j["error"].as_str().unwrap().contains("/tmp/big.bin"), "{j}");
    let ro = run.container("fs-ro", true, &["--read-only"], &[]);
    let (s, j) = put(&app, &ro, "/etc", "a.txt", b"x".to_vec()).await;
    assert!(s >= 400, "{j}");
    assert!(j["error"].as_str().unwrap().contains("read-only"), "{j}");
    let (s, j) = put(&app, &id, "/tmp", "..", b"x".to_vec()).await;
    assert_eq!(s, 422, "{j}");
    assert_eq!(j["field"], "file");

    // Audited.
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
            .any(|a| a.action == "container.upload" && a.outcome == "ok")
    );
}

#[tokio::test]
async fn uploads_over_the_limit_get_a_clear_413() {
    let run = Run::new();
    let app = spawn(Opts {
        args: vec!["--upload-limit-mib".into(), "1".into()],
        ..Default::default()
    })
    .await;
    app.login("admin", ADMIN_PASSWORD).await;
    app.wait_synced().await;
    let id = run.container("fs-limit", true, &[], &[]);
    let (s, j) = put(&app, &id, "/tmp", "too-big.bin", vec![0u8; (1 << 20) + 1]).await;
    assert_eq!(s, 413, "{j}");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("upload limit of 1 MiB"),
        "{j}"
    );
    let (ct, body) = multipart("too-big.bin", &vec![0u8; 3 << 19]);
    let r = app
        .client
        .post(app.at(&format!("/api/containers/{id}/files/upload?path=/tmp")))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // A chunked body without a length is cut off at the limit too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![1u8; 100_000])).collect();
    let r = app
        .client
        .put(app.at(&format!(
            "/api/containers/{id}/files?path=/tmp&name=chunked.bin"
        )))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(
        docker(&["exec", &id, "ls", "/tmp"]).is_empty(),
        "nothing written"
    );
}

#[tokio::test]
async fn bad_paths_are_clear_errors() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container("fs-bad", false, &[], &[]);
    let (s, j) = list(&app, &id, "/no/such/dir").await;
    assert_eq!(s, 404, "{j}");
    assert!(j["error"].as_str().unwrap().contains("/no/such/dir"), "{j}");
    let r = app
        .get(&format!("/containers/{id}/files?path=/no/such/dir"))
        .await;
    assert_eq!(r.status(), 404);
    let html = r.text().await.unwrap();
    assert!(html.contains("/no/such/dir") && html.contains("parent folder"));
    let (s, _) = list(&app, "no-such-container-xyz", "/").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn a_huge_folder_is_listed_up_to_the_cap_and_says_so() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container(
        "fs-many",
        true,
        &[],
        &["sh", "-c", "mkdir /many && cd /many && i=0; while [ $i -lt 5100 ]; do : > f$i; i=$((i+1)); done; touch /many-done; sleep 300"],
    );
    let done = app
        .eventually(std::time::Duration::from_secs(30), || async {
            list(&app, &id, "/many-done").await.0 == 200
        })
        .await;
    assert!(done.is_some(), "the container made its files");
    let started = std::time::Instant::now();
    let (s, l) = list(&app, &id, "/many").await;
    let took = started.elapsed();
    assert_eq!(s, 200);
    assert_eq!(l["entries"].as_array().unwrap().len(), 5000);
    assert!(
        l["capped"].as_str().unwrap().contains("first 5000"),
        "{}",
        l["capped"]
    );
    eprintln!("listing 5000 of 5100 entries took {took:?}");
    let html = app
        .get(&format!("/containers/{id}/files?path=/many"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Only the first 5000 entries are listed"));
}
