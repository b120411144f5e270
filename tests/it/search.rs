//! The global search box (issue 19, item 4): every kind found by name or id prefix, from the
//! mirror; one hit goes to its page; hostile queries are escaped.

use crate::support::{Run, spawn_logged_in};

#[tokio::test]
async fn search_finds_each_kind_by_name_and_id_and_goes_to_a_single_hit() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let c = run.container("find-me", false, &[], &[]);
    let n = run.network("find-net", &[]);
    let v = run.volume("find-vol", &[]);
    app.wait_synced().await;
    // Everything this run made has its id in the name: all three kinds are listed.
    let all = app
        .eventually(std::time::Duration::from_secs(10), || async {
            let r = app.get(&format!("/search?q={}", run.id)).await;
            let html = r.text().await.unwrap();
            html.contains(&run.name("find-me"))
                && html.contains(&run.name("find-net"))
                && html.contains(&run.name("find-vol"))
        })
        .await;
    assert!(all.is_some(), "a container, a network and a volume by name");

    // One hit: straight to its page (by exact name, and by an id prefix).
    for (q, page) in [
        (run.name("find-me"), format!("/containers/{c}")),
        (c[..12].to_string(), format!("/containers/{c}")),
        (n[..12].to_string(), format!("/networks/{n}")),
        (v.clone(), format!("/volumes/{v}")),
    ] {
        let r = app.get(&format!("/search?q={q}")).await;
        assert_eq!(r.status(), 303, "{q}");
        assert_eq!(r.headers()["location"], page.as_str(), "{q}");
    }
    // The test image by its tag (one hit unless other runs tagged it too: then it is listed).
    let r = app.get("/search?q=berth-test/busybox:latest").await;
    assert!(
        r.status() == 303 || r.status() == 200,
        "the test image: {}",
        r.status()
    );

    // Nothing found says so; a hostile query is shown escaped.
    let r = app.get("/search?q=%3Cscript%3Ealert(1)%3C/script%3E").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Nothing on"), "{html}");
    assert!(!html.contains("<script>alert(1)"), "escaped");
    // Two characters are not an id prefix: no hit by id.
    let r = app.get(&format!("/search?q={}", &c[..2])).await;
    let html = r.text().await.unwrap();
    assert!(!html.contains(&format!("/containers/{c}")) || html.contains(&run.name("find-me")));
}
