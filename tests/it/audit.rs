//! The audit page and its export: filters, paging, CSV read back by Python's csv module (an
//! oracle Berth did not write), hostile names escaped, bounded user names, retention.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{ADMIN_PASSWORD, Opts, spawn, spawn_logged_in};

/// A name a spreadsheet would run, a page would execute, and a CSV would split.
const HOSTILE: &str = "=HYPERLINK(\"http://x\",\"a,b\")<script>alert(1)</script>";

/// Rows as Python's csv module reads them.
fn python_csv(text: &str) -> Vec<Vec<String>> {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import csv, json, sys; print(json.dumps(list(csv.reader(sys.stdin, strict=True))))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python's csv reader refused the export"
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn put_setting(app: &crate::support::TestApp, key: &str, value: &str) -> reqwest::Response {
    app.client
        .put(app.at(&format!("/api/settings/{key}")))
        .json(&json!({ "value": value }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_audit_log_filters_pages_and_exports_hostile_rows_safely() {
    let app = spawn_logged_in().await;
    // A failed login from a hostile name, a long name, and a few setting changes.
    let anon = crate::support::client();
    for name in [HOSTILE.to_string(), "x".repeat(300)] {
        let r = anon
            .post(app.at("/login"))
            .form(&[
                ("username", name.as_str()),
                ("password", "wrong-password-here"),
            ])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    for i in 0..5 {
        assert_eq!(
            put_setting(&app, &format!("audit.test{i}"), "v")
                .await
                .status(),
            204
        );
    }
    assert_eq!(put_setting(&app, "Bad Key", "v").await.status(), 422);

    let all: Value = app.json("/api/audit?limit=1000").await;
    let rows = all.as_array().unwrap();
    // Newest first, and every user name bounded.
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    for r in rows {
        if let Some(u) = r["username"].as_str() {
            assert!(
                u.chars().count() <= 64,
                "unbounded user name in the audit: {}",
                u.len()
            );
        }
    }

    // Filters: user, action (exact and by area), outcome (exact and by its first word), time.
    let mine: Value = app
        .json("/api/audit?user=admin&action=setting.change")
        .await;
    let mine = mine.as_array().unwrap();
    assert_eq!(mine.len(), 6, "{mine:?}");
    assert!(
        mine.iter()
            .all(|r| r["username"] == "admin" && r["action"] == "setting.change")
    );
    let area: Value = app.json("/api/audit?action=setting.").await;
    assert_eq!(area.as_array().unwrap().len(), 6);
    let ok: Value = app
        .json("/api/audit?action=setting.change&outcome=ok")
        .await;
    assert_eq!(ok.as_array().unwrap().len(), 5);
    let refused: Value = app.json("/api/audit?outcome=refused").await;
    assert!(
        refused
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["target"] == "Bad Key"),
        "{refused}"
    );
    let first = rows.last().unwrap()["at"].as_i64().unwrap();
    let none: Value = app.json(&format!("/api/audit?until={}", first - 1)).await;
    assert_eq!(none.as_array().unwrap().len(), 0);
    let since: Value = app
        .json(&format!("/api/audit?since={first}&limit=1000"))
        .await;
    assert_eq!(since.as_array().unwrap().len(), rows.len());
    let future: Value = app.json("/api/audit?since=2999-01-01").await;
    assert_eq!(future.as_array().unwrap().len(), 0);
    // Paging: two rows, then the two before them.
    let p1: Value = app.json("/api/audit?limit=2").await;
    let last = p1[1]["id"].as_i64().unwrap();
    let p2: Value = app.json(&format!("/api/audit?limit=2&before={last}")).await;
    assert_eq!(p2[0]["id"].as_i64().unwrap(), ids[2]);
    assert_eq!(p2[1]["id"].as_i64().unwrap(), ids[3]);
    // Bad filters are named.
    for (q, field) in [
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("limit=0", "limit"),
        ("format=xml", "format"),
    ] {
        let r = app.get(&format!("/api/audit?{q}")).await;
        assert_eq!(r.status(), 422, "{q}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["field"], field, "{q}: {body}");
    }

    // CSV: read back by Python, every cell as written, the formula defused.
    let r = app.get("/api/audit?format=csv&limit=1000").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cd.starts_with("attachment; filename=\"berth-audit-") && cd.ends_with(".csv\""),
        "{cd}"
    );
    let text = r.text().await.unwrap();
    let table = python_csv(&text);
    assert_eq!(
        table[0],
        [
            "id", "at", "user", "client", "endpoint", "action", "target", "outcome"
        ]
    );
    assert_eq!(table.len(), rows.len() + 1);
    for (row, json) in table[1..].iter().zip(rows) {
        assert_eq!(row.len(), 8);
        assert_eq!(row[0], json["id"].as_i64().unwrap().to_string());
        assert_eq!(row[5], json["action"].as_str().unwrap());
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "a spreadsheet would run {cell:?}"
            );
        }
    }
    let hostile_row = table
        .iter()
        .find(|r| r[2].contains("HYPERLINK"))
        .expect("the hostile login is in the export");
    assert_eq!(hostile_row[2], format!("'{HOSTILE}"));
    // JSON export: the same rows, as a download.
    let r = app.get("/api/audit?format=json&limit=1000").await;
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .ends_with(".json\"")
    );
    let exported: Value = r.json().await.unwrap();
    assert_eq!(exported.as_array().unwrap().len(), rows.len());

    // The page: escaped, filtered, paged.
    let page = app.get("/audit").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)"), "hostile name unescaped");
    assert!(
        html.contains("&lt;script&gt;alert(1)") || html.contains("&#60;script&#62;alert(1)"),
        "hostile name shown escaped"
    );
    let html = app
        .get("/audit?action=setting.change&outcome=ok")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(html.matches("<code>setting.change</code>").count(), 5);
    assert!(html.contains("format=csv"), "export link");
    let bad = app.get("/audit?since=soon").await.text().await.unwrap();
    assert!(
        bad.contains("is not a time"),
        "bad filter named on the page"
    );
}

#[tokio::test]
async fn retention_prunes_at_start_and_refuses_nonsense() {
    let app = spawn_logged_in().await;
    for i in 0..12 {
        assert_eq!(
            put_setting(&app, &format!("fill.k{i}"), "v").await.status(),
            204
        );
    }
    assert_eq!(
        put_setting(&app, "audit.retention_rows", "ten")
            .await
            .status(),
        422
    );
    assert_eq!(
        put_setting(&app, "audit.retention_days", "0")
            .await
            .status(),
        422
    );
    assert_eq!(
        put_setting(&app, "audit.retention_rows", "5")
            .await
            .status(),
        204
    );
    assert_eq!(
        put_setting(&app, "audit.retention_days", "30")
            .await
            .status(),
        204
    );
    let before: Value = app.json("/api/audit?limit=1000").await;
    assert!(before.as_array().unwrap().len() > 10);
    let newest = before[0]["id"].as_i64().unwrap();

    // A restart prunes: the newest five stay, and the pruning itself is recorded.
    let (data, _tmp) = app.stop().await;
    let app = spawn(Opts {
        data: Some(&data),
        ..Default::default()
    })
    .await;
    let store = app.server.as_ref().unwrap().state.store.clone();
    let pruned = app
        .eventually(Duration::from_secs(5), || {
            let store = store.clone();
            async move {
                store
                    .recent_audit(100)
                    .await
                    .unwrap()
                    .iter()
                    .any(|r| r.action == "audit.prune")
            }
        })
        .await;
    assert!(pruned.is_some(), "no audit.prune row after the restart");
    let rows = store.recent_audit(100).await.unwrap();
    let kept: Vec<i64> = rows
        .iter()
        .filter(|r| r.action != "audit.prune")
        .map(|r| r.id)
        .collect();
    assert!(kept.len() <= 5, "{kept:?}");
    assert!(kept.contains(&newest), "the newest row was kept");
    let prune = rows.iter().find(|r| r.action == "audit.prune").unwrap();
    assert!(
        prune
            .target
            .as_deref()
            .unwrap_or("")
            .contains("past the newest 5"),
        "{prune:?}"
    );
    app.login("admin", ADMIN_PASSWORD).await;
    let page = app.get("/audit").await.text().await.unwrap();
    assert!(
        page.contains("30 days") && page.contains("5 rows"),
        "retention shown"
    );
}
