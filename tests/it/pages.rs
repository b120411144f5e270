//! Each page and its JSON twin show what the test made on the engine; hostile text is escaped.

use std::time::Duration;

use crate::support::{Run, find, spawn_logged_in};

const HOSTILE: &str = "<script>alert('x')</script>\"q";

#[tokio::test]
async fn every_page_and_twin_shows_the_engine_objects_escaped() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let label = format!("evil={HOSTILE}");
    let running = run.container("up", true, &["--label", &label], &[]);
    let stopped = run.container("down", false, &[], &["sh", "-c", "echo '<b>bold</b>'"]);
    let image = run.two_layer_image("layers");
    let net = run.network("net", &["--label", &label, "--subnet", "10.213.7.0/24"]);
    let vol = run.volume("vol", &["--label", &label]);
    let vol_user = run.container("voluser", false, &["-v", &format!("{vol}:/data")], &[]);

    let synced = app
        .eventually(Duration::from_secs(5), || async {
            let c = app.json("/api/containers").await;
            let i = app.json("/api/images").await;
            find(&c, "id", &running).is_some()
                && find(&c, "id", &vol_user).is_some()
                && i.as_array().unwrap().iter().any(|x| {
                    x["tags"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|t| t == image.as_str())
                })
        })
        .await;
    assert!(synced.is_some(), "objects reach the mirror");

    // JSON twins
    let c = app.json("/api/containers").await;
    let up = find(&c, "id", &running).unwrap();
    assert_eq!(up["name"], run.name("up"));
    assert_eq!(up["state"], "running");
    assert_eq!(up["image"], crate::support::TEST_IMAGE);
    assert_eq!(up["labels"]["evil"], HOSTILE);
    assert_eq!(find(&c, "id", &stopped).unwrap()["state"], "created");
    let images = app.json("/api/images").await;
    let img = images
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["tags"][0] == image.as_str())
        .unwrap();
    assert!(img["size"].as_i64().unwrap() > 0);
    assert!(img["id"].as_str().unwrap().starts_with("sha256:"));
    let nets = app.json("/api/networks").await;
    let n = find(&nets, "id", &net).unwrap();
    assert_eq!(n["driver"], "bridge");
    assert_eq!(n["subnets"][0], "10.213.7.0/24");
    let vols = app.json("/api/volumes").await;
    let v = find(&vols, "name", &vol).unwrap();
    assert_eq!(v["driver"], "local");
    assert_eq!(v["used_by"][0], run.name("voluser"));
    let info = app.json("/api/info").await;
    assert!(!info["server_version"].as_str().unwrap().is_empty());
    assert_eq!(info["os_type"], "linux");

    // Pages: the objects are there, hostile text escaped, never raw.
    let check = |text: &str, what: &str| {
        assert!(
            !text.contains("<script>alert"),
            "{what}: raw script tag in HTML"
        );
        assert!(!text.contains("<b>bold</b>"), "{what}: raw markup in HTML");
    };
    let list = app.get("/containers").await.text().await.unwrap();
    assert!(list.contains(&run.name("up")) && list.contains(&run.name("down")));
    check(&list, "/containers");
    let detail = app
        .get(&format!("/containers/{running}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        detail.contains("&#60;script&#62;alert"),
        "label shown escaped"
    );
    check(&detail, "/containers/{id}");
    let detail = app
        .get(&format!("/containers/{stopped}"))
        .await
        .text()
        .await
        .unwrap();
    check(&detail, "stopped detail");
    assert!(detail.contains("&#60;b&#62;bold&#60;/b&#62;"));

    let images_page = app.get("/images").await.text().await.unwrap();
    assert!(images_page.contains(&image));
    let img_id = img["id"].as_str().unwrap();
    let image_page = app
        .get(&format!("/images/{img_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        image_page.contains("echo layer"),
        "history names the instruction of each layer"
    );
    assert_eq!(
        image_page.matches("<tr><td><code class=\"wrap\">").count(),
        2,
        "two layers, two history rows"
    );

    let nets_page = app.get("/networks").await.text().await.unwrap();
    assert!(nets_page.contains(&run.name("net")) && nets_page.contains("10.213.7.0/24"));
    let net_page = app
        .get(&format!("/networks/{net}"))
        .await
        .text()
        .await
        .unwrap();
    check(&net_page, "/networks/{id}");
    assert!(net_page.contains("&#60;script&#62;"));

    let vols_page = app.get("/volumes").await.text().await.unwrap();
    assert!(vols_page.contains(&vol));
    let vol_page = app
        .get(&format!("/volumes/{vol}"))
        .await
        .text()
        .await
        .unwrap();
    check(&vol_page, "/volumes/{name}");
    assert!(vol_page.contains(&run.name("voluser")));

    let dash = app.get("/").await.text().await.unwrap();
    assert!(dash.contains(info["server_version"].as_str().unwrap()));
    let disk = app.get("/dashboard/disk").await;
    assert_eq!(disk.status(), 200);
    let disk = disk.text().await.unwrap();
    assert!(disk.contains("Images"), "{disk}");

    assert_eq!(
        app.get("/images/sha256:0000000000000000000000000000000000000000000000000000000000000000")
            .await
            .status(),
        404
    );
    assert_eq!(app.get("/volumes/no-such-volume-xyz").await.status(), 404);
    assert_eq!(app.get("/networks/no-such-network-xyz").await.status(), 404);
}

#[tokio::test]
async fn container_list_filters_and_sorts() {
    let run = Run::new();
    let app = spawn_logged_in().await;
    let a = run.container("alpha", true, &[], &[]);
    let b = run.container("beta", false, &[], &[]);
    app.eventually(Duration::from_secs(3), || async {
        let c = app.json("/api/containers").await;
        find(&c, "id", &a).is_some() && find(&c, "id", &b).is_some()
    })
    .await
    .expect("synced");
    let q = format!("/api/containers?q={}", run.id);
    let both = app.json(&q).await;
    assert_eq!(both.as_array().unwrap().len(), 2);
    let running = app.json(&format!("{q}&state=running")).await;
    assert_eq!(running.as_array().unwrap().len(), 1);
    assert_eq!(running[0]["id"], a.as_str());
    let desc = app.json(&format!("{q}&sort=-name")).await;
    assert_eq!(desc[0]["id"], b.as_str());
    let rows = app
        .get(&format!("/containers/rows?q={}&state=created", run.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(rows.contains(&run.name("beta")) && !rows.contains(&run.name("alpha")));
}

#[tokio::test]
async fn endpoint_scoped_paths_reach_the_same_pages() {
    let app = spawn_logged_in().await;
    let page = app.get("/e/1/containers").await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text().await.unwrap().contains("href=\"/e/1/images\""),
        "links keep the endpoint"
    );
    assert_eq!(app.get("/api/e/1/containers").await.status(), 200);
    assert_eq!(app.get("/e/99/containers").await.status(), 404);
    let r = app.get("/api/e/99/containers").await;
    assert_eq!(r.status(), 404);
    let j: serde_json::Value = r.json().await.unwrap();
    assert!(j["error"].as_str().unwrap().contains("No endpoint 99"));
}
