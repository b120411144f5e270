//! Accessibility (issue 19, item 6), judged by axe-core (Deque's engine, vendored under
//! `tests/vendor/axe-core/` at 4.12.1, MPL-2.0; for tests only, never served): every page of a
//! prepared engine, logged in as the admin, in the light and the dark theme, has no violation
//! of impact "serious" or "critical". Screenshots of each page in both themes go to
//! `target/screenshots/a11y-*`.

use std::time::Duration;

use fantoccini::Client;
use serde_json::{Value, json};

use crate::browser::{browser, driver, login, screenshot, visit_patiently as visit};
use crate::support::{Run, TestApp, find, spawn_logged_in};

const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");

/// The serious and critical violations axe finds on the page shown: "rule: target (summary)".
async fn violations(c: &Client) -> Vec<String> {
    // WebDriver's scripts are not the page's: the Content-Security-Policy does not stop them.
    c.execute(&format!("{AXE}\n;return typeof axe"), vec![])
        .await
        .expect("axe loads");
    let r = c
        .execute_async(
            "var done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then(function (r) { done(r.violations.filter(function (v) {
                   return v.impact === 'serious' || v.impact === 'critical';
                 }).map(function (v) {
                   return v.id + ': ' + v.nodes.slice(0, 3).map(function (n) {
                     return n.target.join(' ') + ' (' + (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 160) + ')';
                   }).join(' | ');
                 })); })
               .catch(function (e) { done(['axe failed: ' + e]); });",
            vec![],
        )
        .await
        .expect("axe runs");
    r.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

async fn listed(app: &TestApp, id: &str) {
    app.eventually(Duration::from_secs(10), || async {
        find(&app.json("/api/containers").await, "id", id).is_some()
    })
    .await
    .expect("listed");
}

#[tokio::test]
async fn every_page_passes_axe_in_both_themes() {
    let d = driver().await;
    let run = Run::new();
    let app = spawn_logged_in().await;
    let vol = run.volume("a11y-vol", &[]);
    let net = run.network("a11y-net", &[]);
    let mount = format!("{vol}:/data");
    let id = run.container(
        "a11y",
        true,
        &[
            "-v",
            &mount,
            "--network",
            &net,
            "--label",
            "berth.note=<b>bold</b>",
        ],
        &[],
    );
    let img = run.two_layer_image("a11y");
    listed(&app, &id).await;
    let c = browser(&d).await;
    let outcome = async {
        visit(&c, &app.at("/login")).await;
        let mut found: Vec<String> = violations(&c)
            .await
            .into_iter()
            .map(|v| format!("/login: {v}"))
            .collect();
        login(&c, &app).await;
        let pages = [
            "/".to_string(),
            "/containers".into(),
            "/containers/new".into(),
            format!("/containers/{id}"),
            format!("/containers/{id}/processes"),
            format!("/containers/{id}/changes"),
            format!("/containers/{id}/files"),
            format!("/containers/{id}/logs"),
            format!("/containers/{id}/stats"),
            format!("/containers/{id}/events"),
            format!("/containers/{id}/console"),
            "/images".into(),
            format!("/images/{img}"),
            "/layers".into(),
            "/stacks".into(),
            "/networks".into(),
            format!("/networks/{net}"),
            "/volumes".into(),
            format!("/volumes/{vol}"),
            "/events".into(),
            format!("/search?q={}", run.id),
            "/endpoints".into(),
            "/endpoints/1/edit".into(),
            "/images/prune".into(),
            "/users".into(),
            "/registries".into(),
            "/settings".into(),
            "/audit".into(),
            "/account".into(),
            "/containers/berth-no-such-container".into(),
        ];
        for theme in ["light", "dark"] {
            c.execute(
                &format!("localStorage.setItem('berth-theme', '{theme}'); return 1"),
                vec![],
            )
            .await
            .unwrap();
            for p in &pages {
                visit(&c, &app.at(p)).await;
                tokio::time::sleep(Duration::from_millis(400)).await;
                let shown: Value = c
                    .execute(
                        "return document.documentElement.getAttribute('data-theme')",
                        vec![],
                    )
                    .await
                    .unwrap();
                assert_eq!(shown, json!(theme), "{p}");
                for v in violations(&c).await {
                    found.push(format!("{p} ({theme}): {v}"));
                }
                let name: String = p
                    .trim_start_matches('/')
                    .chars()
                    .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
                    .take(40)
                    .collect();
                let name = if name.is_empty() {
                    "dashboard".into()
                } else {
                    name
                };
                screenshot(&c, &format!("a11y-{theme}-{name}")).await;
            }
        }
        assert!(
            found.is_empty(),
            "axe-core found {} serious or critical violations:\n{}",
            found.len(),
            found.join("\n")
        );
    }
    .await;
    c.close().await.unwrap();
    outcome
}
