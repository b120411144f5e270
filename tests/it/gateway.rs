//! The Docker API gateway, judged by the real docker CLI and docker-compose pointed at Berth
//! (`DOCKER_HOST=tcp://…/api/…/docker`, the token in `HttpHeaders` of the CLI's config), and
//! by the same CLI straight on the engine's socket as the oracle.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::relay::{Ca, Relay, TlsSide};
use crate::support::{Run, TEST_IMAGE, TestApp, client, docker, docker_quiet, spawn_logged_in};

const PASSWORD: &str = "gateway-password-long-enough";

/// A docker CLI that talks to Berth's gateway with a token.
struct Cli {
    host: String,
    config: tempfile::TempDir,
}

impl Cli {
    fn new(app: &TestApp, scope: &str, token: Option<&str>) -> Cli {
        let config = tempfile::tempdir().unwrap();
        let headers = match token {
            Some(t) => json!({"HttpHeaders": {"X-API-Key": t}}),
            None => json!({}),
        };
        std::fs::write(config.path().join("config.json"), headers.to_string()).unwrap();
        let host = format!("{}{scope}/docker", app.url.replace("http://", "tcp://"));
        Cli { host, config }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", self.config.path())
            .env("DOCKER_BUILDKIT", "0")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        c
    }

    /// Runs the CLI to its end. Berth serves from the same runtime: the wait is marked as
    /// blocking so that its workers go on answering the CLI.
    fn run_with(&self, program: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
        tokio::task::block_in_place(|| self.run_blocking(program, args, stdin))
    }

    fn run_blocking(&self, program: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = self.command(program);
        c.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("the CLI runs");
        if let Some(input) = stdin {
            let mut w = child.stdin.take().unwrap();
            w.write_all(input).unwrap();
            drop(w);
        }
        child.wait_with_output().unwrap()
    }

    /// Runs the CLI with `input` on its stdin and keeps stdin open until a line of its output
    /// holds `expect` (or 30 s pass): the engine ends an attach's output as soon as the
    /// attached stdin closes, so closing it at once would race the container's answer, with
    /// the docker CLI straight on the socket as much as through Berth. Gives all it printed.
    fn answers(&self, args: &[&str], input: &[u8], expect: &str) -> String {
        tokio::task::block_in_place(|| {
            let mut child = self
                .command("docker")
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the CLI runs");
            let pid = child.id();
            let (done, wait) = std::sync::mpsc::channel::<()>();
            let watchdog = std::thread::spawn(move || {
                let timeout = std::time::Duration::from_secs(30);
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(timeout)
                {
                    let _ = Command::new("kill").arg(pid.to_string()).status();
                }
            });
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(input).unwrap();
            let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
            let mut seen = String::new();
            loop {
                let mut line = String::new();
                match std::io::BufRead::read_line(&mut out, &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        seen.push_str(&line);
                        if line.contains(expect) {
                            break;
                        }
                    }
                }
            }
            drop(stdin);
            let status = child.wait().unwrap();
            drop(done);
            let _ = watchdog.join();
            assert!(
                status.success(),
                "docker {} through Berth failed",
                args.join(" ")
            );
            seen.trim().to_string()
        })
    }

    /// Runs the docker CLI through Berth; panics with its stderr when it fails.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_in(args, None)
    }

    fn ok_in(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.run_with("docker", args, stdin);
        assert!(
            out.status.success(),
            "docker {} through Berth: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs it expecting a refusal; returns what the CLI printed on stderr.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.run_with("docker", args, None);
        assert!(
            !out.status.success(),
            "docker {} through Berth should be refused: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    }
}

async fn token(c: &reqwest::Client, app: &TestApp, name: &str) -> (i64, String) {
    let r = c
        .post(app.at("/api/tokens"))
        .json(&json!({"name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    (
        v["id"].as_i64().unwrap(),
        v["token"].as_str().unwrap().to_string(),
    )
}

/// A user with `role`, logged in on a client of its own.
async fn user(app: &TestApp, name: &str, role: &str) -> reqwest::Client {
    let r = app
        .client
        .post(app.at("/api/users"))
        .json(&json!({"username": name, "password": PASSWORD, "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let c = client();
    let r = c
        .post(app.at("/login"))
        .form(&[("username", name), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    c
}

/// Brings a compose project down on the engine itself, also when the test fails.
struct ComposeDown(String);

impl Drop for ComposeDown {
    fn drop(&mut self) {
        let _ = Command::new("docker-compose")
            .args(["-p", &self.0, "down", "-v", "--remove-orphans"])
            .env("DOCKER_HOST", "unix:///var/run/docker.sock")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docker_cli_and_compose_work_through_the_gateway() {
    let run = Run::new();
    let label = run.label();
    let filter = format!("label={label}");
    let app = spawn_logged_in().await;
    let (_, tok) = token(&app.client, &app, "cli").await;
    let cli = Cli::new(&app, "/api", Some(&tok));

    // version, ps: as the engine says.
    assert_eq!(
        cli.ok(&[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}"
        ]),
        docker(&[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}"
        ])
    );
    let before = run.container("before", true, &[], &[]);
    assert_eq!(
        lines(&cli.ok(&[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &filter,
            "--format",
            "{{.ID}} {{.Names}} {{.Status}}"
        ])),
        lines(&docker(&[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &filter,
            "--format",
            "{{.ID}} {{.Names}} {{.Status}}"
        ]))
    );

    // run -d, then logs -f, which ends when the container ends.
    let since = docker(&["system", "info", "--format", "{{.SystemTime}}"]);
    let talker = run.name("talker");
    let id = cli.ok(&[
        "run",
        "-d",
        "--label",
        &label,
        "--name",
        &talker,
        TEST_IMAGE,
        "sh",
        "-c",
        "echo one; sleep 1; echo two >&2; echo three",
    ]);
    assert_eq!(
        docker(&["inspect", "--format", "{{.Name}}", &id]),
        format!("/{talker}")
    );
    let out = cli.run_with("docker", &["logs", "-f", &talker], None);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\nthree\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "two\n");

    // exec with stdin: the hijacked stream, half-closed when stdin ends.
    assert_eq!(
        cli.ok_in(&["exec", "-i", &before, "cat"], Some(b"hi\n")),
        "hi"
    );
    assert_eq!(
        cli.ok(&["exec", &before, "sh", "-c", "echo $((6*7))"]),
        "42"
    );

    // attach: stdin to the main process of a container started with -i.
    let reader = run.name("reader");
    cli.ok(&[
        "run",
        "-d",
        "-i",
        "--label",
        &label,
        "--name",
        &reader,
        TEST_IMAGE,
        "sh",
        "-c",
        "read x; echo got:$x",
    ]);
    assert_eq!(
        cli.answers(&["attach", &reader], b"hello\n", "got:hello"),
        "got:hello"
    );

    // cp both ways.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.txt");
    std::fs::write(&file, "copied through Berth\n").unwrap();
    cli.ok(&[
        "cp",
        file.to_str().unwrap(),
        &format!("{before}:/tmp/in.txt"),
    ]);
    assert_eq!(
        docker(&["exec", &before, "cat", "/tmp/in.txt"]),
        "copied through Berth"
    );
    let back = dir.path().join("back.txt");
    cli.ok(&[
        "cp",
        &format!("{before}:/tmp/in.txt"),
        back.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&back).unwrap(),
        "copied through Berth\n"
    );

    // build from a context, then save | load round trip.
    let ctx = dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {TEST_IMAGE}\nCOPY hello.txt /hello.txt\n"),
    )
    .unwrap();
    std::fs::write(ctx.join("hello.txt"), "built\n").unwrap();
    let tag = format!("{}:built", run.name("img"));
    cli.ok(&[
        "build",
        "--label",
        &label,
        "-t",
        &tag,
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(
        docker(&["run", "--rm", "--label", &label, &tag, "cat", "/hello.txt"]),
        "built"
    );
    let tar = dir.path().join("img.tar");
    cli.ok(&["save", "-o", tar.to_str().unwrap(), &tag]);
    let image_id = docker(&["image", "inspect", "--format", "{{.Id}}", &tag]);
    docker(&["rmi", &tag]);
    let loaded = cli.ok(&["load", "-i", tar.to_str().unwrap()]);
    assert!(loaded.contains(&tag), "{loaded}");
    assert_eq!(
        docker(&["image", "inspect", "--format", "{{.Id}}", &tag]),
        image_id
    );

    // events --since/--until: the create of the container run above.
    let until = docker(&["system", "info", "--format", "{{.SystemTime}}"]);
    let events = cli.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &filter,
        "--filter",
        "event=create",
        "--format",
        "{{.Actor.ID}}",
    ]);
    assert!(events.lines().any(|l| l == id), "{events}");

    // docker-compose 1.29: up -d, ps, down on a two-service file.
    let project = run.name("compose").replace('-', "");
    let _down = ComposeDown(project.clone());
    let compose = dir.path().join("docker-compose.yml");
    std::fs::write(
        &compose,
        format!(
            "version: '3.7'\nservices:\n  web:\n    image: {TEST_IMAGE}\n    command: sleep 3600\n    labels: ['{label}']\n  worker:\n    image: {TEST_IMAGE}\n    command: sleep 3600\n    labels: ['{label}']\n    depends_on: [web]\n"
        ),
    )
    .unwrap();
    let f = compose.to_str().unwrap();
    let up = cli.run_with(
        "docker-compose",
        &["-p", &project, "-f", f, "up", "-d"],
        None,
    );
    assert!(
        up.status.success(),
        "compose up: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let ps = cli.run_with(
        "docker-compose",
        &["-p", &project, "-f", f, "ps", "-q"],
        None,
    );
    assert!(ps.status.success());
    let project_filter = format!("label=com.docker.compose.project={project}");
    assert_eq!(
        lines(String::from_utf8_lossy(&ps.stdout).trim()),
        lines(&docker(&[
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            &project_filter
        ]))
    );
    assert_eq!(lines(String::from_utf8_lossy(&ps.stdout).trim()).len(), 2);
    let down = cli.run_with("docker-compose", &["-p", &project, "-f", f, "down"], None);
    assert!(
        down.status.success(),
        "compose down: {}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert_eq!(docker(&["ps", "-aq", "--filter", &project_filter]), "");

    // The audit: one row per change, naming the token; reads not audited.
    let audit = app.json("/api/audit?action=docker.api&limit=500").await;
    let rows = audit
        .as_array()
        .or_else(|| audit["rows"].as_array())
        .cloned()
        .unwrap_or_default();
    let targets: Vec<String> = rows
        .iter()
        .map(|r| r["target"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        targets.iter().any(|t| t == "POST /containers/create"),
        "{targets:?}"
    );
    assert!(targets.iter().any(|t| t == "POST /build"), "{targets:?}");
    assert!(
        !targets.iter().any(|t| t.starts_with("GET ")),
        "{targets:?}"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("berth_gateway_requests_total{kind=\"read\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("berth_gateway_hijacked_open 0"),
        "{metrics}"
    );
    docker_quiet(&["rmi", "-f", &tag]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_and_a_revoked_token_stops_at_once() {
    let run = Run::new();
    let label = run.label();
    let app = spawn_logged_in().await;
    let secret = run.container("secret", true, &["-e", "DB_PASSWORD=hunter2-gateway"], &[]);

    // No credential: the CLI prints Berth's sentence.
    let anon = Cli::new(&app, "/api", None);
    let err = anon.refused(&["ps"]);
    assert!(err.contains("log in first"), "{err}");

    // A viewer reads, with env values masked, and may not remove.
    let viewer = user(&app, "gw-viewer", "viewer").await;
    let (vid, vtok) = token(&viewer, &app, "viewer-cli").await;
    let v = Cli::new(&app, "/api", Some(&vtok));
    assert!(v.ok(&["ps", "-q", "--no-trunc"]).contains(&secret));
    let env = v.ok(&["inspect", "--format", "{{json .Config.Env}}", &secret]);
    assert!(!env.contains("hunter2"), "{env}");
    assert!(env.contains("DB_PASSWORD="), "{env}");
    let err = v.refused(&["rm", "-f", &secret]);
    assert!(err.contains("viewer") && err.contains("operator"), "{err}");
    assert_eq!(
        docker(&["inspect", "--format", "{{.State.Running}}", &secret]),
        "true"
    );
    let err = v.refused(&["exec", &secret, "true"]);
    assert!(err.contains("viewer"), "{err}");

    // An operator acts, but may not take the host.
    let operator = user(&app, "gw-operator", "operator").await;
    let (_, otok) = token(&operator, &app, "operator-cli").await;
    let o = Cli::new(&app, "/api", Some(&otok));
    o.ok(&["stop", "-t", "0", &secret]);
    assert_eq!(
        docker(&["inspect", "--format", "{{.State.Running}}", &secret]),
        "false"
    );
    for args in [
        vec![
            "run",
            "--rm",
            "--label",
            &label,
            "--privileged",
            TEST_IMAGE,
            "true",
        ],
        vec![
            "run", "--rm", "--label", &label, "-v", "/:/host", TEST_IMAGE, "true",
        ],
        vec![
            "run",
            "--rm",
            "--label",
            &label,
            "-v",
            "/var/run/docker.sock:/s",
            TEST_IMAGE,
            "true",
        ],
        vec![
            "run", "--rm", "--label", &label, "--pid", "host", TEST_IMAGE, "true",
        ],
    ] {
        let err = o.refused(&args);
        assert!(
            err.contains("hold the host") && err.contains("operator"),
            "{args:?}: {err}"
        );
    }
    let err = o.refused(&["swarm", "init"]);
    assert!(err.contains("administrators"), "{err}");

    // Revoked: the next request fails.
    let r = viewer
        .delete(app.at(&format!("/api/tokens/{vid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let err = v.refused(&["ps"]);
    assert!(err.contains("revoked"), "{err}");

    // Refusals wrote no audit row; the operator's stop wrote one.
    let audit = app.json("/api/audit?action=docker.api&limit=500").await;
    let text = audit.to_string();
    assert!(
        text.contains(&format!("POST /containers/{secret}/stop")),
        "{text}"
    );
    assert!(!text.contains("DELETE /containers"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_reaches_an_mtls_endpoint_with_berths_certificates() {
    let run = Run::new();
    let label = run.label();
    let ca = Ca::new("engine CA");
    let cert = ca.client("berth");
    let relay = Relay::tls(&TlsSide {
        server: ca.server(&["127.0.0.1", "localhost"], false),
        client_ca: Some(ca.pem.clone()),
    })
    .await;
    let app = spawn_logged_in().await;
    let r = app
        .client
        .post(app.at("/api/endpoints"))
        .json(&json!({"name": run.name("mtls"), "url": relay.url(),
               "tls": {"ca": ca.pem, "cert": cert.cert, "key": cert.key}, "tls_verify": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let (_, tok) = token(&app.client, &app, "mtls-cli").await;
    let cli = Cli::new(&app, &format!("/api/e/{id}"), Some(&tok));
    assert_eq!(
        cli.ok(&["version", "--format", "{{.Server.Version}}"]),
        docker(&["version", "--format", "{{.Server.Version}}"])
    );
    let name = run.name("overtls");
    let id_c = cli.ok(&[
        "run",
        "-d",
        "--label",
        &label,
        "--name",
        &name,
        TEST_IMAGE,
        "sh",
        "-c",
        "echo ready; sleep 3600",
    ]);
    assert_eq!(docker(&["inspect", "--format", "{{.Id}}", &name]), id_c);
    assert_eq!(
        cli.ok_in(&["exec", "-i", &name, "cat"], Some(b"over tls\n")),
        "over tls"
    );
    let logs = cli.ok(&["logs", &name]);
    assert_eq!(logs, "ready");
    assert!(relay.forwarded() > 0);
    // A client gone mid-stream frees the engine connection: the relay's count returns.
    let mut follow = cli
        .command("docker")
        .args(["logs", "-f", &name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let open = relay.open_now();
    follow.kill().unwrap();
    let _ = follow.wait();
    let freed = app
        .eventually(Duration::from_secs(3), || async { relay.open_now() < open })
        .await;
    assert!(
        freed.is_some(),
        "open before {open}, now {}",
        relay.open_now()
    );
}

/// The engine's own headers, read with curl straight on the socket.
fn engine_headers(path: &str) -> Vec<(String, String)> {
    let out = Command::new("curl")
        .args([
            "-s",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "--unix-socket",
            "/var/run/docker.sock",
        ])
        .arg(format!("http://docker{path}"))
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_headers_pass_and_berths_own_answers_have_the_engine_shape() {
    let app = spawn_logged_in().await;
    let (_, tok) = token(&app.client, &app, "raw").await;
    let raw = reqwest::Client::new();
    let want = tokio::task::block_in_place(|| engine_headers("/v1.41/_ping"));
    for path in [
        "/api/docker/_ping",
        "/api/docker/v1.41/_ping",
        "/api/e/1/docker/v1.41/_ping",
    ] {
        let r = raw
            .get(app.at(path))
            .header("X-API-Key", &tok)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        for name in ["api-version", "docker-experimental", "ostype", "server"] {
            let engine = want
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str());
            let ours = r.headers().get(name).and_then(|v| v.to_str().ok());
            assert_eq!(ours, engine, "{path}: {name}");
        }
        assert_eq!(r.text().await.unwrap(), "OK");
    }
    // Unversioned, as docker-compose 1.29 first asks.
    let v: Value = raw
        .get(app.at("/api/docker/version"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["Version"].as_str().unwrap(),
        docker(&["version", "--format", "{{.Server.Version}}"])
    );
    // Berth's refusals in the Engine API's shape.
    let r = raw.get(app.at("/api/docker/info")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("log in first")
    );
    let r = raw
        .post(app.at("/api/docker/containers/create"))
        .header("X-API-Key", &tok)
        .header("content-type", "application/json")
        .body(vec![b' '; 3 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(
        r.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("over the limit")
    );
    // Berth closes a connection whose body it refused unread: a new client, so that the next
    // request does not race the close on the pooled one (hyper: IncompleteMessage).
    let raw = reqwest::Client::new();
    let r = raw
        .get(app.at("/api/e/999/docker/info"))
        .header("X-API-Key", &tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("no endpoint 999")
    );
    // The engine's own refusal comes back as it said it.
    let r = raw
        .get(app.at("/api/docker/containers/berth-no-such-container/json"))
        .header("X-API-Key", &tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let m = r.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(m.contains("No such container"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_is_not_there_is_said_not_hung() {
    let port = crate::relay::closed_port();
    let app = crate::support::spawn(crate::support::Opts {
        args: vec!["-H".into(), format!("tcp://127.0.0.1:{port}")],
        ..Default::default()
    })
    .await;
    app.login("admin", crate::support::ADMIN_PASSWORD).await;
    let (_, tok) = token(&app.client, &app, "down").await;
    let cli = Cli::new(&app, "/api", Some(&tok));
    let started = std::time::Instant::now();
    let err = cli.refused(&["ps"]);
    assert!(
        err.contains("not reachable") && err.contains("connection refused"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// The websocket attach passes through too: the engine's handshake answer, then frames both
/// ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_attach_passes_through() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let run = Run::new();
    let app = spawn_logged_in().await;
    let (_, tok) = token(&app.client, &app, "ws").await;
    let c = run.container("wscat", true, &["-i"], &["cat"]);
    let url = format!(
        "{}/api/docker/v1.41/containers/{c}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1",
        app.url.replace("http://", "ws://")
    );
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("x-api-key", tok.parse().unwrap());
    let (mut ws, answer) = tokio_tungstenite::connect_async(req)
        .await
        .expect("ws attach");
    assert_eq!(answer.status(), 101);
    ws.send(Message::Binary(b"through the socket\n".to_vec().into()))
        .await
        .unwrap();
    let mut got = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&got).contains("through the socket") {
        assert!(std::time::Instant::now() < until, "{got:?}");
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => got.extend_from_slice(&b),
            Ok(Some(Ok(Message::Text(t)))) => got.extend_from_slice(t.as_bytes()),
            Ok(Some(Ok(_))) => {}
            other => panic!("{other:?} after {got:?}"),
        }
    }
    let _ = ws.close(None).await;
}
