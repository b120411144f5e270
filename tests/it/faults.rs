//! Faults between Berth and the engine: the engine's address vanishes (every connection cut,
//! the event stream with them) and comes back. Each time the banner appears within the ping
//! interval, Berth is back to the truth (the CLI's) within 2 s of the engine answering, and its
//! tasks and engine connections return to their level (nothing leaks per reconnect).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::oracle::{divergences, divergences_at};
use crate::relay::Relay;
use crate::second_engine::SecondEngine;
use crate::support::{ADMIN_PASSWORD, Opts, Run, TEST_IMAGE, TestApp, docker, docker_quiet, spawn};

async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_vanishes_and_comes_back_is_the_truth_again_within_2_s_and_nothing_leaks() {
    let run = Run::new();
    let label = run.label();
    let tag_prefix = format!("berth-test/fault-{}", run.id);
    let mut relay = Relay::tcp().await;
    let app = spawn(Opts {
        args: vec!["--ping-interval".into(), "1s".into()],
        ..Default::default()
    })
    .await;
    app.login("admin", ADMIN_PASSWORD).await;
    app.wait_synced().await;
    let r = app
        .client
        .post(app.at("/api/endpoints"))
        .json(&json!({"name": run.name("flaky"), "url": relay.url()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let base = format!("/api/e/{id}");
    assert_eq!(app.get(&format!("{base}/containers")).await.status(), 200);
    let mut kept = run.container("keep0", true, &["--network", "none"], &[]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let tasks0 = metric(&app, "berth_tasks").await;
    let open0 = relay.open_now();

    for cycle in 1..=4 {
        relay.stop();
        let cut = Instant::now();
        let banner = app
            .eventually(Duration::from_secs(4), || async {
                app.get(&format!("/e/{id}/containers"))
                    .await
                    .text()
                    .await
                    .unwrap()
                    .contains("is not reachable")
            })
            .await;
        assert!(
            banner.is_some(),
            "cycle {cycle}: no banner {:?} after the cut",
            cut.elapsed()
        );
        // The engine keeps working while Berth cannot see it.
        docker_quiet(&["rm", "-f", &kept]);
        kept = run.container(&format!("keep{cycle}"), true, &["--network", "none"], &[]);
        run.container(
            &format!("gone{cycle}"),
            false,
            &["--network", "none"],
            &["sh", "-c", "exit 4"],
        );
        relay.resume().await;
        let back = Instant::now();
        let mut last = Vec::new();
        let mut truth = None;
        while back.elapsed() < Duration::from_secs(2) {
            last = divergences(&app, &base, &label, &tag_prefix).await;
            if last.is_empty() {
                truth = Some(back.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            truth.is_some(),
            "cycle {cycle}: not the truth 2 s after the engine came back: {last:#?}"
        );
        println!(
            "cycle {cycle}: banner after {banner:?}, truth {truth:?} after the engine came back"
        );
    }

    let settled = app
        .eventually(Duration::from_secs(10), || async {
            metric(&app, "berth_tasks").await <= tasks0 + 2 && relay.open_now() <= open0 + 2
        })
        .await;
    assert!(
        settled.is_some(),
        "tasks {} (were {tasks0}), engine connections {} (were {open0})",
        metric(&app, "berth_tasks").await,
        relay.open_now()
    );
}

/// Berth with an endpoint through a plain relay (faults injected there), synced, with one
/// running container of the run on the engine.
struct Fixture {
    run: Run,
    label: String,
    tag_prefix: String,
    relay: Relay,
    app: TestApp,
    id: i64,
    base: String,
    kept: String,
}

impl Fixture {
    /// `before` runs on the relay before the endpoint is added (e.g. a delay from the start).
    async fn new(before: impl FnOnce(&Relay)) -> Fixture {
        let run = Run::new();
        let label = run.label();
        let tag_prefix = format!("berth-test/fault-{}", run.id);
        let relay = Relay::tcp().await;
        before(&relay);
        let app = spawn(Opts {
            args: vec!["--ping-interval".into(), "1s".into()],
            ..Default::default()
        })
        .await;
        app.login("admin", ADMIN_PASSWORD).await;
        app.wait_synced().await;
        let kept = run.container("keep0", true, &["--network", "none"], &[]);
        let r = app
            .client
            .post(app.at("/api/endpoints"))
            .json(&json!({"name": run.name("faulty"), "url": relay.url()}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let base = format!("/api/e/{id}");
        // The first view waits for the first listing (within its bound), whatever the faults.
        let r = app.get(&format!("{base}/containers")).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        Fixture {
            run,
            label,
            tag_prefix,
            relay,
            app,
            id,
            base,
            kept,
        }
    }

    fn mirror(&self) -> std::sync::Arc<berth::engine::mirror::Mirror> {
        self.app
            .server
            .as_ref()
            .unwrap()
            .state
            .engines
            .get(self.id)
            .unwrap()
    }

    /// The engine changes behind Berth's back: the kept container goes, another comes, and one
    /// runs and exits at once.
    fn churn(&mut self, step: &str) {
        docker_quiet(&["rm", "-f", &self.kept]);
        self.kept = self
            .run
            .container(&format!("keep{step}"), true, &["--network", "none"], &[]);
        self.run.container(
            &format!("gone{step}"),
            false,
            &["--network", "none"],
            &["sh", "-c", "exit 4"],
        );
        docker(&["start", &self.run.name(&format!("gone{step}"))]);
    }

    /// How long until Berth's lists of the endpoint equal the CLI's, within `bound`.
    async fn truth_within(&self, bound: Duration, what: &str) -> Duration {
        let start = Instant::now();
        let mut last = Vec::new();
        while start.elapsed() < bound {
            last = divergences(&self.app, &self.base, &self.label, &self.tag_prefix).await;
            if last.is_empty() {
                return start.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{what}: not the truth within {bound:?}: {last:#?}");
    }

    /// The endpoint's page shows no "not reachable" banner.
    async fn no_banner(&self, what: &str) {
        let page = self
            .app
            .get(&format!("/e/{}/containers", self.id))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            !page.contains("is not reachable"),
            "{what}: the engine answers, yet the page says it is not reachable"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_event_stream_is_followed_again_at_once_and_the_engine_is_not_called_down() {
    let mut f = Fixture::new(|_| {}).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let up_since = f.mirror().health().since;
    let tasks0 = metric(&f.app, "berth_tasks").await;
    let open0 = f.relay.open_now();
    for cycle in 1..=3 {
        let forwarded = f.relay.forwarded();
        f.relay.faults.cut_events();
        // Only a new stream (or a listing) can bring what happens now; the periodic resync is
        // a minute away.
        f.churn(&cycle.to_string());
        let t = f
            .truth_within(Duration::from_secs(3), &format!("cycle {cycle}"))
            .await;
        f.no_banner(&format!("cycle {cycle}")).await;
        assert!(
            f.relay.forwarded() > forwarded,
            "cycle {cycle}: no new connection after the cut"
        );
        println!("cycle {cycle}: truth {t:?} after the churn that followed the cut");
    }
    let h = f.mirror().health();
    assert!(
        h.up && h.since == up_since,
        "the engine was called down for a lost event stream: {h:?}"
    );
    let settled = f
        .app
        .eventually(Duration::from_secs(10), || async {
            metric(&f.app, "berth_tasks").await <= tasks0 + 2 && f.relay.open_now() <= open0 + 1
        })
        .await;
    assert!(
        settled.is_some(),
        "tasks {} (were {tasks0}), engine connections {} (were {open0})",
        metric(&f.app, "berth_tasks").await,
        f.relay.open_now()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_event_stream_is_noticed_and_the_mirror_keeps_to_the_truth() {
    let mut f = Fixture::new(|_| {}).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let up_since = f.mirror().health().since;
    let tasks0 = metric(&f.app, "berth_tasks").await;
    let open0 = f.relay.open_now();
    // No byte of any event stream for 30 s, its connection open, while the engine keeps
    // working and answering every other request.
    let stall = Duration::from_secs(30);
    f.relay.faults.stall_events(stall);
    let start = Instant::now();
    let mut step = 0;
    // The stall is noticed within the liveness interval (the ping interval, 1 s here) plus a
    // second of grace, then a listing brings the truth (measured 1.5–4.6 s on this loaded
    // machine, each reading of the oracle taking ~0.5 s).
    let bound = Duration::from_secs(6);
    while start.elapsed() + bound + Duration::from_secs(2) < stall {
        step += 1;
        f.churn(&format!("s{step}"));
        let t = f.truth_within(bound, &format!("stall step {step}")).await;
        f.no_banner(&format!("stall step {step}")).await;
        println!("stall step {step}: truth {t:?} after the churn");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert!(step >= 3, "only {step} steps in the stall");
    while start.elapsed() < stall {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    f.churn("after");
    let t = f
        .truth_within(Duration::from_secs(3), "after the stall")
        .await;
    println!("after the stall: truth {t:?}");
    let h = f.mirror().health();
    assert!(
        h.up && h.since == up_since,
        "the engine was called down for a stalled event stream: {h:?}"
    );
    let settled = f
        .app
        .eventually(Duration::from_secs(10), || async {
            metric(&f.app, "berth_tasks").await <= tasks0 + 2 && f.relay.open_now() <= open0 + 1
        })
        .await;
    assert!(
        settled.is_some(),
        "tasks {} (were {tasks0}), engine connections {} (were {open0})",
        metric(&f.app, "berth_tasks").await,
        f.relay.open_now()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_engine_answer_500_ms_late_still_gives_the_truth_and_no_false_alarm() {
    let delay = Duration::from_millis(500);
    // Late from the very first request: the first listing still answers within its bound.
    let mut f = Fixture::new(|r| r.faults.delay(delay)).await;
    let up_since = f.mirror().health().since;
    assert!(f.mirror().health().up, "{:?}", f.mirror().health());
    f.truth_within(Duration::from_secs(3), "first listing")
        .await;
    for step in 1..=3 {
        f.churn(&format!("d{step}"));
        // Each change costs the mirror an inspect and a list row, each half a second late.
        let t = f
            .truth_within(Duration::from_secs(4), &format!("step {step}"))
            .await;
        f.no_banner(&format!("step {step}")).await;
        println!("step {step}: truth {t:?} with every answer {delay:?} late");
    }
    let h = f.mirror().health();
    assert!(
        h.up && h.since == up_since,
        "a slow engine was called down: {h:?}"
    );
    let endpoints = f.app.json("/api/endpoints").await;
    let mine = endpoints
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"].as_i64() == Some(f.id))
        .unwrap();
    assert!(
        mine["status"] == "up",
        "the health ping calls a slow engine down: {mine}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_killed_and_restarted_on_its_data_is_shown_down_then_the_truth_again() {
    if !SecondEngine::possible() {
        println!("skipped: a second engine needs root and dockerd");
        return;
    }
    let run = Run::new();
    let label = run.label();
    let tag_prefix = format!("berth-test/fault-{}", run.id);
    let mut engine = SecondEngine::start(&run.id);
    let host = engine.host.clone();
    engine.load(TEST_IMAGE);
    let mut always = Vec::new();
    for i in 0..2 {
        always.push(engine.docker(&[
            "run",
            "-d",
            "--init",
            "--restart",
            "always",
            "--network",
            "none",
            "--label",
            &label,
            "--name",
            &run.name(&format!("always{i}")),
            TEST_IMAGE,
            "sleep",
            "3600",
        ]));
    }
    engine.docker(&[
        "run",
        "-d",
        "--network",
        "none",
        "--label",
        &label,
        "--name",
        &run.name("once"),
        TEST_IMAGE,
        "sh",
        "-c",
        "exit 3",
    ]);
    engine.docker(&["volume", "create", "--label", &label, &run.name("vol")]);

    let app = spawn(Opts {
        args: vec!["--ping-interval".into(), "1s".into()],
        ..Default::default()
    })
    .await;
    app.login("admin", ADMIN_PASSWORD).await;
    app.wait_synced().await;
    let r = app
        .client
        .post(app.at("/api/endpoints"))
        .json(&json!({"name": run.name("second"), "url": engine.tcp}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let base = format!("/api/e/{id}");
    assert_eq!(app.get(&format!("{base}/containers")).await.status(), 200);
    let truth = |bound: Duration, what: &'static str| {
        let (app, host, base, label, tag_prefix) = (&app, &host, &base, &label, &tag_prefix);
        async move {
            let start = Instant::now();
            let mut last = Vec::new();
            while start.elapsed() < bound {
                last = divergences_at(app, Some(host), base, label, tag_prefix).await;
                if last.is_empty() {
                    return start.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("{what}: not the truth within {bound:?}: {last:#?}");
        }
    };
    truth(Duration::from_secs(3), "before the kill").await;
    let mirror = app.server.as_ref().unwrap().state.engines.get(id).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let tasks0 = metric(&app, "berth_tasks").await;

    engine.kill9();
    let killed = Instant::now();
    // Down, said clearly, within the ping interval (1 s) and a margin: the page's banner, the
    // endpoint's health, the mirror's own.
    let down = app
        .eventually(Duration::from_secs(3), || async {
            let page = app
                .get(&format!("/e/{id}/containers"))
                .await
                .text()
                .await
                .unwrap();
            page.contains("is not reachable") && page.contains("Showing the state last seen")
        })
        .await;
    assert!(
        down.is_some(),
        "no banner {:?} after the kill",
        killed.elapsed()
    );
    let shown_down = app
        .eventually(Duration::from_secs(3), || async {
            let eps = app.json("/api/endpoints").await;
            eps.as_array()
                .unwrap()
                .iter()
                .any(|e| e["id"].as_i64() == Some(id) && e["status"] == "down")
        })
        .await;
    assert!(shown_down.is_some(), "/api/endpoints does not say down");
    assert!(!mirror.health().up, "{:?}", mirror.health());
    println!("banner {down:?} after the kill");
    // The JSON lists, which have no banner, say so in their headers: the state last seen, and
    // when it was seen.
    for list in ["containers", "images", "networks", "volumes"] {
        let r = app.get(&format!("{base}/{list}")).await;
        assert_eq!(r.status(), 200, "{list}");
        assert_eq!(
            r.headers()
                .get("x-berth-engine")
                .map(|v| v.to_str().unwrap()),
            Some("down"),
            "{list}"
        );
        let seen: i64 = r.headers()["x-berth-last-seen"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(Some(seen), mirror.health().last_sync, "{list}");
    }

    // Down for a while (longer than the mirror's first backoffs), then back on the same data.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let h = mirror.health();
    assert!(!h.up && h.last_sync.is_some(), "{h:?}");
    engine.restart();
    let back = Instant::now();
    for c in &always {
        assert_eq!(
            engine.docker(&["inspect", "-f", "{{.State.Status}}", c]),
            "running",
            "the engine did not bring its restart-always container back"
        );
    }
    let t = truth(Duration::from_secs(2), "after the restart").await;
    println!(
        "truth {t:?} into the check, {:?} after the engine answered",
        back.elapsed()
    );
    assert!(mirror.health().up, "{:?}", mirror.health());
    let page = app
        .get(&format!("/e/{id}/containers"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("is not reachable"), "the banner stays");
    let r = app.get(&format!("{base}/containers")).await;
    assert!(
        r.headers().get("x-berth-engine").is_none(),
        "still marked down"
    );
    let settled = app
        .eventually(Duration::from_secs(10), || async {
            metric(&app, "berth_tasks").await <= tasks0 + 2
        })
        .await;
    assert!(
        settled.is_some(),
        "tasks {} (were {tasks0})",
        metric(&app, "berth_tasks").await
    );
    drop(app);
    drop(engine);
}

/// Removes a test's tags of the shared test image (no label finds them), also on failure.
struct Tags(String);

impl Drop for Tags {
    fn drop(&mut self) {
        for (_, t) in crate::oracle::cli_tags(&self.0) {
            docker_quiet(&["rmi", &t]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_and_tags_apply_from_their_events_before_any_listing() {
    let f = Fixture::new(|_| {}).await;
    let _tags = Tags(f.tag_prefix.clone());
    let vol = f.run.volume("ev", &[]);
    let net = f.run.network("ev", &[]);
    let img_tag = f.run.two_layer_image("ev");
    let img = f.run.inspect(&img_tag, "{{.Id}}");
    let base_img = f.run.inspect(TEST_IMAGE, "{{.Id}}");
    let has = |list: Value, key: &str, want: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .any(|x| x[key].as_str() == Some(want))
    };
    let held = f
        .app
        .eventually(Duration::from_secs(5), || async {
            has(
                f.app.json(&format!("{}/volumes", f.base)).await,
                "name",
                &vol,
            ) && has(
                f.app.json(&format!("{}/networks", f.base)).await,
                "id",
                &net,
            ) && has(f.app.json(&format!("{}/images", f.base)).await, "id", &img)
        })
        .await;
    assert!(held.is_some(), "the objects never showed");
    // Every request now waits 3 s before it reaches the engine; the event stream, open
    // already, flows. Whatever shows within 1.5 s came from the event itself.
    f.relay.faults.delay(Duration::from_secs(3));
    let quick = Duration::from_millis(1500);
    let mirror = |path: &'static str| {
        let app = &f.app;
        let base = &f.base;
        async move { app.json(&format!("{base}/{path}")).await }
    };
    docker(&["volume", "rm", &vol]);
    let t = f
        .app
        .eventually(quick, || async {
            !has(mirror("volumes").await, "name", &vol)
        })
        .await;
    assert!(t.is_some(), "a removed volume still shows");
    docker(&["network", "rm", &net]);
    let t = f
        .app
        .eventually(quick, || async {
            !has(mirror("networks").await, "id", &net)
        })
        .await;
    assert!(t.is_some(), "a removed network still shows");
    docker(&["rmi", &img_tag]);
    let t = f
        .app
        .eventually(quick, || async { !has(mirror("images").await, "id", &img) })
        .await;
    assert!(t.is_some(), "a deleted image still shows");
    let tag = format!("{}:t1", f.tag_prefix);
    docker(&["tag", TEST_IMAGE, &tag]);
    let t = f
        .app
        .eventually(quick, || async {
            mirror("images").await.as_array().unwrap().iter().any(|i| {
                i["id"].as_str() == Some(&base_img)
                    && i["tags"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x.as_str() == Some(&tag))
            })
        })
        .await;
    assert!(t.is_some(), "a new tag does not show");
    // The listings the events asked for, late as they are, agree.
    f.relay.faults.delay(Duration::ZERO);
    f.truth_within(Duration::from_secs(8), "after the delayed listings")
        .await;
}
