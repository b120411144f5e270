//! The layer map against the engine's own figures: two images built on a common base made
//! here (two shared layers, one unique layer each).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{Run, TEST_IMAGE, docker, spawn_logged_in};

/// `docker build` (classic builder, no registry) of a Dockerfile given as text; returns the id.
pub fn build(tag: &str, dockerfile: &str) -> String {
    let mut child = Command::new("docker")
        .args(["build", "-q", "--network", "none", "-t", tag, "-"])
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker build runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker build {tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    docker(&["image", "inspect", "-f", "{{.Id}}", tag])
}

/// A base (two layers over the test image) and two images on it (one layer each).
pub fn family(run: &Run) -> (String, String, String) {
    let label = run.label();
    let base = build(
        &format!("berth-test/{}:base", run.name("fam")),
        &format!(
            "FROM {TEST_IMAGE}\nLABEL {label}\nRUN head -c 4000 /dev/zero > /shared-a\nRUN head -c 9000 /dev/zero > /shared-b\n"
        ),
    );
    let base_tag = format!("berth-test/{}:base", run.name("fam"));
    let x = build(
        &format!("berth-test/{}:x", run.name("fam")),
        &format!(
            "FROM {base_tag}\nRUN head -c 3000 /dev/zero > /only-x && echo '<script>x</script>' > /dev/null\n"
        ),
    );
    let y = build(
        &format!("berth-test/{}:y", run.name("fam")),
        &format!("FROM {base_tag}\nRUN head -c 7000 /dev/zero > /only-y\n"),
    );
    (base, x, y)
}

/// The engine's `/system/df` entry of an image (Size, SharedSize), read with curl on the socket.
pub fn raw_df() -> serde_json::Value {
    // The engine answers one disk usage at a time ("already running" to the others).
    for _ in 0..40 {
        let out = Command::new("curl")
            .args([
                "-s",
                "--unix-socket",
                "/var/run/docker.sock",
                "http://localhost/system/df",
            ])
            .output()
            .expect("curl runs");
        let df: serde_json::Value = serde_json::from_slice(&out.stdout).expect("df json");
        if df.get("Images").is_some() {
            return df;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("the engine's /system/df stayed busy");
}

fn engine_df(id: &str) -> (i64, i64) {
    let df = raw_df();
    let img = df["Images"]
        .as_array()
        .expect("this engine's /system/df lists Images")
        .iter()
        .find(|i| i["Id"] == id)
        .expect("image in df");
    (
        img["Size"].as_i64().unwrap(),
        img["SharedSize"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn layer_map_matches_the_engine_figures() {
    let run = Run::new();
    let (base, x, y) = family(&run);
    let app = spawn_logged_in().await;
    let m = app.server.as_ref().unwrap().state.engines.primary().clone();
    // The mirror hears of the new images through events.
    let seen = app
        .eventually(Duration::from_secs(10), || async {
            let j = app.json("/api/layers").await;
            j["images"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| [&base, &x, &y].contains(&&i["id"].as_str().unwrap().to_string()))
                .count()
                == 3
        })
        .await;
    assert!(seen.is_some(), "the three images appear in the layer map");
    let map = app.json("/api/layers").await;
    let image = |id: &str| {
        map["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .unwrap()
            .clone()
    };
    for id in [&x, &y, &base] {
        let (size, shared) = engine_df(id);
        let mine = image(id);
        assert_eq!(
            mine["shared_size"].as_i64().unwrap(),
            shared,
            "shared of {id}"
        );
        assert_eq!(
            mine["unique_size"].as_i64().unwrap(),
            size - shared,
            "unique of {id}"
        );
        assert_eq!(mine["size"].as_i64().unwrap(), size, "size of {id}");
    }
    assert_eq!(
        image(&base)["unique_size"],
        0,
        "the base holds nothing alone"
    );
    assert!(image(&x)["unique_size"].as_i64().unwrap() >= 3000);
    assert!(image(&y)["unique_size"].as_i64().unwrap() >= 7000);

    // Layers: x is the test image's layer, two shared base layers and its own.
    let layers = map["layers"].as_array().unwrap();
    let of = |img: &str| -> Vec<&serde_json::Value> {
        layers
            .iter()
            .filter(|l| {
                l["images"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i.as_str() == Some(img))
            })
            .collect()
    };
    let diff_ids = docker(&["image", "inspect", "-f", "{{json .RootFS.Layers}}", &x]);
    let diff_ids: Vec<String> = serde_json::from_str(&diff_ids).unwrap();
    assert_eq!(of(&x).len(), diff_ids.len());
    assert_eq!(diff_ids.len(), 4, "busybox + two base layers + one own");
    let own: Vec<_> = of(&x)
        .into_iter()
        .filter(|l| l["images"].as_array().unwrap().len() == 1)
        .collect();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["id"], diff_ids[3].as_str());
    assert!(own[0]["created_by"].as_str().unwrap().contains("/only-x"));
    for d in &diff_ids[1..3] {
        let l = of(&x).into_iter().find(|l| l["id"] == d.as_str()).unwrap();
        let imgs: Vec<&str> = l["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap())
            .collect();
        for id in [&base, &x, &y] {
            assert!(imgs.contains(&id.as_str()), "{d} is in {id}");
        }
    }
    // Sizes as `docker history` reports them (bytes, newest first; 0 B entries made no layer).
    let hist = docker(&["history", "-H=false", "--format", "{{.Size}}", &x]);
    let sized: Vec<i64> = hist
        .lines()
        .map(|s| s.trim().parse::<i64>().unwrap())
        .filter(|s| *s > 0)
        .collect();
    let mut mine: Vec<i64> = diff_ids
        .iter()
        .map(|d| {
            of(&x).into_iter().find(|l| l["id"] == d.as_str()).unwrap()["size"]
                .as_i64()
                .unwrap()
        })
        .collect();
    mine.reverse();
    assert_eq!(mine, sized);

    // Each layer counted once, the map's total is the engine's LayersSize, and the dashboard's
    // image usage (computed on engines whose /system/df predates per-class usage) agrees.
    // Other tests add and remove images meanwhile: retry until a quiet moment.
    let mut agreed = false;
    for _ in 0..10 {
        let map = app.json("/api/layers").await;
        let df = raw_df();
        let mine = app.json("/api/df").await;
        let total = map["total_size"].as_i64().unwrap();
        if df["LayersSize"].as_i64() == Some(total)
            && mine["images"]["total"].as_i64() == Some(total)
        {
            agreed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        agreed,
        "the layer map's total matches the engine's LayersSize"
    );

    // The page draws it; once computed, viewing it costs no engine call (unless images changed
    // meanwhile: other tests build images too, so allow a few tries).
    let page = app.get("/layers").await.text().await.unwrap();
    assert!(page.contains("layer-block"));
    // Engine text is escaped: the instruction shows, its markup does not act.
    assert!(page.contains("&#60;script&#62;x&#60;/script&#62;"));
    assert!(!page.contains("'<script>x"));
    assert!(page.contains(&format!("{}:x", run.name("fam"))));
    let mut quiet = false;
    for _ in 0..5 {
        app.get("/layers").await;
        let before = m.request_engine_calls();
        assert_eq!(app.get("/layers").await.status(), 200);
        app.get("/api/layers").await;
        if m.request_engine_calls() == before {
            quiet = true;
            break;
        }
    }
    assert!(quiet, "a view of a computed map asks the engine nothing");
}
