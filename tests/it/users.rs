//! Users, accounts, API tokens, and a login that holds (issue 14: items 1, 2, 3, 6), against a
//! real Berth and its store; the command line against a running Berth's data folder.

use std::net::IpAddr;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{ADMIN_PASSWORD, Opts, TestApp, client, spawn};

const PW: &str = "users-test-password-1";

fn store(app: &TestApp) -> &berth::store::Store {
    &app.server.as_ref().unwrap().state.store
}

async fn audit_rows(app: &TestApp) -> Vec<berth::store::AuditEntry> {
    store(app).recent_audit(100_000).await.unwrap()
}

async fn login_as(app: &TestApp, c: &reqwest::Client, name: &str, pw: &str) -> reqwest::Response {
    c.post(app.at("/login"))
        .form(&[("username", name), ("password", pw)])
        .send()
        .await
        .unwrap()
}

async fn logged_in(app: &TestApp, name: &str, pw: &str) -> reqwest::Client {
    let c = client();
    let r = login_as(app, &c, name, pw).await;
    assert_eq!(r.status(), 303, "login as {name}");
    c
}

async fn create_user(app: &TestApp, name: &str, role: &str) -> i64 {
    let r = app
        .client
        .post(app.at("/api/users"))
        .json(&json!({"username": name, "password": PW, "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "create {name}");
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

#[tokio::test]
async fn users_are_created_changed_disabled_and_deleted_and_the_last_admin_stays() {
    let app = spawn(Opts::default()).await;
    app.login("admin", ADMIN_PASSWORD).await;
    let bob = create_user(&app, "bob", "viewer").await;

    // Contract: 409 on a taken name, 422 naming the field.
    let taken = app
        .client
        .post(app.at("/api/users"))
        .json(&json!({"username": "bob", "password": PW, "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), 409);
    assert_eq!(taken.json::<Value>().await.unwrap()["field"], "username");
    for (body, field) in [
        (
            json!({"username": "x y", "password": PW, "role": "viewer"}),
            "username",
        ),
        (
            json!({"username": "carl", "password": "short", "role": "viewer"}),
            "password",
        ),
        (
            json!({"username": "carl", "password": PW, "role": "root"}),
            "role",
        ),
        (json!({"username": "carl", "password": PW}), "role"),
    ] {
        let r = app
            .client
            .post(app.at("/api/users"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{body}");
        assert_eq!(r.json::<Value>().await.unwrap()["field"], field, "{body}");
    }
    let list = app.json("/api/users").await;
    let b = crate::support::find(&list, "username", "bob").expect("bob listed");
    for k in [
        "id",
        "username",
        "role",
        "disabled",
        "created_at",
        "last_login",
    ] {
        assert!(b.get(k).is_some(), "{k} in {b}");
    }
    assert!(b.get("password_hash").is_none());
    assert_eq!(b["role"], "viewer");

    // The role changes what bob may do at once (his session's role is re-read).
    let bob_c = logged_in(&app, "bob", PW).await;
    assert_eq!(
        bob_c
            .get(app.at("/api/settings"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let r = app
        .client
        .put(app.at(&format!("/api/users/{bob}")))
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(berth::store::SESSION_CACHE_TTL).await;
    assert_eq!(
        bob_c
            .get(app.at("/api/settings"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The last enabled admin: bob and admin are admins; demote bob, then admin cannot go.
    let r = app
        .client
        .put(app.at(&format!("/api/users/{bob}")))
        .json(&json!({"role": "operator"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let admin_id = crate::support::find(&app.json("/api/users").await, "username", "admin")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    for body in [json!({"role": "viewer"}), json!({"disabled": true})] {
        let r = app
            .client
            .put(app.at(&format!("/api/users/{admin_id}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{body}");
        assert!(r.text().await.unwrap().contains("last enabled admin"));
    }
    let r = app
        .client
        .delete(app.at(&format!("/api/users/{admin_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(app.get("/api/info").await.status(), 200, "admin still in");

    // Disabling ends bob's session at once, and he cannot log in.
    assert_eq!(
        bob_c
            .get(app.at("/api/info"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = app
        .client
        .put(app.at(&format!("/api/users/{bob}")))
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        bob_c
            .get(app.at("/api/info"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(login_as(&app, &client(), "bob", PW).await.status(), 403);
    let r = app
        .client
        .put(app.at(&format!("/api/users/{bob}")))
        .json(&json!({"disabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A reset password must be changed at the next login: pages lead to /account, the API
    // says why, and the change opens everything again.
    let temp = "temporary-password-9";
    let r = app
        .client
        .put(app.at(&format!("/api/users/{bob}")))
        .json(&json!({"password": temp}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(login_as(&app, &client(), "bob", PW).await.status(), 401);
    let bob_c = logged_in(&app, "bob", temp).await;
    let r = bob_c.get(app.at("/containers")).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/account");
    let r = bob_c.get(app.at("/api/info")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("change it first"));
    assert_eq!(
        bob_c.get(app.at("/account")).send().await.unwrap().status(),
        200
    );
    let r = bob_c
        .post(app.at("/api/account/password"))
        .json(&json!({"current": temp, "new": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        bob_c
            .get(app.at("/api/info"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Deleting ends sessions and tokens; ids are never given again.
    let tok: Value = bob_c
        .post(app.at("/api/tokens"))
        .json(&json!({"name": "bobs"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = app
        .client
        .delete(app.at(&format!("/api/users/{bob}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        bob_c
            .get(app.at("/api/info"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let r = client()
        .get(app.at("/api/info"))
        .bearer_auth(tok["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let next = create_user(&app, "bob", "viewer").await;
    assert!(next > bob, "id {next} after deleting {bob}");

    // The page lists users, escaping names; one audit row per action.
    let page = app.get("/users").await.text().await.unwrap();
    assert!(page.contains("bob") && page.contains("last enabled admin"));
    let rows = audit_rows(&app).await;
    for action in [
        "user.create",
        "user.update",
        "user.delete",
        "account.password",
        "token.create",
    ] {
        assert!(rows.iter().any(|a| a.action == action), "{action}");
    }
}

#[tokio::test]
async fn an_api_token_lives_is_used_expires_and_is_revoked_and_never_opens_pages() {
    let app = spawn(Opts::default()).await;
    app.login("admin", ADMIN_PASSWORD).await;
    create_user(&app, "vic", "viewer").await;
    let vic = logged_in(&app, "vic", PW).await;
    let made: Value = vic
        .post(app.at("/api/tokens"))
        .json(&json!({"name": "ci deploy", "expires_in_days": 30}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = made["token"].as_str().unwrap().to_string();
    let id = made["id"].as_i64().unwrap();
    // Stored as SHA-256 only.
    let db = app.data.join("berth.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let stored: String = sqlx::query_scalar("SELECT token_hash FROM api_tokens WHERE id = ?")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, berth::auth::token_hash(&token));
    assert!(!stored.contains(&token));

    // Bearer and X-API-Key authenticate /api with the owner's role, from a client without a
    // cookie; a token never opens a page.
    let bare = client();
    assert_eq!(
        bare.get(app.at("/api/info"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        bare.get(app.at("/api/info"))
            .header("x-api-key", &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        bare.get(app.at("/api/settings"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        403,
        "a viewer's token is a viewer"
    );
    let page = bare
        .get(app.at("/containers"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/login");
    assert_eq!(
        bare.get(app.at("/api/info"))
            .bearer_auth("berth_nonsense")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // Tokens skip the forgery check (no cookie); a cross-site call with it works, and its audit
    // row names the token.
    let admin_tok: Value = app
        .client
        .post(app.at("/api/tokens"))
        .json(&json!({"name": "admin-script"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin_tok = admin_tok["token"].as_str().unwrap();
    let r = bare
        .put(app.at("/api/settings/ui.theme"))
        .bearer_auth(admin_tok)
        .header("origin", "http://elsewhere.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"value": "dark"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let row = audit_rows(&app)
        .await
        .into_iter()
        .find(|a| a.action == "setting.change")
        .unwrap();
    assert_eq!(row.username.as_deref(), Some("admin"));
    assert!(
        row.token
            .as_deref()
            .is_some_and(|t| t.contains("admin-script")),
        "{row:?}"
    );

    // Last use is recorded; the list shows it (never the token).
    let list: Value = vic
        .get(app.at("/api/tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t = crate::support::find(&list, "name", "ci deploy").unwrap();
    assert!(t["last_used"].is_i64(), "{t}");
    assert!(!list.to_string().contains(&token));
    // Only admins ask for everyone's.
    assert_eq!(
        vic.get(app.at("/api/tokens?all=1"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let all: Value = app.json("/api/tokens?all=1").await;
    assert_eq!(all.as_array().unwrap().len(), 2);

    // Expiry: once its time has passed the token is refused.
    sqlx::query("UPDATE api_tokens SET expires_at = 1 WHERE id = ?")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        bare.get(app.at("/api/info"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    sqlx::query("UPDATE api_tokens SET expires_at = NULL WHERE id = ?")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        bare.get(app.at("/api/info"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    pool.close().await;

    // Revoking works at once; someone else's token reads as missing to a non-admin.
    let admin_tok_id = crate::support::find(&all, "name", "admin-script").unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        vic.delete(app.at(&format!("/api/tokens/{admin_tok_id}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        vic.delete(app.at(&format!("/api/tokens/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        bare.get(app.at("/api/info"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert!(
        audit_rows(&app)
            .await
            .iter()
            .any(|a| a.action == "token.revoke" && a.outcome == "ok")
    );

    // Bad names and expiries are 422 with the field.
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "<script>"}), "name"),
        (
            json!({"name": "x", "expires_in_days": 0}),
            "expires_in_days",
        ),
    ] {
        let r = vic
            .post(app.at("/api/tokens"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{body}");
        assert_eq!(r.json::<Value>().await.unwrap()["field"], field);
    }
}

#[tokio::test]
async fn the_account_changes_the_password_and_lists_and_ends_sessions() {
    let app = spawn(Opts::default()).await;
    app.login("admin", ADMIN_PASSWORD).await;
    create_user(&app, "olga", "operator").await;
    let a = logged_in(&app, "olga", PW).await;
    let b = logged_in(&app, "olga", PW).await;
    let sessions: Value = a
        .get(app.at("/api/account/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mine = sessions.as_array().unwrap();
    assert_eq!(mine.len(), 2, "only her own: {sessions}");
    assert!(
        mine.iter()
            .all(|s| s["client"] == "127.0.0.1" && s["created_at"].is_i64())
    );
    assert_eq!(mine.iter().filter(|s| s["current"] == true).count(), 1);
    // Admins see everyone's.
    let all: Value = app.json("/api/account/sessions").await;
    assert!(all.as_array().unwrap().len() >= 3);
    // Wrong current password: 422 on `current`, nothing changes.
    let r = a
        .post(app.at("/api/account/password"))
        .json(&json!({"current": "not-it-at-all", "new": "another-password-22"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "current");
    // The change keeps this session and ends the other.
    let r = a
        .post(app.at("/api/account/password"))
        .json(&json!({"current": PW, "new": "another-password-22"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        a.get(app.at("/api/info")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        b.get(app.at("/api/info")).send().await.unwrap().status(),
        401
    );
    // Revoking: her own, and an admin revokes hers; she cannot revoke the admin's.
    let c = logged_in(&app, "olga", "another-password-22").await;
    let list: Value = a
        .get(app.at("/api/account/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] != true)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        a.delete(app.at(&format!("/api/account/sessions/{other}")))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        c.get(app.at("/api/info")).send().await.unwrap().status(),
        401
    );
    let all: Value = app.json("/api/account/sessions").await;
    let admins = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["username"] == "admin")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        a.delete(app.at(&format!("/api/account/sessions/{admins}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let hers = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["username"] == "olga")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        app.client
            .delete(app.at(&format!("/api/account/sessions/{hers}")))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        a.get(app.at("/api/info")).send().await.unwrap().status(),
        401
    );
    // The page shows the account, and a token once.
    let page = app.get("/account").await.text().await.unwrap();
    assert!(page.contains("Sessions") && page.contains("API tokens"));
    let r = app
        .post_form(
            "/account/tokens",
            &[("name", "from-page"), ("expires_in_days", "")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("berth_") && page.contains("will not show it again"));
    assert!(
        !app.get("/account")
            .await
            .text()
            .await
            .unwrap()
            .contains("id=\"new-token\"")
    );
}

#[tokio::test]
async fn sessions_end_at_their_absolute_lifetime_even_when_used() {
    let app = spawn(Opts {
        args: vec!["--session-lifetime".into(), "2s".into()],
        ..Default::default()
    })
    .await;
    app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(app.get("/api/info").await.status(), 200);
    let mut ended = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if app.get("/api/info").await.status() == 401 {
            ended = true;
            break;
        }
    }
    assert!(ended, "a session used all along ends after its lifetime");
}

#[tokio::test]
async fn a_256_kib_user_name_is_refused_before_throttling_and_audit() {
    let app = spawn(Opts::default()).await;
    let before = audit_rows(&app).await.len();
    let huge = "a".repeat(256 * 1024);
    for name in [huge.as_str(), "ad\u{7}min", &"b".repeat(65)] {
        for _ in 0..8 {
            let r = app
                .post_form(
                    "/login",
                    &[("username", name), ("password", "whatever-it-is")],
                )
                .await;
            assert_eq!(r.status(), 422);
            let body = r.text().await.unwrap();
            assert!(body.len() < 64 * 1024, "the name is not echoed back");
        }
    }
    assert_eq!(audit_rows(&app).await.len(), before, "no audit row");
    // Nothing was throttled by them either: the admin logs in.
    app.login("admin", ADMIN_PASSWORD).await;
}

/// A client whose connections come from `ip` (any 127.x address reaches a Berth on 127.0.0.1).
fn client_from(ip: &str) -> reqwest::Client {
    berth::install_crypto_provider();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(ip.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_lock_the_admin_out_from_another() {
    let app = spawn(Opts::default()).await;
    let attacker = client_from("127.0.0.1");
    for _ in 0..5 {
        let r = login_as(&app, &attacker, "admin", "wrong-password-x").await;
        assert_eq!(r.status(), 401);
    }
    let r = login_as(&app, &attacker, "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 429, "the attacker's pair is locked");
    // Locked-out attempts are counted, not written one row each.
    for _ in 0..20 {
        assert_eq!(
            login_as(&app, &attacker, "admin", "wrong-password-x")
                .await
                .status(),
            429
        );
    }
    let throttled = audit_rows(&app)
        .await
        .iter()
        .filter(|a| a.outcome.starts_with("throttled"))
        .count();
    assert_eq!(
        throttled, 1,
        "one row for the lockout, none per refused attempt"
    );
    assert!(app.server.as_ref().unwrap().state.throttle.refused_total() >= 21);
    // The admin, from elsewhere, logs in.
    let admin = client_from("127.0.0.2");
    assert_eq!(
        login_as(&app, &admin, "admin", ADMIN_PASSWORD)
            .await
            .status(),
        303
    );
    // And the attacker's address is not locked for other names.
    assert_eq!(
        login_as(&app, &attacker, "nobody", "wrong-password-x")
            .await
            .status(),
        401
    );
}

// ---------------------------------------------------------------- Berth as its own process

struct Proc {
    child: std::process::Child,
    url: String,
    _tmp: tempfile::TempDir,
    data: std::path::PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_process() -> Proc {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, ADMIN_PASSWORD).unwrap();
    let port = free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--bind-https", &format!("127.0.0.1:{}", free_port())])
        .arg("--data")
        .arg(&data)
        .arg("--admin-password-file")
        .arg(&pw)
        .args(["-H", "unix:///var/run/docker.sock", "--log-level", "warn"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    // Killed and waited for on drop, also when it never answers.
    let mut p = Proc {
        child,
        url: url.clone(),
        _tmp: tmp,
        data,
    };
    let c = client();
    for _ in 0..600 {
        if c.get(format!("{url}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = p.child.kill();
    panic!("Berth did not start");
}

fn proc_kb(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn sixteen_concurrent_logins_stay_small_and_verify_at_most_the_allowed_number() {
    let p = start_process().await;
    let pid = p.child.id();
    let before = proc_kb(pid, "VmHWM:");
    let idle = proc_kb(pid, "VmRSS:");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let url = p.url.clone();
        tasks.push(tokio::spawn(async move {
            client()
                .post(format!("{url}/login"))
                .form(&[("username", "admin"), ("password", "wrong-password-x")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let peak = proc_kb(pid, "VmHWM:");
    let verified = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    eprintln!(
        "16 concurrent logins: {verified} verified, {refused} refused (429); peak RSS {:.1} MB (idle {:.1} MB, peak before {:.1} MB)",
        peak as f64 / 1024.0,
        idle as f64 / 1024.0,
        before as f64 / 1024.0
    );
    assert_eq!(verified + refused, 16, "{statuses:?}");
    assert!(
        verified <= 5,
        "at most the 5 allowed attempts are verified: {statuses:?}"
    );
    // Argon2 holds 19 MiB per check and runs in at most `argon2_limit()` slots at once: the
    // load adds at most that (plus a little) to the resident set. The absolute bar (60 MB) is
    // the shipped (release) binary's: a debug binary's own text is ~40 MB resident already.
    let slots = berth::auth::argon2_limit() as u64;
    let allowed = slots * 19 * 1024 + 8 * 1024;
    assert!(
        peak.saturating_sub(idle) <= allowed,
        "peak {peak} kB over {idle} kB idle: more than {slots} Argon2 checks at once?"
    );
    if !cfg!(debug_assertions) {
        assert!(peak < 60 * 1024, "peak RSS {peak} kB");
    }
    // The database holds them as rows: at most 5 verified, one lockout row.
    let db = p.data.join("berth.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE action = 'login'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(rows <= 6, "{rows} login rows");
    pool.close().await;
    // Files: the data folder was created 0700, the database files are 0600.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&p.data), 0o700);
    for f in ["berth.db", "berth.db-wal", "berth.db-shm"] {
        let path = p.data.join(f);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{f}");
        }
    }
}

fn berth_cli(data: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("--data")
        .arg(data)
        .arg("user")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn the_command_line_manages_users_of_a_running_berth() {
    let app = spawn(Opts::default()).await;
    let pwf = app.data.join("carla-password");
    std::fs::write(&pwf, format!("{PW}\n")).unwrap();
    let data = app.data.clone();
    let pwf2 = pwf.clone();
    let (ok, out) = tokio::task::spawn_blocking(move || {
        berth_cli(
            &data,
            &[
                "add",
                "carla",
                "--role",
                "admin",
                "--password-file",
                pwf2.to_str().unwrap(),
            ],
            None,
        )
    })
    .await
    .unwrap();
    assert!(ok, "{out}");
    // The running Berth lets her in.
    let carla = logged_in(&app, "carla", PW).await;
    assert_eq!(
        carla
            .get(app.at("/api/settings"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let data = app.data.clone();
    let (ok, out) = tokio::task::spawn_blocking(move || berth_cli(&data, &["list"], None))
        .await
        .unwrap();
    assert!(
        ok && out.contains("carla") && out.contains("admin"),
        "{out}"
    );
    // A taken name and a bad role are refused with a sentence.
    let data = app.data.clone();
    let (ok, out) = tokio::task::spawn_blocking(move || {
        berth_cli(
            &data,
            &[
                "add",
                "carla",
                "--role",
                "wizard",
                "--password-file",
                pwf.to_str().unwrap(),
            ],
            None,
        )
    })
    .await
    .unwrap();
    assert!(!ok && out.contains("role"), "{out}");
    // passwd from standard input ends her sessions; the new password works.
    let data = app.data.clone();
    let (ok, out) = tokio::task::spawn_blocking(move || {
        berth_cli(&data, &["passwd", "carla"], Some("cli-set-password-77\n"))
    })
    .await
    .unwrap();
    assert!(ok, "{out}");
    tokio::time::sleep(berth::store::SESSION_CACHE_TTL + Duration::from_millis(200)).await;
    assert_eq!(
        carla
            .get(app.at("/api/info"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    logged_in(&app, "carla", "cli-set-password-77").await;
    let rows = audit_rows(&app).await;
    assert!(
        rows.iter()
            .any(|a| a.action == "user.create" && a.username.as_deref() == Some("(command line)"))
    );
}
