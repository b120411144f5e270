//! Logs: the text API (tail, since, timestamps, both streams, TTY and not), the live SSE stream
//! (batches, merged view, bursts) and that a closed browser closes the engine stream.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

use crate::support::{Run, TestApp, spawn_logged_in};

/// A server-sent events reader over a reqwest response.
pub struct Sse {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl Sse {
    pub async fn open(app: &TestApp, path: &str) -> Sse {
        let r = app
            .client
            .get(app.at(path))
            .timeout(Duration::from_secs(600))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Sse {
            body: r.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next event (name, data), skipping keep-alive comments; None when the stream ends.
    pub async fn next(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return Some((name, data.join("\n")));
            }
            let chunk = self.body.next().await?.ok()?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Reads `lines` events until `pred` holds for the lines gathered so far (or 30 s pass).
    pub async fn lines_until(&mut self, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let mut all = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !pred(&all) {
            let ev = tokio::time::timeout_at(deadline, self.next())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "timed out; got {} lines: {:?}",
                        all.len(),
                        all.iter().rev().take(5).collect::<Vec<_>>()
                    )
                });
            match ev {
                Some((n, d)) if n == "lines" => {
                    let batch: Vec<Value> = serde_json::from_str(&d).unwrap();
                    all.extend(batch);
                }
                Some((n, d)) if n == "failure" => panic!("log stream failed: {d}"),
                Some(_) => {}
                None => break,
            }
        }
        all
    }
}

fn texts(lines: &[Value], stream: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["s"] == stream)
        .map(|l| l["t"].as_str().unwrap().to_string())
        .collect()
}

async fn text(app: &TestApp, path: &str) -> (u16, String) {
    let r = app.get(path).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Waits until the container has exited (its whole log is then written).
fn wait_exit(run: &Run, id: &str) {
    for _ in 0..200 {
        if run.inspect(id, "{{.State.Status}}") == "exited" {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("container {id} did not exit");
}

#[tokio::test]
async fn text_api_gives_tail_timestamps_and_both_streams() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container(
        "plain",
        true,
        &[],
        &[
            "sh",
            "-c",
            "for i in 1 2 3; do echo out-$i; echo err-$i >&2; done",
        ],
    );
    wait_exit(&run, &id);
    app.eventually(Duration::from_secs(5), || async {
        crate::support::find(&app.json("/api/containers").await, "id", &id).is_some()
    })
    .await;

    let (st, all) = text(&app, &format!("/api/containers/{id}/logs")).await;
    assert_eq!(st, 200);
    for l in ["out-1", "out-3", "err-1", "err-3"] {
        assert!(all.lines().any(|x| x == l), "{l} in {all:?}");
    }
    let (_, tail) = text(&app, &format!("/api/containers/{id}/logs?tail=2")).await;
    assert_eq!(tail.lines().count(), 2, "{tail:?}");
    let (_, only_err) = text(&app, &format!("/api/containers/{id}/logs?no_stdout=true")).await;
    assert_eq!(only_err, "err-1\nerr-2\nerr-3\n");

    let (_, ts) = text(
        &app,
        &format!("/api/containers/{id}/logs?tail=1&timestamps=true"),
    )
    .await;
    let (stamp, rest) = ts.trim_end().split_once(' ').unwrap();
    assert!(
        stamp.len() >= 20 && stamp.contains('T') && stamp.ends_with('Z'),
        "{ts:?}"
    );
    assert!(rest.ends_with("-3"), "{ts:?}");
    let (_, no_ts) = text(
        &app,
        &format!("/api/containers/{id}/logs?tail=1&timestamps=false"),
    )
    .await;
    assert!(no_ts.ends_with("-3\n") && !no_ts.contains('T'), "{no_ts:?}");

    // since: an hour back has everything, a time to come has nothing.
    let (_, back) = text(&app, &format!("/api/containers/{id}/logs?since=1h")).await;
    assert_eq!(back.lines().count(), 6);
    let future = berth::store::now() + 3600;
    let (_, none) = text(&app, &format!("/api/containers/{id}/logs?since={future}")).await;
    assert_eq!(none, "");

    // Download names the file.
    let r = app
        .get(&format!("/api/containers/{id}/logs?download=1"))
        .await;
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cd.starts_with("attachment") && cd.contains(".log"), "{cd}");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );

    // Bad input: a clear error on the field, and unknown containers are 404.
    for (q, field) in [
        ("tail=lots", "tail"),
        ("since=yesterday", "since"),
        ("no_stdout=1&no_stderr=1", "stream"),
    ] {
        let r = app.get(&format!("/api/containers/{id}/logs?{q}")).await;
        assert_eq!(r.status(), 422, "{q}");
        let j: Value = r.json().await.unwrap();
        assert_eq!(j["field"], field, "{q}: {j}");
    }
    let r = app.get("/api/containers/no-such-container-xyz/logs").await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn tty_containers_log_raw_lines() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container(
        "tty",
        true,
        &["-t"],
        &[
            "sh",
            "-c",
            "printf 'tty-1\\ntty-2\\n\\033[31mred\\033[0m\\n'",
        ],
    );
    wait_exit(&run, &id);
    app.eventually(Duration::from_secs(5), || async {
        crate::support::find(&app.json("/api/containers").await, "id", &id).is_some()
    })
    .await;
    let (st, body) = text(&app, &format!("/api/containers/{id}/logs")).await;
    assert_eq!(st, 200);
    // A TTY turns \n into \r\n: the lines come out without the \r; colours stay for the page.
    assert_eq!(body, "tty-1\ntty-2\n\u{1b}[31mred\u{1b}[0m\n");
}

#[tokio::test]
async fn live_stream_follows_both_streams_and_closes_the_engine_stream_when_the_client_goes() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container(
        "follow",
        true,
        &[],
        &[
            "sh",
            "-c",
            "i=0; while true; do echo line-$i; echo oops-$i >&2; i=$((i+1)); sleep 0.2; done",
        ],
    );
    app.eventually(Duration::from_secs(5), || async {
        crate::support::find(&app.json("/api/containers").await, "id", &id).is_some()
    })
    .await;
    let gauge = || {
        app.server
            .as_ref()
            .unwrap()
            .state
            .engines
            .primary()
            .log_streams
            .open()
    };
    assert_eq!(gauge(), 0);

    let mut sse = Sse::open(&app, &format!("/containers/{id}/logs/stream?tail=0")).await;
    let lines = sse
        .lines_until(|l| texts(l, "out").len() >= 3 && texts(l, "err").len() >= 3)
        .await;
    assert!(texts(&lines, "out").iter().all(|t| t.starts_with("line-")));
    assert!(texts(&lines, "err").iter().all(|t| t.starts_with("oops-")));
    assert_eq!(gauge(), 1, "one engine stream while the page follows");

    let mut sse2 = Sse::open(
        &app,
        &format!("/containers/{id}/logs/stream?tail=2&timestamps=true"),
    )
    .await;
    let lines = sse2.lines_until(|l| l.len() >= 2).await;
    assert!(lines[0]["t"].as_str().unwrap().contains('Z'), "{lines:?}");
    assert_eq!(gauge(), 2);

    drop(sse);
    drop(sse2);
    let gone = app
        .eventually(Duration::from_secs(20), || async { gauge() == 0 })
        .await;
    assert!(gone.is_some(), "engine log streams left open: {}", gauge());
}

#[tokio::test]
async fn merged_view_tags_each_line_with_its_container() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let cmd = ["sh", "-c", "while true; do echo tick; sleep 0.2; done"];
    let a = run.container("merge-a", true, &[], &cmd);
    let b = run.container("merge-b", true, &[], &cmd);
    app.eventually(Duration::from_secs(5), || async {
        let l = app.json("/api/containers").await;
        crate::support::find(&l, "id", &a).is_some() && crate::support::find(&l, "id", &b).is_some()
    })
    .await;
    let mut sse = Sse::open(&app, &format!("/logs/stream?c={a}&c={b}&tail=1")).await;
    let (na, nb) = (run.name("merge-a"), run.name("merge-b"));
    let lines = sse
        .lines_until(|l| {
            l.iter().any(|x| x["c"] == na.as_str()) && l.iter().any(|x| x["c"] == nb.as_str())
        })
        .await;
    assert!(lines.iter().all(|l| l["t"] == "tick"));

    let page = app.get(&format!("/logs?c={a}&c={b}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("/logs/stream?c={a}&amp;c={b}"))
            || html.contains(&format!("/logs/stream?c={a}&#38;c={b}")),
        "{html}"
    );

    // No container chosen: the stream says why instead of hanging.
    let mut sse = Sse::open(&app, "/logs/stream").await;
    let (name, data) = sse.next().await.unwrap();
    assert_eq!(name, "failure");
    assert!(data.contains("\"field\":\"c\""), "{data}");
}

#[tokio::test]
async fn a_burst_of_100k_lines_arrives_in_batches() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container(
        "burst",
        true,
        &[],
        &["sh", "-c", "seq 1 100000; sleep 3600"],
    );
    app.eventually(Duration::from_secs(5), || async {
        crate::support::find(&app.json("/api/containers").await, "id", &id).is_some()
    })
    .await;
    // Wait until the burst is written, then read it all from the start.
    let until = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, t) = text(&app, &format!("/api/containers/{id}/logs?tail=1")).await;
        if t == "100000\n" || std::time::Instant::now() > until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut sse = Sse::open(&app, &format!("/containers/{id}/logs/stream?tail=all")).await;
    let mut events = 0;
    let mut lines = 0usize;
    let mut biggest = 0;
    let mut last = String::new();
    while lines < 100_000 {
        let (name, data) = tokio::time::timeout(Duration::from_secs(30), sse.next())
            .await
            .expect("burst keeps coming")
            .expect("stream open");
        if name != "lines" {
            continue;
        }
        let batch: Vec<Value> = serde_json::from_str(&data).unwrap();
        events += 1;
        lines += batch.len();
        biggest = biggest.max(batch.len());
        last = batch.last().unwrap()["t"].as_str().unwrap().to_string();
    }
    assert_eq!(lines, 100_000);
    assert_eq!(last, "100000");
    assert!(biggest <= berth::web::logs::BATCH_LINES);
    assert!(
        events < 100_000 / 20,
        "lines should travel in batches: {events} events"
    );
}

#[tokio::test]
async fn log_pages_render() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container("page", true, &[], &[]);
    app.eventually(Duration::from_secs(5), || async {
        crate::support::find(&app.json("/api/containers").await, "id", &id).is_some()
    })
    .await;
    let r = app
        .get(&format!("/containers/{id}/logs?tail=50&timestamps=true"))
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("/containers/{id}/logs/stream")));
    assert!(html.contains("value=\"50\""));
    assert!(html.contains("/static/logs.js"));
    assert_eq!(
        app.get("/containers/no-such-container-xyz/logs")
            .await
            .status(),
        404
    );
    assert_eq!(app.get("/logs").await.status(), 200);
    assert_eq!(app.get("/static/logs.js").await.status(), 200);
}
