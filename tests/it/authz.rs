//! Authorization: the permission table walked for anonymous, viewer, operator and admin; roles as
//! an allow-list; secrets kept from viewers; Berth's own container and data volume kept from all.

use std::collections::BTreeSet;
use std::path::Path;

use berth::http::access::{Permission, ROUTES, Role};
use serde_json::json;

use crate::support::{Opts, Run, TestApp, client, docker, docker_quiet, spawn};

const PASSWORD: &str = "authz-password-long-enough";

/// Adds a user with `role` straight into Berth's database (also a role word the API refuses).
async fn add_user(app: &TestApp, name: &str, role: &str, ignore_check: bool) {
    let hash = berth::auth::hash_password(PASSWORD.into()).await.unwrap();
    let db = app.data.join("berth.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    if ignore_check {
        sqlx::query("PRAGMA ignore_check_constraints = ON")
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    sqlx::query(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, 0)",
    )
    .bind(name)
    .bind(hash)
    .bind(role)
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    pool.close().await;
}

/// A client logged in as `name`.
async fn session(app: &TestApp, name: &str) -> reqwest::Client {
    let c = client();
    let r = c
        .post(app.at("/login"))
        .form(&[("username", name), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "login as {name}");
    c
}

/// The concrete path of a route: every parameter names nothing that exists.
fn concrete(path: &str) -> String {
    path.replace("{id}", "999999")
        .replace("{name}", "berth-authz-nothing")
        .replace("{action}", "start")
        .replace("{key}", "no.such.key")
        .replace("{*path}", "app.js")
}

async fn call(
    c: &reqwest::Client,
    app: &TestApp,
    method: &str,
    path: &str,
    label: &str,
) -> reqwest::Response {
    let url = app.at(&concrete(path));
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let req = c.request(m.clone(), url);
    // A body every mutating handler can read: the run's label (so a prune prunes only this
    // run's objects) and a name no engine accepts (so nothing is created).
    let req = if m == reqwest::Method::GET {
        req
    } else if path.starts_with("/api/") {
        req.json(&json!({"label": label, "name": "-authz-invalid", "image": ""}))
    } else {
        req.form(&[("label", label), ("name", "-authz-invalid"), ("image", "")])
    };
    req.timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

fn refused_login(r: &reqwest::Response) -> bool {
    r.status() == 401
        || (r.status() == 303
            && r.headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|l| l == "/login" || l == "/setup"))
}

#[tokio::test]
async fn every_route_in_the_table_answers_each_role_as_the_table_says() {
    let run = Run::new();
    let app = spawn(Opts::default()).await;
    add_user(&app, "viewer", "viewer", false).await;
    add_user(&app, "operator", "operator", false).await;
    add_user(&app, "boss", "admin", false).await;
    let label = run.label();
    let anonymous = client();
    let clients = [
        (Role::Viewer, session(&app, "viewer").await),
        (Role::Operator, session(&app, "operator").await),
        (Role::Admin, session(&app, "boss").await),
    ];
    let store = &app.server.as_ref().unwrap().state.store;
    let mut failures = Vec::new();
    for route in ROUTES {
        // Logging out ends the session the walk goes on with: tested on its own below.
        if route.path == "/logout" || route.path.starts_with("/setup") {
            continue;
        }
        let r = call(&anonymous, &app, route.method, route.path, &label).await;
        let ok = match route.perm {
            // (A wrong password at POST /login is the handler's own 401.)
            Permission::Public => r.status() != 403 && r.status().as_u16() < 500,
            _ => refused_login(&r),
        };
        if !ok {
            failures.push(format!(
                "anonymous {} {}: {}",
                route.method,
                route.path,
                r.status()
            ));
        }
        if route.perm == Permission::Public {
            continue;
        }
        for (role, c) in &clients {
            let before = store.recent_audit(1000).await.unwrap().len();
            let r = call(c, &app, route.method, route.path, &label).await;
            let status = r.status();
            drop(r);
            let after = store.recent_audit(1000).await.unwrap().len();
            let reached = !refused_login_status(status) && status != 403;
            if role.allows(route.perm) != reached {
                failures.push(format!(
                    "{role} {} {}: {status} (table: {:?})",
                    route.method, route.path, route.perm
                ));
            }
            if status == 403 && after != before {
                failures.push(format!(
                    "{role} {} {}: refused yet audited",
                    route.method, route.path
                ));
            }
            if after > before + 1 {
                failures.push(format!(
                    "{role} {} {}: {} audit rows for one request",
                    route.method,
                    route.path,
                    after - before
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Every role may log out.
    for (role, c) in &clients {
        let r = c.post(app.at("/logout")).send().await.unwrap();
        assert_eq!(r.status(), 303, "{role} logs out");
        let r = c.get(app.at("/containers")).send().await.unwrap();
        assert!(refused_login(&r), "{role}'s session is gone");
    }
}

fn refused_login_status(s: reqwest::StatusCode) -> bool {
    // A handler's own redirect (switch endpoint, a form's way back) is not the login guard's:
    // the guard's is told apart by its Location in `refused_login`; here a 401 is enough, and
    // 303s were checked against /login by the anonymous pass.
    s == 401
}

/// The `(method, path)` of every `.route(…)` in the source tree, read as text.
fn declared_routes() -> BTreeSet<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("server"),
        &mut files,
    );
    let mut routes = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let Some(q1) = rest.find('"') else { break };
            if !rest[..q1].trim().is_empty() {
                continue;
            }
            let q2 = q1 + 1 + rest[q1 + 1..].find('"').unwrap();
            let path = rest[q1 + 1..q2].to_string();
            // The call's arguments: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let mut end = q2;
            for (i, ch) in rest[q2..].char_indices() {
                match ch {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = q2 + i;
                    break;
                }
            }
            let args = &rest[q2..end];
            for m in ["get", "post", "put", "delete", "patch"] {
                let needle = format!("{m}(");
                let mut s = args;
                while let Some(i) = s.find(&needle) {
                    let before = args.len() - s.len() + i;
                    let prev = args[..before].chars().last().unwrap_or(' ');
                    if !(prev.is_alphanumeric() || prev == '_') {
                        routes.insert((m.to_uppercase(), path.clone()));
                    }
                    s = &s[i + needle.len()..];
                }
            }
        }
    }
    routes
}

#[test]
fn the_permission_table_names_every_route_the_source_declares() {
    let declared = declared_routes();
    assert!(declared.len() > 100, "parsed {} routes", declared.len());
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let missing: Vec<_> = declared.difference(&table).collect();
    let stale: Vec<_> = table.difference(&declared).collect();
    assert!(
        missing.is_empty(),
        "routes without a permission in server/http/access.rs: {missing:?}"
    );
    assert!(stale.is_empty(), "table rows no route declares: {stale:?}");
}

#[tokio::test]
async fn roles_are_an_allow_list_checked_by_the_database_and_at_login() {
    let app = spawn(Opts::default()).await;
    // The database refuses a word outside the list…
    let hash = berth::auth::hash_password(PASSWORD.into()).await.unwrap();
    let db = app.data.join("berth.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let err = sqlx::query(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES ('x', ?, 'root', 0)",
    )
    .bind(&hash)
    .execute(&pool)
    .await
    .expect_err("CHECK refuses an unknown role");
    assert!(err.to_string().contains("CHECK"), "{err}");
    // …and a new row without a role is a viewer, not an admin.
    sqlx::query("INSERT INTO users (username, password_hash, created_at) VALUES ('plain', ?, 0)")
        .bind(&hash)
        .execute(&pool)
        .await
        .unwrap();
    let role: String = sqlx::query_scalar("SELECT role FROM users WHERE username = 'plain'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(role, "viewer");
    pool.close().await;

    // A word that got in anyway (checks switched off) is refused at login, never read as power.
    add_user(&app, "sneaky", "superuser", true).await;
    let c = client();
    let r = c
        .post(app.at("/login"))
        .form(&[("username", "sneaky"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let page = r.text().await.unwrap();
    assert!(page.contains("no role Berth knows"), "{page}");
    assert!(c.get(app.at("/containers")).send().await.unwrap().status() == 303);
    let audit = app
        .server
        .as_ref()
        .unwrap()
        .state
        .store
        .recent_audit(5)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "login" && a.outcome == "refused: unknown role"),
        "{audit:?}"
    );
}

#[tokio::test]
async fn viewers_see_no_secrets_and_make_nothing_on_the_engine() {
    let run = Run::new();
    let app = spawn(Opts::default()).await;
    add_user(&app, "viewer", "viewer", false).await;
    add_user(&app, "operator", "operator", false).await;
    let viewer = session(&app, "viewer").await;
    let operator = session(&app, "operator").await;
    app.login("admin", crate::support::ADMIN_PASSWORD).await;
    app.wait_synced().await;
    let vol = run.volume("secret-vol", &[]);
    let mount = format!("{vol}:/data");
    let c = run.container(
        "secret",
        true,
        &["-e", "DB_PASSWORD=hunter2-authz", "-v", &mount],
        &[],
    );
    let m = app.server.as_ref().unwrap().state.engines.primary().clone();
    app.eventually(std::time::Duration::from_secs(10), || async {
        m.read(|s| s.containers.contains_key(&c) && s.volumes.contains_key(vol.as_str()))
    })
    .await
    .expect("mirror in step");

    // The detail page masks env values (in the list and in the raw JSON) for the viewer only.
    let page = viewer
        .get(app.at(&format!("/containers/{c}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("DB_PASSWORD=••••"), "masked name kept");
    assert!(
        !page.contains("hunter2-authz"),
        "the value never reaches a viewer"
    );
    let page = operator
        .get(app.at(&format!("/containers/{c}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("DB_PASSWORD=hunter2-authz"));

    // Files, raw inspect, spec, downloads: 403 with a sentence.
    for path in [
        format!("/containers/{c}/files"),
        format!("/containers/{c}/files/download?path=/etc"),
        format!("/api/containers/{c}"),
        format!("/api/containers/{c}/spec"),
        format!("/api/volumes/{vol}/files"),
        format!("/volumes/{vol}/files"),
        format!("/volumes/{vol}/download?path=/"),
        format!("/images/export?ids={}", crate::support::TEST_IMAGE),
    ] {
        let r = viewer.get(app.at(&path)).send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains("operator role"), "{path}: {body}");
    }
    // The volume page says why instead of loading the files, and no helper container is made.
    let page = viewer
        .get(app.at(&format!("/volumes/{vol}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("files-refused") && page.contains("operator role"));
    assert!(!page.contains(&format!("/volumes/{vol}/files")));
    let helpers = docker_quiet(&[
        "ps",
        "-aq",
        "--filter",
        "label=berth.helper=volume-browser",
        "--filter",
        &format!("label=berth.volume={vol}"),
    ]);
    assert!(helpers.trim().is_empty(), "a viewer's visit made {helpers}");
    // The viewer still reads logs and stats and may switch endpoint.
    for path in [
        format!("/containers/{c}/logs"),
        format!("/api/containers/{c}/stats"),
    ] {
        let r = viewer.get(app.at(&path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = viewer
        .post(app.at("/endpoints/1/switch"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    // The operator browses.
    let r = operator
        .get(app.at(&format!("/api/containers/{c}/files?path=/etc")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn berths_own_container_and_data_volume_are_browsable_by_nobody() {
    let run = Run::new();
    let app = spawn(Opts::default()).await;
    app.login("admin", crate::support::ADMIN_PASSWORD).await;
    app.wait_synced().await;
    // A container of this run stands in for Berth's own: the data volume is mounted at Berth's
    // data folder, as in the README's `docker run -v berth-data:/data …`.
    let vol = run.volume("berth-data", &[]);
    let data = std::fs::canonicalize(&app.data).unwrap();
    let mount = format!("{vol}:{}", data.display());
    let own = run.container("berth-self", false, &["-v", &mount], &[]);
    let other_vol = run.volume("other", &[]);
    run.container("user", false, &["-v", &format!("{other_vol}:/data")], &[]);
    app.server
        .as_ref()
        .unwrap()
        .state
        .own
        .set_container(Some(own.clone()));
    let m = app.server.as_ref().unwrap().state.engines.primary().clone();
    app.eventually(std::time::Duration::from_secs(10), || async {
        m.read(|s| s.containers.contains_key(&own) && s.volumes.contains_key(vol.as_str()))
    })
    .await
    .expect("mirror in step");

    for path in [
        format!("/containers/{own}/files"),
        format!("/containers/{}/files", &own[..12]),
        format!("/api/containers/{own}/files?path=/"),
        format!("/containers/{own}/files/download?path=/etc&raw=false"),
        format!("/api/volumes/{vol}/files"),
        format!("/volumes/{vol}/files"),
        format!("/api/volumes/{vol}/download?path=/"),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status(), 403, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains("Berth"), "{path}: {body}");
    }
    let r = app
        .client
        .put(app.at(&format!("/api/volumes/{vol}/files?path=/&name=x")))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let page = app
        .get(&format!("/volumes/{vol}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Berth&#x27;s own data folder") || page.contains("own data folder"),
        "{page}"
    );
    // Nothing was written into it: the engine's own listing is empty.
    let listing = docker(&[
        "run",
        "--rm",
        "--label",
        &run.label(),
        "-v",
        &format!("{vol}:/v"),
        crate::support::TEST_IMAGE,
        "ls",
        "-A",
        "/v",
    ]);
    assert!(listing.trim().is_empty(), "{listing}");
    // Another volume and container stay browsable.
    assert_eq!(
        app.get(&format!("/api/volumes/{other_vol}/files"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get(&format!("/containers/{}/files", run.name("user")))
            .await
            .status(),
        200
    );
}
