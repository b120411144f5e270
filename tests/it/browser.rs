//! In a real browser: headless Chromium driven over WebDriver (chromedriver) with fantoccini.
//! Logs in, opens a console and runs a command, watches a log line arrive live, sees the stats
//! chart drawn. Screenshots of each page go to target/screenshots/.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::support::{ADMIN_PASSWORD, Run, TestApp, find, spawn_logged_in};

const CHROMEDRIVER: &str = "chromedriver";
const CHROMIUM: &[&str] = &[
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
];

/// chromedriver on a free port; killed on drop. One at a time in the whole run: Chromium on a
/// 2-core machine beside the engine tests is slow enough alone, and two or three at once made
/// timing-bound steps (a filter's rows arriving within 20 s) fail under the full suite.
pub struct Driver {
    child: Child,
    url: String,
    _one: tokio::sync::SemaphorePermit<'static>,
}

static ONE_BROWSER: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn driver() -> Driver {
    let one = ONE_BROWSER
        .acquire()
        .await
        .expect("the browser semaphore is never closed");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "the browser tests need chromedriver on PATH ({e}): install Debian's `chromium` and \
                 `chromium-driver` (scripts/test.sh does)"
            )
        });
    let d = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _one: one,
    };
    let http = crate::support::client();
    for _ in 0..100 {
        if http.get(format!("{}/status", d.url)).send().await.is_ok() {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on port {port}");
}

pub async fn browser(d: &Driver) -> Client {
    let binary = CHROMIUM
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or_else(|| {
            panic!("no Chromium found at {CHROMIUM:?}: install Debian's `chromium`")
        });
    let caps = json!({
        "goog:chromeOptions": {
            "binary": binary,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-dev-shm-usage",
                "--window-size=1280,900"
            ]
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&d.url)
        .await
        .expect("a WebDriver session with headless Chromium")
}

async fn js(c: &Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.expect("script runs")
}

/// Polls `script` until it returns true (20 s at most); panics with `what` and `debug`'s value.
pub async fn until(c: &Client, what: &str, script: &str, debug: &str) {
    for _ in 0..200 {
        if js(c, script).await == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown = c
        .execute(
            &format!(
                "try {{ return String({debug}); }} catch (e) {{ return document.body.innerText.slice(0, 1500); }}"
            ),
            vec![],
        )
        .await;
    panic!("{what}: never happened; page shows {shown:?}");
}

/// Opens `url`. Chromium aborts a navigation with ERR_NETWORK_CHANGED when an interface comes
/// or goes, which the engine does whenever a container starts or stops (veth pairs, here and
/// in tests running beside this one): then it tries again.
pub async fn visit(c: &Client, url: &str) {
    for _ in 0..10 {
        c.goto(url).await.unwrap();
        let ok = js(
            c,
            "return !document.body || !document.body.innerText.includes('ERR_NETWORK_CHANGED')",
        )
        .await;
        if ok == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("{url}: Chromium kept reporting a network change");
}

pub async fn screenshot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

pub async fn login(c: &Client, app: &TestApp) {
    for _ in 0..5 {
        visit(c, &app.at("/login")).await;
        c.find(Locator::Css("input[name=username]"))
            .await
            .unwrap()
            .send_keys("admin")
            .await
            .unwrap();
        c.find(Locator::Css("input[name=password]"))
            .await
            .unwrap()
            .send_keys(ADMIN_PASSWORD)
            .await
            .unwrap();
        c.find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        for _ in 0..100 {
            if js(c, "return location.pathname === '/' && !document.body.innerText.includes('ERR_NETWORK_CHANGED')").await == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("logging in never reached the dashboard");
}

/// chromedriver, a Chromium session, logged in to `app` as the admin.
pub async fn open(app: &TestApp) -> (Driver, Client) {
    let d = driver().await;
    let c = browser(&d).await;
    login(&c, app).await;
    (d, c)
}

async fn listed(app: &TestApp, id: &str) {
    app.eventually(Duration::from_secs(5), || async {
        find(&app.json("/api/containers").await, "id", id).is_some()
    })
    .await
    .expect("listed");
}

#[tokio::test]
async fn console_logs_and_stats_work_in_a_real_browser() {
    let d = driver().await;
    let run = Run::new();
    let app = spawn_logged_in().await;
    let shell = run.container("web-shell", true, &[], &[]);
    let talker = run.container(
        "web-logs",
        true,
        &[],
        &[
            "sh",
            "-c",
            "i=0; while true; do echo live-$i; printf '\\033[31mred-%s\\033[0m <b>not bold</b>\\n' $i; i=$((i+1)); sleep 0.5; done",
        ],
    );
    let busy = run.container(
        "web-busy",
        true,
        &crate::stats::CAP,
        &["sh", "-c", "while :; do :; done"],
    );
    let burst = run.container(
        "web-burst",
        true,
        &[],
        &["sh", "-c", "seq 1 100000; sleep 3600"],
    );
    for id in [&shell, &talker, &busy, &burst] {
        listed(&app, id).await;
    }
    let c = browser(&d).await;
    let outcome = async {
        login(&c, &app).await;

        // Console: connect, type, see the shell's answer in the terminal.
        visit(&c, &app.at(&format!("/containers/{shell}/console"))).await;
        c.find(Locator::Css("[data-console=connect]")).await.unwrap().click().await.unwrap();
        until(
            &c,
            "the console connects",
            "return document.getElementById('console-status').textContent === 'connected'",
            "document.getElementById('console-status').textContent + ' ' + document.getElementById('console-error').textContent",
        )
        .await;
        let input = c.find(Locator::Css(".xterm-helper-textarea")).await.unwrap();
        input.send_keys("echo browser-$((6*7))\u{E007}").await.unwrap();
        until(
            &c,
            "the command's output in the terminal",
            "return document.querySelector('.xterm-rows').textContent.includes('browser-42')",
            "document.querySelector('.xterm-rows').textContent",
        )
        .await;
        // The terminal fills its panel: more than the 80×24 default at this window size.
        let cols = js(&c, "return parseInt(document.getElementById('terminal').dataset.cols, 10)").await;
        assert!(cols.as_u64().unwrap_or(0) > 80, "terminal columns: {cols}");
        // …and follows the window: narrower window, fewer columns.
        c.set_window_size(800, 700).await.unwrap();
        until(
            &c,
            "the terminal follows the window",
            &format!("return parseInt(document.getElementById('terminal').dataset.cols, 10) < {cols}"),
            "document.getElementById('terminal').dataset.cols",
        )
        .await;
        c.set_window_size(1280, 900).await.unwrap();
        screenshot(&c, "console").await;

        // Logs: from tail=0, a line must arrive live; colours become spans, markup stays text.
        visit(&c, &app.at(&format!("/containers/{talker}/logs?tail=0"))).await;
        until(
            &c,
            "a new log line arrives",
            "return document.querySelectorAll('#log .ln').length >= 2 && document.getElementById('log').textContent.includes('live-')",
            "document.getElementById('log-status').textContent + ' | ' + document.getElementById('log-error').textContent",
        )
        .await;
        assert_eq!(js(&c, "return document.querySelectorAll('#log .ansi-fg-1').length > 0").await, json!(true));
        assert_eq!(js(&c, "return document.querySelectorAll('#log b').length").await, json!(0));
        assert_eq!(
            js(&c, "return document.getElementById('log').textContent.includes('<b>not bold</b>')").await,
            json!(true)
        );
        // Search highlights.
        c.find(Locator::Css("input[name=find]")).await.unwrap().send_keys("red-").await.unwrap();
        until(&c, "search marks matches", "return document.querySelectorAll('#log mark').length > 0", "document.getElementById('log-hits').textContent").await;
        screenshot(&c, "logs").await;

        // A burst of 100k lines: the page keeps the last 5000 and stays responsive.
        visit(&c, &app.at(&format!("/containers/{burst}/logs?tail=all"))).await;
        until(
            &c,
            "the burst's last line is shown",
            "var b = document.getElementById('log'); return !!b.lastElementChild && b.lastElementChild.textContent === '100000'",
            "document.getElementById('log-status').textContent",
        )
        .await;
        let shown = js(&c, "return document.querySelectorAll('#log .ln').length").await;
        assert!(shown.as_u64().unwrap() <= 5000, "{shown} lines kept");
        let t0 = std::time::Instant::now();
        js(&c, "return 1").await;
        assert!(t0.elapsed() < Duration::from_secs(2), "the page answers scripts at once");
        screenshot(&c, "logs-burst").await;

        // Stats: the CPU chart is drawn with points.
        visit(&c, &app.at(&format!("/containers/{busy}/stats"))).await;
        until(
            &c,
            "the stats chart is drawn",
            "var el = document.querySelector('[data-chart=cpu]'); return !!el.querySelector('canvas') && parseInt(el.dataset.points || '0', 10) >= 3",
            "document.getElementById('stats-status').textContent",
        )
        .await;
        let cpu = js(&c, "return document.querySelector('[data-stat=cpu]').textContent").await;
        assert!(cpu.as_str().unwrap_or("").ends_with('%'), "{cpu}");
        screenshot(&c, "stats").await;

        // The list's live column fills in for running containers.
        visit(&c, &app.at(&format!("/containers?q={}", run.name("web-busy")))).await;
        until(
            &c,
            "the list's CPU · memory cell",
            "var el = document.querySelector('.stat-cell'); return !!el && el.textContent.includes('%')",
            "document.getElementById('rows').textContent",
        )
        .await;
        screenshot(&c, "containers").await;
    }
    .await;
    c.close().await.unwrap();
    outcome
}

/// The Content-Security-Policy violations the page has reported so far (Chromium keeps them
/// for a `buffered` ReportingObserver, so those of the page's own start count too).
async fn csp_violations(c: &Client) -> Vec<String> {
    let script = r#"
        var done = arguments[arguments.length - 1];
        var seen = [];
        var keep = function (reports) {
          reports.forEach(function (r) {
            seen.push(r.body.effectiveDirective + ' blocked ' + (r.body.blockedURL || '') + ' ' + (r.body.sample || ''));
          });
        };
        if (typeof ReportingObserver === 'undefined') { done(['no ReportingObserver in this browser']); return; }
        var o = new ReportingObserver(keep, { types: ['csp-violation'], buffered: true });
        o.observe();
        setTimeout(function () { keep(o.takeRecords()); o.disconnect(); done(seen); }, 400);
    "#;
    let v = c.execute_async(script, vec![]).await.expect("script runs");
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// [`visit`], with more patience for the network changes other tests' containers cause (this
/// test opens many pages while the full suite churns containers beside it).
pub async fn visit_patiently(c: &Client, url: &str) {
    for _ in 0..40 {
        c.goto(url).await.unwrap();
        let ok = js(
            c,
            "return !document.body || !document.body.innerText.includes('ERR_NETWORK_CHANGED')",
        )
        .await;
        if ok == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{url}: Chromium kept reporting a network change");
}

#[tokio::test]
async fn pages_work_under_the_content_security_policy_without_a_violation() {
    let d = driver().await;
    let run = Run::new();
    let app = spawn_logged_in().await;
    let shell = run.container("csp-shell", true, &[], &[]);
    listed(&app, &shell).await;
    let c = browser(&d).await;
    let outcome = async {
        visit_patiently(&c, &app.at("/login")).await;
        assert_eq!(csp_violations(&c).await, Vec::<String>::new(), "/login");
        login(&c, &app).await;
        let pages = [
            "/".to_string(),
            "/containers".into(),
            format!("/containers/{shell}"),
            format!("/containers/{shell}/logs"),
            format!("/containers/{shell}/stats"),
            "/images".into(),
            "/layers".into(),
            "/networks".into(),
            "/volumes".into(),
            "/stacks".into(),
            "/endpoints".into(),
            "/settings".into(),
            "/audit".into(),
            "/events".into(),
            format!("/containers/{shell}/events"),
            "/containers/berth-no-such-container".into(),
        ];
        for p in &pages {
            visit_patiently(&c, &app.at(p)).await;
            // htmx ran (it is what most pages' behaviour rests on).
            until(&c, "htmx is loaded", "return !!window.htmx", "typeof window.htmx").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(csp_violations(&c).await, Vec::<String>::new(), "{p}");
        }
        // htmx still swaps under the policy: the container list's filter fetches rows.
        visit_patiently(&c, &app.at("/containers")).await;
        c.find(Locator::Css("#q"))
            .await
            .unwrap()
            .send_keys(&run.name("csp-shell"))
            .await
            .unwrap();
        until(
            &c,
            "the filtered rows arrive",
            &format!(
                "var r = document.getElementById('rows'); return !!r && r.textContent.includes('{}') && r.querySelectorAll('tr').length <= 3",
                run.name("csp-shell")
            ),
            "document.getElementById('rows').textContent",
        )
        .await;
        assert_eq!(csp_violations(&c).await, Vec::<String>::new(), "containers filter");
        // The console (xterm writes its own style elements: that page allows them).
        visit_patiently(&c, &app.at(&format!("/containers/{shell}/console"))).await;
        c.find(Locator::Css("[data-console=connect]")).await.unwrap().click().await.unwrap();
        // An exec can take a while on a loaded engine: a minute before judging.
        for _ in 0..120 {
            let s = js(&c, "return document.getElementById('console-status').textContent").await;
            if s == json!("connected") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        until(
            &c,
            "the console connects",
            "return document.getElementById('console-status').textContent === 'connected'",
            "document.getElementById('console-status').textContent + ' ' + document.getElementById('console-error').textContent",
        )
        .await;
        let input = c.find(Locator::Css(".xterm-helper-textarea")).await.unwrap();
        input.send_keys("echo csp-$((6*7))\u{E007}").await.unwrap();
        until(
            &c,
            "the command's output in the terminal",
            "return document.querySelector('.xterm-rows').textContent.includes('csp-42')",
            "document.querySelector('.xterm-rows').textContent",
        )
        .await;
        assert_eq!(csp_violations(&c).await, Vec::<String>::new(), "console");
        // The check sees a violation when there is one: an inline script is refused and reported.
        visit_patiently(&c, &app.at("/settings")).await;
        js(
            &c,
            "var s = document.createElement('script'); s.textContent = 'window.inlineRan = true'; document.body.appendChild(s); return 1",
        )
        .await;
        assert_eq!(js(&c, "return window.inlineRan === true").await, json!(false), "an inline script ran");
        let seen = csp_violations(&c).await;
        assert!(
            seen.iter().any(|v| v.starts_with("script-src")),
            "the inline script's violation is reported: {seen:?}"
        );
    }
    .await;
    c.close().await.unwrap();
    outcome
}

/// Issue 19, items 1–3 and 5, in Chromium: the action bar follows the engine's state live, the
/// events page takes new events live and holds them while paused, times read in the viewer's
/// zone, and the dark theme is remembered by the browser. Screenshots in both themes.
#[tokio::test]
async fn actions_follow_the_state_events_arrive_live_and_the_theme_is_remembered() {
    let d = driver().await;
    let run = Run::new();
    let app = spawn_logged_in().await;
    let id = run.container("ui", true, &[], &[]);
    listed(&app, &id).await;
    let c = browser(&d).await;
    let outcome = async {
        login(&c, &app).await;
        // Running: stop, restart, pause, kill; no start, no unpause.
        visit(&c, &app.at(&format!("/containers/{id}"))).await;
        let list = "Array.from(document.querySelectorAll('#container-actions button')).map(b => b.textContent.trim()).join(',')";
        let buttons = &format!("return {list}");
        assert_eq!(
            js(&c, buttons).await,
            json!("Stop,Restart,Pause,Kill,Force remove")
        );
        // A moment for the page's live stream (/live) to open.
        tokio::time::sleep(Duration::from_millis(800)).await;
        // The engine stops it behind the page's back: the bar changes in place, no reload.
        js(&c, "window.sameDocument = true; return 1").await;
        crate::support::docker(&["stop", "-t", "1", &id]);
        until(
            &c,
            "the bar offers Start once the engine says exited",
            &format!("return window.sameDocument === true && ({list}).startsWith('Start,Restart')"),
            buttons,
        )
        .await;
        assert!(
            !js(&c, buttons).await.as_str().unwrap().contains("Unpause"),
            "an exited container offers no unpause"
        );
        // Times are <time> with the exact instant in the viewer's zone in the tooltip.
        let title = js(&c, "var t = document.querySelector('time[datetime]'); return t ? t.title : ''").await;
        let title = title.as_str().unwrap().to_string();
        let server_words = title.len() == 23 && title.ends_with(" UTC") && title.as_bytes()[4] == b'-';
        assert!(!title.is_empty() && !server_words, "the tooltip in the browser's words: {title}");
        assert_eq!(
            js(&c, "return document.querySelector('time[datetime]').dataset.local").await,
            json!("1"),
            "the script put the local time in the tooltip"
        );
        screenshot(&c, "container-light").await;

        // Events: a new container's create arrives live; paused, the next one waits.
        visit(&c, &app.at("/events")).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let first = run.container("ui-ev1", false, &[], &[]);
        until(
            &c,
            "the create appears without a reload",
            &format!("return document.getElementById('event-rows').textContent.includes('{}')", run.name("ui-ev1")),
            "document.getElementById('event-rows').textContent.slice(0, 400)",
        )
        .await;
        assert!(!first.is_empty());
        c.find(Locator::Css("#ev-pause")).await.unwrap().click().await.unwrap();
        run.container("ui-ev2", false, &[], &[]);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            js(&c, &format!("return document.getElementById('event-rows').textContent.includes('{}')", run.name("ui-ev2"))).await,
            json!(false),
            "paused: the table holds still"
        );
        c.find(Locator::Css("#ev-pause")).await.unwrap().click().await.unwrap();
        until(
            &c,
            "unpaused, it catches up",
            &format!("return document.getElementById('event-rows').textContent.includes('{}')", run.name("ui-ev2")),
            "document.getElementById('event-rows').textContent.slice(0, 400)",
        )
        .await;
        screenshot(&c, "events-light").await;

        // Dark theme: the toggle switches it, and the browser remembers it on the next page.
        c.find(Locator::Css("[data-theme-toggle]")).await.unwrap().click().await.unwrap();
        let theme = "return document.documentElement.getAttribute('data-theme')";
        assert_eq!(js(&c, theme).await, json!("dark"));
        visit(&c, &app.at("/events")).await;
        assert_eq!(js(&c, theme).await, json!("dark"), "remembered across pages");
        let bg = js(
            &c,
            "var b = getComputedStyle(document.documentElement).backgroundColor; return b === 'rgba(0, 0, 0, 0)' ? getComputedStyle(document.body).backgroundColor : b",
        )
        .await;
        let dark = bg
            .as_str()
            .unwrap()
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .map(|x| x.trim().parse::<f64>().unwrap_or(255.0))
            .sum::<f64>()
            < 3.0 * 100.0;
        assert!(dark, "a dark background: {bg}");
        screenshot(&c, "events-dark").await;
        visit(&c, &app.at(&format!("/containers/{id}"))).await;
        screenshot(&c, "container-dark").await;
        visit(&c, &app.at("/containers")).await;
        screenshot(&c, "containers-dark").await;
        c.find(Locator::Css("[data-theme-toggle]")).await.unwrap().click().await.unwrap();
        assert_eq!(js(&c, theme).await, json!("light"));

        // Keyboard: "/" focuses the page's filter, "?" lists the keys, "g i" goes to images.
        let body = c.find(Locator::Css("body")).await.unwrap();
        body.send_keys("/").await.unwrap();
        assert_eq!(js(&c, "return document.activeElement.id").await, json!("q"));
        c.find(Locator::Css("#q")).await.unwrap().send_keys("\u{E00C}").await.unwrap();
        assert_eq!(js(&c, "return document.activeElement.id").await, json!(""), "Esc leaves the field");
        body.send_keys("?").await.unwrap();
        assert_eq!(js(&c, "return document.getElementById('keys').open").await, json!(true));
        screenshot(&c, "keys").await;
        body.send_keys("\u{E00C}").await.unwrap();
        assert_eq!(js(&c, "return document.getElementById('keys').open").await, json!(false));
        body.send_keys("gi").await.unwrap();
        until(&c, "g i goes to images", "return location.pathname === '/images'", "location.pathname").await;
        // The search box: one hit goes to its page.
        let search = c.find(Locator::Css("#global-search")).await.unwrap();
        search.send_keys(&format!("{}\u{E007}", run.name("ui"))).await.unwrap();
        until(
            &c,
            "the search goes to the container",
            &format!("return location.pathname === '/containers/{id}'"),
            "location.pathname",
        )
        .await;
    }
    .await;
    c.close().await.unwrap();
    outcome
}
